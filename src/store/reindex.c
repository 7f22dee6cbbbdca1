/* reindex.c: the re-index repository (see reindex.h). */
#include "store/reindex.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "store/row_json.h"

visor_code visor_reindex_run_insert(visor_db_conn *conn, const visor_reindex_run_record *run,
                                    visor_error *err) {
  visor_db_value params[] = {
      VISOR_DB_S(run->id),       VISOR_DB_S(run->scope),      VISOR_DB_S(run->product_id),
      VISOR_DB_S(run->category), VISOR_DB_S(run->model),      VISOR_DB_I(run->total),
      VISOR_DB_S(run->actor),    VISOR_DB_S(run->request_id), VISOR_DB_I(visor_now_ms())};
  return visor_db_exec(conn,
                       "INSERT INTO reindex_runs(id, scope, product_id, category, model, total,"
                       " actor, request_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       params, sizeof params / sizeof params[0], NULL, NULL, err);
}

/* Adds the counts of the run's tasks (by job status), its status and finished_at. */
static visor_code add_progress(visor_db_conn *conn, json_t *run, visor_error *err) {
  const char *id = json_string_value(json_object_get(run, "id"));
  visor_db_value params[] = {VISOR_DB_S(id)};
  visor_db_rows rows;
  visor_code code = visor_db_exec(conn,
                                  "SELECT status, COUNT(*) AS n, MAX(finished_at) AS finished"
                                  " FROM jobs WHERE kind = '" VISOR_REINDEX_KIND
                                  "' AND subject_id = ? GROUP BY status",
                                  params, 1, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  int64_t done = 0, failed = 0, cancelled = 0, pending = 0, finished = 0;
  for (size_t r = 0; r < rows.row_count; r++) {
    const char *status = visor_db_text(&rows, r, "status");
    int64_t n = visor_db_int(&rows, r, "n"), at = visor_db_int(&rows, r, "finished");
    if (!status) continue;
    if (strcmp(status, "done") == 0)
      done += n;
    else if (strcmp(status, "failed") == 0)
      failed += n;
    else if (strcmp(status, "cancelled") == 0)
      cancelled += n;
    else
      pending += n;
    if (at > finished) finished = at;
  }
  visor_db_rows_free(&rows);
  const char *status = pending ? "running" : failed ? "failed" : cancelled ? "cancelled" : "done";
  json_object_set_new(run, "status", json_string(status));
  json_object_set_new(run, "done", json_integer(done));
  json_object_set_new(run, "failed", json_integer(failed));
  json_object_set_new(run, "cancelled", json_integer(cancelled));
  json_object_set_new(run, "pending", json_integer(pending));
  if (pending) {
    json_object_set_new(run, "finished_at", json_null());
  } else { /* a run without images finished when it was made */
    json_t *at = json_object_get(run, "created_at");
    if (finished) {
      char text[32];
      visor_format_time(finished, text);
      json_object_set_new(run, "finished_at", json_string(text));
    } else {
      json_object_set(run, "finished_at", at);
    }
  }
  return VISOR_OK;
}

#define RUN_COLUMNS "id, scope, product_id, category, model, total, actor, request_id, created_at"

visor_code visor_reindex_run_get(visor_db_conn *conn, const char *id, json_t **run,
                                 visor_error *err) {
  visor_code code =
      visor_select_by_id(conn, "SELECT " RUN_COLUMNS " FROM reindex_runs WHERE id = ?", id,
                         "re-index run", NULL, run, err);
  if (code == VISOR_OK && (code = add_progress(conn, *run, err)) != VISOR_OK) {
    json_decref(*run);
    *run = NULL;
  }
  return code;
}

visor_code visor_reindex_run_list(visor_db_conn *conn, int64_t limit, int64_t offset, json_t **runs,
                                  int64_t *total, visor_error *err) {
  visor_db_rows rows;
  visor_code code =
      visor_db_exec(conn, "SELECT COUNT(*) AS n FROM reindex_runs", NULL, 0, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  *total = visor_db_int(&rows, 0, "n");
  visor_db_rows_free(&rows);
  visor_db_value params[] = {VISOR_DB_I(limit), VISOR_DB_I(offset)};
  code = visor_select_json(conn,
                           "SELECT " RUN_COLUMNS " FROM reindex_runs"
                           " ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                           params, 2, NULL, runs, err);
  size_t index;
  json_t *run;
  json_array_foreach(code == VISOR_OK ? *runs : NULL, index, run) {
    if ((code = add_progress(conn, run, err)) != VISOR_OK) break;
  }
  if (code != VISOR_OK && code != VISOR_ERR_NOT_FOUND) {
    json_decref(*runs);
    *runs = NULL;
  }
  return code;
}

/* A live region of image i made by another model than the parameter (or by none named). */
#define STALE_REGION                                                                               \
  "EXISTS (SELECT 1 FROM regions r WHERE r.image_id = i.id AND r.deleted_at IS NULL"               \
  " AND (r.model IS NULL OR r.model <> ?))"
#define LIVE_IMAGES                                                                                \
  " FROM images i JOIN products p ON p.id = i.product_id"                                          \
  " WHERE i.deleted_at IS NULL AND p.deleted_at IS NULL AND i.purpose = 'product'"

visor_code visor_reindex_scope_images(visor_db_conn *conn, const char *scope,
                                      const char *product_id, const char *category,
                                      const char *model, json_t **images, visor_error *err) {
  const char *sql = NULL;
  visor_db_value param = VISOR_DB_NULL_VALUE;
  if (strcmp(scope, "product") == 0) {
    sql = "SELECT i.id AS id, i.product_id AS product_id" LIVE_IMAGES
          " AND p.id = ? ORDER BY i.created_at, i.id";
    param = VISOR_DB_S(product_id);
  } else if (strcmp(scope, "category") == 0) {
    sql = "SELECT i.id AS id, i.product_id AS product_id" LIVE_IMAGES
          " AND p.category = ? ORDER BY i.created_at, i.id";
    param = VISOR_DB_S(category);
  } else if (strcmp(scope, "stale") == 0) {
    sql = "SELECT i.id AS id, i.product_id AS product_id" LIVE_IMAGES " AND " STALE_REGION
          " ORDER BY i.created_at, i.id";
    param = VISOR_DB_S(model);
  } else if (strcmp(scope, "all") == 0) {
    sql =
        "SELECT i.id AS id, i.product_id AS product_id" LIVE_IMAGES " ORDER BY i.created_at, i.id";
  } else {
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "scope '%.40s' is not one of product, category, stale, all", scope);
  }
  return visor_select_json(conn, sql, param.type == VISOR_DB_NULL ? NULL : &param,
                           param.type == VISOR_DB_NULL ? 0 : 1, NULL, images, err);
}

visor_code visor_reindex_stale_counts(visor_db_conn *conn, const char *model, int64_t *images,
                                      int64_t *products, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(model)};
  visor_db_rows rows;
  visor_code code = visor_db_exec(conn,
                                  "SELECT COUNT(*) AS images, COUNT(DISTINCT i.product_id) AS"
                                  " products" LIVE_IMAGES " AND " STALE_REGION,
                                  params, 1, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  *images = visor_db_int(&rows, 0, "images");
  *products = visor_db_int(&rows, 0, "products");
  visor_db_rows_free(&rows);
  return VISOR_OK;
}

visor_code visor_reindex_product_stale(visor_db_conn *conn, const char *product_id,
                                       const char *model, int *stale, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(product_id), VISOR_DB_S(model)};
  visor_db_rows rows;
  visor_code code =
      visor_db_exec(conn, "SELECT COUNT(*) AS n" LIVE_IMAGES " AND p.id = ? AND " STALE_REGION,
                    params, 2, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  *stale = visor_db_int(&rows, 0, "n") > 0;
  visor_db_rows_free(&rows);
  return VISOR_OK;
}

visor_code visor_reindex_category_exists(visor_db_conn *conn, const char *category, int *exists,
                                         visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(category)};
  visor_db_rows rows;
  visor_code code = visor_db_exec(
      conn, "SELECT COUNT(*) AS n FROM products WHERE category = ? AND deleted_at IS NULL", params,
      1, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  *exists = visor_db_int(&rows, 0, "n") > 0;
  visor_db_rows_free(&rows);
  return VISOR_OK;
}

visor_code visor_reindex_image_regions(visor_db_conn *conn, const char *image_id, json_t **regions,
                                       visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(image_id)};
  return visor_select_json(conn,
                           "SELECT id, vector_id, crop_key, source, is_primary, label, box_x,"
                           " box_y, box_w, box_h, model FROM regions"
                           " WHERE image_id = ? AND deleted_at IS NULL ORDER BY id",
                           params, 1, NULL, regions, err);
}

visor_code visor_reindex_delete_region(visor_db_conn *conn, const char *region_id,
                                       visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(region_id)};
  return visor_db_exec(conn, "DELETE FROM regions WHERE id = ?", params, 1, NULL, NULL, err);
}

visor_code visor_reindex_region_embedded(visor_db_conn *conn, const char *region_id,
                                         const char *model, int is_primary, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(model), VISOR_DB_I(is_primary), VISOR_DB_I(visor_now_ms()),
                             VISOR_DB_S(region_id)};
  return visor_db_exec(conn,
                       "UPDATE regions SET model = ?, is_primary = ?, updated_at = ? WHERE id = ?",
                       params, 4, NULL, NULL, err);
}

visor_code visor_model_version_record(visor_db *db, const char *role, const char *model,
                                      visor_error *err) {
  visor_db_conn *conn = visor_db_acquire(db, err);
  if (!conn) return visor_db_acquire_failed(err);
  visor_db_value params[] = {VISOR_DB_S(role), VISOR_DB_S(model), VISOR_DB_I(visor_now_ms())};
  visor_code code = visor_db_exec(conn,
                                  "INSERT INTO model_versions(role, model, updated_at)"
                                  " VALUES (?, ?, ?) ON CONFLICT (role) DO UPDATE"
                                  " SET model = excluded.model, updated_at = excluded.updated_at",
                                  params, 3, NULL, NULL, err);
  visor_db_release(conn);
  return code;
}

visor_code visor_model_version_get(visor_db_conn *conn, const char *role, char *out, size_t size,
                                   visor_error *err) {
  out[0] = '\0';
  visor_db_value params[] = {VISOR_DB_S(role)};
  visor_db_rows rows;
  visor_code code = visor_db_exec(conn, "SELECT model FROM model_versions WHERE role = ?", params,
                                  1, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  if (rows.row_count) snprintf(out, size, "%s", visor_db_text(&rows, 0, "model") ?: "");
  visor_db_rows_free(&rows);
  return VISOR_OK;
}
