/* test_queue_contract.c: the queue contract (lease, visibility timeout, ack, retry,
 * bury, cancel, pause, counts), written once and run against every queue URL in
 * VISOR_TEST_QUEUE_URLS (default: local, on a fresh SQLite metadata store); then the
 * worker pool: handlers, retries with backoff, dead after max attempts, permanent
 * failures, cancellation. */
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
#include "queue/queue.h"
#include "queue/worker.h"
#include "store/jobs.h"
#include "store/migrate.h"

static visor_db *db;
static visor_queue *queue;
static const char *const index_kind[] = {"index"};

static void drain(void) {
  visor_task task;
  int leased = 1;
  while (leased &&
         queue->ops->lease(queue, index_kind, 1, 60000, &task, &leased, NULL) == VISOR_OK && leased)
    queue->ops->ack(queue, &task, NULL);
}

static void lease_ack_and_exclusive(void **state) {
  (void)state;
  drain();
  visor_error err = {0};
  assert_int_equal(queue->ops->enqueue(queue, NULL, "task-1", "index", 0, &err), VISOR_OK);
  visor_task task, second;
  int leased = 0;
  const char *const other_kind[] = {"search"};
  assert_int_equal(queue->ops->lease(queue, other_kind, 1, 60000, &task, &leased, &err), VISOR_OK);
  assert_false(leased);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, &task, &leased, &err), VISOR_OK);
  assert_true(leased);
  assert_string_equal(task.id, "task-1");
  assert_int_equal(task.attempts, 1);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, &second, &leased, &err),
                   VISOR_OK);
  assert_false(leased); /* nobody else gets a leased task */
  visor_queue_counts counts;
  assert_int_equal(queue->ops->counts(queue, &counts, &err), VISOR_OK);
  assert_int_equal(counts.leased, 1);
  assert_int_equal(queue->ops->ack(queue, &task, &err), VISOR_OK);
  assert_int_equal(queue->ops->ack(queue, &task, &err), VISOR_ERR_CONFLICT);
  assert_int_equal(queue->ops->counts(queue, &counts, &err), VISOR_OK);
  assert_int_equal(counts.leased + counts.ready, 0);
}

static void expired_lease_comes_back(void **state) {
  (void)state;
  drain();
  visor_error err = {0};
  visor_task task, again;
  int leased = 0;
  assert_int_equal(queue->ops->enqueue(queue, NULL, "task-2", "index", 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 50, &task, &leased, &err), VISOR_OK);
  assert_true(leased);
  visor_sleep_ms(120); /* the worker "crashed" */
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, &again, &leased, &err), VISOR_OK);
  assert_true(leased);
  assert_string_equal(again.id, "task-2");
  assert_int_equal(again.attempts, 2);
  assert_int_equal(queue->ops->ack(queue, &task, &err), VISOR_ERR_CONFLICT); /* stale lease */
  assert_int_equal(queue->ops->ack(queue, &again, &err), VISOR_OK);
}

static void retry_delays_and_bury(void **state) {
  (void)state;
  drain();
  visor_error err = {0};
  visor_task task;
  int leased = 0;
  assert_int_equal(queue->ops->enqueue(queue, NULL, "task-3", "index", 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, &task, &leased, &err), VISOR_OK);
  assert_int_equal(queue->ops->retry(queue, &task, 150, "flaky", &err), VISOR_OK);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, &task, &leased, &err), VISOR_OK);
  assert_false(leased); /* still delayed */
  visor_queue_counts counts;
  queue->ops->counts(queue, &counts, &err);
  assert_int_equal(counts.delayed, 1);
  visor_sleep_ms(200);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, &task, &leased, &err), VISOR_OK);
  assert_true(leased);
  assert_int_equal(task.attempts, 2);
  assert_int_equal(queue->ops->bury(queue, &task, "gave up", &err), VISOR_OK);
  queue->ops->counts(queue, &counts, &err);
  assert_int_equal(counts.dead, 1);
  /* Re-enqueue revives a dead task with fresh attempts. */
  assert_int_equal(queue->ops->enqueue(queue, NULL, "task-3", "index", 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, &task, &leased, &err), VISOR_OK);
  assert_true(leased);
  assert_int_equal(task.attempts, 1);
  queue->ops->ack(queue, &task, &err);
}

static void pause_cancel_and_order(void **state) {
  (void)state;
  drain();
  visor_error err = {0};
  visor_task task;
  int leased = 0, removed = 0;
  queue->ops->enqueue(queue, NULL, "task-a", "index", 0, &err);
  visor_sleep_ms(2);
  queue->ops->enqueue(queue, NULL, "task-b", "index", 0, &err);
  assert_int_equal(queue->ops->set_paused(queue, 1, &err), VISOR_OK);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, &task, &leased, &err), VISOR_OK);
  assert_false(leased);
  visor_queue_counts counts;
  queue->ops->counts(queue, &counts, &err);
  assert_true(counts.paused);
  assert_int_equal(queue->ops->set_paused(queue, 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->cancel(queue, "task-a", &removed, &err), VISOR_OK);
  assert_true(removed);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, &task, &leased, &err), VISOR_OK);
  assert_string_equal(task.id, "task-b");
  assert_int_equal(queue->ops->cancel(queue, "task-b", &removed, &err), VISOR_OK);
  assert_false(removed); /* leased tasks stay with their worker */
  queue->ops->ack(queue, &task, &err);
}

/* ---- worker pool ---------------------------------------------------------------- */

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
  visor_uuid_new(id);
  visor_db_conn *conn = visor_db_acquire(db, &err);
  assert_int_equal(visor_job_insert(conn, id, "work", NULL, NULL, max_attempts, &err), VISOR_OK);
  assert_int_equal(queue->ops->enqueue(queue, conn, id, "work", 0, &err), VISOR_OK);
  visor_db_release(conn);
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

int main(void) {
  char temp[] = "/tmp/visor-queue-XXXXXX";
  char db_url[600];
  snprintf(db_url, sizeof db_url, "sqlite://%s/visor.db", mkdtemp(temp));
  visor_error err = {0};
  db = visor_db_open(db_url, &err);
  if (!db || visor_migrate(db, NULL, &err) != VISOR_OK) {
    fprintf(stderr, "cannot open %s: %s\n", db_url, err.message);
    return 1;
  }
  const char *urls = getenv("VISOR_TEST_QUEUE_URLS");
  char *list = strdup(urls && *urls ? urls : "local");
  const struct CMUnitTest contract[] = {
      cmocka_unit_test(lease_ack_and_exclusive),
      cmocka_unit_test(expired_lease_comes_back),
      cmocka_unit_test(retry_delays_and_bury),
      cmocka_unit_test(pause_cancel_and_order),
      cmocka_unit_test(worker_retries_then_succeeds),
      cmocka_unit_test(worker_fails_after_max_attempts),
      cmocka_unit_test(worker_fails_permanent_errors_at_once),
  };
  const struct CMUnitTest units[] = {cmocka_unit_test(backoff_doubles_and_caps)};
  int failed = cmocka_run_group_tests_name("worker", units, NULL, NULL);
  for (char *save = NULL, *url = strtok_r(list, " ", &save); url;
       url = strtok_r(NULL, " ", &save)) {
    queue = visor_queue_open(url, db, &err);
    if (!queue) {
      fprintf(stderr, "cannot open queue %s: %s\n", url, err.message);
      failed++;
      continue;
    }
    failed += cmocka_run_group_tests_name(url, contract, NULL, NULL);
    visor_queue_close(queue);
  }
  free(list);
  visor_db_close(db);
  return failed;
}
