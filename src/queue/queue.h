/* queue.h: the task queue interface. A task is a job id plus a kind ("index", "search");
 * workers lease tasks for a visibility timeout, then ack, retry (with a delay) or bury
 * them (dead). A leased task whose lease runs out is leased again (the worker crashed).
 * Backends: local (queue_local.c: a table in the metadata DB, durable) and, later,
 * redis:// (Redis Streams). The job record (store/jobs.h) mirrors each task's state. */
#ifndef VISOR_QUEUE_QUEUE_H
#define VISOR_QUEUE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "store/db.h"

typedef struct visor_task {
  char id[64]; /* the job id */
  char kind[32];
  int attempts; /* including this lease */
  char lease_token[40];
} visor_task;

typedef struct visor_queue_counts {
  int64_t ready, delayed, leased, dead;
  int paused;
} visor_queue_counts;

typedef struct visor_queue visor_queue;

typedef struct visor_queue_ops {
  /* Adds (or re-adds, resetting a dead or finished one) task id of kind, ready after
   * delay_ms. conn may be NULL; when given, a backend in the metadata DB enqueues inside
   * the caller's transaction, so the job row and its task commit together. */
  visor_code (*enqueue)(visor_queue *queue, visor_db_conn *conn, const char *id, const char *kind,
                        int64_t delay_ms, visor_error *err);
  /* Leases one ready task of one of kinds; *leased = 0 when there is none (or paused). */
  visor_code (*lease)(visor_queue *queue, const char *const *kinds, size_t kind_count,
                      int64_t visibility_ms, visor_task *task, int *leased, visor_error *err);
  visor_code (*extend)(visor_queue *queue, const visor_task *task, int64_t visibility_ms,
                       visor_error *err);
  visor_code (*ack)(visor_queue *queue, const visor_task *task, visor_error *err);
  visor_code (*retry)(visor_queue *queue, const visor_task *task, int64_t delay_ms,
                      const char *error, visor_error *err);
  visor_code (*bury)(visor_queue *queue, const visor_task *task, const char *error,
                     visor_error *err);
  /* Removes a task that is not leased; *removed says whether one was. */
  visor_code (*cancel)(visor_queue *queue, const char *id, int *removed, visor_error *err);
  visor_code (*set_paused)(visor_queue *queue, int paused, visor_error *err);
  visor_code (*counts)(visor_queue *queue, visor_queue_counts *counts, visor_error *err);
  void (*close)(visor_queue *queue);
} visor_queue_ops;

struct visor_queue {
  const visor_queue_ops *ops;
};

/* "local" (needs db: the tasks live in the metadata DB). */
visor_queue *visor_queue_open(const char *url, visor_db *db, visor_error *err);
void visor_queue_close(visor_queue *queue);

#endif
