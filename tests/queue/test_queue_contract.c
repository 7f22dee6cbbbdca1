/* test_queue_contract.c: the queue contract (lease, visibility timeout, heartbeat, ack,
 * retry, bury, cancel, pause, counts, idempotent enqueue, concurrent leases), written once
 * and run against every queue URL in VISOR_TEST_QUEUE_URLS (default: local, on a fresh
 * SQLite metadata store). Each URL must name an empty queue (for redis://, a prefix no
 * other run uses: redis://127.0.0.1:56379/0?prefix=test-UNIQUE). */
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
#include "store/migrate.h"

static visor_db *db;
static visor_queue *queue;
static const char *queue_url;
static const char *const index_kind[] = {"index"};

static void drain(void) {
  visor_task task;
  int leased = 1;
  while (leased &&
         queue->ops->lease(queue, index_kind, 1, 60000, 0, &task, &leased, NULL) == VISOR_OK &&
         leased)
    queue->ops->ack(queue, &task, NULL);
}

static void lease_ack_and_exclusive(void **state) {
  (void)state;
  drain();
  visor_error err = {0};
  assert_int_equal(queue->ops->enqueue(queue, "task-1", "index", 0, &err), VISOR_OK);
  visor_task task, second;
  int leased = 0;
  const char *const other_kind[] = {"search"};
  assert_int_equal(queue->ops->lease(queue, other_kind, 1, 60000, 0, &task, &leased, &err),
                   VISOR_OK);
  assert_false(leased);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 0, &task, &leased, &err),
                   VISOR_OK);
  assert_true(leased);
  assert_string_equal(task.id, "task-1");
  assert_int_equal(task.deliveries, 1);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 0, &second, &leased, &err),
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
  assert_int_equal(queue->ops->enqueue(queue, "task-2", "index", 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 50, 0, &task, &leased, &err), VISOR_OK);
  assert_true(leased);
  visor_sleep_ms(120); /* the worker "crashed" */
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 0, &again, &leased, &err),
                   VISOR_OK);
  assert_true(leased);
  assert_string_equal(again.id, "task-2");
  assert_int_equal(again.deliveries, 2);
  assert_int_equal(queue->ops->ack(queue, &task, &err), VISOR_ERR_CONFLICT); /* stale lease */
  assert_int_equal(queue->ops->ack(queue, &again, &err), VISOR_OK);
}

static void retry_delays_and_bury(void **state) {
  (void)state;
  drain();
  visor_error err = {0};
  visor_task task;
  int leased = 0;
  assert_int_equal(queue->ops->enqueue(queue, "task-3", "index", 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 0, &task, &leased, &err),
                   VISOR_OK);
  assert_int_equal(queue->ops->retry(queue, &task, 150, "flaky", &err), VISOR_OK);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 0, &task, &leased, &err),
                   VISOR_OK);
  assert_false(leased); /* still delayed */
  visor_queue_counts counts;
  queue->ops->counts(queue, &counts, &err);
  assert_int_equal(counts.delayed, 1);
  visor_sleep_ms(200);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 0, &task, &leased, &err),
                   VISOR_OK);
  assert_true(leased);
  assert_int_equal(task.deliveries, 2);
  assert_int_equal(queue->ops->bury(queue, &task, "gave up", &err), VISOR_OK);
  queue->ops->counts(queue, &counts, &err);
  assert_int_equal(counts.dead, 1);
  /* Re-enqueue revives a dead task with fresh attempts. */
  assert_int_equal(queue->ops->enqueue(queue, "task-3", "index", 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 0, &task, &leased, &err),
                   VISOR_OK);
  assert_true(leased);
  assert_int_equal(task.deliveries, 1);
  queue->ops->ack(queue, &task, &err);
}

static void pause_cancel_and_order(void **state) {
  (void)state;
  drain();
  visor_error err = {0};
  visor_task task;
  int leased = 0, removed = 0;
  queue->ops->enqueue(queue, "task-a", "index", 0, &err);
  visor_sleep_ms(2);
  queue->ops->enqueue(queue, "task-b", "index", 0, &err);
  assert_int_equal(queue->ops->set_paused(queue, 1, &err), VISOR_OK);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 0, &task, &leased, &err),
                   VISOR_OK);
  assert_false(leased);
  visor_queue_counts counts;
  queue->ops->counts(queue, &counts, &err);
  assert_true(counts.paused);
  assert_int_equal(queue->ops->set_paused(queue, 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->cancel(queue, "task-a", &removed, &err), VISOR_OK);
  assert_true(removed);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 0, &task, &leased, &err),
                   VISOR_OK);
  assert_string_equal(task.id, "task-b");
  assert_int_equal(queue->ops->cancel(queue, "task-b", &removed, &err), VISOR_OK);
  assert_false(removed); /* leased tasks stay with their worker */
  queue->ops->ack(queue, &task, &err);
}

/* Leases one task of kinds (in that priority) and acks it; returns its id in id. */
static void lease_one(const char *const *kinds, size_t count, char *id, size_t size) {
  visor_error err = {0};
  visor_task task;
  int leased = 0;
  assert_int_equal(queue->ops->lease(queue, kinds, count, 60000, 0, &task, &leased, &err),
                   VISOR_OK);
  assert_true(leased);
  snprintf(id, size, "%s", task.id);
  assert_int_equal(queue->ops->ack(queue, &task, &err), VISOR_OK);
}

/* kinds are leased in the caller's order: a search task queued after index tasks (ready,
 * or whose lease ran out) still goes first; oldest first within a kind. */
static void kinds_lease_in_priority_order(void **state) {
  (void)state;
  drain();
  visor_error err = {0};
  const char *const search_first[] = {"search", "index"};
  const char *const index_first[] = {"index", "search"};
  char id[64];
  assert_int_equal(queue->ops->enqueue(queue, "prio-i1", "index", 0, &err), VISOR_OK);
  visor_sleep_ms(2);
  assert_int_equal(queue->ops->enqueue(queue, "prio-i2", "index", 0, &err), VISOR_OK);
  visor_sleep_ms(2);
  assert_int_equal(queue->ops->enqueue(queue, "prio-s1", "search", 0, &err), VISOR_OK);
  visor_sleep_ms(2);
  assert_int_equal(queue->ops->enqueue(queue, "prio-s2", "search", 0, &err), VISOR_OK);
  const char *expected[] = {"prio-s1", "prio-s2", "prio-i1", "prio-i2"};
  for (int i = 0; i < 4; i++) {
    lease_one(search_first, 2, id, sizeof id);
    assert_string_equal(id, expected[i]);
  }
  /* the caller's order, not a fixed one */
  assert_int_equal(queue->ops->enqueue(queue, "prio-s3", "search", 0, &err), VISOR_OK);
  visor_sleep_ms(2);
  assert_int_equal(queue->ops->enqueue(queue, "prio-i3", "index", 0, &err), VISOR_OK);
  lease_one(index_first, 2, id, sizeof id);
  assert_string_equal(id, "prio-i3");
  lease_one(index_first, 2, id, sizeof id);
  assert_string_equal(id, "prio-s3");
  /* an index task whose lease ran out does not go before a ready search */
  visor_task task;
  int leased = 0;
  assert_int_equal(queue->ops->enqueue(queue, "prio-i4", "index", 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 50, 0, &task, &leased, &err), VISOR_OK);
  assert_true(leased);
  visor_sleep_ms(120);
  assert_int_equal(queue->ops->enqueue(queue, "prio-s4", "search", 0, &err), VISOR_OK);
  lease_one(search_first, 2, id, sizeof id);
  assert_string_equal(id, "prio-s4");
  lease_one(search_first, 2, id, sizeof id);
  assert_string_equal(id, "prio-i4");
}

static void enqueue_is_idempotent(void **state) {
  (void)state;
  drain();
  visor_error err = {0};
  visor_task task, other;
  int leased = 0;
  assert_int_equal(queue->ops->enqueue(queue, "task-i", "index", 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->enqueue(queue, "task-i", "index", 0, &err), VISOR_OK);
  visor_queue_counts counts;
  assert_int_equal(queue->ops->counts(queue, &counts, &err), VISOR_OK);
  assert_int_equal(counts.ready, 1);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 0, &task, &leased, &err),
                   VISOR_OK);
  assert_true(leased);
  /* Published again while leased (a relay that sent twice): still one task. */
  assert_int_equal(queue->ops->enqueue(queue, "task-i", "index", 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 0, &other, &leased, &err),
                   VISOR_OK);
  assert_false(leased);
  assert_int_equal(queue->ops->ack(queue, &task, &err), VISOR_OK);
  assert_int_equal(queue->ops->counts(queue, &counts, &err), VISOR_OK);
  assert_int_equal(counts.ready + counts.leased + counts.delayed, 0);
}

static void heartbeat_keeps_the_lease(void **state) {
  (void)state;
  drain();
  visor_error err = {0};
  visor_task task, other;
  int leased = 0;
  assert_int_equal(queue->ops->enqueue(queue, "task-h", "index", 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 300, 0, &task, &leased, &err), VISOR_OK);
  assert_true(leased);
  for (int i = 0; i < 6; i++) { /* 600 ms of work, a heartbeat every 100 ms */
    visor_sleep_ms(100);
    assert_int_equal(queue->ops->extend(queue, &task, 300, &err), VISOR_OK);
    assert_int_equal(queue->ops->lease(queue, index_kind, 1, 300, 0, &other, &leased, &err),
                     VISOR_OK);
    assert_false(leased);
  }
  /* The worker stops heartbeating (killed): another one gets the task soon after. */
  double started = visor_monotonic_s();
  leased = 0;
  while (!leased && visor_monotonic_s() - started < 5) {
    visor_sleep_ms(50);
    assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 0, &other, &leased, &err),
                     VISOR_OK);
  }
  assert_true(leased);
  assert_true(visor_monotonic_s() - started < 2);
  assert_string_equal(other.id, "task-h");
  assert_int_equal(other.deliveries, 2);
  assert_int_equal(queue->ops->extend(queue, &task, 300, &err), VISOR_ERR_CONFLICT);
  assert_int_equal(queue->ops->ack(queue, &other, &err), VISOR_OK);
}

static void cancel_delayed_and_dead(void **state) {
  (void)state;
  drain();
  visor_error err = {0};
  visor_task task;
  int leased = 0, removed = 0;
  visor_queue_counts counts;
  assert_int_equal(queue->ops->enqueue(queue, "task-later", "index", 60000, &err), VISOR_OK);
  assert_int_equal(queue->ops->counts(queue, &counts, &err), VISOR_OK);
  assert_int_equal(counts.delayed, 1);
  assert_int_equal(queue->ops->cancel(queue, "task-later", &removed, &err), VISOR_OK);
  assert_true(removed);
  assert_int_equal(queue->ops->counts(queue, &counts, &err), VISOR_OK);
  assert_int_equal(counts.delayed, 0);
  assert_int_equal(queue->ops->enqueue(queue, "task-dead", "index", 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 0, &task, &leased, &err),
                   VISOR_OK);
  assert_true(leased);
  assert_int_equal(queue->ops->bury(queue, &task, "broken", &err), VISOR_OK);
  assert_int_equal(queue->ops->bury(queue, &task, "again", &err), VISOR_ERR_CONFLICT);
  assert_int_equal(queue->ops->counts(queue, &counts, &err), VISOR_OK);
  int64_t dead = counts.dead;
  assert_true(dead >= 1);
  assert_int_equal(queue->ops->cancel(queue, "task-dead", &removed, &err), VISOR_OK);
  assert_true(removed);
  assert_int_equal(queue->ops->counts(queue, &counts, &err), VISOR_OK);
  assert_int_equal(counts.dead, dead - 1);
  assert_int_equal(queue->ops->cancel(queue, "task-never", &removed, &err), VISOR_OK);
  assert_false(removed);
}

static void retry_now_then_reclaim(void **state) {
  (void)state;
  drain();
  visor_error err = {0};
  visor_task task, again;
  int leased = 0;
  assert_int_equal(queue->ops->enqueue(queue, "task-r", "index", 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 0, &task, &leased, &err),
                   VISOR_OK);
  assert_true(leased);
  assert_int_equal(queue->ops->retry(queue, &task, 0, "try again now", &err), VISOR_OK);
  assert_int_equal(queue->ops->retry(queue, &task, 0, "twice", &err), VISOR_ERR_CONFLICT);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 50, 0, &task, &leased, &err), VISOR_OK);
  assert_true(leased);
  assert_int_equal(task.deliveries, 2);
  visor_sleep_ms(120); /* this worker dies too */
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 0, &again, &leased, &err),
                   VISOR_OK);
  assert_true(leased);
  assert_string_equal(again.id, "task-r");
  assert_int_equal(again.deliveries, 3);
  assert_int_equal(queue->ops->retry(queue, &task, 0, "stale", &err), VISOR_ERR_CONFLICT);
  assert_int_equal(queue->ops->bury(queue, &task, "stale", &err), VISOR_ERR_CONFLICT);
  assert_int_equal(queue->ops->ack(queue, &again, &err), VISOR_OK);
}

/* Each state is counted, and a lease that ran out counts as ready again. */
static void counts_track_every_state(void **state) {
  (void)state;
  drain();
  visor_error err = {0};
  visor_queue_counts before, counts;
  assert_int_equal(queue->ops->counts(queue, &before, &err), VISOR_OK);
  visor_task task;
  int leased = 0, removed = 0;
  assert_int_equal(queue->ops->enqueue(queue, "count-dead", "index", 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 0, &task, &leased, &err),
                   VISOR_OK);
  assert_int_equal(queue->ops->bury(queue, &task, "x", &err), VISOR_OK);
  assert_int_equal(queue->ops->enqueue(queue, "count-leased", "index", 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 200, 0, &task, &leased, &err), VISOR_OK);
  assert_string_equal(task.id, "count-leased");
  assert_int_equal(queue->ops->enqueue(queue, "count-ready", "index", 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->enqueue(queue, "count-delayed", "search", 60000, &err), VISOR_OK);
  assert_int_equal(queue->ops->counts(queue, &counts, &err), VISOR_OK);
  assert_int_equal(counts.ready, 1);
  assert_int_equal(counts.delayed, 1);
  assert_int_equal(counts.leased, 1);
  assert_int_equal(counts.dead, before.dead + 1);
  visor_sleep_ms(300);
  assert_int_equal(queue->ops->counts(queue, &counts, &err), VISOR_OK);
  assert_int_equal(counts.ready, 2);
  assert_int_equal(counts.leased, 0);
  queue->ops->cancel(queue, "count-delayed", &removed, &err);
  assert_true(removed);
  queue->ops->cancel(queue, "count-dead", &removed, &err);
  assert_true(removed);
  drain();
}

/* Pause is the queue's, not the handle's: another process sees it. */
static void pause_is_shared(void **state) {
  (void)state;
  drain();
  visor_error err = {0};
  visor_queue *other = visor_queue_open(queue_url, db, &err);
  assert_non_null(other);
  visor_task task;
  int leased = 0;
  visor_queue_counts counts;
  assert_int_equal(queue->ops->enqueue(queue, "task-p", "index", 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->set_paused(queue, 1, &err), VISOR_OK);
  assert_int_equal(other->ops->counts(other, &counts, &err), VISOR_OK);
  assert_true(counts.paused);
  assert_int_equal(other->ops->lease(other, index_kind, 1, 60000, 0, &task, &leased, &err),
                   VISOR_OK);
  assert_false(leased);
  assert_int_equal(other->ops->set_paused(other, 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->counts(queue, &counts, &err), VISOR_OK);
  assert_false(counts.paused);
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 0, &task, &leased, &err),
                   VISOR_OK);
  assert_true(leased);
  /* A task leased through one handle is acked through another (a worker's heartbeat and
   * its ack may use different connections). */
  assert_int_equal(other->ops->ack(other, &task, &err), VISOR_OK);
  visor_queue_close(other);
}

/* Several handles (as several processes would) with several threads each lease and ack
 * hundreds of tasks: every task is run exactly once. */
#define RACE_TASKS 300
#define RACE_THREADS 4
static visor_queue *race_queues[2];
static int race_seen[RACE_TASKS];
static pthread_mutex_t race_lock = PTHREAD_MUTEX_INITIALIZER;

static void *race_worker(void *arg) {
  visor_queue *q = race_queues[(intptr_t)arg % 2];
  const char *const kinds[] = {"race"};
  int idle = 0;
  while (idle < 20) {
    visor_task task;
    int leased = 0;
    visor_error err = {0};
    if (q->ops->lease(q, kinds, 1, 60000, 0, &task, &leased, &err) != VISOR_OK || !leased) {
      idle++;
      visor_sleep_ms(5);
      continue;
    }
    idle = 0;
    int n = atoi(task.id + 5);
    pthread_mutex_lock(&race_lock);
    if (n >= 0 && n < RACE_TASKS) race_seen[n]++;
    pthread_mutex_unlock(&race_lock);
    q->ops->ack(q, &task, &err);
  }
  return NULL;
}

static void concurrent_leases_never_share(void **state) {
  (void)state;
  visor_error err = {0};
  race_queues[0] = queue;
  race_queues[1] = visor_queue_open(queue_url, db, &err);
  assert_non_null(race_queues[1]);
  for (int i = 0; i < RACE_TASKS; i++) {
    char id[32];
    snprintf(id, sizeof id, "race-%d", i);
    assert_int_equal(queue->ops->enqueue(queue, id, "race", 0, &err), VISOR_OK);
  }
  memset(race_seen, 0, sizeof race_seen);
  pthread_t threads[RACE_THREADS];
  for (intptr_t i = 0; i < RACE_THREADS; i++)
    pthread_create(&threads[i], NULL, race_worker, (void *)i);
  for (int i = 0; i < RACE_THREADS; i++)
    pthread_join(threads[i], NULL);
  for (int i = 0; i < RACE_TASKS; i++)
    if (race_seen[i] != 1) fail_msg("task race-%d ran %d times", i, race_seen[i]);
  visor_queue_close(race_queues[1]);
}

/* Runs the suite for every queue URL: "local" over each metadata store (a fresh SQLite
 * file, and VISOR_TEST_QUEUE_METADATA_URL when set), other backends once, over the last one. */
int main(void) {
  visor_error err = {0};
  char temp[] = "/tmp/visor-queue-XXXXXX", sqlite_url[600];
  snprintf(sqlite_url, sizeof sqlite_url, "sqlite://%s/visor.db", mkdtemp(temp));
  const char *metadata[2] = {sqlite_url, getenv("VISOR_TEST_QUEUE_METADATA_URL")};
  size_t metadata_count = metadata[1] && *metadata[1] ? 2 : 1;
  const char *urls = getenv("VISOR_TEST_QUEUE_URLS");
  char *list = strdup(urls && *urls ? urls : "local");
  const struct CMUnitTest contract[] = {
      cmocka_unit_test(lease_ack_and_exclusive),
      cmocka_unit_test(expired_lease_comes_back),
      cmocka_unit_test(retry_delays_and_bury),
      cmocka_unit_test(pause_cancel_and_order),
      cmocka_unit_test(enqueue_is_idempotent),
      cmocka_unit_test(heartbeat_keeps_the_lease),
      cmocka_unit_test(cancel_delayed_and_dead),
      cmocka_unit_test(retry_now_then_reclaim),
      cmocka_unit_test(counts_track_every_state),
      cmocka_unit_test(pause_is_shared),
      cmocka_unit_test(concurrent_leases_never_share),
      cmocka_unit_test(kinds_lease_in_priority_order),
  };
  int failed = 0;
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
      queue_url = url;
      queue = visor_queue_open(url, db, &err);
      if (!queue) {
        fprintf(stderr, "cannot open queue %s: %s\n", url, err.message);
        failed++;
        continue;
      }
      char name[1200];
      snprintf(name, sizeof name, "%s over %s", url, metadata[m]);
      failed += cmocka_run_group_tests_name(name, contract, NULL, NULL);
      visor_queue_close(queue);
    }
    free(copy);
    visor_db_close(db);
  }
  free(list);
  return failed;
}
