/* test_http_units.c: unit tests of src/http's pieces that need no socket: SHA-256 against
 * the FIPS 180-4 vectors, percent-decoding, route matching (parameters, specificity, 404,
 * 405 + Allow, encoded slashes), the rate limiter's buckets and bounded table, and the
 * multipart framing parser (boundaries of 1 to 70 characters, any split of the body). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"

static void sha_hex(const void *data, size_t len, char hex[65]) {
  visor_sha256 ctx;
  visor_sha256_init(&ctx);
  visor_sha256_update(&ctx, data, len);
  visor_sha256_final_hex(&ctx, hex);
}

static void test_sha256_vectors(void **state) {
  (void)state;
  char hex[65];
  sha_hex("", 0, hex);
  assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  sha_hex("abc", 3, hex);
  assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  sha_hex(two_blocks, strlen(two_blocks), hex);
  assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  /* a million 'a', fed in uneven pieces */
  char chunk[997];
  memset(chunk, 'a', sizeof chunk);
  visor_sha256 ctx;
  visor_sha256_init(&ctx);
  size_t left = 1000000;
  for (size_t piece = 1; left; piece = (piece * 7 + 13) % sizeof chunk + 1) {
    size_t n = piece < left ? piece : left;
    visor_sha256_update(&ctx, chunk, n);
    left -= n;
  }
  visor_sha256_final_hex(&ctx, hex);
  assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void test_url_decode(void **state) {
  (void)state;
  int nul = 0;
  char *text = visor_http_url_decode("a%20b+c%2Fd%zz%4", 16, 0, &nul);
  assert_string_equal(text, "a b+c/d%zz%4");
  assert_int_equal(nul, 0);
  free(text);
  text = visor_http_url_decode("a+b%21", 6, 1, &nul);
  assert_string_equal(text, "a b!");
  free(text);
  text = visor_http_url_decode("x%00y", 5, 0, &nul);
  assert_int_equal(nul, 1);
  free(text);
}

static void dummy_handler(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)req;
  (void)res;
  (void)ctx;
}

static visor_match_result match(visor_router *router, const char *method, const char *path,
                                const visor_route **route, char ***values, size_t *n,
                                char allow[128]) {
  return visor_router_match(router, method, path, route, values, n, allow, 128);
}

static void free_values(char **values, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(values[i]);
  free(values);
}

static void test_router(void **state) {
  (void)state;
  visor_router router = {0};
  visor_error err = {0};
  assert_int_equal(
      visor_router_add(&router, "GET", "/products/{id}", dummy_handler, NULL, NULL, 1024, &err),
      VISOR_OK);
  assert_int_equal(
      visor_router_add(&router, "GET", "/products/search", dummy_handler, NULL, NULL, 1024, &err),
      VISOR_OK);
  assert_int_equal(
      visor_router_add(&router, "DELETE", "/products/{id}", dummy_handler, NULL, NULL, 1024, &err),
      VISOR_OK);
  assert_int_equal(visor_router_add(&router, "GET", "/products/{id}/images/{image}", dummy_handler,
                                    NULL, NULL, 1024, &err),
                   VISOR_OK);
  /* bad patterns */
  assert_int_equal(visor_router_add(&router, "GET", "/a/{x", dummy_handler, NULL, NULL, 1, &err),
                   VISOR_ERR_INVALID);
  assert_int_equal(
      visor_router_add(&router, "GET", "/a/{x}/{x}", dummy_handler, NULL, NULL, 1, &err),
      VISOR_ERR_INVALID);
  assert_int_equal(
      visor_router_add(&router, "GET", "/products/{id}", dummy_handler, NULL, NULL, 1, &err),
      VISOR_ERR_CONFLICT);
  assert_int_equal(visor_router_add(&router, "GET", "nope", dummy_handler, NULL, NULL, 1, &err),
                   VISOR_ERR_INVALID);

  const visor_route *route;
  char **values;
  size_t n;
  char allow[128];
  assert_int_equal(match(&router, "GET", "/products/p%201", &route, &values, &n, allow),
                   VISOR_MATCH_FOUND);
  assert_string_equal(route->pattern, "/products/{id}");
  assert_int_equal(n, 1);
  assert_string_equal(values[0], "p 1");
  free_values(values, n);

  assert_int_equal(match(&router, "GET", "/products/search", &route, &values, &n, allow),
                   VISOR_MATCH_FOUND);
  assert_string_equal(route->pattern, "/products/search");
  free_values(values, n);

  assert_int_equal(match(&router, "HEAD", "/products/7/images/9", &route, &values, &n, allow),
                   VISOR_MATCH_FOUND);
  assert_string_equal(route->method, "GET");
  assert_int_equal(n, 2);
  assert_string_equal(values[1], "9");
  free_values(values, n);

  assert_int_equal(match(&router, "POST", "/products/7", &route, &values, &n, allow),
                   VISOR_MATCH_NO_METHOD);
  assert_string_equal(allow, "GET, HEAD, DELETE");
  assert_int_equal(match(&router, "GET", "/products", &route, &values, &n, allow),
                   VISOR_MATCH_NO_PATH);
  assert_int_equal(match(&router, "GET", "/products/", &route, &values, &n, allow),
                   VISOR_MATCH_NO_PATH);
  assert_int_equal(match(&router, "GET", "/products/a%2Fb", &route, &values, &n, allow),
                   VISOR_MATCH_BAD_PATH);
  assert_int_equal(match(&router, "GET", "/products/a%00", &route, &values, &n, allow),
                   VISOR_MATCH_BAD_PATH);
  visor_router_free(&router);
}

static void test_rate_limiter(void **state) {
  (void)state;
  visor_rate_limiter *limiter = visor_rate_limiter_new(2.0, 3);
  int retry = 0;
  double now = 100.0;
  for (int i = 0; i < 3; i++)
    assert_true(visor_rate_limiter_take(limiter, "10.0.0.1", now, &retry));
  assert_false(visor_rate_limiter_take(limiter, "10.0.0.1", now, &retry));
  assert_int_equal(retry, 1);
  /* another client has its own bucket */
  assert_true(visor_rate_limiter_take(limiter, "10.0.0.2", now, &retry));
  /* refills at 2 per second */
  assert_true(visor_rate_limiter_take(limiter, "10.0.0.1", now + 0.5, &retry));
  assert_false(visor_rate_limiter_take(limiter, "10.0.0.1", now + 0.5, &retry));
  /* a flood of other clients evicts entries but never grows the table or fails */
  char ip[64];
  for (int i = 0; i < 20000; i++) {
    snprintf(ip, sizeof ip, "192.168.%d.%d", i / 256, i % 256);
    assert_true(visor_rate_limiter_take(limiter, ip, now + 1.0, &retry));
  }
  visor_rate_limiter_free(limiter);
  limiter = visor_rate_limiter_new(0.5, 0); /* burst defaults to 1 */
  assert_true(visor_rate_limiter_take(limiter, "a", now, &retry));
  assert_false(visor_rate_limiter_take(limiter, "a", now, &retry));
  assert_int_equal(retry, 2);
  visor_rate_limiter_free(limiter);
}

/* ---- multipart framing ------------------------------------------------------------------ */

typedef struct parts_seen {
  char text[1024];
  size_t len;
  int fail_data;
} parts_seen;

static void seen_add(parts_seen *seen, const char *text, size_t len) {
  if (seen->len + len >= sizeof seen->text) len = sizeof seen->text - 1 - seen->len;
  memcpy(seen->text + seen->len, text, len);
  seen->len += len;
  seen->text[seen->len] = '\0';
}

static int seen_begin(void *ctx, const char *name, const char *filename, const char *type) {
  char line[256];
  snprintf(line, sizeof line, "[%s|%s|%s]", name, filename ? filename : "-", type ? type : "-");
  seen_add(ctx, line, strlen(line));
  return 0;
}

static int seen_data(void *ctx, const char *data, size_t len) {
  parts_seen *seen = ctx;
  if (seen->fail_data) return -1;
  seen_add(seen, data, len);
  return 0;
}

static int seen_end(void *ctx) {
  seen_add(ctx, "$", 1);
  return 0;
}

static const visor_multipart_callbacks seen_callbacks = {seen_begin, seen_data, seen_end};

/* Parses body fed in pieces of step bytes; returns 1 if complete, 0 if not, -1 on error. */
static int parse_in_steps(const char *boundary, const char *body, size_t step, parts_seen *seen) {
  memset(seen, 0, sizeof *seen);
  visor_multipart_parser *parser = visor_multipart_parser_new(boundary, &seen_callbacks, seen);
  assert_non_null(parser);
  size_t len = strlen(body);
  int result = 0;
  for (size_t at = 0; at < len; at += step) {
    size_t n = len - at < step ? len - at : step;
    if (visor_multipart_parser_feed(parser, body + at, n) < 0) {
      result = -1;
      break;
    }
  }
  if (result == 0) result = visor_multipart_parser_done(parser);
  visor_multipart_parser_free(parser);
  return result;
}

static void test_multipart_parser(void **state) {
  (void)state;
  char boundary[80];
  assert_int_equal(visor_multipart_boundary("multipart/form-data; boundary=X", boundary, 80), 0);
  assert_string_equal(boundary, "X");
  assert_int_equal(visor_multipart_boundary("multipart/form-data; charset=utf-8; boundary=\"a b\"",
                                            boundary, 80),
                   0);
  assert_string_equal(boundary, "a b");
  assert_int_equal(visor_multipart_boundary("multipart/form-data", boundary, 80), -1);
  assert_int_equal(visor_multipart_boundary("multipart/form-data; boundary=", boundary, 80), -1);
  char long_type[200];
  snprintf(long_type, sizeof long_type, "multipart/form-data; boundary=%071d", 0);
  assert_int_equal(visor_multipart_boundary(long_type, boundary, 80), -1);

  const char *body =
      "preamble\r\n--X\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
      "--X  \r\nContent-Disposition: form-data; name=\"f\"; filename=\"x \\\"y\\\".bin\"\r\n"
      "Content-Type: image/png\r\n\r\nab\r\n-X-\r\ncd\r\n--X--\r\nepilogue";
  const char *want = "[a|-|-]1$[f|x \"y\".bin|image/png]ab\r\n-X-\r\ncd$";
  parts_seen seen;
  for (size_t step = 1; step <= strlen(body); step++) {
    assert_int_equal(parse_in_steps("X", body, step, &seen), 1);
    if (strcmp(seen.text, want) != 0) fail_msg("step %zu: %s", step, seen.text);
  }
  /* the body may start with the delimiter; an empty part */
  assert_int_equal(parse_in_steps("bb",
                                  "--bb\r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n"
                                  "\r\n--bb--",
                                  3, &seen),
                   1);
  assert_string_equal(seen.text, "[e|-|-]$");
  /* cut off, no Content-Disposition, a callback refusing: not complete or an error */
  assert_int_equal(
      parse_in_steps("X", "--X\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n12", 4, &seen),
      0);
  assert_int_equal(
      parse_in_steps("X", "--X\r\nContent-Type: text/plain\r\n\r\n1\r\n--X--", 5, &seen), -1);
  assert_int_equal(parse_in_steps("X", "--Xjunk\r\n", 2, &seen), -1);
  memset(&seen, 0, sizeof seen);
  seen.fail_data = 1;
  visor_multipart_parser *parser = visor_multipart_parser_new("X", &seen_callbacks, &seen);
  const char *one = "--X\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1234\r\n--X--";
  assert_int_equal(visor_multipart_parser_feed(parser, one, strlen(one)), -1);
  visor_multipart_parser_free(parser);
  /* part headers are bounded */
  static char huge[20000];
  int n = snprintf(huge, sizeof huge, "--X\r\nContent-Disposition: form-data; name=\"");
  memset(huge + n, 'n', sizeof huge - (size_t)n - 1);
  assert_int_equal(parse_in_steps("X", huge, 4096, &seen), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha256_vectors),   cmocka_unit_test(test_url_decode),
      cmocka_unit_test(test_router),           cmocka_unit_test(test_rate_limiter),
      cmocka_unit_test(test_multipart_parser),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
