/* test_pipeline.c: index and search end to end through the REST API of a real server
 * (embedded backends, real models, in-process workers): the 81 iconic products of the
 * grocery data set go in through POST /api/v1/products; 100+ labelled test photos are
 * searched with POST /api/v1/searches?wait=; the top-5 accuracy must reach what
 * `visor eval` measured for that catalogue (docs/EVALUATION.md) less a small margin; a
 * category filter returns only that category; running an index task again leaves
 * exactly one set of regions and vectors; region crops are made on first request and
 * cached. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "../api/http_client.h"
#include "../api/test_server.h"
#include "api/api.h"
#include "core/clock.h"
#include "core/log.h"
#include "pipeline/pipeline.h"
#include "service/consistency.h"
#include "store/edits.h"
#include "store/jobs.h"

/* `visor eval ../shared/datasets/grocery --catalogue iconic --queries 104`: its top-5 (fine)
 * over the same 104 evenly spaced test photos this test searches (eval's selection: photo
 * i * total / 104). Same catalogue, same queries, so the margin only covers what the API
 * path does differently (approximate HNSW, ties), not sampling. */
#define EVAL_QUERIES 104
#define EVAL_TOP5_ICONIC 0.712
#define TOP5_MARGIN 0.03

static test_server test;
static char grocery[1024];

typedef struct catalogue_class {
  char name[64];
  char coarse[64];
  char product_id[40];
  char image[1400];
} catalogue_class;

static catalogue_class classes[128];
static int class_count;

static int start_server(void **state) {
  (void)state;
  const char *shared = getenv("VISOR_SHARED_DIR");
  snprintf(grocery, sizeof grocery, "%s/datasets/grocery", shared ? shared : "../shared");
  /* one client loads the whole catalogue: no rate limit, no per-client job cap */
  char *options[] = {"--rate-limit", "0", "--client-jobs", "0"};
  test_server_start(&test, options, 4, 1);
  return 0;
}

static int stop_server(void **state) {
  (void)state;
  test_server_stop(&test);
  return 0;
}

/* Waits until no index job is queued or running. */
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

static void add_iconic_catalogue(void **state) {
  (void)state;
  char path[1200];
  snprintf(path, sizeof path, "%s/classes.csv", grocery);
  FILE *csv = fopen(path, "r");
  assert_non_null(csv);
  char line[2048];
  fgets(line, sizeof line, csv); /* header */
  while (fgets(line, sizeof line, csv) && class_count < 128) {
    char *fields[6] = {0};
    char *save = NULL;
    int n = 0;
    for (char *field = strtok_r(line, ",\n", &save); field && n < 6;
         field = strtok_r(NULL, ",\n", &save))
      fields[n++] = field;
    if (n < 5) continue;
    catalogue_class *c = &classes[atoi(fields[1])];
    snprintf(c->name, sizeof c->name, "%s", fields[0]);
    snprintf(c->coarse, sizeof c->coarse, "%s", fields[2]);
    char sku[80];
    snprintf(c->image, sizeof c->image, "%s%s", grocery, fields[4]);
    snprintf(sku, sizeof sku, "GROCERY-%s", fields[1]);
    test_part parts[] = {{.name = "sku", .value = sku},
                         {.name = "name", .value = c->name},
                         {.name = "category", .value = c->coarse},
                         {.name = "images", .file = c->image}};
    test_response res = test_multipart("POST", "/api/v1/products", parts, 4);
    if (res.status != 201) fail_msg("create %s: %ld %s", c->name, res.status, res.body);
    snprintf(c->product_id, sizeof c->product_id, "%s",
             json_string_value(json_object_get(res.json, "id")));
    test_response_free(&res);
    class_count++;
  }
  fclose(csv);
  assert_int_equal(class_count, 81);
  wait_for_index_jobs(600);
  test_response failed = test_get("/api/v1/jobs?kind=index&status=failed");
  assert_int_equal(json_integer_value(json_object_get(failed.json, "total")), 0);
  test_response_free(&failed);
  /* Every product has regions, the whole-image one first, each with a crop. */
  char product_path[128];
  snprintf(product_path, sizeof product_path, "/api/v1/products/%s", classes[0].product_id);
  test_response product = test_get(product_path);
  json_t *regions =
      json_object_get(json_array_get(json_object_get(product.json, "images"), 0), "regions");
  assert_true(json_array_size(regions) >= 1);
  assert_true(json_is_true(json_object_get(json_array_get(regions, 0), "whole_image")));
  test_response crop =
      test_get(json_string_value(json_object_get(json_array_get(regions, 0), "crop_url")));
  assert_int_equal(crop.status, 200);
  assert_true(crop.len > 500 && (unsigned char)crop.body[0] == 0xff); /* JPEG */
  test_response_free(&crop);
  test_response_free(&product);
}

static test_response search(const char *image, const char *category, int k) {
  char k_text[8];
  snprintf(k_text, sizeof k_text, "%d", k);
  test_part parts[3] = {{.name = "image", .file = image}, {.name = "k", .value = k_text}};
  size_t count = 2;
  if (category) parts[count++] = (test_part){.name = "category", .value = category};
  return test_multipart("POST", "/api/v1/searches?wait=30", parts, count);
}

static void search_accuracy_reaches_eval(void **state) {
  (void)state;
  char path[1200];
  snprintf(path, sizeof path, "%s/test.txt", grocery);
  FILE *list = fopen(path, "r");
  assert_non_null(list);
  static char lines[2048][640];
  size_t total = 0;
  while (total < 2048 && fgets(lines[total], sizeof lines[total], list))
    total++;
  fclose(list);
  assert_true(total >= EVAL_QUERIES);
  int queries = 0, top1 = 0, top5 = 0;
  for (size_t i = 0; i < EVAL_QUERIES; i++) {
    const char *line = lines[i * total / EVAL_QUERIES];
    char relative[600];
    int fine = -1, coarse = -1;
    if (sscanf(line, "%599[^,], %d, %d", relative, &fine, &coarse) != 3) continue;
    char image[1700];
    snprintf(image, sizeof image, "%s/%s", grocery, relative);
    test_response res = search(image, NULL, 5);
    if (res.status != 200) fail_msg("search %s: %ld %s", relative, res.status, res.body);
    assert_string_equal(json_string_value(json_object_get(res.json, "status")), "done");
    assert_true(json_array_size(json_object_get(res.json, "regions")) >= 1);
    json_t *products = json_object_get(res.json, "products");
    for (size_t r = 0; r < json_array_size(products); r++) {
      const char *id =
          json_string_value(json_object_get(json_array_get(products, r), "product_id"));
      if (strcmp(id, classes[fine].product_id) == 0) {
        top1 += r == 0;
        top5++;
        break;
      }
    }
    queries++;
    test_response_free(&res);
  }
  double top5_rate = (double)top5 / queries;
  printf("pipeline accuracy over %d test photos: top-1 %.3f, top-5 %.3f\n", queries,
         (double)top1 / queries, top5_rate);
  assert_int_equal(queries, EVAL_QUERIES);
  if (top5_rate < EVAL_TOP5_ICONIC - TOP5_MARGIN)
    fail_msg("top-5 %.3f is below visor eval's %.2f less %.2f", top5_rate, EVAL_TOP5_ICONIC,
             TOP5_MARGIN);
}

/* A catalogue image searched with itself finds its product with similarity 1: the index task
 * and the search describe an image alike (its whole image averaged with the same views). */
static void catalogue_image_finds_itself_exactly(void **state) {
  (void)state;
  for (int c = 0; c < 3; c++) {
    test_response res = search(classes[c].image, NULL, 5);
    if (res.status != 200) fail_msg("search %s: %ld %s", classes[c].name, res.status, res.body);
    json_t *first = json_array_get(json_object_get(res.json, "products"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "product_id")),
                        classes[c].product_id);
    double score = json_number_value(json_object_get(first, "score"));
    if (score < 0.9999) fail_msg("%s found itself with score %.6f, not 1", classes[c].name, score);
    test_response_free(&res);
  }
}

/* How often region_id is named in a search's overall list and its regions' lists. */
static int mentions(const json_t *search, const char *region_id) {
  int count = 0;
  size_t i, j;
  json_t *entry, *region;
  json_array_foreach(json_object_get(search, "products"), i, entry) count +=
      strcmp(json_string_value(json_object_get(entry, "region_id")), region_id) == 0;
  json_array_foreach(json_object_get(search, "regions"), i, region) {
    json_array_foreach(json_object_get(region, "results"), j, entry) count +=
        strcmp(json_string_value(json_object_get(entry, "region_id")), region_id) == 0;
  }
  return count;
}

/* A region deleted in the metadata while its vector is still in the index (its removal
 * has not reached the vector store yet) is left out of every list, and the next
 * candidates fill the page. */
static void deleted_region_with_its_vector_left_is_skipped(void **state) {
  (void)state;
  test_response before = search(classes[1].image, NULL, 5);
  assert_int_equal(before.status, 200);
  json_t *first = json_array_get(json_object_get(before.json, "products"), 0);
  char region_id[40];
  snprintf(region_id, sizeof region_id, "%s",
           json_string_value(json_object_get(first, "region_id")));
  assert_true(mentions(before.json, region_id) >= 1);
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(test.app.db, &err);
  assert_non_null(conn);
  assert_int_equal(visor_edit_region_set_deleted(conn, region_id, 1, &err), VISOR_OK);
  test_response after = search(classes[1].image, NULL, 5);
  assert_int_equal(after.status, 200);
  assert_int_equal(mentions(after.json, region_id), 0);
  assert_int_equal(json_array_size(json_object_get(after.json, "products")), 5);
  assert_int_equal(visor_edit_region_set_deleted(conn, region_id, 0, &err), VISOR_OK);
  visor_db_release(conn);
  test_response_free(&before);
  test_response_free(&after);
}

static void category_filter_returns_only_that_category(void **state) {
  (void)state;
  char image[1200];
  snprintf(image, sizeof image, "%s/test/Fruit/Banana/Banana_001.jpg", grocery);
  test_response res = search(image, "Apple", 10);
  assert_int_equal(res.status, 200);
  json_t *products = json_object_get(res.json, "products");
  assert_true(json_array_size(products) >= 1);
  for (size_t r = 0; r < json_array_size(products); r++)
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(products, r), "product"), "category")),
                        "Apple");
  size_t index;
  json_t *region;
  json_array_foreach(json_object_get(res.json, "regions"), index, region) {
    size_t j;
    json_t *result;
    json_array_foreach(json_object_get(region, "results"), j, result) assert_string_equal(
        json_string_value(json_object_get(json_object_get(result, "product"), "category")),
        "Apple");
  }
  test_response_free(&res);
  /* Unfiltered, other categories come back: the filter is what removed them. */
  res = search(image, NULL, 10);
  int other_categories = 0;
  json_array_foreach(json_object_get(res.json, "products"), index, region) other_categories +=
      strcmp(json_string_value(json_object_get(json_object_get(region, "product"), "category")),
             "Apple") != 0;
  assert_true(other_categories > 0);
  test_response_free(&res);
}

/* Whether a search of image filtered on category has product_id among its products. */
static int filtered_search_finds(const char *image, const char *category, const char *product_id) {
  test_response res = search(image, category, 10);
  assert_int_equal(res.status, 200);
  int found = 0;
  size_t index;
  json_t *result;
  json_array_foreach(json_object_get(res.json, "products"), index, result) found |=
      strcmp(json_string_value(json_object_get(result, "product_id")), product_id) == 0;
  test_response_free(&res);
  return found;
}

/* A product's new category reaches its vectors (a "meta" job): a search filtered on the
 * new category finds it, one filtered on the old category no longer does. */
static test_response patch_json(const char *path, const char *json_text) {
  return test_request("PATCH", path, "application/json", json_text, strlen(json_text));
}

static void category_change_reaches_the_vectors(void **state) {
  (void)state;
  const catalogue_class *banana = &classes[6];
  assert_string_equal(banana->name, "Banana");
  char image[1200], path[128];
  snprintf(image, sizeof image, "%s/test/Fruit/Banana/Banana_001.jpg", grocery);
  snprintf(path, sizeof path, "/api/v1/products/%s", banana->product_id);
  assert_true(filtered_search_finds(image, "Banana", banana->product_id));
  assert_false(filtered_search_finds(image, "Tropical", banana->product_id));
  test_response res = patch_json(path, "{\"category\":\"Tropical\"}");
  if (res.status != 200) fail_msg("PATCH: %ld %s", res.status, res.body);
  char job_path[128];
  snprintf(job_path, sizeof job_path, "/api/v1/jobs/%s",
           json_string_value(json_object_get(res.json, "meta_job_id")));
  test_response_free(&res);
  const char *status = "";
  for (int i = 0; i < 150 && strcmp(status, "done") != 0; i++) {
    visor_sleep_ms(100);
    test_response job = test_get(job_path);
    static char seen[16];
    snprintf(seen, sizeof seen, "%s", json_string_value(json_object_get(job.json, "status")));
    status = seen;
    test_response_free(&job);
  }
  assert_string_equal(status, "done");
  assert_true(filtered_search_finds(image, "Tropical", banana->product_id));
  assert_false(filtered_search_finds(image, "Banana", banana->product_id));
  /* A change that the vectors do not carry queues nothing. */
  res = patch_json(path, "{\"name\":\"Banana (loose)\"}");
  assert_int_equal(res.status, 200);
  assert_null(json_object_get(res.json, "meta_job_id"));
  test_response_free(&res);
  res = patch_json(path, "{\"category\":\"Banana\"}");
  assert_int_equal(res.status, 200);
  test_response_free(&res);
}

/* How many objects are under prefix. */
static int count_visit(void *ctx, const char *key, uint64_t size, int64_t modified_ms) {
  (void)key;
  (void)size;
  (void)modified_ms;
  (*(size_t *)ctx)++;
  return 0;
}

static size_t objects_under(const char *prefix) {
  size_t count = 0;
  visor_error err = {0};
  assert_int_equal(visor_blob_list(test.app.blobs, prefix, count_visit, &count, &err), VISOR_OK);
  return count;
}

/* Every object and vector owned by a row, every region with its vector. */
static void assert_consistent(void) {
  json_t *report = NULL;
  size_t problems = 99;
  visor_error err = {0};
  assert_int_equal(visor_consistency_check(&test.app, 5, &report, &problems, &err), VISOR_OK);
  if (problems) {
    char *text = json_dumps(report, JSON_COMPACT);
    fail_msg("inconsistent stores: %s", text);
  }
  json_decref(report);
}

static void index_retry_never_duplicates(void **state) {
  (void)state;
  size_t vectors_before = test.app.vectors->ops->count(test.app.vectors);
  char path[128];
  snprintf(path, sizeof path, "/api/v1/products/%s", classes[5].product_id);
  test_response product = test_get(path);
  json_t *image = json_array_get(json_object_get(product.json, "images"), 0);
  size_t regions_before = json_array_size(json_object_get(image, "regions"));
  char job_id[64], crop_path[160], prefix[128];
  snprintf(job_id, sizeof job_id, "%s", json_string_value(json_object_get(image, "job_id")));
  snprintf(prefix, sizeof prefix, "crops/%s/", json_string_value(json_object_get(image, "id")));
  /* A crop cached before the re-runs belongs to a region they replace. */
  snprintf(crop_path, sizeof crop_path, "%s",
           json_string_value(
               json_object_get(json_array_get(json_object_get(image, "regions"), 0), "crop_url")));
  test_response crop = test_get(crop_path);
  assert_int_equal(crop.status, 200);
  test_response_free(&crop);
  assert_int_equal(objects_under(prefix), 1);
  test_response_free(&product);
  /* Run the same index task twice more, as a crash-and-retry would. */
  for (int round = 0; round < 2; round++) {
    visor_error err = {0};
    visor_db_conn *conn = visor_db_acquire(test.app.db, &err);
    visor_db_value params[] = {VISOR_DB_S(job_id)};
    assert_int_equal(visor_db_exec(conn, "UPDATE jobs SET status = 'queued' WHERE id = ?", params,
                                   1, NULL, NULL, &err),
                     VISOR_OK);
    assert_int_equal(test.app.queue->ops->enqueue(test.app.queue, job_id, "index", 0, &err),
                     VISOR_OK);
    visor_db_release(conn);
    visor_app_jobs_committed(&test.app);
    wait_for_index_jobs(60);
  }
  product = test_get(path);
  image = json_array_get(json_object_get(product.json, "images"), 0);
  assert_int_equal(json_array_size(json_object_get(image, "regions")), regions_before);
  assert_string_equal(json_string_value(json_object_get(json_object_get(image, "job"), "status")),
                      "done");
  test_response_free(&product);
  assert_int_equal(test.app.vectors->ops->count(test.app.vectors), vectors_before);
  /* The replaced region's crop is gone with it, and nothing is left unowned. */
  crop = test_get(crop_path);
  assert_int_equal(crop.status, 404);
  test_response_free(&crop);
  assert_int_equal(objects_under(prefix), 0);
  assert_consistent();
}

static const char *upload_one(const char *sku, const char *image, char *image_id, size_t size) {
  test_part parts[] = {{.name = "sku", .value = sku},
                       {.name = "name", .value = sku},
                       {.name = "images", .file = image}};
  test_response res = test_multipart("POST", "/api/v1/products", parts, 3);
  if (res.status != 201) fail_msg("create %s: %ld %s", sku, res.status, res.body);
  snprintf(image_id, size, "%s",
           json_string_value(
               json_object_get(json_array_get(json_object_get(res.json, "images"), 0), "id")));
  test_response_free(&res);
  return image_id;
}

/* Deleting an image whose index job has not run yet cancels the job, and nothing of the
 * image is ever written; deleting an indexed image removes its vectors and crops. */
static void deleted_images_leave_nothing(void **state) {
  (void)state;
  char image[1200], image_id[64], path[160];
  snprintf(image, sizeof image, "%s/test/Fruit/Banana/Banana_003.jpg", grocery);
  size_t vectors_before = test.app.vectors->ops->count(test.app.vectors);
  visor_error err = {0};
  assert_int_equal(test.app.queue->ops->set_paused(test.app.queue, 1, &err), VISOR_OK);
  upload_one("DELETE-EARLY", image, image_id, sizeof image_id);
  snprintf(path, sizeof path, "/api/v1/images/%s", image_id);
  test_response res = test_request("DELETE", path, NULL, NULL, 0);
  assert_int_equal(res.status, 204);
  test_response_free(&res);
  assert_int_equal(test.app.queue->ops->set_paused(test.app.queue, 0, &err), VISOR_OK);
  visor_app_jobs_committed(&test.app);
  wait_for_index_jobs(60);
  res = test_get(path);
  assert_int_equal(res.status, 404);
  test_response_free(&res);
  assert_int_equal(test.app.vectors->ops->count(test.app.vectors), vectors_before);
  assert_consistent();
  /* Indexed first, then deleted: its vectors and crops go. */
  upload_one("DELETE-LATE", image, image_id, sizeof image_id);
  wait_for_index_jobs(60);
  assert_true(test.app.vectors->ops->count(test.app.vectors) > vectors_before);
  snprintf(path, sizeof path, "/api/v1/images/%s", image_id);
  res = test_request("DELETE", path, NULL, NULL, 0);
  assert_int_equal(res.status, 204);
  test_response_free(&res);
  assert_int_equal(test.app.vectors->ops->count(test.app.vectors), vectors_before);
  assert_consistent();
}

typedef struct crop_fetch {
  const char *path;
  test_response res;
} crop_fetch;

static void *fetch_crop(void *arg) {
  crop_fetch *fetch = arg;
  fetch->res = test_get(fetch->path);
  return NULL;
}

#define CONCURRENT_FETCHES 6

/* Indexing stores no crop; the first GET of a region's crop cuts it (JPEG, longer side at
 * most 320 px) and caches it, concurrent first GETs all get the same bytes, later GETs
 * serve the cached bytes, and once the image is deleted the crop is 404 and its cached
 * object is gone. */
static void crops_are_made_on_demand(void **state) {
  (void)state;
  char image[1200], image_id[64], path[160], prefix[128];
  snprintf(image, sizeof image,
           "%s/test/Packages/Milk/Arla-Standard-Milk/Arla-Standard-Milk_003.jpg", grocery);
  upload_one("CROP-ON-DEMAND", image, image_id, sizeof image_id);
  wait_for_index_jobs(60);
  snprintf(prefix, sizeof prefix, "crops/%s/", image_id);
  assert_int_equal(objects_under(prefix), 0);
  snprintf(path, sizeof path, "/api/v1/images/%s", image_id);
  test_response details = test_get(path);
  assert_int_equal(details.status, 200);
  json_t *regions = json_object_get(details.json, "regions");
  size_t region_count = json_array_size(regions);
  assert_true(region_count >= 1);
  /* The last region: a detection when there is one, else the whole image. */
  const char *crop_path =
      json_string_value(json_object_get(json_array_get(regions, region_count - 1), "crop_url"));
  assert_non_null(crop_path);
  crop_fetch fetches[CONCURRENT_FETCHES] = {0};
  pthread_t threads[CONCURRENT_FETCHES];
  for (int i = 0; i < CONCURRENT_FETCHES; i++) {
    fetches[i].path = crop_path;
    assert_int_equal(pthread_create(&threads[i], NULL, fetch_crop, &fetches[i]), 0);
  }
  for (int i = 0; i < CONCURRENT_FETCHES; i++)
    pthread_join(threads[i], NULL);
  const test_response *first = &fetches[0].res;
  assert_int_equal(first->status, 200);
  assert_true(first->len > 100 && (unsigned char)first->body[0] == 0xff); /* JPEG */
  for (int i = 1; i < CONCURRENT_FETCHES; i++) {
    assert_int_equal(fetches[i].res.status, 200);
    assert_int_equal(fetches[i].res.len, first->len);
    assert_memory_equal(fetches[i].res.body, first->body, first->len);
  }
  VipsImage *decoded = vips_image_new_from_buffer(first->body, first->len, "", NULL);
  assert_non_null(decoded);
  assert_true(vips_image_get_width(decoded) <= 320 && vips_image_get_height(decoded) <= 320);
  g_object_unref(decoded);
  assert_int_equal(objects_under(prefix), 1); /* cached once */
  test_response again = test_get(crop_path);
  assert_int_equal(again.status, 200);
  assert_int_equal(again.len, first->len);
  assert_memory_equal(again.body, first->body, first->len);
  test_response_free(&again);
  assert_consistent();
  test_response res = test_request("DELETE", path, NULL, NULL, 0);
  assert_int_equal(res.status, 204);
  test_response_free(&res);
  res = test_get(crop_path);
  assert_int_equal(res.status, 404);
  test_response_free(&res);
  assert_int_equal(objects_under(prefix), 0);
  assert_consistent();
  for (int i = 0; i < CONCURRENT_FETCHES; i++)
    test_response_free(&fetches[i].res);
  test_response_free(&details);
}

/* Two more apples with a brand and a price: filter expressions reach the vectors (labels and
 * price in their metadata) and the listing SQL; pages of results follow each other; group
 * "none" answers raw crops. */
static void filter_expressions_paging_and_grouping(void **state) {
  (void)state;
  char image[1200], query[1200];
  snprintf(image, sizeof image,
           "%s/iconic-images-and-descriptions/Fruit/Apple/Granny-Smith/Granny-Smith_Iconic.jpg",
           grocery);
  snprintf(query, sizeof query, "%s/test/Fruit/Apple/Granny-Smith/Granny-Smith_002.jpg", grocery);
  const char *skus[] = {"FX-OATLY", "FX-ALPRO"};
  const char *labels[] = {"{\"brand\":\"Oatly\"}", "{\"brand\":\"Alpro\"}"};
  const char *prices[] = {"3", "30"};
  char ids[2][40];
  for (int i = 0; i < 2; i++) {
    test_part parts[] = {
        {.name = "sku", .value = skus[i]},      {.name = "name", .value = skus[i]},
        {.name = "category", .value = "Apple"}, {.name = "labels", .value = labels[i]},
        {.name = "price", .value = prices[i]},  {.name = "images", .file = image}};
    test_response res = test_multipart("POST", "/api/v1/products", parts, 6);
    if (res.status != 201) fail_msg("create %s: %ld %s", skus[i], res.status, res.body);
    snprintf(ids[i], sizeof ids[i], "%s", json_string_value(json_object_get(res.json, "id")));
    test_response_free(&res);
  }
  wait_for_index_jobs(120);
  static const struct {
    const char *filter;
    int want; /* bit i: products[i] expected; the only products returned */
  } cases[] = {
      {"brand = \"Oatly\"", 1},
      {"category = \"Apple\" AND price > 10", 2},
      {"category IN (\"Apple\") AND NOT brand = \"Oatly\"", 2},
      {"brand IN ('Oatly', 'Alpro') AND price <= 30", 3},
      {"brand = \"Oatly\" AND price > 10", 0},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    test_part parts[] = {{.name = "image", .file = query},
                         {.name = "k", .value = "10"},
                         {.name = "filter", .value = cases[c].filter}};
    test_response res = test_multipart("POST", "/api/v1/searches?wait=30", parts, 3);
    if (res.status != 200) fail_msg("`%s`: %ld %s", cases[c].filter, res.status, res.body);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(res.json, "filters"), "expression")),
        cases[c].filter);
    int got = 0;
    size_t i;
    json_t *result;
    json_array_foreach(json_object_get(res.json, "products"), i, result) {
      const char *id = json_string_value(json_object_get(result, "product_id"));
      int which = strcmp(id, ids[0]) == 0 ? 1 : strcmp(id, ids[1]) == 0 ? 2 : 4;
      got |= which;
    }
    if (got != cases[c].want)
      fail_msg("`%s`: products %d, want %d: %s", cases[c].filter, got, cases[c].want, res.body);
    test_response_free(&res);
  }
  /* A bad expression is a 400 with its column; listings-only fields are refused here. */
  test_part bad[] = {{.name = "image", .file = query}, {.name = "filter", .value = "price < "}};
  test_response res = test_multipart("POST", "/api/v1/searches", bad, 2);
  assert_int_equal(res.status, 400);
  assert_string_equal(test_error_message(&res),
                      "filter: expected a number, got the end at column 9");
  test_response_free(&res);
  bad[1].value = "sku = \"FX-OATLY\"";
  res = test_multipart("POST", "/api/v1/searches", bad, 2);
  assert_int_equal(res.status, 400);
  test_response_free(&res);
  /* Listings: the same expression in SQL, and sku works there. */
  res =
      test_get("/api/v1/products?filter=brand%20%3D%20%22Oatly%22%20OR%20sku%20%3D%20%22FX-ALPRO%22"
               "&sort=sku");
  assert_int_equal(res.status, 200);
  assert_int_equal(json_integer_value(json_object_get(res.json, "total")), 2);
  assert_string_equal(json_string_value(json_object_get(
                          json_array_get(json_object_get(res.json, "items"), 0), "sku")),
                      "FX-ALPRO");
  test_response_free(&res);
  res =
      test_get("/api/v1/products?filter=price%20%3E%3D%2030%20AND%20category%20%3D%20%22Apple%22");
  assert_int_equal(res.status, 200);
  assert_int_equal(json_integer_value(json_object_get(res.json, "total")), 1);
  test_response_free(&res);
  res = test_get("/api/v1/products?filter=price%20%3C%20%22x%22");
  assert_int_equal(res.status, 400);
  assert_non_null(strstr(test_error_message(&res), "at column 9"));
  test_response_free(&res);

  /* Similar products take the same expression. */
  char similar[256];
  snprintf(similar, sizeof similar,
           "/api/v1/products/%s/similar?k=5&filter=brand%%20%%3D%%20%%22Alpro%%22", ids[0]);
  res = test_get(similar);
  if (res.status != 200) fail_msg("similar: %ld %s", res.status, res.body);
  json_t *similar_items = json_object_get(res.json, "items");
  assert_int_equal(json_array_size(similar_items), 1);
  assert_string_equal(
      json_string_value(json_object_get(json_array_get(similar_items, 0), "product_id")), ids[1]);
  test_response_free(&res);
  snprintf(similar, sizeof similar, "/api/v1/products/%s/similar?filter=brand%%20%%3D", ids[0]);
  res = test_get(similar);
  assert_int_equal(res.status, 400);
  test_response_free(&res);

  /* Pages: k=3 at offset 3 continues k=3 at offset 0, as k=6 ranks them. */
  char pages[3][6][40];
  const char *offsets[] = {"0", "3", "0"}, *ks[] = {"3", "3", "6"};
  for (int p = 0; p < 3; p++) {
    test_part parts[] = {{.name = "image", .file = query},
                         {.name = "k", .value = ks[p]},
                         {.name = "offset", .value = offsets[p]}};
    res = test_multipart("POST", "/api/v1/searches?wait=30", parts, 3);
    assert_int_equal(res.status, 200);
    assert_int_equal(json_integer_value(json_object_get(res.json, "offset")), atoi(offsets[p]));
    json_t *products = json_object_get(res.json, "products");
    assert_int_equal(json_array_size(products), (size_t)atoi(ks[p]));
    size_t i;
    json_t *result;
    json_array_foreach(products, i, result) {
      assert_int_equal(json_integer_value(json_object_get(result, "rank")),
                       (json_int_t)(atoi(offsets[p]) + (int)i + 1));
      snprintf(pages[p][i], sizeof pages[p][i], "%s",
               json_string_value(json_object_get(result, "product_id")));
    }
    test_response_free(&res);
  }
  for (int i = 0; i < 3; i++) {
    assert_string_equal(pages[0][i], pages[2][i]);
    assert_string_equal(pages[1][i], pages[2][i + 3]);
  }
  /* Grouping: one entry per product by default; group=none gives every crop. */
  for (int raw = 0; raw < 2; raw++) {
    test_part parts[] = {{.name = "image", .file = query},
                         {.name = "k", .value = "30"},
                         {.name = "group", .value = raw ? "none" : "product"}};
    res = test_multipart("POST", "/api/v1/searches?wait=30", parts, raw ? 3 : 2);
    assert_int_equal(res.status, 200);
    assert_string_equal(json_string_value(json_object_get(res.json, "group")),
                        raw ? "none" : "product");
    json_t *results =
        json_object_get(json_array_get(json_object_get(res.json, "regions"), 0), "results");
    assert_int_equal(json_array_size(results), 30);
    int repeated_products = 0, repeated_crops = 0;
    for (size_t i = 0; i < json_array_size(results); i++)
      for (size_t j = 0; j < i; j++) {
        json_t *a = json_array_get(results, i), *b = json_array_get(results, j);
        repeated_products +=
            json_equal(json_object_get(a, "product_id"), json_object_get(b, "product_id"));
        repeated_crops +=
            json_equal(json_object_get(a, "region_id"), json_object_get(b, "region_id"));
      }
    assert_int_equal(repeated_crops, 0);
    if (raw)
      assert_true(repeated_products > 0); /* products have several crops each */
    else
      assert_int_equal(repeated_products, 0);
    test_response_free(&res);
  }
  test_part bad_group[] = {{.name = "image", .file = query}, {.name = "group", .value = "sku"}};
  res = test_multipart("POST", "/api/v1/searches", bad_group, 2);
  assert_int_equal(res.status, 400);
  test_response_free(&res);
  test_part bad_offset[] = {{.name = "image", .file = query}, {.name = "offset", .value = "-1"}};
  res = test_multipart("POST", "/api/v1/searches", bad_offset, 2);
  assert_int_equal(res.status, 400);
  test_response_free(&res);
}

static void bad_searches_are_refused(void **state) {
  (void)state;
  const char text[] = "not an image";
  test_part not_image[] = {
      {.name = "image", .data = text, .data_len = sizeof text, .filename = "q.jpg"}};
  test_response res = test_multipart("POST", "/api/v1/searches", not_image, 1);
  assert_int_equal(res.status, 415);
  test_response_free(&res);
  char image[1200];
  snprintf(image, sizeof image, "%s/test/Fruit/Banana/Banana_001.jpg", grocery);
  test_part bad_k[] = {{.name = "image", .file = image}, {.name = "k", .value = "1000"}};
  res = test_multipart("POST", "/api/v1/searches", bad_k, 2);
  assert_int_equal(res.status, 400);
  assert_non_null(strstr(test_error_message(&res), "field 'k'"));
  test_response_free(&res);
  test_part bad_label[] = {{.name = "image", .file = image}, {.name = "label", .value = "nokey"}};
  res = test_multipart("POST", "/api/v1/searches", bad_label, 2);
  assert_int_equal(res.status, 400);
  test_response_free(&res);
  res = test_multipart("POST", "/api/v1/searches?wait=999", bad_k, 1);
  assert_int_equal(res.status, 400);
  test_response_free(&res);
  res = test_get("/api/v1/searches/00000000-0000-7000-8000-000000000000");
  assert_int_equal(res.status, 404);
  test_response_free(&res);
  /* Without wait: 202, then the search can be polled to done. */
  test_part ok[] = {{.name = "image", .file = image}};
  res = test_multipart("POST", "/api/v1/searches", ok, 1);
  assert_true(res.status == 202 || res.status == 200);
  char poll[128];
  snprintf(poll, sizeof poll, "/api/v1/searches/%s?wait=30",
           json_string_value(json_object_get(res.json, "id")));
  test_response_free(&res);
  res = test_get(poll);
  assert_string_equal(json_string_value(json_object_get(res.json, "status")), "done");
  test_response_free(&res);
}

/* Query images with a 1-pixel side search fine, as they index fine (issue 12, #3: the
 * centred 80 % view of a 1-pixel side was thinner than a pixel and failed the search). */
static void one_pixel_sides_search(void **state) {
  (void)state;
  const int sizes[][2] = {{1, 1}, {1, 40}, {40, 1}, {2, 2}};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    VipsImage *black = NULL, *image = NULL;
    double gain[3] = {1, 1, 1}, offset[3] = {230, 200, 40};
    assert_int_equal(vips_black(&black, sizes[i][0], sizes[i][1], "bands", 3, NULL), 0);
    assert_int_equal(vips_linear(black, &image, gain, offset, 3, "uchar", TRUE, NULL), 0);
    void *png = NULL;
    size_t len = 0;
    assert_int_equal(vips_pngsave_buffer(image, &png, &len, NULL), 0);
    g_object_unref(image);
    g_object_unref(black);
    test_part parts[] = {{.name = "image", .data = png, .data_len = len, .filename = "q.png"}};
    test_response res = test_multipart("POST", "/api/v1/searches?wait=30", parts, 1);
    const char *status = json_string_value(json_object_get(res.json, "status"));
    if (res.status != 200 || !status || strcmp(status, "done") != 0)
      fail_msg("%dx%d: %ld %s", sizes[i][0], sizes[i][1], res.status, res.body);
    test_response_free(&res);
    g_free(png);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(add_iconic_catalogue),
      cmocka_unit_test(search_accuracy_reaches_eval),
      cmocka_unit_test(catalogue_image_finds_itself_exactly),
      cmocka_unit_test(deleted_region_with_its_vector_left_is_skipped),
      cmocka_unit_test(category_filter_returns_only_that_category),
      cmocka_unit_test(category_change_reaches_the_vectors),
      cmocka_unit_test(deleted_images_leave_nothing),
      cmocka_unit_test(crops_are_made_on_demand),
      cmocka_unit_test(index_retry_never_duplicates),
      cmocka_unit_test(filter_expressions_paging_and_grouping),
      cmocka_unit_test(bad_searches_are_refused),
      cmocka_unit_test(one_pixel_sides_search),
  };
  return cmocka_run_group_tests(tests, start_server, stop_server);
}
