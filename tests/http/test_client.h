/* test_client.h: a small libcurl client for the HTTP server tests: one request, its status,
 * body and the response headers the tests look at. */
#ifndef VISOR_TEST_HTTP_CLIENT_H
#define VISOR_TEST_HTTP_CLIENT_H

#include <curl/curl.h>
#include <stddef.h>

typedef struct test_response {
  CURLcode code;
  long status;
  char *body; /* NUL-terminated, malloc'd */
  size_t len;
  char request_id[128];
  char allow[128];
  char retry_after[32];
  char content_type[128];
  char connection[32];
} test_response;

/* Header lines ("Name: value") may be NULL-terminated in headers. body may be NULL. */
void test_request(const char *method, const char *url, const char *const *headers, const char *body,
                  size_t len, test_response *out);
/* Runs an easy handle prepared by the caller (URL etc. set), capturing the response. */
void test_perform(CURL *curl, test_response *out);
void test_response_free(test_response *res);

#endif
