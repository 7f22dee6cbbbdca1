/* duplicates.h: the duplicates repository: pairs of live product images of two different
 * products that are the same picture, found exactly (same sha256) or nearly (whole-image
 * cosine above the configured threshold), and the sha256 look-up behind both. One row per
 * pair (image_id < other_image_id), so a pair found from either side is stored once. */
#ifndef VISOR_STORE_DUPLICATES_H
#define VISOR_STORE_DUPLICATES_H

#include <jansson.h>
#include <stdint.h>

#include "store/db.h"

/* Live product images with this sha256 whose live product is not exclude_product_id
 * (NULL: any): a JSON array of {image_id, product_id, sku, name}, oldest first. */
visor_code visor_images_with_sha256(visor_db_conn *conn, const char *sha256,
                                    const char *exclude_product_id, json_t **images,
                                    visor_error *err);

/* Records (or updates) the pair; kind is "exact" or "near". */
visor_code visor_duplicate_upsert(visor_db_conn *conn, const char *image_id, const char *product_id,
                                  const char *other_image_id, const char *other_product_id,
                                  const char *kind, double score, visor_error *err);

/* The duplicates of one product (both images and both products live), seen from it:
 * {image_id, other_image_id, other_product_id, other_sku, other_name, kind, score,
 * detected_at}, best score first. */
visor_code visor_duplicates_of_product(visor_db_conn *conn, const char *product_id, json_t **items,
                                       visor_error *err);

/* Every live pair, newest first: {image_id, product_id, sku, name, other_image_id,
 * other_product_id, other_sku, other_name, kind, score, detected_at}; kind NULL = any. */
visor_code visor_duplicates_list(visor_db_conn *conn, const char *kind, int64_t limit,
                                 int64_t offset, json_t **items, int64_t *total, visor_error *err);

#endif
