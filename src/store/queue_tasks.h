/* queue_tasks.h: the tables of the embedded queue backend (queue/queue_local.c, which
 * owns them and is their only user): queue_tasks (one row per task: state 'ready' with
 * available_at, 'leased' until lease_until, or 'dead') and queue_settings (paused). Times
 * are Unix ms. Writes that belong to a lease apply only while id and token still match;
 * *changes says whether one did. */
#ifndef VISOR_STORE_QUEUE_TASKS_H
#define VISOR_STORE_QUEUE_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

typedef struct visor_queue_row {
  char id[64];
  char kind[32];
  int64_t attempts; /* deliveries so far */
} visor_queue_row;

typedef struct visor_queue_totals {
  int64_t ready, delayed, leased, dead;
} visor_queue_totals;

/* Adds a task, ready at available_at; an existing one is left as it is unless it is dead
 * (revived). */
visor_code visor_queue_task_add(visor_db_conn *conn, const char *id, const char *kind, int64_t now,
                                int64_t available_at, visor_error *err);
/* The leasable task to take next at now (ready and due, or leased past its end): of the
 * first of kinds (their priority) that has one, the oldest; on PostgreSQL the row is
 * locked (SKIP LOCKED) until the transaction ends. *found = 0 when there is none. */
visor_code visor_queue_task_pick(visor_db_conn *conn, const char *const *kinds, size_t kind_count,
                                 int64_t now, visor_queue_row *row, int *found, visor_error *err);
/* Leases row's task to token until lease_until, if it is still as pick saw it. */
visor_code visor_queue_task_take(visor_db_conn *conn, const visor_queue_row *row, const char *token,
                                 int64_t now, int64_t lease_until, int64_t *changes,
                                 visor_error *err);
visor_code visor_queue_task_extend(visor_db_conn *conn, const char *id, const char *token,
                                   int64_t lease_until, int64_t *changes, visor_error *err);
visor_code visor_queue_task_delete(visor_db_conn *conn, const char *id, const char *token,
                                   int64_t *changes, visor_error *err);
/* Ready again at available_at, with the error that made it so. */
visor_code visor_queue_task_release(visor_db_conn *conn, const char *id, const char *token,
                                    int64_t available_at, const char *error, int64_t *changes,
                                    visor_error *err);
visor_code visor_queue_task_bury(visor_db_conn *conn, const char *id, const char *token,
                                 const char *error, int64_t *changes, visor_error *err);
/* Deletes a task that is not leased (or whose lease ended before now). */
visor_code visor_queue_task_cancel(visor_db_conn *conn, const char *id, int64_t now,
                                   int64_t *changes, visor_error *err);
visor_code visor_queue_totals_get(visor_db_conn *conn, int64_t now, visor_queue_totals *totals,
                                  visor_error *err);
visor_code visor_queue_paused_get(visor_db_conn *conn, int *paused, visor_error *err);
visor_code visor_queue_paused_set(visor_db_conn *conn, int paused, visor_error *err);

#endif
