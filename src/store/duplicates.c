/* duplicates.c: the duplicates repository (see duplicates.h). */
#include "store/duplicates.h"

#include <string.h>

#include "core/clock.h"
#include "store/row_json.h"

visor_code visor_images_with_sha256(visor_db_conn *conn, const char *sha256,
                                    const char *exclude_product_id, json_t **images,
                                    visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(sha256), VISOR_DB_S(exclude_product_id),
                             VISOR_DB_S(exclude_product_id)};
  return visor_select_json(conn,
                           "SELECT i.id AS image_id, i.product_id, p.sku, p.name FROM images i"
                           " JOIN products p ON p.id = i.product_id AND p.deleted_at IS NULL"
                           " WHERE i.sha256 = ? AND i.deleted_at IS NULL AND i.purpose = 'product'"
                           " AND (? IS NULL OR i.product_id <> ?) ORDER BY i.created_at, i.id",
                           params, 3, NULL, images, err);
}

visor_code visor_duplicate_upsert(visor_db_conn *conn, const char *image_id, const char *product_id,
                                  const char *other_image_id, const char *other_product_id,
                                  const char *kind, double score, visor_error *err) {
  if (strcmp(image_id, other_image_id) > 0) { /* one row per pair, lower image id first */
    const char *swap = image_id;
    image_id = other_image_id, other_image_id = swap;
    swap = product_id;
    product_id = other_product_id, other_product_id = swap;
  }
  visor_db_value params[] = {VISOR_DB_S(image_id),       VISOR_DB_S(product_id),
                             VISOR_DB_S(other_image_id), VISOR_DB_S(other_product_id),
                             VISOR_DB_S(kind),           VISOR_DB_D(score),
                             VISOR_DB_I(visor_now_ms())};
  return visor_db_exec(conn,
                       "INSERT INTO duplicates(image_id, product_id, other_image_id,"
                       " other_product_id, kind, score, detected_at)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?)"
                       " ON CONFLICT (image_id, other_image_id) DO UPDATE SET"
                       " kind = excluded.kind, score = excluded.score",
                       params, 7, NULL, NULL, err);
}

/* Both images and both products of a pair d are live. */
#define LIVE_PAIR                                                                                  \
  " JOIN images ia ON ia.id = d.image_id AND ia.deleted_at IS NULL"                                \
  " JOIN images ib ON ib.id = d.other_image_id AND ib.deleted_at IS NULL"                          \
  " JOIN products pa ON pa.id = d.product_id AND pa.deleted_at IS NULL"                            \
  " JOIN products pb ON pb.id = d.other_product_id AND pb.deleted_at IS NULL"

visor_code visor_duplicates_of_product(visor_db_conn *conn, const char *product_id, json_t **items,
                                       visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(product_id), VISOR_DB_S(product_id)};
  return visor_select_json(
      conn,
      "SELECT image_id, other_image_id, other_product_id, other_sku, other_name, kind, score,"
      " detected_at FROM ("
      "  SELECT d.image_id, d.other_image_id, d.other_product_id, pb.sku AS other_sku,"
      "   pb.name AS other_name, d.kind, d.score, d.detected_at FROM duplicates d" LIVE_PAIR
      "   WHERE d.product_id = ?"
      "  UNION ALL"
      "  SELECT d.other_image_id, d.image_id, d.product_id, pa.sku, pa.name, d.kind, d.score,"
      "   d.detected_at FROM duplicates d" LIVE_PAIR " WHERE d.other_product_id = ?) x"
      " ORDER BY score DESC, other_image_id",
      params, 2, NULL, items, err);
}

visor_code visor_duplicates_list(visor_db_conn *conn, const char *kind, int64_t limit,
                                 int64_t offset, json_t **items, int64_t *total, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(kind), VISOR_DB_S(kind), VISOR_DB_I(limit),
                             VISOR_DB_I(offset)};
  visor_db_rows rows;
  visor_code code = visor_db_exec(
      conn, "SELECT COUNT(*) AS n FROM duplicates d" LIVE_PAIR " WHERE (? IS NULL OR d.kind = ?)",
      params, 2, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  *total = visor_db_int(&rows, 0, "n");
  visor_db_rows_free(&rows);
  return visor_select_json(
      conn,
      "SELECT d.image_id, d.product_id, pa.sku, pa.name, d.other_image_id, d.other_product_id,"
      " pb.sku AS other_sku, pb.name AS other_name, d.kind, d.score, d.detected_at"
      " FROM duplicates d" LIVE_PAIR " WHERE (? IS NULL OR d.kind = ?)"
      " ORDER BY d.detected_at DESC, d.image_id, d.other_image_id LIMIT ? OFFSET ?",
      params, 4, NULL, items, err);
}
