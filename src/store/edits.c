/* edits.c: the SQL of admin corrections (see edits.h). */
#include "store/edits.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "store/row_json.h"

/* On PostgreSQL (READ COMMITTED) a correction's read of its subject takes the row lock, so
 * two corrections of one subject run one after the other and each sees what the other
 * wrote; SQLite's BEGIN IMMEDIATE already serialises them. Outside a transaction the lock
 * ends with the statement. */
static const char *row_lock(const visor_db_conn *conn) {
  return strcmp(conn->db->dialect, "postgres") == 0 ? " FOR UPDATE" : "";
}

visor_code visor_edit_region_row(visor_db_conn *conn, const char *id, json_t **row,
                                 visor_error *err) {
  char sql[400];
  snprintf(sql, sizeof sql,
           "SELECT id, image_id, product_id, label, source, is_primary, whole_image, vector_id,"
           " crop_key, box_x, box_y, box_w, box_h,"
           " CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END AS deleted"
           " FROM regions WHERE id = ?%s",
           row_lock(conn));
  return visor_select_by_id(conn, sql, id, "region", NULL, row, err);
}

visor_code visor_edit_primary_regions(visor_db_conn *conn, const char *product_id, json_t **ids,
                                      visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(product_id)};
  json_t *rows = NULL;
  visor_code code = visor_select_json(conn,
                                      "SELECT id FROM regions WHERE product_id = ? AND"
                                      " deleted_at IS NULL AND is_primary = 1 ORDER BY id",
                                      params, 1, NULL, &rows, err);
  if (code != VISOR_OK) return code;
  *ids = json_array();
  size_t index;
  json_t *row;
  json_array_foreach(rows, index, row) json_array_append(*ids, json_object_get(row, "id"));
  json_decref(rows);
  return VISOR_OK;
}

visor_code visor_edit_region_set_label(visor_db_conn *conn, const char *id, const char *label,
                                       const char *source, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(label), VISOR_DB_S(source), VISOR_DB_I(visor_now_ms()),
                             VISOR_DB_S(id)};
  return visor_db_exec(conn,
                       "UPDATE regions SET label = ?, source = ?, updated_at = ?"
                       " WHERE id = ? AND deleted_at IS NULL",
                       params, 4, NULL, NULL, err);
}

visor_code visor_edit_region_set_box(visor_db_conn *conn, const char *id, double x, double y,
                                     double w, double h, const char *crop_key, const char *source,
                                     int whole_image, visor_error *err) {
  visor_db_value params[] = {
      VISOR_DB_D(x),        VISOR_DB_D(y),      VISOR_DB_D(w),           VISOR_DB_D(h),
      VISOR_DB_S(crop_key), VISOR_DB_S(source), VISOR_DB_I(whole_image), VISOR_DB_I(visor_now_ms()),
      VISOR_DB_S(id)};
  int64_t changed = 0;
  visor_code code = visor_db_exec(conn,
                                  "UPDATE regions SET box_x = ?, box_y = ?, box_w = ?, box_h = ?,"
                                  " crop_key = ?, source = ?, whole_image = ?, updated_at = ?"
                                  " WHERE id = ? AND deleted_at IS NULL",
                                  params, 9, NULL, &changed, err);
  if (code == VISOR_OK && changed != 1)
    code = visor_error_set(err, VISOR_ERR_NOT_FOUND, "region %s not found", id);
  return code;
}

visor_code visor_edit_set_primaries(visor_db_conn *conn, const char *product_id, const json_t *ids,
                                    visor_error *err) {
  visor_db_value params[] = {VISOR_DB_I(visor_now_ms()), VISOR_DB_S(product_id)};
  visor_code code = visor_db_exec(conn,
                                  "UPDATE regions SET is_primary = 0, updated_at = ?"
                                  " WHERE product_id = ? AND deleted_at IS NULL AND is_primary = 1",
                                  params, 2, NULL, NULL, err);
  size_t index;
  json_t *id;
  json_array_foreach(code == VISOR_OK ? ids : NULL, index, id) {
    visor_db_value one[] = {VISOR_DB_I(visor_now_ms()), VISOR_DB_S(json_string_value(id)),
                            VISOR_DB_S(product_id)};
    code = visor_db_exec(conn,
                         "UPDATE regions SET is_primary = 1, updated_at = ?"
                         " WHERE id = ? AND product_id = ? AND deleted_at IS NULL",
                         one, 3, NULL, NULL, err);
    if (code != VISOR_OK) break;
  }
  return code;
}

visor_code visor_edit_region_set_deleted(visor_db_conn *conn, const char *id, int deleted,
                                         visor_error *err) {
  int64_t now = visor_now_ms();
  visor_db_value params[] = {deleted ? VISOR_DB_I(now) : VISOR_DB_NULL_VALUE, VISOR_DB_I(now),
                             VISOR_DB_S(id)};
  int64_t changed = 0;
  visor_code code = visor_db_exec(conn,
                                  deleted ? "UPDATE regions SET deleted_at = ?, updated_at = ?"
                                            " WHERE id = ? AND deleted_at IS NULL"
                                          : "UPDATE regions SET deleted_at = ?, updated_at = ?"
                                            " WHERE id = ? AND deleted_at IS NOT NULL",
                                  params, 3, NULL, &changed, err);
  if (code == VISOR_OK && changed != 1)
    code = visor_error_set(err, VISOR_ERR_CONFLICT, "region %s is %s", id,
                           deleted ? "already deleted" : "not deleted");
  return code;
}

visor_code visor_edit_move_image(visor_db_conn *conn, const char *image_id, const char *product_id,
                                 visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(product_id), VISOR_DB_S(image_id)};
  int64_t changed = 0;
  visor_code code =
      visor_db_exec(conn, "UPDATE images SET product_id = ? WHERE id = ? AND deleted_at IS NULL",
                    params, 2, NULL, &changed, err);
  if (code == VISOR_OK && changed != 1)
    return visor_error_set(err, VISOR_ERR_NOT_FOUND, "image %s not found", image_id);
  visor_db_value region_params[] = {VISOR_DB_S(product_id), VISOR_DB_I(visor_now_ms()),
                                    VISOR_DB_S(image_id)};
  if (code == VISOR_OK)
    code =
        visor_db_exec(conn, "UPDATE regions SET product_id = ?, updated_at = ? WHERE image_id = ?",
                      region_params, 3, NULL, NULL, err);
  return code;
}

visor_code visor_edit_regions_of_images(visor_db_conn *conn, const json_t *image_ids,
                                        json_t **region_ids, visor_error *err) {
  *region_ids = json_array();
  size_t index;
  json_t *image_id;
  json_array_foreach(image_ids, index, image_id) {
    visor_db_value params[] = {VISOR_DB_S(json_string_value(image_id))};
    json_t *rows = NULL;
    visor_code code = visor_select_json(conn,
                                        "SELECT id FROM regions WHERE image_id = ?"
                                        " AND deleted_at IS NULL ORDER BY id",
                                        params, 1, NULL, &rows, err);
    if (code != VISOR_OK) {
      json_decref(*region_ids);
      *region_ids = NULL;
      return code;
    }
    size_t r;
    json_t *row;
    json_array_foreach(rows, r, row) json_array_append(*region_ids, json_object_get(row, "id"));
    json_decref(rows);
  }
  return VISOR_OK;
}

visor_code visor_edit_product_row(visor_db_conn *conn, const char *id, json_t **row,
                                  visor_error *err) {
  char sql[200];
  snprintf(sql, sizeof sql,
           "SELECT id, sku, CASE WHEN deleted_at IS NULL THEN 0 ELSE 1 END AS deleted"
           " FROM products WHERE id = ?%s",
           row_lock(conn));
  return visor_select_by_id(conn, sql, id, "product", NULL, row, err);
}

visor_code visor_edit_product_restore(visor_db_conn *conn, const char *id, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_I(visor_now_ms()), VISOR_DB_S(id)};
  int64_t changed = 0;
  visor_code code = visor_db_exec(conn,
                                  "UPDATE products SET deleted_at = NULL, updated_at = ?"
                                  " WHERE id = ? AND deleted_at IS NOT NULL",
                                  params, 2, NULL, &changed, err);
  if (code == VISOR_ERR_CONFLICT)
    return visor_error_set(err, VISOR_ERR_CONFLICT,
                           "product %s cannot come back: another live product has its SKU", id);
  if (code == VISOR_OK && changed != 1)
    code = visor_error_set(err, VISOR_ERR_CONFLICT, "product %s is not deleted", id);
  return code;
}

static const char *const state_json_columns[] = {"labels", NULL};

visor_code visor_edit_region_vector_state(visor_db_conn *conn, const char *id, json_t **state,
                                          visor_error *err) {
  return visor_select_by_id(
      conn,
      "SELECT r.id AS id, r.vector_id AS vector_id, r.crop_key AS crop_key, r.label AS label,"
      " r.whole_image AS whole_image,"
      " r.box_x AS box_x, r.box_y AS box_y, r.box_w AS box_w, r.box_h AS box_h,"
      " CASE WHEN r.deleted_at IS NULL THEN 0 ELSE 1 END AS region_deleted,"
      " CASE WHEN i.deleted_at IS NULL THEN 0 ELSE 1 END AS image_deleted,"
      " i.object_key AS image_key, r.image_id AS image_id, r.product_id AS product_id,"
      " CASE WHEN p.deleted_at IS NULL THEN 0 ELSE 1 END AS product_deleted,"
      " p.category AS category, p.labels AS labels, p.price AS price"
      " FROM regions r JOIN images i ON i.id = r.image_id JOIN products p ON p.id = r.product_id"
      " WHERE r.id = ?",
      id, "region", state_json_columns, state, err);
}
