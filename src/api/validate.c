/* validate.c: JSON body validation against field tables (see validate.h). */
#include "api/validate.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_number.h"

const visor_field_rule visor_product_rules[] = {
    {"sku", VISOR_FIELD_STRING, 1, 1, 64, 0, 0, "sku", 0},
    {"name", VISOR_FIELD_STRING, 1, 1, 200, 0, 0, NULL, 0},
    {"description", VISOR_FIELD_STRING, 0, 0, 5000, 0, 0, NULL, 0},
    {"category", VISOR_FIELD_STRING, 0, 0, 100, 0, 0, NULL, 0},
    {"labels", VISOR_FIELD_LABELS, 0, 0, 32, 0, 0, NULL, 0},
    {"price", VISOR_FIELD_NUMBER, 0, 0, 0, 0, 1e12, NULL, 1},
    {"currency", VISOR_FIELD_STRING, 0, 3, 3, 0, 0, "currency", 1},
};
const size_t visor_product_rule_count = sizeof visor_product_rules / sizeof visor_product_rules[0];

static int matches_pattern(const char *text, const char *pattern) {
  if (!pattern) return 1;
  for (const char *c = text; *c; c++) {
    unsigned char ch = (unsigned char)*c;
    if (strcmp(pattern, "sku") == 0 && !(isalnum(ch) || ch == '.' || ch == '_' || ch == '-'))
      return 0;
    if (strcmp(pattern, "currency") == 0 && !isupper(ch)) return 0;
  }
  return 1;
}

static visor_code check_string(const char *name, const char *text, size_t min_len, size_t max_len,
                               visor_error *err) {
  size_t len = strlen(text);
  if (len < min_len)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           min_len == 1 ? "field '%s' must not be empty"
                                        : "field '%s' is shorter than %zu characters",
                           name, min_len);
  if (len > max_len)
    return visor_error_set(err, VISOR_ERR_INVALID, "field '%s' is longer than %zu characters", name,
                           max_len);
  return VISOR_OK;
}

visor_code visor_validate_number_text(const visor_field_rule *rule, const char *text, json_t **out,
                                      visor_error *err) {
  *out = NULL;
  if (!visor_is_json_number(text))
    return visor_error_set(err, VISOR_ERR_INVALID, "field '%s' must be %s", rule->name,
                           rule->type == VISOR_FIELD_INTEGER ? "an integer" : "a number");
  double number = strtod(text, NULL);
  if (!isfinite(number) || number < rule->min || number > rule->max)
    return visor_error_set(err, VISOR_ERR_INVALID, "field '%s' must be between %g and %g",
                           rule->name, rule->min, rule->max);
  if (rule->type == VISOR_FIELD_INTEGER) {
    if (number != floor(number))
      return visor_error_set(err, VISOR_ERR_INVALID, "field '%s' must be an integer", rule->name);
    *out = json_integer((json_int_t)number);
  } else {
    *out = json_real(number);
  }
  if (!*out) return visor_error_set(err, VISOR_ERR_NOMEM, "no memory for field '%s'", rule->name);
  return VISOR_OK;
}

const visor_field_rule *visor_field_rule_find(const visor_field_rule *rules, size_t rule_count,
                                              const char *name) {
  for (size_t i = 0; i < rule_count; i++)
    if (strcmp(rules[i].name, name) == 0) return &rules[i];
  return NULL;
}

static visor_code check_field(const visor_field_rule *rule, const json_t *value, visor_error *err) {
  const char *name = rule->name;
  if (json_is_null(value)) {
    if (rule->nullable && !rule->required) return VISOR_OK;
    return visor_error_set(err, VISOR_ERR_INVALID, "field '%s' must not be null", name);
  }
  switch (rule->type) {
  case VISOR_FIELD_STRING: {
    if (!json_is_string(value))
      return visor_error_set(err, VISOR_ERR_INVALID, "field '%s' must be a string", name);
    visor_code code =
        check_string(name, json_string_value(value), rule->min_len, rule->max_len, err);
    if (code != VISOR_OK) return code;
    if (!matches_pattern(json_string_value(value), rule->pattern))
      return visor_error_set(err, VISOR_ERR_INVALID, "field '%s' has characters outside %s", name,
                             strcmp(rule->pattern, "sku") == 0 ? "A-Z a-z 0-9 . _ -"
                                                               : "A-Z (an ISO 4217 code like EUR)");
    return VISOR_OK;
  }
  case VISOR_FIELD_NUMBER:
  case VISOR_FIELD_INTEGER: {
    if (rule->type == VISOR_FIELD_INTEGER ? !json_is_integer(value) : !json_is_number(value))
      return visor_error_set(err, VISOR_ERR_INVALID, "field '%s' must be %s", name,
                             rule->type == VISOR_FIELD_INTEGER ? "an integer" : "a number");
    double number = json_number_value(value);
    if (!isfinite(number) || number < rule->min || number > rule->max)
      return visor_error_set(err, VISOR_ERR_INVALID, "field '%s' must be between %g and %g", name,
                             rule->min, rule->max);
    return VISOR_OK;
  }
  case VISOR_FIELD_BOOL:
    return json_is_boolean(value)
               ? VISOR_OK
               : visor_error_set(err, VISOR_ERR_INVALID, "field '%s' must be true or false", name);
  case VISOR_FIELD_LABELS: {
    if (!json_is_object(value))
      return visor_error_set(err, VISOR_ERR_INVALID,
                             "field '%s' must be an object of string values", name);
    if (json_object_size(value) > rule->max_len)
      return visor_error_set(err, VISOR_ERR_INVALID, "field '%s' has more than %zu entries", name,
                             rule->max_len);
    const char *key;
    json_t *item;
    json_object_foreach((json_t *)value, key, item) {
      if (!*key || strlen(key) > 64 || strchr(key, '='))
        return visor_error_set(err, VISOR_ERR_INVALID,
                               "field '%s' has a key that is empty, over 64 characters or has '='",
                               name);
      if (!json_is_string(item) || strlen(json_string_value(item)) > 256)
        return visor_error_set(err, VISOR_ERR_INVALID,
                               "field '%s.%s' must be a string of at most 256 characters", name,
                               key);
    }
    return VISOR_OK;
  }
  case VISOR_FIELD_BOX: {
    static const char *const parts[] = {"x", "y", "w", "h"};
    if (!json_is_object(value) || json_object_size(value) != 4)
      return visor_error_set(err, VISOR_ERR_INVALID, "field '%s' must be an object {x, y, w, h}",
                             name);
    for (int i = 0; i < 4; i++) {
      json_t *part = json_object_get(value, parts[i]);
      if (!json_is_number(part) || !isfinite(json_number_value(part)) ||
          json_number_value(part) < 0 || (i >= 2 && json_number_value(part) <= 0))
        return visor_error_set(err, VISOR_ERR_INVALID, "field '%s.%s' must be a number %s 0", name,
                               parts[i], i >= 2 ? ">" : ">=");
    }
    return VISOR_OK;
  }
  }
  return VISOR_OK;
}

visor_code visor_validate_object(const json_t *object, const visor_field_rule *rules,
                                 size_t rule_count, int partial, visor_error *err) {
  if (!json_is_object(object))
    return visor_error_set(err, VISOR_ERR_INVALID, "the body must be a JSON object");
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)object, key, value) {
    const visor_field_rule *rule = NULL;
    for (size_t i = 0; i < rule_count; i++)
      if (strcmp(rules[i].name, key) == 0) rule = &rules[i];
    if (!rule) return visor_error_set(err, VISOR_ERR_INVALID, "unknown field '%.64s'", key);
    visor_code code = check_field(rule, value, err);
    if (code != VISOR_OK) return code;
  }
  for (size_t i = 0; !partial && i < rule_count; i++)
    if (rules[i].required && !json_object_get(object, rules[i].name))
      return visor_error_set(err, VISOR_ERR_INVALID, "field '%s' is required", rules[i].name);
  return VISOR_OK;
}
