/* queue.h: the task queue interface. A task is a job id plus a kind ("index", "search").
 * Workers lease tasks for a visibility timeout and keep the lease alive while they work
 * (extend, the heartbeat); then they ack, retry (with a delay) or bury (dead) them. A
 * leased task whose lease ran out (its worker stopped heartbeating) is leased again by
 * another worker. The queue owns its own state: callers never write it, and the job
 * records (status, attempts, progress, error) live in the metadata store, written through
 * jobs/job_state.h. Tasks reach a queue from the outbox (jobs/outbox.h) after the business
 * transaction commits, so a task may arrive twice: enqueue is idempotent by id and
 * handlers are idempotent.
 * Backends: local (queue_local.c: a table in the metadata DB, durable) and redis://
 * (queue_redis.c: Redis Streams with a consumer group). */
#ifndef VISOR_QUEUE_QUEUE_H
#define VISOR_QUEUE_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "store/db.h"

#define VISOR_QUEUE_MAX_KINDS 8

typedef struct visor_task {
  char id[64]; /* the job id */
  char kind[32];
  int deliveries;       /* times the queue handed this task out, this lease included */
  char lease_token[64]; /* the backend's handle of this lease; stale after it runs out */
} visor_task;

typedef struct visor_queue_counts {
  int64_t ready, delayed, leased, dead;
  int paused;
} visor_queue_counts;

typedef struct visor_queue visor_queue;

typedef struct visor_queue_ops {
  /* Adds task id of kind, ready after delay_ms. Idempotent: when a task with this id is
   * already ready, delayed or leased nothing changes; a dead one is brought back. */
  visor_code (*enqueue)(visor_queue *queue, const char *id, const char *kind, int64_t delay_ms,
                        visor_error *err);
  /* Leases one ready task of one of kinds (1 to VISOR_QUEUE_MAX_KINDS), or one whose
   * lease ran out, for visibility_ms. kinds are in priority order: a leasable task of an
   * earlier kind is always taken before any of a later kind (oldest first within a kind). Waits up
   * to block_ms for one when there is none (a backend may return earlier); *leased = 0 when none
   * came (or the queue is paused). Two callers, in one process or in many, never hold the same task
   * at once. */
  visor_code (*lease)(visor_queue *queue, const char *const *kinds, size_t kind_count,
                      int64_t visibility_ms, int64_t block_ms, visor_task *task, int *leased,
                      visor_error *err);
  /* The heartbeat: the lease now ends visibility_ms from now. VISOR_ERR_CONFLICT when
   * the lease was lost (ran out and was taken by another worker, or acked). */
  visor_code (*extend)(visor_queue *queue, const visor_task *task, int64_t visibility_ms,
                       visor_error *err);
  /* ack, retry and bury apply only while the caller holds the lease, else
   * VISOR_ERR_CONFLICT. retry makes the task ready again after delay_ms. */
  visor_code (*ack)(visor_queue *queue, const visor_task *task, visor_error *err);
  visor_code (*retry)(visor_queue *queue, const visor_task *task, int64_t delay_ms,
                      const char *error, visor_error *err);
  visor_code (*bury)(visor_queue *queue, const visor_task *task, const char *error,
                     visor_error *err);
  /* Removes a task that is not leased; *removed says whether one was. */
  visor_code (*cancel)(visor_queue *queue, const char *id, int *removed, visor_error *err);
  /* A paused queue leases nothing (running tasks go on); the state is shared by every
   * process on the same queue. */
  visor_code (*set_paused)(visor_queue *queue, int paused, visor_error *err);
  visor_code (*counts)(visor_queue *queue, visor_queue_counts *counts, visor_error *err);
  void (*close)(visor_queue *queue);
} visor_queue_ops;

struct visor_queue {
  const visor_queue_ops *ops;
};

/* Opens "local" (the tasks live in the metadata DB db) or "redis://host:port/db"
 * (db unused). */
visor_queue *visor_queue_open(const char *url, visor_db *db, visor_error *err);
/* Whether url names a queue backend this build has (for config validation); fills err
 * with the accepted forms when not. */
int visor_queue_url_supported(const char *url, visor_error *err);
void visor_queue_close(visor_queue *queue);

#endif
