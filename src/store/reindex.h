/* reindex.h: the re-index repository: runs (table reindex_runs; each run's tasks are jobs
 * of kind "reindex" whose subject_id is the run, so its progress is counted from the jobs
 * table), the images a run's scope covers, stale regions (made by another embedder than
 * the current one), the region rows a re-index task replaces, and the embedder the
 * pipelines run now (table model_versions, written by every process that runs them). */
#ifndef VISOR_STORE_REINDEX_H
#define VISOR_STORE_REINDEX_H

#include <jansson.h>
#include <stdint.h>

#include "store/db.h"

#define VISOR_REINDEX_KIND "reindex"

typedef struct visor_reindex_run_record {
  const char *id;
  const char *scope;                 /* "product", "category", "stale" or "all" */
  const char *product_id, *category; /* NULL unless the scope names them */
  const char *model;                 /* the embedder the run re-indexes with */
  int64_t total;                     /* images queued */
  const char *actor, *request_id;
} visor_reindex_run_record;

visor_code visor_reindex_run_insert(visor_db_conn *conn, const visor_reindex_run_record *run,
                                    visor_error *err);
/* {id, scope, product_id, category, model, actor, status, total, done, failed, cancelled,
 * pending, created_at, finished_at}: status "running" while any task is queued or running,
 * then "done" (none failed), "failed" (some did) or "cancelled"; VISOR_ERR_NOT_FOUND. */
visor_code visor_reindex_run_get(visor_db_conn *conn, const char *id, json_t **run,
                                 visor_error *err);
/* The newest runs first, as visor_reindex_run_get; *total = how many runs there are. */
visor_code visor_reindex_run_list(visor_db_conn *conn, int64_t limit, int64_t offset, json_t **runs,
                                  int64_t *total, visor_error *err);

/* The live product images of live products a scope covers, oldest first, as a JSON array
 * of {id, product_id}: one product's, one category's, those with a live region whose
 * vector another model than `model` made (or no model recorded), or all. */
visor_code visor_reindex_scope_images(visor_db_conn *conn, const char *scope,
                                      const char *product_id, const char *category,
                                      const char *model, json_t **images, visor_error *err);
/* How many live images and products have a region another model than `model` made. */
visor_code visor_reindex_stale_counts(visor_db_conn *conn, const char *model, int64_t *images,
                                      int64_t *products, visor_error *err);
/* Whether product_id has a live region another model than `model` made. */
visor_code visor_reindex_product_stale(visor_db_conn *conn, const char *product_id,
                                       const char *model, int *stale, visor_error *err);
/* Whether a live product has category (non-empty). */
visor_code visor_reindex_category_exists(visor_db_conn *conn, const char *category, int *exists,
                                         visor_error *err);

/* An image's live regions as a re-index task needs them: a JSON array of {id, vector_id,
 * crop_key, source, is_primary, label, box_x, box_y, box_w, box_h, model}, by id. */
visor_code visor_reindex_image_regions(visor_db_conn *conn, const char *image_id, json_t **regions,
                                       visor_error *err);
/* Removes one region row (a re-index replaced it). */
visor_code visor_reindex_delete_region(visor_db_conn *conn, const char *region_id,
                                       visor_error *err);
/* A kept (admin) region re-embedded by model, and whether it is primary. */
visor_code visor_reindex_region_embedded(visor_db_conn *conn, const char *region_id,
                                         const char *model, int is_primary, visor_error *err);

/* Records (role "embedder") the model the pipelines of this process run, and reads it back
 * (out[0] = 0 when no process recorded one yet). */
visor_code visor_model_version_record(visor_db *db, const char *role, const char *model,
                                      visor_error *err);
visor_code visor_model_version_get(visor_db_conn *conn, const char *role, char *out, size_t size,
                                   visor_error *err);

#endif
