/* test_worker.c: the job machinery over every queue URL in VISOR_TEST_QUEUE_URLS (default
 * local; VISOR_TEST_WORKER_QUEUE_URLS first, so it need not share the contract suite's)
 * over a fresh SQLite file and VISOR_TEST_WORKER_METADATA_URL when set:
 * the outbox relay (a crash between commit and publish, a publish that happens twice),
 * and the worker pool: handlers, retries with backoff, dead after max attempts, permanent
 * failures, the heartbeat that keeps a long task's lease, and a dead worker's task taken
 * over within seconds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/uuid.h"
#include "jobs/job_state.h"
#include "jobs/outbox.h"
#include "jobs/worker.h"
#include "queue/queue.h"
#include "store/jobs.h"
#include "store/migrate.h"

static visor_db *db;
static visor_queue *queue;

/* A queued job with its outbox entry, committed, then published (as the API does). */
static void create_job(char id[40], const char *kind, int max_attempts) {
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(db, &err);
  assert_non_null(conn);
  assert_int_equal(visor_db_begin(conn, &err), VISOR_OK);
  assert_int_equal(visor_jobs_create(conn, kind, NULL, NULL, max_attempts, id, &err), VISOR_OK);
  assert_int_equal(visor_db_commit(conn, &err), VISOR_OK);
  visor_db_release(conn);
  assert_int_equal(visor_outbox_relay_once(db, queue, NULL, &err), VISOR_OK);
}

static void drain_kind(const char *kind) {
  const char *const kinds[] = {kind};
  visor_task task;
  int leased = 1;
  while (queue->ops->lease(queue, kinds, 1, 60000, 0, &task, &leased, NULL) == VISOR_OK && leased)
    queue->ops->ack(queue, &task, NULL);
}

static void relay_publishes_after_a_crash_and_twice_is_harmless(void **state) {
  (void)state;
  drain_kind("relay");
  visor_error err = {0};
  char id[40];
  visor_db_conn *conn = visor_db_acquire(db, &err);
  assert_int_equal(visor_db_begin(conn, &err), VISOR_OK);
  assert_int_equal(visor_jobs_create(conn, "relay", NULL, NULL, 3, id, &err), VISOR_OK);
  assert_int_equal(visor_db_commit(conn, &err), VISOR_OK);
  visor_db_release(conn);
  /* The process died after the commit, before publishing: nothing is in the queue yet. */
  const char *const kinds[] = {"relay"};
  visor_task task;
  int leased = 1;
  assert_int_equal(queue->ops->lease(queue, kinds, 1, 60000, 0, &task, &leased, &err), VISOR_OK);
  assert_false(leased);
  /* Any process's relay publishes it; publishing it again changes nothing. */
  size_t published = 0;
  assert_int_equal(visor_outbox_relay_once(db, queue, &published, &err), VISOR_OK);
  assert_int_equal(published, 1);
  assert_int_equal(queue->ops->enqueue(queue, id, "relay", 0, &err), VISOR_OK);
  assert_int_equal(visor_outbox_relay_once(db, queue, &published, &err), VISOR_OK);
  assert_int_equal(published, 0);
  assert_int_equal(queue->ops->lease(queue, kinds, 1, 60000, 0, &task, &leased, &err), VISOR_OK);
  assert_true(leased);
  assert_string_equal(task.id, id);
  visor_task again;
  assert_int_equal(queue->ops->lease(queue, kinds, 1, 60000, 0, &again, &leased, &err), VISOR_OK);
  assert_false(leased);
  queue->ops->ack(queue, &task, &err);
}

static void cancelled_job_leaves_the_outbox(void **state) {
  (void)state;
  visor_error err = {0};
  char id[40];
  visor_db_conn *conn = visor_db_acquire(db, &err);
  assert_int_equal(visor_db_begin(conn, &err), VISOR_OK);
  assert_int_equal(visor_jobs_create(conn, "relay", NULL, NULL, 3, id, &err), VISOR_OK);
  int applied = 0;
  assert_int_equal(visor_jobs_cancel(conn, id, &applied, &err), VISOR_OK);
  assert_true(applied);
  assert_int_equal(visor_db_commit(conn, &err), VISOR_OK);
  visor_db_release(conn);
  size_t published = 9;
  assert_int_equal(visor_outbox_relay_once(db, queue, &published, &err), VISOR_OK);
  assert_int_equal(published, 0);
}

typedef struct handler_state {
  pthread_mutex_t lock;
  int calls;
  int fail_times;       /* fail this many times with a retryable error */
  visor_code fail_code; /* then fail with this (VISOR_OK: succeed) */
} handler_state;

static visor_code test_handler(void *ctx, visor_job_run *run, visor_error *err) {
  handler_state *state = ctx;
  visor_job_run_progress(run, 0.5);
  pthread_mutex_lock(&state->lock);
  int call = ++state->calls;
  pthread_mutex_unlock(&state->lock);
  if (call <= state->fail_times)
    return visor_error_set(err, VISOR_ERR_IO, "transient failure %d", call);
  if (state->fail_code != VISOR_OK) return visor_error_set(err, state->fail_code, "bad input");
  return VISOR_OK;
}

static const char *job_status_of(const char *id, json_t **job_out) {
  static char status[16];
  visor_db_conn *conn = visor_db_acquire(db, NULL);
  json_t *job = NULL;
  visor_job_get(conn, id, &job, NULL);
  visor_db_release(conn);
  snprintf(status, sizeof status, "%s",
           job ? json_string_value(json_object_get(job, "status")) : "?");
  if (job_out)
    *job_out = job;
  else
    json_decref(job);
  return status;
}

static const char *run_job(handler_state *state, int max_attempts, json_t **job) {
  visor_worker_config config = {.concurrency = 2,
                                .visibility_ms = 10000,
                                .backoff_base_ms = 20,
                                .backoff_max_ms = 100,
                                .poll_ms = 10};
  visor_error err = {0};
  visor_worker_pool *pool = visor_worker_pool_new(db, queue, &config, &err);
  assert_int_equal(visor_worker_pool_register(pool, "work", test_handler, state, &err), VISOR_OK);
  char id[40];
  create_job(id, "work", max_attempts);
  assert_int_equal(visor_worker_pool_start(pool, &err), VISOR_OK);
  const char *status = "";
  for (int i = 0; i < 300; i++) {
    status = job_status_of(id, NULL);
    if (!strcmp(status, "done") || !strcmp(status, "failed")) break;
    visor_sleep_ms(10);
  }
  visor_worker_pool_free(pool);
  return job_status_of(id, job);
}

static void worker_retries_then_succeeds(void **state) {
  (void)state;
  handler_state handler = {PTHREAD_MUTEX_INITIALIZER, 0, 2, VISOR_OK};
  json_t *job = NULL;
  assert_string_equal(run_job(&handler, 5, &job), "done");
  assert_int_equal(handler.calls, 3);
  assert_int_equal(json_integer_value(json_object_get(job, "attempts")), 3);
  assert_true(json_real_value(json_object_get(job, "progress")) == 1.0);
  json_decref(job);
}

static void worker_fails_after_max_attempts(void **state) {
  (void)state;
  handler_state handler = {PTHREAD_MUTEX_INITIALIZER, 0, 100, VISOR_OK};
  json_t *job = NULL;
  assert_string_equal(run_job(&handler, 3, &job), "failed");
  assert_int_equal(handler.calls, 3);
  assert_non_null(strstr(json_string_value(json_object_get(job, "error")), "transient failure 3"));
  json_decref(job);
}

static void worker_fails_permanent_errors_at_once(void **state) {
  (void)state;
  handler_state handler = {PTHREAD_MUTEX_INITIALIZER, 0, 0, VISOR_ERR_UNSUPPORTED};
  assert_string_equal(run_job(&handler, 5, NULL), "failed");
  assert_int_equal(handler.calls, 1);
}

static void backoff_doubles_and_caps(void **state) {
  (void)state;
  visor_worker_config config = {.backoff_base_ms = 1000, .backoff_max_ms = 5000};
  assert_int_equal(visor_backoff_ms(&config, 1), 1000);
  assert_int_equal(visor_backoff_ms(&config, 2), 2000);
  assert_int_equal(visor_backoff_ms(&config, 3), 4000);
  assert_int_equal(visor_backoff_ms(&config, 9), 5000);
}

/* A task that runs for three lease lengths keeps its lease through the heartbeat: a
 * second pool never runs it while the first still works on it. */
typedef struct slow_state {
  pthread_mutex_t lock;
  int calls;
  int64_t sleep_ms;
} slow_state;

static visor_code slow_handler(void *ctx, visor_job_run *run, visor_error *err) {
  (void)run, (void)err;
  slow_state *state = ctx;
  pthread_mutex_lock(&state->lock);
  state->calls++;
  pthread_mutex_unlock(&state->lock);
  visor_sleep_ms(state->sleep_ms);
  return VISOR_OK;
}

static void wait_finished(const char *id, double seconds) {
  double started = visor_monotonic_s();
  while (visor_monotonic_s() - started < seconds) {
    const char *status = job_status_of(id, NULL);
    if (!strcmp(status, "done") || !strcmp(status, "failed")) return;
    visor_sleep_ms(20);
  }
}

static void heartbeat_keeps_a_long_task(void **state) {
  (void)state;
  slow_state slow = {PTHREAD_MUTEX_INITIALIZER, 0, 1200};
  visor_worker_config config = {.concurrency = 1, .visibility_ms = 400, .poll_ms = 20};
  visor_error err = {0};
  visor_worker_pool *first = visor_worker_pool_new(db, queue, &config, &err);
  visor_worker_pool *second = visor_worker_pool_new(db, queue, &config, &err);
  assert_int_equal(visor_worker_pool_register(first, "slow", slow_handler, &slow, &err), VISOR_OK);
  assert_int_equal(visor_worker_pool_register(second, "slow", slow_handler, &slow, &err), VISOR_OK);
  char id[40];
  create_job(id, "slow", 3);
  assert_int_equal(visor_worker_pool_start(first, &err), VISOR_OK);
  visor_sleep_ms(100); /* the first pool has it */
  assert_int_equal(visor_worker_pool_start(second, &err), VISOR_OK);
  wait_finished(id, 10);
  visor_worker_pool_free(first);
  visor_worker_pool_free(second);
  json_t *job = NULL;
  assert_string_equal(job_status_of(id, &job), "done");
  assert_int_equal(slow.calls, 1);
  assert_int_equal(json_integer_value(json_object_get(job, "attempts")), 1);
  json_decref(job);
}

static visor_code quick_handler(void *ctx, visor_job_run *run, visor_error *err) {
  (void)run, (void)err;
  slow_state *state = ctx;
  pthread_mutex_lock(&state->lock);
  state->calls++;
  pthread_mutex_unlock(&state->lock);
  return VISOR_OK;
}

static void dead_workers_task_is_taken_over(void **state) {
  (void)state;
  drain_kind("orphan");
  slow_state quick = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
  visor_error err = {0};
  char id[40];
  create_job(id, "orphan", 3);
  /* A worker leases it, marks it running, and dies (no heartbeat, no ack). */
  const char *const kinds[] = {"orphan"};
  visor_task task;
  int leased = 0;
  assert_int_equal(queue->ops->lease(queue, kinds, 1, 500, 0, &task, &leased, &err), VISOR_OK);
  assert_true(leased);
  visor_job_start start;
  assert_int_equal(visor_jobs_start(db, id, &start, &err), VISOR_OK);
  double died = visor_monotonic_s();
  visor_worker_config config = {.concurrency = 1, .visibility_ms = 500, .poll_ms = 20};
  visor_worker_pool *pool = visor_worker_pool_new(db, queue, &config, &err);
  assert_int_equal(visor_worker_pool_register(pool, "orphan", quick_handler, &quick, &err),
                   VISOR_OK);
  assert_int_equal(visor_worker_pool_start(pool, &err), VISOR_OK);
  wait_finished(id, 10);
  double took = visor_monotonic_s() - died;
  visor_worker_pool_free(pool);
  json_t *job = NULL;
  assert_string_equal(job_status_of(id, &job), "done");
  assert_true(took < 3.0);
  assert_int_equal(quick.calls, 1);
  assert_int_equal(json_integer_value(json_object_get(job, "attempts")), 2);
  json_decref(job);
}

/* Runs the suite for every queue URL: "local" over each metadata store (a fresh SQLite
 * file, and VISOR_TEST_WORKER_METADATA_URL when set), other backends once, over the last one. */
int main(void) {
  visor_error err = {0};
  char temp[] = "/tmp/visor-jobs-XXXXXX", sqlite_url[600];
  snprintf(sqlite_url, sizeof sqlite_url, "sqlite://%s/visor.db", mkdtemp(temp));
  const char *metadata[2] = {sqlite_url, getenv("VISOR_TEST_WORKER_METADATA_URL")};
  size_t metadata_count = metadata[1] && *metadata[1] ? 2 : 1;
  const char *urls = getenv("VISOR_TEST_WORKER_QUEUE_URLS"); /* a queue of its own */
  if (!urls || !*urls) urls = getenv("VISOR_TEST_QUEUE_URLS");
  char *list = strdup(urls && *urls ? urls : "local");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(relay_publishes_after_a_crash_and_twice_is_harmless),
      cmocka_unit_test(cancelled_job_leaves_the_outbox),
      cmocka_unit_test(worker_retries_then_succeeds),
      cmocka_unit_test(worker_fails_after_max_attempts),
      cmocka_unit_test(worker_fails_permanent_errors_at_once),
      cmocka_unit_test(heartbeat_keeps_a_long_task),
      cmocka_unit_test(dead_workers_task_is_taken_over),
  };
  const struct CMUnitTest units[] = {cmocka_unit_test(backoff_doubles_and_caps)};
  int failed = cmocka_run_group_tests_name("backoff", units, NULL, NULL);
  for (size_t m = 0; m < metadata_count; m++) {
    db = visor_db_open(metadata[m], &err);
    if (!db || visor_migrate(db, NULL, &err) != VISOR_OK) {
      fprintf(stderr, "cannot open %s: %s\n", metadata[m], err.message);
      visor_db_close(db);
      failed++;
      continue;
    }
    char *copy = strdup(list);
    for (char *save = NULL, *url = strtok_r(copy, " ", &save); url;
         url = strtok_r(NULL, " ", &save)) {
      if (strcmp(url, "local") != 0 && m + 1 < metadata_count) continue;
      queue = visor_queue_open(url, db, &err);
      if (!queue) {
        fprintf(stderr, "cannot open queue %s: %s\n", url, err.message);
        failed++;
        continue;
      }
      char name[1200];
      snprintf(name, sizeof name, "%s over %s", url, metadata[m]);
      failed += cmocka_run_group_tests_name(name, tests, NULL, NULL);
      visor_queue_close(queue);
    }
    free(copy);
    visor_db_close(db);
  }
  free(list);
  return failed;
}
