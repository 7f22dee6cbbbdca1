/* feedback.c: the match-feedback repository (see feedback.h). */
#include "store/feedback.h"

#include <stdio.h>

#include "core/clock.h"
#include "store/row_json.h"

#define NEGATIVE_CHUNK 100

visor_code visor_feedback_search_region(visor_db_conn *conn, const char *search_id, int ordinal,
                                        json_t **region, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(search_id), VISOR_DB_I(ordinal)};
  json_t *rows = NULL;
  visor_code code =
      visor_select_json(conn,
                        "SELECT ordinal, box_x, box_y, box_w, box_h, whole_image, label, embedding"
                        " FROM search_regions WHERE search_id = ? AND ordinal = ?",
                        params, 2, NULL, &rows, err);
  if (code != VISOR_OK) return code;
  if (json_array_size(rows) == 0) {
    json_decref(rows);
    return visor_error_set(err, VISOR_ERR_NOT_FOUND, "search %s has no region %d", search_id,
                           ordinal);
  }
  *region = json_incref(json_array_get(rows, 0));
  json_decref(rows);
  return VISOR_OK;
}

visor_code visor_negative_insert(visor_db_conn *conn, const visor_negative_record *record,
                                 visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(record->id),        VISOR_DB_S(record->product_id),
                             VISOR_DB_S(record->search_id), VISOR_DB_I(record->query_ordinal),
                             VISOR_DB_S(record->model),     VISOR_DB_S(record->embedding),
                             VISOR_DB_I(visor_now_ms())};
  return visor_db_exec(conn,
                       "INSERT INTO negative_references(id, product_id, search_id, query_ordinal,"
                       " model, embedding, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                       params, 7, NULL, NULL, err);
}

visor_code visor_negative_set_deleted(visor_db_conn *conn, const char *id, int deleted,
                                      visor_error *err) {
  visor_db_value params[] = {deleted ? VISOR_DB_I(visor_now_ms()) : VISOR_DB_NULL_VALUE,
                             VISOR_DB_S(id)};
  int64_t changed = 0;
  visor_code code = visor_db_exec(conn,
                                  deleted ? "UPDATE negative_references SET deleted_at = ?"
                                            " WHERE id = ? AND deleted_at IS NULL"
                                          : "UPDATE negative_references SET deleted_at = ?"
                                            " WHERE id = ? AND deleted_at IS NOT NULL",
                                  params, 2, NULL, &changed, err);
  if (code == VISOR_OK && changed != 1)
    code = visor_error_set(err, VISOR_ERR_CONFLICT, "negative reference %s is %s", id,
                           deleted ? "not live" : "not deleted");
  return code;
}

visor_code visor_negatives_of_products(visor_db_conn *conn, const char *model,
                                       const char *const *product_ids, size_t count,
                                       visor_negative_fn fn, void *ctx, visor_error *err) {
  for (size_t start = 0; start < count; start += NEGATIVE_CHUNK) {
    size_t n = count - start < NEGATIVE_CHUNK ? count - start : NEGATIVE_CHUNK;
    char sql[256 + NEGATIVE_CHUNK * 3];
    int used = snprintf(sql, sizeof sql,
                        "SELECT product_id, embedding FROM negative_references"
                        " WHERE deleted_at IS NULL AND model = ? AND product_id IN (");
    visor_db_value params[NEGATIVE_CHUNK + 1];
    params[0] = VISOR_DB_S(model);
    for (size_t i = 0; i < n; i++) {
      used += snprintf(sql + used, sizeof sql - (size_t)used, i ? ",?" : "?");
      params[i + 1] = VISOR_DB_S(product_ids[start + i]);
    }
    snprintf(sql + used, sizeof sql - (size_t)used, ") ORDER BY product_id, created_at DESC, id");
    visor_db_rows rows;
    visor_code code = visor_db_exec(conn, sql, params, n + 1, &rows, NULL, err);
    if (code != VISOR_OK) return code;
    for (size_t row = 0; row < rows.row_count; row++)
      fn(ctx, visor_db_text(&rows, row, "product_id"), visor_db_text(&rows, row, "embedding"));
    visor_db_rows_free(&rows);
  }
  return VISOR_OK;
}
