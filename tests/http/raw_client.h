/* raw_client.h: raw loopback sockets for the HTTP server tests (exact bytes in, exact
 * bytes out), and the check that an answer is one well-formed JSON error. */
#ifndef VISOR_TEST_RAW_CLIENT_H
#define VISOR_TEST_RAW_CLIENT_H

#include <stddef.h>

/* A connection to 127.0.0.1:port from source (NULL = any), or -1. */
int raw_connect(int port, const char *source);
int send_all(int fd, const char *data, size_t len);
/* Reads until the peer closes, an error, or timeout_s; returns the bytes read (NUL-ended in
 * out). *closed = 1 when the peer closed or reset. */
size_t read_until_close(int fd, char *out, size_t max, double timeout_s, int *closed);
/* One request on a fresh connection, read until the server closes (or 3 s). */
size_t exchange(int port, const char *request, size_t len, char *out, size_t max);
int count_of(const char *text, const char *needle);
/* Checks: exactly one answer, with the status, JSON, and the error shape. */
void assert_one_json_error(const char *answer, int status);

#endif
