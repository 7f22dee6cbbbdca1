/* db_sqlite.c: the embedded metadata backend (sqlite://PATH). A fixed pool of
 * connections in WAL mode (readers never block the writer), a busy timeout so writers
 * queue, foreign keys on, and a per-connection cache of prepared statements. */
#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/fsutil.h"
#include "store/db.h"

#define POOL_SIZE 8
#define STATEMENT_CACHE 96
#define ACQUIRE_TIMEOUT_S 30
#define BUSY_TIMEOUT_MS 15000

typedef struct cached_statement {
  char *sql;
  sqlite3_stmt *stmt;
} cached_statement;

typedef struct sqlite_conn {
  visor_db_conn base;
  sqlite3 *handle;
  int in_use;
  cached_statement cache[STATEMENT_CACHE];
  size_t cache_count, cache_next;
} sqlite_conn;

typedef struct sqlite_db {
  visor_db base;
  pthread_mutex_t lock;
  pthread_cond_t available;
  sqlite_conn conns[POOL_SIZE];
} sqlite_db;

static visor_code sqlite_error(visor_error *err, sqlite3 *handle, int rc, const char *what) {
  int extended = handle ? sqlite3_extended_errcode(handle) : rc;
  const char *message = handle ? sqlite3_errmsg(handle) : sqlite3_errstr(rc);
  visor_code code = VISOR_ERR_IO;
  if (extended == SQLITE_CONSTRAINT_UNIQUE || extended == SQLITE_CONSTRAINT_PRIMARYKEY)
    code = VISOR_ERR_CONFLICT;
  else if ((rc & 0xff) == SQLITE_CONSTRAINT)
    code = VISOR_ERR_INVALID;
  else if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
    code = VISOR_ERR_UNAVAILABLE;
  return visor_error_set(err, code, "sqlite %s: %s", what, message);
}

static sqlite3_stmt *prepare_cached(sqlite_conn *conn, const char *sql, visor_error *err) {
  for (size_t i = 0; i < conn->cache_count; i++)
    if (strcmp(conn->cache[i].sql, sql) == 0) return conn->cache[i].stmt;
  sqlite3_stmt *stmt = NULL;
  int rc = sqlite3_prepare_v3(conn->handle, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
  if (rc != SQLITE_OK) {
    sqlite_error(err, conn->handle, rc, "prepare");
    return NULL;
  }
  char *copy = strdup(sql);
  if (!copy) {
    sqlite3_finalize(stmt);
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory caching a statement");
    return NULL;
  }
  size_t slot = conn->cache_count < STATEMENT_CACHE ? conn->cache_count++
                                                    : conn->cache_next++ % STATEMENT_CACHE;
  if (conn->cache[slot].stmt) {
    sqlite3_finalize(conn->cache[slot].stmt);
    free(conn->cache[slot].sql);
  }
  conn->cache[slot] = (cached_statement){copy, stmt};
  return stmt;
}

static visor_code bind_params(sqlite_conn *conn, sqlite3_stmt *stmt, const visor_db_value *params,
                              size_t count, visor_error *err) {
  for (size_t i = 0; i < count; i++) {
    int index = (int)i + 1, rc = SQLITE_OK;
    switch (params[i].type) {
    case VISOR_DB_NULL:
      rc = sqlite3_bind_null(stmt, index);
      break;
    case VISOR_DB_INT:
      rc = sqlite3_bind_int64(stmt, index, params[i].i);
      break;
    case VISOR_DB_REAL:
      rc = sqlite3_bind_double(stmt, index, params[i].d);
      break;
    case VISOR_DB_TEXT:
      rc = sqlite3_bind_text(stmt, index, params[i].s, -1, SQLITE_STATIC);
      break;
    }
    if (rc != SQLITE_OK) return sqlite_error(err, conn->handle, rc, "bind");
  }
  return VISOR_OK;
}

static visor_code append_row(sqlite3_stmt *stmt, visor_db_rows *rows, size_t *capacity,
                             visor_error *err) {
  size_t columns = rows->column_count;
  if (rows->row_count == *capacity) {
    size_t grown_capacity = *capacity ? *capacity * 2 : 16;
    visor_db_value *grown = realloc(rows->cells, grown_capacity * columns * sizeof *grown);
    if (!grown) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory reading rows");
    rows->cells = grown;
    *capacity = grown_capacity;
  }
  visor_db_value *row = &rows->cells[rows->row_count * columns];
  for (size_t c = 0; c < columns; c++) {
    visor_db_value value = {.type = VISOR_DB_NULL};
    switch (sqlite3_column_type(stmt, (int)c)) {
    case SQLITE_INTEGER:
      value = VISOR_DB_I(sqlite3_column_int64(stmt, (int)c));
      break;
    case SQLITE_FLOAT:
      value = VISOR_DB_D(sqlite3_column_double(stmt, (int)c));
      break;
    case SQLITE_TEXT:
    case SQLITE_BLOB: {
      const char *text = (const char *)sqlite3_column_text(stmt, (int)c);
      char *copy = strdup(text ? text : "");
      if (!copy) {
        for (size_t k = 0; k < c; k++)
          if (row[k].type == VISOR_DB_TEXT) free((char *)row[k].s);
        return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory reading rows");
      }
      value = (visor_db_value){.type = VISOR_DB_TEXT, .s = copy};
      break;
    }
    default:
      break;
    }
    row[c] = value;
  }
  rows->row_count++;
  return VISOR_OK;
}

static visor_code sqlite_exec(visor_db_conn *base, const char *sql, const visor_db_value *params,
                              size_t param_count, visor_db_rows *rows, int64_t *changes,
                              visor_error *err) {
  sqlite_conn *conn = (sqlite_conn *)base;
  if (rows) memset(rows, 0, sizeof *rows);
  sqlite3_stmt *stmt = prepare_cached(conn, sql, err);
  if (!stmt) return err ? err->code : VISOR_ERR_IO;
  visor_code code = bind_params(conn, stmt, params, param_count, err);
  size_t capacity = 0;
  if (code == VISOR_OK && rows) {
    rows->column_count = (size_t)sqlite3_column_count(stmt);
    rows->column_names = calloc(rows->column_count ? rows->column_count : 1, sizeof(char *));
    if (!rows->column_names) code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    for (size_t c = 0; code == VISOR_OK && c < rows->column_count; c++) {
      rows->column_names[c] = strdup(sqlite3_column_name(stmt, (int)c));
      if (!rows->column_names[c]) code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    }
  }
  while (code == VISOR_OK) {
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) {
      code = sqlite_error(err, conn->handle, rc, "step");
      break;
    }
    if (rows) code = append_row(stmt, rows, &capacity, err);
  }
  if (code == VISOR_OK && changes) *changes = sqlite3_changes64(conn->handle);
  sqlite3_reset(stmt);
  sqlite3_clear_bindings(stmt);
  if (code != VISOR_OK && rows) visor_db_rows_free(rows);
  return code;
}

static visor_code sqlite_exec_script(visor_db_conn *base, const char *sql, visor_error *err) {
  sqlite_conn *conn = (sqlite_conn *)base;
  char *message = NULL;
  int rc = sqlite3_exec(conn->handle, sql, NULL, NULL, &message);
  if (rc != SQLITE_OK) {
    visor_code code = visor_error_set(err, VISOR_ERR_IO, "sqlite script: %s",
                                      message ? message : sqlite3_errstr(rc));
    sqlite3_free(message);
    return code;
  }
  return VISOR_OK;
}

static visor_db_conn *sqlite_acquire(visor_db *base, visor_error *err) {
  sqlite_db *db = (sqlite_db *)base;
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += ACQUIRE_TIMEOUT_S;
  pthread_mutex_lock(&db->lock);
  for (;;) {
    for (int i = 0; i < POOL_SIZE; i++) {
      if (!db->conns[i].in_use) {
        db->conns[i].in_use = 1;
        pthread_mutex_unlock(&db->lock);
        return &db->conns[i].base;
      }
    }
    if (pthread_cond_timedwait(&db->available, &db->lock, &deadline) == ETIMEDOUT) {
      pthread_mutex_unlock(&db->lock);
      visor_error_set(err, VISOR_ERR_UNAVAILABLE, "no free sqlite connection after %d s",
                      ACQUIRE_TIMEOUT_S);
      return NULL;
    }
  }
}

static void sqlite_release(visor_db *base, visor_db_conn *conn_base) {
  sqlite_db *db = (sqlite_db *)base;
  sqlite_conn *conn = (sqlite_conn *)conn_base;
  if (!sqlite3_get_autocommit(conn->handle)) /* a caller forgot to end a transaction */
    sqlite3_exec(conn->handle, "ROLLBACK", NULL, NULL, NULL);
  pthread_mutex_lock(&db->lock);
  conn->in_use = 0;
  pthread_cond_signal(&db->available);
  pthread_mutex_unlock(&db->lock);
}

static void close_conn(sqlite_conn *conn) {
  for (size_t i = 0; i < conn->cache_count; i++) {
    sqlite3_finalize(conn->cache[i].stmt);
    free(conn->cache[i].sql);
  }
  conn->cache_count = 0;
  if (conn->handle) sqlite3_close_v2(conn->handle);
  conn->handle = NULL;
}

static void sqlite_close(visor_db *base) {
  sqlite_db *db = (sqlite_db *)base;
  for (int i = 0; i < POOL_SIZE; i++)
    close_conn(&db->conns[i]);
  pthread_mutex_destroy(&db->lock);
  pthread_cond_destroy(&db->available);
  free(db);
}

static const visor_db_ops sqlite_ops = {
    .acquire = sqlite_acquire,
    .release = sqlite_release,
    .exec = sqlite_exec,
    .exec_script = sqlite_exec_script,
    .close = sqlite_close,
};

static visor_code open_conn(sqlite_db *db, sqlite_conn *conn, const char *path, visor_error *err) {
  conn->base.db = &db->base;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path, &conn->handle, flags, NULL);
  if (rc != SQLITE_OK) {
    visor_code code =
        visor_error_set(err, VISOR_ERR_IO, "cannot open sqlite database '%s': %s", path,
                        conn->handle ? sqlite3_errmsg(conn->handle) : sqlite3_errstr(rc));
    return code;
  }
  sqlite3_busy_timeout(conn->handle, BUSY_TIMEOUT_MS);
  /* WAL: readers run beside the one writer; NORMAL sync is durable across process crashes. */
  const char *pragmas = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                        "PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;";
  char *message = NULL;
  rc = sqlite3_exec(conn->handle, pragmas, NULL, NULL, &message);
  if (rc != SQLITE_OK) {
    visor_error_set(err, VISOR_ERR_IO, "cannot configure sqlite database '%s': %s", path,
                    message ? message : sqlite3_errstr(rc));
    sqlite3_free(message);
    return VISOR_ERR_IO;
  }
  return VISOR_OK;
}

visor_db *visor_db_sqlite_open(const char *path, visor_error *err) {
  char folder[4096];
  snprintf(folder, sizeof folder, "%s", path);
  char *slash = strrchr(folder, '/');
  if (slash && slash != folder) {
    *slash = '\0';
    if (visor_mkdirs(folder, err) != VISOR_OK) return NULL;
  }
  sqlite_db *db = calloc(1, sizeof *db);
  if (!db) {
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory opening '%s'", path);
    return NULL;
  }
  db->base.ops = &sqlite_ops;
  db->base.dialect = "sqlite";
  pthread_mutex_init(&db->lock, NULL);
  pthread_cond_init(&db->available, NULL);
  for (int i = 0; i < POOL_SIZE; i++) {
    if (open_conn(db, &db->conns[i], path, err) != VISOR_OK) {
      sqlite_close(&db->base);
      return NULL;
    }
  }
  return &db->base;
}
