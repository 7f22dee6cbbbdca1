/* test_api.c: the REST API against a real server started in this process on an
 * ephemeral port with embedded backends in a temp folder: products (JSON and multipart
 * with real photos), images, jobs, health, metrics, the OpenAPI document, and every
 * bad-input case, each answered with a clear 4xx JSON error and nothing left behind. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <vips/vips.h>

#include "api/api.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/log.h"
#include "http_client.h"
#include "test_server.h"

static test_server test;
static char iconic[1024], iconic2[1024];

#define ADMIN_TOKEN "test-admin-token-0123456789"

static int start_server(void **state) {
  (void)state;
  char *options[] = {"--max-upload-mb", "1", "--admin-token", ADMIN_TOKEN, "--client-jobs", "10"};
  test_server_start(&test, options, 6, 0);
  const char *shared = getenv("VISOR_SHARED_DIR");
  snprintf(iconic, sizeof iconic,
           "%s/datasets/grocery/iconic-images-and-descriptions/Fruit/Apple/Granny-Smith/"
           "Granny-Smith_Iconic.jpg",
           shared ? shared : "../shared");
  snprintf(iconic2, sizeof iconic2,
           "%s/datasets/grocery/iconic-images-and-descriptions/Fruit/Banana/Banana_Iconic.jpg",
           shared ? shared : "../shared");
  return 0;
}

static int stop_server(void **state) {
  (void)state;
  test_server_stop(&test);
  return 0;
}

/* Counts stored objects (regular files) under the blob folder, temp files included. */
static int count_files(const char *path) {
  DIR *dir = opendir(path);
  if (!dir) return 0;
  int count = 0;
  struct dirent *entry;
  while ((entry = readdir(dir))) {
    if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, "..")) continue;
    char child[2048];
    snprintf(child, sizeof child, "%s/%s", path, entry->d_name);
    struct stat st;
    if (stat(child, &st) == 0) count += S_ISDIR(st.st_mode) ? count_files(child) : 1;
  }
  closedir(dir);
  return count;
}

static int stored_objects(void) {
  char path[1024];
  snprintf(path, sizeof path, "%s/blobs", test.data_dir);
  return count_files(path);
}

static void expect_error(test_response *res, long status, const char *code, const char *needle) {
  if (res->status != status || strcmp(test_error_code(res), code) != 0 ||
      (needle && !strstr(test_error_message(res), needle)))
    fail_msg("expected %ld %s '%s', got %ld: %s", status, code, needle ? needle : "", res->status,
             res->body ? res->body : "(no body)");
  test_response_free(res);
}

static void health_ready_metrics(void **state) {
  (void)state;
  test_response res = test_get("/healthz");
  assert_int_equal(res.status, 200);
  assert_non_null(strstr(res.headers, "X-Request-Id"));
  test_response_free(&res);
  res = test_get("/readyz");
  assert_int_equal(res.status, 200);
  assert_string_equal(json_string_value(json_object_get(res.json, "status")), "ready");
  test_response_free(&res);
  res = test_get("/metrics");
  assert_int_equal(res.status, 200);
  assert_non_null(strstr(res.body, "visor_http_requests_total"));
  assert_non_null(strstr(res.body, "visor_queue_tasks{state=\"ready\"}"));
  test_response_free(&res);
}

static void json_product_lifecycle(void **state) {
  (void)state;
  test_response res = test_post_json(
      "/api/v1/products", "{\"sku\":\"LIFE-1\",\"name\":\"Oat milk\",\"category\":\"dairy\","
                          "\"labels\":{\"brand\":\"Oatly\"},\"price\":2.5,\"currency\":\"SEK\"}");
  assert_int_equal(res.status, 201);
  char id[64], path[128];
  snprintf(id, sizeof id, "%s", json_string_value(json_object_get(res.json, "id")));
  assert_non_null(strstr(res.headers, "Location: /api/v1/products/"));
  test_response_free(&res);
  snprintf(path, sizeof path, "/api/v1/products/%s", id);
  res = test_get(path);
  assert_int_equal(res.status, 200);
  assert_string_equal(json_string_value(json_object_get(res.json, "sku")), "LIFE-1");
  assert_int_equal(json_array_size(json_object_get(res.json, "images")), 0);
  test_response_free(&res);
  const char *patch = "{\"name\":\"Oat drink\",\"price\":null}";
  res = test_request("PATCH", path, "application/json", patch, strlen(patch));
  assert_int_equal(res.status, 200);
  assert_string_equal(json_string_value(json_object_get(res.json, "name")), "Oat drink");
  assert_true(json_is_null(json_object_get(res.json, "price")));
  test_response_free(&res);
  res = test_get("/api/v1/products?q=oat&category=dairy");
  assert_int_equal(res.status, 200);
  assert_int_equal(json_integer_value(json_object_get(res.json, "total")), 1);
  test_response_free(&res);
  res = test_request("DELETE", path, NULL, NULL, 0);
  assert_int_equal(res.status, 204);
  test_response_free(&res);
  res = test_get(path);
  expect_error(&res, 404, "not_found", id);
}

static void multipart_product_with_images_queues_jobs(void **state) {
  (void)state;
  test_part parts[] = {
      {.name = "sku", .value = "APPLE-1"},    {.name = "name", .value = "Granny Smith"},
      {.name = "category", .value = "fruit"}, {.name = "labels", .value = "{\"colour\":\"green\"}"},
      {.name = "price", .value = "0.99"},     {.name = "images", .file = iconic},
      {.name = "images", .file = iconic2}};
  test_response res = test_multipart("POST", "/api/v1/products", parts, 7);
  if (res.status != 201) fail_msg("create: %ld %s", res.status, res.body);
  json_t *images = json_object_get(res.json, "images");
  assert_int_equal(json_array_size(images), 2);
  json_t *first = json_array_get(images, 0);
  assert_int_equal(json_integer_value(json_object_get(first, "width")), 198);
  assert_string_equal(json_string_value(json_object_get(first, "format")), "jpeg");
  assert_int_equal(strlen(json_string_value(json_object_get(first, "sha256"))), 64);
  char product_path[128], image_path[128], job_path[128];
  snprintf(product_path, sizeof product_path, "/api/v1/products/%s",
           json_string_value(json_object_get(res.json, "id")));
  snprintf(image_path, sizeof image_path, "/api/v1/images/%s/content",
           json_string_value(json_object_get(first, "id")));
  snprintf(job_path, sizeof job_path, "/api/v1/jobs/%s",
           json_string_value(json_object_get(first, "job_id")));
  test_response_free(&res);
  /* The bytes come back unchanged. */
  res = test_get(image_path);
  assert_int_equal(res.status, 200);
  assert_non_null(strstr(res.headers, "image/jpeg"));
  FILE *file = fopen(iconic, "rb");
  fseek(file, 0, SEEK_END);
  long size = ftell(file);
  fclose(file);
  assert_int_equal(res.len, (size_t)size);
  test_response_free(&res);
  /* Each image has a job (queued: no worker runs in this test). */
  res = test_get(job_path);
  assert_int_equal(res.status, 200);
  assert_string_equal(json_string_value(json_object_get(res.json, "kind")), "index");
  assert_string_equal(json_string_value(json_object_get(res.json, "status")), "queued");
  test_response_free(&res);
  res = test_get(product_path);
  json_t *job = json_object_get(json_array_get(json_object_get(res.json, "images"), 1), "job");
  assert_string_equal(json_string_value(json_object_get(job, "status")), "queued");
  test_response_free(&res);
  res = test_get("/api/v1/jobs?status=queued&kind=index");
  assert_true(json_integer_value(json_object_get(res.json, "total")) >= 2);
  test_response_free(&res);
  res = test_get("/api/v1/products?sort=-created_at&limit=1");
  assert_string_equal(json_string_value(json_object_get(
                          json_array_get(json_object_get(res.json, "items"), 0), "sku")),
                      "APPLE-1");
  assert_int_equal(json_integer_value(json_object_get(
                       json_array_get(json_object_get(res.json, "items"), 0), "image_count")),
                   2);
  test_response_free(&res);
}

static void job_cancel_and_retry(void **state) {
  (void)state;
  test_part parts[] = {{.name = "sku", .value = "JOB-1"},
                       {.name = "name", .value = "x"},
                       {.name = "images", .file = iconic}};
  test_response res = test_multipart("POST", "/api/v1/products", parts, 3);
  assert_int_equal(res.status, 201);
  char path[160];
  const char *job_id = json_string_value(
      json_object_get(json_array_get(json_object_get(res.json, "images"), 0), "job_id"));
  snprintf(path, sizeof path, "/api/v1/jobs/%s/retry", job_id);
  test_response retry = test_request("POST", path, NULL, NULL, 0);
  expect_error(&retry, 409, "conflict", "only failed or cancelled");
  snprintf(path, sizeof path, "/api/v1/jobs/%s/cancel", job_id);
  test_response_free(&res);
  res = test_request("POST", path, NULL, NULL, 0);
  assert_int_equal(res.status, 200);
  assert_string_equal(json_string_value(json_object_get(res.json, "status")), "cancelled");
  test_response_free(&res);
  snprintf(path + strlen(path) - strlen("cancel"), 8, "retry");
  res = test_request("POST", path, NULL, NULL, 0);
  assert_int_equal(res.status, 200);
  assert_string_equal(json_string_value(json_object_get(res.json, "status")), "queued");
  test_response_free(&res);
}

static void bad_routes_methods_and_ids(void **state) {
  (void)state;
  test_response res = test_get("/api/v1/nowhere");
  expect_error(&res, 404, "not_found", NULL);
  res = test_request("PUT", "/api/v1/products", "application/json", "{}", 2);
  assert_int_equal(res.status, 405);
  assert_non_null(strstr(res.headers, "Allow:"));
  expect_error(&res, 405, "method_not_allowed", NULL);
  res = test_get("/api/v1/products/not-a-uuid");
  expect_error(&res, 400, "invalid_argument", "not a valid UUID");
  res = test_get("/api/v1/images/..%2F..%2Fetc%2Fpasswd/content");
  assert_true(res.status == 400 || res.status == 404);
  assert_string_not_equal(test_error_code(&res), "");
  test_response_free(&res);
  res = test_get("/api/v1/images/00000000-0000-7000-8000-000000000000/content");
  expect_error(&res, 404, "not_found", NULL);
  res = test_get("/api/v1/products?limit=0");
  expect_error(&res, 400, "invalid_argument", "limit");
  res = test_get("/api/v1/products?sort=bogus");
  expect_error(&res, 400, "invalid_argument", "sort 'bogus'");
  res = test_get("/api/v1/jobs?status=weird");
  expect_error(&res, 400, "invalid_argument", "status 'weird'");
}

static void bad_json_bodies_name_the_field(void **state) {
  (void)state;
  struct {
    const char *body, *needle;
  } cases[] = {
      {"{\"sku\":\"X\",", "JSON"},
      {"[1,2]", "object"},
      {"{\"name\":\"x\"}", "field 'sku' is required"},
      {"{\"sku\":\"X\"}", "field 'name' is required"},
      {"{\"sku\":5,\"name\":\"x\"}", "field 'sku' must be a string"},
      {"{\"sku\":\"a b\",\"name\":\"x\"}", "field 'sku' has characters"},
      {"{\"sku\":\"X\",\"name\":\"x\",\"colour\":\"red\"}", "unknown field 'colour'"},
      {"{\"sku\":\"X\",\"name\":\"x\",\"price\":-1}", "field 'price'"},
      {"{\"sku\":\"X\",\"name\":\"x\",\"price\":\"cheap\"}", "field 'price' must be a number"},
      {"{\"sku\":\"X\",\"name\":\"x\",\"price\":NaN}", "JSON"},
      {"{\"sku\":\"X\",\"name\":\"x\",\"price\":inf}", "JSON"},
      {"{\"sku\":\"X\",\"name\":\"x\",\"price\":0x10}", "JSON"},
      {"{\"sku\":\"X\",\"name\":\"x\",\"price\":1e400}", "field 'price'"},
      {"{\"sku\":\"X\",\"name\":\"x\",\"price\" : -1e400 }", "field 'price'"},
      {"{\"sku\":\"X\",\"name\":\"x\",\"price\":\"NaN\"}", "field 'price' must be a number"},
      {"{\"sku\":\"X\",\"name\":\"x\",\"price\":\"0x10\"}", "field 'price' must be a number"},
      {"{\"sku\":\"X\",\"name\":\"x\",\"price\":2e12}", "field 'price' must be between"},
      {"{\"sku\":\"X\",\"name\":\"x\",\"labels\":{\"a\":1}}", "field 'labels.a'"},
      {"{\"sku\":\"X\",\"name\":\"x\",\"currency\":\"euro\"}", "field 'currency'"},
      {"{\"sku\":\"X\",\"name\":\"\"}", "field 'name' must not be empty"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    test_response res = test_post_json("/api/v1/products", cases[i].body);
    expect_error(&res, 400, "invalid_argument", cases[i].needle);
  }
  char long_name[400];
  memset(long_name, 'n', 300);
  long_name[300] = '\0';
  char body[600];
  snprintf(body, sizeof body, "{\"sku\":\"LONG\",\"name\":\"%s\"}", long_name);
  test_response res = test_post_json("/api/v1/products", body);
  expect_error(&res, 400, "invalid_argument", "field 'name' is longer than 200");
  res = test_request("POST", "/api/v1/products", "text/plain", "sku=x", 5);
  expect_error(&res, 415, "unsupported_media_type", NULL);
  res = test_post_json("/api/v1/products", "{\"sku\":\"DUP-1\",\"name\":\"a\"}");
  assert_int_equal(res.status, 201);
  test_response_free(&res);
  res = test_post_json("/api/v1/products", "{\"sku\":\"DUP-1\",\"name\":\"b\"}");
  expect_error(&res, 409, "conflict", "DUP-1");
}

/* Multipart number fields go through the parser JSON bodies' rules use: NaN, inf, 1e400,
 * hex and padded numbers are a 400 naming the field, never null or 16 (issue 12, #4). */
static void multipart_numbers_match_json(void **state) {
  (void)state;
  const char *bad[] = {"NaN", "nan", "inf", "-inf", "Infinity", "1e400", "-1e400", "0x10", "+1",
                       " 1",  "1 ",  "1.",  ".5",   "01",       "1e",    "-1",     "2e12", "cheap"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    test_part parts[] = {{.name = "sku", .value = "NUM-BAD"},
                         {.name = "name", .value = "x"},
                         {.name = "price", .value = bad[i]}};
    test_response res = test_multipart("POST", "/api/v1/products", parts, 3);
    if (res.status != 400 || !strstr(test_error_message(&res), "field 'price'"))
      fail_msg("price=%s: expected 400 naming 'price', got %ld: %s", bad[i], res.status,
               res.body ? res.body : "");
    expect_error(&res, 400, "invalid_argument", "field 'price'");
  }
  const struct {
    const char *text;
    double value;
  } good[] = {{"0", 0}, {"16", 16}, {"2.5", 2.5}, {"1e3", 1000}, {"0.25E+1", 2.5}};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    char sku[32];
    snprintf(sku, sizeof sku, "NUM-OK-%zu", i);
    test_part parts[] = {{.name = "sku", .value = sku},
                         {.name = "name", .value = "x"},
                         {.name = "price", .value = good[i].text}};
    test_response res = test_multipart("POST", "/api/v1/products", parts, 3);
    if (res.status != 201) fail_msg("price=%s: got %ld: %s", good[i].text, res.status, res.body);
    json_t *price = json_object_get(json_object_get(res.json, "product"), "price");
    if (!price) price = json_object_get(res.json, "price");
    assert_true(json_is_number(price));
    assert_true(fabs(json_number_value(price) - good[i].value) < 1e-9);
    test_response_free(&res);
  }
}

static void bad_uploads_leave_nothing(void **state) {
  (void)state;
  int before = stored_objects();
  /* Not an image. */
  const char text[] = "just some text, not a picture";
  test_part not_image[] = {
      {.name = "sku", .value = "BAD-1"},
      {.name = "name", .value = "x"},
      {.name = "images", .data = text, .data_len = sizeof text, .filename = "notes.jpg"}};
  test_response res = test_multipart("POST", "/api/v1/products", not_image, 3);
  expect_error(&res, 415, "unsupported_media_type", "notes.jpg");
  /* One good image and one bad: the whole request fails, the good one is not kept. */
  test_part mixed[] = {
      {.name = "sku", .value = "BAD-2"},
      {.name = "name", .value = "x"},
      {.name = "images", .file = iconic},
      {.name = "images", .data = text, .data_len = sizeof text, .filename = "b.png"}};
  res = test_multipart("POST", "/api/v1/products", mixed, 4);
  expect_error(&res, 415, "unsupported_media_type", NULL);
  /* Over the upload limit (1 MiB in this test). */
  size_t big_len = 3 * 1024 * 1024;
  char *big = malloc(big_len);
  memset(big, 0xff, big_len);
  test_part too_big[] = {
      {.name = "sku", .value = "BAD-3"},
      {.name = "name", .value = "x"},
      {.name = "images", .data = big, .data_len = big_len, .filename = "big.jpg"}};
  res = test_multipart("POST", "/api/v1/products", too_big, 3);
  expect_error(&res, 413, "too_large", NULL);
  free(big);
  /* Bad fields with a good image: nothing is stored. */
  test_part bad_field[] = {{.name = "sku", .value = "BAD 4"},
                           {.name = "name", .value = "x"},
                           {.name = "images", .file = iconic}};
  res = test_multipart("POST", "/api/v1/products", bad_field, 3);
  expect_error(&res, 400, "invalid_argument", "field 'sku'");
  test_part bad_labels[] = {{.name = "sku", .value = "BAD-5"},
                            {.name = "name", .value = "x"},
                            {.name = "labels", .value = "{oops"},
                            {.name = "images", .file = iconic}};
  res = test_multipart("POST", "/api/v1/products", bad_labels, 4);
  expect_error(&res, 400, "invalid_argument", "field 'labels'");
  test_part wrong_field[] = {{.name = "sku", .value = "BAD-6"},
                             {.name = "name", .value = "x"},
                             {.name = "picture", .file = iconic}};
  res = test_multipart("POST", "/api/v1/products", wrong_field, 3);
  expect_error(&res, 400, "invalid_argument", "'picture'");
  /* Images for a product that does not exist. */
  test_part orphan[] = {{.name = "images", .file = iconic}};
  res = test_multipart("POST", "/api/v1/products/00000000-0000-7000-8000-000000000000/images",
                       orphan, 1);
  expect_error(&res, 404, "not_found", NULL);
  assert_int_equal(stored_objects(), before);
  res = test_get("/api/v1/products?q=BAD-");
  assert_int_equal(json_integer_value(json_object_get(res.json, "total")), 0);
  test_response_free(&res);
}

/* A big black image encoded by libvips (g_free it). */
static void *big_black(int width, int height, int png, size_t *len) {
  VipsImage *black = NULL;
  assert_int_equal(vips_black(&black, width, height, "bands", 3, NULL), 0);
  void *out = NULL;
  int failed = png ? vips_pngsave_buffer(black, &out, len, "compression", 9, NULL)
                   : vips_jpegsave_buffer(black, &out, len, "Q", 50, NULL);
  assert_int_equal(failed, 0);
  g_object_unref(black);
  return out;
}

/* Decode cost is bounded before anything else: a small PNG that decodes to 36 MP is refused
 * at upload (413, nothing stored), while a JPEG of the same size, which shrinks on load to
 * the work size, is taken (issue 12, #8). */
static void decode_cost_is_bounded_at_upload(void **state) {
  (void)state;
  int before = stored_objects();
  size_t png_len, jpeg_len;
  void *png = big_black(6000, 6000, 1, &png_len);
  assert_true(png_len < 1024 * 1024);
  test_part bomb[] = {{.name = "sku", .value = "DECODE-PNG"},
                      {.name = "name", .value = "x"},
                      {.name = "images", .data = png, .data_len = png_len, .filename = "b.png"}};
  test_response res = test_multipart("POST", "/api/v1/products", bomb, 3);
  expect_error(&res, 413, "too_large", "decodes to 36000000 pixels");
  test_part query[] = {{.name = "image", .data = png, .data_len = png_len, .filename = "q.png"}};
  res = test_multipart("POST", "/api/v1/searches", query, 1);
  expect_error(&res, 413, "too_large", "decodes to");
  assert_int_equal(stored_objects(), before);
  g_free(png);
  void *jpeg = big_black(6000, 6000, 0, &jpeg_len);
  assert_true(jpeg_len < 1024 * 1024);
  test_part fine[] = {{.name = "sku", .value = "DECODE-JPEG"},
                      {.name = "name", .value = "x"},
                      {.name = "images", .data = jpeg, .data_len = jpeg_len, .filename = "j.jpg"}};
  res = test_multipart("POST", "/api/v1/products", fine, 3);
  if (res.status != 201) fail_msg("jpeg: %ld %s", res.status, res.body);
  test_response_free(&res);
  g_free(jpeg);
}

/* Queued index and search jobs of this client (no workers run here: they stay queued). */
static int64_t active_jobs(void) {
  int64_t total = 0;
  const char *paths[] = {"/api/v1/jobs?status=queued&kind=index",
                         "/api/v1/jobs?status=queued&kind=search"};
  for (int i = 0; i < 2; i++) {
    test_response res = test_get(paths[i]);
    assert_int_equal(res.status, 200);
    total += json_integer_value(json_object_get(res.json, "total"));
    test_response_free(&res);
  }
  return total;
}

/* One client cannot fill the queue: past --client-jobs (10 here) queued or running index
 * and search jobs, uploads and searches get 429 with Retry-After and store nothing; a
 * finished (here cancelled) job frees a place (issue 12, #8). */
static void per_client_job_cap(void **state) {
  (void)state;
  int64_t active = active_jobs();
  assert_true(active < 10);
  int stored_before = stored_objects();
  /* a request that would go over the cap is refused whole */
  test_part many[12] = {{.name = "sku", .value = "CAP-BIG"}, {.name = "name", .value = "x"}};
  for (int i = 2; i < 12; i++)
    many[i] = (test_part){.name = "images", .file = iconic};
  test_response res = test_multipart("POST", "/api/v1/products", many, 12);
  assert_int_equal(res.status, 429);
  assert_non_null(strstr(res.headers, "Retry-After: 5"));
  expect_error(&res, 429, "too_many_jobs", "the limit is 10 per client");
  assert_int_equal(stored_objects(), stored_before);
  /* fill up to the cap one image at a time */
  char last_job[64] = "";
  for (int64_t i = active; i < 10; i++) {
    char sku[32];
    snprintf(sku, sizeof sku, "CAP-%lld", (long long)i);
    test_part parts[] = {{.name = "sku", .value = sku},
                         {.name = "name", .value = "x"},
                         {.name = "images", .file = iconic}};
    res = test_multipart("POST", "/api/v1/products", parts, 3);
    assert_int_equal(res.status, 201);
    snprintf(last_job, sizeof last_job, "%s",
             json_string_value(json_object_get(
                 json_array_get(json_object_get(res.json, "images"), 0), "job_id")));
    test_response_free(&res);
  }
  assert_int_equal(active_jobs(), 10);
  test_part one[] = {{.name = "sku", .value = "CAP-OVER"},
                     {.name = "name", .value = "x"},
                     {.name = "images", .file = iconic}};
  res = test_multipart("POST", "/api/v1/products", one, 3);
  expect_error(&res, 429, "too_many_jobs", "has 10 index and search jobs");
  test_part query[] = {{.name = "image", .file = iconic}};
  res = test_multipart("POST", "/api/v1/searches", query, 1);
  expect_error(&res, 429, "too_many_jobs", NULL);
  /* a product without images queues nothing: still allowed */
  res = test_post_json("/api/v1/products", "{\"sku\":\"CAP-NOIMG\",\"name\":\"x\"}");
  assert_int_equal(res.status, 201);
  test_response_free(&res);
  /* a job that ends frees a place */
  char path[160];
  snprintf(path, sizeof path, "/api/v1/jobs/%s/cancel", last_job);
  res = test_request("POST", path, NULL, NULL, 0);
  assert_int_equal(res.status, 200);
  test_response_free(&res);
  res = test_multipart("POST", "/api/v1/products", one, 3);
  assert_int_equal(res.status, 201);
  test_response_free(&res);
}

static void admin_routes_need_the_token(void **state) {
  (void)state;
  test_response res = test_get("/api/v1/admin/queue");
  expect_error(&res, 401, "unauthorized", NULL);
  res = test_request("POST", "/api/v1/admin/queue/pause", NULL, NULL, 0);
  expect_error(&res, 401, "unauthorized", NULL);
}

static void openapi_documents_every_route(void **state) {
  (void)state;
  test_response res = test_get("/api/openapi.json");
  assert_int_equal(res.status, 200);
  json_t *paths = json_object_get(res.json, "paths");
  assert_true(json_object_size(paths) >= 15);
  const char *path;
  json_t *item;
  int checked = 0;
  json_object_foreach(paths, path, item) {
    const char *method;
    json_t *operation;
    json_object_foreach(item, method, operation) {
      if (!strcmp(method, "parameters")) continue;
      /* Substitute a well-formed id; the route must exist (no 404 "no route", no 405). */
      char concrete[256];
      snprintf(concrete, sizeof concrete, "%s", path);
      char *brace = strstr(concrete, "{id}");
      if (brace) {
        char rest[256];
        snprintf(rest, sizeof rest, "%s", brace + 4);
        snprintf(brace, sizeof concrete - (size_t)(brace - concrete),
                 "00000000-0000-7000-8000-000000000000%s", rest);
      }
      char upper[16];
      size_t i = 0;
      for (; method[i] && i < sizeof upper - 1; i++)
        upper[i] = (char)(method[i] - 32);
      upper[i] = '\0';
      test_response probe = test_request(upper, concrete, "application/json", "{}", 2);
      if (probe.status == 405 ||
          (probe.status == 404 && strstr(test_error_message(&probe), "no route")))
        fail_msg("%s %s is documented but not routed (%ld)", upper, path, probe.status);
      test_response_free(&probe);
      checked++;
    }
  }
  assert_true(checked >= 20);
  test_response_free(&res);
}

/* ---- hardening (issue 12) -------------------------------------------------------------- */

static void ids_filters_and_leaks(void **state) {
  (void)state;
  /* an upper-case UUID names the same product */
  test_response res = test_post_json("/api/v1/products", "{\"sku\":\"CASE-1\",\"name\":\"x\"}");
  assert_int_equal(res.status, 201);
  char id[64], path[160];
  snprintf(id, sizeof id, "%s", json_string_value(json_object_get(res.json, "id")));
  test_response_free(&res);
  for (char *c = id; *c; c++)
    if (*c >= 'a' && *c <= 'f') *c = (char)(*c - 'a' + 'A');
  snprintf(path, sizeof path, "/api/v1/products/%s", id);
  res = test_get(path);
  if (res.status != 200) fail_msg("upper-case id: %ld %s", res.status, res.body);
  test_response_free(&res);
  /* every job filter is checked */
  res = test_get("/api/v1/jobs?kind=bogus");
  expect_error(&res, 400, "invalid_argument", "kind 'bogus'");
  res = test_get("/api/v1/jobs?subject_id=notuuid");
  expect_error(&res, 400, "invalid_argument", "subject_id 'notuuid'");
  res = test_get("/api/v1/jobs?kind=search&subject_id=00000000-0000-7000-8000-00000000000A");
  assert_int_equal(res.status, 200);
  test_response_free(&res);
  /* no server paths in the web app's 404, no source maps */
  res = test_get("/some/page");
  assert_int_equal(res.status, 404);
  assert_null(strstr(res.body, "/"));
  test_response_free(&res);
  res = test_get("/assets/index.js.map");
  expect_error(&res, 404, "not_found", NULL);
  /* a format Visor does not accept is named as a format, not as a library class */
  const char svg[] = "<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\" "
                     "width=\"4\" height=\"4\"><rect width=\"4\" height=\"4\"/></svg>";
  test_part parts[] = {
      {.name = "sku", .value = "SVG-1"},
      {.name = "name", .value = "x"},
      {.name = "images", .data = svg, .data_len = sizeof svg - 1, .filename = "a.svg"}};
  res = test_multipart("POST", "/api/v1/products", parts, 3);
  assert_int_equal(res.status, 415);
  const char *message = test_error_message(&res);
  if (strstr(message, "load") || strstr(message, "vips") || strstr(message, "Vips"))
    fail_msg("415 names the library: %s", message);
  test_response_free(&res);
}

typedef struct wait_call {
  char path[160];
  long status;
  char state[32];
} wait_call;

static void *wait_thread(void *arg) {
  wait_call *call = arg;
  test_response res = test_get(call->path);
  call->status = res.status;
  const char *status = json_string_value(json_object_get(res.json, "status"));
  snprintf(call->state, sizeof call->state, "%s", status ? status : "");
  test_response_free(&res);
  return NULL;
}

/* 64 waits on a search no worker runs: /healthz answers at once all along; the waits
 * answer at their deadline with the search's state (queued). */
static void wait_storm_does_not_starve_probes(void **state) {
  (void)state;
  test_part parts[] = {{.name = "image", .file = iconic}};
  test_response res = test_multipart("POST", "/api/v1/searches", parts, 1);
  if (res.status != 202) fail_msg("search: %ld %s", res.status, res.body);
  const char *id = json_string_value(json_object_get(res.json, "id"));
  enum { WAITS = 64 };
  static wait_call calls[WAITS];
  pthread_t threads[WAITS];
  double started = visor_monotonic_s();
  for (int i = 0; i < WAITS; i++) {
    snprintf(calls[i].path, sizeof calls[i].path, "/api/v1/searches/%s?wait=2", id);
    pthread_create(&threads[i], NULL, wait_thread, &calls[i]);
  }
  test_response_free(&res);
  visor_sleep_ms(400); /* the waits are parked (8 HTTP threads, 64 waits) */
  double worst = 0;
  for (int i = 0; i < 10; i++) {
    double before = visor_monotonic_s();
    res = test_get("/healthz");
    double took = visor_monotonic_s() - before;
    assert_int_equal(res.status, 200);
    test_response_free(&res);
    if (took > worst) worst = took;
  }
  if (getenv("VISOR_TEST_DEBUG")) fprintf(stderr, "wait storm: worst /healthz %.4f s\n", worst);
  if (worst >= 0.1) fail_msg("/healthz took %.3f s with %d waits pending", worst, WAITS);
  for (int i = 0; i < WAITS; i++)
    pthread_join(threads[i], NULL);
  double took = visor_monotonic_s() - started;
  for (int i = 0; i < WAITS; i++) {
    assert_int_equal(calls[i].status, 200);
    assert_string_equal(calls[i].state, "queued");
  }
  if (getenv("VISOR_TEST_DEBUG")) fprintf(stderr, "wait storm: waits answered by %.2f s\n", took);
  if (took < 1.9 || took > 4.0) fail_msg("the waits took %.2f s, not about 2", took);
  /* POST ?wait= parks the same way and keeps its Location header */
  double before = visor_monotonic_s();
  res = test_multipart("POST", "/api/v1/searches?wait=1", parts, 1);
  double post_took = visor_monotonic_s() - before;
  if (res.status != 202) fail_msg("search with wait: %ld %s", res.status, res.body);
  assert_string_equal(json_string_value(json_object_get(res.json, "status")), "queued");
  assert_non_null(strstr(res.headers, "Location: /api/v1/searches/"));
  test_response_free(&res);
  if (post_took < 0.9 || post_took > 3.0) fail_msg("POST ?wait=1 took %.2f s", post_took);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(health_ready_metrics),
      cmocka_unit_test(json_product_lifecycle),
      cmocka_unit_test(multipart_product_with_images_queues_jobs),
      cmocka_unit_test(multipart_numbers_match_json),
      cmocka_unit_test(job_cancel_and_retry),
      cmocka_unit_test(bad_routes_methods_and_ids),
      cmocka_unit_test(bad_json_bodies_name_the_field),
      cmocka_unit_test(bad_uploads_leave_nothing),
      cmocka_unit_test(admin_routes_need_the_token),
      cmocka_unit_test(openapi_documents_every_route),
      cmocka_unit_test(ids_filters_and_leaks),
      cmocka_unit_test(wait_storm_does_not_starve_probes),
      cmocka_unit_test(decode_cost_is_bounded_at_upload),
      cmocka_unit_test(per_client_job_cap),
  };
  return cmocka_run_group_tests(tests, start_server, stop_server);
}
