/* review.h: the admin review queue: what the models were unsure of, in three lists.
 *  - regions: live catalogue regions whose detector score (detected regions only) or
 *    label score is below its threshold; score = the lower failing confidence;
 *  - products: live products with an indexed image and no region whose detector score
 *    reaches the threshold (none detected, or no region at all); score = the best
 *    detector score, or null;
 *  - searches: finished first-page searches since a time whose best overall score is
 *    below the threshold (or that found nothing); score = that best score, or null.
 * What an admin already handled leaves the queue: a region set by an admin (source
 * "admin"), or an audit entry about the item made since it was indexed (for a product:
 * about it, its images or its regions, since its last indexing) that is not undone and not
 * itself an undo: undoing the correction puts the item back. Worst first. */
#ifndef VISOR_STORE_REVIEW_H
#define VISOR_STORE_REVIEW_H

#include <jansson.h>
#include <stdint.h>

#include "store/db.h"

typedef enum visor_review_kind {
  VISOR_REVIEW_REGIONS,
  VISOR_REVIEW_PRODUCTS,
  VISOR_REVIEW_SEARCHES,
  VISOR_REVIEW_KIND_COUNT
} visor_review_kind;

/* "regions", "products", "searches". */
const char *visor_review_kind_name(visor_review_kind kind);

typedef struct visor_review_thresholds {
  double detector_score;   /* regions: detected ones below this */
  double label_score;      /* regions: label score below this */
  double product_score;    /* products: no region's detector score at or above this */
  double search_score;     /* searches: best overall score below this */
  int64_t search_since_ms; /* searches: created at or after this (Unix ms; 0 = all) */
} visor_review_thresholds;

/* One page of a list, worst first, as JSON objects {kind, reason, score, ...} (region
 * items: region (with labels parsed, box {x,y,w,h}) and product {id, sku, name,
 * category}; product items: product (with thumbnail_image_id), region_count and
 * indexed_at; search items: search {id, k, filters, box, created_at,
 * duration_ms}, result_count and results (the best 3 overall: rank, score, product_id,
 * region_id, product {id, sku, name})); *total is the list's length. */
visor_code visor_review_list(visor_db_conn *conn, visor_review_kind kind,
                             const visor_review_thresholds *thresholds, int64_t limit,
                             int64_t offset, json_t **items, int64_t *total, visor_error *err);
/* The length of a list alone. */
visor_code visor_review_count(visor_db_conn *conn, visor_review_kind kind,
                              const visor_review_thresholds *thresholds, int64_t *total,
                              visor_error *err);
/* The labels live catalogue regions carry, most used first (at most limit): a JSON array
 * of {label, count}. */
visor_code visor_review_known_labels(visor_db_conn *conn, int64_t limit, json_t **labels,
                                     visor_error *err);

#endif
