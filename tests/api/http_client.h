/* http_client.h: a small libcurl client for tests: JSON requests, multipart uploads,
 * and the status / body / headers of the answer. */
#ifndef VISOR_TESTS_HTTP_CLIENT_H
#define VISOR_TESTS_HTTP_CLIENT_H

#include <jansson.h>
#include <stddef.h>

typedef struct test_response {
  long status;
  char *body;
  size_t len;
  char headers[4096];
  json_t *json; /* parsed body, or NULL */
} test_response;

typedef struct test_part {
  const char *name;
  const char *value; /* a text field, or */
  const char *file;  /* a file path, or */
  const void *data;  /* bytes (with data_len) sent as a file named filename */
  size_t data_len;
  const char *filename;
} test_part;

void test_http_init(const char *base_url);
test_response test_request(const char *method, const char *path, const char *content_type,
                           const char *body, size_t len);
test_response test_get(const char *path);
/* method path with extra headers ("Name: value", NULL-terminated list) and an optional
 * JSON body. */
test_response test_request_headers(const char *method, const char *path, const char *const *extra,
                                   const char *body);
test_response test_post_json(const char *path, const char *json_text);
test_response test_multipart(const char *method, const char *path, const test_part *parts,
                             size_t count);
void test_response_free(test_response *res);
/* The error code of an error body, or "". */
const char *test_error_code(const test_response *res);
const char *test_error_message(const test_response *res);

#endif
