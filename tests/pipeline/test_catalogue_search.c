/* test_catalogue_search.c: search by a drawn box, similar products and index freshness,
 * through the REST API of a real server (embedded backends, real models, in-process
 * workers) over a dozen iconic products of the grocery data set:
 * - a test photo made of two iconic photos side by side: a box on each half finds that
 *   product first, with exactly one region in the answer; the same boxes on the stored
 *   query image of that search (search_id, no upload) do too, and so does a detected
 *   object named by its ordinal (search_id + region); bad boxes and regions are 400;
 * - a product's similar products exclude it, follow the category and label filters, and
 *   put first the product whose image is a smaller copy of its own;
 * - every image and product reports indexed_at / index_error / index_status; an image
 *   whose original is gone from the object store fails its index job for good and becomes
 *   failed with the error (the index lag metric counts it while pending), and a retry,
 *   with the original back, clears it to pending and then indexed.
 * VISOR_TEST_SEARCH_METADATA_URL / VISOR_TEST_SEARCH_VECTOR_URL run it over other backends
 * (each run needs an empty database and a fresh collection). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <vips/vips.h>

#include "../api/http_client.h"
#include "../api/test_server.h"
#include "api/api.h"
#include "core/clock.h"

static test_server test;
static char grocery[1024];

typedef struct product {
  int class_id;
  char name[64], category[64], id[40];
} product;

/* Classes of data set's classes.csv that go in the catalogue: fruit, juice, milk, vegetables. */
static const int catalogue_classes[] = {0, 1, 6, 8, 16, 23, 29, 38, 45, 62, 71, 77};
#define CATALOGUE_SIZE (sizeof catalogue_classes / sizeof catalogue_classes[0])
#define LEFT_CLASS 6   /* Banana */
#define RIGHT_CLASS 45 /* Oatly oat milk */
static product products[CATALOGUE_SIZE];
static char iconic_paths[CATALOGUE_SIZE][1400];
static char composite_path[256];
static int left_width, right_width, composite_height;
static char copy_id[40]; /* a product whose photo is a smaller copy of the banana's */

static product *product_of_class(int class_id) {
  for (size_t i = 0; i < CATALOGUE_SIZE; i++)
    if (products[i].class_id == class_id) return &products[i];
  fail_msg("class %d is not in the catalogue", class_id);
  return NULL;
}

static int start_server(void **state) {
  (void)state;
  const char *shared = getenv("VISOR_SHARED_DIR");
  snprintf(grocery, sizeof grocery, "%s/datasets/grocery", shared ? shared : "../shared");
  /* Embedded backends, or a metadata store and a vector store given by URL (e.g. postgres://
   * and chroma:// of scripts/test-env.sh); the object store stays the temp folder's. */
  char *options[8] = {"--rate-limit", "0", "--client-jobs", "0"};
  int count = 4;
  const char *metadata = getenv("VISOR_TEST_SEARCH_METADATA_URL");
  const char *vectors = getenv("VISOR_TEST_SEARCH_VECTOR_URL");
  if (metadata && *metadata) {
    options[count++] = "--metadata";
    options[count++] = (char *)metadata;
  }
  if (vectors && *vectors) {
    options[count++] = "--vectors";
    options[count++] = (char *)vectors;
  }
  test_server_start(&test, options, count, 1);
  return 0;
}

static int stop_server(void **state) {
  (void)state;
  if (composite_path[0]) unlink(composite_path);
  test_server_stop(&test);
  return 0;
}

static void wait_for_index_jobs(int timeout_s) {
  double deadline = visor_monotonic_s() + timeout_s;
  while (visor_monotonic_s() < deadline) {
    test_response queued = test_get("/api/v1/jobs?kind=index&status=queued&limit=1");
    test_response running = test_get("/api/v1/jobs?kind=index&status=running&limit=1");
    json_int_t pending = json_integer_value(json_object_get(queued.json, "total")) +
                         json_integer_value(json_object_get(running.json, "total"));
    test_response_free(&queued);
    test_response_free(&running);
    if (pending == 0) return;
    visor_sleep_ms(200);
  }
  fail_msg("index jobs still pending after %d s", timeout_s);
}

static test_response create_product(const char *sku, const char *name, const char *category,
                                    const char *labels, const test_part *image) {
  test_part parts[5] = {{.name = "sku", .value = sku},
                        {.name = "name", .value = name},
                        {.name = "category", .value = category}};
  size_t count = 3;
  if (labels) parts[count++] = (test_part){.name = "labels", .value = labels};
  parts[count++] = *image;
  test_response res = test_multipart("POST", "/api/v1/products", parts, count);
  if (res.status != 201) fail_msg("create %s: %ld %s", sku, res.status, res.body);
  return res;
}

/* A JPEG of the two iconic photos side by side at one height. */
static void make_composite(const char *left, const char *right) {
  VipsImage *a = vips_image_new_from_file(left, NULL), *b = vips_image_new_from_file(right, NULL);
  assert_non_null(a);
  assert_non_null(b);
  composite_height = 480;
  VipsImage *a_sized = NULL, *b_sized = NULL, *joined = NULL;
  assert_int_equal(vips_resize(a, &a_sized, (double)composite_height / a->Ysize, NULL), 0);
  assert_int_equal(vips_resize(b, &b_sized, (double)composite_height / b->Ysize, NULL), 0);
  left_width = a_sized->Xsize;
  right_width = b_sized->Xsize;
  VipsArrayDouble *white = vips_array_double_newv(3, 255.0, 255.0, 255.0);
  assert_int_equal(vips_join(a_sized, b_sized, &joined, VIPS_DIRECTION_HORIZONTAL, "expand", TRUE,
                             "background", white, NULL),
                   0);
  vips_area_unref(VIPS_AREA(white));
  snprintf(composite_path, sizeof composite_path, "%s/two-products.jpg", test.data_dir);
  assert_int_equal(vips_jpegsave(joined, composite_path, "Q", 90, NULL), 0);
  g_object_unref(joined);
  g_object_unref(a_sized);
  g_object_unref(b_sized);
  g_object_unref(a);
  g_object_unref(b);
}

static void add_catalogue(void **state) {
  (void)state;
  char path[1200];
  snprintf(path, sizeof path, "%s/classes.csv", grocery);
  FILE *csv = fopen(path, "r");
  assert_non_null(csv);
  char line[2048];
  fgets(line, sizeof line, csv);
  size_t added = 0;
  while (fgets(line, sizeof line, csv)) {
    char *fields[6] = {0}, *save = NULL;
    int n = 0;
    for (char *field = strtok_r(line, ",\n", &save); field && n < 6;
         field = strtok_r(NULL, ",\n", &save))
      fields[n++] = field;
    if (n < 5) continue;
    int class_id = atoi(fields[1]);
    size_t slot = CATALOGUE_SIZE;
    for (size_t i = 0; i < CATALOGUE_SIZE; i++)
      if (catalogue_classes[i] == class_id) slot = i;
    if (slot == CATALOGUE_SIZE) continue;
    product *p = &products[slot];
    p->class_id = class_id;
    snprintf(p->name, sizeof p->name, "%s", fields[0]);
    snprintf(p->category, sizeof p->category, "%s", fields[2]);
    snprintf(iconic_paths[slot], sizeof iconic_paths[slot], "%s%s", grocery, fields[4]);
    char sku[32];
    snprintf(sku, sizeof sku, "CAT-%d", class_id);
    test_part image = {.name = "images", .file = iconic_paths[slot]};
    test_response res = create_product(sku, p->name, p->category, "{\"shelf\":\"fresh\"}", &image);
    snprintf(p->id, sizeof p->id, "%s", json_string_value(json_object_get(res.json, "id")));
    test_response_free(&res);
    added++;
  }
  fclose(csv);
  assert_int_equal(added, CATALOGUE_SIZE);
  /* A smaller re-encoded copy of the banana photo, in a category of its own. */
  size_t banana = (size_t)(product_of_class(LEFT_CLASS) - products);
  VipsImage *original = vips_image_new_from_file(iconic_paths[banana], NULL), *small = NULL;
  assert_non_null(original);
  assert_int_equal(vips_resize(original, &small, 0.6, NULL), 0);
  void *jpeg = NULL;
  size_t len = 0;
  assert_int_equal(vips_jpegsave_buffer(small, &jpeg, &len, "Q", 80, NULL), 0);
  test_part copy = {.name = "images", .data = jpeg, .data_len = len, .filename = "copy.jpg"};
  test_response res =
      create_product("CAT-COPY", "Banana (copy)", "Copies", "{\"brand\":\"copycat\"}", &copy);
  snprintf(copy_id, sizeof copy_id, "%s", json_string_value(json_object_get(res.json, "id")));
  test_response_free(&res);
  g_free(jpeg);
  g_object_unref(small);
  g_object_unref(original);
  wait_for_index_jobs(600);
  make_composite(iconic_paths[banana],
                 iconic_paths[(size_t)(product_of_class(RIGHT_CLASS) - products)]);
}

static test_response region_search(const char *image, const char *search_id, const char *box) {
  test_part parts[3] = {{.name = "k", .value = "5"}};
  size_t count = 1;
  if (image) parts[count++] = (test_part){.name = "image", .file = image};
  if (search_id) parts[count++] = (test_part){.name = "search_id", .value = search_id};
  if (box) parts[count++] = (test_part){.name = "box", .value = box};
  return test_multipart("POST", "/api/v1/searches?wait=60", parts, count);
}

/* The search is done, has exactly one region (box, not whole image) and ranks want first. */
static void expect_region_finds(const test_response *res, const char *box_json, int want_class) {
  const char *status = json_string_value(json_object_get(res->json, "status"));
  if (res->status != 200 || !status || strcmp(status, "done") != 0)
    fail_msg("search: %ld %s", res->status, res->body);
  json_t *regions = json_object_get(res->json, "regions");
  assert_int_equal(json_array_size(regions), 1);
  json_t *region = json_array_get(regions, 0);
  assert_false(json_is_true(json_object_get(region, "whole_image")));
  json_t *want_box = json_loads(box_json, 0, NULL), *box = json_object_get(region, "box");
  const char *keys[] = {"x", "y", "w", "h"};
  for (int i = 0; i < 4; i++)
    assert_true(fabs(json_number_value(json_object_get(box, keys[i])) -
                     json_number_value(json_object_get(want_box, keys[i]))) < 0.5);
  assert_true(json_equal(json_object_get(res->json, "box"), want_box));
  json_decref(want_box);
  const product *want = product_of_class(want_class);
  const char *first = json_string_value(
      json_object_get(json_array_get(json_object_get(res->json, "products"), 0), "product_id"));
  const char *first_in_region = json_string_value(
      json_object_get(json_array_get(json_object_get(region, "results"), 0), "product_id"));
  if (!first || strcmp(first, want->id) != 0 || !first_in_region ||
      strcmp(first_in_region, want->id) != 0)
    fail_msg("a box on %s found %s first: %s", want->name, first ? first : "nothing", res->body);
}

static void box_on_each_object_finds_it_first(void **state) {
  (void)state;
  char left[128], right[128];
  snprintf(left, sizeof left, "{\"x\":0,\"y\":0,\"w\":%d,\"h\":%d}", left_width, composite_height);
  snprintf(right, sizeof right, "{\"x\":%d,\"y\":0,\"w\":%d,\"h\":%d}", left_width, right_width,
           composite_height);
  test_response res = region_search(composite_path, NULL, left);
  expect_region_finds(&res, left, LEFT_CLASS);
  char first_search[40];
  snprintf(first_search, sizeof first_search, "%s",
           json_string_value(json_object_get(res.json, "id")));
  test_response_free(&res);
  res = region_search(composite_path, NULL, right);
  expect_region_finds(&res, right, RIGHT_CLASS);
  test_response_free(&res);
  /* "Search with this object": the stored query image of the first search, no upload. */
  res = region_search(NULL, first_search, right);
  expect_region_finds(&res, right, RIGHT_CLASS);
  test_response_free(&res);
  res = region_search(NULL, first_search, left);
  expect_region_finds(&res, left, LEFT_CLASS);
  test_response_free(&res);
  /* Without a box, the stored image is searched whole again, detector and all. */
  res = region_search(NULL, first_search, NULL);
  assert_int_equal(res.status, 200);
  /* "Search with this object" by ordinal: the banana the detector found, alone. */
  int banana_ordinal = -1;
  char banana_box[160] = "";
  size_t index;
  json_t *found;
  json_array_foreach(json_object_get(res.json, "regions"), index, found) {
    const char *label = json_string_value(json_object_get(found, "detector_label"));
    if (banana_ordinal < 0 && label && !strcmp(label, "banana")) {
      banana_ordinal = (int)json_integer_value(json_object_get(found, "ordinal"));
      char *text = json_dumps(json_object_get(found, "box"), JSON_COMPACT);
      snprintf(banana_box, sizeof banana_box, "%s", text);
      free(text);
    }
  }
  if (banana_ordinal < 0) fail_msg("the detector found no banana: %s", res.body);
  char whole_search[40], ordinal_text[16];
  snprintf(whole_search, sizeof whole_search, "%s",
           json_string_value(json_object_get(res.json, "id")));
  snprintf(ordinal_text, sizeof ordinal_text, "%d", banana_ordinal);
  test_part by_region[] = {{.name = "search_id", .value = whole_search},
                           {.name = "region", .value = ordinal_text}};
  test_response object = test_multipart("POST", "/api/v1/searches?wait=60", by_region, 2);
  expect_region_finds(&object, banana_box, LEFT_CLASS);
  test_response_free(&object);
  assert_true(json_is_true(
      json_object_get(json_array_get(json_object_get(res.json, "regions"), 0), "whole_image")));
  assert_true(json_is_null(json_object_get(res.json, "box")));
  test_response_free(&res);
}

static void expect_400(test_response res, const char *needle) {
  if (res.status != 400 || strcmp(test_error_code(&res), "invalid_argument") != 0 ||
      !strstr(test_error_message(&res), needle))
    fail_msg("expected 400 naming '%s', got %ld %s", needle, res.status, res.body);
  test_response_free(&res);
}

static void bad_boxes_are_refused(void **state) {
  (void)state;
  char outside[128], too_wide[128];
  snprintf(outside, sizeof outside, "{\"x\":%d,\"y\":0,\"w\":50,\"h\":50}",
           left_width + right_width);
  snprintf(too_wide, sizeof too_wide, "{\"x\":10,\"y\":0,\"w\":%d,\"h\":50}",
           left_width + right_width);
  const char *cases[][2] = {{"not json", "field 'box'"},
                            {"[1,2,3,4]", "field 'box'"},
                            {"{\"x\":0,\"y\":0,\"w\":10}", "field 'box'"},
                            {"{\"x\":0,\"y\":0,\"w\":10,\"h\":\"10\"}", "'h'"},
                            {"{\"x\":0,\"y\":0,\"w\":10,\"h\":10,\"z\":1}", "field 'box'"},
                            {"{\"x\":-1,\"y\":0,\"w\":50,\"h\":50}", "not inside"},
                            {"{\"x\":0,\"y\":0,\"w\":0,\"h\":50}", "at least"},
                            {"{\"x\":0,\"y\":0,\"w\":50,\"h\":-5}", "at least"},
                            {"{\"x\":0,\"y\":0,\"w\":3,\"h\":3}", "at least"},
                            {outside, "not inside"},
                            {too_wide, "not inside"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    expect_400(region_search(composite_path, NULL, cases[i][0]), cases[i][1]);
  /* The same checks hold on a stored image; both an image and a search_id is an error. */
  test_response res = region_search(composite_path, NULL, NULL);
  assert_int_equal(res.status, 200);
  char search_id[40];
  snprintf(search_id, sizeof search_id, "%s", json_string_value(json_object_get(res.json, "id")));
  test_response_free(&res);
  expect_400(region_search(NULL, search_id, outside), "not inside");
  expect_400(region_search(composite_path, search_id, NULL), "not both");
  expect_400(region_search(NULL, "not-a-uuid", NULL), "search_id");
  test_part no_such_region[] = {{.name = "search_id", .value = search_id},
                                {.name = "region", .value = "99"}};
  expect_400(test_multipart("POST", "/api/v1/searches", no_such_region, 2), "no region 99");
  test_part region_and_box[] = {{.name = "search_id", .value = search_id},
                                {.name = "region", .value = "0"},
                                {.name = "box", .value = "{\"x\":0,\"y\":0,\"w\":50,\"h\":50}"}};
  expect_400(test_multipart("POST", "/api/v1/searches", region_and_box, 3), "field 'region'");
  test_part region_alone[] = {{.name = "image", .file = composite_path},
                              {.name = "region", .value = "0"}};
  expect_400(test_multipart("POST", "/api/v1/searches", region_alone, 2), "field 'region'");
  test_part bad_region[] = {{.name = "search_id", .value = search_id},
                            {.name = "region", .value = "-1"}};
  expect_400(test_multipart("POST", "/api/v1/searches", bad_region, 2), "field 'region'");
  res = region_search(NULL, "00000000-0000-7000-8000-000000000000", NULL);
  assert_int_equal(res.status, 404);
  test_response_free(&res);
}

static test_response similar(const char *product_id, const char *query) {
  char path[256];
  snprintf(path, sizeof path, "/api/v1/products/%s/similar%s", product_id, query);
  return test_get(path);
}

static int lists_product(json_t *items, const char *id) {
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item) {
    if (!strcmp(json_string_value(json_object_get(item, "product_id")), id)) return 1;
  }
  return 0;
}

static void similar_products_exclude_the_product_and_follow_filters(void **state) {
  (void)state;
  const product *banana = product_of_class(LEFT_CLASS);
  test_response res = similar(banana->id, "?k=5");
  assert_int_equal(res.status, 200);
  json_t *items = json_object_get(res.json, "items");
  assert_int_equal(json_array_size(items), 5);
  assert_false(lists_product(items, banana->id));
  json_t *first = json_array_get(items, 0);
  if (strcmp(json_string_value(json_object_get(first, "product_id")), copy_id) != 0)
    fail_msg("the copy of the banana photo is not first: %s", res.body);
  assert_int_equal(json_integer_value(json_object_get(first, "rank")), 1);
  assert_non_null(json_string_value(json_object_get(first, "crop_url")));
  assert_string_equal(json_string_value(json_object_get(json_object_get(first, "product"), "sku")),
                      "CAT-COPY");
  double previous = 2;
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item) {
    double score = json_number_value(json_object_get(item, "score"));
    assert_true(score <= previous + 1e-6);
    previous = score;
  }
  test_response_free(&res);
  /* The copy (category Copies) is the banana's only neighbour in its category... */
  res = similar(banana->id, "?category=Copies");
  items = json_object_get(res.json, "items");
  assert_int_equal(json_array_size(items), 1);
  assert_true(lists_product(items, copy_id));
  test_response_free(&res);
  /* ...and is not among the apples. */
  res = similar(banana->id, "?category=Apple&k=10");
  items = json_object_get(res.json, "items");
  assert_int_equal(json_array_size(items), 2);
  json_array_foreach(items, i, item) {
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(item, "product"), "category")), "Apple");
  }
  test_response_free(&res);
  res = similar(banana->id, "?label=brand%3Dcopycat");
  items = json_object_get(res.json, "items");
  assert_int_equal(json_array_size(items), 1);
  assert_true(lists_product(items, copy_id));
  test_response_free(&res);
  res = similar(banana->id, "?label=shelf%3Dfresh&k=100");
  items = json_object_get(res.json, "items");
  assert_int_equal(json_array_size(items), CATALOGUE_SIZE - 1); /* every other product */
  assert_false(lists_product(items, copy_id));
  test_response_free(&res);
  /* The copy finds the banana first too. */
  res = similar(copy_id, "?k=1");
  items = json_object_get(res.json, "items");
  assert_int_equal(json_array_size(items), 1);
  assert_true(lists_product(items, banana->id));
  test_response_free(&res);
  res = similar(banana->id, "?k=0");
  assert_int_equal(res.status, 400);
  test_response_free(&res);
  res = similar(banana->id, "?label=novalue");
  assert_int_equal(res.status, 400);
  test_response_free(&res);
  res = similar("00000000-0000-7000-8000-000000000000", "");
  assert_int_equal(res.status, 404);
  test_response_free(&res);
  res = similar("nope", "");
  assert_int_equal(res.status, 400);
  test_response_free(&res);
}

static json_t *get_json(const char *path) {
  test_response res = test_get(path);
  if (res.status != 200) fail_msg("GET %s: %ld %s", path, res.status, res.body);
  json_t *json = json_incref(res.json);
  test_response_free(&res);
  return json;
}

/* The value of a metric line "name{labels} value" or "name value" in /metrics. */
static double metric(const char *series) {
  test_response res = test_get("/metrics");
  const char *at = strstr(res.body, series);
  while (at && at != res.body && at[-1] != '\n')
    at = strstr(at + 1, series);
  if (!at) fail_msg("no %s in /metrics", series);
  double value = atof(at + strlen(series) + 1);
  test_response_free(&res);
  return value;
}

static json_t *wait_for_image_status(const char *image_id, const char *status, int timeout_s) {
  char path[128];
  snprintf(path, sizeof path, "/api/v1/images/%s", image_id);
  double deadline = visor_monotonic_s() + timeout_s;
  for (;;) {
    json_t *image = get_json(path);
    if (!strcmp(json_string_value(json_object_get(image, "status")), status)) return image;
    if (visor_monotonic_s() > deadline)
      fail_msg("image %s not %s in %d s", image_id, status, timeout_s);
    json_decref(image);
    visor_sleep_ms(100);
  }
}

static void freshness_failed_images_and_retry(void **state) {
  (void)state;
  /* Every indexed product and image says when it became searchable. */
  char path[160];
  snprintf(path, sizeof path, "/api/v1/products/%s", products[0].id);
  json_t *indexed = get_json(path);
  assert_string_equal(json_string_value(json_object_get(indexed, "index_status")), "searchable");
  assert_non_null(json_string_value(json_object_get(indexed, "indexed_at")));
  assert_true(json_is_null(json_object_get(indexed, "index_error")));
  json_t *image = json_array_get(json_object_get(indexed, "images"), 0);
  assert_string_equal(json_string_value(json_object_get(image, "status")), "indexed");
  assert_non_null(json_string_value(json_object_get(image, "indexed_at")));
  json_decref(indexed);
  json_t *list = get_json("/api/v1/products?limit=100");
  size_t i;
  json_t *item;
  json_array_foreach(json_object_get(list, "items"), i, item) {
    assert_string_equal(json_string_value(json_object_get(item, "index_status")), "searchable");
  }
  json_decref(list);
  assert_true(metric("visor_index_lag_seconds") == 0);

  /* Queued while the queue is paused: indexing, and the lag grows. */
  visor_error err = {0};
  assert_int_equal(test.app.queue->ops->set_paused(test.app.queue, 1, &err), VISOR_OK);
  test_part photo = {.name = "images", .file = iconic_paths[0]};
  test_response res = create_product("FRESH-1", "Fresh", "Apple", NULL, &photo);
  char product_id[40], image_id[40], job_id[40], object_key[128];
  json_t *created = json_array_get(json_object_get(res.json, "images"), 0);
  snprintf(product_id, sizeof product_id, "%s", json_string_value(json_object_get(res.json, "id")));
  snprintf(image_id, sizeof image_id, "%s", json_string_value(json_object_get(created, "id")));
  snprintf(job_id, sizeof job_id, "%s", json_string_value(json_object_get(created, "job_id")));
  snprintf(object_key, sizeof object_key, "%s",
           json_string_value(json_object_get(created, "object_key")));
  assert_string_equal(json_string_value(json_object_get(res.json, "index_status")), "indexing");
  assert_true(json_is_null(json_object_get(created, "indexed_at")));
  test_response_free(&res);
  visor_sleep_ms(1100);
  assert_true(metric("visor_index_lag_seconds") >= 1.0);
  assert_true(metric("visor_images_unsearchable{state=\"pending\"}") == 1);

  /* Its original is gone from the object store: the job fails for good, and so does the
   * image, with the error. */
  char blob[512], moved[600];
  snprintf(blob, sizeof blob, "%s/blobs/%s", test.data_dir, object_key);
  snprintf(moved, sizeof moved, "%s.away", blob);
  assert_int_equal(rename(blob, moved), 0);
  assert_int_equal(test.app.queue->ops->set_paused(test.app.queue, 0, &err), VISOR_OK);
  visor_app_jobs_committed(&test.app);
  json_t *failed = wait_for_image_status(image_id, "failed", 60);
  const char *error = json_string_value(json_object_get(failed, "index_error"));
  if (!error || !*error) fail_msg("failed image without index_error");
  assert_true(json_is_null(json_object_get(failed, "indexed_at")));
  assert_string_equal(json_string_value(json_object_get(json_object_get(failed, "job"), "status")),
                      "failed");
  json_decref(failed);
  snprintf(path, sizeof path, "/api/v1/products/%s", product_id);
  json_t *failed_product = get_json(path);
  assert_string_equal(json_string_value(json_object_get(failed_product, "index_status")), "failed");
  assert_non_null(json_string_value(json_object_get(failed_product, "index_error")));
  json_decref(failed_product);
  assert_true(metric("visor_images_unsearchable{state=\"failed\"}") == 1);
  assert_true(metric("visor_index_lag_seconds") == 0); /* failed is not pending */

  /* The original back and the job retried: pending at once, then indexed. */
  assert_int_equal(rename(moved, blob), 0);
  assert_int_equal(test.app.queue->ops->set_paused(test.app.queue, 1, &err), VISOR_OK);
  char retry[128];
  snprintf(retry, sizeof retry, "/api/v1/jobs/%s/retry", job_id);
  res = test_request("POST", retry, NULL, NULL, 0);
  assert_int_equal(res.status, 200);
  test_response_free(&res);
  json_t *pending = wait_for_image_status(image_id, "pending", 1);
  assert_true(json_is_null(json_object_get(pending, "index_error")));
  json_decref(pending);
  assert_int_equal(test.app.queue->ops->set_paused(test.app.queue, 0, &err), VISOR_OK);
  visor_app_jobs_committed(&test.app);
  json_t *done = wait_for_image_status(image_id, "indexed", 60);
  assert_non_null(json_string_value(json_object_get(done, "indexed_at")));
  assert_true(json_is_null(json_object_get(done, "index_error")));
  json_decref(done);
  json_t *searchable = get_json(path);
  assert_string_equal(json_string_value(json_object_get(searchable, "index_status")), "searchable");
  json_decref(searchable);
  assert_true(metric("visor_images_unsearchable{state=\"failed\"}") == 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(add_catalogue),
      cmocka_unit_test(box_on_each_object_finds_it_first),
      cmocka_unit_test(bad_boxes_are_refused),
      cmocka_unit_test(similar_products_exclude_the_product_and_follow_filters),
      cmocka_unit_test(freshness_failed_images_and_retry),
  };
  return cmocka_run_group_tests(tests, start_server, stop_server);
}
