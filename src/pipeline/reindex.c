/* reindex.c: the re-index task (kind "reindex", one per image of a run: service/reindex.h).
 * It runs the current models on the image again and replaces its vectors without a moment
 * where the image is unsearchable: the new vectors are written first (the model's regions
 * under new ids, an admin's regions re-embedded at their box under their own ids), then
 * one transaction swaps the region rows (searches skip vectors without a live row:
 * pipeline/ranking.c), then the old vectors and crops go. Admin regions (source "admin":
 * drawn or relabelled by an admin) keep their box, label and primary flag.
 * Resumable and idempotent: before it writes a vector, the task records its plan in its
 * job's result ({"region_ids": the new ids, "replaced": the old vectors and crops}); a
 * retry after a crash reuses those ids (its vectors overwrite the same ones) and removes
 * the old vectors a swap that committed left behind, so nothing is duplicated. If the
 * image's regions changed meanwhile (an index task, a correction), the swap is refused and
 * the task retried. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/uuid.h"
#include "jobs/job_state.h"
#include "pipeline/pipeline.h"
#include "pipeline/pipeline_util.h"
#include "pipeline/product_meta.h"
#include "pipeline/tuned.h"
#include "pipeline/views.h"
#include "service/region_vectors.h"
#include "service/catalogue.h"
#include "service/crops.h"
#include "store/catalog.h"
#include "store/regions.h"
#include "store/reindex.h"

/* What one re-index task works on. */
typedef struct reindex_work {
  visor_app *app;
  visor_job_run *run;
  const char *image_id;
  char product_id[40];
  char *object_key;
  visor_product_meta meta;
  json_t *previous; /* the image's live regions when the task began (store/reindex.h) */
  json_t *plan;     /* an earlier attempt's plan, or NULL */
  visor_analysis analysis;
  char (*new_ids)[40];     /* one per analysis region */
  char (*crop_keys)[128];  /* one per analysis region */
  size_t primary;          /* analysis region that is primary, or SIZE_MAX for none */
  visor_region *kept;      /* the admin regions, re-embedded */
  const json_t **kept_row; /* their rows in previous */
  size_t kept_count;
} reindex_work;

static const char *text(const json_t *object, const char *key) {
  return json_string_value(json_object_get(object, key));
}

static int is_admin(const json_t *region) {
  return strcmp(text(region, "source") ?: "", "admin") == 0;
}

/* Whether rows (JSON array of region rows) has a row with this id. */
static int has_id(const json_t *rows, const char *id) {
  size_t index;
  json_t *row;
  json_array_foreach(rows, index, row) if (id && strcmp(text(row, "id") ?: "", id) == 0) return 1;
  return 0;
}

/* Whether id is one of the task's new region ids. */
static int is_new_id(const reindex_work *work, const char *id) {
  for (size_t i = 0; id && i < work->analysis.region_count; i++)
    if (strcmp(work->new_ids[i], id) == 0) return 1;
  return 0;
}

static visor_code read_regions(visor_app *app, const char *image_id, json_t **regions,
                               visor_error *err) {
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  visor_code code = visor_reindex_image_regions(conn, image_id, regions, err);
  visor_db_release(conn);
  return code;
}

/* The image (live, with its product) and an earlier attempt's plan. *gone: nothing to do. */
static visor_code load(reindex_work *work, int *gone, visor_error *err) {
  visor_app *app = work->app;
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  json_t *image = NULL;
  visor_code code = visor_image_get(conn, work->image_id, &image, err);
  visor_db_release(conn);
  if (code == VISOR_ERR_NOT_FOUND) { /* deleted since the run was started */
    *gone = 1;
    return VISOR_OK;
  }
  if (code != VISOR_OK) return code;
  snprintf(work->product_id, sizeof work->product_id, "%s", text(image, "product_id") ?: "");
  work->object_key = strdup(text(image, "object_key") ?: "");
  json_decref(image);
  code = visor_product_meta_load(app, work->product_id, &work->meta, err);
  if (code == VISOR_ERR_NOT_FOUND) {
    *gone = 1;
    return VISOR_OK;
  }
  if (code == VISOR_OK) code = read_regions(app, work->image_id, &work->previous, err);
  char status[16];
  char *result = NULL, *error = NULL;
  if (code == VISOR_OK &&
      visor_jobs_outcome(app->db, visor_job_run_task(work->run)->id, status, &result, &error,
                         NULL) == VISOR_OK &&
      result)
    work->plan = json_loads(result, 0, NULL);
  free(result);
  free(error);
  return code;
}

static void remove_vector(visor_app *app, const char *vector_id) {
  if (!vector_id) return;
  app->vectors->ops->remove(app->vectors, vector_id, NULL);
  visor_tuned_remove_vector(app, vector_id);
}

/* A crash after an earlier attempt's swap left its old vectors: they have no row now. */
static visor_code finish_earlier_swap(reindex_work *work, visor_error *err) {
  size_t index;
  json_t *old;
  json_array_foreach(json_object_get(work->plan, "replaced"), index, old) {
    const char *id = text(old, "id");
    if (!id || has_id(work->previous, id)) continue; /* not swapped yet: the swap removes it */
    visor_code code =
        work->app->vectors->ops->remove(work->app->vectors, text(old, "vector_id"), err);
    if (code != VISOR_OK) return code;
    visor_tuned_remove_vector(work->app, text(old, "vector_id"));
    if (text(old, "crop_key")) visor_blob_remove(work->app->blobs, text(old, "crop_key"), NULL);
  }
  return VISOR_OK;
}

/* Runs the models: the image analysed as the index task does, the admin regions embedded
 * at their boxes. */
static visor_code run_models(reindex_work *work, visor_error *err) {
  visor_app *app = work->app;
  void *bytes = NULL;
  size_t len = 0;
  visor_code code = visor_blob_get(app->blobs, work->object_key, 0, &bytes, &len, err);
  if (code == VISOR_OK)
    code = visor_views_analyze_catalogue(app->ml, bytes, len, 0, &work->analysis, err);
  size_t rows = json_array_size(work->previous);
  work->kept = calloc(rows + 1, sizeof *work->kept);
  work->kept_row = calloc(rows + 1, sizeof *work->kept_row);
  if (code == VISOR_OK && (!work->kept || !work->kept_row))
    code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  size_t index;
  json_t *row;
  json_array_foreach(code == VISOR_OK ? work->previous : NULL, index, row) {
    if (!is_admin(row)) continue;
    visor_region *region = &work->kept[work->kept_count];
    region->box = (visor_box){.x = (float)json_number_value(json_object_get(row, "box_x")),
                              .y = (float)json_number_value(json_object_get(row, "box_y")),
                              .w = (float)json_number_value(json_object_get(row, "box_w")),
                              .h = (float)json_number_value(json_object_get(row, "box_h"))};
    work->kept_row[work->kept_count++] = row;
  }
  if (code == VISOR_OK && work->kept_count)
    code = app->ml->ops->embed_boxes(app->ml, bytes, len, work->kept, work->kept_count, err);
  free(bytes);
  return code;
}

/* The new ids (the plan's when there is one), crop keys and the primary region: the best
 * detection, else the whole image, unless an admin region is primary. */
static visor_code plan_regions(reindex_work *work, visor_error *err) {
  size_t n = work->analysis.region_count;
  work->new_ids = calloc(n + 1, sizeof *work->new_ids);
  work->crop_keys = calloc(n + 1, sizeof *work->crop_keys);
  if (!work->new_ids || !work->crop_keys)
    return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  json_t *planned = json_object_get(work->plan, "region_ids");
  int admin_primary = 0;
  for (size_t k = 0; k < work->kept_count; k++)
    admin_primary |= (int)json_integer_value(json_object_get(work->kept_row[k], "is_primary"));
  work->primary = admin_primary ? SIZE_MAX : 0;
  for (size_t i = 0; i < n; i++) {
    const char *id = json_string_value(json_array_get(planned, i));
    if (id && visor_uuid_valid(id))
      snprintf(work->new_ids[i], sizeof work->new_ids[i], "%s", id);
    else
      visor_uuid_new(work->new_ids[i]);
    visor_crop_key(work->image_id, work->new_ids[i], work->crop_keys[i], sizeof work->crop_keys[i]);
    const visor_region *region = &work->analysis.regions[i];
    int detected = !region->whole_image && strcmp(region->detector.name, "view") != 0;
    if (!admin_primary && detected &&
        (work->primary == 0 ||
         region->detector.score > work->analysis.regions[work->primary].detector.score))
      work->primary = i;
  }
  return VISOR_OK;
}

/* Records the plan in the job's result before any vector is written. */
static visor_code record_plan(reindex_work *work, visor_error *err) {
  json_t *plan = json_object(), *ids = json_array(), *replaced = json_array();
  for (size_t i = 0; i < work->analysis.region_count; i++)
    json_array_append_new(ids, json_string(work->new_ids[i]));
  size_t index;
  json_t *row;
  json_array_foreach(work->previous, index, row) {
    if (is_admin(row) || is_new_id(work, text(row, "id"))) continue;
    json_array_append_new(replaced,
                          json_pack("{s:O, s:O, s:O}", "id", json_object_get(row, "id"),
                                    "vector_id", json_object_get(row, "vector_id") ?: json_null(),
                                    "crop_key", json_object_get(row, "crop_key") ?: json_null()));
  }
  json_object_set_new(plan, "region_ids", ids);
  json_object_set_new(plan, "replaced", replaced);
  char *plan_text = json_dumps(plan, JSON_COMPACT);
  json_decref(plan);
  if (!plan_text) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  visor_code code =
      visor_jobs_set_result(work->app->db, visor_job_run_task(work->run)->id, plan_text, err);
  free(plan_text);
  return code;
}

static const char *best_label(const visor_region *region) {
  return region->label_count ? region->labels[0].name : NULL;
}

/* Writes the new vectors: the model's regions in one batch (with their projected ones and
 * raw embeddings, pipeline/tuned.h), each admin region's over its old one. */
static visor_code write_vectors(reindex_work *work, const visor_product_meta *meta,
                                visor_error *err) {
  visor_app *app = work->app;
  size_t n = work->analysis.region_count, dim = app->vectors->dim;
  if (n && work->analysis.dim != dim)
    return visor_error_set(err, VISOR_ERR_INTERNAL, "re-index: %zu-d embeddings for a %zu-d store",
                           work->analysis.dim, dim);
  float *vectors = malloc((n + 1) * dim * sizeof *vectors);
  const char **ids = calloc(n + 1, sizeof *ids);
  visor_vector_meta *metas = calloc(n + 1, sizeof *metas);
  visor_region_meta *region_metas = calloc(n + 1, sizeof *region_metas);
  visor_code code = VISOR_OK;
  if (!vectors || !ids || !metas || !region_metas)
    code = visor_error_set(err, VISOR_ERR_NOMEM, "re-index: no memory for %zu vectors", n);
  for (size_t i = 0; code == VISOR_OK && i < n; i++) {
    memcpy(vectors + i * dim, work->analysis.regions[i].embedding, dim * sizeof *vectors);
    ids[i] = work->new_ids[i];
    code = visor_region_meta_make(app, work->product_id, meta,
                                  best_label(&work->analysis.regions[i]), &region_metas[i], err);
    metas[i] = region_metas[i].meta;
  }
  if (code == VISOR_OK && n)
    code = visor_vector_upsert_batch(app->vectors, n, ids, vectors, metas, err);
  if (code == VISOR_OK && n)
    code = visor_tuned_keep_raw(app, work->image_id, &work->analysis, ids, err);
  if (code == VISOR_OK && n)
    code = visor_tuned_index_regions(app, work->image_id, metas, &work->analysis, ids, err);
  for (size_t i = 0; region_metas && i < n; i++)
    visor_region_meta_free(&region_metas[i]);
  for (size_t k = 0; code == VISOR_OK && k < work->kept_count; k++) {
    const json_t *row = work->kept_row[k];
    const char *vector_id = text(row, "vector_id");
    if (!vector_id || !work->kept[k].embedding) continue;
    visor_region_meta kept_meta;
    code = visor_region_meta_make(app, work->product_id, meta, text(row, "label"), &kept_meta, err);
    if (code == VISOR_OK)
      code = visor_region_vector_write(app, work->image_id, vector_id, work->kept[k].embedding,
                                       &kept_meta.meta, err); /* raw, kept and projected */
    visor_region_meta_free(&kept_meta);
  }
  free(region_metas);
  free(vectors);
  free(ids);
  free(metas);
  return code;
}

/* The same ids, in any order. */
static int same_regions(const json_t *a, const json_t *b) {
  if (json_array_size(a) != json_array_size(b)) return 0;
  size_t index;
  json_t *row;
  json_array_foreach(a, index, row) if (!has_id(b, text(row, "id"))) return 0;
  return 1;
}

/* Swaps the region rows in one transaction: the old model regions go, the new ones come,
 * the admin regions record the model. *outcome: 1 swapped, 0 the image is gone, -1 its
 * regions changed since the task read them. */
static visor_code swap_rows(reindex_work *work, int *outcome, visor_error *err) {
  visor_app *app = work->app;
  const visor_analysis *analysis = &work->analysis;
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  char labeller[2 * VISOR_ML_NAME_MAX + 2];
  snprintf(labeller, sizeof labeller, "%s@%s", analysis->labeller.name, analysis->labeller.version);
  int live = 0;
  json_t *now = NULL;
  *outcome = 1;
  visor_code code = visor_db_begin(conn, err);
  if (code == VISOR_OK) code = visor_image_lock_live(conn, work->image_id, &live, err);
  if (code == VISOR_OK && live) code = visor_reindex_image_regions(conn, work->image_id, &now, err);
  if (code == VISOR_OK && (!live || !same_regions(now, work->previous))) {
    *outcome = live ? -1 : 0;
    json_decref(now);
    visor_db_rollback(conn);
    visor_db_release(conn);
    return VISOR_OK;
  }
  json_decref(now);
  size_t index;
  json_t *row;
  json_array_foreach(code == VISOR_OK ? work->previous : NULL, index, row) {
    if (!is_admin(row) && (code = visor_reindex_delete_region(conn, text(row, "id"), err))) break;
  }
  for (size_t i = 0; code == VISOR_OK && i < analysis->region_count; i++) {
    const visor_region *region = &analysis->regions[i];
    char *labels = visor_pipeline_labels_json(region);
    visor_region_record record = {.id = work->new_ids[i],
                                  .image_id = work->image_id,
                                  .product_id = work->product_id,
                                  .x = region->box.x,
                                  .y = region->box.y,
                                  .w = region->box.w,
                                  .h = region->box.h,
                                  .whole_image = region->whole_image,
                                  .label = best_label(region),
                                  .label_score = region->label_count ? region->labels[0].score : 0,
                                  .labeller = labeller,
                                  .labels_json = labels,
                                  .detector_label =
                                      region->whole_image ? NULL : region->detector.name,
                                  .detector_score = region->detector.score,
                                  .source = "model",
                                  .is_primary = i == work->primary,
                                  .crop_key = work->crop_keys[i],
                                  .vector_id = work->new_ids[i],
                                  .model = app->embedder_model};
    code = visor_region_insert(conn, &record, err);
    free(labels);
  }
  for (size_t k = 0; code == VISOR_OK && k < work->kept_count; k++)
    code = visor_reindex_region_embedded(
        conn, text(work->kept_row[k], "id"), app->embedder_model,
        (int)json_integer_value(json_object_get(work->kept_row[k], "is_primary")), err);
  if (code == VISOR_OK) code = visor_image_mark_indexed(conn, work->image_id, err);
  if (code == VISOR_OK)
    code = visor_db_commit(conn, err);
  else
    visor_db_rollback(conn);
  visor_db_release(conn);
  return code;
}

/* The new vectors of the model's regions that no row took (a refused swap, a failure). */
static void drop_new_vectors(reindex_work *work) {
  for (size_t i = 0; work->new_ids && i < work->analysis.region_count; i++)
    if (!has_id(work->previous, work->new_ids[i])) remove_vector(work->app, work->new_ids[i]);
}

/* After the swap: the old model regions' vectors and cached crops. */
static void remove_old(reindex_work *work) {
  size_t index;
  json_t *row;
  json_array_foreach(work->previous, index, row) {
    if (is_admin(row) || is_new_id(work, text(row, "id"))) continue;
    remove_vector(work->app, text(row, "vector_id"));
    if (text(row, "crop_key")) visor_blob_remove(work->app->blobs, text(row, "crop_key"), NULL);
  }
}

/* The product changed while the task ran (a "meta" task may have updated the old vectors
 * only): the new ones get what the product says now. */
static visor_code follow_product(reindex_work *work, visor_error *err) {
  visor_product_meta now = {0};
  visor_code code = VISOR_OK;
  if (visor_product_meta_load(work->app, work->product_id, &now, NULL) == VISOR_OK &&
      !visor_product_meta_equal(&work->meta, &now))
    code = write_vectors(work, &now, err);
  visor_product_meta_free(&now);
  return code;
}

static void work_free(reindex_work *work) {
  for (size_t k = 0; work->kept && k < work->kept_count; k++)
    free(work->kept[k].embedding);
  free(work->kept);
  free(work->kept_row);
  free(work->new_ids);
  free(work->crop_keys);
  visor_analysis_free(&work->analysis);
  visor_product_meta_free(&work->meta);
  free(work->object_key);
  json_decref(work->previous);
  json_decref(work->plan);
}

static visor_code reindex_image(void *ctx, visor_job_run *run, visor_error *err) {
  reindex_work work = {.app = ctx, .run = run};
  json_t *payload = NULL;
  int gone = 0, outcome = 1;
  visor_code code = visor_pipeline_payload(work.app, run, &payload, err);
  if (code == VISOR_OK) code = visor_pipeline_payload_id(payload, "image_id", &work.image_id, err);
  if (code == VISOR_OK) code = load(&work, &gone, err);
  if (code == VISOR_OK && !gone && work.plan) code = finish_earlier_swap(&work, err);
  if (code == VISOR_OK && !gone) {
    visor_job_run_progress(run, 0.1);
    code = run_models(&work, err);
    if (code == VISOR_OK && visor_job_run_cancelled(run))
      code = visor_error_set(err, VISOR_ERR_INVALID, "cancelled");
    if (code == VISOR_OK) code = plan_regions(&work, err);
    if (code == VISOR_OK) code = record_plan(&work, err);
    visor_job_run_progress(run, 0.6);
    if (code == VISOR_OK) code = write_vectors(&work, &work.meta, err);
    visor_job_run_progress(run, 0.8);
    if (code == VISOR_OK) code = swap_rows(&work, &outcome, err);
    if (code != VISOR_OK || outcome != 1) drop_new_vectors(&work); /* no row took them */
    if (code == VISOR_OK && outcome < 0)
      code = visor_error_set(err, VISOR_ERR_CONFLICT,
                             "re-index of image %s: its regions changed meanwhile; trying again",
                             work.image_id);
    if (code == VISOR_OK && outcome == 1) {
      remove_old(&work);
      code = follow_product(&work, err);
    }
  }
  work_free(&work);
  json_decref(payload);
  return code;
}

visor_code visor_pipeline_register_reindex(visor_app *app, visor_worker_pool *pool,
                                           visor_error *err) {
  return visor_worker_pool_register(pool, VISOR_REINDEX_KIND, reindex_image, app, err);
}
