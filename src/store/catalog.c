/* catalog.c: the products and images repository (see catalog.h). */
#include "store/catalog.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/filter_sql.h"
#include "store/row_json.h"

static const char *const product_json_columns[] = {"labels", NULL};

#define PRODUCT_COLUMNS                                                                            \
  "p.id, p.sku, p.name, p.description, p.category, p.labels, p.price, p.currency,"                 \
  " p.created_at, p.updated_at"

/* A product's freshness, from its live images: index_status searchable (every image
 * indexed) | indexing (some pending) | failed (some failed) | none (no images); indexed_at
 * when its last image became searchable; index_error of a failed image. */
#define PRODUCT_FRESHNESS                                                                          \
  " CASE WHEN EXISTS (SELECT 1 FROM images i WHERE i.product_id = p.id AND i.deleted_at IS NULL"   \
  "  AND i.status = 'failed') THEN 'failed'"                                                       \
  " WHEN EXISTS (SELECT 1 FROM images i WHERE i.product_id = p.id AND i.deleted_at IS NULL"        \
  "  AND i.status = 'pending') THEN 'indexing'"                                                    \
  " WHEN EXISTS (SELECT 1 FROM images i WHERE i.product_id = p.id AND i.deleted_at IS NULL)"       \
  "  THEN 'searchable' ELSE 'none' END AS index_status,"                                           \
  " (SELECT MAX(i.indexed_at) FROM images i WHERE i.product_id = p.id AND i.deleted_at IS NULL"    \
  "  AND i.status = 'indexed') AS indexed_at,"                                                     \
  " (SELECT MIN(i.index_error) FROM images i WHERE i.product_id = p.id AND i.deleted_at IS NULL"   \
  "  AND i.status = 'failed') AS index_error"

#define IMAGE_COLUMNS                                                                              \
  "id, product_id, purpose, object_key, filename, content_type, width, height, format,"            \
  " size_bytes, sha256, status, job_id, created_at, indexed_at, index_error"

static const char *optional_text(const json_t *object, const char *key) {
  return json_string_value(json_object_get(object, key));
}

static visor_db_value optional_number(const json_t *object, const char *key) {
  json_t *value = json_object_get(object, key);
  return json_is_number(value) ? VISOR_DB_D(json_number_value(value)) : VISOR_DB_NULL_VALUE;
}

visor_code visor_product_insert(visor_db_conn *conn, const char *id, const json_t *product,
                                visor_error *err) {
  json_t *labels = json_object_get(product, "labels");
  char *labels_text = labels ? json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
  if (!labels_text) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  const char *description = optional_text(product, "description");
  const char *category = optional_text(product, "category");
  int64_t now = visor_now_ms();
  visor_db_value params[] = {VISOR_DB_S(id),
                             VISOR_DB_S(optional_text(product, "sku")),
                             VISOR_DB_S(optional_text(product, "name")),
                             VISOR_DB_S(description ? description : ""),
                             VISOR_DB_S(category ? category : ""),
                             VISOR_DB_S(labels_text),
                             optional_number(product, "price"),
                             VISOR_DB_S(optional_text(product, "currency")),
                             VISOR_DB_I(now),
                             VISOR_DB_I(now)};
  visor_code code =
      visor_db_exec(conn,
                    "INSERT INTO products(id, sku, name, description, category, labels,"
                    " price, currency, created_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    params, 10, NULL, NULL, err);
  if (code == VISOR_ERR_CONFLICT)
    visor_error_set(err, VISOR_ERR_CONFLICT, "a product with sku '%s' already exists",
                    optional_text(product, "sku"));
  free(labels_text);
  return code;
}

visor_code visor_product_update(visor_db_conn *conn, const char *id, const json_t *changes,
                                visor_error *err) {
  static const char *const text_fields[] = {"sku", "name", "description", "category", "currency"};
  char sql[512] = "UPDATE products SET updated_at = ?";
  visor_db_value params[12];
  size_t count = 0;
  params[count++] = VISOR_DB_I(visor_now_ms());
  char *labels_text = NULL;
  for (size_t i = 0; i < sizeof text_fields / sizeof text_fields[0]; i++) {
    json_t *value = json_object_get(changes, text_fields[i]);
    if (!value) continue;
    size_t used = strlen(sql);
    snprintf(sql + used, sizeof sql - used, ", %s = ?", text_fields[i]);
    params[count++] = VISOR_DB_S(json_string_value(value)); /* null clears currency */
  }
  if (json_object_get(changes, "price")) {
    strcat(sql, ", price = ?");
    params[count++] = optional_number(changes, "price");
  }
  json_t *labels = json_object_get(changes, "labels");
  if (labels) {
    labels_text = json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS);
    strcat(sql, ", labels = ?");
    params[count++] = VISOR_DB_S(labels_text);
  }
  strcat(sql, " WHERE id = ? AND deleted_at IS NULL");
  params[count++] = VISOR_DB_S(id);
  int64_t changed = 0;
  visor_code code = visor_db_exec(conn, sql, params, count, NULL, &changed, err);
  if (code == VISOR_ERR_CONFLICT)
    visor_error_set(err, VISOR_ERR_CONFLICT, "a product with sku '%s' already exists",
                    optional_text(changes, "sku"));
  else if (code == VISOR_OK && changed == 0)
    code = visor_error_set(err, VISOR_ERR_NOT_FOUND, "product %s not found", id);
  free(labels_text);
  return code;
}

visor_code visor_product_get(visor_db_conn *conn, const char *id, json_t **product,
                             visor_error *err) {
  return visor_select_by_id(conn,
                            "SELECT " PRODUCT_COLUMNS "," PRODUCT_FRESHNESS
                            " FROM products p WHERE p.id = ? AND p.deleted_at IS NULL",
                            id, "product", product_json_columns, product, err);
}

visor_code visor_product_summary(visor_db_conn *conn, const char *id, json_t **summary,
                                 visor_error *err) {
  return visor_select_by_id(
      conn,
      "SELECT p.id, p.sku, p.name, p.category, p.price, p.currency,"
      " (SELECT i.id FROM images i WHERE i.product_id = p.id AND i.deleted_at IS NULL"
      "  ORDER BY i.created_at, i.id LIMIT 1) AS thumbnail_image_id"
      " FROM products p WHERE p.id = ? AND p.deleted_at IS NULL",
      id, "product", NULL, summary, err);
}

visor_code visor_product_find_by_sku(visor_db_conn *conn, const char *sku, json_t **product,
                                     visor_error *err) {
  return visor_select_by_id(
      conn, "SELECT " PRODUCT_COLUMNS " FROM products p WHERE p.sku = ? AND p.deleted_at IS NULL",
      sku, "product with sku", product_json_columns, product, err);
}

visor_code visor_product_soft_delete(visor_db_conn *conn, const char *id, visor_error *err) {
  int64_t now = visor_now_ms();
  visor_db_value params[] = {VISOR_DB_I(now), VISOR_DB_I(now), VISOR_DB_S(id)};
  int64_t changed = 0;
  visor_code code = visor_db_exec(
      conn,
      "UPDATE products SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
      params, 3, NULL, &changed, err);
  if (code == VISOR_OK && changed == 0)
    code = visor_error_set(err, VISOR_ERR_NOT_FOUND, "product %s not found", id);
  return code;
}

static const char *sort_clause(const char *sort) {
  static const struct {
    const char *name, *clause;
  } sorts[] = {{"created_at", "p.created_at ASC, p.id ASC"},
               {"-created_at", "p.created_at DESC, p.id DESC"},
               {"name", "p.name ASC, p.id ASC"},
               {"-name", "p.name DESC, p.id DESC"},
               {"price", "p.price ASC NULLS LAST, p.id ASC"},
               {"-price", "p.price DESC NULLS LAST, p.id DESC"},
               {"sku", "p.sku ASC"},
               {"-sku", "p.sku DESC"}};
  if (!sort) return sorts[1].clause;
  for (size_t i = 0; i < sizeof sorts / sizeof sorts[0]; i++)
    if (strcmp(sorts[i].name, sort) == 0) return sorts[i].clause;
  return NULL;
}

visor_code visor_product_list(visor_db_conn *conn, const visor_product_query *query, json_t **items,
                              int64_t *total, visor_error *err) {
  const char *order = sort_clause(query->sort);
  if (!order)
    return visor_error_set(
        err, VISOR_ERR_INVALID,
        "sort '%s' is not one of created_at, name, price, sku (prefix - for descending)",
        query->sort);
  char *pattern = NULL;
  if (query->text && *query->text) {
    size_t len = strlen(query->text);
    pattern = malloc(2 * len + 3);
    if (!pattern) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    size_t used = 0;
    pattern[used++] = '%';
    for (size_t i = 0; i < len; i++) { /* the caller's % _ and \ match themselves */
      char c = (char)tolower((unsigned char)query->text[i]);
      if (c == '%' || c == '_' || c == '\\') pattern[used++] = '\\';
      pattern[used++] = c;
    }
    pattern[used++] = '%';
    pattern[used] = '\0';
  }
  visor_strbuf where;
  visor_strbuf_init(&where);
  visor_strbuf_appendf(
      &where, "%s",
      " FROM products p WHERE p.deleted_at IS NULL AND (? IS NULL OR p.category = ?)"
      " AND (? IS NULL OR LOWER(p.name) LIKE ? ESCAPE '\\' OR LOWER(p.sku) LIKE ? ESCAPE '\\'"
      " OR LOWER(p.description) LIKE ? ESCAPE '\\')");
  size_t count = 6;
  visor_db_value *params = malloc(8 * sizeof *params);
  visor_code code = params ? VISOR_OK : visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  if (code == VISOR_OK) {
    visor_db_value base[] = {VISOR_DB_S(query->category), VISOR_DB_S(query->category),
                             VISOR_DB_S(pattern),         VISOR_DB_S(pattern),
                             VISOR_DB_S(pattern),         VISOR_DB_S(pattern)};
    memcpy(params, base, sizeof base);
  }
  if (code == VISOR_OK && query->filter && query->filter->root) {
    visor_strbuf_append(&where, " AND ", 5);
    code = visor_filter_sql(query->filter, conn->db->dialect, &where, &params, &count, err);
  }
  /* room for LIMIT and OFFSET */
  visor_db_value *grown = code == VISOR_OK ? realloc(params, (count + 2) * sizeof *params) : NULL;
  if (code == VISOR_OK && !grown) code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  if (grown) params = grown;
  char *where_sql = code == VISOR_OK ? visor_strbuf_take(&where) : NULL;
  visor_strbuf_free(&where);
  if (code == VISOR_OK && !where_sql) code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  visor_strbuf sql;
  visor_strbuf_init(&sql);
  visor_db_rows rows;
  if (code == VISOR_OK) {
    visor_strbuf_appendf(&sql, "SELECT COUNT(*) AS n%s", where_sql);
    char *text = visor_strbuf_take(&sql);
    code = text ? visor_db_exec(conn, text, params, count, &rows, NULL, err)
                : visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    free(text);
  }
  if (code == VISOR_OK) {
    *total = visor_db_int(&rows, 0, "n");
    visor_db_rows_free(&rows);
    params[count] = VISOR_DB_I(query->limit);
    params[count + 1] = VISOR_DB_I(query->offset);
    visor_strbuf_appendf(
        &sql,
        "SELECT " PRODUCT_COLUMNS "," PRODUCT_FRESHNESS ","
        " (SELECT i.id FROM images i WHERE i.product_id = p.id AND i.deleted_at IS NULL"
        "  ORDER BY i.created_at, i.id LIMIT 1) AS thumbnail_image_id,"
        " (SELECT COUNT(*) FROM images i WHERE i.product_id = p.id AND i.deleted_at IS NULL) "
        "AS image_count"
        "%s ORDER BY %s LIMIT ? OFFSET ?",
        where_sql, order);
    char *text = visor_strbuf_take(&sql);
    code = text ? visor_db_exec(conn, text, params, count + 2, &rows, NULL, err)
                : visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    free(text);
    if (code == VISOR_OK) {
      *items = visor_rows_to_json(&rows, product_json_columns);
      visor_db_rows_free(&rows);
    }
  }
  visor_strbuf_free(&sql);
  free(where_sql);
  free(params);
  free(pattern);
  return code;
}

visor_code visor_category_list(visor_db_conn *conn, json_t **categories, visor_error *err) {
  return visor_select_json(
      conn,
      "SELECT category AS name, COUNT(*) AS product_count FROM products"
      " WHERE deleted_at IS NULL AND category <> '' GROUP BY category ORDER BY category",
      NULL, 0, NULL, categories, err);
}

visor_code visor_image_insert(visor_db_conn *conn, const visor_image_record *image,
                              visor_error *err) {
  visor_db_value params[] = {
      VISOR_DB_S(image->id),         VISOR_DB_S(image->product_id), VISOR_DB_S(image->purpose),
      VISOR_DB_S(image->object_key), VISOR_DB_S(image->filename),   VISOR_DB_S(image->content_type),
      VISOR_DB_I(image->width),      VISOR_DB_I(image->height),     VISOR_DB_S(image->format),
      VISOR_DB_I(image->size_bytes), VISOR_DB_S(image->sha256),     VISOR_DB_S(image->job_id),
      VISOR_DB_I(visor_now_ms())};
  return visor_db_exec(
      conn,
      "INSERT INTO images(id, product_id, purpose, object_key, filename, content_type,"
      " width, height, format, size_bytes, sha256, job_id, created_at)"
      " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      params, 13, NULL, NULL, err);
}

visor_code visor_image_get(visor_db_conn *conn, const char *id, json_t **image, visor_error *err) {
  return visor_select_by_id(
      conn, "SELECT " IMAGE_COLUMNS " FROM images WHERE id = ? AND deleted_at IS NULL", id, "image",
      NULL, image, err);
}

visor_code visor_image_list(visor_db_conn *conn, const char *product_id, json_t **images,
                            visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(product_id)};
  return visor_select_json(conn,
                           "SELECT " IMAGE_COLUMNS
                           " FROM images WHERE product_id = ? AND deleted_at IS NULL"
                           " ORDER BY created_at, id",
                           params, 1, NULL, images, err);
}

visor_code visor_image_set_status(visor_db_conn *conn, const char *id, const char *status,
                                  visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(status), VISOR_DB_S(id)};
  return visor_db_exec(conn, "UPDATE images SET status = ? WHERE id = ?", params, 2, NULL, NULL,
                       err);
}

visor_code visor_image_mark_indexed(visor_db_conn *conn, const char *id, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_I(visor_now_ms()), VISOR_DB_S(id)};
  return visor_db_exec(
      conn, "UPDATE images SET status = 'indexed', indexed_at = ?, index_error = NULL WHERE id = ?",
      params, 2, NULL, NULL, err);
}

visor_code visor_image_index_failed(visor_db_conn *conn, const char *job_id, const char *error,
                                    visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(error ? error : "indexing failed"), VISOR_DB_S(job_id)};
  return visor_db_exec(conn,
                       "UPDATE images SET index_error = ?,"
                       " status = CASE WHEN status = 'indexed' THEN status ELSE 'failed' END"
                       " WHERE deleted_at IS NULL AND id ="
                       " (SELECT j.subject_id FROM jobs j WHERE j.id = ? AND j.kind = 'index' AND "
                       "j.status = 'failed')",
                       params, 2, NULL, NULL, err);
}

visor_code visor_image_index_retried(visor_db_conn *conn, const char *job_id, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(job_id)};
  return visor_db_exec(conn,
                       "UPDATE images SET index_error = NULL,"
                       " status = CASE WHEN status = 'failed' THEN 'pending' ELSE status END"
                       " WHERE deleted_at IS NULL AND id ="
                       " (SELECT j.subject_id FROM jobs j WHERE j.id = ? AND j.kind = 'index')",
                       params, 1, NULL, NULL, err);
}

visor_code visor_image_index_lag(visor_db_conn *conn, visor_index_lag *lag, visor_error *err) {
  memset(lag, 0, sizeof *lag);
  visor_db_rows rows;
  visor_code code =
      visor_db_exec(conn,
                    "SELECT MIN(CASE WHEN status = 'pending' THEN created_at END) AS oldest,"
                    " COUNT(CASE WHEN status = 'pending' THEN 1 END) AS pending,"
                    " COUNT(CASE WHEN status = 'failed' THEN 1 END) AS failed"
                    " FROM images WHERE purpose = 'product' AND deleted_at IS NULL"
                    " AND status IN ('pending', 'failed')",
                    NULL, 0, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  lag->pending = visor_db_int(&rows, 0, "pending");
  lag->failed = visor_db_int(&rows, 0, "failed");
  lag->oldest_pending_ms = visor_db_int(&rows, 0, "oldest");
  visor_db_rows_free(&rows);
  return VISOR_OK;
}

visor_code visor_image_lock_live(visor_db_conn *conn, const char *id, int *live, visor_error *err) {
  int postgres = strcmp(conn->db->dialect, "postgres") == 0;
  visor_db_value params[] = {VISOR_DB_S(id)};
  visor_db_rows rows;
  visor_code code = visor_db_exec(conn,
                                  postgres ? "SELECT deleted_at FROM images WHERE id = ? FOR UPDATE"
                                           : "SELECT deleted_at FROM images WHERE id = ?",
                                  params, 1, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  *live = rows.row_count == 1 && visor_db_get(&rows, 0, "deleted_at")->type == VISOR_DB_NULL;
  visor_db_rows_free(&rows);
  return VISOR_OK;
}

visor_code visor_image_soft_delete(visor_db_conn *conn, const char *id, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_I(visor_now_ms()), VISOR_DB_S(id)};
  int64_t changed = 0;
  visor_code code =
      visor_db_exec(conn, "UPDATE images SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL",
                    params, 2, NULL, &changed, err);
  if (code == VISOR_OK && changed == 0)
    code = visor_error_set(err, VISOR_ERR_NOT_FOUND, "image %s not found", id);
  return code;
}
