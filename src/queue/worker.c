/* worker.c: the worker pool (see worker.h). */
#include "queue/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "store/jobs.h"

#define MAX_KINDS 8

typedef struct registered_handler {
  char kind[32];
  visor_task_handler handler;
  void *ctx;
} registered_handler;

struct visor_worker_pool {
  visor_db *db;
  visor_queue *queue;
  visor_worker_config config;
  registered_handler handlers[MAX_KINDS];
  const char *kinds[MAX_KINDS];
  size_t handler_count;
  pthread_t *threads;
  int started, stopping;
  pthread_mutex_t lock;
  pthread_cond_t wake;
};

struct visor_job_run {
  visor_worker_pool *pool;
  visor_task task;
};

const visor_task *visor_job_run_task(const visor_job_run *run) {
  return &run->task;
}

void visor_job_run_progress(visor_job_run *run, double progress) {
  visor_db_conn *conn = visor_db_acquire(run->pool->db, NULL);
  if (conn) {
    visor_job_set_progress(conn, run->task.id, progress, NULL);
    visor_db_release(conn);
  }
  run->pool->queue->ops->extend(run->pool->queue, &run->task, run->pool->config.visibility_ms,
                                NULL);
}

int visor_job_run_cancelled(visor_job_run *run) {
  char status[16] = "";
  visor_db_conn *conn = visor_db_acquire(run->pool->db, NULL);
  if (!conn) return 0;
  int cancelled = visor_job_status(conn, run->task.id, status, NULL) == VISOR_OK &&
                  strcmp(status, VISOR_JOB_CANCELLED) == 0;
  visor_db_release(conn);
  return cancelled;
}

int64_t visor_backoff_ms(const visor_worker_config *config, int attempt) {
  int64_t delay = config->backoff_base_ms;
  for (int i = 1; i < attempt && delay < config->backoff_max_ms; i++)
    delay *= 2;
  return delay < config->backoff_max_ms ? delay : config->backoff_max_ms;
}

static int permanent_error(visor_code code) {
  return code == VISOR_ERR_INVALID || code == VISOR_ERR_NOT_FOUND ||
         code == VISOR_ERR_UNSUPPORTED || code == VISOR_ERR_TOO_LARGE;
}

static registered_handler *find_handler(visor_worker_pool *pool, const char *kind) {
  for (size_t i = 0; i < pool->handler_count; i++)
    if (strcmp(pool->handlers[i].kind, kind) == 0) return &pool->handlers[i];
  return NULL;
}

/* Reads max_attempts and whether the job still wants running. */
static int job_runnable(visor_worker_pool *pool, const visor_task *task, int *max_attempts) {
  visor_db_conn *conn = visor_db_acquire(pool->db, NULL);
  if (!conn) return -1;
  visor_db_value params[] = {VISOR_DB_S(task->id)};
  visor_db_rows rows;
  int runnable = -1;
  if (visor_db_exec(conn, "SELECT status, max_attempts FROM jobs WHERE id = ?", params, 1, &rows,
                    NULL, NULL) == VISOR_OK) {
    const char *status = visor_db_text(&rows, 0, "status");
    runnable =
        status && (strcmp(status, VISOR_JOB_QUEUED) == 0 || strcmp(status, VISOR_JOB_RUNNING) == 0);
    *max_attempts = (int)visor_db_int(&rows, 0, "max_attempts");
    visor_db_rows_free(&rows);
  }
  if (runnable == 1) {
    int applied = 0;
    if (visor_job_mark_running(conn, task->id, task->deliveries, &applied, NULL) != VISOR_OK)
      runnable = -1;
    else if (!applied)
      runnable = 0;
  }
  visor_db_release(conn);
  return runnable;
}

static void finish_task(visor_worker_pool *pool, const visor_task *task, visor_code code,
                        const visor_error *error, int max_attempts, double seconds) {
  visor_queue *queue = pool->queue;
  visor_db_conn *conn = visor_db_acquire(pool->db, NULL);
  char labels[96];
  snprintf(labels, sizeof labels, "kind=\"%s\",outcome=\"%s\"", task->kind,
           code == VISOR_OK ? "done" : "error");
  visor_metrics_counter_add("visor_tasks_total", "Tasks run by the workers", labels, 1);
  snprintf(labels, sizeof labels, "kind=\"%s\"", task->kind);
  visor_metrics_observe("visor_task_duration_seconds", "Time to run one task", labels, seconds);
  if (code == VISOR_OK) {
    if (conn) visor_job_mark_done(conn, task->id, NULL);
    queue->ops->ack(queue, task, NULL);
  } else if (permanent_error(code) || task->deliveries >= max_attempts) {
    visor_log(VISOR_LOG_WARN, "job %s (%s) failed after %d attempt(s): %s", task->id, task->kind,
              task->deliveries, error->message);
    if (conn) visor_job_mark_failed(conn, task->id, error->message, NULL);
    queue->ops->bury(queue, task, error->message, NULL);
  } else {
    int64_t delay = visor_backoff_ms(&pool->config, task->deliveries);
    visor_log(VISOR_LOG_INFO, "job %s (%s) attempt %d failed, retrying in %lld ms: %s", task->id,
              task->kind, task->deliveries, (long long)delay, error->message);
    if (conn) visor_job_mark_retrying(conn, task->id, error->message, NULL);
    queue->ops->retry(queue, task, delay, error->message, NULL);
  }
  if (conn) visor_db_release(conn);
}

static void run_task(visor_worker_pool *pool, const visor_task *task) {
  int max_attempts = 1;
  int runnable = job_runnable(pool, task, &max_attempts);
  if (runnable == 0) { /* cancelled, finished or gone: drop the task */
    pool->queue->ops->ack(pool->queue, task, NULL);
    return;
  }
  if (runnable < 0) return; /* the DB is unreachable: the lease runs out and it comes back */
  registered_handler *handler = find_handler(pool, task->kind);
  visor_job_run run = {.pool = pool, .task = *task};
  visor_error error = {0};
  double started = visor_monotonic_s();
  visor_code code = handler ? handler->handler(handler->ctx, &run, &error)
                            : visor_error_set(&error, VISOR_ERR_INVALID,
                                              "no handler for task kind '%s'", task->kind);
  if (code != VISOR_OK && visor_job_run_cancelled(&run)) code = VISOR_OK; /* stopped on request */
  finish_task(pool, task, code, &error, max_attempts, visor_monotonic_s() - started);
}

static void idle_wait(visor_worker_pool *pool) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  int64_t ns = deadline.tv_nsec + pool->config.poll_ms * 1000000;
  deadline.tv_sec += ns / 1000000000;
  deadline.tv_nsec = ns % 1000000000;
  pthread_mutex_lock(&pool->lock);
  if (!pool->stopping) pthread_cond_timedwait(&pool->wake, &pool->lock, &deadline);
  pthread_mutex_unlock(&pool->lock);
}

static int stopping(visor_worker_pool *pool) {
  pthread_mutex_lock(&pool->lock);
  int value = pool->stopping;
  pthread_mutex_unlock(&pool->lock);
  return value;
}

static void *worker_main(void *arg) {
  visor_worker_pool *pool = arg;
  while (!stopping(pool)) {
    visor_task task;
    int leased = 0;
    visor_error error = {0};
    if (pool->queue->ops->lease(pool->queue, pool->kinds, pool->handler_count,
                                pool->config.visibility_ms, pool->config.poll_ms, &task, &leased, &error) != VISOR_OK) {
      visor_log(VISOR_LOG_WARN, "worker cannot lease a task: %s", error.message);
      idle_wait(pool);
      continue;
    }
    if (!leased) {
      idle_wait(pool);
      continue;
    }
    run_task(pool, &task);
  }
  return NULL;
}

visor_worker_pool *visor_worker_pool_new(visor_db *db, visor_queue *queue,
                                         const visor_worker_config *config, visor_error *err) {
  visor_worker_pool *pool = calloc(1, sizeof *pool);
  if (!pool) {
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  pool->db = db;
  pool->queue = queue;
  visor_worker_config defaults = {2, 300000, 1000, 300000, 200};
  pool->config = config ? *config : defaults;
  if (pool->config.concurrency <= 0) pool->config.concurrency = defaults.concurrency;
  if (pool->config.visibility_ms <= 0) pool->config.visibility_ms = defaults.visibility_ms;
  if (pool->config.backoff_base_ms <= 0) pool->config.backoff_base_ms = defaults.backoff_base_ms;
  if (pool->config.backoff_max_ms <= 0) pool->config.backoff_max_ms = defaults.backoff_max_ms;
  if (pool->config.poll_ms <= 0) pool->config.poll_ms = defaults.poll_ms;
  pthread_mutex_init(&pool->lock, NULL);
  pthread_cond_init(&pool->wake, NULL);
  return pool;
}

visor_code visor_worker_pool_register(visor_worker_pool *pool, const char *kind,
                                      visor_task_handler handler, void *ctx, visor_error *err) {
  if (pool->started)
    return visor_error_set(err, VISOR_ERR_INVALID, "register '%s' before start", kind);
  if (pool->handler_count == MAX_KINDS)
    return visor_error_set(err, VISOR_ERR_INVALID, "too many task kinds (max %d)", MAX_KINDS);
  if (strlen(kind) >= sizeof pool->handlers[0].kind)
    return visor_error_set(err, VISOR_ERR_INVALID, "task kind '%s' is too long", kind);
  registered_handler *entry = &pool->handlers[pool->handler_count];
  snprintf(entry->kind, sizeof entry->kind, "%s", kind);
  entry->handler = handler;
  entry->ctx = ctx;
  pool->kinds[pool->handler_count++] = entry->kind;
  return VISOR_OK;
}

visor_code visor_worker_pool_start(visor_worker_pool *pool, visor_error *err) {
  if (pool->handler_count == 0) return VISOR_OK; /* nothing to run: jobs stay queued */
  pool->threads = calloc((size_t)pool->config.concurrency, sizeof *pool->threads);
  if (!pool->threads) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  for (int i = 0; i < pool->config.concurrency; i++) {
    int rc = pthread_create(&pool->threads[i], NULL, worker_main, pool);
    if (rc != 0) {
      pool->config.concurrency = i; /* stop joins only what started */
      visor_worker_pool_stop(pool);
      return visor_error_set(err, VISOR_ERR_INTERNAL, "cannot start worker thread: %s",
                             strerror(rc));
    }
  }
  pool->started = 1;
  return VISOR_OK;
}

void visor_worker_pool_wake(visor_worker_pool *pool) {
  if (!pool) return;
  pthread_mutex_lock(&pool->lock);
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->lock);
}

void visor_worker_pool_stop(visor_worker_pool *pool) {
  if (!pool || !pool->threads) return;
  pthread_mutex_lock(&pool->lock);
  pool->stopping = 1;
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->lock);
  for (int i = 0; i < pool->config.concurrency; i++)
    pthread_join(pool->threads[i], NULL);
  free(pool->threads);
  pool->threads = NULL;
}

void visor_worker_pool_free(visor_worker_pool *pool) {
  if (!pool) return;
  visor_worker_pool_stop(pool);
  pthread_mutex_destroy(&pool->lock);
  pthread_cond_destroy(&pool->wake);
  free(pool);
}
