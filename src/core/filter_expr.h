/* filter_expr.h: the filter expression language of searches and catalogue listings, e.g.
 * `category IN ("Apple", "Pear") AND brand = "Oatly" AND NOT size = "1l" AND price < 20`.
 * visor_filter_parse turns the text into a tree (the AST) that each backend translates: the
 * built-in vector index evaluates it during graph traversal, Chroma gets a `where`, the
 * metadata store a parameterised SQL condition. Grammar and meaning: docs/FILTERS.md.
 *
 * Truth is three-valued, as in SQL: a comparison on a field the record does not have (no
 * price, no category, no label with that key) is unknown, NOT unknown is unknown, and a
 * record matches only when the whole expression is true. */
#ifndef VISOR_CORE_FILTER_EXPR_H
#define VISOR_CORE_FILTER_EXPR_H

#include <stddef.h>

#include "core/error.h"

#define VISOR_FILTER_MAX_LENGTH 2000 /* bytes of expression text */
#define VISOR_FILTER_MAX_DEPTH 16    /* nesting of parentheses and NOT */
#define VISOR_FILTER_MAX_NODES 128   /* comparisons, AND, OR and NOT in all */
#define VISOR_FILTER_MAX_IN 64       /* values in one IN list */
#define VISOR_FILTER_MAX_STRING 256  /* bytes of one string literal (after escapes) */

typedef enum visor_filter_kind {
  VISOR_FILTER_AND,
  VISOR_FILTER_OR,
  VISOR_FILTER_NOT,
  VISOR_FILTER_COMPARE, /* field op value */
  VISOR_FILTER_IN,      /* field [NOT] IN (values) */
} visor_filter_kind;

typedef enum visor_filter_op {
  VISOR_FILTER_EQ,
  VISOR_FILTER_NE,
  VISOR_FILTER_LT,
  VISOR_FILTER_LE,
  VISOR_FILTER_GT,
  VISOR_FILTER_GE,
} visor_filter_op;

typedef enum visor_filter_field {
  VISOR_FILTER_CATEGORY, /* string */
  VISOR_FILTER_PRICE,    /* number */
  VISOR_FILTER_SKU,      /* string; listings only */
  VISOR_FILTER_NAME,     /* string; listings only */
  VISOR_FILTER_LABEL,    /* string: the value of label `key` */
} visor_filter_field;

/* Which fields a caller can evaluate (a bit per visor_filter_field). */
#define VISOR_FILTER_FIELDS_SEARCH                                                                 \
  ((1u << VISOR_FILTER_CATEGORY) | (1u << VISOR_FILTER_PRICE) | (1u << VISOR_FILTER_LABEL))
#define VISOR_FILTER_FIELDS_LISTING                                                                \
  (VISOR_FILTER_FIELDS_SEARCH | (1u << VISOR_FILTER_SKU) | (1u << VISOR_FILTER_NAME))

typedef struct visor_filter_value {
  char *text;    /* string literal (NUL-terminated, may hold any byte but NUL) */
  double number; /* number literal, when text is NULL */
} visor_filter_value;

typedef struct visor_filter_node visor_filter_node;
struct visor_filter_node {
  visor_filter_kind kind;
  size_t column;                /* 1-based byte column where the node starts */
  visor_filter_node **children; /* AND / OR: 2 or more; NOT: 1 */
  size_t child_count;
  visor_filter_field field;   /* COMPARE / IN */
  char *label_key;            /* field LABEL */
  visor_filter_op op;         /* COMPARE */
  int negated;                /* IN: NOT IN */
  visor_filter_value *values; /* COMPARE: 1; IN: 1 to VISOR_FILTER_MAX_IN */
  size_t value_count;
};

typedef struct visor_filter_expr {
  visor_filter_node *root;
  char *text; /* the source, as given */
} visor_filter_expr;

/* Parses text (NUL-terminated) allowing the fields in the `fields` bit set. On error returns
 * VISOR_ERR_INVALID (or NOMEM), *out is NULL and err says what and where: "filter: expected
 * ')' at column 17". An empty or all-blank text is an error too (callers treat an absent
 * parameter as no filter). */
visor_code visor_filter_parse(const char *text, unsigned fields, visor_filter_expr **out,
                              visor_error *err);
void visor_filter_free(visor_filter_expr *expr);

/* A canonical, fully parenthesised rendering for tests and logs, e.g.
 * `(AND (IN category "Apple" "Pear") (= label:brand "Oatly") (< price 20))`. malloc'd. */
char *visor_filter_format(const visor_filter_expr *expr);

/* The name of a field ("category", "price", ...; "label" for labels) and an operator ("=", ...). */
const char *visor_filter_field_name(visor_filter_field field);
const char *visor_filter_op_name(visor_filter_op op);
/* The operator that is true exactly when op is false (for two known values): = and !=, <
 * and >=, <= and >. */
visor_filter_op visor_filter_op_negate(visor_filter_op op);

#endif
