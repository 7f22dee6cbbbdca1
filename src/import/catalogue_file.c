/* catalogue_file.c: reading a catalogue file, the row checks and grouping by SKU (see
 * catalogue_file.h). */
#define _GNU_SOURCE /* vasprintf */
#include <ctype.h>
#include <glib.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json_number.h"
#include "import/readers.h"

#define MAX_LABELS 32

visor_import_row *visor_import_row_append(visor_catalogue_file *file, long line) {
  visor_import_row *grown = realloc(file->rows, (file->row_count + 1) * sizeof *grown);
  if (!grown) return NULL;
  file->rows = grown;
  visor_import_row *row = &file->rows[file->row_count++];
  memset(row, 0, sizeof *row);
  row->line = line;
  return row;
}

int visor_import_row_add_image(visor_import_row *row, const char *image) {
  char **grown = realloc(row->images, (row->image_count + 1) * sizeof *grown);
  if (!grown) return 0;
  row->images = grown;
  if (!(row->images[row->image_count] = strdup(image))) return 0;
  row->image_count++;
  return 1;
}

void visor_import_row_fail(visor_import_row *row, const char *fmt, ...) {
  if (row->error) return;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&row->error, fmt, ap) < 0) row->error = NULL;
  va_end(ap);
  if (!row->error) row->error = strdup("out of memory");
}

static char *reason(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *reason(const char *fmt, ...) {
  char *text = NULL;
  va_list ap;
  va_start(ap, fmt);
  if (vasprintf(&text, fmt, ap) < 0) text = NULL;
  va_end(ap);
  return text ? text : strdup("out of memory");
}

char *visor_import_parse_labels(const char *labels_text, json_t **labels) {
  *labels = json_object();
  const char *cursor = labels_text ? labels_text : "";
  while (*cursor) {
    const char *end = strchr(cursor, ';');
    size_t len = end ? (size_t)(end - cursor) : strlen(cursor);
    const char *equals = memchr(cursor, '=', len);
    if (len == 0) { /* "a=1;;b=2" or a trailing ';' */
      cursor += end ? 1 : 0;
      continue;
    }
    if (!equals || equals == cursor) {
      json_decref(*labels);
      *labels = NULL;
      return reason("labels: '%.*s' is not key=value", (int)(len > 60 ? 60 : len), cursor);
    }
    char *key = strndup(cursor, (size_t)(equals - cursor));
    char *value = strndup(equals + 1, len - (size_t)(equals - cursor) - 1);
    if (!key || !value || json_object_set_new(*labels, key, json_string(value)) != 0) {
      free(key);
      free(value);
      json_decref(*labels);
      *labels = NULL;
      return reason("labels: '%.*s' is not UTF-8 key=value", (int)(len > 60 ? 60 : len), cursor);
    }
    free(key);
    free(value);
    if (json_object_size(*labels) > MAX_LABELS) {
      json_decref(*labels);
      *labels = NULL;
      return reason("labels: more than %d", MAX_LABELS);
    }
    cursor += len + (end ? 1 : 0);
  }
  return NULL;
}

char *visor_import_parse_price(const char *price_text, json_t **price) {
  *price = NULL;
  if (!price_text || !*price_text) return NULL;
  errno = 0;
  double value = visor_is_json_number(price_text) ? strtod(price_text, NULL) : NAN;
  if (!isfinite(value) || errno == ERANGE)
    return reason("price '%.40s' is not a number", price_text);
  if (value < 0) return reason("price %.40s is negative", price_text);
  *price = json_real(value);
  return NULL;
}

static int sku_valid(const char *sku) {
  size_t len = strlen(sku);
  if (len < 1 || len > 64) return 0;
  for (const char *c = sku; *c; c++)
    if (!isalnum((unsigned char)*c) && *c != '.' && *c != '_' && *c != '-') return 0;
  return 1;
}

static size_t utf8_length(const char *text) {
  size_t n = 0;
  for (const unsigned char *c = (const unsigned char *)text; *c; c++)
    if ((*c & 0xC0) != 0x80) n++;
  return n;
}

char *visor_import_check_fields(const json_t *fields) {
  static const char *const known[] = {"sku",    "name",  "description", "category",
                                      "labels", "price", "currency"};
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)fields, key, value) {
    int found = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
      found |= strcmp(known[i], key) == 0;
    if (!found) return reason("unknown field '%.40s'", key);
  }
  const char *sku = json_string_value(json_object_get(fields, "sku"));
  if (!sku || !*sku) return reason("missing sku");
  if (!sku_valid(sku)) return reason("sku '%.64s' is not 1-64 of A-Z a-z 0-9 . _ -", sku);
  const char *name = json_string_value(json_object_get(fields, "name"));
  if (!name || !*name) return reason("missing name");
  if (utf8_length(name) > 200) return reason("name is longer than 200 characters");
  static const struct {
    const char *field;
    size_t max;
  } texts[] = {{"description", 5000}, {"category", 100}};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    json_t *text = json_object_get(fields, texts[i].field);
    if (text && !json_is_string(text)) return reason("%s must be text", texts[i].field);
    if (text && utf8_length(json_string_value(text)) > texts[i].max)
      return reason("%s is longer than %zu characters", texts[i].field, texts[i].max);
  }
  json_t *labels = json_object_get(fields, "labels");
  if (labels && !json_is_object(labels)) return reason("labels must be an object of strings");
  if (json_object_size(labels) > MAX_LABELS) return reason("labels: more than %d", MAX_LABELS);
  json_object_foreach(labels, key, value) if (!json_is_string(value) || !*key) return reason(
      "label '%.40s' must be a non-empty key with a text value", key);
  json_t *price = json_object_get(fields, "price");
  if (price && !json_is_null(price) && (!json_is_number(price) || json_number_value(price) < 0))
    return reason("price must be a number >= 0");
  json_t *currency = json_object_get(fields, "currency");
  if (currency && !json_is_null(currency)) {
    const char *code = json_string_value(currency);
    if (!code || strlen(code) != 3 || !isupper((unsigned char)code[0]) ||
        !isupper((unsigned char)code[1]) || !isupper((unsigned char)code[2]))
      return reason("currency must be an ISO 4217 code such as EUR");
  }
  return NULL;
}

visor_code visor_catalogue_file_group(visor_catalogue_file *file, visor_error *err) {
  GHashTable *by_sku = g_hash_table_new(g_str_hash, g_str_equal); /* sku -> product index + 1 */
  visor_code code = VISOR_OK;
  for (size_t r = 0; r < file->row_count && code == VISOR_OK; r++) {
    visor_import_row *row = &file->rows[r];
    if (row->error) continue;
    size_t found = GPOINTER_TO_SIZE(g_hash_table_lookup(by_sku, row->sku));
    visor_import_product *product = found ? &file->products[found - 1] : NULL;
    if (!product) {
      visor_import_product *grown =
          realloc(file->products, (file->product_count + 1) * sizeof *grown);
      if (!grown) {
        code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
        break;
      }
      file->products = grown;
      product = &file->products[file->product_count++];
      *product = (visor_import_product){.sku = row->sku};
      g_hash_table_insert(by_sku, row->sku, GSIZE_TO_POINTER(file->product_count));
    }
    size_t *rows = realloc(product->rows, (product->row_count + 1) * sizeof *rows);
    if (!rows) {
      code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
      break;
    }
    product->rows = rows;
    product->rows[product->row_count++] = r;
  }
  g_hash_table_destroy(by_sku);
  return code;
}

static int ends_with(const char *text, const char *suffix) {
  size_t len = strlen(text), suffix_len = strlen(suffix);
  return len >= suffix_len && strcasecmp(text + len - suffix_len, suffix) == 0;
}

visor_code visor_catalogue_file_read(const char *path, const char *format,
                                     visor_catalogue_file *file, visor_error *err) {
  memset(file, 0, sizeof *file);
  int jsonl = format ? strcmp(format, "jsonl") == 0
                     : ends_with(path, ".jsonl") || ends_with(path, ".ndjson");
  if (format && !jsonl && strcmp(format, "csv") != 0)
    return visor_error_set(err, VISOR_ERR_INVALID, "format '%s' is not csv or jsonl", format);
  FILE *in = fopen(path, "rb");
  if (!in)
    return visor_error_set(err, VISOR_ERR_INVALID, "cannot open %s: %s", path, strerror(errno));
  const char *slash = strrchr(path, '/');
  file->dir = slash ? strndup(path, (size_t)(slash - path) + 1) : strdup("./");
  visor_code code = file->dir ? VISOR_OK : visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  if (code == VISOR_OK)
    code = jsonl ? visor_import_read_jsonl(in, path, file, err)
                 : visor_import_read_csv(in, path, file, err);
  fclose(in);
  if (code == VISOR_OK) code = visor_catalogue_file_group(file, err);
  if (code != VISOR_OK) visor_catalogue_file_free(file);
  return code;
}

void visor_catalogue_file_free(visor_catalogue_file *file) {
  for (size_t r = 0; r < file->row_count; r++) {
    visor_import_row *row = &file->rows[r];
    free(row->sku);
    json_decref(row->fields);
    for (size_t i = 0; i < row->image_count; i++)
      free(row->images[i]);
    free(row->images);
    free(row->error);
  }
  for (size_t p = 0; p < file->product_count; p++)
    free(file->products[p].rows);
  free(file->rows);
  free(file->products);
  free(file->dir);
  memset(file, 0, sizeof *file);
}
