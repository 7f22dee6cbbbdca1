/* test_admin.c: the corrections API against a real server in this process with the
 * pipelines (real models, in-process workers, embedded backends or the ones named by
 * VISOR_TEST_ADMIN_METADATA_URL / VISOR_TEST_ADMIN_VECTOR_URL): four iconic grocery
 * products are indexed, then every correction and its undo is checked through search
 * (a deleted region is never returned and comes back on undo, a category set by an admin
 * filters at once, a merged product's images find the survivor and undoing the merge
 * restores both, a moved image finds its new product), the audit trail (who, before,
 * after, filters), 401 / 403 / a bad actor, and bad inputs: each a 4xx JSON error with
 * nothing changed in the metadata store or the index; `visor check` stays clean. The
 * vector URL must name an empty collection (e.g. a new Chroma database per run). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/clock.h"
#include "admin_checks.h"
#include "http_client.h"
#include "service/consistency.h"
#include "service/region_vectors.h"
#include "test_server.h"

#define ALICE_TOKEN "alice-token-0123456789"
#define BOB_TOKEN "bob-token-abcdefghijklmnop"

static test_server test;

typedef struct product {
  const char *sku, *name, *category, *image_path;
  char image[1024];
  char id[40];
  char image_id[40];
} product;

enum { APPLE, BANANA, KIWI, OAT_MILK, PRODUCT_COUNT };

static product products[PRODUCT_COUNT] = {
    {.sku = "APPLE",
     .name = "Granny Smith",
     .category = "fruit",
     .image_path = "Fruit/Apple/Granny-Smith/Granny-Smith_Iconic.jpg"},
    {.sku = "BANANA",
     .name = "Banana",
     .category = "fruit",
     .image_path = "Fruit/Banana/Banana_Iconic.jpg"},
    {.sku = "KIWI",
     .name = "Kiwi",
     .category = "fruit",
     .image_path = "Fruit/Kiwi/Kiwi_Iconic.jpg"},
    {.sku = "OATMILK",
     .name = "Oat milk",
     .category = "packages",
     .image_path = "Packages/Oat-Milk/Oatly-Oat-Milk/Oatly-Oat-Milk_Iconic.jpg"},
};

/* ---- helpers -------------------------------------------------------------------------- */

static test_response admin(const char *method, const char *path, const char *token,
                           const char *actor, const char *body) {
  char auth[256], who[256];
  const char *headers[3] = {0};
  size_t n = 0;
  if (token) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    headers[n++] = auth;
  }
  if (actor) {
    snprintf(who, sizeof who, "X-Visor-Actor: %s", actor);
    headers[n++] = who;
  }
  return test_request_headers(method, path, headers, body);
}

static test_response alice(const char *method, const char *path, const char *body) {
  return admin(method, path, ALICE_TOKEN, NULL, body);
}

/* category: a category filter, or a label filter when it holds '=' ("key=value"). */
static test_response search(const char *image, const char *category) {
  test_part parts[3] = {{.name = "image", .file = image}, {.name = "k", .value = "10"}};
  size_t count = 2;
  if (category)
    parts[count++] =
        (test_part){.name = strchr(category, '=') ? "label" : "category", .value = category};
  test_response res = test_multipart("POST", "/api/v1/searches?wait=30", parts, count);
  if (res.status != 200 ||
      strcmp(json_string_value(json_object_get(res.json, "status")) ?: "", "done") != 0)
    fail_msg("search: %ld %s", res.status, res.body);
  return res;
}

/* The best product of a search with image (under category), or "" when none. */
static void top_product(const char *image, const char *category, char out[40]) {
  test_response res = search(image, category);
  json_t *first = json_array_get(json_object_get(res.json, "products"), 0);
  snprintf(out, 40, "%s", json_string_value(json_object_get(first, "product_id")) ?: "");
  test_response_free(&res);
}

/* Whether a search with image returns product_id anywhere / region_id anywhere. */
static int search_returns(const char *image, const char *category, const char *key,
                          const char *id) {
  test_response res = search(image, category);
  int found = 0;
  size_t i, j;
  json_t *item, *region, *result;
  json_array_foreach(json_object_get(res.json, "products"), i, item) found |=
      strcmp(json_string_value(json_object_get(item, key)) ?: "", id) == 0;
  json_array_foreach(json_object_get(res.json, "regions"), i, region)
      json_array_foreach(json_object_get(region, "results"), j, result) found |=
      strcmp(json_string_value(json_object_get(result, key)) ?: "", id) == 0;
  test_response_free(&res);
  return found;
}

/* The regions of a product's first image (new reference). */
static json_t *regions_of(const char *product_id) {
  char path[128];
  snprintf(path, sizeof path, "/api/v1/products/%s", product_id);
  test_response res = test_get(path);
  assert_int_equal(res.status, 200);
  json_t *regions =
      json_object_get(json_array_get(json_object_get(res.json, "images"), 0), "regions");
  json_incref(regions);
  test_response_free(&res);
  return regions;
}

static json_t *region_by_id(const char *region_id) {
  char path[128];
  snprintf(path, sizeof path, "/api/v1/regions/%s", region_id);
  test_response res = test_get(path);
  json_t *region = res.status == 200 ? json_incref(res.json) : NULL;
  test_response_free(&res);
  return region;
}

/* Primary regions over all of a product's images. */
static size_t primary_count(const char *product_id) {
  char path[128];
  snprintf(path, sizeof path, "/api/v1/products/%s", product_id);
  test_response res = test_get(path);
  size_t count = 0, i, j;
  json_t *image, *region;
  json_array_foreach(json_object_get(res.json, "images"), i, image)
      json_array_foreach(json_object_get(image, "regions"), j, region) count +=
      json_is_true(json_object_get(region, "is_primary"));
  test_response_free(&res);
  return count;
}

static long product_status(const char *product_id) {
  char path[128];
  snprintf(path, sizeof path, "/api/v1/products/%s", product_id);
  test_response res = test_get(path);
  long status = res.status;
  test_response_free(&res);
  return status;
}

static json_int_t audit_total(void) {
  test_response res = alice("GET", "/api/v1/admin/audit?limit=1", NULL);
  assert_int_equal(res.status, 200);
  json_int_t total = json_integer_value(json_object_get(res.json, "total"));
  test_response_free(&res);
  return total;
}

/* The audit id of a correction's answer (copied into out). */
static void undo(const char *audit_id) {
  char path[128];
  snprintf(path, sizeof path, "/api/v1/admin/audit/%s/undo", audit_id);
  test_response res = alice("POST", path, NULL);
  if (res.status != 200) fail_msg("undo %s: %ld %s", audit_id, res.status, res.body);
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(res.json, "audit"), "undo_of")), audit_id);
  test_response_free(&res);
}

/* Deletes a region as alice; its audit entry's id into audit_id[40]. */
static void delete_region(const char *region_id, char *audit_id) {
  char path[128];
  snprintf(path, sizeof path, "/api/v1/admin/regions/%s", region_id);
  test_response res = alice("DELETE", path, NULL);
  if (res.status != 200) fail_msg("delete region %s: %ld %s", region_id, res.status, res.body);
  audit_id_of(&res, audit_id);
  test_response_free(&res);
}

/* ---- setup ---------------------------------------------------------------------------- */

static int start_server(void **state) {
  (void)state;
  const char *shared = getenv("VISOR_SHARED_DIR");
  char *options[12] = {"--rate-limit",   "0",
                       "--client-jobs",  "0",
                       "--admin-tokens", "alice:" ALICE_TOKEN ",bob:" BOB_TOKEN};
  int count = 6;
  add_backend_options("VISOR_TEST_ADMIN", options, &count);
  test_server_start(&test, options, count, 1);
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
    snprintf(p->image_id, sizeof p->image_id, "%s",
             json_string_value(
                 json_object_get(json_array_get(json_object_get(res.json, "images"), 0), "id")));
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

static void each_product_finds_itself(void **state) {
  (void)state;
  for (int i = 0; i < PRODUCT_COUNT; i++) {
    char top[40];
    top_product(products[i].image, NULL, top);
    assert_string_equal(top, products[i].id);
  }
  expect_consistent_app(&test.app);
}

static void admin_access(void **state) {
  (void)state;
  const char *path = "/api/v1/admin/audit";
  test_response res = admin("GET", path, NULL, NULL, NULL);
  assert_non_null(strstr(res.headers, "WWW-Authenticate: Bearer"));
  expect_error(&res, 401, "unauthorized");
  res = admin("GET", path, "", NULL, NULL);
  expect_error(&res, 401, "unauthorized");
  res = test_request_headers("GET", path, (const char *[]){"Authorization: Basic abc", NULL}, NULL);
  expect_error(&res, 401, "unauthorized");
  static const char *const wrong[] = {"alice-token-012345678", ALICE_TOKEN "0",
                                      "Alice-token-0123456789", "bob-token-abcdefghijklmno",
                                      "not-a-token-at-all-xx"};
  for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
    res = admin("GET", path, wrong[i], NULL, NULL);
    expect_error(&res, 403, "forbidden");
  }
  /* corrections are refused the same way, before their input is looked at */
  res = admin("DELETE", "/api/v1/admin/regions/not-a-uuid", NULL, NULL, NULL);
  expect_error(&res, 401, "unauthorized");
  res = admin("POST", "/api/v1/admin/products/not-a-uuid/merge", "wrong-token-0123456789", NULL,
              "{}");
  expect_error(&res, 403, "forbidden");
  /* the existing admin routes take the named tokens too */
  res = admin("GET", "/api/v1/admin/queue", BOB_TOKEN, NULL, NULL);
  assert_int_equal(res.status, 200);
  test_response_free(&res);
  /* a bad actor name */
  res = admin("GET", path, ALICE_TOKEN, "ann/other", NULL);
  expect_error(&res, 400, "invalid_argument");
  char long_actor[80];
  memset(long_actor, 'a', 65);
  long_actor[65] = '\0';
  res = admin("GET", path, ALICE_TOKEN, long_actor, NULL);
  expect_error(&res, 400, "invalid_argument");
}

static void relabel_and_primary_then_undo(void **state) {
  (void)state;
  json_t *regions = regions_of(products[APPLE].id);
  assert_true(json_array_size(regions) >= 1);
  /* the whole-image region (first) and, if there is one, a detected region */
  json_t *target = json_array_get(regions, json_array_size(regions) > 1 ? 1 : 0);
  char region_id[40], path[128];
  snprintf(region_id, sizeof region_id, "%s", json_string_value(json_object_get(target, "id")));
  const char *old_label = json_string_value(json_object_get(target, "label"));
  char old_label_copy[128];
  snprintf(old_label_copy, sizeof old_label_copy, "%s", old_label ? old_label : "");
  int was_primary = json_is_true(json_object_get(target, "is_primary"));
  json_decref(regions);
  /* the region's vector carries its label: a label filter on the new one finds nothing yet */
  assert_false(
      search_returns(products[APPLE].image, "region_label=green apple", "region_id", region_id));
  if (old_label_copy[0]) {
    char filter[160];
    snprintf(filter, sizeof filter, "region_label=%s", old_label_copy);
    assert_true(search_returns(products[APPLE].image, filter, "region_id", region_id));
  }
  snprintf(path, sizeof path, "/api/v1/admin/regions/%s", region_id);
  test_response res = admin("PATCH", path, BOB_TOKEN, "Ann Example",
                            "{\"label\":\"green apple\",\"is_primary\":true}");
  if (res.status != 200) fail_msg("patch region: %ld %s", res.status, res.body);
  json_t *entry = json_object_get(res.json, "audit");
  assert_string_equal(json_string_value(json_object_get(entry, "actor")), "bob/Ann Example");
  assert_string_equal(json_string_value(json_object_get(entry, "action")), "region.update");
  assert_string_equal(json_string_value(json_object_get(entry, "subject_kind")), "region");
  assert_string_equal(json_string_value(json_object_get(entry, "subject_id")), region_id);
  assert_string_equal(json_string_value(json_object_get(json_object_get(entry, "after"), "label")),
                      "green apple");
  assert_non_null(json_string_value(json_object_get(entry, "request_id")));
  char audit_id[40];
  audit_id_of(&res, audit_id);
  test_response_free(&res);
  json_t *region = region_by_id(region_id);
  assert_string_equal(json_string_value(json_object_get(region, "label")), "green apple");
  assert_string_equal(json_string_value(json_object_get(region, "source")), "admin");
  assert_true(json_is_true(json_object_get(region, "is_primary")));
  json_decref(region);
  /* only one primary region in the product */
  regions = regions_of(products[APPLE].id);
  size_t index, primaries = 0;
  json_t *one;
  json_array_foreach(regions, index, one) primaries +=
      json_is_true(json_object_get(one, "is_primary"));
  json_decref(regions);
  assert_int_equal(primaries, 1);
  /* the region is still found, with the product, and now under its new label at once */
  assert_true(search_returns(products[APPLE].image, NULL, "product_id", products[APPLE].id));
  assert_true(
      search_returns(products[APPLE].image, "region_label=green apple", "region_id", region_id));
  /* a product change (meta job) keeps the region's label in its vector */
  char product_path[128];
  snprintf(product_path, sizeof product_path, "/api/v1/products/%s", products[APPLE].id);
  res =
      test_request("PATCH", product_path, "application/json", "{\"labels\":{\"colour\":\"green\"}}",
                   strlen("{\"labels\":{\"colour\":\"green\"}}"));
  assert_int_equal(res.status, 200);
  test_response_free(&res);
  wait_for_jobs(60);
  assert_true(
      search_returns(products[APPLE].image, "region_label=green apple", "region_id", region_id));
  assert_true(search_returns(products[APPLE].image, "colour=green", "region_id", region_id));
  /* undo: the label and the primary flags come back */
  undo(audit_id);
  region = region_by_id(region_id);
  const char *label = json_string_value(json_object_get(region, "label"));
  assert_string_equal(label ? label : "", old_label_copy);
  assert_int_equal(json_is_true(json_object_get(region, "is_primary")), was_primary);
  assert_string_equal(json_string_value(json_object_get(region, "source")), "model");
  json_decref(region);
  assert_false(
      search_returns(products[APPLE].image, "region_label=green apple", "region_id", region_id));
  /* the entry says it is undone, by whom; a second undo is 409 */
  snprintf(path, sizeof path, "/api/v1/admin/audit/%s", audit_id);
  res = alice("GET", path, NULL);
  assert_int_equal(res.status, 200);
  assert_non_null(json_string_value(json_object_get(res.json, "undone_at")));
  assert_string_equal(json_string_value(json_object_get(res.json, "undone_by")), "alice");
  test_response_free(&res);
  json_int_t before = audit_total();
  snprintf(path, sizeof path, "/api/v1/admin/audit/%s/undo", audit_id);
  res = alice("POST", path, NULL);
  expect_error(&res, 409, "conflict");
  assert_int_equal(audit_total(), before);
  expect_consistent_app(&test.app);
}

static void delete_region_then_undo(void **state) {
  (void)state;
  json_t *regions = regions_of(products[KIWI].id);
  size_t region_count = json_array_size(regions);
  char region_id[40], path[128];
  snprintf(region_id, sizeof region_id, "%s",
           json_string_value(json_object_get(json_array_get(regions, 0), "id")));
  json_decref(regions);
  assert_true(search_returns(products[KIWI].image, NULL, "region_id", region_id));
  size_t vectors = vector_count_app(&test.app);
  char audit_id[40];
  delete_region(region_id, audit_id);
  /* gone from the index before the answer, never returned by search */
  assert_int_equal(vector_count_app(&test.app), vectors - 1);
  assert_null(region_by_id(region_id));
  regions = regions_of(products[KIWI].id);
  assert_int_equal(json_array_size(regions), region_count - 1);
  json_decref(regions);
  for (int i = 0; i < PRODUCT_COUNT; i++)
    assert_false(search_returns(products[i].image, NULL, "region_id", region_id));
  /* deleting it again: 404, nothing changed */
  json_int_t entries = audit_total();
  snprintf(path, sizeof path, "/api/v1/admin/regions/%s", region_id);
  test_response res = alice("DELETE", path, NULL);
  expect_error(&res, 404, "not_found");
  assert_int_equal(audit_total(), entries);
  expect_consistent_app(&test.app);
  /* undo: the region, its crop and its vector are back, and search finds it again */
  undo(audit_id);
  assert_int_equal(vector_count_app(&test.app), vectors);
  json_t *region = region_by_id(region_id);
  assert_non_null(region);
  test_response crop = test_get(json_string_value(json_object_get(region, "crop_url")));
  assert_int_equal(crop.status, 200);
  test_response_free(&crop);
  json_decref(region);
  assert_true(search_returns(products[KIWI].image, NULL, "region_id", region_id));
  expect_consistent_app(&test.app);
}

/* Undo of a primary region's delete after another region became primary: it comes back
 * as a plain region, the product keeps one primary. */
static void undo_delete_keeps_one_primary(void **state) {
  (void)state;
  json_t *regions = regions_of(products[KIWI].id);
  assert_true(json_array_size(regions) >= 2);
  char primary_id[40] = "", other_id[40] = "", path[128];
  size_t index;
  json_t *one;
  json_array_foreach(regions, index, one) {
    const char *id = json_string_value(json_object_get(one, "id"));
    if (json_is_true(json_object_get(one, "is_primary")) && !primary_id[0])
      snprintf(primary_id, sizeof primary_id, "%s", id);
    else if (!other_id[0])
      snprintf(other_id, sizeof other_id, "%s", id);
  }
  json_decref(regions);
  assert_true(primary_id[0] && other_id[0]);
  char audit_id[40];
  delete_region(primary_id, audit_id);
  snprintf(path, sizeof path, "/api/v1/admin/regions/%s", other_id);
  test_response res = alice("PATCH", path, "{\"is_primary\":true}");
  if (res.status != 200) fail_msg("make primary: %ld %s", res.status, res.body);
  test_response_free(&res);
  undo(audit_id);
  assert_int_equal(primary_count(products[KIWI].id), 1);
  json_t *restored = region_by_id(primary_id), *other = region_by_id(other_id);
  assert_non_null(restored);
  assert_false(json_is_true(json_object_get(restored, "is_primary")));
  assert_true(json_is_true(json_object_get(other, "is_primary")));
  json_decref(restored);
  json_decref(other);
  expect_consistent_app(&test.app);
}

static void product_category_filters_at_once_then_undo(void **state) {
  (void)state;
  char path[128], top[40];
  snprintf(path, sizeof path, "/api/v1/admin/products/%s", products[BANANA].id);
  assert_false(
      search_returns(products[BANANA].image, "tropical", "product_id", products[BANANA].id));
  test_response res =
      alice("PATCH", path, "{\"category\":\"tropical\",\"name\":\"Banana (ripe)\"}");
  if (res.status != 200) fail_msg("patch product: %ld %s", res.status, res.body);
  json_t *entry = json_object_get(res.json, "audit");
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(entry, "before"), "category")), "fruit");
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(entry, "after"), "category")), "tropical");
  assert_non_null(json_string_value(json_object_get(res.json, "job_id"))); /* the meta job */
  char audit_id[40];
  audit_id_of(&res, audit_id);
  test_response_free(&res);
  /* the filter follows before any job ran */
  top_product(products[BANANA].image, "tropical", top);
  assert_string_equal(top, products[BANANA].id);
  assert_false(search_returns(products[BANANA].image, "fruit", "product_id", products[BANANA].id));
  /* undo restores the category, and the filter follows again */
  undo(audit_id);
  top_product(products[BANANA].image, "fruit", top);
  assert_string_equal(top, products[BANANA].id);
  assert_false(
      search_returns(products[BANANA].image, "tropical", "product_id", products[BANANA].id));
  snprintf(path, sizeof path, "/api/v1/products/%s", products[BANANA].id);
  res = test_get(path);
  assert_string_equal(json_string_value(json_object_get(res.json, "name")), "Banana");
  test_response_free(&res);
  expect_consistent_app(&test.app);
}

static void merge_then_undo(void **state) {
  (void)state;
  char path[160], body[128], top[40];
  size_t vectors = vector_count_app(&test.app);
  size_t apple_primaries = primary_count(products[APPLE].id);
  size_t banana_primaries = primary_count(products[BANANA].id);
  assert_int_equal(banana_primaries, 1);
  snprintf(path, sizeof path, "/api/v1/admin/products/%s/merge", products[APPLE].id);
  snprintf(body, sizeof body, "{\"from\":\"%s\"}", products[BANANA].id);
  test_response res = alice("POST", path, body);
  if (res.status != 200) fail_msg("merge: %ld %s", res.status, res.body);
  char audit_id[40];
  audit_id_of(&res, audit_id);
  test_response_free(&res);
  /* the banana's images belong to the apple now, and its photo finds the apple */
  assert_int_equal(product_status(products[BANANA].id), 404);
  top_product(products[BANANA].image, NULL, top);
  assert_string_equal(top, products[APPLE].id);
  assert_false(search_returns(products[BANANA].image, NULL, "product_id", products[BANANA].id));
  snprintf(path, sizeof path, "/api/v1/products/%s", products[APPLE].id);
  res = test_get(path);
  assert_int_equal(json_array_size(json_object_get(res.json, "images")), 2);
  test_response_free(&res);
  assert_int_equal(primary_count(products[APPLE].id), apple_primaries); /* still one at most */
  assert_int_equal(vector_count_app(&test.app), vectors);
  expect_consistent_app(&test.app);
  /* merging the deleted one again, or into it: 404, nothing changed */
  json_int_t entries = audit_total();
  snprintf(path, sizeof path, "/api/v1/admin/products/%s/merge", products[APPLE].id);
  res = alice("POST", path, body);
  expect_error(&res, 404, "not_found");
  snprintf(path, sizeof path, "/api/v1/admin/products/%s/merge", products[BANANA].id);
  snprintf(body, sizeof body, "{\"from\":\"%s\"}", products[KIWI].id);
  res = alice("POST", path, body);
  expect_error(&res, 404, "not_found");
  assert_int_equal(audit_total(), entries);
  assert_int_equal(product_status(products[KIWI].id), 200);
  /* undo: both products are back, each with its image, each photo finds its own */
  undo(audit_id);
  assert_int_equal(product_status(products[BANANA].id), 200);
  top_product(products[BANANA].image, NULL, top);
  assert_string_equal(top, products[BANANA].id);
  top_product(products[APPLE].image, NULL, top);
  assert_string_equal(top, products[APPLE].id);
  snprintf(path, sizeof path, "/api/v1/products/%s", products[APPLE].id);
  res = test_get(path);
  assert_int_equal(json_array_size(json_object_get(res.json, "images")), 1);
  test_response_free(&res);
  assert_int_equal(primary_count(products[APPLE].id), apple_primaries);
  assert_int_equal(primary_count(products[BANANA].id), banana_primaries);
  expect_consistent_app(&test.app);
}

static void move_image_then_undo(void **state) {
  (void)state;
  char path[160], body[128], top[40];
  snprintf(path, sizeof path, "/api/v1/admin/images/%s/move", products[OAT_MILK].image_id);
  snprintf(body, sizeof body, "{\"product_id\":\"%s\"}", products[KIWI].id);
  test_response res = alice("POST", path, body);
  if (res.status != 200) fail_msg("move: %ld %s", res.status, res.body);
  char audit_id[40];
  audit_id_of(&res, audit_id);
  test_response_free(&res);
  top_product(products[OAT_MILK].image, NULL, top);
  assert_string_equal(top, products[KIWI].id);
  assert_int_equal(primary_count(products[KIWI].id), 1);
  /* the vectors carry the new product's category too: "fruit" finds the oat milk photo */
  top_product(products[OAT_MILK].image, "fruit", top);
  assert_string_equal(top, products[KIWI].id);
  /* moving it to where it is: 400 */
  res = alice("POST", path, body);
  expect_error(&res, 400, "invalid_argument");
  undo(audit_id);
  top_product(products[OAT_MILK].image, NULL, top);
  assert_string_equal(top, products[OAT_MILK].id);
  assert_int_equal(primary_count(products[OAT_MILK].id), 1);
  assert_int_equal(primary_count(products[KIWI].id), 1);
  assert_false(
      search_returns(products[OAT_MILK].image, "fruit", "product_id", products[OAT_MILK].id));
  expect_consistent_app(&test.app);
}

static void bad_inputs_change_nothing(void **state) {
  (void)state;
  json_int_t entries = audit_total();
  size_t vectors = vector_count_app(&test.app);
  char path[160], body[160];
  const char *unknown = "00000000-0000-7000-8000-000000000000";
  snprintf(path, sizeof path, "/api/v1/admin/regions/%s", unknown);
  test_response res = alice("PATCH", path, "{\"label\":\"x\"}");
  expect_error(&res, 404, "not_found");
  res = alice("DELETE", path, NULL);
  expect_error(&res, 404, "not_found");
  res = alice("DELETE", "/api/v1/admin/regions/not-a-uuid", NULL);
  expect_error(&res, 400, "invalid_argument");
  json_t *regions = regions_of(products[OAT_MILK].id);
  snprintf(path, sizeof path, "/api/v1/admin/regions/%s",
           json_string_value(json_object_get(json_array_get(regions, 0), "id")));
  json_decref(regions);
  static const char *const bad_region_bodies[] = {"{\"label\":",
                                                  "[]",
                                                  "{}",
                                                  "{\"label\":\"\"}",
                                                  "{\"label\":7}",
                                                  "{\"is_primary\":\"yes\"}",
                                                  "{\"label\":\"x\",\"colour\":\"red\"}",
                                                  "not json"};
  for (size_t i = 0; i < sizeof bad_region_bodies / sizeof bad_region_bodies[0]; i++) {
    res = alice("PATCH", path, bad_region_bodies[i]);
    if (res.status != 400 || strcmp(test_error_code(&res), "invalid_argument") != 0)
      fail_msg("region body %s: %ld %s", bad_region_bodies[i], res.status, res.body);
    test_response_free(&res);
  }
  snprintf(path, sizeof path, "/api/v1/admin/products/%s/merge", products[KIWI].id);
  snprintf(body, sizeof body, "{\"from\":\"%s\"}", products[KIWI].id);
  res = alice("POST", path, body);
  expect_error(&res, 400, "invalid_argument"); /* into itself */
  snprintf(body, sizeof body, "{\"from\":\"%s\"}", unknown);
  res = alice("POST", path, body);
  expect_error(&res, 404, "not_found");
  static const char *const bad_merge_bodies[] = {"{}", "{\"from\":\"abc\"}", "{\"from\":1}",
                                                 "{\"from\":null}", "{\"into\":\"x\"}"};
  for (size_t i = 0; i < sizeof bad_merge_bodies / sizeof bad_merge_bodies[0]; i++) {
    res = alice("POST", path, bad_merge_bodies[i]);
    if (res.status != 400)
      fail_msg("merge body %s: %ld %s", bad_merge_bodies[i], res.status, res.body);
    test_response_free(&res);
  }
  snprintf(path, sizeof path, "/api/v1/admin/products/%s", products[KIWI].id);
  res = alice("PATCH", path, "{\"colour\":\"green\"}");
  expect_error(&res, 400, "invalid_argument");
  res = alice("PATCH", path, "{\"price\":-1}");
  expect_error(&res, 400, "invalid_argument");
  snprintf(path, sizeof path, "/api/v1/admin/products/%s", unknown);
  res = alice("PATCH", path, "{\"name\":\"x\"}");
  expect_error(&res, 404, "not_found");
  snprintf(path, sizeof path, "/api/v1/admin/images/%s/move", unknown);
  snprintf(body, sizeof body, "{\"product_id\":\"%s\"}", products[KIWI].id);
  res = alice("POST", path, body);
  expect_error(&res, 404, "not_found");
  snprintf(path, sizeof path, "/api/v1/admin/images/%s/move", products[KIWI].image_id);
  snprintf(body, sizeof body, "{\"product_id\":\"%s\"}", unknown);
  res = alice("POST", path, body);
  expect_error(&res, 404, "not_found");
  snprintf(path, sizeof path, "/api/v1/admin/audit/%s/undo", unknown);
  res = alice("POST", path, NULL);
  expect_error(&res, 404, "not_found");
  res = alice("GET", "/api/v1/admin/audit?action=drop.table", NULL);
  expect_error(&res, 400, "invalid_argument");
  res = alice("GET", "/api/v1/admin/audit?subject_id=nope", NULL);
  expect_error(&res, 400, "invalid_argument");
  res = alice("GET", "/api/v1/admin/audit?limit=0", NULL);
  expect_error(&res, 400, "invalid_argument");
  assert_int_equal(audit_total(), entries);
  assert_int_equal(vector_count_app(&test.app), vectors);
  char top[40];
  top_product(products[KIWI].image, NULL, top);
  assert_string_equal(top, products[KIWI].id);
  expect_consistent_app(&test.app);
}

static void undo_refuses_a_changed_subject(void **state) {
  (void)state;
  char path[160], first[40], second[40];
  snprintf(path, sizeof path, "/api/v1/admin/products/%s", products[KIWI].id);
  test_response res = alice("PATCH", path, "{\"name\":\"Kiwi A\"}");
  assert_int_equal(res.status, 200);
  audit_id_of(&res, first);
  test_response_free(&res);
  res = alice("PATCH", path, "{\"name\":\"Kiwi B\"}");
  assert_int_equal(res.status, 200);
  audit_id_of(&res, second);
  test_response_free(&res);
  /* the first one's "after" is no longer true: 409, nothing changed */
  json_int_t entries = audit_total();
  snprintf(path, sizeof path, "/api/v1/admin/audit/%s/undo", first);
  res = alice("POST", path, NULL);
  expect_error(&res, 409, "conflict");
  assert_int_equal(audit_total(), entries);
  snprintf(path, sizeof path, "/api/v1/admin/audit/%s", first);
  res = alice("GET", path, NULL);
  assert_true(json_is_null(json_object_get(res.json, "undone_at")));
  test_response_free(&res);
  /* newest first is fine; then the first applies again; an undo cannot be undone */
  undo(second);
  undo(first);
  snprintf(path, sizeof path, "/api/v1/products/%s", products[KIWI].id);
  res = test_get(path);
  assert_string_equal(json_string_value(json_object_get(res.json, "name")), "Kiwi");
  test_response_free(&res);
  res = alice("GET", "/api/v1/admin/audit?action=undo&limit=1", NULL);
  char undo_path[160];
  snprintf(undo_path, sizeof undo_path, "/api/v1/admin/audit/%s/undo",
           json_string_value(
               json_object_get(json_array_get(json_object_get(res.json, "items"), 0), "id")));
  test_response_free(&res);
  res = alice("POST", undo_path, NULL);
  expect_error(&res, 409, "conflict");
}

static void audit_listing_and_filters(void **state) {
  (void)state;
  test_response res = alice("GET", "/api/v1/admin/audit?limit=2&offset=1", NULL);
  assert_int_equal(res.status, 200);
  assert_int_equal(json_array_size(json_object_get(res.json, "items")), 2);
  assert_int_equal(json_integer_value(json_object_get(res.json, "limit")), 2);
  assert_int_equal(json_integer_value(json_object_get(res.json, "offset")), 1);
  test_response_free(&res);
  res = alice("GET", "/api/v1/admin/audit?action=product.merge", NULL);
  assert_int_equal(json_integer_value(json_object_get(res.json, "total")), 1);
  json_t *merge = json_array_get(json_object_get(res.json, "items"), 0);
  assert_string_equal(json_string_value(json_object_get(merge, "subject_id")), products[APPLE].id);
  assert_non_null(json_string_value(json_object_get(merge, "undone_at")));
  test_response_free(&res);
  char path[200];
  snprintf(path, sizeof path, "/api/v1/admin/audit?subject_id=%s", products[APPLE].id);
  res = alice("GET", path, NULL);
  assert_int_equal(json_integer_value(json_object_get(res.json, "total")), 2); /* merge + undo */
  test_response_free(&res);
  res = alice("GET", "/api/v1/admin/audit?actor=bob%2FAnn%20Example", NULL);
  assert_int_equal(json_integer_value(json_object_get(res.json, "total")), 1);
  test_response_free(&res);
  res = alice("GET", "/api/v1/admin/audit?actor=nobody", NULL);
  assert_int_equal(json_integer_value(json_object_get(res.json, "total")), 0);
  test_response_free(&res);
}

/* What a correction's sync job runs repairs an index that lost writes after a commit (a
 * vector store hiccup): a missing vector is embedded again, stale metadata rewritten, a
 * deleted region's leftover vector removed. */
static void sync_repairs_a_lost_write(void **state) {
  (void)state;
  json_t *regions = regions_of(products[KIWI].id);
  char live_id[40], path[128];
  snprintf(live_id, sizeof live_id, "%s",
           json_string_value(json_object_get(json_array_get(regions, 0), "id")));
  json_decref(regions);
  snprintf(path, sizeof path, "/api/v1/admin/regions/%s", live_id);
  test_response res = alice("PATCH", path, "{\"label\":\"kiwi fruit\"}");
  assert_int_equal(res.status, 200);
  char job_path[128], audit_id[40];
  audit_id_of(&res, audit_id);
  snprintf(job_path, sizeof job_path, "/api/v1/jobs/%s",
           json_string_value(json_object_get(res.json, "job_id")));
  test_response_free(&res);
  wait_for_jobs(60);
  res = test_get(job_path);
  assert_string_equal(json_string_value(json_object_get(res.json, "kind")), "sync");
  assert_string_equal(json_string_value(json_object_get(res.json, "status")), "done");
  json_t *ids = json_pack("[s]", live_id);
  test_response_free(&res);
  /* the vector is lost: the check sees it, the sync brings it back with its label */
  visor_error err = {0};
  assert_int_equal(test.app.vectors->ops->remove(test.app.vectors, live_id, &err), VISOR_OK);
  json_t *report = NULL;
  size_t problems = 0;
  assert_int_equal(visor_consistency_check(&test.app, 5, &report, &problems, &err), VISOR_OK);
  json_decref(report);
  assert_int_equal(problems, 1);
  assert_int_equal(visor_region_vectors_sync(&test.app, ids, &err), VISOR_OK);
  assert_true(
      search_returns(products[KIWI].image, "region_label=kiwi fruit", "region_id", live_id));
  /* stale metadata (another product's) is rewritten */
  visor_vector_meta stale = {.product_id = products[OAT_MILK].id,
                             .category = "packages",
                             .model = test.app.embedder_model};
  assert_int_equal(test.app.vectors->ops->set_meta(test.app.vectors, live_id, &stale, &err),
                   VISOR_OK);
  assert_int_equal(visor_region_vectors_sync(&test.app, ids, &err), VISOR_OK);
  char top[40];
  top_product(products[KIWI].image, "fruit", top);
  assert_string_equal(top, products[KIWI].id);
  undo(audit_id);
  json_decref(ids);
  expect_consistent_app(&test.app);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(each_product_finds_itself),
      cmocka_unit_test(admin_access),
      cmocka_unit_test(relabel_and_primary_then_undo),
      cmocka_unit_test(delete_region_then_undo),
      cmocka_unit_test(undo_delete_keeps_one_primary),
      cmocka_unit_test(product_category_filters_at_once_then_undo),
      cmocka_unit_test(merge_then_undo),
      cmocka_unit_test(move_image_then_undo),
      cmocka_unit_test(bad_inputs_change_nothing),
      cmocka_unit_test(undo_refuses_a_changed_subject),
      cmocka_unit_test(audit_listing_and_filters),
      cmocka_unit_test(sync_repairs_a_lost_write),
  };
  return cmocka_run_group_tests(tests, start_server, stop_server);
}
