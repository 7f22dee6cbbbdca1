/* test_review.c: the admin review queue (GET /api/v1/admin/review) against a real server
 * in this process with the pipelines (real models, in-process workers; embedded backends,
 * or the metadata store named by VISOR_TEST_REVIEW_METADATA_URL, e.g. an empty PostgreSQL
 * database). Five grocery products are indexed for real; every list is checked exactly
 * against what the API reports of the regions, products and searches (the real
 * confidences), under the default thresholds and others given in the query, plus regions
 * whose confidences the test sets to known values (thresholds are strict "below", ties
 * and order exact). Items an admin handles leave the queue (a relabel, a primary flag, a
 * delete, a product edit) and come back when the correction is undone; bad parameters are
 * 400, a missing or wrong token 401 / 403. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/uuid.h"
#include "admin_checks.h"
#include "http_client.h"
#include "store/regions.h"
#include "test_server.h"

#define TOKEN "review-token-0123456789"
#define EPSILON 1e-9

static test_server test;

typedef struct product {
  const char *sku, *image_path;
  char image[1024];
  char id[40];
  char image_id[40];
} product;

enum { APPLE, BANANA, OAT_MILK, CARROTS, KIWI, PEAR, PRODUCT_COUNT };

static product products[PRODUCT_COUNT] = {
    {.sku = "APPLE", .image_path = "Fruit/Apple/Granny-Smith/Granny-Smith_Iconic.jpg"},
    {.sku = "BANANA", .image_path = "Fruit/Banana/Banana_Iconic.jpg"},
    {.sku = "OATMILK", .image_path = "Packages/Oat-Milk/Oatly-Oat-Milk/Oatly-Oat-Milk_Iconic.jpg"},
    {.sku = "CARROTS", .image_path = "Vegetables/Carrots/Carrots_Iconic.jpg"},
    {.sku = "KIWI", .image_path = "Fruit/Kiwi/Kiwi_Iconic.jpg"},
    {.sku = "PEAR", .image_path = "Fruit/Pear/Anjou/Anjou_Iconic.jpg"},
};

/* The regions the test gives PEAR: known confidences (detector < 0: none, whole image). */
typedef struct known_region {
  double detector_score, label_score;
  char id[40];
} known_region;

enum { K_DET_10, K_DET_45, K_BOTH_15, K_LABEL_05, K_EDGES, K_LABEL_29, KNOWN_COUNT };

static known_region known[KNOWN_COUNT] = {
    {0.10, 0.90, ""}, {0.45, 0.80, ""}, {0.15, 0.25, ""},
    {-1, 0.05, ""},   {0.50, 0.30, ""}, {0.95, 0.29, ""},
};

static char low_search_id[40], high_search_id[40], empty_search_id[40];
static double low_search_score, high_search_score;

/* ---- helpers -------------------------------------------------------------------------- */

static test_response admin(const char *method, const char *path, const char *token,
                           const char *body) {
  char auth[256];
  const char *headers[2] = {0};
  if (token) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    headers[0] = auth;
  }
  return test_request_headers(method, path, headers, body);
}

static void expect_status(const char *path, const char *token, long status, const char *code) {
  test_response res = admin("GET", path, token, NULL);
  if (res.status != status || strcmp(test_error_code(&res), code) != 0)
    fail_msg("GET %s: expected %ld %s, got %ld %s", path, status, code, res.status, res.body);
  test_response_free(&res);
}

/* The whole list of kind (query: extra parameters or ""), checked: total = items. */
static json_t *review(const char *kind, const char *query) {
  char path[512];
  snprintf(path, sizeof path, "/api/v1/admin/review?kind=%s&limit=100%s", kind, query);
  test_response res = admin("GET", path, TOKEN, NULL);
  if (res.status != 200) fail_msg("GET %s: %ld %s", path, res.status, res.body);
  json_t *items = json_incref(json_object_get(res.json, "items"));
  assert_int_equal(json_integer_value(json_object_get(res.json, "total")), json_array_size(items));
  assert_int_equal(json_integer_value(json_object_get(json_object_get(res.json, "counts"), kind)),
                   json_array_size(items));
  test_response_free(&res);
  return items;
}

static const char *text(const json_t *object, const char *key) {
  return json_string_value(json_object_get(object, key)) ?: "";
}

/* Every live region of every product (from the products API), each with product_id. */
static json_t *all_regions(void) {
  json_t *all = json_array();
  for (int p = 0; p < PRODUCT_COUNT; p++) {
    char path[128];
    snprintf(path, sizeof path, "/api/v1/products/%s", products[p].id);
    test_response res = test_get(path);
    assert_int_equal(res.status, 200);
    size_t i, j;
    json_t *image, *region;
    json_array_foreach(json_object_get(res.json, "images"), i, image)
        json_array_foreach(json_object_get(image, "regions"), j, region)
            json_array_append(all, region);
    test_response_free(&res);
  }
  return all;
}

static double number(const json_t *object, const char *key, double none) {
  json_t *value = json_object_get(object, key);
  return value && json_is_number(value) ? json_number_value(value) : none;
}

typedef struct expected_item {
  const char *id, *reason;
  double score; /* NAN: null */
  int group;    /* products: 0 no region, 1 none detected, 2 scored */
} expected_item;

static int by_score_then_id(const void *a, const void *b) {
  const expected_item *x = a, *y = b;
  if (x->group != y->group) return x->group - y->group;
  if (!isnan(x->score) && !isnan(y->score) && x->score != y->score)
    return x->score < y->score ? -1 : 1;
  return strcmp(x->id, y->id);
}

static void expect_items(json_t *items, expected_item *expected, size_t count,
                         const char *subject_key, const char *what) {
  qsort(expected, count, sizeof *expected, by_score_then_id);
  if (json_array_size(items) != count) {
    char *dump = json_dumps(items, JSON_COMPACT);
    fail_msg("%s: %zu items, expected %zu: %.3000s", what, json_array_size(items), count, dump);
  }
  for (size_t i = 0; i < count; i++) {
    json_t *item = json_array_get(items, i);
    const char *id = text(json_object_get(item, subject_key), "id");
    if (strcmp(id, expected[i].id) != 0 || strcmp(text(item, "reason"), expected[i].reason) != 0)
      fail_msg("%s #%zu: %s %s, expected %s %s", what, i, id, text(item, "reason"), expected[i].id,
               expected[i].reason);
    json_t *score = json_object_get(item, "score");
    if (isnan(expected[i].score))
      assert_true(json_is_null(score));
    else if (!json_is_number(score) || fabs(json_number_value(score) - expected[i].score) > EPSILON)
      fail_msg("%s #%zu: score %f, expected %f", what, i, json_number_value(score),
               expected[i].score);
  }
}

/* The region list as the API's regions say it must be, under thresholds d and l. */
static void expect_region_list(const char *query, double d, double l) {
  json_t *regions = all_regions();
  expected_item expected[64];
  size_t count = 0, i;
  json_t *region;
  json_array_foreach(regions, i, region) {
    if (strcmp(text(region, "source"), "admin") == 0) continue;
    double det = number(region, "detector_score", NAN), label = number(region, "label_score", 0);
    int low_det = !isnan(det) && det < d, low_label = label < l;
    if (!low_det && !low_label) continue;
    assert_true(count < 64);
    expected[count++] =
        (expected_item){.id = text(region, "id"),
                        .reason = low_det && low_label ? "low_detector_and_label_score"
                                  : low_det            ? "low_detector_score"
                                                       : "low_label_score",
                        .score = low_det && (!low_label || det < label) ? det : label};
  }
  json_t *items = review("regions", query);
  expect_items(items, expected, count, "region", "regions");
  /* each item's region is the full region object with its crop and product */
  json_array_foreach(items, i, region) {
    json_t *r = json_object_get(region, "region");
    assert_non_null(strstr(text(r, "crop_url"), text(r, "id")));
    assert_string_equal(text(json_object_get(region, "product"), "id"), text(r, "product_id"));
    assert_string_equal(text(region, "kind"), "region");
  }
  json_decref(items);
  json_decref(regions);
}

/* The product list as the API's regions say it must be, under threshold s. */
static void expect_product_list(const char *query, double s) {
  json_t *regions = all_regions();
  expected_item expected[PRODUCT_COUNT];
  size_t count = 0;
  for (int p = 0; p < PRODUCT_COUNT; p++) {
    size_t i, n = 0;
    double best = NAN;
    int handled = 0;
    json_t *region;
    json_array_foreach(regions, i, region) {
      if (strcmp(text(region, "product_id"), products[p].id) != 0) continue;
      n++;
      double det = number(region, "detector_score", NAN);
      if (!isnan(det) && (isnan(best) || det > best)) best = det;
      handled |= strcmp(text(region, "source"), "admin") == 0 || (!isnan(det) && det >= s);
    }
    if (handled) continue;
    expected[count++] = (expected_item){.id = products[p].id,
                                        .reason = n == 0        ? "no_region"
                                                  : isnan(best) ? "no_detected_region"
                                                                : "low_detector_score",
                                        .score = best,
                                        .group = n == 0        ? 0
                                                 : isnan(best) ? 1
                                                               : 2};
  }
  json_t *items = review("products", query);
  expect_items(items, expected, count, "product", "products");
  json_decref(items);
  json_decref(regions);
}

static int listed(const char *kind, const char *query, const char *subject_key, const char *id) {
  json_t *items = review(kind, query);
  size_t i;
  json_t *item;
  int found = 0;
  json_array_foreach(items, i, item) found |=
      strcmp(text(json_object_get(item, subject_key), "id"), id) == 0;
  json_decref(items);
  return found;
}

static void undo_of(const test_response *res) {
  char path[128];
  snprintf(path, sizeof path, "/api/v1/admin/audit/%s/undo",
           text(json_object_get(res->json, "audit"), "id"));
  test_response undone = admin("POST", path, TOKEN, NULL);
  if (undone.status != 200) fail_msg("undo: %ld %s", undone.status, undone.body);
  test_response_free(&undone);
}

static test_response patch(const char *path, const char *body) {
  test_response res = admin(strcmp(body, "DELETE") == 0 ? "DELETE" : "PATCH", path, TOKEN,
                            strcmp(body, "DELETE") == 0 ? NULL : body);
  if (res.status != 200) fail_msg("%s %s: %ld %s", body, path, res.status, res.body);
  return res;
}

/* A finished search with image (and a category filter, or NULL); its id and best score. */
static void run_search(const char *image, const char *category, char id[40], double *best) {
  test_part parts[3] = {{.name = "image", .file = image}, {.name = "k", .value = "5"}};
  size_t count = 2;
  if (category) parts[count++] = (test_part){.name = "category", .value = category};
  test_response res = test_multipart("POST", "/api/v1/searches?wait=60", parts, count);
  if (res.status != 200 || strcmp(text(res.json, "status"), "done") != 0)
    fail_msg("search: %ld %s", res.status, res.body);
  snprintf(id, 40, "%s", text(res.json, "id"));
  json_t *first = json_array_get(json_object_get(res.json, "products"), 0);
  *best = first ? number(first, "score", NAN) : NAN;
  test_response_free(&res);
}

/* ---- setup ---------------------------------------------------------------------------- */

static void add_known_regions(void) {
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(test.app.db, &err);
  assert_non_null(conn);
  /* PEAR keeps only the regions with known confidences, KIWI none at all */
  assert_int_equal(visor_region_soft_delete_for_image(conn, products[PEAR].image_id, &err),
                   VISOR_OK);
  assert_int_equal(visor_region_soft_delete_for_image(conn, products[KIWI].image_id, &err),
                   VISOR_OK);
  for (int i = 0; i < KNOWN_COUNT; i++) {
    visor_uuid_new(known[i].id);
    int whole = known[i].detector_score < 0;
    visor_region_record r = {.id = known[i].id,
                             .image_id = products[PEAR].image_id,
                             .product_id = products[PEAR].id,
                             .x = 10 * i,
                             .y = 10,
                             .w = 50,
                             .h = 50,
                             .whole_image = whole,
                             .label = "pear",
                             .label_score = known[i].label_score,
                             .labeller = "test@1",
                             .detector_label = whole ? NULL : "apple",
                             .detector_score = known[i].detector_score,
                             .source = "model"};
    assert_int_equal(visor_region_insert(conn, &r, &err), VISOR_OK);
  }
  visor_db_release(conn);
}

static int start_server(void **state) {
  (void)state;
  const char *shared = getenv("VISOR_SHARED_DIR");
  char *options[12] = {"--rate-limit", "0", "--client-jobs", "0", "--admin-token", TOKEN};
  int count = 6;
  add_backend_options("VISOR_TEST_REVIEW", options, &count);
  test_server_start(&test, options, count, 1);
  for (int i = 0; i < PRODUCT_COUNT; i++) {
    product *p = &products[i];
    snprintf(p->image, sizeof p->image, "%s/datasets/grocery/iconic-images-and-descriptions/%s",
             shared ? shared : "../shared", p->image_path);
    test_part parts[] = {{.name = "sku", .value = p->sku},
                         {.name = "name", .value = p->sku},
                         {.name = "category", .value = "grocery"},
                         {.name = "images", .file = p->image}};
    test_response res = test_multipart("POST", "/api/v1/products", parts, 4);
    if (res.status != 201) fail_msg("create %s: %ld %s", p->sku, res.status, res.body);
    snprintf(p->id, sizeof p->id, "%s", text(res.json, "id"));
    snprintf(p->image_id, sizeof p->image_id, "%s",
             text(json_array_get(json_object_get(res.json, "images"), 0), "id"));
    test_response_free(&res);
  }
  wait_for_jobs(300);
  add_known_regions();
  return 0;
}

static int stop_server(void **state) {
  (void)state;
  test_server_stop(&test);
  return 0;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void access_and_bad_parameters(void **state) {
  (void)state;
  expect_status("/api/v1/admin/review", NULL, 401, "unauthorized");
  expect_status("/api/v1/admin/review", "wrong-token-0123456789", 403, "forbidden");
  expect_status("/api/v1/admin/review/labels", NULL, 401, "unauthorized");
  static const char *const bad[] = {"kind=region",
                                    "kind=",
                                    "detector_score=-0.1",
                                    "detector_score=abc",
                                    "label_score=1.5",
                                    "label_score=",
                                    "product_score=nan",
                                    "search_score=-1.01",
                                    "search_days=3651",
                                    "search_days=-1",
                                    "limit=0",
                                    "limit=101",
                                    "offset=-1",
                                    "detector_score=0.5x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    char path[128];
    snprintf(path, sizeof path, "/api/v1/admin/review?%s", bad[i]);
    expect_status(path, TOKEN, 400, "invalid_argument");
  }
  expect_status("/api/v1/admin/review/labels?limit=0", TOKEN, 400, "invalid_argument");
  /* the defaults come from the configuration */
  test_response res = admin("GET", "/api/v1/admin/review", TOKEN, NULL);
  assert_int_equal(res.status, 200);
  assert_string_equal(text(res.json, "kind"), "regions");
  json_t *t = json_object_get(res.json, "thresholds");
  assert_true(fabs(number(t, "detector_score", 0) - test.config.review_detector_score) < EPSILON);
  assert_true(fabs(number(t, "label_score", 0) - test.config.review_label_score) < EPSILON);
  assert_true(fabs(number(t, "search_days", 0) - test.config.review_search_days) < EPSILON);
  test_response_free(&res);
}

static void regions_exactly_as_their_confidences_say(void **state) {
  (void)state;
  expect_region_list("", test.config.review_detector_score, test.config.review_label_score);
  expect_region_list("&detector_score=0.12&label_score=0.06", 0.12, 0.06);
  expect_region_list("&detector_score=1&label_score=1", 1, 1);
  expect_region_list("&detector_score=0&label_score=0", 0, 0);
  /* the known regions at 0.5 / 0.3, in this order: both thresholds are strict */
  json_t *items = review("regions", "&detector_score=0.5&label_score=0.3");
  const int order[] = {K_LABEL_05, K_DET_10, K_BOTH_15, K_LABEL_29, K_DET_45};
  const char *reasons[] = {"low_label_score", "low_detector_score", "low_detector_and_label_score",
                           "low_label_score", "low_detector_score"};
  size_t next = 0, i;
  json_t *item;
  json_array_foreach(items, i, item) {
    const char *id = text(json_object_get(item, "region"), "id");
    assert_string_not_equal(id, known[K_EDGES].id);
    if (strcmp(text(json_object_get(item, "product"), "id"), products[PEAR].id) != 0) continue;
    assert_true(next < 5);
    assert_string_equal(id, known[order[next]].id);
    assert_string_equal(text(item, "reason"), reasons[next]);
    next++;
  }
  assert_int_equal(next, 5);
  json_decref(items);
  /* real confidences: the oat milk photo's labels are weak (the labeller knows no oat
   * milk), the banana's strong */
  int oat = 0, banana = 0;
  items = review("regions", "");
  json_array_foreach(items, i, item) {
    const char *product_id = text(json_object_get(item, "product"), "id");
    oat += strcmp(product_id, products[OAT_MILK].id) == 0;
    banana += strcmp(product_id, products[BANANA].id) == 0;
  }
  json_decref(items);
  assert_true(oat >= 1);
  assert_int_equal(banana, 0);
  /* paging */
  test_response res =
      admin("GET", "/api/v1/admin/review?limit=2&offset=1&label_score=1", TOKEN, NULL);
  assert_int_equal(res.status, 200);
  assert_int_equal(json_array_size(json_object_get(res.json, "items")), 2);
  assert_true(json_integer_value(json_object_get(res.json, "total")) > 3);
  test_response_free(&res);
}

static void products_exactly_as_their_regions_say(void **state) {
  (void)state;
  expect_product_list("", test.config.review_product_score);
  expect_product_list("&product_score=1", 1);
  expect_product_list("&product_score=0", 0);
  expect_product_list("&product_score=0.95", 0.95);   /* PEAR's best is 0.95: not below */
  expect_product_list("&product_score=0.951", 0.951); /* now it is */
  /* KIWI has no region left: first, with a null score */
  json_t *items = review("products", "&product_score=1");
  json_t *first = json_array_get(items, 0);
  assert_string_equal(text(json_object_get(first, "product"), "id"), products[KIWI].id);
  assert_string_equal(text(first, "reason"), "no_region");
  assert_true(json_is_null(json_object_get(first, "score")));
  json_decref(items);
}

static void searches_with_low_best_scores(void **state) {
  (void)state;
  char *shared = getenv("VISOR_SHARED_DIR");
  char low[1024], high[1024];
  snprintf(low, sizeof low, "%s/datasets/grocery/test/Vegetables/Cucumber/Cucumber_002.jpg",
           shared ? shared : "../shared");
  /* a shopper's photo of a catalogue product (its catalogue image itself would score 1) */
  snprintf(high, sizeof high, "%s/datasets/grocery/test/Fruit/Banana/Banana_001.jpg",
           shared ? shared : "../shared");
  run_search(high, NULL, high_search_id, &high_search_score);
  run_search(low, NULL, low_search_id, &low_search_score);
  double none;
  run_search(low, "no-such-category", empty_search_id, &none);
  assert_true(isnan(none));
  assert_true(low_search_score < high_search_score);
  /* everything below 1: the empty one first, then by best score */
  char query[128];
  json_t *items = review("searches", "&search_score=1");
  expected_item all[] = {
      {.id = empty_search_id, .reason = "no_result", .score = NAN},
      {.id = low_search_id, .reason = "low_best_score", .score = low_search_score, .group = 1},
      {.id = high_search_id, .reason = "low_best_score", .score = high_search_score, .group = 1}};
  expect_items(items, all, 3, "search", "searches below 1");
  json_t *results = json_object_get(json_array_get(items, 1), "results");
  assert_true(json_array_size(results) >= 1 && json_array_size(results) <= 3);
  assert_true(fabs(number(json_array_get(results, 0), "score", 0) - low_search_score) < EPSILON);
  assert_non_null(strstr(text(json_array_get(results, 0), "crop_url"), "/crop"));
  json_decref(items);
  /* between the two: the high one is not listed; at the high score exactly neither */
  snprintf(query, sizeof query, "&search_score=%.17g", (low_search_score + high_search_score) / 2);
  items = review("searches", query);
  expect_items(items, all, 2, "search", "searches below the middle");
  json_decref(items);
  snprintf(query, sizeof query, "&search_score=%.17g", low_search_score);
  items = review("searches", query);
  expect_items(items, all, 1, "search", "searches below the low score");
  json_decref(items);
  /* a window of a ten-millionth of a second holds none of them */
  items = review("searches", "&search_score=1&search_days=0.000000001");
  assert_int_equal(json_array_size(items), 0);
  json_decref(items);
}

static void handled_items_leave_and_undone_ones_return(void **state) {
  (void)state;
  const char *q = "&detector_score=0.5&label_score=0.3";
  char path[128];
  /* relabel: source admin */
  snprintf(path, sizeof path, "/api/v1/admin/regions/%s", known[K_DET_10].id);
  assert_true(listed("regions", q, "region", known[K_DET_10].id));
  test_response res = patch(path, "{\"label\":\"anjou pear\"}");
  assert_false(listed("regions", q, "region", known[K_DET_10].id));
  test_response labels = admin("GET", "/api/v1/admin/review/labels", TOKEN, NULL);
  assert_non_null(strstr(labels.body, "\"anjou pear\""));
  test_response_free(&labels);
  undo_of(&res);
  test_response_free(&res);
  assert_true(listed("regions", q, "region", known[K_DET_10].id));
  /* primary: the source stays model, the audit entry takes it out */
  snprintf(path, sizeof path, "/api/v1/admin/regions/%s", known[K_DET_45].id);
  res = patch(path, "{\"is_primary\":true}");
  assert_false(listed("regions", q, "region", known[K_DET_45].id));
  undo_of(&res);
  test_response_free(&res);
  assert_true(listed("regions", q, "region", known[K_DET_45].id));
  /* delete */
  snprintf(path, sizeof path, "/api/v1/admin/regions/%s", known[K_LABEL_29].id);
  res = patch(path, "DELETE");
  assert_false(listed("regions", q, "region", known[K_LABEL_29].id));
  undo_of(&res);
  test_response_free(&res);
  assert_true(listed("regions", q, "region", known[K_LABEL_29].id));
  /* a product edit takes the product out */
  snprintf(path, sizeof path, "/api/v1/admin/products/%s", products[KIWI].id);
  assert_true(listed("products", "", "product", products[KIWI].id));
  res = patch(path, "{\"category\":\"fruit\"}");
  assert_false(listed("products", "", "product", products[KIWI].id));
  undo_of(&res);
  test_response_free(&res);
  assert_true(listed("products", "", "product", products[KIWI].id));
  /* a match feedback on a search takes the search out, its undo puts it back */
  snprintf(path, sizeof path, "/api/v1/searches/%s", low_search_id);
  test_response search = admin("GET", path, TOKEN, NULL);
  assert_int_equal(search.status, 200);
  json_t *first = json_array_get(json_object_get(search.json, "products"), 0);
  assert_non_null(first);
  char body[256];
  snprintf(body, sizeof body, "{\"region\": %d, \"product_id\": \"%s\", \"verdict\": \"reject\"}",
           (int)json_integer_value(json_object_get(first, "query_ordinal")),
           text(first, "product_id"));
  test_response_free(&search);
  assert_true(listed("searches", "&search_score=1", "search", low_search_id));
  snprintf(path, sizeof path, "/api/v1/admin/searches/%s/feedback", low_search_id);
  res = admin("POST", path, TOKEN, body);
  if (res.status != 200) fail_msg("feedback: %ld %s", res.status, res.body);
  assert_false(listed("searches", "&search_score=1", "search", low_search_id));
  assert_true(listed("searches", "&search_score=1", "search", high_search_id));
  undo_of(&res);
  test_response_free(&res);
  assert_true(listed("searches", "&search_score=1", "search", low_search_id));
  /* the lists are as the data says again */
  expect_region_list(q, 0.5, 0.3);
  expect_product_list("", test.config.review_product_score);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(access_and_bad_parameters),
      cmocka_unit_test(regions_exactly_as_their_confidences_say),
      cmocka_unit_test(products_exactly_as_their_regions_say),
      cmocka_unit_test(searches_with_low_best_scores),
      cmocka_unit_test(handled_items_leave_and_undone_ones_return),
  };
  return cmocka_run_group_tests(tests, start_server, stop_server);
}
