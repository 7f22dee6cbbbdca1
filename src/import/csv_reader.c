/* csv_reader.c: the CSV catalogue format (RFC 4180, parsed by libcsv in strict mode): a
 * header row naming the columns sku,name,description,category,labels,price,currency,image,
 * then one row per product image; labels as k=v;k=v. The file is fed to the parser one
 * physical line at a time so each record knows the line it starts on. */
#include <csv.h>
#include <stdlib.h>
#include <string.h>

#include "import/readers.h"

enum column {
  COL_SKU,
  COL_NAME,
  COL_DESCRIPTION,
  COL_CATEGORY,
  COL_LABELS,
  COL_PRICE,
  COL_CURRENCY,
  COL_IMAGE,
  COLUMN_COUNT
};
static const char *const column_names[COLUMN_COUNT] = {"sku",    "name",  "description", "category",
                                                       "labels", "price", "currency",    "image"};

typedef struct csv_state {
  visor_catalogue_file *file;
  long line;        /* the physical line being fed */
  long record_line; /* where the current record started */
  char **fields;    /* the current record's fields */
  size_t field_count;
  int header_done;
  int map[64]; /* file column -> enum column, -1 = none */
  size_t header_count;
  char header_error[200];
  int nomem;
} csv_state;

static void on_field(void *data, size_t len, void *ctx) {
  csv_state *state = ctx;
  if (state->field_count == 0) { /* the record started this many newlines earlier */
    long newlines = 0;
    for (size_t i = 0; i < len; i++)
      newlines += ((const char *)data)[i] == '\n';
    state->record_line = state->line - newlines;
  }
  char **grown = realloc(state->fields, (state->field_count + 1) * sizeof *grown);
  char *copy = malloc(len + 1);
  if (!grown || !copy) {
    free(copy);
    if (grown) state->fields = grown;
    state->nomem = 1;
    return;
  }
  memcpy(copy, data ? data : "", len);
  copy[len] = '\0';
  state->fields = grown;
  state->fields[state->field_count++] = copy;
}

static void read_header(csv_state *state) {
  int seen[COLUMN_COUNT] = {0};
  state->header_count = state->field_count;
  for (size_t i = 0; i < state->field_count && !state->header_error[0]; i++) {
    int column = -1;
    for (int c = 0; c < COLUMN_COUNT; c++)
      if (strcmp(state->fields[i], column_names[c]) == 0) column = c;
    if (column < 0 || i >= 64)
      snprintf(state->header_error, sizeof state->header_error,
               "header column '%.40s' is not one of sku, name, description, category, labels, "
               "price, currency, image",
               state->fields[i]);
    else if (seen[column]++)
      snprintf(state->header_error, sizeof state->header_error, "header column '%s' twice",
               column_names[column]);
    else
      state->map[i] = column;
  }
  if (!state->header_error[0] && (!seen[COL_SKU] || !seen[COL_NAME] || !seen[COL_IMAGE]))
    snprintf(state->header_error, sizeof state->header_error,
             "the header must name at least the columns sku, name and image");
}

static void read_record(csv_state *state) {
  visor_import_row *row = visor_import_row_append(state->file, state->record_line);
  if (!row) {
    state->nomem = 1;
    return;
  }
  const char *value[COLUMN_COUNT] = {0};
  for (size_t i = 0; i < state->field_count && i < state->header_count; i++)
    value[state->map[i]] = state->fields[i];
  if (state->field_count != state->header_count)
    visor_import_row_fail(row, "%zu fields, the header has %zu", state->field_count,
                          state->header_count);
  row->sku = strdup(value[COL_SKU] ? value[COL_SKU] : "");
  json_t *fields = json_object(), *labels = NULL, *price = NULL;
  json_object_set_new(fields, "sku", json_string(row->sku));
  if (value[COL_NAME]) json_object_set_new(fields, "name", json_string(value[COL_NAME]));
  if (value[COL_DESCRIPTION] && *value[COL_DESCRIPTION])
    json_object_set_new(fields, "description", json_string(value[COL_DESCRIPTION]));
  if (value[COL_CATEGORY] && *value[COL_CATEGORY])
    json_object_set_new(fields, "category", json_string(value[COL_CATEGORY]));
  if (value[COL_CURRENCY] && *value[COL_CURRENCY])
    json_object_set_new(fields, "currency", json_string(value[COL_CURRENCY]));
  char *problem = visor_import_parse_labels(value[COL_LABELS], &labels);
  if (!problem) problem = visor_import_parse_price(value[COL_PRICE], &price);
  if (labels && json_object_size(labels)) json_object_set(fields, "labels", labels);
  if (price) json_object_set(fields, "price", price);
  json_decref(labels);
  json_decref(price);
  if (!problem) problem = visor_import_check_fields(fields);
  if (!problem && (!value[COL_IMAGE] || !*value[COL_IMAGE])) problem = strdup("missing image");
  if (problem) {
    visor_import_row_fail(row, "%s", problem);
    free(problem);
  }
  if (!row->error && !visor_import_row_add_image(row, value[COL_IMAGE])) state->nomem = 1;
  if (row->error)
    json_decref(fields);
  else
    row->fields = fields;
}

static void on_record(int terminator, void *ctx) {
  (void)terminator;
  csv_state *state = ctx;
  if (!state->header_done) {
    read_header(state);
    state->header_done = 1;
  } else if (!state->header_error[0]) {
    read_record(state);
  }
  for (size_t i = 0; i < state->field_count; i++)
    free(state->fields[i]);
  state->field_count = 0;
}

visor_code visor_import_read_csv(FILE *in, const char *path, visor_catalogue_file *file,
                                 visor_error *err) {
  struct csv_parser parser;
  if (csv_init(&parser, CSV_STRICT | CSV_STRICT_FINI) != 0)
    return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  csv_state state = {.file = file};
  char *line = NULL;
  size_t capacity = 0;
  ssize_t len;
  visor_code code = VISOR_OK;
  while (code == VISOR_OK && (len = getline(&line, &capacity, in)) > 0) {
    state.line++;
    if (state.line == 1 && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) /* a BOM */
      memmove(line, line + 3, (size_t)(len -= 3) + 1);
    if (csv_parse(&parser, line, (size_t)len, on_field, on_record, &state) != (size_t)len)
      code = visor_error_set(err, VISOR_ERR_INVALID, "%s line %ld: %s", path, state.line,
                             csv_strerror(csv_error(&parser)));
    else if (state.nomem)
      code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    else if (state.header_error[0])
      code = visor_error_set(err, VISOR_ERR_INVALID, "%s line 1: %s", path, state.header_error);
  }
  if (code == VISOR_OK && csv_fini(&parser, on_field, on_record, &state) != 0)
    code = visor_error_set(err, VISOR_ERR_INVALID, "%s line %ld: %s (an unclosed quote?)", path,
                           state.record_line ? state.record_line : state.line,
                           csv_strerror(csv_error(&parser)));
  if (code == VISOR_OK && state.header_error[0])
    code = visor_error_set(err, VISOR_ERR_INVALID, "%s line 1: %s", path, state.header_error);
  if (code == VISOR_OK && !state.header_done)
    code = visor_error_set(err, VISOR_ERR_INVALID, "%s is empty: no header row", path);
  for (size_t i = 0; i < state.field_count; i++)
    free(state.fields[i]);
  free(state.fields);
  free(line);
  csv_free(&parser);
  return code;
}
