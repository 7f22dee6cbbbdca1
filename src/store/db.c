/* db.c: backend dispatch by URL, and helpers over visor_db result sets. */
#include "store/db.h"

#include <stdlib.h>
#include <string.h>

visor_db *visor_db_sqlite_open(const char *path, visor_error *err);  /* db_sqlite.c */
visor_db *visor_db_postgres_open(const char *url, visor_error *err); /* db_postgres.c */

/* The metadata URL forms this build accepts (checked once, here and at start). */
static const char *const db_schemes[] = {"sqlite://", "postgres://", "postgresql://"};
static const char db_forms[] = "sqlite:///path/visor.db or postgres://user@host:port/db";

int visor_db_url_supported(const char *url, visor_error *err) {
  for (size_t i = 0; url && i < sizeof db_schemes / sizeof db_schemes[0]; i++)
    if (strncmp(url, db_schemes[i], strlen(db_schemes[i])) == 0 && url[strlen(db_schemes[i])])
      return 1;
  visor_error_set(err, VISOR_ERR_INVALID, "metadata URL '%s' is not supported (expected %s)",
                  url ? url : "", db_forms);
  return 0;
}

visor_db *visor_db_open(const char *url, visor_error *err) {
  if (!visor_db_url_supported(url, err)) return NULL;
  if (strncmp(url, "sqlite://", 9) == 0) {
    const char *path = url + 9;
    if (!*path) {
      visor_error_set(err, VISOR_ERR_INVALID, "metadata URL '%s' has no file path", url);
      return NULL;
    }
    return visor_db_sqlite_open(path, err);
  }
  if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
    return visor_db_postgres_open(url, err); /* libpq parses the URI itself */
  return NULL;
}

void visor_db_close(visor_db *db) {
  if (db) db->ops->close(db);
}

visor_code visor_db_ping(visor_db *db, visor_error *err) {
  visor_db_conn *conn = visor_db_acquire(db, err);
  if (!conn) return visor_db_acquire_failed(err);
  visor_code code = visor_db_exec(conn, "SELECT 1", NULL, 0, NULL, NULL, err);
  visor_db_release(conn);
  return code;
}

visor_db_conn *visor_db_acquire(visor_db *db, visor_error *err) {
  return db->ops->acquire(db, err);
}

visor_code visor_db_acquire_failed(const visor_error *err) {
  return err ? err->code : VISOR_ERR_UNAVAILABLE;
}

void visor_db_release(visor_db_conn *conn) {
  if (conn) conn->db->ops->release(conn->db, conn);
}

visor_code visor_db_exec(visor_db_conn *conn, const char *sql, const visor_db_value *params,
                         size_t param_count, visor_db_rows *rows, int64_t *changes,
                         visor_error *err) {
  return conn->db->ops->exec(conn, sql, params, param_count, rows, changes, err);
}

visor_code visor_db_begin(visor_db_conn *conn, visor_error *err) {
  const char *sql = strcmp(conn->db->dialect, "sqlite") == 0 ? "BEGIN IMMEDIATE" : "BEGIN";
  return visor_db_exec(conn, sql, NULL, 0, NULL, NULL, err);
}

visor_code visor_db_commit(visor_db_conn *conn, visor_error *err) {
  return visor_db_exec(conn, "COMMIT", NULL, 0, NULL, NULL, err);
}

void visor_db_rollback(visor_db_conn *conn) {
  visor_db_exec(conn, "ROLLBACK", NULL, 0, NULL, NULL, NULL);
}

void visor_db_rows_free(visor_db_rows *rows) {
  if (!rows) return;
  for (size_t c = 0; c < rows->column_count; c++)
    free(rows->column_names ? rows->column_names[c] : NULL);
  free(rows->column_names);
  for (size_t i = 0; i < rows->row_count * rows->column_count; i++)
    if (rows->cells[i].type == VISOR_DB_TEXT) free((char *)rows->cells[i].s);
  free(rows->cells);
  memset(rows, 0, sizeof *rows);
}

const visor_db_value *visor_db_cell(const visor_db_rows *rows, size_t row, size_t column) {
  static const visor_db_value null_value = {.type = VISOR_DB_NULL};
  if (row >= rows->row_count || column >= rows->column_count) return &null_value;
  return &rows->cells[row * rows->column_count + column];
}

const visor_db_value *visor_db_get(const visor_db_rows *rows, size_t row, const char *column) {
  for (size_t c = 0; c < rows->column_count; c++)
    if (strcmp(rows->column_names[c], column) == 0) return visor_db_cell(rows, row, c);
  return visor_db_cell(rows, rows->row_count, 0);
}

const char *visor_db_text(const visor_db_rows *rows, size_t row, const char *column) {
  const visor_db_value *value = visor_db_get(rows, row, column);
  return value->type == VISOR_DB_TEXT ? value->s : NULL;
}

int64_t visor_db_int(const visor_db_rows *rows, size_t row, const char *column) {
  const visor_db_value *value = visor_db_get(rows, row, column);
  if (value->type == VISOR_DB_INT) return value->i;
  if (value->type == VISOR_DB_REAL) return (int64_t)value->d;
  if (value->type == VISOR_DB_TEXT) return strtoll(value->s, NULL, 10);
  return 0;
}

double visor_db_real(const visor_db_rows *rows, size_t row, const char *column) {
  const visor_db_value *value = visor_db_get(rows, row, column);
  if (value->type == VISOR_DB_REAL) return value->d;
  if (value->type == VISOR_DB_INT) return (double)value->i;
  if (value->type == VISOR_DB_TEXT) return strtod(value->s, NULL);
  return 0;
}
