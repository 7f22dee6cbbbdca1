/* reindex.c: starting re-index runs and the stale summary (see reindex.h). */
#include "service/reindex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/uuid.h"
#include "jobs/job_state.h"
#include "store/audit.h"
#include "store/catalog.h"
#include "store/reindex.h"

visor_code visor_reindex_current_model(visor_app *app, visor_db_conn *conn, char *out, size_t size,
                                       visor_error *err) {
  if (app->embedder_model[0]) {
    snprintf(out, size, "%s", app->embedder_model);
    return VISOR_OK;
  }
  return visor_model_version_get(conn, "embedder", out, size, err);
}

visor_code visor_reindex_stale_summary(visor_app *app, visor_db_conn *conn, json_t **summary,
                                       visor_error *err) {
  char model[260];
  int64_t images = 0, products = 0;
  visor_code code = visor_reindex_current_model(app, conn, model, sizeof model, err);
  if (code == VISOR_OK && model[0])
    code = visor_reindex_stale_counts(conn, model, &images, &products, err);
  if (code != VISOR_OK) return code;
  *summary = json_pack("{s:o, s:I, s:I}", "model", model[0] ? json_string(model) : json_null(),
                       "images", (json_int_t)images, "products", (json_int_t)products);
  return VISOR_OK;
}

visor_code visor_reindex_mark_stale(visor_app *app, visor_db_conn *conn, json_t *product,
                                    visor_error *err) {
  char model[260];
  int stale = 0;
  visor_code code = visor_reindex_current_model(app, conn, model, sizeof model, err);
  if (code == VISOR_OK && model[0])
    code = visor_reindex_product_stale(conn, json_string_value(json_object_get(product, "id")),
                                       model, &stale, err);
  if (code == VISOR_OK) json_object_set_new(product, "stale", json_boolean(stale));
  return code;
}

/* The request's subject exists: a live product, or a category some live product has. */
static visor_code check_subject(visor_db_conn *conn, const visor_reindex_request *request,
                                visor_error *err) {
  const char *scope = request->scope ? request->scope : "";
  if (strcmp(scope, "product") == 0) {
    if (!request->product_id || !visor_uuid_valid(request->product_id))
      return visor_error_set(err, VISOR_ERR_INVALID,
                             "scope product needs 'product_id', a product id (UUID)");
    json_t *product = NULL;
    visor_code code = visor_product_get(conn, request->product_id, &product, err);
    json_decref(product);
    return code;
  }
  if (strcmp(scope, "category") == 0) {
    if (!request->category || !*request->category)
      return visor_error_set(err, VISOR_ERR_INVALID, "scope category needs a non-empty 'category'");
    int exists = 0;
    visor_code code = visor_reindex_category_exists(conn, request->category, &exists, err);
    if (code == VISOR_OK && !exists)
      code = visor_error_set(err, VISOR_ERR_NOT_FOUND, "no product has category '%.100s'",
                             request->category);
    return code;
  }
  if (strcmp(scope, "stale") != 0 && strcmp(scope, "all") != 0)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "scope '%.40s' is not one of product, category, stale, all", scope);
  return VISOR_OK;
}

/* One "reindex" task per image, its subject the run (so the run counts its tasks). */
static visor_code queue_tasks(visor_app *app, visor_db_conn *conn, const char *run_id,
                              const json_t *images, visor_error *err) {
  size_t index;
  json_t *image;
  json_array_foreach(images, index, image) {
    json_t *payload =
        json_pack("{s:s, s:O, s:O}", "run_id", run_id, "image_id", json_object_get(image, "id"),
                  "product_id", json_object_get(image, "product_id"));
    char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
    json_decref(payload);
    if (!text) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    char job_id[40];
    visor_code code =
        visor_jobs_create(conn, VISOR_REINDEX_KIND, run_id, text, app->job_attempts, job_id, err);
    free(text);
    if (code != VISOR_OK) return code;
  }
  return VISOR_OK;
}

visor_code visor_reindex_start(visor_app *app, const visor_correction_who *who,
                               const visor_reindex_request *request, json_t **run,
                               visor_error *err) {
  *run = NULL;
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  char model[260] = "", run_id[40];
  json_t *images = NULL;
  visor_uuid_new(run_id);
  const char *scope = request->scope ? request->scope : "";
  int is_product = strcmp(scope, "product") == 0, is_category = strcmp(scope, "category") == 0;
  visor_code code = visor_db_begin(conn, err);
  if (code == VISOR_OK) code = check_subject(conn, request, err);
  if (code == VISOR_OK) code = visor_reindex_current_model(app, conn, model, sizeof model, err);
  if (code == VISOR_OK && !model[0])
    code = visor_error_set(err, VISOR_ERR_UNAVAILABLE,
                           "no worker has recorded the current embedder yet: start one first");
  if (code == VISOR_OK)
    code = visor_reindex_scope_images(conn, scope, request->product_id, request->category, model,
                                      &images, err);
  visor_reindex_run_record record = {.id = run_id,
                                     .scope = scope,
                                     .product_id = is_product ? request->product_id : NULL,
                                     .category = is_category ? request->category : NULL,
                                     .model = model,
                                     .total = (int64_t)json_array_size(images),
                                     .actor = who->actor,
                                     .request_id = who->request_id};
  if (code == VISOR_OK) code = visor_reindex_run_insert(conn, &record, err);
  if (code == VISOR_OK) code = queue_tasks(app, conn, run_id, images, err);
  if (code == VISOR_OK) {
    char audit_id[40];
    visor_uuid_new(audit_id);
    json_t *before = json_object(),
           *after =
               json_pack("{s:s, s:o, s:o, s:s, s:I}", "scope", scope, "product_id",
                         record.product_id ? json_string(record.product_id) : json_null(),
                         "category", record.category ? json_string(record.category) : json_null(),
                         "model", model, "total", (json_int_t)record.total);
    visor_audit_record entry = {.id = audit_id,
                                .actor = who->actor,
                                .action = "reindex",
                                .subject_kind = "reindex",
                                .subject_id = run_id,
                                .before = before,
                                .after = after,
                                .request_id = who->request_id};
    code = visor_audit_insert(conn, &entry, err);
    json_decref(before);
    json_decref(after);
  }
  if (code == VISOR_OK)
    code = visor_db_commit(conn, err);
  else
    visor_db_rollback(conn);
  if (code == VISOR_OK) code = visor_reindex_run_get(conn, run_id, run, err);
  visor_db_release(conn);
  json_decref(images);
  if (code == VISOR_OK) visor_app_jobs_committed(app);
  return code;
}
