/* test_reindex.c: re-index runs and model versions against a real server in this process
 * with the pipelines (real models, in-process workers; embedded backends, or the ones named
 * by VISOR_TEST_REINDEX_METADATA_URL / VISOR_TEST_REINDEX_VECTOR_URL, whose vector URL must
 * name an empty collection, e.g. a new Chroma database per run). Three grocery products are
 * indexed; then one product, a category and everything are re-indexed (new region rows,
 * the same number of vectors, the runs' progress and audit entries), a product stays the
 * top hit of searches made while its category is re-indexed, two runs of everything at
 * once leave exactly one set of regions and vectors, bad input is a 4xx with nothing
 * queued, and after a restart with a models manifest whose embedder version changed
 * every product is stale (counted, flagged, not found by search) until a "stale" run
 * re-indexes it; `visor check` stays clean throughout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "admin_checks.h"
#include "http_client.h"
#include "service/consistency.h"
#include "test_server.h"

#define TOKEN "reindex-admin-token-0123456789"

static test_server test;
static char data_dir[64];
static char manifest_copy[128];

typedef struct product {
  const char *sku, *name, *category, *image_path;
  char image[1024];
  char id[40];
} product;

enum { APPLE, BANANA, OAT_MILK, PRODUCT_COUNT };

static product products[PRODUCT_COUNT] = {
    {.sku = "APPLE",
     .name = "Granny Smith",
     .category = "fruit",
     .image_path = "Fruit/Apple/Granny-Smith/Granny-Smith_Iconic.jpg"},
    {.sku = "BANANA",
     .name = "Banana",
     .category = "fruit",
     .image_path = "Fruit/Banana/Banana_Iconic.jpg"},
    {.sku = "OATMILK",
     .name = "Oat milk",
     .category = "packages",
     .image_path = "Packages/Oat-Milk/Oatly-Oat-Milk/Oatly-Oat-Milk_Iconic.jpg"},
};

/* ---- helpers -------------------------------------------------------------------------- */

static test_response admin(const char *method, const char *path, const char *body) {
  const char *headers[] = {"Authorization: Bearer " TOKEN, "Content-Type: application/json", NULL};
  return test_request_headers(method, path, headers, body);
}

/* The best product of a search with image, or "" when none. */
static void top_product(const char *image, char out[40]) {
  test_part parts[] = {{.name = "image", .file = image}, {.name = "k", .value = "5"}};
  test_response res = test_multipart("POST", "/api/v1/searches?wait=30", parts, 2);
  if (res.status != 200 ||
      strcmp(json_string_value(json_object_get(res.json, "status")) ?: "", "done") != 0)
    fail_msg("search: %ld %s", res.status, res.body);
  json_t *first = json_array_get(json_object_get(res.json, "products"), 0);
  snprintf(out, 40, "%s", json_string_value(json_object_get(first, "product_id")) ?: "");
  test_response_free(&res);
}

static json_t *get_product(const char *id) {
  char path[128];
  snprintf(path, sizeof path, "/api/v1/products/%s", id);
  test_response res = test_get(path);
  assert_int_equal(res.status, 200);
  json_t *product = json_incref(res.json);
  test_response_free(&res);
  return product;
}

/* The sorted ids of a product's live regions, joined with ',' (caller frees), and the
 * model each region records, which must all be `model` when it is not NULL. */
static char *region_ids(const char *product_id, const char *model) {
  json_t *product = get_product(product_id);
  char *ids[64];
  size_t n = 0, i, j;
  json_t *image, *region;
  json_array_foreach(json_object_get(product, "images"), i, image)
      json_array_foreach(json_object_get(image, "regions"), j, region) {
    if (n < 64) ids[n++] = strdup(json_string_value(json_object_get(region, "id")));
    if (model) assert_string_equal(json_string_value(json_object_get(region, "model")), model);
  }
  json_decref(product);
  for (size_t a = 0; a < n; a++)
    for (size_t b = a + 1; b < n; b++)
      if (strcmp(ids[a], ids[b]) > 0) {
        char *t = ids[a];
        ids[a] = ids[b];
        ids[b] = t;
      }
  char *joined = calloc(n * 40 + 1, 1);
  for (size_t k = 0; k < n; k++) {
    if (k) strcat(joined, ",");
    strcat(joined, ids[k]);
    free(ids[k]);
  }
  return joined;
}

static size_t region_count(const char *product_id) {
  char *ids = region_ids(product_id, NULL);
  size_t count = *ids ? 1 : 0;
  for (char *c = ids; *c; c++)
    count += *c == ',';
  free(ids);
  return count;
}

/* Starts a run (202) and copies its id into id. */
static json_t *start_run(const char *body, char id[40]) {
  test_response res = admin("POST", "/api/v1/admin/reindex", body);
  if (res.status != 202) fail_msg("reindex %s: %ld %s", body, res.status, res.body);
  snprintf(id, 40, "%s", json_string_value(json_object_get(res.json, "id")) ?: "");
  assert_int_equal(strlen(id), 36);
  json_t *run = json_incref(res.json);
  test_response_free(&res);
  return run;
}

static json_t *get_run(const char *id) {
  char path[128];
  snprintf(path, sizeof path, "/api/v1/admin/reindex/%s", id);
  test_response res = admin("GET", path, NULL);
  if (res.status != 200) fail_msg("GET %s: %ld %s", path, res.status, res.body);
  json_t *run = json_incref(res.json);
  test_response_free(&res);
  return run;
}

static const char *status_of(const json_t *run) {
  return json_string_value(json_object_get(run, "status")) ?: "";
}

static json_int_t int_of(const json_t *run, const char *key) {
  return json_integer_value(json_object_get(run, key));
}

/* Polls the run until it is no longer running; returns it (caller decrefs). */
static json_t *wait_run(const char *id, int timeout_s) {
  double deadline = visor_monotonic_s() + timeout_s;
  for (;;) {
    json_t *run = get_run(id);
    if (strcmp(status_of(run), "running") != 0) return run;
    json_decref(run);
    if (visor_monotonic_s() > deadline) fail_msg("re-index run %s still running", id);
    visor_sleep_ms(50);
  }
}

/* A finished run: done, every image done, finished_at set. */
static void expect_done(json_t *run, json_int_t total) {
  if (strcmp(status_of(run), "done") != 0 || int_of(run, "total") != total ||
      int_of(run, "done") != total || int_of(run, "failed") != 0 ||
      !json_is_string(json_object_get(run, "finished_at"))) {
    char *text = json_dumps(run, JSON_COMPACT);
    fail_msg("expected a done run of %lld images, got %s", (long long)total, text);
  }
  json_decref(run);
}

/* {images, products} stale now (from the run list's "stale"). */
static void stale_counts(json_int_t *images, json_int_t *products_out, char model[260]) {
  test_response res = admin("GET", "/api/v1/admin/reindex?limit=5", NULL);
  assert_int_equal(res.status, 200);
  json_t *stale = json_object_get(res.json, "stale");
  *images = json_integer_value(json_object_get(stale, "images"));
  *products_out = json_integer_value(json_object_get(stale, "products"));
  if (model) snprintf(model, 260, "%s", json_string_value(json_object_get(stale, "model")) ?: "");
  test_response_free(&res);
}

static json_int_t runs_total(void) {
  test_response res = admin("GET", "/api/v1/admin/reindex?limit=1", NULL);
  assert_int_equal(res.status, 200);
  json_int_t total = json_integer_value(json_object_get(res.json, "total"));
  test_response_free(&res);
  return total;
}

static json_int_t reindex_jobs(void) {
  test_response res = test_get("/api/v1/jobs?kind=reindex&limit=1");
  assert_int_equal(res.status, 200);
  json_int_t total = json_integer_value(json_object_get(res.json, "total"));
  test_response_free(&res);
  return total;
}

/* ---- setup ---------------------------------------------------------------------------- */

static void start(const char *manifest) {
  char *options[16] = {"--rate-limit", "0", "--client-jobs", "0", "--admin-token", TOKEN};
  int count = 6;
  add_backend_options("VISOR_TEST_REINDEX", options, &count);
  if (data_dir[0]) { /* a restart: the same data (the last --data-dir counts) */
    options[count++] = "--data-dir";
    options[count++] = data_dir;
  }
  if (manifest) {
    options[count++] = "--model-manifest";
    options[count++] = (char *)manifest;
  }
  test_server_start(&test, options, count, 1);
  if (!data_dir[0]) snprintf(data_dir, sizeof data_dir, "%s", test.data_dir);
}

static int start_server(void **state) {
  (void)state;
  const char *shared = getenv("VISOR_SHARED_DIR");
  start(NULL);
  for (int i = 0; i < PRODUCT_COUNT; i++) {
    product *p = &products[i];
    snprintf(p->image, sizeof p->image, "%s/datasets/grocery/iconic-images-and-descriptions/%s",
             shared ? shared : "../shared", p->image_path);
    test_part parts[] = {{.name = "sku", .value = p->sku},
                         {.name = "name", .value = p->name},
                         {.name = "category", .value = p->category},
                         {.name = "images", .file = p->image}};
    test_response res = test_multipart("POST", "/api/v1/products", parts, 4);
    if (res.status != 201) fail_msg("create %s: %ld %s", p->sku, res.status, res.body);
    snprintf(p->id, sizeof p->id, "%s", json_string_value(json_object_get(res.json, "id")));
    test_response_free(&res);
  }
  wait_for_jobs(300);
  return 0;
}

static int stop_server(void **state) {
  (void)state;
  test_server_stop(&test);
  if (manifest_copy[0]) remove(manifest_copy);
  return 0;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void one_product(void **state) {
  (void)state;
  char *before = region_ids(products[APPLE].id, test.app.embedder_model);
  char *others = region_ids(products[BANANA].id, NULL);
  size_t vectors = vector_count_app(&test.app), regions = region_count(products[APPLE].id);
  char body[128], id[40];
  snprintf(body, sizeof body, "{\"scope\":\"product\",\"product_id\":\"%s\"}", products[APPLE].id);
  json_t *started = start_run(body, id);
  assert_string_equal(json_string_value(json_object_get(started, "scope")), "product");
  assert_string_equal(json_string_value(json_object_get(started, "product_id")),
                      products[APPLE].id);
  assert_string_equal(json_string_value(json_object_get(started, "model")),
                      test.app.embedder_model);
  assert_int_equal(int_of(started, "total"), 1);
  json_decref(started);
  expect_done(wait_run(id, 120), 1);
  /* New region rows, as many as before, of the current model; the others untouched. */
  char *after = region_ids(products[APPLE].id, test.app.embedder_model);
  assert_string_not_equal(before, after);
  assert_int_equal(region_count(products[APPLE].id), regions);
  char *others_after = region_ids(products[BANANA].id, NULL);
  assert_string_equal(others, others_after);
  assert_int_equal(vector_count_app(&test.app), vectors);
  char top[40];
  top_product(products[APPLE].image, top);
  assert_string_equal(top, products[APPLE].id);
  /* Audited, and the run is listed first. */
  char path[160];
  snprintf(path, sizeof path, "/api/v1/admin/audit?action=reindex&subject_id=%s", id);
  test_response audit = admin("GET", path, NULL);
  assert_int_equal(audit.status, 200);
  assert_int_equal(json_integer_value(json_object_get(audit.json, "total")), 1);
  json_t *entry = json_array_get(json_object_get(audit.json, "items"), 0);
  assert_string_equal(json_string_value(json_object_get(entry, "actor")), "admin");
  assert_int_equal(json_integer_value(json_object_get(json_object_get(entry, "after"), "total")),
                   1);
  test_response_free(&audit);
  test_response list = admin("GET", "/api/v1/admin/reindex", NULL);
  assert_string_equal(json_string_value(json_object_get(
                          json_array_get(json_object_get(list.json, "items"), 0), "id")),
                      id);
  test_response_free(&list);
  free(before);
  free(after);
  free(others);
  free(others_after);
  expect_consistent_app(&test.app);
}

/* Searches for the apple until told to stop; counts the searches and the misses. */
typedef struct searcher {
  volatile int stop;
  int searches, misses;
  char missed_with[40];
} searcher;

static void *search_loop(void *arg) {
  searcher *s = arg;
  while (!s->stop) {
    char top[40];
    top_product(products[APPLE].image, top);
    s->searches++;
    if (strcmp(top, products[APPLE].id) != 0) {
      s->misses++;
      snprintf(s->missed_with, sizeof s->missed_with, "%s", top);
    }
  }
  return NULL;
}

static void category_stays_searchable(void **state) {
  (void)state;
  char *packages = region_ids(products[OAT_MILK].id, NULL);
  char *apple = region_ids(products[APPLE].id, NULL);
  size_t vectors = vector_count_app(&test.app);
  /* Several runs of the fruit category while searches for the apple go on. */
  searcher s = {0};
  pthread_t thread;
  assert_int_equal(pthread_create(&thread, NULL, search_loop, &s), 0);
  for (int round = 0; round < 4; round++) {
    char id[40];
    json_decref(start_run("{\"scope\":\"category\",\"category\":\"fruit\"}", id));
    json_t *run = wait_run(id, 120);
    assert_string_equal(json_string_value(json_object_get(run, "category")), "fruit");
    expect_done(run, 2);
  }
  while (s.searches < 3)
    visor_sleep_ms(20);
  s.stop = 1;
  pthread_join(thread, NULL);
  if (s.misses)
    fail_msg("%d of %d searches during the re-index missed the apple (found '%s')", s.misses,
             s.searches, s.missed_with);
  char *packages_after = region_ids(products[OAT_MILK].id, NULL);
  char *apple_after = region_ids(products[APPLE].id, NULL);
  assert_string_equal(packages, packages_after);
  assert_string_not_equal(apple, apple_after);
  assert_int_equal(vector_count_app(&test.app), vectors);
  free(packages);
  free(packages_after);
  free(apple);
  free(apple_after);
  expect_consistent_app(&test.app);
}

static void everything_twice(void **state) {
  (void)state;
  size_t vectors = vector_count_app(&test.app), counts[PRODUCT_COUNT];
  for (int i = 0; i < PRODUCT_COUNT; i++)
    counts[i] = region_count(products[i].id);
  char first[40], second[40];
  json_decref(start_run("{\"scope\":\"all\"}", first));
  json_decref(start_run("{\"scope\":\"all\"}", second));
  expect_done(wait_run(first, 180), PRODUCT_COUNT);
  expect_done(wait_run(second, 180), PRODUCT_COUNT);
  /* Exactly one set of regions and vectors per image. */
  for (int i = 0; i < PRODUCT_COUNT; i++) {
    assert_int_equal(region_count(products[i].id), counts[i]);
    char top[40];
    top_product(products[i].image, top);
    assert_string_equal(top, products[i].id);
  }
  assert_int_equal(vector_count_app(&test.app), vectors);
  expect_consistent_app(&test.app);
}

static void bad_input(void **state) {
  (void)state;
  json_int_t runs = runs_total(), jobs = reindex_jobs();
  const char *path = "/api/v1/admin/reindex";
  test_response res = admin("POST", path, "{\"scope\":\"everything\"}");
  expect_error(&res, 400, "invalid_argument");
  res = admin("POST", path, "{}");
  expect_error(&res, 400, "invalid_argument");
  res = admin("POST", path, "{\"scope\":\"category\",\"category\":\"\"}");
  expect_error(&res, 400, "invalid_argument");
  res = admin("POST", path, "{\"scope\":\"category\"}");
  expect_error(&res, 400, "invalid_argument");
  res = admin("POST", path, "{\"scope\":\"category\",\"category\":\"no-such-category\"}");
  expect_error(&res, 404, "not_found");
  res = admin("POST", path, "{\"scope\":\"product\"}");
  expect_error(&res, 400, "invalid_argument");
  res = admin("POST", path, "{\"scope\":\"product\",\"product_id\":\"not-a-uuid\"}");
  expect_error(&res, 400, "invalid_argument");
  res = admin("POST", path,
              "{\"scope\":\"product\",\"product_id\":\"00000000-0000-7000-8000-000000000000\"}");
  expect_error(&res, 404, "not_found");
  res = admin("POST", path, "{\"scope\":\"all\",\"extra\":1}");
  expect_error(&res, 400, "invalid_argument");
  res = admin("POST", path, "[\"all\"]");
  expect_error(&res, 400, "invalid_argument");
  res = admin("POST", path, "{\"scope\":");
  assert_int_equal(res.status, 400);
  test_response_free(&res);
  res = admin("GET", "/api/v1/admin/reindex/00000000-0000-7000-8000-000000000000", NULL);
  expect_error(&res, 404, "not_found");
  res = admin("GET", "/api/v1/admin/reindex/nope", NULL);
  assert_int_equal(res.status, 400);
  test_response_free(&res);
  res = admin("GET", "/api/v1/admin/reindex?limit=0", NULL);
  expect_error(&res, 400, "invalid_argument");
  /* No token, a wrong one. */
  res = test_request("POST", path, "application/json", "{\"scope\":\"all\"}", 5);
  expect_error(&res, 401, "unauthorized");
  res = test_request_headers("POST", path,
                             (const char *[]){"Authorization: Bearer wrong-token-0123456789",
                                              "Content-Type: application/json", NULL},
                             "{\"scope\":\"all\"}");
  expect_error(&res, 403, "forbidden");
  res = test_get("/api/v1/admin/reindex");
  expect_error(&res, 401, "unauthorized");
  /* Nothing was queued. */
  assert_int_equal(runs_total(), runs);
  assert_int_equal(reindex_jobs(), jobs);
}

/* Writes a copy of the models manifest whose embedder has another version. */
static void write_manifest_copy(void) {
  const char *shared = getenv("VISOR_SHARED_DIR");
  char models[1024];
  snprintf(models, sizeof models, "%s/models/models.json", shared ? shared : "../shared");
  FILE *probe = fopen(models, "r");
  if (probe)
    fclose(probe);
  else
    snprintf(models, sizeof models, "%s/models/models.json", VISOR_SOURCE_DIR);
  json_error_t error;
  json_t *manifest = json_load_file(models, 0, &error);
  if (!manifest) fail_msg("%s: %s", models, error.text);
  size_t index, t;
  json_t *model, *task;
  int changed = 0;
  json_array_foreach(json_object_get(manifest, "models"), index, model)
      json_array_foreach(json_object_get(model, "tasks"), t, task) {
    if (strcmp(json_string_value(task) ?: "", "embedder") != 0) continue;
    char version[256];
    snprintf(version, sizeof version, "%s-retrained",
             json_string_value(json_object_get(model, "version")));
    json_object_set_new(model, "version", json_string(version));
    changed = 1;
  }
  assert_true(changed);
  snprintf(manifest_copy, sizeof manifest_copy, "%s/models-v2.json", data_dir);
  assert_int_equal(json_dump_file(manifest, manifest_copy, JSON_INDENT(1)), 0);
  json_decref(manifest);
}

static void embedder_change_makes_stale(void **state) {
  (void)state;
  char old_model[260], model[260];
  json_int_t images = -1, stale_products = -1;
  stale_counts(&images, &stale_products, old_model);
  assert_int_equal(images, 0);
  assert_int_equal(stale_products, 0);
  assert_string_equal(old_model, test.app.embedder_model);
  wait_for_jobs(60);
  test_server_stop(&test);
  write_manifest_copy();
  start(manifest_copy);
  assert_string_not_equal(test.app.embedder_model, old_model);
  /* Every product is stale: counted, flagged, and search (the new model's vectors only)
   * finds none of them. */
  stale_counts(&images, &stale_products, model);
  assert_string_equal(model, test.app.embedder_model);
  assert_int_equal(images, PRODUCT_COUNT);
  assert_int_equal(stale_products, PRODUCT_COUNT);
  for (int i = 0; i < PRODUCT_COUNT; i++) {
    json_t *product = get_product(products[i].id);
    assert_true(json_is_true(json_object_get(product, "stale")));
    json_decref(product);
    char top[40];
    top_product(products[i].image, top);
    assert_string_equal(top, "");
  }
  /* One product first: it alone is fresh and found. */
  char body[128], id[40];
  snprintf(body, sizeof body, "{\"scope\":\"product\",\"product_id\":\"%s\"}", products[BANANA].id);
  json_decref(start_run(body, id));
  expect_done(wait_run(id, 120), 1);
  stale_counts(&images, &stale_products, NULL);
  assert_int_equal(stale_products, PRODUCT_COUNT - 1);
  json_t *banana = get_product(products[BANANA].id);
  assert_true(json_is_false(json_object_get(banana, "stale")));
  json_decref(banana);
  char top[40];
  top_product(products[BANANA].image, top);
  assert_string_equal(top, products[BANANA].id);
  /* Then the stale ones: the rest. */
  json_t *run = start_run("{\"scope\":\"stale\"}", id);
  assert_int_equal(int_of(run, "total"), PRODUCT_COUNT - 1);
  json_decref(run);
  expect_done(wait_run(id, 120), PRODUCT_COUNT - 1);
  stale_counts(&images, &stale_products, NULL);
  assert_int_equal(images, 0);
  assert_int_equal(stale_products, 0);
  for (int i = 0; i < PRODUCT_COUNT; i++) {
    free(region_ids(products[i].id, test.app.embedder_model));
    top_product(products[i].image, top);
    assert_string_equal(top, products[i].id);
  }
  /* Nothing stale is left: a stale run has nothing to do. */
  run = start_run("{\"scope\":\"stale\"}", id);
  assert_int_equal(int_of(run, "total"), 0);
  json_decref(run);
  expect_done(wait_run(id, 10), 0);
  expect_consistent_app(&test.app);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(one_product),
      cmocka_unit_test(category_stays_searchable),
      cmocka_unit_test(everything_twice),
      cmocka_unit_test(bad_input),
      cmocka_unit_test(embedder_change_makes_stale),
  };
  return cmocka_run_group_tests(tests, start_server, stop_server);
}
