/* db.h: the metadata database interface. Backends speak one portable SQL dialect (the
 * repository files in this folder use `?` placeholders, INTEGER / REAL / TEXT columns,
 * times as Unix milliseconds); each backend translates what it must. Backends:
 * sqlite:// (db_sqlite.c, embedded) and postgres:// or postgresql:// (db_postgres.c, libpq).
 * A visor_db is a pool; work happens on a connection taken from it. */
#ifndef VISOR_STORE_DB_H
#define VISOR_STORE_DB_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum visor_db_type {
  VISOR_DB_NULL,
  VISOR_DB_INT,
  VISOR_DB_REAL,
  VISOR_DB_TEXT,
} visor_db_type;

typedef struct visor_db_value {
  visor_db_type type;
  int64_t i;
  double d;
  const char *s; /* TEXT; borrowed in parameters, owned by the result in rows */
} visor_db_value;

#define VISOR_DB_I(v) ((visor_db_value){.type = VISOR_DB_INT, .i = (v)})
#define VISOR_DB_D(v) ((visor_db_value){.type = VISOR_DB_REAL, .d = (v)})
/* TEXT, or NULL when text is NULL. */
static inline visor_db_value visor_db_text_value(const char *text) {
  return (visor_db_value){.type = text ? VISOR_DB_TEXT : VISOR_DB_NULL, .s = text};
}
#define VISOR_DB_S(v) visor_db_text_value(v)
#define VISOR_DB_NULL_VALUE ((visor_db_value){.type = VISOR_DB_NULL})

/* A result set: rows x columns of values, all owned by the struct. */
typedef struct visor_db_rows {
  size_t row_count, column_count;
  char **column_names;
  visor_db_value *cells; /* row-major */
} visor_db_rows;

typedef struct visor_db visor_db;

/* A connection; backends put this first in their own connection struct. */
typedef struct visor_db_conn {
  visor_db *db;
} visor_db_conn;

typedef struct visor_db_ops {
  visor_db_conn *(*acquire)(visor_db *db, visor_error *err);
  void (*release)(visor_db *db, visor_db_conn *conn);
  /* Runs one statement. rows (may be NULL) receives the result set; changes (may be NULL)
   * the number of rows written. A unique-constraint violation is VISOR_ERR_CONFLICT; a
   * busy/locked database that stays so past the timeout is VISOR_ERR_UNAVAILABLE. */
  visor_code (*exec)(visor_db_conn *conn, const char *sql, const visor_db_value *params,
                     size_t param_count, visor_db_rows *rows, int64_t *changes, visor_error *err);
  /* Runs several statements separated by ';', no parameters (migrations). */
  visor_code (*exec_script)(visor_db_conn *conn, const char *sql, visor_error *err);
  void (*close)(visor_db *db);
} visor_db_ops;

struct visor_db {
  const visor_db_ops *ops;
  const char *dialect; /* "sqlite" or "postgres" */
};

/* Opens "sqlite:///abs/path/visor.db" (or "sqlite://relative/path.db"), or
 * "postgres://user:pass@host:port/db?sslmode=...&pool=N" (any libpq URI parameter). */
visor_db *visor_db_open(const char *url, visor_error *err);
void visor_db_close(visor_db *db);
/* Whether this build has a backend for url; fills err with the accepted forms if not. */
int visor_db_url_supported(const char *url, visor_error *err);
/* Runs a trivial query: VISOR_OK when the store answers (readiness probes). */
visor_code visor_db_ping(visor_db *db, visor_error *err);

void visor_db_rows_free(visor_db_rows *rows);
const visor_db_value *visor_db_cell(const visor_db_rows *rows, size_t row, size_t column);
/* Column lookup by name; NULL type value if the column is missing. */
const visor_db_value *visor_db_get(const visor_db_rows *rows, size_t row, const char *column);
const char *visor_db_text(const visor_db_rows *rows, size_t row, const char *column); /* or NULL */
int64_t visor_db_int(const visor_db_rows *rows, size_t row, const char *column);      /* or 0 */
double visor_db_real(const visor_db_rows *rows, size_t row, const char *column);      /* or 0 */

/* Convenience wrappers over the ops. */
visor_db_conn *visor_db_acquire(visor_db *db, visor_error *err);
/* The code of a failed visor_db_acquire: err's, or VISOR_ERR_UNAVAILABLE for a caller that
 * passed no error to fill (err may be NULL anywhere an error is filled). */
visor_code visor_db_acquire_failed(const visor_error *err);
void visor_db_release(visor_db_conn *conn);
visor_code visor_db_exec(visor_db_conn *conn, const char *sql, const visor_db_value *params,
                         size_t param_count, visor_db_rows *rows, int64_t *changes,
                         visor_error *err);
/* A write transaction (SQLite: BEGIN IMMEDIATE, so writers queue instead of deadlocking). */
visor_code visor_db_begin(visor_db_conn *conn, visor_error *err);
visor_code visor_db_commit(visor_db_conn *conn, visor_error *err);
void visor_db_rollback(visor_db_conn *conn);

#endif
