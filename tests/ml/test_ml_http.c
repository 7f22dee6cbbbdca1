/* test_ml_http.c: `visor ml` and its HTTP client. The service runs in this process on
 * 127.0.0.1:0 over the same in-process backend the tests compare against: the client
 * (visor_ml_open("http://...")) gives the same regions, labels and vectors (to 1e-6) as the
 * in-process path on Grocery Store photos, with batching on and off; concurrent clients
 * get their own results; bad input is the right 4xx (raw HTTP) and the matching visor_code
 * (client); a service that is down is VISOR_ERR_UNAVAILABLE naming its URL. */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../api/http_client.h"
#include "http/http.h"
#include "ml/ml.h"
#include "ml/ml_server.h"
#include "ml_test.h"

#define CLIENTS 8

static visor_ml *local; /* in-process backend (also what the services run) */
static visor_ml_service *batched, *unbatched;
static visor_http_server *batched_server, *unbatched_server;
static visor_ml *client;     /* → batched service */
static visor_ml *client_off; /* → unbatched service */
static char batched_url[128], unbatched_url[128];

static const char *const photos[] = {
    "datasets/grocery/test/Fruit/Banana/Banana_001.jpg",
    "datasets/grocery/test/Fruit/Apple/Granny-Smith/Granny-Smith_002.jpg",
    "datasets/grocery/test/Packages/Milk/Arla-Standard-Milk/Arla-Standard-Milk_001.jpg",
    "datasets/grocery/test/Fruit/Banana/Banana_003.jpg",
    "datasets/grocery/test/Vegetables/Tomato/Regular-Tomato/Regular-Tomato_001.jpg",
    "datasets/grocery/test/Fruit/Apple/Granny-Smith/Granny-Smith_004.jpg",
    "datasets/grocery/test/Packages/Juice/Tropicana-Apple-Juice/Tropicana-Apple-Juice_002.jpg",
    "datasets/grocery/test/Fruit/Banana/Banana_005.jpg",
};
#define PHOTO_COUNT (sizeof photos / sizeof photos[0])

static void *read_photo(const char *relative, size_t *len) {
  char path[4096];
  shared_path(path, sizeof path, relative);
  void *data = read_whole(path, len);
  if (!data) fail_msg("cannot read %s", path);
  return data;
}

static visor_http_server *start_service(visor_ml_service *service, char *url, size_t size) {
  visor_error err = {0};
  visor_http_config http = {.host = "127.0.0.1", .port = 0, .threads = CLIENTS + 4};
  visor_http_server *server = visor_http_server_new(&http, &err);
  if (!server || visor_ml_service_register(service, server, &err) ||
      visor_http_start(server, &err)) {
    fprintf(stderr, "start service: %s\n", err.message);
    return NULL;
  }
  snprintf(url, size, "http://127.0.0.1:%d", visor_http_port(server));
  return server;
}

static int setup(void **state) {
  (void)state;
  char models[4096];
  shared_path(models, sizeof models, "models");
  visor_ml_config config = {.url = "local", .models_dir = models, .intra_op_threads = 1};
  visor_error err = {0};
  if (!(local = visor_ml_open(&config, &err))) {
    fprintf(stderr, "visor_ml_open: %s\n", err.message);
    return -1;
  }
  visor_ml_service_config on = {.max_batch = 8, .batch_wait_ms = 5};
  visor_ml_service_config off = {.max_batch = 1};
  if (!(batched = visor_ml_service_new(local, &on, &err)) ||
      !(unbatched = visor_ml_service_new(local, &off, &err))) {
    fprintf(stderr, "visor_ml_service_new: %s\n", err.message);
    return -1;
  }
  if (!(batched_server = start_service(batched, batched_url, sizeof batched_url)) ||
      !(unbatched_server = start_service(unbatched, unbatched_url, sizeof unbatched_url)))
    return -1;
  visor_ml_config remote = {.url = batched_url};
  visor_ml_config remote_off = {.url = unbatched_url};
  if (!(client = visor_ml_open(&remote, &err)) ||
      !(client_off = visor_ml_open(&remote_off, &err))) {
    fprintf(stderr, "visor_ml_open(%s): %s\n", batched_url, err.message);
    return -1;
  }
  test_http_init(batched_url);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  if (client) client->ops->close(client);
  if (client_off) client_off->ops->close(client_off);
  if (batched_server) visor_http_stop(batched_server, 2000);
  if (unbatched_server) visor_http_stop(unbatched_server, 2000);
  visor_http_server_free(batched_server);
  visor_http_server_free(unbatched_server);
  visor_ml_service_free(batched);
  visor_ml_service_free(unbatched);
  if (local) local->ops->close(local);
  return 0;
}

/* ---- comparing --------------------------------------------------------------------- */

static void expect_same_labels(const visor_region *a, const visor_region *b) {
  assert_int_equal(a->label_count, b->label_count);
  for (size_t i = 0; i < a->label_count; i++) {
    assert_string_equal(a->labels[i].name, b->labels[i].name);
    assert_true(fabsf(a->labels[i].score - b->labels[i].score) <= 1e-6f);
  }
}

static void expect_same_vector(const float *a, const float *b, size_t dim) {
  assert_true((a == NULL) == (b == NULL));
  for (size_t i = 0; a && i < dim; i++)
    if (fabsf(a[i] - b[i]) > 1e-6f)
      fail_msg("embedding[%zu]: %.9g vs %.9g", i, (double)a[i], (double)b[i]);
}

static void expect_same_analysis(const visor_analysis *a, const visor_analysis *b) {
  assert_int_equal(a->width, b->width);
  assert_int_equal(a->height, b->height);
  assert_string_equal(a->format, b->format);
  assert_int_equal(a->dim, b->dim);
  assert_string_equal(a->embedder.name, b->embedder.name);
  assert_string_equal(a->embedder.version, b->embedder.version);
  assert_int_equal(a->embedder.dim, b->embedder.dim);
  assert_string_equal(a->detector.name, b->detector.name);
  assert_string_equal(a->labeller.version, b->labeller.version);
  assert_int_equal(a->region_count, b->region_count);
  for (size_t r = 0; r < a->region_count; r++) {
    const visor_region *x = &a->regions[r], *y = &b->regions[r];
    assert_memory_equal(&x->box, &y->box, sizeof x->box); /* bit for bit */
    assert_int_equal(x->whole_image, y->whole_image);
    assert_string_equal(x->detector.name, y->detector.name);
    assert_true(x->detector.score == y->detector.score);
    expect_same_labels(x, y);
    expect_same_vector(x->embedding, y->embedding, a->dim);
  }
}

static void analyze_or_fail(visor_ml *ml, const void *data, size_t len,
                            const visor_analyze_options *options, visor_analysis *out) {
  visor_error err = {0};
  if (ml->ops->analyze(ml, data, len, options, out, &err)) fail_msg("analyze: %s", err.message);
}

/* ---- the same results as in process ------------------------------------------------ */

static void test_analyze_matches_local(void **state) {
  (void)state;
  size_t regions = 0;
  for (size_t p = 0; p < PHOTO_COUNT; p++) {
    size_t len;
    void *data = read_photo(photos[p], &len);
    visor_analysis here, there, off;
    analyze_or_fail(local, data, len, NULL, &here);
    analyze_or_fail(client, data, len, NULL, &there);
    expect_same_analysis(&here, &there);
    if (p < 3) { /* batching off: the same too */
      analyze_or_fail(client_off, data, len, NULL, &off);
      expect_same_analysis(&here, &off);
      visor_analysis_free(&off);
    }
    regions += here.region_count;
    visor_analysis_free(&here);
    visor_analysis_free(&there);
    free(data);
  }
  assert_true(regions > PHOTO_COUNT); /* some photos have detections */
}

static void test_analyze_options_match_local(void **state) {
  (void)state;
  size_t len;
  void *data = read_photo(photos[0], &len);
  visor_analyze_options options[] = {
      {.max_regions = 1},
      {.skip_embeddings = 1},
      {.min_score = 0.6f, .max_regions = 3},
      {.max_regions = 2, .views = {0.8f, 0.55f, 1.0f}, .view_count = 3}};
  for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
    visor_analysis here, there;
    analyze_or_fail(local, data, len, &options[i], &here);
    analyze_or_fail(client, data, len, &options[i], &there);
    expect_same_analysis(&here, &there);
    if (options[i].max_regions)
      assert_true(there.region_count <= options[i].max_regions + options[i].view_count);
    if (options[i].view_count)
      assert_string_equal(there.regions[there.region_count - 1].detector.name, "view");
    if (options[i].skip_embeddings) {
      assert_int_equal(there.dim, 0);
      assert_null(there.regions[0].embedding);
    }
    visor_analysis_free(&here);
    visor_analysis_free(&there);
  }
  free(data);
}

static void embed_boxes_or_fail(visor_ml *ml, const void *data, size_t len, visor_region *regions,
                                size_t count) {
  visor_error err = {0};
  if (ml->ops->embed_boxes(ml, data, len, regions, count, &err))
    fail_msg("embed_boxes: %s", err.message);
}

static void test_embed_boxes_matches_local(void **state) {
  (void)state;
  size_t len;
  void *data = read_photo(photos[1], &len);
  visor_model_info info, remote_info;
  visor_error err = {0};
  assert_int_equal(local->ops->embedder_info(local, &info, &err), VISOR_OK);
  assert_int_equal(client->ops->embedder_info(client, &remote_info, &err), VISOR_OK);
  assert_string_equal(info.name, remote_info.name);
  assert_string_equal(info.version, remote_info.version);
  assert_int_equal(info.dim, remote_info.dim);
  /* 3 boxes (sent in the query) and 40 (sent as JSON with the image in base64) */
  size_t counts[] = {3, 40};
  for (size_t c = 0; c < 2; c++) {
    size_t count = counts[c];
    visor_region *here = calloc(count, sizeof *here), *there = calloc(count, sizeof *there);
    for (size_t i = 0; i < count; i++) {
      visor_box box = {10.25f + 7.5f * (float)i, 20.0f + 3.0f * (float)i, 120.0f + (float)i / 3.0f,
                       90.5f + (float)i};
      here[i].box = there[i].box = box;
    }
    embed_boxes_or_fail(local, data, len, here, count);
    embed_boxes_or_fail(client, data, len, there, count);
    for (size_t i = 0; i < count; i++) {
      expect_same_labels(&here[i], &there[i]);
      expect_same_vector(here[i].embedding, there[i].embedding, info.dim);
      free(here[i].embedding);
      free(there[i].embedding);
    }
    free(here);
    free(there);
  }
  free(data);
}

/* ---- concurrency -------------------------------------------------------------------- */

typedef struct client_job {
  int index;
  visor_analysis expected[PHOTO_COUNT];
  void *data[PHOTO_COUNT];
  size_t len[PHOTO_COUNT];
  int failures;
  char message[512];
} client_job;

static int same(const visor_analysis *a, const visor_analysis *b, char *why, size_t size) {
  if (a->region_count != b->region_count || a->width != b->width || a->dim != b->dim) {
    snprintf(why, size, "%zu vs %zu regions", a->region_count, b->region_count);
    return 0;
  }
  for (size_t r = 0; r < a->region_count; r++) {
    const visor_region *x = &a->regions[r], *y = &b->regions[r];
    if (memcmp(&x->box, &y->box, sizeof x->box) || x->label_count != y->label_count ||
        (x->label_count && strcmp(x->labels[0].name, y->labels[0].name))) {
      snprintf(why, size, "region %zu differs", r);
      return 0;
    }
    for (size_t i = 0; i < a->dim; i++)
      if (fabsf(x->embedding[i] - y->embedding[i]) > 1e-6f) {
        snprintf(why, size, "region %zu embedding[%zu] differs", r, i);
        return 0;
      }
  }
  return 1;
}

static void *client_main(void *arg) {
  client_job *job = arg;
  for (int round = 0; round < 3; round++)
    for (size_t k = 0; k < PHOTO_COUNT; k++) {
      size_t p = (k + (size_t)job->index) % PHOTO_COUNT; /* clients start on different photos */
      visor_analysis got;
      visor_error err = {0};
      if (client->ops->analyze(client, job->data[p], job->len[p], NULL, &got, &err)) {
        job->failures++;
        snprintf(job->message, sizeof job->message, "%s", err.message);
        continue;
      }
      char why[256];
      if (!same(&job->expected[p], &got, why, sizeof why)) {
        job->failures++;
        snprintf(job->message, sizeof job->message, "%s: %s", photos[p], why);
      }
      visor_analysis_free(&got);
    }
  return NULL;
}

static void test_concurrent_clients_batched(void **state) {
  (void)state;
  static client_job jobs[CLIENTS];
  visor_analysis expected[PHOTO_COUNT];
  void *data[PHOTO_COUNT];
  size_t len[PHOTO_COUNT];
  for (size_t p = 0; p < PHOTO_COUNT; p++) {
    data[p] = read_photo(photos[p], &len[p]);
    analyze_or_fail(local, data[p], len[p], NULL, &expected[p]);
  }
  visor_ml_service_stats before, after;
  visor_ml_service_get_stats(batched, &before);
  pthread_t threads[CLIENTS];
  for (int c = 0; c < CLIENTS; c++) {
    memset(&jobs[c], 0, sizeof jobs[c]);
    jobs[c].index = c;
    memcpy(jobs[c].expected, expected, sizeof expected);
    memcpy(jobs[c].data, data, sizeof data);
    memcpy(jobs[c].len, len, sizeof len);
    assert_int_equal(pthread_create(&threads[c], NULL, client_main, &jobs[c]), 0);
  }
  for (int c = 0; c < CLIENTS; c++)
    pthread_join(threads[c], NULL);
  visor_ml_service_get_stats(batched, &after);
  for (int c = 0; c < CLIENTS; c++)
    if (jobs[c].failures)
      fail_msg("client %d: %d failures: %s", c, jobs[c].failures, jobs[c].message);
  size_t crops = 0;
  for (size_t p = 0; p < PHOTO_COUNT; p++) {
    crops += expected[p].region_count;
    visor_analysis_free(&expected[p]);
    free(data[p]);
  }
  uint64_t batches = after.batches - before.batches, ran = after.crops - before.crops;
  printf("# %d clients: %llu crops in %llu batches (largest %llu)\n", CLIENTS,
         (unsigned long long)ran, (unsigned long long)batches, (unsigned long long)after.largest);
  assert_int_equal(ran, (uint64_t)crops * 3 * CLIENTS);
  /* crops of different requests were run together */
  assert_true(batches < ran);
  assert_true(after.largest > 1);
}

/* ---- bad input ---------------------------------------------------------------------- */

/* A PNG header that says 10000 x 5000 (50 Mpx, over the 40 Mpx default). */
static const unsigned char huge_png[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x27, 0x10, 0x00, 0x00, 0x13, 0x88, 0x08, 0x02, 0x00, 0x00,
    0x00, 0x98, 0x35, 0xe0, 0x1f, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9c, 0x63, 0x60, 0xa0, 0x0c, 0x00, 0x00, 0x00, 0x40, 0x00, 0x01, 0xb7, 0x34, 0x7c,
    0xef, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

static void expect_status(test_response res, long status, const char *code) {
  if (res.status != status)
    fail_msg("expected %ld, got %ld: %s", status, res.status, res.body ? res.body : "");
  if (code) assert_string_equal(test_error_code(&res), code);
  if (code) assert_true(strlen(test_error_message(&res)) > 0);
  test_response_free(&res);
}

static void test_bad_input_http(void **state) {
  (void)state;
  size_t len;
  void *data = read_photo(photos[0], &len);
  const char *jpeg = "image/jpeg", *bytes = "application/octet-stream";
  expect_status(test_request("POST", "/v1/analyze", jpeg, "", 0), 400, "invalid_argument");
  expect_status(test_request("POST", "/v1/analyze", "text/plain", "hello", 5), 415,
                "unsupported_media_type");
  expect_status(test_request("POST", "/v1/analyze", bytes, "not an image at all", 19), 415,
                "unsupported_media_type");
  expect_status(
      test_request("POST", "/v1/analyze", "image/png", (const char *)huge_png, sizeof huge_png),
      413, "too_large");
  expect_status(test_request("POST", "/v1/analyze?min_score=2", jpeg, data, len), 400,
                "invalid_argument");
  expect_status(test_request("POST", "/v1/analyze?max_regions=0", jpeg, data, len), 400,
                "invalid_argument");
  expect_status(test_request("POST", "/v1/analyze?max_regions=abc", jpeg, data, len), 400,
                "invalid_argument");
  expect_status(test_request("POST", "/v1/analyze?skip_embeddings=maybe", jpeg, data, len), 400,
                "invalid_argument");
  const char *bad_views[] = {"0", "1.5", "0.8,", "0.8,,0.5", "a", "0.1,0.2,0.3,0.4,0.5", ""};
  for (size_t i = 0; i < sizeof bad_views / sizeof bad_views[0]; i++) {
    char path[96];
    snprintf(path, sizeof path, "/v1/analyze?views=%s", bad_views[i]);
    expect_status(test_request("POST", path, jpeg, data, len), 400, "invalid_argument");
  }
  expect_status(test_request("POST", "/v1/embed", jpeg, data, len), 400, "invalid_argument");
  expect_status(test_request("POST", "/v1/embed?boxes=1,2,3", jpeg, data, len), 400,
                "invalid_argument");
  expect_status(test_request("POST", "/v1/embed?boxes=1,2,0,5", jpeg, data, len), 400,
                "invalid_argument");
  expect_status(test_request("POST", "/v1/embed?boxes=99999,2,10,5", jpeg, data, len), 400,
                "invalid_argument");
  expect_status(test_post_json("/v1/embed", "{\"boxes\":[[0,0,5,5]]}"), 400, "invalid_argument");
  expect_status(test_post_json("/v1/label", "{\"image_base64\":\"!!\",\"boxes\":[[0,0,5,5]]}"), 400,
                "invalid_argument");
  expect_status(
      test_post_json("/v1/embed", "{\"image_base64\":\"aGVsbG8=\",\"boxes\":[[0,0,5,5]]}"), 415,
      "unsupported_media_type");
  expect_status(test_get("/v1/analyze"), 405, NULL);
  expect_status(test_get("/v1/nothing"), 404, NULL);

  /* the same through the client: the service's code and message come back */
  visor_analysis a;
  visor_error err = {0};
  assert_int_equal(client->ops->analyze(client, "not an image", 12, NULL, &a, &err),
                   VISOR_ERR_UNSUPPORTED);
  assert_int_equal(client->ops->analyze(client, huge_png, sizeof huge_png, NULL, &a, &err),
                   VISOR_ERR_TOO_LARGE);
  assert_non_null(strstr(err.message, "pixels"));
  assert_int_equal(client->ops->analyze(client, "", 0, NULL, &a, &err), VISOR_ERR_INVALID);
  visor_region region = {.box = {99999, 0, 10, 10}};
  assert_int_equal(client->ops->embed_boxes(client, data, len, &region, 1, &err),
                   VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "outside"));
  assert_null(region.embedding);
  free(data);
}

/* ---- the other routes -------------------------------------------------------------- */

static void test_detect_label_models_health(void **state) {
  (void)state;
  size_t len;
  void *data = read_photo(photos[0], &len);
  visor_analysis here;
  analyze_or_fail(local, data, len, NULL, &here);

  test_response res = test_request("POST", "/v1/detect", "image/jpeg", data, len);
  assert_int_equal(res.status, 200);
  json_t *regions = json_object_get(res.json, "regions");
  assert_int_equal(json_array_size(regions), here.region_count);
  for (size_t i = 0; i < here.region_count; i++) {
    json_t *region = json_array_get(regions, i);
    assert_null(json_object_get(region, "labels"));
    assert_null(json_object_get(region, "embedding"));
    assert_true(json_real_value(json_object_get(json_object_get(region, "box"), "w")) ==
                here.regions[i].box.w);
  }
  test_response_free(&res);

  /* /v1/label on the detected boxes gives the labels analyze gave */
  char path[1024];
  size_t n = (size_t)snprintf(path, sizeof path, "/v1/label?boxes=");
  size_t count = here.region_count < 4 ? here.region_count : 4;
  for (size_t i = 0; i < count; i++) {
    const visor_box *b = &here.regions[i].box;
    n += (size_t)snprintf(path + n, sizeof path - n, "%s%.9g,%.9g,%.9g,%.9g", i ? "%3B" : "",
                          (double)b->x, (double)b->y, (double)b->w, (double)b->h);
  }
  res = test_request("POST", path, "image/jpeg", data, len);
  assert_int_equal(res.status, 200);
  regions = json_object_get(res.json, "regions");
  assert_int_equal(json_array_size(regions), count);
  for (size_t i = 0; i < count; i++) {
    json_t *labels = json_object_get(json_array_get(regions, i), "labels");
    assert_null(json_object_get(json_array_get(regions, i), "embedding"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(labels, 0), "name")),
                        here.regions[i].labels[0].name);
  }
  test_response_free(&res);

  res = test_get("/v1/models");
  assert_int_equal(res.status, 200);
  assert_int_equal(json_array_size(json_object_get(res.json, "models")), 2);
  assert_int_equal(
      json_integer_value(json_object_get(json_object_get(res.json, "embedder"), "dim")), 1280 + 108);
  assert_true(json_is_true(json_object_get(json_object_get(res.json, "batching"), "enabled")));
  test_response_free(&res);
  expect_status(test_get("/healthz"), 200, NULL);
  expect_status(test_get("/readyz"), 200, NULL);
  res = test_get("/metrics");
  assert_int_equal(res.status, 200);
  assert_non_null(strstr(res.body, "visor_ml_batches_total"));
  test_response_free(&res);
  visor_analysis_free(&here);
  free(data);
}

/* ---- service down ------------------------------------------------------------------- */

/* A local port nothing listens on. */
static int closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t size = sizeof addr;
  assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof addr), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &size), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

static void test_service_down(void **state) {
  (void)state;
  char url[128];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
  visor_ml_config config = {.url = url};
  visor_error err = {0};
  visor_ml *down = visor_ml_open(&config, &err);
  assert_non_null(down);
  visor_analysis a;
  assert_int_equal(down->ops->analyze(down, "x", 1, NULL, &a, &err), VISOR_ERR_UNAVAILABLE);
  if (!strstr(err.message, url)) fail_msg("message does not name %s: %s", url, err.message);
  visor_model_info info;
  assert_int_equal(down->ops->embedder_info(down, &info, &err), VISOR_ERR_UNAVAILABLE);
  assert_non_null(strstr(err.message, url));
  visor_region region = {.box = {0, 0, 10, 10}};
  assert_int_equal(down->ops->embed_boxes(down, "x", 1, &region, 1, &err), VISOR_ERR_UNAVAILABLE);
  assert_null(region.embedding);
  down->ops->close(down);

  /* bad client options fail at open */
  config.url = "http://127.0.0.1:1?timeout=5";
  assert_null(visor_ml_open(&config, &err));
  assert_int_equal(err.code, VISOR_ERR_INVALID);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_analyze_matches_local),
      cmocka_unit_test(test_analyze_options_match_local),
      cmocka_unit_test(test_embed_boxes_matches_local),
      cmocka_unit_test(test_concurrent_clients_batched),
      cmocka_unit_test(test_bad_input_http),
      cmocka_unit_test(test_detect_label_models_health),
      cmocka_unit_test(test_service_down),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
