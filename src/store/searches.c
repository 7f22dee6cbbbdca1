/* searches.c: the searches repository (see searches.h). */
#include "store/searches.h"

#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "store/row_json.h"

visor_code visor_search_insert(visor_db_conn *conn, const char *id, const char *image_id,
                               const char *job_id, int k, const char *filters_json, int offset,
                               const char *group, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(id),
                             VISOR_DB_S(image_id),
                             VISOR_DB_S(job_id),
                             VISOR_DB_I(k),
                             VISOR_DB_S(filters_json ? filters_json : "{}"),
                             VISOR_DB_I(visor_now_ms()),
                             VISOR_DB_I(offset),
                             VISOR_DB_S(group ? group : "product")};
  return visor_db_exec(conn,
                       "INSERT INTO searches(id, image_id, job_id, k, filters, status, created_at,"
                       " result_offset, result_group) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?)",
                       params, 8, NULL, NULL, err);
}

visor_code visor_search_load(visor_db_conn *conn, const char *id, json_t **search,
                             visor_error *err) {
  static const char *const json_columns[] = {"filters", "box", NULL};
  return visor_select_by_id(
      conn,
      "SELECT s.id, s.image_id, s.job_id, s.k, s.result_offset AS \"offset\","
      " s.result_group AS \"group\", s.filters, s.box, s.status, s.error,"
      " s.duration_ms, s.created_at, s.finished_at, i.object_key, i.width, i.height, i.format"
      " FROM searches s LEFT JOIN images i ON i.id = s.image_id WHERE s.id = ?",
      id, "search", json_columns, search, err);
}

visor_code visor_search_set_box(visor_db_conn *conn, const char *id, const char *box_json,
                                visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(box_json), VISOR_DB_S(id)};
  return visor_db_exec(conn, "UPDATE searches SET box = ? WHERE id = ?", params, 2, NULL, NULL,
                       err);
}

visor_code visor_search_set_status(visor_db_conn *conn, const char *id, const char *status,
                                   const char *error, double duration_ms, visor_error *err) {
  int finished = strcmp(status, "done") == 0 || strcmp(status, "failed") == 0;
  visor_db_value params[] = {VISOR_DB_S(status), VISOR_DB_S(error),
                             duration_ms > 0 ? VISOR_DB_D(duration_ms) : VISOR_DB_NULL_VALUE,
                             finished ? VISOR_DB_I(visor_now_ms()) : VISOR_DB_NULL_VALUE,
                             VISOR_DB_S(id)};
  return visor_db_exec(
      conn,
      "UPDATE searches SET status = ?, error = ?, duration_ms = COALESCE(?, duration_ms),"
      " finished_at = ? WHERE id = ?",
      params, 5, NULL, NULL, err);
}

visor_code visor_search_save(visor_db_conn *conn, const char *id,
                             const visor_search_region_record *regions, size_t region_count,
                             const visor_search_result_record *results, size_t result_count,
                             visor_error *err) {
  visor_db_value key[] = {VISOR_DB_S(id)};
  visor_code code = visor_db_exec(conn, "DELETE FROM search_results WHERE search_id = ?", key, 1,
                                  NULL, NULL, err);
  if (code == VISOR_OK)
    code = visor_db_exec(conn, "DELETE FROM search_regions WHERE search_id = ?", key, 1, NULL, NULL,
                         err);
  for (size_t i = 0; code == VISOR_OK && i < region_count; i++) {
    const visor_search_region_record *r = &regions[i];
    visor_db_value params[] = {VISOR_DB_S(id),
                               VISOR_DB_I((int64_t)i),
                               VISOR_DB_D(r->box.x),
                               VISOR_DB_D(r->box.y),
                               VISOR_DB_D(r->box.w),
                               VISOR_DB_D(r->box.h),
                               VISOR_DB_I(r->whole_image),
                               VISOR_DB_S(r->label),
                               VISOR_DB_D(r->label_score),
                               VISOR_DB_S(r->detector_label),
                               r->detector_label ? VISOR_DB_D(r->detector_score)
                                                 : VISOR_DB_NULL_VALUE,
                               VISOR_DB_S(r->embedding)};
    code = visor_db_exec(
        conn,
        "INSERT INTO search_regions(search_id, ordinal, box_x, box_y, box_w, box_h, whole_image,"
        " label, label_score, detector_label, detector_score, embedding) VALUES (?, ?, ?, ?, ?, "
        "?, ?, ?, ?, ?, ?, ?)",
        params, 12, NULL, NULL, err);
  }
  for (size_t i = 0; code == VISOR_OK && i < result_count; i++) {
    const visor_search_result_record *r = &results[i];
    visor_db_value params[] = {VISOR_DB_S(id),
                               VISOR_DB_I(r->ordinal),
                               VISOR_DB_I(r->rank),
                               VISOR_DB_S(r->product_id),
                               VISOR_DB_S(r->region_id),
                               VISOR_DB_D(r->score),
                               VISOR_DB_I(r->query_ordinal)};
    code = visor_db_exec(conn,
                         "INSERT INTO search_results(search_id, ordinal, rank, product_id, "
                         "region_id, score, query_ordinal)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?)",
                         params, 7, NULL, NULL, err);
  }
  return code;
}

/* One result object with its product summary. */
static json_t *result_object(const visor_db_rows *rows, size_t row) {
  json_t *result = json_pack(
      "{s:I, s:f, s:s, s:s?}", "rank", (json_int_t)visor_db_int(rows, row, "rank"), "score",
      visor_db_real(rows, row, "score"), "product_id", visor_db_text(rows, row, "product_id"),
      "region_id", visor_db_text(rows, row, "region_id"));
  if (visor_db_int(rows, row, "ordinal") == VISOR_SEARCH_OVERALL)
    json_object_set_new(result, "query_ordinal",
                        json_integer(visor_db_int(rows, row, "query_ordinal")));
  const visor_db_value *price = visor_db_get(rows, row, "price");
  json_t *product = json_pack(
      "{s:s, s:s?, s:s?, s:s?, s:o, s:s?, s:s?}", "id", visor_db_text(rows, row, "product_id"),
      "sku", visor_db_text(rows, row, "sku"), "name", visor_db_text(rows, row, "name"), "category",
      visor_db_text(rows, row, "category"), "price",
      price->type == VISOR_DB_NULL ? json_null() : json_real(visor_db_real(rows, row, "price")),
      "currency", visor_db_text(rows, row, "currency"), "thumbnail_image_id",
      visor_db_text(rows, row, "thumbnail_image_id"));
  json_object_set_new(result, "product", product);
  return result;
}

visor_code visor_search_get(visor_db_conn *conn, const char *id, json_t **out, visor_error *err) {
  json_t *search = NULL;
  visor_code code = visor_search_load(conn, id, &search, err);
  if (code != VISOR_OK) return code;
  json_t *image =
      json_pack("{s:O, s:O, s:O, s:O}", "id", json_object_get(search, "image_id"), "width",
                json_object_get(search, "width"), "height", json_object_get(search, "height"),
                "format", json_object_get(search, "format"));
  json_object_set_new(search, "image", image);
  static const char *const internal[] = {"object_key", "width", "height", "format", "image_id"};
  for (size_t i = 0; i < sizeof internal / sizeof internal[0]; i++)
    json_object_del(search, internal[i]);

  visor_db_value params[] = {VISOR_DB_S(id)};
  visor_db_rows rows;
  code = visor_db_exec(
      conn,
      "SELECT ordinal, box_x, box_y, box_w, box_h, whole_image, label, label_score, detector_label,"
      " detector_score FROM search_regions WHERE search_id = ? ORDER BY ordinal",
      params, 1, &rows, NULL, err);
  if (code != VISOR_OK) {
    json_decref(search);
    return code;
  }
  json_t *regions = json_array();
  for (size_t r = 0; r < rows.row_count; r++) {
    const visor_db_value *detector_score = visor_db_get(&rows, r, "detector_score");
    json_t *region = json_pack(
        "{s:I, s:{s:f, s:f, s:f, s:f}, s:b, s:s?, s:f, s:s?, s:o, s:[]}", "ordinal",
        (json_int_t)visor_db_int(&rows, r, "ordinal"), "box", "x", visor_db_real(&rows, r, "box_x"),
        "y", visor_db_real(&rows, r, "box_y"), "w", visor_db_real(&rows, r, "box_w"), "h",
        visor_db_real(&rows, r, "box_h"), "whole_image", (int)visor_db_int(&rows, r, "whole_image"),
        "label", visor_db_text(&rows, r, "label"), "label_score",
        visor_db_real(&rows, r, "label_score"), "detector_label",
        visor_db_text(&rows, r, "detector_label"), "detector_score",
        detector_score->type == VISOR_DB_NULL ? json_null() : json_real(detector_score->d),
        "results");
    json_array_append_new(regions, region);
  }
  visor_db_rows_free(&rows);
  code =
      visor_db_exec(conn,
                    "SELECT r.ordinal, r.rank, r.product_id, r.region_id, r.score, "
                    "r.query_ordinal, p.sku, p.name,"
                    " p.category, p.price, p.currency,"
                    " (SELECT i.id FROM images i WHERE i.product_id = p.id AND i.deleted_at IS NULL"
                    "  ORDER BY i.created_at, i.id LIMIT 1) AS thumbnail_image_id"
                    " FROM search_results r JOIN products p ON p.id = r.product_id"
                    " WHERE r.search_id = ? ORDER BY r.ordinal, r.rank",
                    params, 1, &rows, NULL, err);
  if (code != VISOR_OK) {
    json_decref(regions);
    json_decref(search);
    return code;
  }
  json_t *products = json_array();
  for (size_t r = 0; r < rows.row_count; r++) {
    int64_t ordinal = visor_db_int(&rows, r, "ordinal");
    json_t *target = ordinal == VISOR_SEARCH_OVERALL
                         ? products
                         : json_object_get(json_array_get(regions, (size_t)ordinal), "results");
    if (target) json_array_append_new(target, result_object(&rows, r));
  }
  visor_db_rows_free(&rows);
  json_object_set_new(search, "regions", regions);
  json_object_set_new(search, "products", products);
  *out = search;
  return VISOR_OK;
}
