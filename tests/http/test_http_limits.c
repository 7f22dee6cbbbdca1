/* test_http_limits.c: the HTTP server against hostile and slow clients, over raw sockets on
 * loopback: the connection cap per client address and in total, the total deadlines for
 * headers and for the body (a trickle is cut with 408), parked requests (respond later)
 * holding no worker thread while probes answer at once, and the errors the HTTP library
 * would answer itself (414, 431, bad chunked encoding, a bad Content-Length) coming as one
 * well-formed JSON answer. Slow clients connect from 127.0.0.2 (still loopback) so that
 * the per-address cap does not count the probe from 127.0.0.1. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "http/http.h"
#include "raw_client.h"

/* GET path on a fresh connection from 127.0.0.1; returns the status, *seconds the time. */
static int timed_get(int port, const char *path, double *seconds) {
  double started = visor_monotonic_s();
  int fd = raw_connect(port, NULL);
  if (fd < 0) return -1;
  char request[256], answer[4096];
  int len = snprintf(request, sizeof request,
                     "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
  int status = -1, closed = 0;
  if (send_all(fd, request, (size_t)len) == 0 &&
      read_until_close(fd, answer, sizeof answer, 5.0, &closed) > 12)
    status = atoi(answer + 9);
  close(fd);
  *seconds = visor_monotonic_s() - started;
  return status;
}

/* ---- the server ---------------------------------------------------------------------- */

static void hello(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)req, (void)ctx;
  visor_http_respond_json(res, 200, json_pack("{s:s}", "hello", "world"));
}

static void body_length(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)ctx;
  size_t len = 0;
  visor_http_body(req, &len);
  visor_http_respond_json(res, 200, json_pack("{s:I}", "length", (json_int_t)len));
}

/* /wait?s=N parks until `ready` is set (and the server woken) or N seconds. */
static atomic_int ready;
static atomic_int rechecks_off_worker;

static int wait_recheck(visor_http_request *req, visor_http_response *res, void *ctx, int last) {
  (void)req, (void)ctx;
  atomic_fetch_add(&rechecks_off_worker, 1);
  if (!atomic_load(&ready) && !last) return 0;
  visor_http_respond_json(res, 200, json_pack("{s:b}", "ready", atomic_load(&ready)));
  return 1;
}

static void wait_route(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)ctx;
  const char *s = visor_http_query(req, "s");
  visor_http_set_header(res, "X-Parked", "yes");
  visor_http_respond_later(req, res, s ? atof(s) : 1.0, 0, wait_recheck, NULL, NULL);
}

static visor_http_server *start(visor_http_config config, int *port) {
  config.host = "127.0.0.1";
  visor_error err = {0};
  visor_http_server *server = visor_http_server_new(&config, &err);
  assert_non_null(server);
  visor_route_options small = {.max_body = 1024};
  visor_route_options probe = {.no_rate_limit = 1};
  assert_int_equal(visor_http_route(server, "GET", "/hello", hello, NULL, NULL, &err), VISOR_OK);
  assert_int_equal(
      visor_http_route(server, "GET", "/healthz", visor_http_healthz_handler, NULL, &probe, &err),
      VISOR_OK);
  assert_int_equal(visor_http_route(server, "POST", "/small", body_length, NULL, &small, &err),
                   VISOR_OK);
  assert_int_equal(visor_http_route(server, "GET", "/wait", wait_route, NULL, NULL, &err),
                   VISOR_OK);
  assert_int_equal(visor_http_start(server, &err), VISOR_OK);
  *port = visor_http_port(server);
  return server;
}

static void stop(visor_http_server *server) {
  visor_http_stop(server, 2000);
  visor_http_server_free(server);
  visor_metrics_reset();
}

/* ---- errors the HTTP library would answer itself ------------------------------------ */

static void test_library_errors_are_json(void **state) {
  (void)state;
  int port;
  visor_http_server *server = start((visor_http_config){.threads = 2}, &port);
  static char request[400 * 1024], answer[64 * 1024];

  /* a 20 KB request target: 414 */
  int len = snprintf(request, sizeof request, "GET /hello?q=");
  memset(request + len, 'a', 20000);
  len += 20000;
  len += snprintf(request + len, sizeof request - (size_t)len, " HTTP/1.1\r\nHost: x\r\n\r\n");
  exchange(port, request, (size_t)len, answer, sizeof answer);
  if (getenv("VISOR_TEST_DEBUG")) fprintf(stderr, "414:\n%s\n", answer);
  assert_one_json_error(answer, 414);

  /* 40 KB of headers: 431 */
  len = snprintf(request, sizeof request, "GET /hello HTTP/1.1\r\nHost: x\r\n");
  for (int i = 0; i < 40; i++) {
    len += snprintf(request + len, sizeof request - (size_t)len, "X-Big-%d: ", i);
    memset(request + len, 'b', 1000);
    len += 1000;
    len += snprintf(request + len, sizeof request - (size_t)len, "\r\n");
  }
  len += snprintf(request + len, sizeof request - (size_t)len, "\r\n");
  exchange(port, request, (size_t)len, answer, sizeof answer);
  if (getenv("VISOR_TEST_DEBUG")) fprintf(stderr, "431:\n%s\n", answer);
  assert_one_json_error(answer, 431);

  /* 300 KB of headers, past the library's own memory: still one JSON answer */
  len = snprintf(request, sizeof request, "GET /hello HTTP/1.1\r\nHost: x\r\n");
  for (int i = 0; i < 300; i++) {
    len += snprintf(request + len, sizeof request - (size_t)len, "X-Big-%d: ", i);
    memset(request + len, 'c', 1000);
    len += 1000;
    len += snprintf(request + len, sizeof request - (size_t)len, "\r\n");
  }
  len += snprintf(request + len, sizeof request - (size_t)len, "\r\n");
  exchange(port, request, (size_t)len, answer, sizeof answer);
  if (getenv("VISOR_TEST_DEBUG")) fprintf(stderr, "huge:\n%s\n", answer);
  assert_one_json_error(answer, 431); /* past the library's own memory: Visor's framing */

  /* bad chunked encoding: 400 */
  const char *chunked = "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                        "Content-Type: text/plain\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
  exchange(port, chunked, strlen(chunked), answer, sizeof answer);
  if (getenv("VISOR_TEST_DEBUG")) fprintf(stderr, "chunked:\n%s\n", answer);
  assert_one_json_error(answer, 400);

  /* a Content-Length that is not a number: 400, once */
  const char *length = "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n"
                       "Content-Type: text/plain\r\n\r\nhello";
  exchange(port, length, strlen(length), answer, sizeof answer);
  if (getenv("VISOR_TEST_DEBUG")) fprintf(stderr, "length:\n%s\n", answer);
  assert_one_json_error(answer, 400); /* libmicrohttpd alone would send its head twice */

  /* and a good request still works */
  double seconds;
  assert_int_equal(timed_get(port, "/hello", &seconds), 200);
  stop(server);
}

/* ---- slow clients ---------------------------------------------------------------------- */

static void test_slow_headers(void **state) {
  (void)state;
  int port;
  visor_http_server *server = start((visor_http_config){.threads = 2,
                                                        .max_connections = 32,
                                                        .max_connections_per_ip = 16,
                                                        .header_timeout_s = 3,
                                                        .body_timeout_s = 2},
                                    &port);
  enum { SLOW = 40 };
  int fds[SLOW];
  double opened = visor_monotonic_s();
  for (int i = 0; i < SLOW; i++) {
    fds[i] = raw_connect(port, "127.0.0.2");
    assert_true(fds[i] >= 0);
    send_all(fds[i], "GET /hello HTTP/1.1\r\n", 21);
  }
  /* a header line every second from each; the probe from another address answers fast */
  for (int round = 0; round < 3; round++) {
    visor_sleep_ms(300);
    double seconds = 0;
    int status = timed_get(port, "/healthz", &seconds);
    if (getenv("VISOR_TEST_DEBUG")) fprintf(stderr, "slow clients: /healthz %.4f s\n", seconds);
    if (status != 200 || seconds >= 1.0)
      fail_msg("/healthz: status %d in %.3f s with %d slow clients", status, seconds, SLOW);
    visor_sleep_ms(700);
    for (int i = 0; i < SLOW; i++)
      send(fds[i], "X-Slow: 1\r\n", 11, MSG_NOSIGNAL);
  }
  /* the header deadline (3 s) cut every slow client that got in, with a 408 */
  int cut_408 = 0, closed_count = 0;
  for (int i = 0; i < SLOW; i++) {
    char answer[2048];
    int closed = 0;
    double left = opened + 3.0 + 1.5 - visor_monotonic_s();
    read_until_close(fds[i], answer, sizeof answer, left > 0.1 ? left : 0.1, &closed);
    closed_count += closed;
    if (strncmp(answer, "HTTP/1.1 408 ", 13) == 0) {
      cut_408++;
      assert_non_null(strstr(answer, "\"request_timeout\""));
    }
    close(fds[i]);
  }
  if (closed_count != SLOW)
    fail_msg("only %d of %d slow clients closed in time", closed_count, SLOW);
  if (getenv("VISOR_TEST_DEBUG"))
    fprintf(stderr, "slow clients: %d got 408, %d closed by %.2f s\n", cut_408, closed_count,
            visor_monotonic_s() - opened);
  if (cut_408 < 1 || cut_408 > 16) fail_msg("%d slow clients got 408 (cap 16)", cut_408);
  stop(server);
}

static void test_slow_body(void **state) {
  (void)state;
  int port;
  visor_http_server *server =
      start((visor_http_config){.threads = 2, .header_timeout_s = 3, .body_timeout_s = 2}, &port);
  int fd = raw_connect(port, NULL);
  assert_true(fd >= 0);
  const char *head = "POST /small HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                     "Content-Length: 100\r\n\r\n";
  assert_int_equal(send_all(fd, head, strlen(head)), 0);
  double started = visor_monotonic_s();
  /* a byte every 0.4 s: the idle timeout never fires, the total deadline does */
  int closed = 0;
  char answer[2048] = "";
  while (!closed && visor_monotonic_s() - started < 6.0) {
    send(fd, "x", 1, MSG_NOSIGNAL);
    read_until_close(fd, answer, sizeof answer, 0.4, &closed);
    if (answer[0]) {
      int more = 0;
      size_t got = strlen(answer);
      read_until_close(fd, answer + got, sizeof answer - got, 1.0, &more);
      closed = 1;
    }
  }
  double took = visor_monotonic_s() - started;
  close(fd);
  if (getenv("VISOR_TEST_DEBUG"))
    fprintf(stderr, "trickled body cut after %.2f s with: %.40s\n", took,
            answer[0] ? answer : "(a close)");
  if (!closed || took > 2.0 + 1.5) fail_msg("the trickled body was not cut (%.2f s)", took);
  char *metrics = visor_metrics_render();
  assert_non_null(strstr(metrics, "visor_http_deadline_cuts_total{phase=\"body\"} 1"));
  free(metrics);
  if (answer[0]) {
    assert_int_equal(strncmp(answer, "HTTP/1.1 408 ", 13), 0);
    assert_non_null(strstr(answer, "application/json"));
  }
  /* a body sent in time is fine */
  const char *whole = "POST /small HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                      "Connection: close\r\nContent-Length: 5\r\n\r\nhello";
  char ok[2048];
  exchange(port, whole, strlen(whole), ok, sizeof ok);
  assert_int_equal(strncmp(ok, "HTTP/1.1 200 ", 13), 0);
  stop(server);
}

/* ---- parked requests ------------------------------------------------------------------- */

enum { WAITS = 64 };

static void send_waits(int port, int *fds, int count, const char *seconds) {
  char request[128];
  int len = snprintf(request, sizeof request,
                     "GET /wait?s=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", seconds);
  for (int i = 0; i < count; i++) {
    fds[i] = raw_connect(port, NULL);
    assert_true(fds[i] >= 0);
    assert_int_equal(send_all(fds[i], request, (size_t)len), 0);
  }
}

/* Reads every answer (within timeout_s of now); returns how many were 200 with body. */
static int read_waits(int *fds, int count, double timeout_s, const char *body) {
  int good = 0;
  double deadline = visor_monotonic_s() + timeout_s;
  for (int i = 0; i < count; i++) {
    char answer[2048];
    int closed = 0;
    double left = deadline - visor_monotonic_s();
    read_until_close(fds[i], answer, sizeof answer, left > 0.05 ? left : 0.05, &closed);
    if (strncmp(answer, "HTTP/1.1 200 ", 13) == 0 && strstr(answer, body) &&
        strstr(answer, "X-Parked: yes"))
      good++;
    close(fds[i]);
  }
  return good;
}

static void test_parked_waits(void **state) {
  (void)state;
  int port;
  /* 2 worker threads, 64 waits: a wait that held a thread would starve the probe */
  visor_http_server *server =
      start((visor_http_config){.threads = 2, .max_connections_per_ip = 200}, &port);
  atomic_store(&ready, 0);
  int fds[WAITS];
  double sent = visor_monotonic_s();
  send_waits(port, fds, WAITS, "2");
  visor_sleep_ms(200); /* all parked now */
  double worst = 0;
  for (int i = 0; i < 10; i++) {
    double seconds = 0;
    assert_int_equal(timed_get(port, "/healthz", &seconds), 200);
    if (seconds > worst) worst = seconds;
  }
  if (getenv("VISOR_TEST_DEBUG")) fprintf(stderr, "parked: worst /healthz %.4f s\n", worst);
  if (worst >= 0.1) fail_msg("/healthz took %.3f s with %d waits parked", worst, WAITS);
  /* they answer at their deadline with the current state */
  int good = read_waits(fds, WAITS, 4.0, "{\"ready\":false}");
  double took = visor_monotonic_s() - sent;
  assert_int_equal(good, WAITS);
  if (took < 1.9 || took > 3.5) fail_msg("the waits ended after %.2f s, not about 2", took);
  assert_true(atomic_load(&rechecks_off_worker) >= WAITS);

  /* a wake answers them at once */
  send_waits(port, fds, 8, "30");
  visor_sleep_ms(200);
  double woke = visor_monotonic_s();
  atomic_store(&ready, 1);
  visor_http_wake(server);
  assert_int_equal(read_waits(fds, 8, 2.0, "{\"ready\":true}"), 8);
  assert_true(visor_monotonic_s() - woke < 1.0);

  /* stopping answers parked requests instead of leaving them */
  atomic_store(&ready, 0);
  send_waits(port, fds, 4, "30");
  visor_sleep_ms(200);
  double stopping = visor_monotonic_s();
  visor_http_stop(server, 3000);
  assert_int_equal(read_waits(fds, 4, 2.0, "{\"ready\":false}"), 4);
  assert_true(visor_monotonic_s() - stopping < 2.0);
  visor_http_server_free(server);
  visor_metrics_reset();
}

int main(void) {
  visor_log_setup(getenv("VISOR_TEST_DEBUG") ? VISOR_LOG_DEBUG : VISOR_LOG_WARN, VISOR_LOG_PLAIN);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_library_errors_are_json),
      cmocka_unit_test(test_slow_headers),
      cmocka_unit_test(test_slow_body),
      cmocka_unit_test(test_parked_waits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
