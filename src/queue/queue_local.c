/* queue_local.c: the embedded durable queue: rows of queue_tasks in the metadata DB.
 * state is 'ready' (available_at says when), 'leased' (until lease_until, then ready
 * again) or 'dead'. A lease is a conditional UPDATE that only succeeds while the row is
 * still leasable (FOR UPDATE SKIP LOCKED first on PostgreSQL), so two workers never get
 * the same task on any metadata backend. Workers poll it (and are woken early by
 * visor_worker_pool_wake in one process). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/uuid.h"
#include "queue/queue.h"

typedef struct local_queue {
  visor_queue base;
  visor_db *db;
} local_queue;

static visor_code local_enqueue(visor_queue *base, const char *id, const char *kind,
                                int64_t delay_ms, visor_error *err) {
  local_queue *queue = (local_queue *)base;
  visor_db_conn *conn = visor_db_acquire(queue->db, err);
  if (!conn) return err->code;
  visor_code code;
  int64_t now = visor_now_ms();
  visor_db_value params[] = {VISOR_DB_S(id), VISOR_DB_S(kind), VISOR_DB_I(now + delay_ms),
                             VISOR_DB_I(now)};
  code =
      visor_db_exec(conn,
                    "INSERT INTO queue_tasks(id, kind, state, attempts, available_at, created_at)"
                    " VALUES (?, ?, 'ready', 0, ?, ?)"
                    " ON CONFLICT(id) DO UPDATE SET state = 'ready', attempts = 0,"
                    " available_at = excluded.available_at, lease_token = NULL,"
                    " lease_until = NULL, last_error = NULL WHERE queue_tasks.state = 'dead'",
                    params, 4, NULL, NULL, err);
  visor_db_release(conn);
  return code;
}

static int queue_paused(visor_db_conn *conn) {
  visor_db_rows rows;
  if (visor_db_exec(conn, "SELECT value FROM queue_settings WHERE name = 'paused'", NULL, 0, &rows,
                    NULL, NULL) != VISOR_OK)
    return 0;
  const char *value = visor_db_text(&rows, 0, "value");
  int paused = value && strcmp(value, "1") == 0;
  visor_db_rows_free(&rows);
  return paused;
}

/* One try: picks the oldest leasable task of the first of kinds that has one and takes it with an
 * UPDATE that re-checks it is still leasable; *raced says another worker took it first. */
static visor_code lease_once(visor_db_conn *conn, const char *const *kinds, size_t kind_count,
                             int64_t visibility_ms, visor_task *task, int *leased, int *raced,
                             visor_error *err) {
  char sql[900];
  int used = snprintf(
      sql, sizeof sql,
      "SELECT id, kind, attempts FROM queue_tasks WHERE"
      " ((state = 'ready' AND available_at <= ?) OR (state = 'leased' AND lease_until <= ?))"
      " AND kind IN (");
  for (size_t i = 0; i < kind_count; i++)
    used += snprintf(sql + used, sizeof sql - (size_t)used, i ? ", ?" : "?");
  /* kinds in the caller's order (its priority), then the oldest */
  used += snprintf(sql + used, sizeof sql - (size_t)used, ") ORDER BY CASE kind");
  for (size_t i = 0; i < kind_count; i++)
    used += snprintf(sql + used, sizeof sql - (size_t)used, " WHEN ? THEN %zu", i);
  snprintf(sql + used, sizeof sql - (size_t)used, " END, available_at, id LIMIT 1%s",
           strcmp(conn->db->dialect, "postgres") == 0 ? " FOR UPDATE SKIP LOCKED" : "");
  int64_t now = visor_now_ms();
  visor_db_value params[2 + 2 * VISOR_QUEUE_MAX_KINDS] = {VISOR_DB_I(now), VISOR_DB_I(now)};
  for (size_t i = 0; i < kind_count; i++)
    params[2 + i] = params[2 + kind_count + i] = VISOR_DB_S(kinds[i]);
  visor_db_rows rows;
  visor_code code = visor_db_exec(conn, sql, params, 2 + 2 * kind_count, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  if (rows.row_count == 1) {
    memset(task, 0, sizeof *task);
    snprintf(task->id, sizeof task->id, "%s", visor_db_text(&rows, 0, "id"));
    snprintf(task->kind, sizeof task->kind, "%s", visor_db_text(&rows, 0, "kind"));
    int64_t seen_attempts = visor_db_int(&rows, 0, "attempts");
    task->deliveries = (int)seen_attempts + 1;
    visor_uuid_new(task->lease_token);
    visor_db_value update[] = {VISOR_DB_I(task->deliveries),
                               VISOR_DB_S(task->lease_token),
                               VISOR_DB_I(now + visibility_ms),
                               VISOR_DB_S(task->id),
                               VISOR_DB_I(seen_attempts),
                               VISOR_DB_I(now),
                               VISOR_DB_I(now)};
    int64_t changes = 0;
    code = visor_db_exec(
        conn,
        "UPDATE queue_tasks SET state = 'leased', attempts = ?, lease_token = ?, lease_until = ?"
        " WHERE id = ? AND attempts = ? AND ((state = 'ready' AND available_at <= ?)"
        " OR (state = 'leased' AND lease_until <= ?))",
        update, 7, NULL, &changes, err);
    if (code == VISOR_OK) {
      *leased = changes == 1;
      *raced = changes != 1;
    }
  }
  visor_db_rows_free(&rows);
  return code;
}

static visor_code local_lease(visor_queue *base, const char *const *kinds, size_t kind_count,
                              int64_t visibility_ms, int64_t block_ms, visor_task *task,
                              int *leased, visor_error *err) {
  (void)block_ms; /* the worker pool waits between polls; an in-process enqueue wakes it */
  local_queue *queue = (local_queue *)base;
  *leased = 0;
  if (kind_count == 0 || kind_count > VISOR_QUEUE_MAX_KINDS)
    return visor_error_set(err, VISOR_ERR_INVALID, "lease needs 1 to %d kinds, got %zu",
                           VISOR_QUEUE_MAX_KINDS, kind_count);
  visor_db_conn *conn = visor_db_acquire(queue->db, err);
  if (!conn) return err->code;
  visor_code code = VISOR_OK;
  for (int tries = 0; tries < 8 && !*leased && !queue_paused(conn); tries++) {
    int raced = 0;
    code = visor_db_begin(conn, err);
    if (code != VISOR_OK) break;
    code = lease_once(conn, kinds, kind_count, visibility_ms, task, leased, &raced, err);
    if (code == VISOR_OK) code = visor_db_commit(conn, err);
    if (code != VISOR_OK) {
      visor_db_rollback(conn);
      *leased = 0;
      break;
    }
    if (!raced) break;
  }
  visor_db_release(conn);
  return code;
}

/* Runs an UPDATE/DELETE that only applies while the caller still holds the lease. */
static visor_code leased_write(local_queue *queue, const char *sql, visor_db_value *params,
                               size_t count, const visor_task *task, visor_error *err) {
  visor_db_conn *conn = visor_db_acquire(queue->db, err);
  if (!conn) return err->code;
  int64_t changes = 0;
  visor_code code = visor_db_exec(conn, sql, params, count, NULL, &changes, err);
  visor_db_release(conn);
  if (code == VISOR_OK && changes == 0)
    code = visor_error_set(err, VISOR_ERR_CONFLICT, "task %s is no longer leased by this worker",
                           task->id);
  return code;
}

static visor_code local_extend(visor_queue *base, const visor_task *task, int64_t visibility_ms,
                               visor_error *err) {
  visor_db_value params[] = {VISOR_DB_I(visor_now_ms() + visibility_ms), VISOR_DB_S(task->id),
                             VISOR_DB_S(task->lease_token)};
  return leased_write((local_queue *)base,
                      "UPDATE queue_tasks SET lease_until = ? WHERE id = ? AND lease_token = ?"
                      " AND state = 'leased'",
                      params, 3, task, err);
}

static visor_code local_ack(visor_queue *base, const visor_task *task, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(task->id), VISOR_DB_S(task->lease_token)};
  return leased_write((local_queue *)base,
                      "DELETE FROM queue_tasks WHERE id = ? AND lease_token = ?", params, 2, task,
                      err);
}

static visor_code local_retry(visor_queue *base, const visor_task *task, int64_t delay_ms,
                              const char *error, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_I(visor_now_ms() + delay_ms), VISOR_DB_S(error),
                             VISOR_DB_S(task->id), VISOR_DB_S(task->lease_token)};
  return leased_write((local_queue *)base,
                      "UPDATE queue_tasks SET state = 'ready', available_at = ?, last_error = ?,"
                      " lease_token = NULL, lease_until = NULL WHERE id = ? AND lease_token = ?",
                      params, 4, task, err);
}

static visor_code local_bury(visor_queue *base, const visor_task *task, const char *error,
                             visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(error), VISOR_DB_S(task->id),
                             VISOR_DB_S(task->lease_token)};
  return leased_write((local_queue *)base,
                      "UPDATE queue_tasks SET state = 'dead', last_error = ?, lease_token = NULL,"
                      " lease_until = NULL WHERE id = ? AND lease_token = ?",
                      params, 3, task, err);
}

static visor_code local_cancel(visor_queue *base, const char *id, int *removed, visor_error *err) {
  local_queue *queue = (local_queue *)base;
  visor_db_conn *conn = visor_db_acquire(queue->db, err);
  if (!conn) return err->code;
  visor_db_value params[] = {VISOR_DB_S(id), VISOR_DB_I(visor_now_ms())};
  int64_t changes = 0;
  visor_code code = visor_db_exec(conn,
                                  "DELETE FROM queue_tasks WHERE id = ? AND (state <> 'leased'"
                                  " OR lease_until <= ?)",
                                  params, 2, NULL, &changes, err);
  visor_db_release(conn);
  if (removed) *removed = changes > 0;
  return code;
}

static visor_code local_set_paused(visor_queue *base, int paused, visor_error *err) {
  local_queue *queue = (local_queue *)base;
  visor_db_conn *conn = visor_db_acquire(queue->db, err);
  if (!conn) return err->code;
  visor_db_value params[] = {VISOR_DB_S(paused ? "1" : "0")};
  visor_code code = visor_db_exec(conn,
                                  "INSERT INTO queue_settings(name, value) VALUES ('paused', ?)"
                                  " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                                  params, 1, NULL, NULL, err);
  visor_db_release(conn);
  return code;
}

static visor_code local_counts(visor_queue *base, visor_queue_counts *counts, visor_error *err) {
  local_queue *queue = (local_queue *)base;
  memset(counts, 0, sizeof *counts);
  visor_db_conn *conn = visor_db_acquire(queue->db, err);
  if (!conn) return err->code;
  int64_t now = visor_now_ms();
  visor_db_value params[] = {VISOR_DB_I(now), VISOR_DB_I(now), VISOR_DB_I(now), VISOR_DB_I(now)};
  visor_db_rows rows;
  visor_code code = visor_db_exec(
      conn,
      "SELECT"
      " SUM(CASE WHEN (state = 'ready' AND available_at <= ?) OR (state = 'leased' AND lease_until "
      "<= ?) THEN 1 ELSE 0 END) AS ready,"
      " SUM(CASE WHEN state = 'ready' AND available_at > ? THEN 1 ELSE 0 END) AS delayed,"
      " SUM(CASE WHEN state = 'leased' AND lease_until > ? THEN 1 ELSE 0 END) AS leased,"
      " SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END) AS dead FROM queue_tasks",
      params, 4, &rows, NULL, err);
  if (code == VISOR_OK) {
    counts->ready = visor_db_int(&rows, 0, "ready");
    counts->delayed = visor_db_int(&rows, 0, "delayed");
    counts->leased = visor_db_int(&rows, 0, "leased");
    counts->dead = visor_db_int(&rows, 0, "dead");
    visor_db_rows_free(&rows);
    counts->paused = queue_paused(conn);
  }
  visor_db_release(conn);
  return code;
}

static void local_close(visor_queue *base) {
  free(base);
}

static const visor_queue_ops local_ops = {
    .enqueue = local_enqueue,
    .lease = local_lease,
    .extend = local_extend,
    .ack = local_ack,
    .retry = local_retry,
    .bury = local_bury,
    .cancel = local_cancel,
    .set_paused = local_set_paused,
    .counts = local_counts,
    .close = local_close,
};

visor_queue *visor_queue_local_open(visor_db *db, visor_error *err) {
  if (!db) {
    visor_error_set(err, VISOR_ERR_INVALID, "the local queue needs the metadata database");
    return NULL;
  }
  local_queue *queue = calloc(1, sizeof *queue);
  if (!queue) {
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  queue->base.ops = &local_ops;
  queue->db = db;
  return &queue->base;
}
