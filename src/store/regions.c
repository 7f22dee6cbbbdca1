/* regions.c: the regions repository (see regions.h). */
#include "store/regions.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "store/row_json.h"

#define REGION_COLUMNS                                                                             \
  "id, image_id, product_id, box_x, box_y, box_w, box_h, whole_image, label, label_score,"         \
  " labeller, labels, detector_label, detector_score, source, is_primary, crop_key, vector_id,"    \
  " model, created_at, updated_at"

static const char *const region_json_columns[] = {"labels", NULL};

visor_code visor_region_insert(visor_db_conn *conn, const visor_region_record *r,
                               visor_error *err) {
  int64_t now = visor_now_ms();
  visor_db_value params[] = {VISOR_DB_S(r->id),
                             VISOR_DB_S(r->image_id),
                             VISOR_DB_S(r->product_id),
                             VISOR_DB_D(r->x),
                             VISOR_DB_D(r->y),
                             VISOR_DB_D(r->w),
                             VISOR_DB_D(r->h),
                             VISOR_DB_I(r->whole_image),
                             VISOR_DB_S(r->label),
                             VISOR_DB_D(r->label_score),
                             VISOR_DB_S(r->labeller),
                             VISOR_DB_S(r->labels_json ? r->labels_json : "[]"),
                             VISOR_DB_S(r->detector_label),
                             r->detector_label ? VISOR_DB_D(r->detector_score)
                                               : VISOR_DB_NULL_VALUE,
                             VISOR_DB_S(r->source ? r->source : "model"),
                             VISOR_DB_I(r->is_primary),
                             VISOR_DB_S(r->crop_key),
                             VISOR_DB_S(r->vector_id),
                             VISOR_DB_S(r->model),
                             VISOR_DB_I(now),
                             VISOR_DB_I(now)};
  return visor_db_exec(conn,
                       "INSERT INTO regions(" REGION_COLUMNS ") VALUES"
                       " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       params, sizeof params / sizeof params[0], NULL, NULL, err);
}

visor_code visor_region_keys(visor_db_conn *conn, const char *image_id, json_t **keys,
                             visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(image_id)};
  return visor_select_json(conn,
                           "SELECT id, vector_id, crop_key FROM regions"
                           " WHERE image_id = ? AND deleted_at IS NULL",
                           params, 1, NULL, keys, err);
}

visor_code visor_region_keys_any(visor_db_conn *conn, const char *image_id, json_t **keys,
                                 visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(image_id)};
  return visor_select_json(conn, "SELECT id, vector_id, crop_key FROM regions WHERE image_id = ?",
                           params, 1, NULL, keys, err);
}

#define LIVE_CHUNK 100

visor_code visor_regions_live(visor_db_conn *conn, const char *const *ids, size_t count, int *live,
                              visor_error *err) {
  for (size_t start = 0; start < count; start += LIVE_CHUNK) {
    size_t n = count - start < LIVE_CHUNK ? count - start : LIVE_CHUNK;
    char sql[160 + LIVE_CHUNK * 3];
    int used = snprintf(sql, sizeof sql,
                        "SELECT r.id AS id FROM regions r JOIN products p ON p.id = r.product_id"
                        " WHERE r.deleted_at IS NULL AND p.deleted_at IS NULL AND r.id IN (");
    visor_db_value params[LIVE_CHUNK];
    for (size_t i = 0; i < n; i++) {
      used += snprintf(sql + used, sizeof sql - (size_t)used, i ? ",?" : "?");
      params[i] = VISOR_DB_S(ids[start + i]);
      live[start + i] = 0;
    }
    snprintf(sql + used, sizeof sql - (size_t)used, ")");
    visor_db_rows rows;
    visor_code code = visor_db_exec(conn, sql, params, n, &rows, NULL, err);
    if (code != VISOR_OK) return code;
    for (size_t row = 0; row < rows.row_count; row++) {
      const char *id = visor_db_text(&rows, row, "id");
      for (size_t i = 0; id && i < n; i++)
        if (strcmp(ids[start + i], id) == 0) live[start + i] = 1;
    }
    visor_db_rows_free(&rows);
  }
  return VISOR_OK;
}

visor_code visor_region_vectors_of_product(visor_db_conn *conn, const char *product_id,
                                           json_t **regions, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(product_id)};
  return visor_select_json(conn,
                           "SELECT id, image_id, vector_id, whole_image, label FROM regions"
                           " WHERE product_id = ?"
                           " AND deleted_at IS NULL AND vector_id IS NOT NULL",
                           params, 1, NULL, regions, err);
}

visor_code visor_region_all_keys(visor_db_conn *conn, json_t **regions, visor_error *err) {
  return visor_select_json(conn,
                           "SELECT id, vector_id, crop_key FROM regions WHERE deleted_at IS NULL",
                           NULL, 0, NULL, regions, err);
}

visor_code visor_image_all_keys(visor_db_conn *conn, json_t **images, visor_error *err) {
  return visor_select_json(conn, "SELECT id, object_key FROM images", NULL, 0, NULL, images, err);
}

visor_code visor_region_soft_delete_for_image(visor_db_conn *conn, const char *image_id,
                                              visor_error *err) {
  visor_db_value params[] = {VISOR_DB_I(visor_now_ms()), VISOR_DB_S(image_id)};
  return visor_db_exec(
      conn, "UPDATE regions SET deleted_at = ? WHERE image_id = ? AND deleted_at IS NULL", params,
      2, NULL, NULL, err);
}

visor_code visor_region_delete_for_image(visor_db_conn *conn, const char *image_id,
                                         visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(image_id)};
  return visor_db_exec(conn, "DELETE FROM regions WHERE image_id = ?", params, 1, NULL, NULL, err);
}

/* Reshapes a region row into the API's region object. */
static json_t *region_object(const visor_db_rows *rows, size_t row) {
  json_t *region = visor_row_to_json(rows, row, region_json_columns);
  json_t *box = json_pack("{s:O, s:O, s:O, s:O}", "x", json_object_get(region, "box_x"), "y",
                          json_object_get(region, "box_y"), "w", json_object_get(region, "box_w"),
                          "h", json_object_get(region, "box_h"));
  json_object_set_new(region, "box", box);
  static const char *const flat[] = {"box_x", "box_y", "box_w", "box_h", "crop_key", "vector_id"};
  for (size_t i = 0; i < sizeof flat / sizeof flat[0]; i++)
    json_object_del(region, flat[i]);
  json_object_set_new(region, "whole_image", json_boolean(visor_db_int(rows, row, "whole_image")));
  json_object_set_new(region, "is_primary", json_boolean(visor_db_int(rows, row, "is_primary")));
  return region;
}

visor_code visor_region_list(visor_db_conn *conn, const char *image_id, json_t **regions,
                             visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(image_id)};
  visor_db_rows rows;
  visor_code code = visor_db_exec(conn,
                                  "SELECT " REGION_COLUMNS
                                  " FROM regions WHERE image_id = ? AND deleted_at IS NULL"
                                  " ORDER BY whole_image DESC, detector_score DESC, id",
                                  params, 1, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  *regions = json_array();
  for (size_t r = 0; r < rows.row_count; r++)
    json_array_append_new(*regions, region_object(&rows, r));
  visor_db_rows_free(&rows);
  return VISOR_OK;
}

visor_code visor_region_get(visor_db_conn *conn, const char *id, json_t **region,
                            visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(id)};
  visor_db_rows rows;
  visor_code code =
      visor_db_exec(conn,
                    "SELECT " REGION_COLUMNS ", crop_key AS crop_object_key FROM regions"
                    " WHERE id = ? AND deleted_at IS NULL",
                    params, 1, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  if (rows.row_count == 0)
    code = visor_error_set(err, VISOR_ERR_NOT_FOUND, "region %s not found", id);
  else
    *region = region_object(&rows, 0);
  visor_db_rows_free(&rows);
  return code;
}
