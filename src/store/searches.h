/* searches.h: visual searches and their results: one row per search (query image, k,
 * filters, status, duration), one per detected query region, and the ranked products per
 * region plus the overall ranking (stored under ordinal -1). */
#ifndef VISOR_STORE_SEARCHES_H
#define VISOR_STORE_SEARCHES_H

#include <jansson.h>

#include "image/image.h"
#include "store/db.h"

#define VISOR_SEARCH_OVERALL (-1)

typedef struct visor_search_region_record {
  visor_box box;
  int whole_image;
  const char *label;
  double label_score;
  const char *detector_label; /* NULL when none */
  double detector_score;
  const char *embedding; /* the query embedding, base64 float32 (NULL: not kept) */
} visor_search_region_record;

typedef struct visor_search_result_record {
  int ordinal; /* query region, or VISOR_SEARCH_OVERALL */
  int rank;    /* 1-based */
  const char *product_id;
  const char *region_id; /* best-matching catalogue crop */
  double score;
  int query_ordinal; /* for overall rows: the query region that matched best */
} visor_search_result_record;

visor_code visor_search_insert(visor_db_conn *conn, const char *id, const char *image_id,
                               const char *job_id, int k, const char *filters_json, int offset,
                               const char *group, visor_error *err);
/* The drawn region a search looks at alone ({"x","y","w","h"} JSON; NULL: every region). */
visor_code visor_search_set_box(visor_db_conn *conn, const char *id, const char *box_json,
                                visor_error *err);
/* The search row: {id, image_id, job_id, k, offset, group, filters, box, status, object_key,
 * width, height, format} (for the pipeline). group is "product" (one result per product) or
 * "none" (raw crops). */
visor_code visor_search_load(visor_db_conn *conn, const char *id, json_t **search,
                             visor_error *err);
visor_code visor_search_set_status(visor_db_conn *conn, const char *id, const char *status,
                                   const char *error, double duration_ms, visor_error *err);
/* Replaces the search's regions and results (idempotent on retry). */
visor_code visor_search_save(visor_db_conn *conn, const char *id,
                             const visor_search_region_record *regions, size_t region_count,
                             const visor_search_result_record *results, size_t result_count,
                             visor_error *err);
/* The API's search object with regions, their results and the overall products. */
visor_code visor_search_get(visor_db_conn *conn, const char *id, json_t **search, visor_error *err);

#endif
