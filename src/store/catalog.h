/* catalog.h: the products and images repository. Products are soft-deleted; a SKU is
 * unique among live products. Functions take a connection so callers can group them in
 * one transaction. JSON in and out matches the API's shapes. */
#ifndef VISOR_STORE_CATALOG_H
#define VISOR_STORE_CATALOG_H

#include <jansson.h>
#include <stdint.h>

#include "core/filter_expr.h"
#include "store/db.h"

/* product: a validated object (sku, name, description, category, labels, price,
 * currency). VISOR_ERR_CONFLICT when the SKU is taken. */
visor_code visor_product_insert(visor_db_conn *conn, const char *id, const json_t *product,
                                visor_error *err);
/* Applies the fields present in changes (validated). */
visor_code visor_product_update(visor_db_conn *conn, const char *id, const json_t *changes,
                                visor_error *err);
/* {id, sku, name, category, price, currency, thumbnail_image_id} of a live product. */
visor_code visor_product_summary(visor_db_conn *conn, const char *id, json_t **summary,
                                 visor_error *err);
visor_code visor_product_get(visor_db_conn *conn, const char *id, json_t **product,
                             visor_error *err);
visor_code visor_product_soft_delete(visor_db_conn *conn, const char *id, visor_error *err);

typedef struct visor_product_query {
  const char *category;            /* exact; NULL = any */
  const char *text;                /* substring of name, sku or description (case-insensitive) */
  const visor_filter_expr *filter; /* must be true too (NULL = none) */
  const char
      *sort; /* "created_at", "-created_at" (default), "name", "-name", "price", "-price", "sku" */
  int64_t limit, offset;
} visor_product_query;

/* VISOR_ERR_INVALID for an unknown sort. items: array of products, each with a
 * "thumbnail_image_id" (its first image) and "image_count". */
visor_code visor_product_list(visor_db_conn *conn, const visor_product_query *query, json_t **items,
                              int64_t *total, visor_error *err);
/* The live product with this SKU (as visor_product_get), or VISOR_ERR_NOT_FOUND. */
visor_code visor_product_find_by_sku(visor_db_conn *conn, const char *sku, json_t **product,
                                     visor_error *err);
/* Distinct categories of live products with their counts. */
visor_code visor_category_list(visor_db_conn *conn, json_t **categories, visor_error *err);

typedef struct visor_image_record {
  const char *id;
  const char *product_id; /* NULL for query images */
  const char *purpose;    /* "product" or "query" */
  const char *object_key;
  const char *filename;
  const char *content_type;
  int64_t width, height;
  const char *format;
  int64_t size_bytes;
  const char *sha256;
  const char *job_id;
} visor_image_record;

visor_code visor_image_insert(visor_db_conn *conn, const visor_image_record *image,
                              visor_error *err);
visor_code visor_image_get(visor_db_conn *conn, const char *id, json_t **image, visor_error *err);
/* Live images of a product, oldest first. */
visor_code visor_image_list(visor_db_conn *conn, const char *product_id, json_t **images,
                            visor_error *err);
visor_code visor_image_set_status(visor_db_conn *conn, const char *id, const char *status,
                                  visor_error *err);
/* Status indexed, indexed_at now, no index_error. */
visor_code visor_image_mark_indexed(visor_db_conn *conn, const char *id, visor_error *err);
/* The image of index job job_id, when that job is failed for good: index_error = error and
 * status failed (an image still indexed from an earlier run stays indexed). */
visor_code visor_image_index_failed(visor_db_conn *conn, const char *job_id, const char *error,
                                    visor_error *err);
/* The image of index job job_id, retried: a failed image back to pending, no index_error. */
visor_code visor_image_index_retried(visor_db_conn *conn, const char *job_id, visor_error *err);

/* Product images not (yet) searchable: how many are pending and failed, and when the oldest
 * pending one was uploaded (Unix ms; 0 when none is pending). */
typedef struct visor_index_lag {
  int64_t pending, failed;
  int64_t oldest_pending_ms;
} visor_index_lag;
visor_code visor_image_index_lag(visor_db_conn *conn, visor_index_lag *lag, visor_error *err);

/* *live = the image exists and is not deleted; on PostgreSQL the row stays locked until
 * the caller's transaction ends, so a delete waits for it. */
visor_code visor_image_lock_live(visor_db_conn *conn, const char *id, int *live, visor_error *err);
visor_code visor_image_soft_delete(visor_db_conn *conn, const char *id, visor_error *err);

#endif
