/* test_http_server.c: the HTTP server end to end: a real server on 127.0.0.1:0 with test
 * routes, driven by libcurl. Routing and parameters, 404/405, HEAD, request ids, JSON body
 * errors, body limits, multipart uploads into a memory sink (sizes, sha256, fields), the
 * sink seeing an abort for every part of a failed or abandoned upload, streaming,
 * concurrency, rate limiting, metrics and graceful shutdown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/uuid.h"
#include "http/http.h"
#include "http/sha256.h"
#include "test_client.h"

/* ---- a memory upload sink that counts what happens to its handles -------------------- */

typedef struct mem_part {
  char *data;
  size_t len;
  int finished;
} mem_part;

typedef struct mem_sink {
  pthread_mutex_t lock;
  int opened, finished, aborted, committed;
  int fail_open; /* open fails for a file named "fail.bin" */
} mem_sink;

static void *sink_open(void *ctx, const char *field, const char *filename, const char *content_type,
                       visor_error *err) {
  (void)field;
  (void)content_type;
  mem_sink *sink = ctx;
  if (filename && strcmp(filename, "fail.bin") == 0) {
    visor_error_set(err, VISOR_ERR_UNSUPPORTED, "%s is not an image", filename);
    return NULL;
  }
  mem_part *part = calloc(1, sizeof *part);
  pthread_mutex_lock(&sink->lock);
  sink->opened++;
  pthread_mutex_unlock(&sink->lock);
  return part;
}

static visor_code sink_write(void *ctx, void *handle, const void *data, size_t len,
                             visor_error *err) {
  (void)ctx;
  (void)err;
  mem_part *part = handle;
  char *grown = realloc(part->data, part->len + len);
  if (!grown) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  memcpy(grown + part->len, data, len);
  part->data = grown;
  part->len += len;
  return VISOR_OK;
}

static visor_code sink_finish(void *ctx, void *handle, visor_error *err) {
  (void)err;
  mem_sink *sink = ctx;
  ((mem_part *)handle)->finished = 1;
  pthread_mutex_lock(&sink->lock);
  sink->finished++;
  pthread_mutex_unlock(&sink->lock);
  return VISOR_OK;
}

static void sink_abort(void *ctx, void *handle) {
  mem_sink *sink = ctx;
  mem_part *part = handle;
  free(part->data);
  free(part);
  pthread_mutex_lock(&sink->lock);
  sink->aborted++;
  pthread_mutex_unlock(&sink->lock);
}

static void sink_commit(mem_sink *sink, mem_part *part) {
  free(part->data);
  free(part);
  pthread_mutex_lock(&sink->lock);
  sink->committed++;
  pthread_mutex_unlock(&sink->lock);
}

static const visor_upload_sink mem_sink_ops = {sink_open, sink_write, sink_finish, sink_abort};

static void sink_reset(mem_sink *sink) {
  pthread_mutex_lock(&sink->lock);
  sink->opened = sink->finished = sink->aborted = sink->committed = 0;
  pthread_mutex_unlock(&sink->lock);
}

/* Waits (the server records a request after the client has its answer) until every opened
 * handle was aborted or committed; returns the counts. */
static void sink_settle(mem_sink *sink, int *opened, int *aborted, int *committed) {
  for (int i = 0; i < 300; i++) {
    pthread_mutex_lock(&sink->lock);
    *opened = sink->opened;
    *aborted = sink->aborted;
    *committed = sink->committed;
    pthread_mutex_unlock(&sink->lock);
    if (*opened == *aborted + *committed) return;
    visor_sleep_ms(10);
  }
}

/* ---- test routes --------------------------------------------------------------------- */

static mem_sink the_sink = {.lock = PTHREAD_MUTEX_INITIALIZER};
static visor_http_server *server;
static char base[64];
static int stream_frees;
static pthread_mutex_t stream_lock = PTHREAD_MUTEX_INITIALIZER;

static void url(char *out, size_t size, const char *path) {
  snprintf(out, size, "%s%s", base, path);
}

static void hello(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)req;
  (void)ctx;
  visor_http_respond_json(res, 200, json_pack("{s:s}", "hello", "world"));
}

static void item(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)ctx;
  const char *q = visor_http_query(req, "q");
  json_t *body = json_pack("{s:s, s:s, s:s}", "id", visor_http_param(req, "id"), "path",
                           visor_http_path(req), "request_id", visor_http_request_id(req));
  json_object_set_new(body, "q", q ? json_string(q) : json_null());
  const char *part = visor_http_param(req, "part");
  if (part) json_object_set_new(body, "part", json_string(part));
  visor_http_respond_json(res, 200, body);
}

static void item_search(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)req;
  (void)ctx;
  visor_http_respond_json(res, 200, json_pack("{s:b}", "search", 1));
}

static void create_item(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)ctx;
  json_t *body = visor_http_json_body(req, res);
  if (!body) return;
  json_t *name = json_object_get(body, "name");
  if (!json_is_string(name)) {
    visor_http_respond_error(res, 0, "invalid_argument", "name must be a string");
    return;
  }
  visor_http_respond_json(res, 201, json_pack("{s:O}", "name", name));
}

static void body_length(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)ctx;
  size_t len = 0;
  visor_http_body(req, &len);
  visor_http_respond_json(res, 200, json_pack("{s:I}", "length", (json_int_t)len));
}

static void upload(visor_http_request *req, visor_http_response *res, void *ctx) {
  mem_sink *sink = ctx;
  visor_http_upload *uploads;
  size_t n = visor_http_uploads(req, &uploads);
  json_t *files = json_array();
  for (size_t i = 0; i < n; i++) {
    mem_part *part = uploads[i].handle;
    char stored[65];
    visor_sha256 sha;
    visor_sha256_init(&sha);
    visor_sha256_update(&sha, part->data, part->len);
    visor_sha256_final_hex(&sha, stored);
    json_array_append_new(files, json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:s, s:b}", "field",
                                           uploads[i].field, "filename", uploads[i].filename,
                                           "content_type", uploads[i].content_type, "size",
                                           (json_int_t)uploads[i].size, "sha256", uploads[i].sha256,
                                           "stored_size", (json_int_t)part->len, "stored_sha256",
                                           stored, "finished", part->finished));
    sink_commit(sink, part);
  }
  json_t *fields = json_object();
  const char *const *names, *const *values;
  size_t nfields = visor_http_form_fields(req, &names, &values);
  for (size_t i = 0; i < nfields; i++)
    json_object_set_new(fields, names[i], json_string(values[i]));
  visor_http_respond_json(res, 200,
                          json_pack("{s:o, s:o, s:b}", "files", files, "fields", fields,
                                    "multipart", visor_http_is_multipart(req)));
}

typedef struct pattern_stream {
  uint64_t len;
} pattern_stream;

static long pattern_read(void *ctx, uint64_t offset, char *buf, size_t max) {
  (void)ctx;
  for (size_t i = 0; i < max; i++)
    buf[i] = (char)((offset + i) % 251);
  return (long)max;
}

static void pattern_free(void *ctx) {
  free(ctx);
  pthread_mutex_lock(&stream_lock);
  stream_frees++;
  pthread_mutex_unlock(&stream_lock);
}

static void stream(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)ctx;
  const char *size = visor_http_query(req, "size");
  pattern_stream *state = malloc(sizeof *state);
  state->len = size ? strtoull(size, NULL, 10) : 1000;
  visor_http_set_header(res, "Cache-Control", "no-store");
  visor_http_respond_stream(res, 200, "application/octet-stream", state->len, pattern_read, state,
                            pattern_free);
}

static void slow(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)req;
  (void)ctx;
  visor_sleep_ms(400);
  visor_http_respond_json(res, 200, json_pack("{s:s}", "slow", "done"));
}

static void silent(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)req;
  (void)res;
  (void)ctx;
}

static void fallback(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)ctx;
  char *text = strdup(visor_http_path(req));
  visor_http_respond_bytes(res, 200, "text/plain", text, strlen(text));
}

static void add_route(visor_http_server *s, const char *method, const char *pattern,
                      visor_http_handler handler, void *ctx, const visor_route_options *options) {
  visor_error err = {0};
  assert_int_equal(visor_http_route(s, method, pattern, handler, ctx, options, &err), VISOR_OK);
}

static int setup(void **state) {
  (void)state;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  visor_log_setup(getenv("VISOR_TEST_DEBUG") ? VISOR_LOG_DEBUG : VISOR_LOG_WARN, VISOR_LOG_PLAIN);
  visor_error err = {0};
  visor_http_config config = {.host = "127.0.0.1", .port = 0, .threads = 4, .access_log = 1};
  server = visor_http_server_new(&config, &err);
  if (!server) return -1;
  visor_route_options small = {.max_body = 1024};
  visor_route_options with_sink = {
      .max_body = 8 << 20, .sink = &mem_sink_ops, .sink_ctx = &the_sink};
  visor_route_options small_sink = {
      .max_body = 64 << 10, .sink = &mem_sink_ops, .sink_ctx = &the_sink};
  add_route(server, "GET", "/hello", hello, NULL, NULL);
  add_route(server, "GET", "/items/{id}", item, NULL, NULL);
  add_route(server, "DELETE", "/items/{id}", item, NULL, NULL);
  add_route(server, "GET", "/items/search", item_search, NULL, NULL);
  add_route(server, "GET", "/items/{id}/parts/{part}", item, NULL, NULL);
  add_route(server, "POST", "/items", create_item, NULL, NULL);
  add_route(server, "POST", "/small", body_length, NULL, &small);
  add_route(server, "POST", "/upload", upload, &the_sink, &with_sink);
  add_route(server, "POST", "/upload-small", upload, &the_sink, &small_sink);
  add_route(server, "POST", "/nosink", body_length, NULL, NULL);
  add_route(server, "GET", "/stream", stream, NULL, NULL);
  add_route(server, "GET", "/slow", slow, NULL, NULL);
  add_route(server, "GET", "/silent", silent, NULL, NULL);
  visor_http_fallback(server, fallback, NULL);
  if (visor_http_start(server, &err) != VISOR_OK) {
    fprintf(stderr, "start: %s\n", err.message);
    return -1;
  }
  assert_true(visor_http_port(server) > 0);
  snprintf(base, sizeof base, "http://127.0.0.1:%d", visor_http_port(server));
  return 0;
}

static int teardown(void **state) {
  (void)state;
  visor_http_stop(server, 2000);
  visor_http_server_free(server);
  visor_metrics_reset();
  curl_global_cleanup();
  return 0;
}

static json_t *parse(const test_response *res) {
  json_error_t error;
  json_t *json = json_loads(res->body, 0, &error);
  if (!json) fail_msg("response is not JSON: %s", res->body);
  return json;
}

/* Checks the error shape {"error":{"code":code,"message":...,"request_id":...}}. */
static void assert_error(const test_response *res, long status, const char *code) {
  assert_int_equal(res->code, CURLE_OK);
  if (res->status != status) fail_msg("status %ld, wanted %ld: %s", res->status, status, res->body);
  assert_string_equal(res->content_type, "application/json");
  json_t *json = parse(res);
  json_t *error = json_object_get(json, "error");
  assert_non_null(error);
  assert_string_equal(json_string_value(json_object_get(error, "code")), code);
  assert_true(strlen(json_string_value(json_object_get(error, "message"))) > 0);
  assert_string_equal(json_string_value(json_object_get(error, "request_id")), res->request_id);
  json_decref(json);
}

static void get(const char *path, test_response *res) {
  char target[256];
  url(target, sizeof target, path);
  test_request("GET", target, NULL, NULL, 0, res);
}

/* ---- routing ------------------------------------------------------------------------- */

static void test_routing_params(void **state) {
  (void)state;
  test_response res;
  get("/hello", &res);
  assert_int_equal(res.status, 200);
  assert_string_equal(res.content_type, "application/json");
  assert_string_equal(res.body, "{\"hello\":\"world\"}");
  test_response_free(&res);

  get("/items/a%20b?q=red+shoes%21&x", &res);
  assert_int_equal(res.status, 200);
  json_t *json = parse(&res);
  assert_string_equal(json_string_value(json_object_get(json, "id")), "a b");
  assert_string_equal(json_string_value(json_object_get(json, "q")), "red shoes!");
  assert_string_equal(json_string_value(json_object_get(json, "path")), "/items/a b");
  json_decref(json);
  test_response_free(&res);

  get("/items/search", &res);
  assert_string_equal(res.body, "{\"search\":true}");
  test_response_free(&res);

  get("/items/7/parts/%C3%A9t%C3%A9", &res);
  json = parse(&res);
  assert_string_equal(json_string_value(json_object_get(json, "id")), "7");
  assert_string_equal(json_string_value(json_object_get(json, "part")), "\xc3\xa9t\xc3\xa9");
  json_decref(json);
  test_response_free(&res);

  /* an encoded '/' or NUL in a parameter is refused */
  get("/items/a%2Fb", &res);
  assert_error(&res, 400, "invalid_argument");
  test_response_free(&res);
  get("/items/a%00b", &res);
  assert_error(&res, 400, "invalid_argument");
  test_response_free(&res);
  get("/items/1?q=a%00", &res);
  assert_error(&res, 400, "invalid_argument");
  test_response_free(&res);
}

static void test_not_found_and_fallback(void **state) {
  (void)state;
  test_response res;
  char target[256];
  url(target, sizeof target, "/nothing/here");
  test_request("POST", target, NULL, "x", 1, &res);
  assert_error(&res, 404, "not_found");
  test_response_free(&res);
  url(target, sizeof target, "/items/1/parts");
  test_request("DELETE", target, NULL, NULL, 0, &res);
  assert_error(&res, 404, "not_found");
  test_response_free(&res);
  /* GET paths no route knows go to the fallback */
  get("/app/index%20page.html", &res);
  assert_int_equal(res.status, 200);
  assert_string_equal(res.content_type, "text/plain");
  assert_string_equal(res.body, "/app/index page.html");
  test_response_free(&res);
}

static void test_method_not_allowed(void **state) {
  (void)state;
  test_response res;
  char target[256];
  url(target, sizeof target, "/hello");
  test_request("POST", target, NULL, "{}", 2, &res);
  assert_error(&res, 405, "method_not_allowed");
  assert_string_equal(res.allow, "GET, HEAD");
  test_response_free(&res);
  char big[200000];
  memset(big, 'p', sizeof big);
  test_request("PATCH", target, NULL, big, sizeof big, &res);
  assert_error(&res, 405, "method_not_allowed");
  test_response_free(&res);
  url(target, sizeof target, "/items/9");
  test_request("PUT", target, NULL, NULL, 0, &res);
  assert_error(&res, 405, "method_not_allowed");
  assert_string_equal(res.allow, "GET, HEAD, DELETE");
  test_response_free(&res);
  test_request("DELETE", target, NULL, NULL, 0, &res);
  assert_int_equal(res.status, 200);
  test_response_free(&res);
}

static void test_head_and_request_id(void **state) {
  (void)state;
  test_response res;
  char target[256];
  url(target, sizeof target, "/hello");
  test_request("HEAD", target, NULL, NULL, 0, &res);
  assert_int_equal(res.status, 200);
  assert_int_equal(res.len, 0);
  assert_string_equal(res.content_type, "application/json");
  assert_true(visor_uuid_valid(res.request_id));
  test_response_free(&res);

  const char *good[] = {"X-Request-Id: trace-42.abc", NULL};
  test_request("GET", target, good, NULL, 0, &res);
  assert_string_equal(res.request_id, "trace-42.abc");
  test_response_free(&res);
  const char *bad[] = {"X-Request-Id: <script>alert(1)</script>", NULL};
  test_request("GET", target, bad, NULL, 0, &res);
  assert_true(visor_uuid_valid(res.request_id));
  test_response_free(&res);

  /* a handler that forgets to respond gives a 500 JSON error, not a hang */
  get("/silent", &res);
  assert_error(&res, 500, "internal");
  test_response_free(&res);
}

/* ---- bodies -------------------------------------------------------------------------- */

static void test_json_body(void **state) {
  (void)state;
  test_response res;
  char target[256];
  url(target, sizeof target, "/items");
  const char *json_type[] = {"Content-Type: application/json; charset=utf-8", NULL};
  test_request("POST", target, json_type, "{\"name\":\"lamp\"}", 15, &res);
  assert_int_equal(res.status, 201);
  assert_string_equal(res.body, "{\"name\":\"lamp\"}");
  test_response_free(&res);

  test_request("POST", target, json_type, "{\"name\": ", 9, &res);
  assert_error(&res, 400, "invalid_argument");
  assert_non_null(strstr(res.body, "not valid JSON"));
  test_response_free(&res);
  test_request("POST", target, json_type, "[1,2]", 5, &res);
  assert_error(&res, 400, "invalid_argument");
  assert_non_null(strstr(res.body, "JSON object"));
  test_response_free(&res);
  test_request("POST", target, json_type, "", 0, &res);
  assert_error(&res, 400, "invalid_argument");
  test_response_free(&res);
  test_request("POST", target, json_type, "{\"name\":3}", 10, &res);
  assert_error(&res, 400, "invalid_argument");
  test_response_free(&res);
  const char *text_type[] = {"Content-Type: text/plain", NULL};
  test_request("POST", target, text_type, "{\"name\":\"x\"}", 12, &res);
  assert_error(&res, 415, "unsupported_media_type");
  test_response_free(&res);
}

typedef struct body_source {
  size_t left;
  size_t abort_after; /* 0 = never */
  size_t sent;
} body_source;

static size_t read_body(char *buf, size_t size, size_t n, void *cls) {
  body_source *source = cls;
  if (source->abort_after && source->sent >= source->abort_after) return CURL_READFUNC_ABORT;
  size_t len = size * n < source->left ? size * n : source->left;
  if (len > 16384) len = 16384;
  memset(buf, 'b', len);
  source->left -= len;
  source->sent += len;
  return len;
}

static void test_body_over_limit(void **state) {
  (void)state;
  test_response res;
  char target[256];
  url(target, sizeof target, "/small");
  char body[4096];
  memset(body, 'x', sizeof body);
  test_request("POST", target, NULL, body, 1024, &res);
  assert_int_equal(res.status, 200);
  assert_string_equal(res.body, "{\"length\":1024}");
  test_response_free(&res);
  /* announced length over the limit: refused before reading */
  test_request("POST", target, NULL, body, sizeof body, &res);
  assert_error(&res, 413, "too_large");
  test_response_free(&res);
  /* chunked: the limit trips while reading */
  CURL *curl = curl_easy_init();
  body_source source = {.left = 200000};
  struct curl_slist *headers = curl_slist_append(NULL, "Transfer-Encoding: chunked");
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl, CURLOPT_URL, target);
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_body);
  curl_easy_setopt(curl, CURLOPT_READDATA, &source);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  test_perform(curl, &res);
  assert_error(&res, 413, "too_large");
  test_response_free(&res);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
}

/* ---- multipart ----------------------------------------------------------------------- */

static char *pattern_bytes(size_t len, unsigned seed) {
  char *data = malloc(len ? len : 1);
  for (size_t i = 0; i < len; i++)
    data[i] = (char)((i * 31 + seed) % 256);
  return data;
}

static void sha_of(const char *data, size_t len, char hex[65]) {
  visor_sha256 sha;
  visor_sha256_init(&sha);
  visor_sha256_update(&sha, data, len);
  visor_sha256_final_hex(&sha, hex);
}

static void check_file(json_t *file, const char *field, const char *filename, const char *type,
                       const char *data, size_t len) {
  char hex[65];
  sha_of(data, len, hex);
  assert_string_equal(json_string_value(json_object_get(file, "field")), field);
  assert_string_equal(json_string_value(json_object_get(file, "filename")), filename);
  assert_string_equal(json_string_value(json_object_get(file, "content_type")), type);
  assert_int_equal(json_integer_value(json_object_get(file, "size")), len);
  assert_int_equal(json_integer_value(json_object_get(file, "stored_size")), len);
  assert_string_equal(json_string_value(json_object_get(file, "sha256")), hex);
  assert_string_equal(json_string_value(json_object_get(file, "stored_sha256")), hex);
  assert_true(json_is_true(json_object_get(file, "finished")));
}

static void test_multipart_upload(void **state) {
  (void)state;
  sink_reset(&the_sink);
  size_t len1 = 300000, len2 = 1234567;
  char *data1 = pattern_bytes(len1, 1), *data2 = pattern_bytes(len2, 2);
  CURL *curl = curl_easy_init();
  curl_mime *mime = curl_mime_init(curl);
  curl_mimepart *part = curl_mime_addpart(mime);
  curl_mime_name(part, "sku");
  curl_mime_data(part, "SKU-1", CURL_ZERO_TERMINATED);
  part = curl_mime_addpart(mime);
  curl_mime_name(part, "image");
  curl_mime_filename(part, "C:\\photos\\front.jpg"); /* only the last component is kept */
  curl_mime_type(part, "image/jpeg");
  curl_mime_data(part, data1, len1);
  part = curl_mime_addpart(mime);
  curl_mime_name(part, "image");
  curl_mime_filename(part, "back.png");
  curl_mime_type(part, "image/png");
  curl_mime_data(part, data2, len2);
  part = curl_mime_addpart(mime);
  curl_mime_name(part, "name");
  curl_mime_data(part, "Red \"lamp\"\r\n--not-a-boundary", CURL_ZERO_TERMINATED);
  char target[256];
  url(target, sizeof target, "/upload");
  curl_easy_setopt(curl, CURLOPT_URL, target);
  curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
  test_response res;
  test_perform(curl, &res);
  assert_int_equal(res.code, CURLE_OK);
  if (res.status != 200) fail_msg("status %ld: %s", res.status, res.body);
  json_t *json = parse(&res);
  json_t *files = json_object_get(json, "files");
  assert_int_equal(json_array_size(files), 2);
  check_file(json_array_get(files, 0), "image", "front.jpg", "image/jpeg", data1, len1);
  check_file(json_array_get(files, 1), "image", "back.png", "image/png", data2, len2);
  json_t *fields = json_object_get(json, "fields");
  assert_string_equal(json_string_value(json_object_get(fields, "sku")), "SKU-1");
  assert_string_equal(json_string_value(json_object_get(fields, "name")),
                      "Red \"lamp\"\r\n--not-a-boundary");
  assert_true(json_is_true(json_object_get(json, "multipart")));
  json_decref(json);
  test_response_free(&res);
  int opened, aborted, committed;
  sink_settle(&the_sink, &opened, &aborted, &committed);
  assert_int_equal(opened, 2);
  assert_int_equal(committed, 2);
  assert_int_equal(aborted, 0);
  curl_mime_free(mime);
  curl_easy_cleanup(curl);
  free(data1);
  free(data2);
}

typedef struct counted_source {
  size_t total, sent, abort_at;
} counted_source;

static size_t read_counted(char *buf, size_t size, size_t n, void *cls) {
  counted_source *source = cls;
  if (source->abort_at && source->sent >= source->abort_at) return CURL_READFUNC_ABORT;
  size_t len = size * n;
  if (len > source->total - source->sent) len = source->total - source->sent;
  if (len > 8192) len = 8192;
  memset(buf, 'z', len);
  source->sent += len;
  return len;
}

/* A multipart POST of two files read from callbacks: size -1 makes curl send it chunked,
 * so the server only learns the size while reading. */
static void post_two_files(const char *path, counted_source *a, counted_source *b, int chunked,
                           test_response *res) {
  CURL *curl = curl_easy_init();
  curl_mime *mime = curl_mime_init(curl);
  curl_mimepart *part = curl_mime_addpart(mime);
  curl_mime_name(part, "first");
  curl_mime_filename(part, "a.bin");
  curl_mime_data_cb(part, chunked ? -1 : (curl_off_t)a->total, read_counted, NULL, NULL, a);
  part = curl_mime_addpart(mime);
  curl_mime_name(part, "second");
  curl_mime_filename(part, "b.bin");
  curl_mime_data_cb(part, chunked ? -1 : (curl_off_t)b->total, read_counted, NULL, NULL, b);
  char target[256];
  url(target, sizeof target, path);
  struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
  curl_easy_setopt(curl, CURLOPT_URL, target);
  curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  test_perform(curl, res);
  curl_slist_free_all(headers);
  curl_mime_free(mime);
  curl_easy_cleanup(curl);
}

static void test_multipart_over_limit(void **state) {
  (void)state;
  int opened, aborted, committed;
  /* the limit trips while the second file streams: both parts are aborted */
  sink_reset(&the_sink);
  counted_source a = {.total = 20000}, b = {.total = 300000};
  test_response res;
  post_two_files("/upload-small", &a, &b, 1, &res);
  assert_error(&res, 413, "too_large");
  test_response_free(&res);
  sink_settle(&the_sink, &opened, &aborted, &committed);
  assert_int_equal(opened, 2);
  assert_int_equal(aborted, 2);
  assert_int_equal(committed, 0);

  /* announced over the limit: refused before any part is opened */
  sink_reset(&the_sink);
  counted_source c = {.total = 20000}, d = {.total = 300000};
  post_two_files("/upload-small", &c, &d, 0, &res);
  if (res.code == CURLE_OK) assert_error(&res, 413, "too_large");
  test_response_free(&res);
  sink_settle(&the_sink, &opened, &aborted, &committed);
  assert_int_equal(opened, 0);

  /* under the limit, same route: accepted */
  sink_reset(&the_sink);
  counted_source e = {.total = 1000}, f = {.total = 2000};
  post_two_files("/upload-small", &e, &f, 1, &res);
  assert_int_equal(res.status, 200);
  test_response_free(&res);
  sink_settle(&the_sink, &opened, &aborted, &committed);
  assert_int_equal(opened, 2);
  assert_int_equal(committed, 2);
}

static void test_multipart_errors(void **state) {
  (void)state;
  test_response res;
  char target[256];
  /* a route without a sink does not take multipart */
  url(target, sizeof target, "/nosink");
  const char *form[] = {"Content-Type: multipart/form-data; boundary=XyZ", NULL};
  const char *body = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XyZ--\r\n";
  test_request("POST", target, form, body, strlen(body), &res);
  assert_error(&res, 415, "unsupported_media_type");
  test_response_free(&res);

  sink_reset(&the_sink);
  url(target, sizeof target, "/upload");
  /* no boundary */
  const char *no_boundary[] = {"Content-Type: multipart/form-data", NULL};
  test_request("POST", target, no_boundary, body, strlen(body), &res);
  assert_error(&res, 400, "invalid_argument");
  test_response_free(&res);
  /* cut off in the middle of a file part: its handle is aborted */
  const char *cut = "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\n"
                    "Content-Type: application/octet-stream\r\n\r\n0123456789abcdef";
  test_request("POST", target, form, cut, strlen(cut), &res);
  assert_error(&res, 400, "invalid_argument");
  test_response_free(&res);
  /* a sink that refuses a part: its error goes to the client */
  const char *refused =
      "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"ok.bin\"\r\n\r\nabc\r\n"
      "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"fail.bin\"\r\n\r\nabc\r\n"
      "--XyZ--\r\n";
  test_request("POST", target, form, refused, strlen(refused), &res);
  assert_error(&res, 415, "unsupported_media_type");
  assert_non_null(strstr(res.body, "fail.bin is not an image"));
  test_response_free(&res);
  int opened, aborted, committed;
  sink_settle(&the_sink, &opened, &aborted, &committed);
  assert_int_equal(opened, aborted);
  assert_int_equal(committed, 0);
  /* a text field over its limit */
  size_t big = 70000;
  char *huge = malloc(big + 200);
  int n = snprintf(huge, 200, "--XyZ\r\nContent-Disposition: form-data; name=\"t\"\r\n\r\n");
  memset(huge + n, 'q', big);
  memcpy(huge + n + big, "\r\n--XyZ--\r\n", 11);
  test_request("POST", target, form, huge, (size_t)n + big + 11, &res);
  assert_error(&res, 413, "too_large");
  test_response_free(&res);
  free(huge);
}

/* RFC 2046 allows boundaries of 1 to 70 characters. */
static void test_multipart_short_boundary(void **state) {
  (void)state;
  sink_reset(&the_sink);
  char target[256];
  url(target, sizeof target, "/upload");
  const char *form[] = {"Content-Type: multipart/form-data; boundary=X", NULL};
  const char *body = "--X\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n"
                     "--X\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.bin\"\r\n"
                     "\r\nabc\r\n--X--\r\n";
  test_response res;
  test_request("POST", target, form, body, strlen(body), &res);
  if (res.status != 200) fail_msg("one-character boundary: %ld %s", res.status, res.body);
  json_t *json = parse(&res);
  assert_string_equal(json_string_value(json_object_get(json_object_get(json, "fields"), "a")),
                      "1");
  json_t *file = json_array_get(json_object_get(json, "files"), 0);
  assert_int_equal(json_integer_value(json_object_get(file, "size")), 3);
  json_decref(json);
  test_response_free(&res);
}

static void test_client_abort_upload(void **state) {
  (void)state;
  sink_reset(&the_sink);
  counted_source a = {.total = 4 << 20, .abort_at = 600000}, b = {.total = 1000};
  test_response res;
  post_two_files("/upload", &a, &b, 0, &res);
  assert_int_not_equal(res.code, CURLE_OK);
  test_response_free(&res);
  int opened = 0, aborted = 0, committed = 0;
  for (int i = 0; i < 300 && !(opened > 0 && opened == aborted); i++) {
    sink_settle(&the_sink, &opened, &aborted, &committed);
    if (!(opened > 0 && opened == aborted)) visor_sleep_ms(10);
  }
  assert_int_equal(opened, 1);
  assert_int_equal(aborted, 1);
  assert_int_equal(committed, 0);
}

/* ---- responses ----------------------------------------------------------------------- */

static void test_stream_response(void **state) {
  (void)state;
  pthread_mutex_lock(&stream_lock);
  stream_frees = 0;
  pthread_mutex_unlock(&stream_lock);
  test_response res;
  get("/stream?size=3000001", &res);
  assert_int_equal(res.status, 200);
  assert_string_equal(res.content_type, "application/octet-stream");
  assert_int_equal(res.len, 3000001);
  for (size_t i = 0; i < res.len; i++)
    if ((unsigned char)res.body[i] != i % 251) fail_msg("byte %zu differs", i);
  test_response_free(&res);
  char target[256];
  url(target, sizeof target, "/stream?size=10");
  test_request("HEAD", target, NULL, NULL, 0, &res);
  assert_int_equal(res.status, 200);
  assert_int_equal(res.len, 0);
  test_response_free(&res);
  int frees = 0;
  for (int i = 0; i < 300 && frees < 2; i++) {
    pthread_mutex_lock(&stream_lock);
    frees = stream_frees;
    pthread_mutex_unlock(&stream_lock);
    if (frees < 2) visor_sleep_ms(10);
  }
  assert_int_equal(frees, 2);
}

#define CLIENTS 8
#define REQUESTS_PER_CLIENT 25

static void *client_thread(void *arg) {
  long id = (long)arg;
  long failures = 0;
  for (int i = 0; i < REQUESTS_PER_CLIENT; i++) {
    char path[64], expected[64];
    snprintf(path, sizeof path, "/items/c%ld-%d", id, i);
    snprintf(expected, sizeof expected, "\"id\":\"c%ld-%d\"", id, i);
    test_response res;
    get(path, &res);
    if (res.status != 200 || !strstr(res.body, expected)) failures++;
    test_response_free(&res);
  }
  return (void *)failures;
}

static void test_concurrent_requests(void **state) {
  (void)state;
  pthread_t threads[CLIENTS];
  for (long i = 0; i < CLIENTS; i++)
    pthread_create(&threads[i], NULL, client_thread, (void *)i);
  long failures = 0;
  for (int i = 0; i < CLIENTS; i++) {
    void *result;
    pthread_join(threads[i], &result);
    failures += (long)result;
  }
  assert_int_equal(failures, 0);
}

static void test_metrics(void **state) {
  (void)state;
  test_response res;
  get("/items/metric-check", &res);
  test_response_free(&res);
  get("/no/such/path/for/metrics", &res);
  test_response_free(&res);
  char *text = NULL;
  for (int i = 0; i < 100; i++) { /* recorded when MHD completes the request */
    free(text);
    text = visor_metrics_render();
    if (strstr(text, "status=\"404\"")) break;
    visor_sleep_ms(10);
  }
  assert_non_null(strstr(
      text, "visor_http_requests_total{route=\"/items/{id}\",method=\"GET\",status=\"200\"}"));
  assert_non_null(strstr(
      text, "visor_http_request_duration_seconds_bucket{route=\"/items/{id}\",method=\"GET\""));
  assert_non_null(strstr(text, "route=\"unmatched\""));
  assert_null(strstr(text, "metric-check"));
  free(text);
}

/* ---- servers of their own ------------------------------------------------------------ */

static visor_http_server *start_server(const visor_http_config *config, char *out_base,
                                       size_t size) {
  visor_error err = {0};
  visor_http_server *s = visor_http_server_new(config, &err);
  assert_non_null(s);
  add_route(s, "GET", "/hello", hello, NULL, NULL);
  add_route(s, "GET", "/slow", slow, NULL, NULL);
  visor_route_options exempt = {.no_rate_limit = 1};
  add_route(s, "GET", "/health", hello, NULL, &exempt);
  assert_int_equal(visor_http_start(s, &err), VISOR_OK);
  snprintf(out_base, size, "http://127.0.0.1:%d", visor_http_port(s));
  return s;
}

static void test_rate_limit(void **state) {
  (void)state;
  visor_http_config config = {
      .host = "127.0.0.1", .threads = 2, .rate_limit_per_s = 0.5, .rate_limit_burst = 3};
  char own[64], target[128];
  visor_http_server *s = start_server(&config, own, sizeof own);
  snprintf(target, sizeof target, "%s/hello", own);
  test_response res;
  for (int i = 0; i < 3; i++) {
    test_request("GET", target, NULL, NULL, 0, &res);
    assert_int_equal(res.status, 200);
    test_response_free(&res);
  }
  test_request("GET", target, NULL, NULL, 0, &res);
  assert_error(&res, 429, "rate_limited");
  assert_true(atoi(res.retry_after) >= 1 && atoi(res.retry_after) <= 2);
  test_response_free(&res);
  /* unknown paths count too */
  snprintf(target, sizeof target, "%s/nope", own);
  test_request("GET", target, NULL, NULL, 0, &res);
  assert_error(&res, 429, "rate_limited");
  test_response_free(&res);
  /* a route marked no_rate_limit is always served */
  snprintf(target, sizeof target, "%s/health", own);
  for (int i = 0; i < 5; i++) {
    test_request("GET", target, NULL, NULL, 0, &res);
    assert_int_equal(res.status, 200);
    test_response_free(&res);
  }
  visor_http_stop(s, 1000);
  visor_http_server_free(s);
}

typedef struct slow_call {
  char url[128];
  test_response res;
  double finished;
} slow_call;

static void *slow_client(void *arg) {
  slow_call *call = arg;
  test_request("GET", call->url, NULL, NULL, 0, &call->res);
  call->finished = visor_monotonic_s();
  return NULL;
}

static void test_graceful_stop(void **state) {
  (void)state;
  visor_http_config config = {.host = "127.0.0.1", .threads = 2};
  char own[64];
  visor_http_server *s = start_server(&config, own, sizeof own);
  slow_call call = {0};
  snprintf(call.url, sizeof call.url, "%s/slow", own);
  pthread_t thread;
  pthread_create(&thread, NULL, slow_client, &call);
  visor_sleep_ms(150); /* the handler is sleeping now */
  double stop_started = visor_monotonic_s();
  visor_http_stop(s, 5000);
  double stopped = visor_monotonic_s();
  pthread_join(thread, NULL);
  assert_int_equal(call.res.code, CURLE_OK);
  assert_int_equal(call.res.status, 200);
  assert_string_equal(call.res.body, "{\"slow\":\"done\"}");
  assert_string_equal(call.res.connection, "close");
  assert_true(stopped - stop_started < 3.0);
  test_response_free(&call.res);
  /* no longer accepting */
  char target[128];
  snprintf(target, sizeof target, "%s/hello", own);
  test_response res;
  test_request("GET", target, NULL, NULL, 0, &res);
  assert_int_not_equal(res.code, CURLE_OK);
  test_response_free(&res);
  visor_http_server_free(s);

  /* a grace period shorter than the handler: stop still returns, nothing leaks */
  s = start_server(&config, own, sizeof own);
  snprintf(call.url, sizeof call.url, "%s/slow", own);
  pthread_create(&thread, NULL, slow_client, &call);
  visor_sleep_ms(100);
  visor_http_stop(s, 50);
  pthread_join(thread, NULL);
  test_response_free(&call.res);
  visor_http_server_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_routing_params),      cmocka_unit_test(test_not_found_and_fallback),
      cmocka_unit_test(test_method_not_allowed),  cmocka_unit_test(test_head_and_request_id),
      cmocka_unit_test(test_json_body),           cmocka_unit_test(test_body_over_limit),
      cmocka_unit_test(test_multipart_upload),    cmocka_unit_test(test_multipart_over_limit),
      cmocka_unit_test(test_multipart_errors),    cmocka_unit_test(test_multipart_short_boundary),
      cmocka_unit_test(test_client_abort_upload), cmocka_unit_test(test_stream_response),
      cmocka_unit_test(test_concurrent_requests), cmocka_unit_test(test_metrics),
      cmocka_unit_test(test_rate_limit),          cmocka_unit_test(test_graceful_stop),
  };
  if (getenv("VISOR_TEST_FILTER")) cmocka_set_test_filter(getenv("VISOR_TEST_FILTER"));
  return cmocka_run_group_tests(tests, setup, teardown);
}
