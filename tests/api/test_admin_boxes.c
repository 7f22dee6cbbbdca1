/* test_admin_boxes.c: moving, resizing and drawing region boxes through the corrections
 * API against a real server in this process (real models, in-process workers; embedded
 * backends or the ones named by VISOR_TEST_ADMIN_METADATA_URL / VISOR_TEST_ADMIN_VECTOR_URL,
 * the latter an empty collection). Everything is checked through what a client sees: a
 * moved box's crop bytes and crop URL change, a search with a crop of the new area finds
 * the region while the old area no longer matches it as before (the old vector is
 * replaced, not kept beside the new one), the cached crop of the old box is gone, and undo
 * restores the very same crop and vector; a drawn box becomes searchable (also by its
 * label) and undo removes it with its vector; bad boxes and unknown or deleted images are
 * 4xx JSON errors with nothing changed; `visor check` stays clean. */
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
#include "service/crops.h"
#include "test_server.h"

#define ALICE_TOKEN "alice-token-0123456789"

static test_server test;

typedef struct product {
  const char *sku, *name, *category, *image_path;
  char image[1024];
  char id[40];
  char image_id[40];
  double width, height;
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

static test_response alice(const char *method, const char *path, const char *body) {
  const char *headers[] = {"Authorization: Bearer " ALICE_TOKEN, NULL};
  return test_request_headers(method, path, headers, body);
}

/* Waits for job_id (a correction's answer) to be done, and checks it is a "sync" job. */
static void wait_for_job(const test_response *correction) {
  const char *job_id = json_string_value(json_object_get(correction->json, "job_id"));
  if (!job_id) fail_msg("the correction names no job: %s", correction->body);
  char path[128];
  snprintf(path, sizeof path, "/api/v1/jobs/%s", job_id);
  double deadline = visor_monotonic_s() + 60;
  for (;;) {
    test_response res = test_get(path);
    assert_int_equal(res.status, 200);
    assert_string_equal(json_string_value(json_object_get(res.json, "kind")), "sync");
    const char *status = json_string_value(json_object_get(res.json, "status"));
    int done = strcmp(status, "done") == 0;
    if (!done && (strcmp(status, "failed") == 0 || strcmp(status, "dead") == 0))
      fail_msg("job %s: %s", job_id, res.body);
    test_response_free(&res);
    if (done) return;
    if (visor_monotonic_s() > deadline) fail_msg("job %s not done after 60 s", job_id);
    visor_sleep_ms(50);
  }
}

/* A search with the given JPEG bytes (under filter "key=value" label, or NULL). */
static test_response search_bytes(const void *bytes, size_t len, const char *label) {
  test_part parts[3] = {{.name = "image", .data = bytes, .data_len = len, .filename = "q.jpg"},
                        {.name = "k", .value = "10"}};
  size_t count = 2;
  if (label) parts[count++] = (test_part){.name = "label", .value = label};
  test_response res = test_multipart("POST", "/api/v1/searches?wait=30", parts, count);
  if (res.status != 200 ||
      strcmp(json_string_value(json_object_get(res.json, "status")) ?: "", "done") != 0)
    fail_msg("search: %ld %s", res.status, res.body);
  return res;
}

/* The best score region_id gets in a search with bytes (-1 when it is not returned), and
 * whether it is the best hit of some query region (*top). */
static double region_score(const void *bytes, size_t len, const char *label, const char *region_id,
                           int *top) {
  test_response res = search_bytes(bytes, len, label);
  double best = -1;
  if (top) *top = 0;
  size_t i, j;
  json_t *region, *result;
  json_array_foreach(json_object_get(res.json, "regions"), i, region)
      json_array_foreach(json_object_get(region, "results"), j, result) {
    if (strcmp(json_string_value(json_object_get(result, "region_id")) ?: "", region_id)) continue;
    double score = json_number_value(json_object_get(result, "score"));
    if (score > best) best = score;
    if (j == 0 && top) *top = 1;
  }
  test_response_free(&res);
  return best;
}

static json_t *region_by_id(const char *region_id) {
  char path[128];
  snprintf(path, sizeof path, "/api/v1/regions/%s", region_id);
  test_response res = test_get(path);
  json_t *region = res.status == 200 ? json_incref(res.json) : NULL;
  test_response_free(&res);
  return region;
}

/* The crop bytes behind a region's crop_url (malloc'd copy into *len bytes). */
static void *crop_of(const json_t *region, size_t *len) {
  const char *url = json_string_value(json_object_get(region, "crop_url"));
  assert_non_null(url);
  test_response res = test_get(url);
  if (res.status != 200) fail_msg("crop %s: %ld %s", url, res.status, res.body);
  void *bytes = malloc(res.len);
  memcpy(bytes, res.body, res.len);
  *len = res.len;
  test_response_free(&res);
  return bytes;
}

/* The first region of a product's first image (new reference). */
static json_t *first_region(const char *product_id) {
  char path[128];
  snprintf(path, sizeof path, "/api/v1/products/%s", product_id);
  test_response res = test_get(path);
  assert_int_equal(res.status, 200);
  json_t *region = json_array_get(
      json_object_get(json_array_get(json_object_get(res.json, "images"), 0), "regions"), 0);
  assert_non_null(region);
  json_incref(region);
  test_response_free(&res);
  return region;
}

static double box_part(const json_t *region, const char *part) {
  return json_number_value(json_object_get(json_object_get(region, "box"), part));
}

static json_int_t audit_total(void) {
  test_response res = alice("GET", "/api/v1/admin/audit?limit=1", NULL);
  assert_int_equal(res.status, 200);
  json_int_t total = json_integer_value(json_object_get(res.json, "total"));
  test_response_free(&res);
  return total;
}

/* Undoes audit_id and waits for the job the undo queued. */
static void undo(const char *audit_id) {
  char path[128];
  snprintf(path, sizeof path, "/api/v1/admin/audit/%s/undo", audit_id);
  test_response res = alice("POST", path, NULL);
  if (res.status != 200) fail_msg("undo %s: %ld %s", audit_id, res.status, res.body);
  wait_for_job(&res);
  test_response_free(&res);
}

static int blob_exists(const char *key) {
  void *bytes = NULL;
  size_t len = 0;
  visor_error err = {0};
  visor_code code = visor_blob_get(test.app.blobs, key, 0, &bytes, &len, &err);
  free(bytes);
  return code == VISOR_OK;
}

/* ---- setup ---------------------------------------------------------------------------- */

static int start_server(void **state) {
  (void)state;
  const char *shared = getenv("VISOR_SHARED_DIR");
  char *options[12] = {"--rate-limit",      "0", "--client-jobs", "0", "--admin-tokens",
                       "alice:" ALICE_TOKEN};
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
    json_t *image = json_array_get(json_object_get(res.json, "images"), 0);
    snprintf(p->image_id, sizeof p->image_id, "%s",
             json_string_value(json_object_get(image, "id")));
    p->width = json_number_value(json_object_get(image, "width"));
    p->height = json_number_value(json_object_get(image, "height"));
    assert_true(p->width > 100 && p->height > 100);
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

/* The apple's region moves to the top-left quarter of its photo (mostly background). */
static void move_box_then_undo(void **state) {
  (void)state;
  product *apple = &products[APPLE];
  json_t *region = first_region(apple->id);
  char region_id[40], old_url[160], old_key[256];
  snprintf(region_id, sizeof region_id, "%s", json_string_value(json_object_get(region, "id")));
  snprintf(old_url, sizeof old_url, "%s", json_string_value(json_object_get(region, "crop_url")));
  size_t old_len = 0, new_len = 0, back_len = 0;
  void *old_crop = crop_of(region, &old_len);
  visor_crop_key(apple->image_id, region_id, old_key, sizeof old_key);
  assert_true(blob_exists(old_key)); /* cached by the request above */
  int top = 0;
  double old_before = region_score(old_crop, old_len, NULL, region_id, &top);
  assert_true(top);
  assert_true(old_before > 0.9);
  size_t vectors = vector_count_app(&test.app);

  double x = 0, y = 0, w = (double)(int)(apple->width / 2), h = (double)(int)(apple->height / 2);
  char path[128], body[256];
  snprintf(path, sizeof path, "/api/v1/admin/regions/%s", region_id);
  snprintf(body, sizeof body, "{\"box\":{\"x\":%g,\"y\":%g,\"w\":%g,\"h\":%g}}", x, y, w, h);
  test_response res = alice("PATCH", path, body);
  if (res.status != 200) fail_msg("move: %ld %s", res.status, res.body);
  json_t *entry = json_object_get(res.json, "audit");
  assert_string_equal(json_string_value(json_object_get(entry, "action")), "region.update");
  json_t *before_box = json_object_get(json_object_get(entry, "before"), "box");
  json_t *after_box = json_object_get(json_object_get(entry, "after"), "box");
  assert_true(json_number_value(json_object_get(before_box, "w")) == box_part(region, "w"));
  assert_true(json_number_value(json_object_get(after_box, "w")) == w);
  assert_string_equal(json_string_value(json_object_get(json_object_get(entry, "after"), "source")),
                      "admin");
  char audit_id[40];
  audit_id_of(&res, audit_id);
  wait_for_job(&res);
  test_response_free(&res);

  json_t *moved = region_by_id(region_id);
  assert_non_null(moved);
  assert_true(box_part(moved, "x") == x && box_part(moved, "w") == w && box_part(moved, "h") == h);
  assert_string_equal(json_string_value(json_object_get(moved, "source")), "admin");
  /* the image's whole-image region, moved, stands for that box only */
  assert_true(json_is_true(json_object_get(region, "whole_image")));
  assert_false(json_is_true(json_object_get(moved, "whole_image")));
  assert_string_not_equal(json_string_value(json_object_get(moved, "crop_url")), old_url);
  void *new_crop = crop_of(moved, &new_len);
  assert_false(new_len == old_len && memcmp(new_crop, old_crop, old_len) == 0);
  assert_false(blob_exists(old_key)); /* the old box's cached crop is gone */
  /* a search with a crop of the new area finds the region first; the old area no longer
   * matches it as it did (its vector was replaced under the same id, none added) */
  double new_score = region_score(new_crop, new_len, NULL, region_id, &top);
  assert_true(top);
  assert_true(new_score > 0.9);
  double old_after = region_score(old_crop, old_len, NULL, region_id, NULL);
  print_message("move: old area %.3f -> %.3f, new area %.3f\n", old_before, old_after, new_score);
  assert_true(old_after < old_before - 0.1);
  assert_int_equal(vector_count_app(&test.app), vectors);

  undo(audit_id);
  json_t *back = region_by_id(region_id);
  assert_true(box_part(back, "w") == box_part(region, "w") &&
              box_part(back, "h") == box_part(region, "h"));
  assert_string_equal(json_string_value(json_object_get(back, "source")),
                      json_string_value(json_object_get(region, "source")));
  assert_true(json_is_true(json_object_get(back, "whole_image")));
  void *back_crop = crop_of(back, &back_len); /* the same box cuts the same bytes */
  assert_true(back_len == old_len && memcmp(back_crop, old_crop, old_len) == 0);
  double restored = region_score(old_crop, old_len, NULL, region_id, &top);
  assert_true(top);
  assert_true(restored > old_before - 0.01);
  assert_int_equal(vector_count_app(&test.app), vectors);
  free(back_crop);
  free(new_crop);
  free(old_crop);
  json_decref(back);
  json_decref(moved);
  json_decref(region);
  expect_consistent_app(&test.app);
}

/* A box drawn on the oat milk carton's upper half, labelled, is searchable by its crop and
 * label; undo removes it and its vector. A drawn box deleted through DELETE leaves too. */
static void draw_box_then_undo(void **state) {
  (void)state;
  product *milk = &products[OAT_MILK];
  size_t vectors = vector_count_app(&test.app);
  char path[128], body[256];
  snprintf(path, sizeof path, "/api/v1/admin/images/%s/regions", milk->image_id);
  snprintf(body, sizeof body,
           "{\"box\":{\"x\":%d,\"y\":%d,\"w\":%d,\"h\":%d},\"label\":\"carton top\"}",
           (int)(milk->width / 4), 0, (int)(milk->width / 2), (int)(milk->height / 2));
  test_response res = alice("POST", path, body);
  if (res.status != 201) fail_msg("draw: %ld %s", res.status, res.body);
  json_t *drawn = json_object_get(res.json, "region");
  char region_id[40], audit_id[40];
  snprintf(region_id, sizeof region_id, "%s", json_string_value(json_object_get(drawn, "id")));
  assert_string_equal(json_string_value(json_object_get(drawn, "source")), "admin");
  assert_string_equal(json_string_value(json_object_get(drawn, "label")), "carton top");
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(res.json, "audit"), "action")),
      "region.create");
  audit_id_of(&res, audit_id);
  wait_for_job(&res);
  json_t *region = region_by_id(region_id);
  test_response_free(&res);
  assert_non_null(region);
  assert_int_equal(vector_count_app(&test.app), vectors + 1);
  size_t len = 0;
  void *crop = crop_of(region, &len);
  int top = 0;
  double score = region_score(crop, len, NULL, region_id, &top);
  assert_true(top && score > 0.9);
  assert_true(region_score(crop, len, "region_label=carton top", region_id, &top) > 0.9);

  undo(audit_id);
  assert_null(region_by_id(region_id));
  assert_true(region_score(crop, len, NULL, region_id, NULL) < 0);
  assert_int_equal(vector_count_app(&test.app), vectors);
  free(crop);
  json_decref(region);

  /* drawn as primary, then deleted: its vector leaves with it */
  snprintf(body, sizeof body, "{\"box\":{\"x\":0,\"y\":0,\"w\":64,\"h\":64},\"is_primary\":true}");
  res = alice("POST", path, body);
  assert_int_equal(res.status, 201);
  assert_true(json_is_true(json_object_get(json_object_get(res.json, "region"), "is_primary")));
  snprintf(region_id, sizeof region_id, "%s",
           json_string_value(json_object_get(json_object_get(res.json, "region"), "id")));
  wait_for_job(&res);
  test_response_free(&res);
  assert_int_equal(vector_count_app(&test.app), vectors + 1);
  snprintf(path, sizeof path, "/api/v1/admin/regions/%s", region_id);
  res = alice("DELETE", path, NULL);
  assert_int_equal(res.status, 200);
  test_response_free(&res);
  wait_for_jobs(60);
  assert_null(region_by_id(region_id));
  assert_int_equal(vector_count_app(&test.app), vectors);
  expect_consistent_app(&test.app);
}

static void move_to(const char *path, int w, int h, char audit_id[40]) {
  char body[128];
  snprintf(body, sizeof body, "{\"box\":{\"x\":1,\"y\":1,\"w\":%d,\"h\":%d}}", w, h);
  test_response res = alice("PATCH", path, body);
  if (res.status != 200) fail_msg("move: %ld %s", res.status, res.body);
  audit_id_of(&res, audit_id);
  wait_for_job(&res);
  test_response_free(&res);
}

/* Undo of a move whose box moved again since is a 409 with nothing changed; undoing the
 * later one first, then the earlier, gets back to the first box. */
static void undo_of_a_box_moved_again_conflicts(void **state) {
  (void)state;
  json_t *region = first_region(products[APPLE].id);
  const char *id = json_string_value(json_object_get(region, "id"));
  char path[128], first[40], second[40], undo_path[128];
  snprintf(path, sizeof path, "/api/v1/admin/regions/%s", id);
  move_to(path, 100, 120, first);
  move_to(path, 90, 80, second);
  snprintf(undo_path, sizeof undo_path, "/api/v1/admin/audit/%s/undo", first);
  json_int_t audits = audit_total();
  test_response res = alice("POST", undo_path, NULL);
  expect_error(&res, 409, "conflict");
  assert_int_equal(audit_total(), audits);
  json_t *now = region_by_id(id);
  assert_true(box_part(now, "w") == 90 && box_part(now, "h") == 80);
  json_decref(now);
  undo(second);
  undo(first);
  now = region_by_id(id);
  assert_true(json_equal(json_object_get(now, "box"), json_object_get(region, "box")));
  json_decref(now);
  json_decref(region);
  expect_consistent_app(&test.app);
}

/* Each bad box or subject: a 4xx JSON error; no audit entry, no vector, no box changed. */
static void bad_boxes_change_nothing(void **state) {
  (void)state;
  product *banana = &products[BANANA];
  json_t *region = first_region(banana->id);
  char patch[128], draw[128], body[1100];
  snprintf(patch, sizeof patch, "/api/v1/admin/regions/%s",
           json_string_value(json_object_get(region, "id")));
  snprintf(draw, sizeof draw, "/api/v1/admin/images/%s/regions", banana->image_id);
  json_int_t audits = audit_total();
  size_t vectors = vector_count_app(&test.app);
  int W = (int)banana->width, H = (int)banana->height;
  char boxes[8][128];
  snprintf(boxes[0], sizeof boxes[0], "{\"x\":%d,\"y\":0,\"w\":2,\"h\":2}", W - 1);  /* right */
  snprintf(boxes[1], sizeof boxes[1], "{\"x\":0,\"y\":0,\"w\":10,\"h\":%d}", H + 1); /* below */
  snprintf(boxes[2], sizeof boxes[2], "{\"x\":-1,\"y\":0,\"w\":10,\"h\":10}");       /* left */
  snprintf(boxes[3], sizeof boxes[3], "{\"x\":0,\"y\":0,\"w\":0,\"h\":10}");         /* empty */
  snprintf(boxes[4], sizeof boxes[4], "{\"x\":0,\"y\":0,\"w\":0.5,\"h\":10}");       /* < 1 px */
  snprintf(boxes[5], sizeof boxes[5], "{\"x\":0,\"y\":0,\"w\":\"ten\",\"h\":10}");   /* text */
  snprintf(boxes[6], sizeof boxes[6], "{\"x\":0,\"y\":0,\"w\":10}");                 /* no h */
  snprintf(boxes[7], sizeof boxes[7], "[0,0,10,10]");                                /* array */
  for (int i = 0; i < 8; i++) {
    snprintf(body, sizeof body, "{\"box\":%s}", boxes[i]);
    test_response res = alice("PATCH", patch, body);
    expect_error(&res, 400, "invalid_argument");
    res = alice("POST", draw, body);
    expect_error(&res, 400, "invalid_argument");
  }
  /* not finite (JSON has no NaN: an overflowing number is not JSON) */
  test_response res = alice("PATCH", patch, "{\"box\":{\"x\":1e999,\"y\":0,\"w\":10,\"h\":10}}");
  assert_int_equal(res.status, 400);
  test_response_free(&res);
  res = alice("POST", draw, "{\"label\":\"no box\"}");
  expect_error(&res, 400, "invalid_argument");
  res = alice("POST", draw, "{\"box\":{\"x\":0,\"y\":0,\"w\":10,\"h\":10},\"colour\":\"red\"}");
  expect_error(&res, 400, "invalid_argument");
  res = alice("POST", "/api/v1/admin/images/00000000-0000-4000-8000-000000000000/regions",
              "{\"box\":{\"x\":0,\"y\":0,\"w\":10,\"h\":10}}");
  expect_error(&res, 404, "not_found");
  res = alice("PATCH", "/api/v1/admin/regions/00000000-0000-4000-8000-000000000000",
              "{\"box\":{\"x\":0,\"y\":0,\"w\":10,\"h\":10}}");
  expect_error(&res, 404, "not_found");
  /* without the token */
  res = test_request_headers("POST", draw, (const char *[]){NULL},
                             "{\"box\":{\"x\":0,\"y\":0,\"w\":10,\"h\":10}}");
  expect_error(&res, 401, "unauthorized");
  assert_int_equal(audit_total(), audits);
  assert_int_equal(vector_count_app(&test.app), vectors);
  json_t *same = region_by_id(json_string_value(json_object_get(region, "id")));
  assert_true(json_equal(json_object_get(same, "box"), json_object_get(region, "box")));
  assert_string_equal(json_string_value(json_object_get(same, "crop_url")),
                      json_string_value(json_object_get(region, "crop_url")));
  json_decref(same);

  /* a deleted image: 404, nothing drawn */
  char image_path[128];
  snprintf(image_path, sizeof image_path, "/api/v1/images/%s", banana->image_id);
  res = test_request("DELETE", image_path, NULL, NULL, 0);
  assert_true(res.status == 200 || res.status == 204);
  test_response_free(&res);
  wait_for_jobs(60);
  res = alice("POST", draw, "{\"box\":{\"x\":0,\"y\":0,\"w\":10,\"h\":10}}");
  expect_error(&res, 404, "not_found");
  res = alice("PATCH", patch, "{\"box\":{\"x\":0,\"y\":0,\"w\":10,\"h\":10}}");
  expect_error(&res, 404, "not_found");
  assert_int_equal(audit_total(), audits);
  json_decref(region);
  expect_consistent_app(&test.app);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(move_box_then_undo),
      cmocka_unit_test(draw_box_then_undo),
      cmocka_unit_test(undo_of_a_box_moved_again_conflicts),
      cmocka_unit_test(bad_boxes_change_nothing),
  };
  return cmocka_run_group_tests(tests, start_server, stop_server);
}
