/* queue_local.c: the embedded durable queue, in the metadata DB (its tables and their SQL:
 * store/queue_tasks.h). A lease picks the next task (SKIP LOCKED on PostgreSQL) and takes
 * it with a conditional UPDATE that only succeeds while the row is still as it was seen,
 * so two workers never get the same task on any metadata backend; a lost race tries
 * again. Kinds are leased in the caller's order (its priority). Workers poll it (and are
 * woken early by visor_worker_pool_wake in one process). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/uuid.h"
#include "queue/queue.h"
#include "store/queue_tasks.h"

#define LEASE_TRIES 8

typedef struct local_queue {
  visor_queue base;
  visor_db *db;
} local_queue;

static visor_db_conn *open_conn(visor_queue *base, visor_error *err) {
  return visor_db_acquire(((local_queue *)base)->db, err);
}

static visor_code local_enqueue(visor_queue *base, const char *id, const char *kind,
                                int64_t delay_ms, visor_error *err) {
  visor_db_conn *conn = open_conn(base, err);
  if (!conn) return visor_db_acquire_failed(err);
  int64_t now = visor_now_ms();
  visor_code code = visor_queue_task_add(conn, id, kind, now, now + delay_ms, err);
  visor_db_release(conn);
  return code;
}

/* One try in a transaction: *raced says another worker took the task first; a paused
 * queue leases nothing. */
static visor_code lease_once(visor_db_conn *conn, const char *const *kinds, size_t kind_count,
                             int64_t visibility_ms, visor_task *task, int *leased, int *raced,
                             visor_error *err) {
  visor_code code = visor_db_begin(conn, err);
  if (code != VISOR_OK) return code;
  int64_t now = visor_now_ms();
  visor_queue_row row;
  int found = 0;
  code = visor_queue_task_pick(conn, kinds, kind_count, now, &row, &found, err);
  /* Read after the pick, in its transaction: a task enqueued after a pause committed finds
   * the pause here even when the caller's check before the lease ran just before it. */
  int paused = 0;
  if (code == VISOR_OK && found) code = visor_queue_paused_get(conn, &paused, err);
  if (code == VISOR_OK && found && !paused) {
    memset(task, 0, sizeof *task);
    snprintf(task->id, sizeof task->id, "%s", row.id);
    snprintf(task->kind, sizeof task->kind, "%s", row.kind);
    task->deliveries = (int)row.attempts + 1;
    visor_uuid_new(task->lease_token);
    int64_t changes = 0;
    code = visor_queue_task_take(conn, &row, task->lease_token, now, now + visibility_ms, &changes,
                                 err);
    *leased = code == VISOR_OK && changes == 1;
    *raced = code == VISOR_OK && changes != 1;
  }
  if (code == VISOR_OK) code = visor_db_commit(conn, err);
  if (code != VISOR_OK) {
    visor_db_rollback(conn);
    *leased = 0;
  }
  return code;
}

static visor_code local_lease(visor_queue *base, const char *const *kinds, size_t kind_count,
                              int64_t visibility_ms, int64_t block_ms, visor_task *task,
                              int *leased, visor_error *err) {
  (void)block_ms; /* the worker pool waits between polls; an in-process enqueue wakes it */
  *leased = 0;
  if (kind_count == 0 || kind_count > VISOR_QUEUE_MAX_KINDS)
    return visor_error_set(err, VISOR_ERR_INVALID, "lease needs 1 to %d kinds, got %zu",
                           VISOR_QUEUE_MAX_KINDS, kind_count);
  visor_db_conn *conn = open_conn(base, err);
  if (!conn) return visor_db_acquire_failed(err);
  int paused = 0;
  visor_code code = visor_queue_paused_get(conn, &paused, err);
  for (int tries = 0; code == VISOR_OK && !paused && tries < LEASE_TRIES; tries++) {
    int raced = 0;
    code = lease_once(conn, kinds, kind_count, visibility_ms, task, leased, &raced, err);
    if (!raced) break;
  }
  visor_db_release(conn);
  return code;
}

/* The result of a write that only applies while the caller still holds the lease. */
static visor_code leased(visor_code code, int64_t changes, const visor_task *task,
                         visor_error *err) {
  if (code == VISOR_OK && changes == 0)
    return visor_error_set(err, VISOR_ERR_CONFLICT, "task %s is no longer leased by this worker",
                           task->id);
  return code;
}

static visor_code local_extend(visor_queue *base, const visor_task *task, int64_t visibility_ms,
                               visor_error *err) {
  visor_db_conn *conn = open_conn(base, err);
  if (!conn) return visor_db_acquire_failed(err);
  int64_t changes = 0;
  visor_code code = visor_queue_task_extend(conn, task->id, task->lease_token,
                                            visor_now_ms() + visibility_ms, &changes, err);
  visor_db_release(conn);
  return leased(code, changes, task, err);
}

static visor_code local_ack(visor_queue *base, const visor_task *task, visor_error *err) {
  visor_db_conn *conn = open_conn(base, err);
  if (!conn) return visor_db_acquire_failed(err);
  int64_t changes = 0;
  visor_code code = visor_queue_task_delete(conn, task->id, task->lease_token, &changes, err);
  visor_db_release(conn);
  return leased(code, changes, task, err);
}

static visor_code local_retry(visor_queue *base, const visor_task *task, int64_t delay_ms,
                              const char *error, visor_error *err) {
  visor_db_conn *conn = open_conn(base, err);
  if (!conn) return visor_db_acquire_failed(err);
  int64_t changes = 0;
  visor_code code = visor_queue_task_release(conn, task->id, task->lease_token,
                                             visor_now_ms() + delay_ms, error, &changes, err);
  visor_db_release(conn);
  return leased(code, changes, task, err);
}

static visor_code local_bury(visor_queue *base, const visor_task *task, const char *error,
                             visor_error *err) {
  visor_db_conn *conn = open_conn(base, err);
  if (!conn) return visor_db_acquire_failed(err);
  int64_t changes = 0;
  visor_code code = visor_queue_task_bury(conn, task->id, task->lease_token, error, &changes, err);
  visor_db_release(conn);
  return leased(code, changes, task, err);
}

static visor_code local_cancel(visor_queue *base, const char *id, int *removed, visor_error *err) {
  visor_db_conn *conn = open_conn(base, err);
  if (!conn) return visor_db_acquire_failed(err);
  int64_t changes = 0;
  visor_code code = visor_queue_task_cancel(conn, id, visor_now_ms(), &changes, err);
  visor_db_release(conn);
  if (removed) *removed = changes > 0;
  return code;
}

static visor_code local_set_paused(visor_queue *base, int paused, visor_error *err) {
  visor_db_conn *conn = open_conn(base, err);
  if (!conn) return visor_db_acquire_failed(err);
  visor_code code = visor_queue_paused_set(conn, paused, err);
  visor_db_release(conn);
  return code;
}

static visor_code local_counts(visor_queue *base, visor_queue_counts *counts, visor_error *err) {
  memset(counts, 0, sizeof *counts);
  visor_db_conn *conn = open_conn(base, err);
  if (!conn) return visor_db_acquire_failed(err);
  visor_queue_totals totals;
  visor_code code = visor_queue_totals_get(conn, visor_now_ms(), &totals, err);
  if (code == VISOR_OK) code = visor_queue_paused_get(conn, &counts->paused, err);
  visor_db_release(conn);
  counts->ready = totals.ready;
  counts->delayed = totals.delayed;
  counts->leased = totals.leased;
  counts->dead = totals.dead;
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
