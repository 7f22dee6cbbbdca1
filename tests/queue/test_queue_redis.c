/* test_queue_redis.c: what only the Redis queue has to show: a Redis that crashes (kill -9)
 * and comes back loses no task (AOF, appendfsync always), the handle reconnects by itself,
 * calls made while Redis is down or hung fail with VISOR_ERR_UNAVAILABLE within their
 * timeout instead of hanging, and a blocking lease wakes up on an enqueue or a due delayed
 * task. It runs its own redis-server as a child on a free loopback port (in a temp dir), so
 * it never disturbs the shared test server. Skipped (77) unless VISOR_TEST_QUEUE_URLS names a
 * redis:// URL (the machine has Redis) or VISOR_TEST_REDIS=1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/clock.h"
#include "queue/queue.h"

static char dir[64];
static int port;
static pid_t server = -1;
static char url[128];
static const char *const index_kind[] = {"index"};

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
      getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
    if (fd >= 0) close(fd);
    return 0;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

static int answers(void) {
  struct timeval tv = {.tv_sec = 0, .tv_usec = 300000};
  redisContext *ctx = redisConnectWithTimeout("127.0.0.1", port, tv);
  int ok = 0;
  if (ctx && !ctx->err) {
    redisReply *reply = redisCommand(ctx, "PING");
    ok = reply && reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "PONG") == 0;
    if (reply) freeReplyObject(reply);
  }
  if (ctx) redisFree(ctx);
  return ok;
}

/* Starts redis-server in dir (its AOF there) and waits until it answers. */
static int server_start(void) {
  char port_text[16], log_path[128];
  snprintf(port_text, sizeof port_text, "%d", port);
  snprintf(log_path, sizeof log_path, "%s/redis.log", dir);
  server = fork();
  if (server < 0) return 0;
  if (server == 0) {
    FILE *log = freopen(log_path, "a", stdout);
    (void)log;
    dup2(STDOUT_FILENO, STDERR_FILENO);
    execlp("redis-server", "redis-server", "--port", port_text, "--bind", "127.0.0.1", "--dir", dir,
           "--save", "", "--appendonly", "yes", "--appendfsync", "always", (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 200; i++) { /* 10 s */
    if (answers()) return 1;
    int status;
    if (waitpid(server, &status, WNOHANG) == server) {
      server = -1;
      return 0;
    }
    visor_sleep_ms(50);
  }
  return 0;
}

static void server_kill(int signal_number) {
  if (server <= 0) return;
  kill(server, signal_number);
  int status;
  waitpid(server, &status, 0);
  server = -1;
}

static void stop_at_exit(void) {
  if (server > 0) kill(server, SIGCONT);
  server_kill(SIGKILL);
}

/* Redis answers LOADING while it reads its AOF back: retry a few times. */
static visor_code counts_when_up(visor_queue *queue, visor_queue_counts *counts) {
  visor_error err = {0};
  visor_code code = VISOR_ERR_UNAVAILABLE;
  for (int i = 0; i < 50 && code == VISOR_ERR_UNAVAILABLE; i++) {
    code = queue->ops->counts(queue, counts, &err);
    if (code == VISOR_ERR_UNAVAILABLE) visor_sleep_ms(100);
  }
  if (code != VISOR_OK) print_error("counts: %s\n", err.message);
  return code;
}

static void assert_fails_fast(visor_code code, double started, const visor_error *err) {
  double took = visor_monotonic_s() - started;
  if (code != VISOR_ERR_UNAVAILABLE || took > 2.0)
    fail_msg("expected unavailable within 2 s, got %s after %.2f s: %s", visor_code_name(code),
             took, err->message);
  assert_non_null(strstr(err->message, "127.0.0.1"));
}

static void crash_and_restart_loses_nothing(void **state) {
  (void)state;
  visor_error err = {0};
  visor_queue *queue = visor_queue_open(url, NULL, &err);
  if (!queue) fail_msg("open %s: %s", url, err.message);
  visor_task leased_task, task;
  int leased = 0;
  assert_int_equal(queue->ops->enqueue(queue, "ready-1", "index", 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->enqueue(queue, "ready-2", "index", 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->enqueue(queue, "leased-1", "search", 0, &err), VISOR_OK);
  assert_int_equal(queue->ops->enqueue(queue, "delayed-1", "index", 1500, &err), VISOR_OK);
  const char *const search_kind[] = {"search"};
  assert_int_equal(queue->ops->lease(queue, search_kind, 1, 60000, 0, &leased_task, &leased, &err),
                   VISOR_OK);
  assert_true(leased);

  server_kill(SIGKILL); /* a crash: only what was fsynced survives */
  double started = visor_monotonic_s();
  visor_code code = queue->ops->enqueue(queue, "while-down", "index", 0, &err);
  assert_fails_fast(code, started, &err);
  started = visor_monotonic_s();
  code = queue->ops->lease(queue, index_kind, 1, 60000, 1000, &task, &leased, &err);
  assert_fails_fast(code, started, &err);
  assert_false(leased);
  started = visor_monotonic_s();
  code = queue->ops->extend(queue, &leased_task, 60000, &err);
  assert_fails_fast(code, started, &err);
  visor_error open_err = {0};
  started = visor_monotonic_s();
  assert_null(visor_queue_open(url, NULL, &open_err));
  assert_fails_fast(open_err.code, started, &open_err);

  assert_true(server_start());
  visor_queue_counts counts;
  assert_int_equal(counts_when_up(queue, &counts), VISOR_OK);
  assert_int_equal(counts.ready, 2);
  assert_int_equal(counts.delayed, 1);
  assert_int_equal(counts.leased, 1);
  /* The worker that held a lease through the crash still holds it. */
  assert_int_equal(queue->ops->extend(queue, &leased_task, 60000, &err), VISOR_OK);
  assert_int_equal(queue->ops->ack(queue, &leased_task, &err), VISOR_OK);
  for (int i = 1; i <= 2; i++) {
    assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 0, &task, &leased, &err),
                     VISOR_OK);
    assert_true(leased);
    char expected[16];
    snprintf(expected, sizeof expected, "ready-%d", i);
    assert_string_equal(task.id, expected);
    assert_int_equal(queue->ops->ack(queue, &task, &err), VISOR_OK);
  }
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 3000, &task, &leased, &err),
                   VISOR_OK);
  assert_true(leased);
  assert_string_equal(task.id, "delayed-1");
  assert_int_equal(queue->ops->ack(queue, &task, &err), VISOR_OK);
  assert_int_equal(queue->ops->counts(queue, &counts, &err), VISOR_OK);
  assert_int_equal(counts.ready + counts.delayed + counts.leased + counts.dead, 0);
  visor_queue_close(queue);
}

/* A Redis that stops answering (SIGSTOP) makes calls time out, not hang. */
static void hung_server_times_out(void **state) {
  (void)state;
  visor_error err = {0};
  visor_queue *queue = visor_queue_open(url, NULL, &err);
  if (!queue) fail_msg("open %s: %s", url, err.message);
  visor_queue_counts counts;
  assert_int_equal(queue->ops->counts(queue, &counts, &err), VISOR_OK);
  kill(server, SIGSTOP);
  double started = visor_monotonic_s();
  visor_code code = queue->ops->enqueue(queue, "hung", "index", 0, &err);
  double took = visor_monotonic_s() - started;
  kill(server, SIGCONT);
  assert_int_equal(code, VISOR_ERR_UNAVAILABLE);
  assert_true(took < 5.0);
  /* Back: the broken connection was dropped, the next call works. */
  int removed = 0;
  assert_int_equal(queue->ops->cancel(queue, "hung", &removed, &err), VISOR_OK);
  visor_queue_close(queue);
}

typedef struct later_enqueue {
  visor_queue *queue;
  int64_t after_ms;
} later_enqueue;

static void *enqueue_later(void *arg) {
  later_enqueue *later = arg;
  visor_sleep_ms(later->after_ms);
  later->queue->ops->enqueue(later->queue, "woken", "index", 0, NULL);
  return NULL;
}

static void blocking_lease_wakes_up(void **state) {
  (void)state;
  visor_error err = {0};
  visor_queue *queue = visor_queue_open(url, NULL, &err);
  visor_queue *producer = visor_queue_open(url, NULL, &err);
  assert_non_null(queue);
  assert_non_null(producer);
  visor_task task;
  int leased = 0;
  /* Nothing comes: the lease returns at its block time. */
  double started = visor_monotonic_s();
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 300, &task, &leased, &err),
                   VISOR_OK);
  double took = visor_monotonic_s() - started;
  assert_false(leased);
  assert_true(took >= 0.25 && took < 1.0);
  /* An enqueue from another process wakes a waiting lease at once. */
  later_enqueue later = {producer, 200};
  pthread_t thread;
  pthread_create(&thread, NULL, enqueue_later, &later);
  started = visor_monotonic_s();
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 60000, 5000, &task, &leased, &err),
                   VISOR_OK);
  took = visor_monotonic_s() - started;
  pthread_join(thread, NULL);
  assert_true(leased);
  assert_string_equal(task.id, "woken");
  assert_true(took < 1.0);
  assert_int_equal(queue->ops->ack(queue, &task, &err), VISOR_OK);
  /* A delayed task wakes it when it is due, and so does a lease that runs out. */
  assert_int_equal(producer->ops->enqueue(producer, "due", "index", 300, &err), VISOR_OK);
  started = visor_monotonic_s();
  assert_int_equal(queue->ops->lease(queue, index_kind, 1, 400, 5000, &task, &leased, &err),
                   VISOR_OK);
  took = visor_monotonic_s() - started;
  assert_true(leased);
  assert_string_equal(task.id, "due");
  assert_true(took >= 0.25 && took < 1.0);
  visor_task again;
  started = visor_monotonic_s();
  assert_int_equal(
      producer->ops->lease(producer, index_kind, 1, 60000, 5000, &again, &leased, &err), VISOR_OK);
  took = visor_monotonic_s() - started;
  assert_true(leased);
  assert_string_equal(again.id, "due");
  assert_int_equal(again.deliveries, 2);
  assert_true(took >= 0.3 && took < 1.0);
  assert_int_equal(queue->ops->ack(queue, &task, &err), VISOR_ERR_CONFLICT);
  assert_int_equal(producer->ops->ack(producer, &again, &err), VISOR_OK);
  visor_queue_close(producer);
  visor_queue_close(queue);
}

static void urls_are_checked(void **state) {
  (void)state;
  visor_error err = {0};
  assert_true(visor_queue_url_supported("redis://127.0.0.1:6379/0", &err));
  assert_false(visor_queue_url_supported("rediss://h", &err));
  assert_null(visor_queue_open("redis://127.0.0.1:99999/0", NULL, &err));
  assert_int_equal(err.code, VISOR_ERR_INVALID);
  assert_null(visor_queue_open("redis://127.0.0.1:6379/zero", NULL, &err));
  assert_int_equal(err.code, VISOR_ERR_INVALID);
  assert_null(visor_queue_open("redis://127.0.0.1:6379/0?colour=blue", NULL, &err));
  assert_int_equal(err.code, VISOR_ERR_INVALID);
  assert_null(visor_queue_open("redis://127.0.0.1:6379/0?prefix=", NULL, &err));
  assert_int_equal(err.code, VISOR_ERR_INVALID);
  char wrong_password[160];
  snprintf(wrong_password, sizeof wrong_password, "redis://:secret@127.0.0.1:%d/0", port);
  assert_null(visor_queue_open(wrong_password, NULL, &err));
  assert_true(err.code == VISOR_ERR_INVALID || err.code == VISOR_ERR_INTERNAL);
  char other_db[160];
  snprintf(other_db, sizeof other_db, "redis://127.0.0.1:%d/3?prefix=elsewhere", port);
  visor_queue *queue = visor_queue_open(other_db, NULL, &err);
  if (!queue) fail_msg("open %s: %s", other_db, err.message);
  visor_queue_counts counts;
  assert_int_equal(queue->ops->counts(queue, &counts, &err), VISOR_OK);
  visor_queue_close(queue);
}

static int wanted(void) {
  const char *force = getenv("VISOR_TEST_REDIS");
  const char *urls = getenv("VISOR_TEST_QUEUE_URLS");
  return (force && strcmp(force, "1") == 0) || (urls && strstr(urls, "redis://"));
}

int main(void) {
  if (!wanted()) {
    fprintf(stderr, "skipped: VISOR_TEST_QUEUE_URLS names no redis:// URL\n");
    return 77;
  }
  snprintf(dir, sizeof dir, "/tmp/visor-redis-drill-XXXXXX");
  port = free_port();
  if (!mkdtemp(dir) || !port) {
    fprintf(stderr, "no temp dir or free port\n");
    return 1;
  }
  atexit(stop_at_exit);
  if (!server_start()) {
    fprintf(stderr, "redis-server did not start on port %d (log in %s)\n", port, dir);
    return 1;
  }
  snprintf(url, sizeof url, "redis://127.0.0.1:%d/0?prefix=drill", port);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(urls_are_checked),
      cmocka_unit_test(blocking_lease_wakes_up),
      cmocka_unit_test(hung_server_times_out),
      cmocka_unit_test(crash_and_restart_loses_nothing),
  };
  int failed = cmocka_run_group_tests_name("redis queue", tests, NULL, NULL);
  server_kill(SIGTERM);
  char command[128];
  snprintf(command, sizeof command, "rm -rf '%s'", dir);
  if (failed == 0 && system(command) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return failed;
}
