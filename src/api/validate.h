/* validate.h: checks JSON request bodies against a small field table: allowed fields,
 * types, required ones, string lengths and number ranges. The first problem found is
 * returned as VISOR_ERR_INVALID with a message that names the field. */
#ifndef VISOR_API_VALIDATE_H
#define VISOR_API_VALIDATE_H

#include <jansson.h>
#include <stddef.h>

#include "core/error.h"

typedef enum visor_field_type {
  VISOR_FIELD_STRING,
  VISOR_FIELD_NUMBER,
  VISOR_FIELD_INTEGER,
  VISOR_FIELD_LABELS, /* object of string → string */
  VISOR_FIELD_BOX,    /* {"x","y","w","h"} numbers, w and h > 0 */
  VISOR_FIELD_BOOL,
} visor_field_type;

typedef struct visor_field_rule {
  const char *name;
  visor_field_type type;
  int required;
  size_t min_len, max_len; /* strings; labels: max entries in max_len */
  double min, max;         /* numbers */
  const char *pattern;     /* "sku" (A-Z a-z 0-9 . _ -), "currency" (3 capitals), or NULL */
  int nullable;            /* JSON null is accepted (clears the field) */
} visor_field_rule;

/* partial: required fields may be absent (PATCH). */
visor_code visor_validate_object(const json_t *object, const visor_field_rule *rules,
                                 size_t rule_count, int partial, visor_error *err);

/* Parses text as the number field named by rule, with the JSON number grammar (no
 * NaN, inf, hex, leading '+', or spaces), finite and in the rule's range: the one number
 * parser of multipart forms, with the messages JSON bodies get. *out is a new reference. */
visor_code visor_validate_number_text(const visor_field_rule *rule, const char *text, json_t **out,
                                      visor_error *err);
/* The rule named name in rules, or NULL. */
const visor_field_rule *visor_field_rule_find(const visor_field_rule *rules, size_t rule_count,
                                              const char *name);

/* The product fields, shared by create (JSON and multipart) and update. */
extern const visor_field_rule visor_product_rules[];
extern const size_t visor_product_rule_count;

#endif
