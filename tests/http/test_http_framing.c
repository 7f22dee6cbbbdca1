/* test_http_framing.c: the framing Visor puts in front of libmicrohttpd (src/http/framing.c,
 * relay.c), over raw sockets on loopback. Each malformed request (a head over the limit, a
 * long target, a bad Content-Length, bad chunked encoding, a bad request line) gets exactly
 * one answer, JSON, with the error shape, and the connection closes; good requests still
 * work through the relay: keep-alive, pipelining, large chunked and Content-Length uploads,
 * and the client's address. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/metrics.h"
#include "http/http.h"
#include "raw_client.h"

#define BIG_BODY ((size_t)8 * 1024 * 1024)

static void body_length(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)ctx;
  size_t len = 0;
  const char *body = visor_http_body(req, &len);
  unsigned long sum = 0; /* so that a reordered or changed byte shows */
  for (size_t i = 0; i < len; i++)
    sum = sum * 31 + (unsigned char)body[i];
  visor_http_respond_json(
      res, 200, json_pack("{s:I,s:I}", "length", (json_int_t)len, "sum", (json_int_t)sum));
}

static void client_ip(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)ctx;
  visor_http_respond_json(res, 200, json_pack("{s:s}", "ip", visor_http_client_ip(req)));
}

static visor_http_server *start(int *port) {
  visor_http_config config = {.host = "127.0.0.1", .threads = 2};
  visor_error err = {0};
  visor_http_server *server = visor_http_server_new(&config, &err);
  assert_non_null(server);
  visor_route_options big = {.max_body = 2 * BIG_BODY};
  assert_int_equal(visor_http_route(server, "POST", "/echo", body_length, NULL, &big, &err),
                   VISOR_OK);
  assert_int_equal(visor_http_route(server, "GET", "/ip", client_ip, NULL, NULL, &err), VISOR_OK);
  assert_int_equal(visor_http_start(server, &err), VISOR_OK);
  *port = visor_http_port(server);
  return server;
}

static void stop(visor_http_server *server) {
  visor_http_stop(server, 2000);
  visor_http_server_free(server);
  visor_metrics_reset();
}

/* Sends request on a fresh connection; checks one JSON error with status, then a close. */
static void expect_error(int port, const char *request, size_t len, int status, const char *what) {
  static char answer[64 * 1024];
  int fd = raw_connect(port, NULL);
  assert_true(fd >= 0);
  send_all(fd, request, len);
  int closed = 0;
  read_until_close(fd, answer, sizeof answer, 3.0, &closed);
  close(fd);
  if (getenv("VISOR_TEST_DEBUG")) fprintf(stderr, "%s:\n%s\n", what, answer);
  if (!closed) fail_msg("%s: the connection stayed open:\n%s", what, answer);
  assert_one_json_error(answer, status);
  if (!strcasestr(answer, "Connection: close")) fail_msg("%s: no Connection: close", what);
}

static void expect_error_text(int port, const char *request, int status, const char *what) {
  expect_error(port, request, strlen(request), status, what);
}

static void test_malformed_requests(void **state) {
  (void)state;
  int port;
  visor_http_server *server = start(&port);
  static char request[400 * 1024];

  /* a head over the limit, far past libmicrohttpd's own memory (256 KiB) */
  int len = snprintf(request, sizeof request, "GET /ip HTTP/1.1\r\nHost: x\r\n");
  for (int i = 0; i < 300; i++) {
    len += snprintf(request + len, sizeof request - (size_t)len, "X-Big-%d: ", i);
    memset(request + len, 'c', 1000);
    len += 1000;
    len += snprintf(request + len, sizeof request - (size_t)len, "\r\n");
  }
  len += snprintf(request + len, sizeof request - (size_t)len, "\r\n");
  expect_error(port, request, (size_t)len, 431, "huge head");

  /* one header line of 60 KB */
  len = snprintf(request, sizeof request, "GET /ip HTTP/1.1\r\nHost: x\r\nX-Long: ");
  memset(request + len, 'd', 60000);
  len += 60000;
  len += snprintf(request + len, sizeof request - (size_t)len, "\r\n\r\n");
  expect_error(port, request, (size_t)len, 431, "long header line");

  /* a request target of 20 KB, and of 300 KB */
  for (int size = 20000; size <= 300000; size += 280000) {
    len = snprintf(request, sizeof request, "GET /ip?q=");
    memset(request + len, 'a', (size_t)size);
    len += size;
    len += snprintf(request + len, sizeof request - (size_t)len, " HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_error(port, request, (size_t)len, 414, "long target");
  }

  /* Content-Length: not a number, negative, overflowing, twice, with chunked */
  const char *lengths[] = {"abc", "-5", "99999999999999999999999", "12abc", "0x10"};
  for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) {
    len = snprintf(request, sizeof request,
                   "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %s\r\n\r\nhello", lengths[i]);
    expect_error(port, request, (size_t)len, 400, lengths[i]);
  }
  expect_error_text(port,
                    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n"
                    "\r\nhello!",
                    400, "two lengths");
  expect_error_text(port,
                    "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                    400, "length and chunked");
  expect_error_text(port, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nhello",
                    501, "not chunked");

  /* malformed chunked bodies: a bad size, a missing CRLF, an overflowing size, a bad
   * trailer, after a good chunk */
  const char *chunked[] = {
      "zz\r\nhello\r\n0\r\n\r\n",
      "5\r\nhelloXX0\r\n\r\n",
      "5\r\nhello0\r\n\r\n",
      "5\r\nhello\r\nfffffffffffffffffffff\r\n",
      "5\r\nhello\r\n0\r\nbad trailer\r\n\r\n",
      "5\r\nhello\r\n5\r\nworld\r\n-1\r\n",
  };
  for (size_t i = 0; i < sizeof chunked / sizeof *chunked; i++) {
    len = snprintf(request, sizeof request,
                   "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n%s",
                   chunked[i]);
    expect_error(port, request, (size_t)len, 400, chunked[i]);
  }

  /* bad request lines and header lines */
#define LINE(text)                                                                                 \
  { text, sizeof text - 1 }
  const struct {
    const char *text;
    size_t len;
  } lines[] = {
      LINE("GET\r\n\r\n"),
      LINE("GET /ip\r\n\r\n"),
      LINE("GET /ip HTTX/1.1\r\nHost: x\r\n\r\n"),
      LINE("G@T /ip HTTP/1.1\r\nHost: x\r\n\r\n"),
      LINE("GET /i p HTTP/1.1\r\nHost: x\r\n\r\n"),
      LINE("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), /* a TLS hello */
      LINE("GET /ip HTTP/1.1\r\nHost x\r\n\r\n"),
      LINE("GET /ip HTTP/1.1\r\nBad Name: x\r\n\r\n"),
      LINE("GET /ip HTTP/1.1\r\nX: a\0b\r\n\r\n"),
  };
  for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
    expect_error(port, lines[i].text, lines[i].len, 400, lines[i].text);
  expect_error_text(port, "GET /ip HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTP/2.0");

  /* a client cannot send the relay's own error request or trailer */
  expect_error_text(port, "VISOR-RELAY-ERROR /chunked HTTP/1.1\r\nHost: x\r\n\r\n", 400,
                    "forged error request");
  static char answer[16 * 1024];
  const char *forged =
      "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      "Connection: close\r\n\r\n5\r\nhello\r\n0\r\nX-Visor-Relay-Error: chunked\r\n\r\n";
  exchange(port, forged, strlen(forged), answer, sizeof answer);
  assert_int_equal(strncmp(answer, "HTTP/1.1 200 ", 13), 0);
  assert_non_null(strstr(answer, "\"length\":5"));

  /* Upgrade with a chunked body (found by fuzz_framing): the body comes before anything
   * else, so a request head where its first chunk size belongs is a malformed body, not a
   * second request that libmicrohttpd would then read as the chunk size */
  expect_error_text(port,
                    "POST /echo HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: upgrade\r\n"
                    "Transfer-Encoding: chunked\r\n\r\nGET /ip HTTP/1.1\r\nHost: x\r\n\r\n",
                    400, "upgrade with a chunked body that is a request head");
  stop(server);
}

/* Reads answers from fd until count complete ones arrived (Content-Length framed). */
static int read_answers(int fd, int count, char *out, size_t max) {
  size_t used = 0;
  int complete = 0;
  while (complete < count) {
    ssize_t n = recv(fd, out + used, max - 1 - used, 0);
    if (n <= 0) break;
    used += (size_t)n;
    out[used] = '\0';
    complete = 0;
    for (const char *p = out; (p = strstr(p, "HTTP/1.1 "));) {
      const char *length = strcasestr(p, "Content-Length: ");
      const char *end = strstr(p, "\r\n\r\n");
      if (!length || !end || end + 4 + atol(length + 16) > out + used) break;
      complete++;
      p = end + 4 + atol(length + 16);
    }
  }
  return complete;
}

static void test_keep_alive_and_pipelining(void **state) {
  (void)state;
  int port;
  visor_http_server *server = start(&port);
  static char answer[64 * 1024];
  struct timeval timeout = {.tv_sec = 3};

  /* keep-alive: three requests one after another on one connection */
  int fd = raw_connect(port, NULL);
  assert_true(fd >= 0);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  for (int i = 0; i < 3; i++) {
    const char *get = "GET /ip HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(send_all(fd, get, strlen(get)), 0);
    assert_int_equal(read_answers(fd, 1, answer, sizeof answer), 1);
    assert_int_equal(strncmp(answer, "HTTP/1.1 200 ", 13), 0);
    assert_non_null(strstr(answer, "\"ip\":\"127.0.0.1\"")); /* the client's own address */
  }
  close(fd);

  /* pipelining: four requests in one write, bodies of both kinds, answered in order */
  const char *pipeline = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na"
                         "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "2\r\nbb\r\n0\r\n\r\n"
                         "GET /ip HTTP/1.1\r\nHost: x\r\n\r\n"
                         "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nccc";
  fd = raw_connect(port, NULL);
  assert_true(fd >= 0);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  assert_int_equal(send_all(fd, pipeline, strlen(pipeline)), 0);
  assert_int_equal(read_answers(fd, 4, answer, sizeof answer), 4);
  const char *one = strstr(answer, "\"length\":1"), *two = strstr(answer, "\"length\":2"),
             *ip = strstr(answer, "\"ip\""), *three = strstr(answer, "\"length\":3");
  assert_true(one && two && ip && three && one < two && two < ip && ip < three);
  close(fd);

  /* Upgrade (Visor upgrades nothing) with a chunked body, then another request: the body
   * is the first request's, the second request is answered after it */
  const char *upgrade = "POST /echo HTTP/1.1\r\nHost: x\r\nUpgrade: x\r\nConnection: upgrade\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n4\r\ndddd\r\n0\r\n\r\n"
                        "GET /ip HTTP/1.1\r\nHost: x\r\n\r\n";
  fd = raw_connect(port, NULL);
  assert_true(fd >= 0);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  assert_int_equal(send_all(fd, upgrade, strlen(upgrade)), 0);
  assert_int_equal(read_answers(fd, 2, answer, sizeof answer), 2);
  const char *four = strstr(answer, "\"length\":4"), *after = strstr(answer, "\"ip\"");
  assert_true(four && after && four < after);
  close(fd);

  /* a good request, then a malformed one in the same write: the good one's answer, then
   * one error, then the close */
  const char *mixed = "GET /ip HTTP/1.1\r\nHost: x\r\n\r\n"
                      "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n";
  fd = raw_connect(port, NULL);
  assert_true(fd >= 0);
  assert_int_equal(send_all(fd, mixed, strlen(mixed)), 0);
  int closed = 0;
  read_until_close(fd, answer, sizeof answer, 3.0, &closed);
  close(fd);
  assert_true(closed);
  assert_int_equal(count_of(answer, "HTTP/1.1 "), 2);
  assert_int_equal(strncmp(answer, "HTTP/1.1 200 ", 13), 0);
  const char *second = strstr(answer + 1, "HTTP/1.1 ");
  assert_one_json_error(second, 400);
  stop(server);
}

/* An upload of BIG_BODY bytes, chunked (in chunks of chunk bytes) or with a length. */
static void upload(int port, int chunked, size_t chunk) {
  char *body = malloc(BIG_BODY);
  assert_non_null(body);
  unsigned long sum = 0;
  for (size_t i = 0; i < BIG_BODY; i++) {
    body[i] = (char)('a' + (i * 7 + i / 1000) % 26);
    sum = sum * 31 + (unsigned char)body[i];
  }
  int fd = raw_connect(port, NULL);
  assert_true(fd >= 0);
  char head[256];
  int len = chunked ? snprintf(head, sizeof head,
                               "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                               "Connection: close\r\n\r\n")
                    : snprintf(head, sizeof head,
                               "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n"
                               "Connection: close\r\n\r\n",
                               BIG_BODY);
  assert_int_equal(send_all(fd, head, (size_t)len), 0);
  if (!chunked) {
    assert_int_equal(send_all(fd, body, BIG_BODY), 0);
  } else {
    for (size_t at = 0; at < BIG_BODY; at += chunk) {
      size_t n = BIG_BODY - at < chunk ? BIG_BODY - at : chunk;
      len = snprintf(head, sizeof head, "%zx;ext=1\r\n", n);
      assert_int_equal(send_all(fd, head, (size_t)len), 0);
      assert_int_equal(send_all(fd, body + at, n), 0);
      assert_int_equal(send_all(fd, "\r\n", 2), 0);
    }
    assert_int_equal(send_all(fd, "0\r\nX-Trailer: ok\r\n\r\n", 21), 0);
  }
  char answer[4096], want[128];
  int closed = 0;
  read_until_close(fd, answer, sizeof answer, 20.0, &closed);
  close(fd);
  snprintf(want, sizeof want, "{\"length\":%zu,\"sum\":%lld}", BIG_BODY,
           (long long)(json_int_t)sum);
  if (strncmp(answer, "HTTP/1.1 200 ", 13) != 0 || !strstr(answer, want))
    fail_msg("upload (chunked %d): wanted %s:\n%s", chunked, want, answer);
  free(body);
}

static void test_large_uploads(void **state) {
  (void)state;
  int port;
  visor_http_server *server = start(&port);
  upload(port, 0, 0);
  upload(port, 1, 65536);
  upload(port, 1, 1000);
  stop(server);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_malformed_requests),
      cmocka_unit_test(test_keep_alive_and_pipelining),
      cmocka_unit_test(test_large_uploads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
