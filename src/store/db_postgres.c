/* db_postgres.c: the PostgreSQL metadata backend (postgres://user:pass@host:port/db?...), on
 * libpq. A pool of connections (?pool=N, default 8, opened lazily but the first; ?timeout=S,
 * default 30, bounds the wait for one statement's answer); the
 * portable SQL's `?` placeholders become $1..$n and values go as typed parameters (int8,
 * float8, text). A connection found broken is reset on its next use, so the backend
 * reconnects by itself once the server is back; while it is down every call fails promptly
 * with VISOR_ERR_UNAVAILABLE (connect_timeout 5 s, TCP keepalives). Errors by SQLSTATE:
 * unique violation → CONFLICT, serialization failure / deadlock → UNAVAILABLE (retry),
 * connection loss → UNAVAILABLE, other constraints → INVALID, the rest → IO. */
#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "store/db.h"

#define DEFAULT_POOL_SIZE 8
#define MAX_POOL_SIZE 64
#define ACQUIRE_TIMEOUT_S 30
#define DEFAULT_QUERY_TIMEOUT_S 30

/* Type OIDs (catalog/pg_type_d.h is in the server headers, not libpq's). */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_OID 26
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

typedef struct pg_conn {
  visor_db_conn base;
  PGconn *handle;
  int in_use;
  int broken;  /* reset before the next statement */
  int in_tx;   /* inside BEGIN ... COMMIT as of the last statement */
  int tx_lost; /* the connection died inside a transaction: refuse work until ROLLBACK */
} pg_conn;

typedef struct pg_db {
  visor_db base;
  pthread_mutex_t lock;
  pthread_cond_t available;
  char *url;        /* what libpq sees: the caller's URL without ?pool= */
  char server[300]; /* "host:port/db", for messages (never the password) */
  int pool_size;
  int timeout_s; /* longest wait for one statement's answer */
  pg_conn conns[MAX_POOL_SIZE];
} pg_db;

/* libpq's messages end with a newline and may span lines; keep the first line. */
static const char *first_line(const char *message, char *out, size_t size) {
  snprintf(out, size, "%s", message && *message ? message : "unknown error");
  out[strcspn(out, "\n")] = '\0';
  return out;
}

static visor_code unavailable(visor_error *err, pg_db *db, PGconn *handle, const char *what) {
  char line[400];
  return visor_error_set(err, VISOR_ERR_UNAVAILABLE, "postgres server %s unavailable (%s): %s",
                         db->server, what,
                         first_line(handle ? PQerrorMessage(handle) : NULL, line, sizeof line));
}

static void ignore_notice(void *arg, const char *message) {
  (void)arg;
  (void)message; /* NOTICEs (e.g. "already exists, skipping") are not errors; nothing prints */
}

/* (Re)opens a connection; bounded by connect_timeout. */
static visor_code connect_conn(pg_db *db, pg_conn *conn, visor_error *err) {
  if (conn->handle) {
    PQreset(conn->handle);
  } else {
    /* Entries before dbname are defaults the URL may override. */
    const char *keys[] = {"connect_timeout",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          "application_name",
                          "dbname",
                          NULL};
    const char *values[] = {"5", "10", "5", "3", "30000", "visor", db->url, NULL};
    conn->handle = PQconnectdbParams(keys, values, 1);
    if (conn->handle) PQsetNoticeProcessor(conn->handle, ignore_notice, NULL);
  }
  if (!conn->handle) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory connecting");
  if (PQstatus(conn->handle) != CONNECTION_OK) {
    conn->broken = 1;
    return unavailable(err, db, conn->handle, "connect");
  }
  conn->broken = 0;
  conn->in_tx = 0;
  return VISOR_OK;
}

/* An idle connection has nothing to read; if its socket is readable the server closed it
 * (shutdown, restart, idle kill) or sent a notice: read it, and libpq marks a closed one. */
static void check_idle(pg_conn *conn) {
  if (!conn->handle || PQstatus(conn->handle) != CONNECTION_OK) return;
  for (int i = 0; i < 4; i++) {
    struct pollfd fd = {.fd = PQsocket(conn->handle), .events = POLLIN};
    if (fd.fd < 0 || poll(&fd, 1, 0) <= 0) return;
    if (!PQconsumeInput(conn->handle)) break;
    PGnotify *notify;
    while ((notify = PQnotifies(conn->handle)))
      PQfreemem(notify);
  }
  if (PQstatus(conn->handle) != CONNECTION_OK) conn->broken = 1;
}

static visor_db_conn *pg_acquire(visor_db *base, visor_error *err) {
  pg_db *db = (pg_db *)base;
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += ACQUIRE_TIMEOUT_S;
  pg_conn *conn = NULL;
  pthread_mutex_lock(&db->lock);
  while (!conn) {
    /* Prefer an open connection; open a new one only when none is free. */
    for (int pass = 0; pass < 2 && !conn; pass++)
      for (int i = 0; i < db->pool_size && !conn; i++)
        if (!db->conns[i].in_use && (pass == 1 || db->conns[i].handle)) conn = &db->conns[i];
    if (conn) break;
    if (pthread_cond_timedwait(&db->available, &db->lock, &deadline) == ETIMEDOUT) {
      pthread_mutex_unlock(&db->lock);
      visor_error_set(err, VISOR_ERR_UNAVAILABLE,
                      "no free connection to postgres server %s after %d s", db->server,
                      ACQUIRE_TIMEOUT_S);
      return NULL;
    }
  }
  conn->in_use = 1;
  pthread_mutex_unlock(&db->lock);
  check_idle(conn);
  if (!conn->handle || conn->broken || PQstatus(conn->handle) != CONNECTION_OK) {
    if (connect_conn(db, conn, err) != VISOR_OK) {
      pthread_mutex_lock(&db->lock);
      conn->in_use = 0;
      pthread_cond_signal(&db->available);
      pthread_mutex_unlock(&db->lock);
      return NULL;
    }
  }
  conn->tx_lost = 0;
  return &conn->base;
}

/* Sends one query and waits for its answer, at most db->timeout_s: a server that stops
 * answering (frozen, or a network that drops packets) must not hang the caller. *res gets the
 * first failed result, else the last one (a script gives one per statement). */
static visor_code run_query(pg_db *db, pg_conn *conn, const char *sql, int nparams,
                            const Oid *types, const char *const *values, PGresult **res,
                            visor_error *err) {
  *res = NULL;
  int sent = nparams >= 0
                 ? PQsendQueryParams(conn->handle, sql, nparams, types, values, NULL, NULL, 0)
                 : PQsendQuery(conn->handle, sql);
  if (!sent) {
    conn->broken = 1;
    if (conn->in_tx) conn->tx_lost = 1;
    conn->in_tx = 0;
    return unavailable(err, db, conn->handle, "send");
  }
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    while (PQisBusy(conn->handle)) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      long waited_ms =
          (long)(now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
      long left_ms = (long)db->timeout_s * 1000 - waited_ms;
      struct pollfd fd = {.fd = PQsocket(conn->handle), .events = POLLIN};
      int ready = left_ms > 0 ? poll(&fd, 1, (int)left_ms) : 0;
      if (ready < 0 && errno == EINTR) continue;
      if (ready == 0) {
        PQclear(*res);
        *res = NULL;
        conn->broken = 1; /* the answer may still come: this connection is done */
        if (conn->in_tx) conn->tx_lost = 1;
        conn->in_tx = 0;
        return visor_error_set(err, VISOR_ERR_UNAVAILABLE,
                               "postgres server %s unavailable: no answer within %d s", db->server,
                               db->timeout_s);
      }
      if (!PQconsumeInput(conn->handle)) break; /* lost: PQgetResult reports it */
    }
    PGresult *next = PQgetResult(conn->handle);
    if (!next) break;
    if (*res && PQresultStatus(*res) != PGRES_COMMAND_OK &&
        PQresultStatus(*res) != PGRES_TUPLES_OK && PQresultStatus(*res) != PGRES_EMPTY_QUERY) {
      PQclear(next); /* keep the first error */
    } else {
      PQclear(*res);
      *res = next;
    }
    if (PQstatus(conn->handle) != CONNECTION_OK) break;
  }
  return VISOR_OK;
}

static void pg_release(visor_db *base, visor_db_conn *conn_base) {
  pg_db *db = (pg_db *)base;
  pg_conn *conn = (pg_conn *)conn_base;
  if (conn->handle && !conn->broken && PQstatus(conn->handle) == CONNECTION_OK &&
      PQtransactionStatus(conn->handle) != PQTRANS_IDLE) { /* a caller forgot to end one */
    PGresult *res = NULL;
    if (run_query(db, conn, "ROLLBACK", -1, NULL, NULL, &res, NULL) != VISOR_OK ||
        PQresultStatus(res) != PGRES_COMMAND_OK)
      conn->broken = 1;
    PQclear(res);
  }
  conn->in_tx = 0;
  conn->tx_lost = 0;
  pthread_mutex_lock(&db->lock);
  conn->in_use = 0;
  pthread_cond_signal(&db->available);
  pthread_mutex_unlock(&db->lock);
}

/* Rewrites `?` as $1..$n outside string literals, quoted identifiers and comments.
 * is_null_test[i] says whether placeholder i is followed by IS (then a NULL needs a type). */
static char *translate(const char *sql, size_t *count, unsigned char **is_null_test) {
  size_t len = strlen(sql), marks = 0;
  for (size_t i = 0; i < len; i++)
    if (sql[i] == '?') marks++;
  char *out = malloc(len + marks * 20 + 1);
  unsigned char *tests = calloc(marks ? marks : 1, 1);
  if (!out || !tests) {
    free(out);
    free(tests);
    return NULL;
  }
  size_t used = 0, n = 0;
  for (size_t i = 0; i < len; i++) {
    char c = sql[i];
    if (c == '\'' || c == '"') {
      /* E'...' strings escape with backslashes; standard ones (and identifiers) double the quote.
       */
      int backslash = c == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e');
      out[used++] = sql[i++];
      for (; i < len; i++) {
        out[used++] = sql[i];
        if (backslash && sql[i] == '\\' && i + 1 < len) {
          out[used++] = sql[++i];
        } else if (sql[i] == c) {
          if (i + 1 < len && sql[i + 1] == c)
            out[used++] = sql[++i];
          else
            break;
        }
      }
      continue;
    }
    if (c == '-' && i + 1 < len && sql[i + 1] == '-') {
      for (; i < len && sql[i] != '\n'; i++)
        out[used++] = sql[i];
      if (i < len) out[used++] = sql[i];
      continue;
    }
    if (c == '?') {
      used += (size_t)sprintf(out + used, "$%zu", n + 1);
      size_t j = i + 1;
      while (j < len && isspace((unsigned char)sql[j]))
        j++;
      if (j + 2 < len && strncasecmp(sql + j, "IS", 2) == 0 && isspace((unsigned char)sql[j + 2]))
        tests[n] = 1;
      n++;
      continue;
    }
    out[used++] = c;
  }
  out[used] = '\0';
  *count = n;
  *is_null_test = tests;
  return out;
}

/* Classifies a failed result; marks the connection when it is gone. */
static visor_code result_error(pg_db *db, pg_conn *conn, PGresult *res, const char *what,
                               visor_error *err) {
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  int lost = PQstatus(conn->handle) != CONNECTION_OK || !state || strncmp(state, "08", 2) == 0 ||
             strcmp(state, "57P01") == 0 || strcmp(state, "57P02") == 0 ||
             strcmp(state, "57P03") == 0;
  if (lost) {
    conn->broken = 1;
    if (conn->in_tx) conn->tx_lost = 1;
    conn->in_tx = 0;
    char line[400];
    const char *message = res && *PQresultErrorMessage(res) ? PQresultErrorMessage(res)
                                                            : PQerrorMessage(conn->handle);
    return visor_error_set(err, VISOR_ERR_UNAVAILABLE,
                           "postgres server %s unavailable (%s): connection lost: %s", db->server,
                           what, first_line(message, line, sizeof line));
  }
  conn->in_tx = PQtransactionStatus(conn->handle) != PQTRANS_IDLE;
  visor_code code = VISOR_ERR_IO;
  if (strcmp(state, "23505") == 0)
    code = VISOR_ERR_CONFLICT;
  else if (strncmp(state, "23", 2) == 0)
    code = VISOR_ERR_INVALID;
  else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
           strncmp(state, "53", 2) == 0 || strcmp(state, "55P03") == 0 ||
           strcmp(state, "57014") == 0)
    code = VISOR_ERR_UNAVAILABLE;
  const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
  const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
  return visor_error_set(err, code, "postgres %s (%s): %s%s%s", what, state,
                         primary ? primary : "error", detail ? ": " : "", detail ? detail : "");
}

/* Before a statement: a connection lost inside a transaction takes nothing but ROLLBACK;
 * a broken one outside a transaction is reset. *done is set when ROLLBACK was absorbed. */
static visor_code prepare_conn(pg_db *db, pg_conn *conn, const char *sql, int *done,
                               visor_error *err) {
  *done = 0;
  if (conn->tx_lost) {
    if (strcasecmp(sql, "ROLLBACK") == 0) {
      conn->tx_lost = 0;
      *done = 1;
      return VISOR_OK;
    }
    return visor_error_set(err, VISOR_ERR_UNAVAILABLE,
                           "postgres server %s: the connection was lost inside a transaction;"
                           " roll it back and start again",
                           db->server);
  }
  if (conn->broken || PQstatus(conn->handle) != CONNECTION_OK) return connect_conn(db, conn, err);
  return VISOR_OK;
}

static visor_code read_rows(PGresult *res, visor_db_rows *rows, visor_error *err) {
  size_t columns = (size_t)PQnfields(res), count = (size_t)PQntuples(res);
  rows->column_count = columns;
  rows->column_names = calloc(columns ? columns : 1, sizeof(char *));
  size_t cells = columns * count;
  rows->cells = calloc(cells ? cells : 1, sizeof(visor_db_value));
  if (!rows->column_names || !rows->cells) goto nomem;
  rows->row_count = count; /* calloc: every cell starts NULL, so a partial read frees cleanly */
  for (size_t c = 0; c < columns; c++)
    if (!(rows->column_names[c] = strdup(PQfname(res, (int)c)))) goto nomem;
  for (size_t r = 0; r < count; r++) {
    for (size_t c = 0; c < columns; c++) {
      visor_db_value *cell = &rows->cells[r * columns + c];
      if (PQgetisnull(res, (int)r, (int)c)) continue; /* calloc: VISOR_DB_NULL */
      const char *text = PQgetvalue(res, (int)r, (int)c);
      switch (PQftype(res, (int)c)) {
      case OID_INT2:
      case OID_INT4:
      case OID_INT8:
      case OID_OID:
        *cell = VISOR_DB_I(strtoll(text, NULL, 10));
        break;
      case OID_FLOAT4:
      case OID_FLOAT8:
      case OID_NUMERIC:
        *cell = VISOR_DB_D(strtod(text, NULL));
        break;
      case OID_BOOL:
        *cell = VISOR_DB_I(text[0] == 't');
        break;
      default: {
        char *copy = strdup(text);
        if (!copy) goto nomem;
        *cell = (visor_db_value){.type = VISOR_DB_TEXT, .s = copy};
      }
      }
    }
  }
  return VISOR_OK;
nomem:
  return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory reading %zu postgres rows", count);
}

static visor_code pg_exec(visor_db_conn *base, const char *sql, const visor_db_value *params,
                          size_t param_count, visor_db_rows *rows, int64_t *changes,
                          visor_error *err) {
  pg_conn *conn = (pg_conn *)base;
  pg_db *db = (pg_db *)base->db;
  if (rows) memset(rows, 0, sizeof *rows);
  if (changes) *changes = 0;
  int done = 0;
  visor_code code = prepare_conn(db, conn, sql, &done, err);
  if (code != VISOR_OK || done) return code;
  size_t marks = 0;
  unsigned char *is_null_test = NULL;
  char *text = translate(sql, &marks, &is_null_test);
  if (!text) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory translating SQL");
  if (marks != param_count) {
    free(text);
    free(is_null_test);
    return visor_error_set(err, VISOR_ERR_INTERNAL, "statement has %zu placeholders, %zu values",
                           marks, param_count);
  }
  size_t n = param_count ? param_count : 1;
  Oid *types = calloc(n, sizeof *types);
  const char **values = calloc(n, sizeof *values);
  char(*numbers)[32] = calloc(n, sizeof *numbers);
  if (!types || !values || !numbers) {
    code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory binding parameters");
    goto out;
  }
  for (size_t i = 0; i < param_count; i++) {
    switch (params[i].type) {
    case VISOR_DB_NULL: /* let the server infer, but `? IS NULL` alone gives it nothing */
      types[i] = is_null_test[i] ? OID_TEXT : 0;
      break;
    case VISOR_DB_INT:
      types[i] = OID_INT8;
      snprintf(numbers[i], sizeof numbers[i], "%lld", (long long)params[i].i);
      values[i] = numbers[i];
      break;
    case VISOR_DB_REAL:
      types[i] = OID_FLOAT8;
      snprintf(numbers[i], sizeof numbers[i], "%.17g", params[i].d);
      values[i] = numbers[i];
      break;
    case VISOR_DB_TEXT:
      types[i] = OID_TEXT;
      values[i] = params[i].s;
      break;
    }
  }
  PGresult *res = NULL;
  code = run_query(db, conn, text, (int)param_count, types, values, &res, err);
  if (code != VISOR_OK) goto out;
  ExecStatusType status = PQresultStatus(res);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    conn->in_tx = PQtransactionStatus(conn->handle) != PQTRANS_IDLE;
    if (changes) *changes = strtoll(PQcmdTuples(res), NULL, 10);
    if (rows && status == PGRES_TUPLES_OK) code = read_rows(res, rows, err);
  } else {
    code = result_error(db, conn, res, "exec", err);
  }
  PQclear(res);
out:
  if (code != VISOR_OK && rows) visor_db_rows_free(rows);
  free(types);
  free(values);
  free(numbers);
  free(text);
  free(is_null_test);
  return code;
}

static visor_code pg_exec_script(visor_db_conn *base, const char *sql, visor_error *err) {
  pg_conn *conn = (pg_conn *)base;
  pg_db *db = (pg_db *)base->db;
  int done = 0;
  visor_code code = prepare_conn(db, conn, sql, &done, err);
  if (code != VISOR_OK || done) return code;
  PGresult *res = NULL;
  code = run_query(db, conn, sql, -1, NULL, NULL, &res, err);
  if (code != VISOR_OK) return code;
  ExecStatusType status = PQresultStatus(res);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY)
    conn->in_tx = PQtransactionStatus(conn->handle) != PQTRANS_IDLE;
  else
    code = result_error(db, conn, res, "script", err);
  PQclear(res);
  return code;
}

static void pg_close(visor_db *base) {
  pg_db *db = (pg_db *)base;
  for (int i = 0; i < MAX_POOL_SIZE; i++)
    if (db->conns[i].handle) PQfinish(db->conns[i].handle);
  pthread_mutex_destroy(&db->lock);
  pthread_cond_destroy(&db->available);
  free(db->url);
  free(db);
}

static const visor_db_ops pg_ops = {
    .acquire = pg_acquire,
    .release = pg_release,
    .exec = pg_exec,
    .exec_script = pg_exec_script,
    .close = pg_close,
};

/* Reads Visor's own query parameter NAME=N (1..max) if item is one; returns 1 if it was. */
static int visor_param(const char *item, size_t len, const char *name, int max, int *value,
                       visor_error *err, visor_code *code) {
  size_t name_len = strlen(name);
  if (len <= name_len || strncmp(item, name, name_len) != 0 || item[name_len] != '=') return 0;
  char *end = NULL;
  long number = strtol(item + name_len + 1, &end, 10);
  if (end != item + len || number < 1 || number > max)
    *code = visor_error_set(err, VISOR_ERR_INVALID,
                            "metadata URL: %s=%.*s is not a number from 1 to %d", name,
                            (int)(len - name_len - 1), item + name_len + 1, max);
  else
    *value = (int)number;
  return 1;
}

/* Copies url without Visor's own query parameters (pool=N connections, timeout=S seconds
 * per statement) into db->url, which libpq then parses. */
static visor_code parse_url(pg_db *db, const char *url, visor_error *err) {
  db->pool_size = DEFAULT_POOL_SIZE;
  db->timeout_s = DEFAULT_QUERY_TIMEOUT_S;
  char *out = malloc(strlen(url) + 1);
  if (!out) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  db->url = out;
  const char *query = strchr(url, '?');
  size_t used = query ? (size_t)(query - url) : strlen(url);
  memcpy(out, url, used);
  char sep = '?';
  visor_code code = VISOR_OK;
  for (const char *item = query ? query + 1 : ""; *item && code == VISOR_OK;) {
    size_t len = strcspn(item, "&");
    if (!visor_param(item, len, "pool", MAX_POOL_SIZE, &db->pool_size, err, &code) &&
        !visor_param(item, len, "timeout", 3600, &db->timeout_s, err, &code) && len > 0) {
      out[used++] = sep;
      memcpy(out + used, item, len);
      used += len;
      sep = '&';
    }
    item += len;
    if (*item == '&') item++;
  }
  out[used] = '\0';
  return code;
}

/* "host:port/db" from the URL, for messages (libpq parses URIs itself). */
static visor_code describe_server(pg_db *db, visor_error *err) {
  char *message = NULL;
  PQconninfoOption *options = PQconninfoParse(db->url, &message);
  if (!options) {
    char line[300];
    visor_error_set(err, VISOR_ERR_INVALID, "metadata URL is not a valid postgres URL: %s",
                    first_line(message, line, sizeof line));
    PQfreemem(message);
    return VISOR_ERR_INVALID;
  }
  const char *host = NULL, *addr = NULL, *port = "5432", *name = NULL, *user = NULL;
  for (PQconninfoOption *o = options; o->keyword; o++) {
    if (!o->val || !*o->val) continue;
    if (strcmp(o->keyword, "host") == 0)
      host = o->val;
    else if (strcmp(o->keyword, "hostaddr") == 0)
      addr = o->val;
    else if (strcmp(o->keyword, "port") == 0)
      port = o->val;
    else if (strcmp(o->keyword, "dbname") == 0)
      name = o->val;
    else if (strcmp(o->keyword, "user") == 0)
      user = o->val;
  }
  snprintf(db->server, sizeof db->server, "%s:%s/%s",
           host   ? host
           : addr ? addr
                  : "localhost",
           port, name ? name : (user ? user : ""));
  PQconninfoFree(options);
  return VISOR_OK;
}

visor_db *visor_db_postgres_open(const char *url, visor_error *err) {
  pg_db *db = calloc(1, sizeof *db);
  if (!db) {
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory opening a postgres pool");
    return NULL;
  }
  db->base.ops = &pg_ops;
  db->base.dialect = "postgres";
  pthread_mutex_init(&db->lock, NULL);
  pthread_cond_init(&db->available, NULL);
  for (int i = 0; i < MAX_POOL_SIZE; i++)
    db->conns[i].base.db = &db->base;
  if (parse_url(db, url, err) != VISOR_OK || describe_server(db, err) != VISOR_OK) {
    pg_close(&db->base);
    return NULL;
  }
  /* The first connection now, so a wrong URL, password or database shows at once. */
  if (connect_conn(db, &db->conns[0], err) != VISOR_OK) {
    pg_close(&db->base);
    return NULL;
  }
  return &db->base;
}
