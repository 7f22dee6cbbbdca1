/* fuzz_validate.c: libFuzzer harness for JSON body validation (src/api/validate.c): any
 * bytes are parsed as the server parses a request body (json_loadb, flags 0), then checked
 * against the product rules (create and PATCH) and against a table with every field type
 * (integer, bool, box, labels). Checks that an accepted body really meets its rules and
 * that a refused one carries a message naming what was wrong. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/validate.h"

static const visor_field_rule all_types[] = {
    {"text", VISOR_FIELD_STRING, 0, 2, 10, 0, 0, "sku", 1},
    {"count", VISOR_FIELD_INTEGER, 1, 0, 0, -5, 100, NULL, 0},
    {"ratio", VISOR_FIELD_NUMBER, 0, 0, 0, 0, 1, NULL, 0},
    {"flag", VISOR_FIELD_BOOL, 0, 0, 0, 0, 0, NULL, 0},
    {"box", VISOR_FIELD_BOX, 0, 0, 0, 0, 0, NULL, 1},
    {"labels", VISOR_FIELD_LABELS, 0, 0, 4, 0, 0, NULL, 0},
    {"code", VISOR_FIELD_STRING, 0, 3, 3, 0, 0, "currency", 0},
};

static void check(const json_t *body, const visor_field_rule *rules, size_t n, int partial) {
  visor_error err = {0};
  visor_code code = visor_validate_object(body, rules, n, partial, &err);
  if (code != VISOR_OK) {
    if (code != VISOR_ERR_INVALID || err.message[0] == '\0') abort();
    return;
  }
  if (!json_is_object(body)) abort();
  for (size_t i = 0; i < n; i++) {
    const json_t *value = json_object_get(body, rules[i].name);
    if (!value) {
      if (rules[i].required && !partial) abort();
      continue;
    }
    if (json_is_null(value)) continue;
    if (json_is_string(value)) {
      size_t len = strlen(json_string_value(value));
      if (rules[i].type != VISOR_FIELD_STRING || len < rules[i].min_len || len > rules[i].max_len)
        abort();
    } else if (json_is_number(value)) {
      double v = json_number_value(value);
      if (!isfinite(v) || v < rules[i].min || v > rules[i].max) abort();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  json_error_t error;
  json_t *body = json_loadb((const char *)data, size, 0, &error);
  if (!body) return 0;
  check(body, visor_product_rules, visor_product_rule_count, 0);
  check(body, visor_product_rules, visor_product_rule_count, 1);
  check(body, all_types, sizeof all_types / sizeof all_types[0], 0);
  json_decref(body);
  return 0;
}
