/* fuzz_filter.c: libFuzzer harness for the filter expression parser: any text, parsed with
 * the search and the listing field sets. A failure must say "filter: ..." and give no tree;
 * what parses is rendered (visor_filter_format) and translated into SQL for both dialects,
 * with exactly one `?` per parameter (no value ever lands in the SQL text). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/filter_expr.h"
#include "store/filter_sql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  const unsigned sets[] = {VISOR_FILTER_FIELDS_SEARCH, VISOR_FILTER_FIELDS_LISTING};
  for (size_t s = 0; s < 2; s++) {
    visor_filter_expr *expr = NULL;
    visor_error err = {0};
    if (visor_filter_parse(text, sets[s], &expr, &err) != VISOR_OK) {
      if (expr || !strstr(err.message, "filter: ")) abort();
      continue;
    }
    char *tree = visor_filter_format(expr);
    if (!tree) abort();
    const char *dialects[] = {"sqlite", "postgres"};
    for (size_t d = 0; d < 2; d++) {
      visor_strbuf sql;
      visor_strbuf_init(&sql);
      visor_db_value *params = NULL;
      size_t count = 0;
      if (visor_filter_sql(expr, dialects[d], &sql, &params, &count, &err) != VISOR_OK) abort();
      size_t marks = 0;
      for (const char *c = sql.data; c && *c; c++)
        marks += *c == '?';
      if (marks != count) abort(); /* every value is a parameter, none is in the text */
      free(params);
      visor_strbuf_free(&sql);
    }
    free(tree);
    visor_filter_free(expr);
  }
  free(text);
  return 0;
}
