/* projections.c: the projections repository (see projections.h). */
#include "store/projections.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"

visor_code visor_projection_next_version(visor_db_conn *conn, int64_t *version, visor_error *err) {
  visor_db_rows rows = {0};
  visor_code code =
      visor_db_exec(conn, "SELECT COALESCE(MAX(version), 0) + 1 AS next FROM projections", NULL, 0,
                    &rows, NULL, err);
  if (code == VISOR_OK) *version = rows.row_count ? visor_db_int(&rows, 0, "next") : 1;
  visor_db_rows_free(&rows);
  return code;
}

visor_code visor_projection_insert(visor_db_conn *conn, const visor_projection_record *record,
                                   visor_error *err) {
  int64_t now = visor_now_ms();
  visor_db_value stale[] = {VISOR_DB_S(record->model), VISOR_DB_I(now - VISOR_PROJECTION_STALE_MS)};
  visor_code code = visor_db_exec(conn,
                                  "UPDATE projections SET status = 'failed' WHERE model = ? AND"
                                  " status = 'building' AND COALESCE(heartbeat_at, created_at) < ?",
                                  stale, 2, NULL, NULL, err);
  visor_db_value params[] = {VISOR_DB_I(record->version),
                             VISOR_DB_S(record->model),
                             VISOR_DB_S(record->object_key),
                             VISOR_DB_I(record->dim),
                             VISOR_DB_I(record->classes),
                             VISOR_DB_I(record->samples),
                             VISOR_DB_I(record->labelled_images),
                             VISOR_DB_I(now),
                             VISOR_DB_I(now)};
  if (code == VISOR_OK)
    code = visor_db_exec(conn,
                         "INSERT INTO projections(version, model, object_key, status, dim, classes,"
                         " samples, labelled_images, created_at, heartbeat_at)"
                         " VALUES (?, ?, ?, 'building', ?, ?, ?, ?, ?, ?)",
                         params, 9, NULL, NULL, err);
  if (code == VISOR_ERR_CONFLICT)
    visor_error_set(err, VISOR_ERR_CONFLICT,
                    "projection v%lld of %s: another version is being built",
                    (long long)record->version, record->model);
  return code;
}

visor_code visor_projection_heartbeat(visor_db_conn *conn, int64_t version, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_I(visor_now_ms()), VISOR_DB_I(version)};
  return visor_db_exec(conn,
                       "UPDATE projections SET heartbeat_at = ? WHERE version = ? AND"
                       " status = 'building'",
                       params, 2, NULL, NULL, err);
}

visor_code visor_projection_current_fit(visor_db_conn *conn, const char *model, int64_t *version,
                                        int64_t *labelled_images, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(model)};
  visor_db_rows rows = {0};
  *version = *labelled_images = 0;
  visor_code code = visor_db_exec(conn,
                                  "SELECT version, labelled_images FROM projections WHERE model = ?"
                                  " AND status = 'current' ORDER BY version DESC LIMIT 1",
                                  params, 1, &rows, NULL, err);
  if (code == VISOR_OK && rows.row_count) {
    *version = visor_db_int(&rows, 0, "version");
    *labelled_images = visor_db_int(&rows, 0, "labelled_images");
  } else if (code == VISOR_OK) {
    code = visor_error_set(err, VISOR_ERR_NOT_FOUND, "no current projection for %s", model);
  }
  visor_db_rows_free(&rows);
  return code;
}

visor_code visor_projection_make_current(visor_db_conn *conn, int64_t version, int64_t *previous,
                                         visor_error *err) {
  visor_db_value key[] = {VISOR_DB_I(version)};
  visor_db_rows rows = {0};
  *previous = 0;
  visor_code code =
      visor_db_exec(conn,
                    "SELECT p.version FROM projections p JOIN projections n ON n.model = p.model"
                    " WHERE n.version = ? AND p.status = 'current'",
                    key, 1, &rows, NULL, err);
  if (code == VISOR_OK && rows.row_count) *previous = visor_db_int(&rows, 0, "version");
  visor_db_rows_free(&rows);
  visor_db_value params[] = {VISOR_DB_I(*previous)};
  if (code == VISOR_OK && *previous)
    code = visor_db_exec(conn, "UPDATE projections SET status = 'retired' WHERE version = ?",
                         params, 1, NULL, NULL, err);
  visor_db_value current[] = {VISOR_DB_I(visor_now_ms()), VISOR_DB_I(version)};
  int64_t changes = 0;
  if (code == VISOR_OK)
    code = visor_db_exec(conn,
                         "UPDATE projections SET status = 'current', activated_at = ?"
                         " WHERE version = ?",
                         current, 2, NULL, &changes, err);
  if (code == VISOR_OK && changes != 1)
    code =
        visor_error_set(err, VISOR_ERR_NOT_FOUND, "projection v%lld not found", (long long)version);
  return code;
}

visor_code visor_projection_set_failed(visor_db_conn *conn, int64_t version, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_I(version)};
  return visor_db_exec(conn,
                       "UPDATE projections SET status = 'failed' WHERE version = ? AND status = "
                       "'building'",
                       params, 1, NULL, NULL, err);
}

static visor_code version_with_status(visor_db_conn *conn, const char *model, const char *status,
                                      int64_t *version, char *key, size_t key_size,
                                      visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(model), VISOR_DB_S(status)};
  visor_db_rows rows = {0};
  *version = 0;
  visor_code code = visor_db_exec(conn,
                                  "SELECT version, object_key FROM projections WHERE model = ? AND"
                                  " status = ? ORDER BY version DESC LIMIT 1",
                                  params, 2, &rows, NULL, err);
  if (code == VISOR_OK && rows.row_count) {
    *version = visor_db_int(&rows, 0, "version");
    const char *object_key = visor_db_text(&rows, 0, "object_key");
    snprintf(key, key_size, "%s", object_key ? object_key : "");
  }
  visor_db_rows_free(&rows);
  return code;
}

visor_code visor_projection_current(visor_db_conn *conn, const char *model, int64_t *version,
                                    char *key, size_t key_size, visor_error *err) {
  visor_code code = version_with_status(conn, model, "current", version, key, key_size, err);
  if (code == VISOR_OK && *version == 0)
    code = visor_error_set(err, VISOR_ERR_NOT_FOUND, "no current projection for %s", model);
  return code;
}

visor_code visor_projection_building(visor_db_conn *conn, const char *model, int64_t *version,
                                     char *key, size_t key_size, visor_error *err) {
  return version_with_status(conn, model, "building", version, key, key_size, err);
}

visor_code visor_projection_indexed_images(visor_db_conn *conn, visor_db_rows *rows,
                                           visor_error *err) {
  return visor_db_exec(conn,
                       "SELECT i.id AS image_id, i.product_id AS product_id FROM images i"
                       " JOIN products p ON p.id = i.product_id"
                       " WHERE i.deleted_at IS NULL AND p.deleted_at IS NULL"
                       " AND i.status = 'indexed' ORDER BY i.product_id, i.created_at, i.id",
                       NULL, 0, rows, NULL, err);
}

visor_code visor_projection_live_regions(visor_db_conn *conn, visor_db_rows *rows,
                                         visor_error *err) {
  return visor_db_exec(
      conn,
      "SELECT id, label FROM regions WHERE deleted_at IS NULL AND vector_id IS NOT NULL"
      " ORDER BY id",
      NULL, 0, rows, NULL, err);
}

visor_code visor_projection_labelled_images(visor_db_conn *conn, int64_t *count, visor_error *err) {
  visor_db_rows rows = {0};
  visor_code code = visor_db_exec(
      conn,
      "SELECT COALESCE(SUM(n), 0) AS total FROM (SELECT COUNT(*) AS n FROM images i"
      " JOIN products p ON p.id = i.product_id WHERE i.deleted_at IS NULL AND p.deleted_at IS"
      " NULL AND i.status = 'indexed' GROUP BY i.product_id HAVING COUNT(*) >= 2) t",
      NULL, 0, &rows, NULL, err);
  if (code == VISOR_OK) *count = rows.row_count ? visor_db_int(&rows, 0, "total") : 0;
  visor_db_rows_free(&rows);
  return code;
}

visor_code visor_projection_dim(visor_db_conn *conn, int64_t version, int64_t *dim,
                                visor_error *err) {
  visor_db_value params[] = {VISOR_DB_I(version)};
  visor_db_rows rows = {0};
  visor_code code = visor_db_exec(conn, "SELECT dim FROM projections WHERE version = ?", params, 1,
                                  &rows, NULL, err);
  if (code == VISOR_OK && rows.row_count == 0)
    code =
        visor_error_set(err, VISOR_ERR_NOT_FOUND, "projection v%lld not found", (long long)version);
  if (code == VISOR_OK) *dim = visor_db_int(&rows, 0, "dim");
  visor_db_rows_free(&rows);
  return code;
}
