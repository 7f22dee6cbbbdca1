/* index.c: the indexing pipeline (task kind "index"): fetch a product image, analyze it
 * (detect objects, label and embed every region, the whole image always included with
 * the centred views the pipeline settings ask for averaged in: pipeline/views.h), replace
 * the image's region rows
 * and write one vector per region. No crop is made here: each row names the key its crop
 * is cached under when it is first requested (service/crops.h). Idempotent: a retry
 * (after a crash anywhere) first removes the vectors of the regions a previous run
 * recorded, so exactly one set of regions and vectors remains.
 * An image deleted before or while it is indexed gets nothing written: the task removes
 * whatever vectors and crops it (or an earlier run) made and finishes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/uuid.h"
#include "pipeline/duplicates.h"
#include "pipeline/pipeline.h"
#include "pipeline/pipeline_util.h"
#include "pipeline/product_meta.h"
#include "pipeline/refit.h"
#include "pipeline/tuned.h"
#include "pipeline/views.h"
#include "service/catalogue.h"
#include "service/crops.h"
#include "service/region_vectors.h"
#include "store/catalog.h"
#include "store/regions.h"

typedef struct indexed_region {
  char id[40];
  char crop_key[128];
  char *labels_json;
} indexed_region;

/* The image's object key and the product's vector metadata. */
static visor_code load_subject(visor_app *app, const char *image_id, const char *product_id,
                               char **object_key, visor_product_meta *meta, visor_error *err) {
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  json_t *image = NULL;
  visor_code code = visor_image_get(conn, image_id, &image, err);
  visor_db_release(conn);
  if (code == VISOR_OK) code = visor_product_meta_load(app, product_id, meta, err);
  if (code == VISOR_OK)
    *object_key = strdup(json_string_value(json_object_get(image, "object_key")));
  json_decref(image);
  return code;
}

/* Removes the vectors of the regions a previous run recorded for this image. */
static visor_code remove_previous_vectors(visor_app *app, const char *image_id, json_t **previous,
                                          visor_error *err) {
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  visor_code code = visor_region_keys(conn, image_id, previous, err);
  visor_db_release(conn);
  size_t index;
  json_t *key;
  json_array_foreach(code == VISOR_OK ? *previous : NULL, index, key) {
    const char *vector_id = json_string_value(json_object_get(key, "vector_id"));
    if (vector_id && (code = app->vectors->ops->remove(app->vectors, vector_id, err)) != VISOR_OK)
      break;
    if (vector_id) visor_tuned_remove_vector(app, vector_id);
  }
  return code;
}

/* The label the region row records (the labeller's best), or NULL. */
static const char *region_label(const visor_region *region) {
  return region->label_count ? region->labels[0].name : NULL;
}

/* Writes one vector per region in one batch (one request for a remote vector store). */
static visor_code upsert_vectors(visor_app *app, const char *regions_image_id,
                                 const char *product_id, const visor_product_meta *meta,
                                 const visor_analysis *analysis, const indexed_region *regions,
                                 visor_error *err) {
  size_t n = analysis->region_count, dim = app->vectors->dim;
  if (n == 0) return VISOR_OK;
  if (analysis->dim != dim)
    return visor_error_set(err, VISOR_ERR_INTERNAL, "indexing: %zu-d embeddings for a %zu-d store",
                           analysis->dim, dim);
  float *vectors = malloc(n * dim * sizeof *vectors);
  const char **ids = malloc(n * sizeof *ids);
  visor_vector_meta *metas = malloc(n * sizeof *metas);
  visor_region_meta *region_metas = calloc(n, sizeof *region_metas);
  visor_code code = VISOR_OK;
  if (!vectors || !ids || !metas || !region_metas) {
    code = visor_error_set(err, VISOR_ERR_NOMEM, "indexing: no memory for %zu vectors", n);
  } else {
    for (size_t i = 0; code == VISOR_OK && i < n; i++) {
      memcpy(vectors + i * dim, analysis->regions[i].embedding, dim * sizeof *vectors);
      ids[i] = regions[i].id;
      code = visor_region_meta_make(app, product_id, meta, region_label(&analysis->regions[i]),
                                    &region_metas[i], err);
      metas[i] = region_metas[i].meta;
    }
    if (code == VISOR_OK)
      code = visor_vector_upsert_batch(app->vectors, n, ids, vectors, metas, err);
    /* The projected vectors (the raw embeddings were kept before the rows). */
    if (code == VISOR_OK)
      code = visor_tuned_index_regions(app, regions_image_id, metas, analysis, ids, err);
  }
  for (size_t i = 0; region_metas && i < n; i++)
    visor_region_meta_free(&region_metas[i]);
  free(region_metas);
  free(vectors);
  free(ids);
  free(metas);
  return code;
}

/* Replaces the image's region rows and marks it indexed, in one transaction, unless the
 * image was deleted meanwhile (*live = 0: nothing written). */
static visor_code write_regions(visor_app *app, const char *image_id, const char *product_id,
                                const visor_analysis *analysis, indexed_region *regions,
                                size_t primary, int *live, visor_error *err) {
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  char labeller[2 * VISOR_ML_NAME_MAX + 2];
  snprintf(labeller, sizeof labeller, "%s@%s", analysis->labeller.name, analysis->labeller.version);
  visor_code code = visor_db_begin(conn, err);
  if (code == VISOR_OK) code = visor_image_lock_live(conn, image_id, live, err);
  if (code == VISOR_OK && !*live) {
    visor_db_rollback(conn);
    visor_db_release(conn);
    return VISOR_OK;
  }
  if (code == VISOR_OK) code = visor_region_delete_for_image(conn, image_id, err);
  for (size_t i = 0; code == VISOR_OK && i < analysis->region_count; i++) {
    const visor_region *region = &analysis->regions[i];
    visor_region_record record = {.id = regions[i].id,
                                  .image_id = image_id,
                                  .product_id = product_id,
                                  .x = region->box.x,
                                  .y = region->box.y,
                                  .w = region->box.w,
                                  .h = region->box.h,
                                  .whole_image = region->whole_image,
                                  .label = region->label_count ? region->labels[0].name : NULL,
                                  .label_score = region->label_count ? region->labels[0].score : 0,
                                  .labeller = labeller,
                                  .labels_json = regions[i].labels_json,
                                  .detector_label =
                                      region->whole_image ? NULL : region->detector.name,
                                  .detector_score = region->detector.score,
                                  .source = "model",
                                  .is_primary = i == primary,
                                  .crop_key = regions[i].crop_key,
                                  .vector_id = regions[i].id,
                                  .model = app->embedder_model};
    code = visor_region_insert(conn, &record, err);
  }
  if (code == VISOR_OK) code = visor_image_mark_indexed(conn, image_id, err);
  if (code == VISOR_OK)
    code = visor_db_commit(conn, err);
  else
    visor_db_rollback(conn);
  visor_db_release(conn);
  return code;
}

/* The image was deleted: removes every vector and crop its regions have (deleted ones
 * included). */
static visor_code clean_up_deleted(visor_app *app, const char *image_id, visor_error *err) {
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  json_t *keys = NULL;
  visor_code code = visor_region_keys_any(conn, image_id, &keys, err);
  visor_db_release(conn);
  if (code == VISOR_OK) code = visor_catalogue_remove_region_data(app, keys, err);
  json_decref(keys);
  return code;
}

static int image_live(visor_app *app, const char *image_id) {
  visor_db_conn *conn = visor_db_acquire(app->db, NULL);
  int live = 1;
  if (conn && visor_db_begin(conn, NULL) == VISOR_OK) {
    visor_image_lock_live(conn, image_id, &live, NULL);
    visor_db_rollback(conn);
  }
  visor_db_release(conn);
  return live;
}

static visor_code index_image(void *ctx, visor_job_run *run, visor_error *err) {
  visor_app *app = ctx;
  json_t *payload = NULL, *previous = NULL;
  const char *image_id = NULL, *product_id = NULL;
  char *object_key = NULL;
  visor_product_meta meta = {0};
  void *bytes = NULL;
  size_t len = 0;
  visor_analysis analysis = {0};
  indexed_region *regions = NULL;
  visor_code code = visor_pipeline_payload(app, run, &payload, err);
  if (code == VISOR_OK) code = visor_pipeline_payload_id(payload, "image_id", &image_id, err);
  if (code == VISOR_OK) code = visor_pipeline_payload_id(payload, "product_id", &product_id, err);
  if (code == VISOR_OK) code = load_subject(app, image_id, product_id, &object_key, &meta, err);
  if (code == VISOR_ERR_NOT_FOUND && image_id && !image_live(app, image_id)) {
    code = clean_up_deleted(app, image_id, err); /* deleted before it was indexed */
    json_decref(payload);
    visor_product_meta_free(&meta);
    free(object_key);
    return code;
  }
  if (code == VISOR_OK) code = visor_blob_get(app->blobs, object_key, 0, &bytes, &len, err);
  visor_job_run_progress(run, 0.1);
  if (code == VISOR_OK)
    code = visor_views_analyze_catalogue(app->ml, bytes, len, 0, &analysis, err);
  visor_job_run_progress(run, 0.6);
  if (code == VISOR_OK && visor_job_run_cancelled(run))
    code = visor_error_set(err, VISOR_ERR_INVALID, "cancelled");
  if (code == VISOR_OK && !(regions = calloc(analysis.region_count, sizeof *regions)))
    code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  /* The best detection is the primary region, else the whole image. */
  size_t primary = 0;
  for (size_t i = 0; code == VISOR_OK && i < analysis.region_count; i++) {
    const visor_region *region = &analysis.regions[i];
    int detected = !region->whole_image && strcmp(region->detector.name, "view") != 0;
    if (detected &&
        (primary == 0 || region->detector.score > analysis.regions[primary].detector.score))
      primary = i;
    visor_uuid_new(regions[i].id);
    visor_crop_key(image_id, regions[i].id, regions[i].crop_key, sizeof regions[i].crop_key);
    regions[i].labels_json = visor_pipeline_labels_json(region);
  }
  visor_job_run_progress(run, 0.8);
  if (code == VISOR_OK) code = remove_previous_vectors(app, image_id, &previous, err);
  /* The raw embeddings kept for re-projection, before the image is marked indexed. */
  if (code == VISOR_OK && regions) {
    const char **ids = malloc((analysis.region_count + 1) * sizeof *ids);
    if (!ids) code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; ids && i < analysis.region_count; i++)
      ids[i] = regions[i].id;
    if (code == VISOR_OK) code = visor_tuned_keep_raw(app, image_id, &analysis, ids, err);
    free(ids);
  }
  int live = 1;
  if (code == VISOR_OK)
    code = write_regions(app, image_id, product_id, &analysis, regions, primary, &live, err);
  if (code == VISOR_OK && !live) code = visor_error_set(err, VISOR_ERR_NOT_FOUND, "deleted");
  if (code == VISOR_OK)
    code = upsert_vectors(app, image_id, product_id, &meta, &analysis, regions, err);
  if (code == VISOR_OK) /* a failure here is logged: the image is searchable all the same */
    visor_pipeline_note_duplicates(app, image_id, product_id, &analysis);
  /* The product changed while this task ran: a "meta" task that ran before these vectors
   * existed could not update them, so they get the product's metadata now. */
  visor_product_meta now = {0};
  if (code == VISOR_OK && visor_product_meta_load(app, product_id, &now, NULL) == VISOR_OK &&
      !visor_product_meta_equal(&meta, &now)) {
    for (size_t i = 0; code == VISOR_OK && i < analysis.region_count; i++) {
      visor_region_meta fresh;
      code = visor_region_meta_make(app, product_id, &now, region_label(&analysis.regions[i]),
                                    &fresh, err);
      if (code == VISOR_OK)
        code = visor_region_vector_set_meta(app, image_id, regions[i].id, &fresh.meta, err);
      visor_region_meta_free(&fresh);
    }
  }
  visor_product_meta_free(&now);
  /* Deleted while its vectors were written: a delete that read the region rows before
   * they existed cannot have removed them. */
  if (code == VISOR_OK && !image_live(app, image_id)) {
    live = 0;
    code = visor_error_set(err, VISOR_ERR_NOT_FOUND, "deleted");
  }
  /* The cached crops of a previous run's regions are no longer referenced. */
  size_t index;
  json_t *key;
  json_array_foreach(code == VISOR_OK ? previous : NULL, index, key) {
    const char *crop_key = json_string_value(json_object_get(key, "crop_key"));
    if (crop_key) visor_blob_remove(app->blobs, crop_key, NULL);
  }
  if (code != VISOR_OK && regions) { /* drop crops cached meanwhile; a retry has new regions */
    for (size_t i = 0; i < analysis.region_count; i++)
      if (regions[i].crop_key[0]) visor_blob_remove(app->blobs, regions[i].crop_key, NULL);
  }
  if (!live) { /* the image is gone: leave nothing of it behind, and finish */
    for (size_t i = 0; regions && i < analysis.region_count; i++) {
      app->vectors->ops->remove(app->vectors, regions[i].id, NULL);
      visor_tuned_remove_vector(app, regions[i].id);
    }
    code = clean_up_deleted(app, image_id, err);
  }
  /* One more labelled image may make the projection's refit due (a failed check is made
   * again by the next index task). */
  if (code == VISOR_OK && live) visor_refit_check(app, NULL, NULL);
  /* An image stays pending while its job is retried; when the job fails for good (at once
   * for an image that cannot be decoded), jobs/job_state.c marks it failed with the error. */
  for (size_t i = 0; regions && i < analysis.region_count; i++)
    free(regions[i].labels_json);
  free(regions);
  visor_analysis_free(&analysis);
  free(bytes);
  free(object_key);
  visor_product_meta_free(&meta);
  json_decref(previous);
  json_decref(payload);
  return code;
}

visor_code visor_pipeline_register_index(visor_app *app, visor_worker_pool *pool,
                                         visor_error *err) {
  return visor_worker_pool_register(pool, "index", index_image, app, err);
}
