/* review.c: the review queue's lists (see review.h). Each list is one inner query; the
 * page and the count wrap it, so both always agree. */
#include "store/review.h"

#include <stdio.h>
#include <string.h>

#include "store/row_json.h"

#define RESULTS_PER_SEARCH 3

const char *visor_review_kind_name(visor_review_kind kind) {
  static const char *const names[] = {"regions", "products", "searches"};
  return kind < VISOR_REVIEW_KIND_COUNT ? names[kind] : "?";
}

/* Regions below a threshold; low_detector / low_label say which. Parameters: detector,
 * label, detector, label. */
#define REGIONS_INNER                                                                              \
  "SELECT r.id, r.image_id, r.product_id, r.box_x, r.box_y, r.box_w, r.box_h, r.whole_image,"      \
  " r.label, r.label_score, r.labeller, r.labels, r.detector_label, r.detector_score, r.source,"   \
  " r.is_primary, r.model, r.created_at, r.updated_at, p.sku, p.name AS product_name,"             \
  " p.category,"                                                                                   \
  " CASE WHEN r.detector_score IS NOT NULL AND r.detector_score < ? THEN 1 ELSE 0 END"             \
  "  AS low_detector,"                                                                             \
  " CASE WHEN COALESCE(r.label_score, 0) < ? THEN 1 ELSE 0 END AS low_label"                       \
  " FROM regions r JOIN products p ON p.id = r.product_id JOIN images i ON i.id = r.image_id"      \
  " WHERE r.deleted_at IS NULL AND p.deleted_at IS NULL AND i.deleted_at IS NULL"                  \
  " AND r.source <> 'admin'"                                                                       \
  " AND ((r.detector_score IS NOT NULL AND r.detector_score < ?)"                                  \
  "  OR COALESCE(r.label_score, 0) < ?)"                                                           \
  " AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.subject_id = r.id"                           \
  "  AND a.undone_at IS NULL AND a.action <> 'undo' AND a.created_at >= r.created_at)"
#define REGIONS_SCORE                                                                              \
  "CASE WHEN q.low_detector = 1 AND (q.low_label = 0"                                              \
  " OR q.detector_score < COALESCE(q.label_score, 0)) THEN q.detector_score"                       \
  " ELSE COALESCE(q.label_score, 0) END"

/* Indexed products without a confident detected region. Parameter: the threshold. */
#define PRODUCTS_INNER                                                                             \
  "SELECT p.id, p.sku, p.name, p.category,"                                                        \
  " (SELECT COUNT(*) FROM regions r WHERE r.product_id = p.id AND r.deleted_at IS NULL)"           \
  "  AS region_count,"                                                                             \
  " (SELECT MAX(r.detector_score) FROM regions r WHERE r.product_id = p.id"                        \
  "  AND r.deleted_at IS NULL) AS best_score,"                                                     \
  " (SELECT MAX(i.indexed_at) FROM images i WHERE i.product_id = p.id"                             \
  "  AND i.deleted_at IS NULL AND i.status = 'indexed') AS indexed_at,"                            \
  " (SELECT i.id FROM images i WHERE i.product_id = p.id AND i.deleted_at IS NULL"                 \
  "  ORDER BY i.created_at, i.id LIMIT 1) AS thumbnail_image_id"                                   \
  " FROM products p WHERE p.deleted_at IS NULL"                                                    \
  " AND EXISTS (SELECT 1 FROM images i WHERE i.product_id = p.id AND i.deleted_at IS NULL"         \
  "  AND i.status = 'indexed')"                                                                    \
  " AND NOT EXISTS (SELECT 1 FROM regions r WHERE r.product_id = p.id AND r.deleted_at IS NULL"    \
  "  AND (r.detector_score >= ? OR r.source = 'admin'))"
#define PRODUCTS_UNHANDLED                                                                         \
  " WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.undone_at IS NULL AND a.action <> 'undo'"  \
  " AND a.created_at >= COALESCE(q.indexed_at, 0) AND (a.subject_id = q.id"                        \
  " OR a.subject_id IN (SELECT r.id FROM regions r WHERE r.product_id = q.id)"                     \
  " OR a.subject_id IN (SELECT i.id FROM images i WHERE i.product_id = q.id)))"

/* Finished first-page searches with no good result. Parameters: since, threshold. */
#define SEARCHES_INNER                                                                             \
  "SELECT s.id, s.k, s.filters, s.box, s.created_at, s.finished_at, s.duration_ms,"                \
  " (SELECT MAX(r.score) FROM search_results r WHERE r.search_id = s.id AND r.ordinal = -1)"       \
  "  AS best_score,"                                                                               \
  " (SELECT COUNT(*) FROM search_results r WHERE r.search_id = s.id AND r.ordinal = -1)"           \
  "  AS result_count"                                                                              \
  " FROM searches s WHERE s.status = 'done' AND s.result_offset = 0 AND s.created_at >= ?"         \
  " AND NOT EXISTS (SELECT 1 FROM search_results r WHERE r.search_id = s.id"                       \
  "  AND r.ordinal = -1 AND r.score >= ?)"                                                         \
  " AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.subject_id = s.id"                           \
  "  AND a.undone_at IS NULL AND a.action <> 'undo')"                                              \
  " AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.search_id = s.id AND a.undone_at IS NULL)"

typedef struct list_sql {
  const char *page; /* ends with LIMIT ? OFFSET ? */
  const char *count;
  size_t param_count; /* before LIMIT and OFFSET */
} list_sql;

static const list_sql lists[VISOR_REVIEW_KIND_COUNT] = {
    {"SELECT q.*, " REGIONS_SCORE " AS score FROM (" REGIONS_INNER ") q"
     " ORDER BY score, q.id LIMIT ? OFFSET ?",
     "SELECT COUNT(*) AS n FROM (" REGIONS_INNER ") q", 4},
    {"SELECT q.* FROM (" PRODUCTS_INNER ") q" PRODUCTS_UNHANDLED
     " ORDER BY CASE WHEN q.region_count = 0 THEN 0 WHEN q.best_score IS NULL THEN 1 ELSE 2 END,"
     " q.best_score, q.id LIMIT ? OFFSET ?",
     "SELECT COUNT(*) AS n FROM (" PRODUCTS_INNER ") q" PRODUCTS_UNHANDLED, 1},
    {"SELECT q.* FROM (" SEARCHES_INNER ") q"
     " ORDER BY CASE WHEN q.best_score IS NULL THEN 0 ELSE 1 END, q.best_score,"
     " q.created_at DESC, q.id LIMIT ? OFFSET ?",
     "SELECT COUNT(*) AS n FROM (" SEARCHES_INNER ") q", 2},
};

/* The list's parameters (then limit and offset) into params; returns how many. */
static size_t list_params(visor_review_kind kind, const visor_review_thresholds *t, int64_t limit,
                          int64_t offset, visor_db_value params[6]) {
  size_t n = 0;
  switch (kind) {
  case VISOR_REVIEW_REGIONS:
    params[n++] = VISOR_DB_D(t->detector_score);
    params[n++] = VISOR_DB_D(t->label_score);
    params[n++] = VISOR_DB_D(t->detector_score);
    params[n++] = VISOR_DB_D(t->label_score);
    break;
  case VISOR_REVIEW_PRODUCTS:
    params[n++] = VISOR_DB_D(t->product_score);
    break;
  default:
    params[n++] = VISOR_DB_I(t->search_since_ms);
    params[n++] = VISOR_DB_D(t->search_score);
  }
  params[n++] = VISOR_DB_I(limit);
  params[n++] = VISOR_DB_I(offset);
  return n;
}

/* A new object with row's members named in names (NULL-terminated; null when missing). */
static json_t *take_members(const json_t *row, const char *const *names) {
  json_t *out = json_object();
  for (size_t i = 0; names[i]; i++) {
    json_t *value = json_object_get(row, names[i]);
    json_object_set(out, names[i], value ? value : json_null());
  }
  return out;
}

static json_t *region_item(json_t *row) {
  json_t *product =
      json_pack("{s:O, s:O, s:O, s:O}", "id", json_object_get(row, "product_id"), "sku",
                json_object_get(row, "sku"), "name", json_object_get(row, "product_name"),
                "category", json_object_get(row, "category"));
  json_t *score = json_incref(json_object_get(row, "score"));
  int low_detector = json_integer_value(json_object_get(row, "low_detector")) != 0;
  int low_label = json_integer_value(json_object_get(row, "low_label")) != 0;
  json_t *box = json_pack("{s:O, s:O, s:O, s:O}", "x", json_object_get(row, "box_x"), "y",
                          json_object_get(row, "box_y"), "w", json_object_get(row, "box_w"), "h",
                          json_object_get(row, "box_h"));
  static const char *const internal[] = {"box_x",     "box_y",        "box_w",    "box_h",
                                         "sku",       "product_name", "category", "low_detector",
                                         "low_label", "score"};
  for (size_t i = 0; i < sizeof internal / sizeof internal[0]; i++)
    json_object_del(row, internal[i]);
  json_object_set_new(row, "box", box);
  json_object_set_new(row, "whole_image",
                      json_boolean(json_integer_value(json_object_get(row, "whole_image"))));
  json_object_set_new(row, "is_primary",
                      json_boolean(json_integer_value(json_object_get(row, "is_primary"))));
  const char *reason = low_detector && low_label ? "low_detector_and_label_score"
                       : low_detector            ? "low_detector_score"
                                                 : "low_label_score";
  return json_pack("{s:s, s:s, s:o, s:o, s:o}", "kind", "region", "reason", reason, "score",
                   score ? score : json_null(), "region", row, "product", product);
}

static json_t *product_item(json_t *row) {
  json_int_t regions = json_integer_value(json_object_get(row, "region_count"));
  json_t *best = json_object_get(row, "best_score");
  const char *reason = regions == 0                  ? "no_region"
                       : !best || json_is_null(best) ? "no_detected_region"
                                                     : "low_detector_score";
  json_t *item = json_pack("{s:s, s:s, s:O, s:I, s:O}", "kind", "product", "reason", reason,
                           "score", best ? best : json_null(), "region_count", regions,
                           "indexed_at", json_object_get(row, "indexed_at") ?: json_null());
  static const char *const fields[] = {"id", "sku", "name", "category", "thumbnail_image_id", NULL};
  json_object_set_new(item, "product", take_members(row, fields));
  json_decref(row);
  return item;
}

static visor_code search_item(visor_db_conn *conn, json_t *row, json_t **item, visor_error *err) {
  json_t *best = json_object_get(row, "best_score");
  int none = !best || json_is_null(best);
  *item = json_pack("{s:s, s:s, s:O, s:O}", "kind", "search", "reason",
                    none ? "no_result" : "low_best_score", "score", none ? json_null() : best,
                    "result_count", json_object_get(row, "result_count"));
  static const char *const fields[] = {"id",         "k",           "filters",     "box",
                                       "created_at", "finished_at", "duration_ms", NULL};
  const char *id = json_string_value(json_object_get(row, "id"));
  visor_db_value params[] = {VISOR_DB_S(id), VISOR_DB_I(RESULTS_PER_SEARCH)};
  visor_db_rows rows;
  visor_code code = visor_db_exec(conn,
                                  "SELECT r.rank, r.score, r.product_id, r.region_id, p.sku, p.name"
                                  " FROM search_results r JOIN products p ON p.id = r.product_id"
                                  " WHERE r.search_id = ? AND r.ordinal = -1"
                                  " ORDER BY r.rank LIMIT ?",
                                  params, 2, &rows, NULL, err);
  json_object_set_new(*item, "search", take_members(row, fields));
  json_decref(row);
  if (code != VISOR_OK) {
    json_decref(*item);
    *item = NULL;
    return code;
  }
  json_t *results = json_array();
  for (size_t r = 0; r < rows.row_count; r++)
    json_array_append_new(results, json_pack("{s:I, s:f, s:s?, s:s?, s:{s:s?, s:s?, s:s?}}", "rank",
                                             (json_int_t)visor_db_int(&rows, r, "rank"), "score",
                                             visor_db_real(&rows, r, "score"), "product_id",
                                             visor_db_text(&rows, r, "product_id"), "region_id",
                                             visor_db_text(&rows, r, "region_id"), "product", "id",
                                             visor_db_text(&rows, r, "product_id"), "sku",
                                             visor_db_text(&rows, r, "sku"), "name",
                                             visor_db_text(&rows, r, "name")));
  visor_db_rows_free(&rows);
  json_object_set_new(*item, "results", results);
  return VISOR_OK;
}

visor_code visor_review_count(visor_db_conn *conn, visor_review_kind kind,
                              const visor_review_thresholds *thresholds, int64_t *total,
                              visor_error *err) {
  if (kind >= VISOR_REVIEW_KIND_COUNT)
    return visor_error_set(err, VISOR_ERR_INVALID, "unknown review list %d", (int)kind);
  visor_db_value params[6];
  list_params(kind, thresholds, 0, 0, params);
  visor_db_rows rows;
  visor_code code =
      visor_db_exec(conn, lists[kind].count, params, lists[kind].param_count, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  *total = visor_db_int(&rows, 0, "n");
  visor_db_rows_free(&rows);
  return VISOR_OK;
}

visor_code visor_review_list(visor_db_conn *conn, visor_review_kind kind,
                             const visor_review_thresholds *thresholds, int64_t limit,
                             int64_t offset, json_t **items, int64_t *total, visor_error *err) {
  *items = NULL;
  visor_code code = visor_review_count(conn, kind, thresholds, total, err);
  if (code != VISOR_OK) return code;
  visor_db_value params[6];
  size_t count = list_params(kind, thresholds, limit, offset, params);
  static const char *const json_columns[] = {"labels", "filters", "box", NULL};
  json_t *rows = NULL;
  code = visor_select_json(conn, lists[kind].page, params, count, json_columns, &rows, err);
  if (code != VISOR_OK) return code;
  json_t *out = json_array();
  size_t i;
  json_t *row;
  json_array_foreach(rows, i, row) {
    json_t *item = NULL;
    json_incref(row);
    if (kind == VISOR_REVIEW_REGIONS)
      item = region_item(row);
    else if (kind == VISOR_REVIEW_PRODUCTS)
      item = product_item(row);
    else if ((code = search_item(conn, row, &item, err)) != VISOR_OK)
      break;
    json_array_append_new(out, item);
  }
  json_decref(rows);
  if (code != VISOR_OK) {
    json_decref(out);
    return code;
  }
  *items = out;
  return VISOR_OK;
}

visor_code visor_review_known_labels(visor_db_conn *conn, int64_t limit, json_t **labels,
                                     visor_error *err) {
  visor_db_value params[] = {VISOR_DB_I(limit)};
  return visor_select_json(conn,
                           "SELECT r.label AS label, COUNT(*) AS uses FROM regions r"
                           " JOIN products p ON p.id = r.product_id"
                           " WHERE r.deleted_at IS NULL AND p.deleted_at IS NULL"
                           " AND r.label IS NOT NULL AND r.label <> ''"
                           " GROUP BY r.label ORDER BY 2 DESC, 1 LIMIT ?",
                           params, 1, NULL, labels, err);
}
