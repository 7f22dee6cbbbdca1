/* product_meta.h: what a product's vectors carry for filtering (its category, its labels
 * as "key=value" strings and its price), read from the metadata store; shared by the index task
 * and the "meta" task that rewrites it after the product changed. */
#ifndef VISOR_PIPELINE_PRODUCT_META_H
#define VISOR_PIPELINE_PRODUCT_META_H

#include <stddef.h>

#include "app/app.h"
#include "vector/vector.h"

typedef struct visor_product_meta {
  char *category;
  char **labels;
  size_t label_count;
  double price;
  int has_price;
} visor_product_meta;

/* Reads product_id's category, labels and price (VISOR_ERR_NOT_FOUND for a deleted product). */
visor_code visor_product_meta_load(visor_app *app, const char *product_id, visor_product_meta *meta,
                                   visor_error *err);
void visor_product_meta_free(visor_product_meta *meta);
/* Whether a and b carry the same category, labels and price. */
int visor_product_meta_equal(const visor_product_meta *a, const visor_product_meta *b);
/* The vector metadata of one of product_id's vectors (borrows meta's strings). */
visor_vector_meta visor_product_vector_meta(visor_app *app, const char *product_id,
                                            const visor_product_meta *meta);

/* The vector metadata of one region: the product's, plus "region_label=LABEL" when
 * region_label is not NULL or empty (store/regions.h). Borrows meta's strings; free with
 * visor_region_meta_free. */
typedef struct visor_region_meta {
  visor_vector_meta meta;
  const char **labels;
  char *region_label;
} visor_region_meta;
visor_code visor_region_meta_make(visor_app *app, const char *product_id,
                                  const visor_product_meta *meta, const char *region_label,
                                  visor_region_meta *out, visor_error *err);
void visor_region_meta_free(visor_region_meta *region);

#endif
