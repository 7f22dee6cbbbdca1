/* raw_client.c: raw loopback sockets for the HTTP server tests that need to send exactly
 * the bytes they choose (malformed or slow requests) and read exactly what comes back. */
#define _GNU_SOURCE
#include "raw_client.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"

/* A connection to 127.0.0.1:port from source (NULL = any), or -1. */
int raw_connect(int port, const char *source) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (source) {
    struct sockaddr_in from = {.sin_family = AF_INET};
    inet_pton(AF_INET, source, &from.sin_addr);
    if (bind(fd, (struct sockaddr *)&from, sizeof from) != 0) {
      close(fd);
      return -1;
    }
  }
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int send_all(int fd, const char *data, size_t len) {
  while (len) {
    ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
    if (n <= 0) return -1;
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

/* Reads until the peer closes, an error, or timeout_s; returns the bytes read (NUL-ended in
 * out). *closed = 1 when the peer closed or reset. */
size_t read_until_close(int fd, char *out, size_t max, double timeout_s, int *closed) {
  size_t used = 0;
  double deadline = visor_monotonic_s() + timeout_s;
  *closed = 0;
  for (;;) {
    int left_ms = (int)((deadline - visor_monotonic_s()) * 1000);
    if (left_ms <= 0) break;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, left_ms) <= 0) break;
    ssize_t n = recv(fd, out + used, max - 1 - used, 0);
    if (n <= 0) {
      *closed = 1;
      break;
    }
    used += (size_t)n;
    if (used == max - 1) break;
  }
  out[used] = '\0';
  return used;
}

/* One request on a fresh connection, read until the server closes (or 3 s). */
size_t exchange(int port, const char *request, size_t len, char *out, size_t max) {
  int fd = raw_connect(port, NULL);
  assert_true(fd >= 0);
  send_all(fd, request, len); /* the server may close before it read it all */
  int closed = 0;
  size_t got = read_until_close(fd, out, max, 3.0, &closed);
  close(fd);
  return got;
}

int count_of(const char *text, const char *needle) {
  int n = 0;
  for (const char *p = text; (p = strstr(p, needle)); p += strlen(needle))
    n++;
  return n;
}

/* Checks: exactly one answer, with the status, JSON, and the error shape. */
void assert_one_json_error(const char *answer, int status) {
  if (count_of(answer, "HTTP/1.") != 1) fail_msg("not one answer:\n%s", answer);
  char line[32];
  snprintf(line, sizeof line, "HTTP/1.1 %d ", status);
  if (strncmp(answer, line, strlen(line)) != 0) fail_msg("wanted %d:\n%s", status, answer);
  if (!strcasestr(answer, "Content-Type: application/json")) fail_msg("not JSON:\n%s", answer);
  const char *body = strstr(answer, "\r\n\r\n");
  assert_non_null(body);
  json_error_t error;
  json_t *json = json_loads(body + 4, 0, &error);
  if (!json) fail_msg("body is not JSON: %s", body + 4);
  json_t *err = json_object_get(json, "error");
  assert_non_null(json_string_value(json_object_get(err, "code")));
  assert_non_null(json_string_value(json_object_get(err, "message")));
  json_decref(json);
}
