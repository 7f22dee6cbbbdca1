/* catalogue_file.h: a product catalogue file for `visor import`, read into memory: rows
 * (a CSV record or a JSON Lines line, each with its line number), checked by the same
 * rules the API applies, and grouped into products by SKU (several rows with one SKU add
 * several images to one product; the first valid row's fields make the product). */
#ifndef VISOR_IMPORT_CATALOGUE_FILE_H
#define VISOR_IMPORT_CATALOGUE_FILE_H

#include <jansson.h>
#include <stddef.h>

#include "core/error.h"

typedef struct visor_import_row {
  long line;      /* where the record starts in the file (1 = first line) */
  char *sku;      /* as written (may be NULL or invalid when error is set) */
  json_t *fields; /* the product object for the API: sku, name, ... (NULL when invalid) */
  char **images;  /* image references: a path (relative to the file's folder), file:// or
                     http(s):// URL */
  size_t image_count;
  char *error; /* why the row is invalid; NULL when it is valid */
} visor_import_row;

typedef struct visor_import_product {
  const char *sku; /* borrowed from its first row */
  size_t *rows;    /* indices into the file's rows, in file order */
  size_t row_count;
} visor_import_product;

typedef struct visor_catalogue_file {
  char *dir; /* the file's folder: relative image paths start there */
  visor_import_row *rows;
  size_t row_count;
  visor_import_product *products; /* valid rows grouped by SKU, in order of first appearance */
  size_t product_count;
} visor_catalogue_file;

/* Reads path: JSON Lines when its name ends in .jsonl / .ndjson (or format is "jsonl"),
 * CSV otherwise (or format "csv"). A CSV needs the header row
 * sku,name,description,category,labels,price,currency,image (any order, unknown columns
 * are an error). Bad rows are kept with their error; an unreadable file or a malformed
 * CSV (unbalanced quotes) is an error of the whole file. */
visor_code visor_catalogue_file_read(const char *path, const char *format,
                                     visor_catalogue_file *file, visor_error *err);
void visor_catalogue_file_free(visor_catalogue_file *file);
/* Groups the valid rows into products by SKU (visor_catalogue_file_read does it; for
 * catalogues built in memory). */
visor_code visor_catalogue_file_group(visor_catalogue_file *file, visor_error *err);

/* Row checks, shared by both formats. Each returns NULL when the value is fine, else a
 * malloc'd reason. labels_text is "k=v;k=v" (empty: no labels) and *labels receives the
 * object; price_text empty means no price. */
char *visor_import_parse_labels(const char *labels_text, json_t **labels);
char *visor_import_parse_price(const char *price_text, json_t **price);
/* Checks the product object (sku, name, description, category, labels, price, currency). */
char *visor_import_check_fields(const json_t *fields);

#endif
