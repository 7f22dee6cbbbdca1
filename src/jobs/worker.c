/* worker.c: the worker pool (see worker.h). */
#include "jobs/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "jobs/job_state.h"

#define MAX_KINDS 8
#define STATE_WRITE_TRIES 20 /* 20 x 250 ms: a metadata store restart */
#define STATE_WRITE_PAUSE_MS 250

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
  visor_task *running; /* per thread: the task it holds (id[0] == 0 when none) */
  int started, stopping;
  pthread_mutex_t lock; /* stopping, running[] */
  pthread_cond_t wake;
  pthread_t heartbeat;
  int heartbeat_started;
};

struct visor_job_run {
  visor_worker_pool *pool;
  visor_task task;
  visor_job_start start;
};

const visor_task *visor_job_run_task(const visor_job_run *run) {
  return &run->task;
}

int visor_job_run_attempt(const visor_job_run *run) {
  return run->start.attempt;
}

int visor_job_run_is_last_attempt(const visor_job_run *run) {
  return run->start.attempt >= run->start.max_attempts;
}

void visor_job_run_progress(visor_job_run *run, double progress) {
  visor_jobs_progress(run->pool->db, run->task.id, progress, NULL);
}

int visor_job_run_cancelled(visor_job_run *run) {
  return visor_jobs_cancelled(run->pool->db, run->task.id) == 1;
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

/* Writes a finished job's state, trying again for a few seconds while the metadata store
 * is unavailable (a restart). */
static visor_code write_job_state(visor_worker_pool *pool, const visor_task *task, int done,
                                  const char *message, visor_error *err) {
  visor_code code = VISOR_OK;
  for (int attempt = 0; attempt < STATE_WRITE_TRIES; attempt++) {
    if (attempt) visor_sleep_ms(STATE_WRITE_PAUSE_MS);
    code = done ? visor_jobs_done(pool->db, task->id, err)
                : visor_jobs_failed(pool->db, task->id, message, err);
    if (code != VISOR_ERR_UNAVAILABLE) break;
  }
  return code;
}

/* The task goes back to the queue, to run again after the first backoff. */
static void give_back(visor_worker_pool *pool, const visor_task *task, const visor_error *why) {
  visor_log(VISOR_LOG_WARN, "job %s (%s): cannot record its outcome (%s); it will run again",
            task->id, task->kind, why->message);
  pool->queue->ops->retry(pool->queue, task, pool->config.backoff_base_ms, why->message, NULL);
}

static void finish_task(visor_worker_pool *pool, const visor_job_run *run, visor_code code,
                        const visor_error *error, double seconds) {
  visor_queue *queue = pool->queue;
  const visor_task *task = &run->task;
  char labels[96];
  snprintf(labels, sizeof labels, "kind=\"%s\",outcome=\"%s\"", task->kind,
           code == VISOR_OK ? "done" : "error");
  visor_metrics_counter_add("visor_tasks_total", "Tasks run by the workers", labels, 1);
  snprintf(labels, sizeof labels, "kind=\"%s\"", task->kind);
  visor_metrics_observe("visor_task_duration_seconds", "Time to run one task", labels, seconds);
  /* The job record first, then the queue: a crash in between leases the task again and
   * the next worker finds the job finished (or counts one more attempt). A record that
   * cannot be written (the metadata store is away) is not acked: the task comes back and
   * runs again, idempotently, rather than ending with its job never marked. */
  visor_error state_error = {0};
  if (code == VISOR_OK) {
    if (write_job_state(pool, task, 1, NULL, &state_error) == VISOR_OK)
      queue->ops->ack(queue, task, NULL);
    else
      give_back(pool, task, &state_error);
  } else if (permanent_error(code) || run->start.attempt >= run->start.max_attempts) {
    visor_log(VISOR_LOG_WARN, "job %s (%s) failed after %d attempt(s): %s", task->id, task->kind,
              run->start.attempt, error->message);
    if (write_job_state(pool, task, 0, error->message, &state_error) == VISOR_OK)
      queue->ops->bury(queue, task, error->message, NULL);
    else
      give_back(pool, task, &state_error);
  } else {
    int64_t delay = visor_backoff_ms(&pool->config, run->start.attempt);
    visor_log(VISOR_LOG_INFO, "job %s (%s) attempt %d failed, retrying in %lld ms: %s", task->id,
              task->kind, run->start.attempt, (long long)delay, error->message);
    visor_jobs_will_retry(pool->db, task->id, error->message, NULL); /* a running job retries too */
    queue->ops->retry(queue, task, delay, error->message, NULL);
  }
}

static void run_task(visor_worker_pool *pool, const visor_task *task) {
  visor_job_run run = {.pool = pool, .task = *task};
  visor_error error = {0};
  if (visor_jobs_start(pool->db, task->id, &run.start, &error) != VISOR_OK) {
    /* The metadata store is unreachable: give the task back to be tried again soon. */
    visor_log(VISOR_LOG_WARN, "job %s: cannot start: %s", task->id, error.message);
    pool->queue->ops->retry(pool->queue, task, pool->config.backoff_base_ms, error.message, NULL);
    return;
  }
  if (!run.start.runnable) { /* cancelled, finished or gone: drop the task */
    pool->queue->ops->ack(pool->queue, task, NULL);
    return;
  }
  registered_handler *handler = find_handler(pool, task->kind);
  double started = visor_monotonic_s();
  visor_code code = handler ? handler->handler(handler->ctx, &run, &error)
                            : visor_error_set(&error, VISOR_ERR_INVALID,
                                              "no handler for task kind '%s'", task->kind);
  if (code != VISOR_OK && visor_job_run_cancelled(&run)) code = VISOR_OK; /* stopped on request */
  finish_task(pool, &run, code, &error, visor_monotonic_s() - started);
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

typedef struct worker_slot {
  visor_worker_pool *pool;
  int index;
} worker_slot;

static void set_running(visor_worker_pool *pool, int index, const visor_task *task) {
  pthread_mutex_lock(&pool->lock);
  if (task)
    pool->running[index] = *task;
  else
    pool->running[index].id[0] = '\0';
  pthread_mutex_unlock(&pool->lock);
}

static void *worker_main(void *arg) {
  visor_worker_pool *pool = ((worker_slot *)arg)->pool;
  int index = ((worker_slot *)arg)->index;
  free(arg);
  int64_t last_warning = 0;
  while (!stopping(pool)) {
    visor_task task;
    int leased = 0;
    visor_error error = {0};
    double asked = visor_monotonic_s();
    if (pool->queue->ops->lease(pool->queue, pool->kinds, pool->handler_count,
                                pool->config.visibility_ms, pool->config.poll_ms, &task, &leased,
                                &error) != VISOR_OK) {
      if (visor_now_ms() - last_warning > 5000) { /* once in a while while a server is down */
        visor_log(VISOR_LOG_WARN, "worker cannot lease a task: %s", error.message);
        last_warning = visor_now_ms();
      }
      idle_wait(pool);
      continue;
    }
    if (!leased) {
      /* A backend that blocked for the poll interval already waited for new tasks. */
      if ((visor_monotonic_s() - asked) * 1000 < (double)pool->config.poll_ms * 0.8)
        idle_wait(pool);
      continue;
    }
    set_running(pool, index, &task);
    run_task(pool, &task);
    set_running(pool, index, NULL);
  }
  return NULL;
}

/* Extends the lease of every running task every visibility/3 until the pool stops. */
static void *heartbeat_main(void *arg) {
  visor_worker_pool *pool = arg;
  int64_t interval = pool->config.visibility_ms / 3;
  if (interval < 10) interval = 10;
  visor_task *held = calloc((size_t)pool->config.concurrency, sizeof *held);
  pthread_mutex_lock(&pool->lock);
  while (held) {
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    int64_t ns = deadline.tv_nsec + interval * 1000000;
    deadline.tv_sec += ns / 1000000000;
    deadline.tv_nsec = ns % 1000000000;
    int rc = 0;
    while (rc == 0 && !(pool->stopping && pool->started == 0))
      rc = pthread_cond_timedwait(&pool->wake, &pool->lock, &deadline);
    if (pool->stopping && pool->started == 0) break;
    memcpy(held, pool->running, (size_t)pool->config.concurrency * sizeof *held);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 0; i < pool->config.concurrency; i++) {
      if (!held[i].id[0]) continue;
      visor_error error = {0};
      visor_code code =
          pool->queue->ops->extend(pool->queue, &held[i], pool->config.visibility_ms, &error);
      if (code == VISOR_ERR_CONFLICT)
        visor_log(VISOR_LOG_WARN, "job %s: lease lost (%s)", held[i].id, error.message);
    }
    pthread_mutex_lock(&pool->lock);
  }
  pthread_mutex_unlock(&pool->lock);
  free(held);
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
  visor_worker_config defaults = {2, 15000, 1000, 300000, 200};
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
  pool->running = calloc((size_t)pool->config.concurrency, sizeof *pool->running);
  if (!pool->threads || !pool->running) {
    free(pool->threads);
    free(pool->running);
    pool->threads = NULL;
    pool->running = NULL;
    return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  }
  pool->started = 1;
  for (int i = 0; i < pool->config.concurrency; i++) {
    worker_slot *slot = malloc(sizeof *slot);
    int rc = slot ? 0 : ENOMEM;
    if (slot) {
      *slot = (worker_slot){pool, i};
      rc = pthread_create(&pool->threads[i], NULL, worker_main, slot);
      if (rc != 0) free(slot);
    }
    if (rc != 0) {
      pool->config.concurrency = i; /* stop joins only what started */
      visor_worker_pool_stop(pool);
      return visor_error_set(err, VISOR_ERR_INTERNAL, "cannot start worker thread: %s",
                             strerror(rc));
    }
  }
  if (pthread_create(&pool->heartbeat, NULL, heartbeat_main, pool) == 0)
    pool->heartbeat_started = 1;
  else
    visor_log(VISOR_LOG_WARN, "cannot start the heartbeat thread: leases are not extended");
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
  for (int i = 0; i < pool->config.concurrency; i++) /* the heartbeat goes on meanwhile */
    pthread_join(pool->threads[i], NULL);
  pthread_mutex_lock(&pool->lock);
  pool->started = 0;
  pthread_cond_broadcast(&pool->wake);
  pthread_mutex_unlock(&pool->lock);
  if (pool->heartbeat_started) pthread_join(pool->heartbeat, NULL);
  pool->heartbeat_started = 0;
  free(pool->threads);
  free(pool->running);
  pool->threads = NULL;
  pool->running = NULL;
}

void visor_worker_pool_free(visor_worker_pool *pool) {
  if (!pool) return;
  visor_worker_pool_stop(pool);
  pthread_mutex_destroy(&pool->lock);
  pthread_cond_destroy(&pool->wake);
  free(pool);
}
