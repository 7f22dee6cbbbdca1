/* test_feedback.c: match feedback (POST /api/v1/admin/searches/{id}/feedback) against a
 * real server in this process with the pipelines (real models, in-process workers,
 * embedded backends or the ones named by VISOR_TEST_FEEDBACK_METADATA_URL /
 * VISOR_TEST_FEEDBACK_VECTOR_URL, which must name an empty collection). Six iconic grocery
 * products are indexed; then, through real searches with shop photos: a confirmed match
 * becomes a reference region of the product (a second query close to the confirmed one,
 * the same photo's centre drawn as a box, finds the product first and scores it higher
 * than before) and its undo takes it away again; a rejected product drops for the same
 * query and its undo brings it back; bad inputs (unknown search, region, product; a
 * verdict not confirm / reject; missing fields; a search not finished) change nothing;
 * `visor check` stays clean. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/clock.h"
#include "admin_checks.h"
#include "http_client.h"
#include "service/consistency.h"
#include "test_server.h"

#define TOKEN "feedback-token-0123456789"

static test_server test;
static char dataset[1024];

typedef struct product {
  const char *sku, *image_path;
  char id[40];
} product;

enum { APPLE, BANANA, KIWI, LEMON, LIME, OAT_MILK, PRODUCT_COUNT };

static product products[PRODUCT_COUNT] = {
    {.sku = "APPLE",
     .image_path =
         "iconic-images-and-descriptions/Fruit/Apple/Granny-Smith/Granny-Smith_Iconic.jpg"},
    {.sku = "BANANA",
     .image_path = "iconic-images-and-descriptions/Fruit/Banana/Banana_Iconic.jpg"},
    {.sku = "KIWI", .image_path = "iconic-images-and-descriptions/Fruit/Kiwi/Kiwi_Iconic.jpg"},
    {.sku = "LEMON", .image_path = "iconic-images-and-descriptions/Fruit/Lemon/Lemon_Iconic.jpg"},
    {.sku = "LIME", .image_path = "iconic-images-and-descriptions/Fruit/Lime/Lime_Iconic.jpg"},
    {.sku = "OATMILK",
     .image_path = "iconic-images-and-descriptions/Packages/Oat-Milk/Oatly-Oat-Milk/"
                   "Oatly-Oat-Milk_Iconic.jpg"},
};

/* ---- helpers -------------------------------------------------------------------------- */

static test_response admin(const char *method, const char *path, const char *body) {
  char auth[128];
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", TOKEN);
  const char *headers[] = {auth, NULL};
  return test_request_headers(method, path, headers, body);
}

static void photo(const char *relative, char out[1200]) {
  snprintf(out, 1200, "%s/%s", dataset, relative);
}

/* A finished search of image (box: a drawn box as JSON, or NULL). */
static test_response search(const char *image, const char *box) {
  test_part parts[3] = {{.name = "image", .file = image}, {.name = "k", .value = "6"}};
  size_t count = 2;
  if (box) parts[count++] = (test_part){.name = "box", .value = box};
  test_response res = test_multipart("POST", "/api/v1/searches?wait=60", parts, count);
  if (res.status != 200 ||
      strcmp(json_string_value(json_object_get(res.json, "status")) ?: "", "done") != 0)
    fail_msg("search: %ld %s", res.status, res.body);
  return res;
}

/* Rank (1-based; 0 = absent) and score of product_id in a search's overall products. */
static int rank_of(const test_response *res, const char *product_id, double *score) {
  size_t i;
  json_t *item;
  *score = -1;
  json_array_foreach(json_object_get(res->json, "products"), i, item) {
    if (strcmp(json_string_value(json_object_get(item, "product_id")) ?: "", product_id) == 0) {
      *score = json_number_value(json_object_get(item, "score"));
      return (int)i + 1;
    }
  }
  return 0;
}

static const char *top_of(const test_response *res) {
  json_t *first = json_array_get(json_object_get(res->json, "products"), 0);
  return json_string_value(json_object_get(first, "product_id")) ?: "";
}

/* The query region that voted for the overall ranking's first product. */
static int voting_region(const test_response *res) {
  json_t *first = json_array_get(json_object_get(res->json, "products"), 0);
  return (int)json_integer_value(json_object_get(first, "query_ordinal"));
}

static test_response feedback(const char *search_id, int region, const char *product_id,
                              const char *verdict) {
  char path[128], body[256];
  snprintf(path, sizeof path, "/api/v1/admin/searches/%s/feedback", search_id);
  snprintf(body, sizeof body, "{\"region\": %d, \"product_id\": \"%s\", \"verdict\": \"%s\"}",
           region, product_id, verdict);
  return admin("POST", path, body);
}

static void undo(const char *audit_id) {
  char path[128];
  snprintf(path, sizeof path, "/api/v1/admin/audit/%s/undo", audit_id);
  test_response res = admin("POST", path, NULL);
  if (res.status != 200) fail_msg("undo %s: %ld %s", audit_id, res.status, res.body);
  test_response_free(&res);
}

static json_int_t audit_total(void) {
  test_response res = admin("GET", "/api/v1/admin/audit?limit=1", NULL);
  assert_int_equal(res.status, 200);
  json_int_t total = json_integer_value(json_object_get(res.json, "total"));
  test_response_free(&res);
  return total;
}

static size_t image_count(const char *product_id) {
  char path[128];
  snprintf(path, sizeof path, "/api/v1/products/%s", product_id);
  test_response res = test_get(path);
  assert_int_equal(res.status, 200);
  size_t count = json_array_size(json_object_get(res.json, "images"));
  test_response_free(&res);
  return count;
}

static void expect_consistent(void) {
  wait_for_jobs(120);
  json_t *report = NULL;
  size_t problems = 0;
  visor_error err = {0};
  assert_int_equal(visor_consistency_check(&test.app, 5, &report, &problems, &err), VISOR_OK);
  if (problems) fail_msg("visor check: %zu problems: %s", problems, json_dumps(report, 0));
  json_decref(report);
}

/* The centre 85 % of the search's query image, as a drawn box. */
static void centre_box(const test_response *res, char out[160]) {
  json_t *image = json_object_get(res->json, "image");
  double w = (double)json_integer_value(json_object_get(image, "width"));
  double h = (double)json_integer_value(json_object_get(image, "height"));
  snprintf(out, 160, "{\"x\": %.0f, \"y\": %.0f, \"w\": %.0f, \"h\": %.0f}", w * 0.075, h * 0.075,
           w * 0.85, h * 0.85);
}

/* ---- setup ---------------------------------------------------------------------------- */

static int start_server(void **state) {
  (void)state;
  const char *shared = getenv("VISOR_SHARED_DIR");
  snprintf(dataset, sizeof dataset, "%s/datasets/grocery", shared ? shared : "../shared");
  char *options[10] = {"--rate-limit", "0", "--client-jobs", "0", "--admin-tokens", "ann:" TOKEN};
  int count = 6;
  add_backend_options("VISOR_TEST_FEEDBACK", options, &count);
  test_server_start(&test, options, count, 1);
  for (int i = 0; i < PRODUCT_COUNT; i++) {
    product *p = &products[i];
    char image[1200];
    photo(p->image_path, image);
    test_part parts[] = {{.name = "sku", .value = p->sku},
                         {.name = "name", .value = p->sku},
                         {.name = "images", .file = image}};
    test_response res = test_multipart("POST", "/api/v1/products", parts, 3);
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
  return 0;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void confirm_makes_the_query_a_reference_then_undo(void **state) {
  (void)state;
  char image[1200], box[160], audit[40];
  photo("test/Fruit/Lime/Lime_001.jpg", image);
  const char *lime = products[LIME].id;
  test_response first = search(image, NULL);
  centre_box(&first, box);
  test_response close_before = search(image, box); /* the second photo: the centre, drawn */
  double score_before, score_after, score_undone;
  int rank_before = rank_of(&close_before, lime, &score_before);
  size_t vectors_before = vector_count_app(&test.app), images_before = image_count(lime);
  json_int_t audits = audit_total();

  test_response res =
      feedback(json_string_value(json_object_get(first.json, "id")), 0, lime, "confirm");
  if (res.status != 200) fail_msg("confirm: %ld %s", res.status, res.body);
  audit_id_of(&res, audit);
  json_t *entry = json_object_get(res.json, "audit");
  assert_string_equal(json_string_value(json_object_get(entry, "action")), "match.confirm");
  assert_string_equal(json_string_value(json_object_get(entry, "subject_id")), lime);
  assert_string_equal(json_string_value(json_object_get(entry, "actor")), "ann");
  assert_true(json_is_string(json_object_get(res.json, "job_id")));
  const char *region_id =
      json_string_value(json_object_get(json_object_get(entry, "after"), "region_id"));
  assert_non_null(region_id);
  char region[40];
  snprintf(region, sizeof region, "%s", region_id);
  test_response_free(&res);
  /* searchable from the answer on: one more vector, one more image of the product */
  assert_int_equal(vector_count_app(&test.app), vectors_before + 1);
  assert_int_equal(image_count(lime), images_before + 1);
  assert_int_equal(audit_total(), audits + 1);
  char path[128];
  snprintf(path, sizeof path, "/api/v1/regions/%s", region);
  res = test_get(path);
  assert_int_equal(res.status, 200);
  assert_string_equal(json_string_value(json_object_get(res.json, "source")), "admin");
  test_response_free(&res);
  snprintf(path, sizeof path, "/api/v1/regions/%s/crop", region);
  res = test_get(path);
  assert_int_equal(res.status, 200);
  test_response_free(&res);

  test_response close_after = search(image, box);
  int rank_after = rank_of(&close_after, lime, &score_after);
  print_message("confirm: lime rank %d (%.3f) -> %d (%.3f)\n", rank_before, score_before,
                rank_after, score_after);
  assert_int_equal(rank_after, 1);
  assert_true(score_after > score_before + 0.02);
  test_response_free(&close_after);

  undo(audit);
  assert_int_equal(vector_count_app(&test.app), vectors_before);
  assert_int_equal(image_count(lime), images_before);
  test_response undone = search(image, box);
  int rank_undone = rank_of(&undone, lime, &score_undone);
  assert_int_equal(rank_undone, rank_before);
  assert_true(fabs(score_undone - score_before) < 1e-4);
  test_response_free(&undone);
  /* an undone confirm cannot be undone again */
  snprintf(path, sizeof path, "/api/v1/admin/audit/%s/undo", audit);
  res = admin("POST", path, NULL);
  expect_error(&res, 409, "conflict");
  test_response_free(&close_before);
  test_response_free(&first);
  expect_consistent();
}

static void reject_demotes_for_the_same_query_then_undo(void **state) {
  (void)state;
  char image[1200], audit[40], top[40];
  photo("test/Fruit/Kiwi/Kiwi_001.jpg", image);
  test_response before = search(image, NULL);
  snprintf(top, sizeof top, "%s", top_of(&before));
  assert_int_equal(strlen(top), 36);
  double score_before, score_after, score_undone;
  assert_int_equal(rank_of(&before, top, &score_before), 1);
  size_t vectors_before = vector_count_app(&test.app);

  test_response res = feedback(json_string_value(json_object_get(before.json, "id")),
                               voting_region(&before), top, "reject");
  if (res.status != 200) fail_msg("reject: %ld %s", res.status, res.body);
  audit_id_of(&res, audit);
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(res.json, "audit"), "action")),
      "match.reject");
  test_response_free(&res);
  assert_int_equal(vector_count_app(&test.app), vectors_before); /* nothing written to the index */

  test_response after = search(image, NULL);
  int rank_after = rank_of(&after, top, &score_after);
  print_message("reject: top product %s score %.3f -> rank %d (%.3f)\n", top, score_before,
                rank_after, score_after);
  assert_true(rank_after != 1);
  assert_true(rank_after == 0 || score_after < score_before - 0.2);
  /* the other products keep their scores */
  size_t i;
  json_t *item;
  json_array_foreach(json_object_get(after.json, "products"), i, item) {
    const char *id = json_string_value(json_object_get(item, "product_id"));
    if (strcmp(id, top) == 0) continue;
    double was;
    assert_true(rank_of(&before, id, &was) > 0);
    assert_true(fabs(was - json_number_value(json_object_get(item, "score"))) < 1e-4);
  }
  test_response_free(&after);

  undo(audit);
  test_response undone = search(image, NULL);
  assert_string_equal(top_of(&undone), top);
  rank_of(&undone, top, &score_undone);
  assert_true(fabs(score_undone - score_before) < 1e-4);
  test_response_free(&undone);
  test_response_free(&before);
  expect_consistent();
}

static void bad_inputs_change_nothing(void **state) {
  (void)state;
  char image[1200];
  photo("test/Fruit/Banana/Banana_001.jpg", image);
  test_response done = search(image, NULL);
  char search_id[40];
  snprintf(search_id, sizeof search_id, "%s", json_string_value(json_object_get(done.json, "id")));
  test_response_free(&done);
  json_int_t audits = audit_total();
  size_t vectors = vector_count_app(&test.app), images = image_count(products[BANANA].id);
  const char *banana = products[BANANA].id;

  test_response res = feedback("0190aaaa-0000-7000-8000-000000000000", 0, banana, "confirm");
  expect_error(&res, 404, "not_found");
  res = feedback(search_id, 99, banana, "confirm");
  expect_error(&res, 404, "not_found");
  res = feedback(search_id, 0, "0190aaaa-0000-7000-8000-000000000001", "reject");
  expect_error(&res, 404, "not_found");
  res = feedback(search_id, 0, banana, "maybe");
  expect_error(&res, 400, "invalid_argument");
  res = feedback(search_id, 0, "not-a-uuid-not-a-uuid-not-a-uuid-xxx", "confirm");
  expect_error(&res, 400, "invalid_argument");
  char path[128];
  snprintf(path, sizeof path, "/api/v1/admin/searches/%s/feedback", search_id);
  res = admin("POST", path, "{\"product_id\": \"0190aaaa-0000-7000-8000-000000000001\"}");
  expect_error(&res, 400, "invalid_argument");
  res = admin("POST", path, "{\"region\": \"zero\", \"product_id\": \"x\", \"verdict\": \"x\"}");
  expect_error(&res, 400, "invalid_argument");
  res = admin("POST", path, "not json");
  expect_error(&res, 400, "invalid_argument");
  res = test_request_headers("POST", path, NULL, "{}");
  expect_error(&res, 401, "unauthorized");

  /* a search not finished: the queue is paused while it waits */
  res = admin("POST", "/api/v1/admin/queue/pause", NULL);
  assert_int_equal(res.status, 200);
  test_response_free(&res);
  test_part parts[] = {{.name = "image", .file = image}};
  test_response queued = test_multipart("POST", "/api/v1/searches", parts, 1);
  assert_int_equal(queued.status, 202);
  res = feedback(json_string_value(json_object_get(queued.json, "id")), 0, banana, "confirm");
  expect_error(&res, 409, "conflict");
  res = feedback(json_string_value(json_object_get(queued.json, "id")), 0, banana, "reject");
  expect_error(&res, 409, "conflict");
  test_response_free(&queued);
  res = admin("POST", "/api/v1/admin/queue/resume", NULL);
  assert_int_equal(res.status, 200);
  test_response_free(&res);

  assert_int_equal(audit_total(), audits);
  assert_int_equal(vector_count_app(&test.app), vectors);
  assert_int_equal(image_count(banana), images);
  expect_consistent();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(confirm_makes_the_query_a_reference_then_undo),
      cmocka_unit_test(reject_demotes_for_the_same_query_then_undo),
      cmocka_unit_test(bad_inputs_change_nothing),
  };
  return cmocka_run_group_tests(tests, start_server, stop_server);
}
