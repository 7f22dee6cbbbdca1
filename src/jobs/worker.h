/* worker.h: the worker pool: N threads that lease tasks from the queue, run the handler
 * registered for the task's kind, and keep the job record in step through job_state.h:
 * running, done, queued again after a failure (exponential backoff), failed after max
 * attempts or at once for a permanent error (bad input), dropped when cancelled. A
 * heartbeat thread extends the lease of every running task every visibility/3, so a
 * short lease is safe and a task whose worker died is leased again within seconds. */
#ifndef VISOR_JOBS_WORKER_H
#define VISOR_JOBS_WORKER_H

#include <stdint.h>

#include "queue/queue.h"
#include "store/db.h"

typedef struct visor_worker_pool visor_worker_pool;
typedef struct visor_job_run visor_job_run;

/* Runs one task. Returning VISOR_ERR_INVALID, _NOT_FOUND, _UNSUPPORTED or _TOO_LARGE
 * fails the job at once; other errors are retried. */
typedef visor_code (*visor_task_handler)(void *ctx, visor_job_run *run, visor_error *err);

const visor_task *visor_job_run_task(const visor_job_run *run);
/* This attempt (1-based) and whether it is the job's last one. */
int visor_job_run_attempt(const visor_job_run *run);
int visor_job_run_is_last_attempt(const visor_job_run *run);
/* Records progress (0..1). */
void visor_job_run_progress(visor_job_run *run, double progress);
/* True once the job was cancelled (check between steps and stop early). */
int visor_job_run_cancelled(visor_job_run *run);

typedef struct visor_worker_config {
  int concurrency;         /* threads (default 2) */
  int64_t visibility_ms;   /* lease length, renewed by the heartbeat (default 15000) */
  int64_t backoff_base_ms; /* first retry delay, doubled each attempt (default 1000) */
  int64_t backoff_max_ms;  /* default 300000 */
  int64_t poll_ms;         /* idle poll interval / blocking lease wait (default 200) */
} visor_worker_config;

visor_worker_pool *visor_worker_pool_new(visor_db *db, visor_queue *queue,
                                         const visor_worker_config *config, visor_error *err);
/* Registers handler for kind; call before start. At most 8 kinds. */
visor_code visor_worker_pool_register(visor_worker_pool *pool, const char *kind,
                                      visor_task_handler handler, void *ctx, visor_error *err);
visor_code visor_worker_pool_start(visor_worker_pool *pool, visor_error *err);
/* Wakes idle workers now (after an enqueue in the same process). */
void visor_worker_pool_wake(visor_worker_pool *pool);
/* Stops leasing, lets running tasks finish (their leases kept alive), joins the threads. */
void visor_worker_pool_stop(visor_worker_pool *pool);
void visor_worker_pool_free(visor_worker_pool *pool);

/* The retry delay after attempt n (1-based): base * 2^(n-1), capped. */
int64_t visor_backoff_ms(const visor_worker_config *config, int attempt);

#endif
