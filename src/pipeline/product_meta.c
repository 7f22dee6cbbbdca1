/* product_meta.c: a product's vector metadata (see product_meta.h). */
#include "pipeline/product_meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/catalog.h"
#include "store/regions.h"

visor_code visor_product_meta_load(visor_app *app, const char *product_id, visor_product_meta *meta,
                                   visor_error *err) {
  memset(meta, 0, sizeof *meta);
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  json_t *product = NULL;
  visor_code code = visor_product_get(conn, product_id, &product, err);
  visor_db_release(conn);
  if (code != VISOR_OK) return code;
  json_t *labels = json_object_get(product, "labels");
  json_t *price = json_object_get(product, "price");
  meta->has_price = json_is_number(price);
  meta->price = meta->has_price ? json_number_value(price) : 0;
  meta->category = strdup(json_string_value(json_object_get(product, "category")) ?: "");
  meta->labels = calloc(json_object_size(labels) + 1, sizeof *meta->labels);
  if (!meta->category || !meta->labels)
    code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  const char *key;
  json_t *value;
  json_object_foreach(code == VISOR_OK ? labels : NULL, key, value) {
    size_t size = strlen(key) + strlen(json_string_value(value) ?: "") + 2;
    char *label = malloc(size);
    if (!label) {
      code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
      break;
    }
    snprintf(label, size, "%s=%s", key, json_string_value(value) ?: "");
    meta->labels[meta->label_count++] = label;
  }
  json_decref(product);
  if (code != VISOR_OK) visor_product_meta_free(meta);
  return code;
}

void visor_product_meta_free(visor_product_meta *meta) {
  free(meta->category);
  for (size_t i = 0; i < meta->label_count; i++)
    free(meta->labels[i]);
  free(meta->labels);
  memset(meta, 0, sizeof *meta);
}

int visor_product_meta_equal(const visor_product_meta *a, const visor_product_meta *b) {
  if (strcmp(a->category ?: "", b->category ?: "") != 0 || a->label_count != b->label_count ||
      a->has_price != b->has_price || (a->has_price && a->price != b->price))
    return 0;
  for (size_t i = 0; i < a->label_count; i++) /* both in the product's key order */
    if (strcmp(a->labels[i], b->labels[i]) != 0) return 0;
  return 1;
}

visor_vector_meta visor_product_vector_meta(visor_app *app, const char *product_id,
                                            const visor_product_meta *meta) {
  return (visor_vector_meta){.product_id = product_id,
                             .category = meta->category,
                             .labels = (const char *const *)meta->labels,
                             .label_count = meta->label_count,
                             .model = app->embedder_model,
                             .price = meta->price,
                             .has_price = meta->has_price};
}

visor_code visor_region_meta_make(visor_app *app, const char *product_id,
                                  const visor_product_meta *meta, const char *region_label,
                                  visor_region_meta *out, visor_error *err) {
  memset(out, 0, sizeof *out);
  out->meta = visor_product_vector_meta(app, product_id, meta);
  if (!region_label || !*region_label) return VISOR_OK;
  out->labels = calloc(meta->label_count + 1, sizeof *out->labels);
  size_t size = strlen(VISOR_REGION_LABEL_KEY) + strlen(region_label) + 2;
  out->region_label = malloc(size);
  if (!out->labels || !out->region_label) {
    visor_region_meta_free(out);
    return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  }
  snprintf(out->region_label, size, "%s=%s", VISOR_REGION_LABEL_KEY, region_label);
  for (size_t i = 0; i < meta->label_count; i++)
    out->labels[i] = meta->labels[i];
  out->labels[meta->label_count] = out->region_label;
  out->meta.labels = out->labels;
  out->meta.label_count = meta->label_count + 1;
  return VISOR_OK;
}

void visor_region_meta_free(visor_region_meta *region) {
  free(region->labels);
  free(region->region_label);
  memset(region, 0, sizeof *region);
}
