/* test_filter_expr.c: the filter expression parser against a table of valid expressions
 * (with their canonical tree) and invalid ones (with the exact message and column). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/filter_expr.h"

typedef struct valid_case {
  const char *text;
  const char *tree;
} valid_case;

static const valid_case valid[] = {
    {"category IN (\"Apple\",\"Pear\") AND brand = \"Oatly\" AND NOT size = \"1l\" AND price < 20",
     "(AND (IN category \"Apple\" \"Pear\") (= label:brand \"Oatly\") (NOT (= label:size \"1l\")) "
     "(< price 20))"},
    {"price <= 2.5", "(<= price 2.5)"},
    {"price>=1e3", "(>= price 1000)"},
    {"price > -0.5", "(> price -0.5)"},
    {"price == 3", "(= price 3)"},
    {"price <> 3", "(!= price 3)"},
    {"brand != 'Oatly'", "(!= label:brand \"Oatly\")"},
    {"a = \"x\" OR b = \"y\" AND c = \"z\"",
     "(OR (= label:a \"x\") (AND (= label:b \"y\") (= label:c \"z\")))"},
    {"(a = \"x\" OR b = \"y\") AND c = \"z\"",
     "(AND (OR (= label:a \"x\") (= label:b \"y\")) (= label:c \"z\"))"},
    {"not not category = \"A\"", "(NOT (NOT (= category \"A\")))"},
    {"category not in (\"A\")", "(NOT IN category \"A\")"},
    {"labels.category = \"x\"", "(= label:category \"x\")"},
    {"labels.\"pack size\" = \"6\"", "(= label:pack size \"6\")"},
    {"name = \"say \\\"hi\\\"\"", "(= name \"say \\\"hi\\\"\")"},
    {"sku = \"A\\u00e9\\n\"", "(= sku \"A\xc3\xa9\n\")"},
    {"  \tcategory = \"\"  ", "(= category \"\")"},
    {"x.y-z:w = \"1\"", "(= label:x.y-z:w \"1\")"},
};

typedef struct invalid_case {
  const char *text;
  unsigned fields;
  const char *message;
} invalid_case;

#define L VISOR_FILTER_FIELDS_LISTING
#define S VISOR_FILTER_FIELDS_SEARCH
static const invalid_case invalid[] = {
    {"", L, "filter: the expression is empty"},
    {"   ", L, "filter: the expression is empty"},
    {"(category = \"A\" OR price < 2", L,
     "filter: expected ')' (for the '(' at column 1), got the end at column 29"},
    {"(category = \"A\" OR price < 2 AND", L,
     "filter: expected a field name or '(', got the end at column 33"},
    {"category = \"A\")", L, "filter: ')' without a '(' at column 15"},
    {"category = \"A\" price < 2", L,
     "filter: expected AND, OR or the end, got 'price' at column 16"},
    {"category = A", L, "filter: expected a string in quotes, got 'A' at column 12"},
    {"category = 5", L,
     "filter: 'category' compares with strings (in quotes), got a number at column 12"},
    {"brand = 5", L, "filter: 'brand' compares with strings (in quotes), got a number at column 9"},
    {"price = \"5\"", L, "filter: 'price' compares with numbers, got a string at column 9"},
    {"category < \"A\"", L, "filter: '<' orders numbers only: use it with price at column 10"},
    {"category", L,
     "filter: expected an operator (=, !=, <, <=, >, >=, IN), got the end at column 9"},
    {"category IN \"A\"", L, "filter: expected '(' after IN, got '\"A\"' at column 13"},
    {"category IN (\"A\" \"B\")", L, "filter: expected ',' or ')', got '\"B\"' at column 18"},
    {"category IN ()", L, "filter: expected a string in quotes, got ')' at column 14"},
    {"category NOT = \"A\"", L, "filter: expected IN after NOT, got '=' at column 14"},
    {"category = \"abc", L, "filter: unterminated string at column 12"},
    {"category = \"a\\qb\"", L, "filter: unknown escape '\\q' at column 14"},
    {"category = \"\\u12\"", L, "filter: \\u needs 4 hex digits at column 13"},
    {"category = \"\\ud800\"", L, "filter: \\u escape of NUL or of a surrogate at column 13"},
    {"price < 01", L, "filter: number with a leading zero at column 9"},
    {"price < 1.", L, "filter: expected a digit after '.' at column 11"},
    {"price < 1e999", L, "filter: number '1e999' out of range at column 9"},
    {"price < 12abc", L, "filter: malformed number at column 9"},
    /* a value already taken when the next token fails is freed (found by fuzz_filter) */
    {"category IN (\"x\" 1l)", L, "filter: malformed number at column 18"},
    {"brand = \"x\" 1l", L, "filter: malformed number at column 13"},
    {"price ! 3", L, "filter: expected '!=' at column 7"},
    {"price < 3 & x = \"1\"", L, "filter: unexpected character '&' at column 11"},
    {"AND price < 3", L, "filter: expected a field name or '(', got 'AND' at column 1"},
    {"sku = \"A1\"", S,
     "filter: field 'sku' cannot be used here (searches filter on category, price and labels) at "
     "column 1"},
    {"NOT name = \"x\"", S,
     "filter: field 'name' cannot be used here (searches filter on category, price and labels) at "
     "column 5"},
    {"labels. = \"x\"", L, "filter: a label key must be non-empty and without '=' at column 1"},
};

static void valid_expressions_parse_to_their_tree(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++) {
    visor_filter_expr *expr = NULL;
    visor_error err = {0};
    visor_code code = visor_filter_parse(valid[i].text, VISOR_FILTER_FIELDS_LISTING, &expr, &err);
    if (code != VISOR_OK) fail_msg("case %zu `%s`: %s", i, valid[i].text, err.message);
    char *tree = visor_filter_format(expr);
    if (strcmp(tree, valid[i].tree) != 0)
      fail_msg("case %zu `%s`:\n got  %s\n want %s", i, valid[i].text, tree, valid[i].tree);
    assert_string_equal(expr->text, valid[i].text);
    free(tree);
    visor_filter_free(expr);
  }
}

static void invalid_expressions_say_what_and_where(void **state) {
  (void)state;
  int failures = 0;
  for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
    visor_filter_expr *expr = (visor_filter_expr *)1;
    visor_error err = {0};
    visor_code code = visor_filter_parse(invalid[i].text, invalid[i].fields, &expr, &err);
    if (code != VISOR_ERR_INVALID) fail_msg("case %zu `%s` parsed", i, invalid[i].text);
    assert_null(expr);
    if (strcmp(err.message, invalid[i].message) != 0) {
      print_error("case %zu `%s`:\n got  %s\n want %s\n", i, invalid[i].text, err.message,
                  invalid[i].message);
      failures++;
    }
  }
  assert_int_equal(failures, 0);
}

static void limits_are_enforced(void **state) {
  (void)state;
  visor_filter_expr *expr = NULL;
  visor_error err = {0};
  char text[VISOR_FILTER_MAX_LENGTH + 64];
  /* depth */
  size_t n = 0;
  for (int i = 0; i < VISOR_FILTER_MAX_DEPTH + 1; i++)
    text[n++] = '(';
  strcpy(text + n, "price < 1");
  assert_int_equal(visor_filter_parse(text, L, &expr, &err), VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "nested deeper than 16 levels"));
  /* exactly at the depth limit parses */
  n = 0;
  for (int i = 0; i < VISOR_FILTER_MAX_DEPTH - 1; i++)
    text[n++] = '(';
  n += (size_t)sprintf(text + n, "price < 1");
  for (int i = 0; i < VISOR_FILTER_MAX_DEPTH - 1; i++)
    text[n++] = ')';
  text[n] = '\0';
  assert_int_equal(visor_filter_parse(text, L, &expr, &err), VISOR_OK);
  visor_filter_free(expr);
  /* IN list size */
  n = (size_t)sprintf(text, "category IN (");
  for (int i = 0; i < VISOR_FILTER_MAX_IN + 1; i++)
    n += (size_t)sprintf(text + n, "%s\"c%d\"", i ? "," : "", i);
  strcpy(text + n, ")");
  assert_int_equal(visor_filter_parse(text, L, &expr, &err), VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "more than 64 values in IN"));
  /* length */
  memset(text, ' ', VISOR_FILTER_MAX_LENGTH + 1);
  memcpy(text, "price < 1", 9);
  text[VISOR_FILTER_MAX_LENGTH + 1] = '\0';
  assert_int_equal(visor_filter_parse(text, L, &expr, &err), VISOR_ERR_INVALID);
  assert_string_equal(err.message, "filter: longer than 2000 bytes (2001)");
  /* number of terms */
  n = 0;
  for (int i = 0; i < VISOR_FILTER_MAX_NODES; i++)
    n += (size_t)sprintf(text + n, "%sa=\"1\"", i ? " OR " : "");
  assert_int_equal(visor_filter_parse(text, L, &expr, &err), VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "more than 128 terms"));
  /* a string literal over the limit */
  n = (size_t)sprintf(text, "a = \"");
  memset(text + n, 'x', VISOR_FILTER_MAX_STRING + 1);
  strcpy(text + n + VISOR_FILTER_MAX_STRING + 1, "\"");
  assert_int_equal(visor_filter_parse(text, L, &expr, &err), VISOR_ERR_INVALID);
  assert_string_equal(err.message, "filter: string longer than 256 bytes at column 5");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(valid_expressions_parse_to_their_tree),
      cmocka_unit_test(invalid_expressions_say_what_and_where),
      cmocka_unit_test(limits_are_enforced),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
