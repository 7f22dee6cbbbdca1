/* test_store_contract.c: the metadata store contract: migrations, the db interface, and
 * the repositories, written once and run against every backend URL in
 * VISOR_TEST_METADATA_URLS (space-separated; each must point at an empty database, e.g.
 * `scripts/servers/postgres.sh newdb visor_test_store` prints one), by default a fresh
 * SQLite file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/uuid.h"
#include "core/filter_expr.h"
#include "core/clock.h"
#include "store/catalog.h"
#include "store/edits.h"
#include "store/jobs.h"
#include "store/migrate.h"
#include "store/regions.h"
#include "store/searches.h"

static visor_db *db;

static json_t *product_json(const char *sku, const char *name, const char *category, double price) {
  return json_pack("{s:s, s:s, s:s, s:{s:s}, s:f, s:s}", "sku", sku, "name", name, "category",
                   category, "labels", "brand", "acme", "price", price, "currency", "EUR");
}

static void migrations_are_idempotent(void **state) {
  (void)state;
  visor_error err = {0};
  int applied = -1;
  assert_int_equal(visor_migrate(db, &applied, &err), VISOR_OK);
  assert_int_equal(applied, 0); /* main() migrated already */
  int64_t version = 0;
  assert_int_equal(visor_schema_version(db, &version, &err), VISOR_OK);
  assert_int_equal(version, visor_latest_schema_version());
}

static void values_round_trip(void **state) {
  (void)state;
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(db, &err);
  assert_non_null(conn);
  visor_db_value params[] = {VISOR_DB_I(1234567890123LL), VISOR_DB_D(2.5), VISOR_DB_S("héllo 'q'"),
                             VISOR_DB_NULL_VALUE};
  visor_db_rows rows;
  assert_int_equal(
      visor_db_exec(conn, "SELECT ? AS i, ? AS d, ? AS s, ? AS n", params, 4, &rows, NULL, &err),
      VISOR_OK);
  assert_int_equal(rows.row_count, 1);
  assert_int_equal(visor_db_int(&rows, 0, "i"), 1234567890123LL);
  assert_true(visor_db_real(&rows, 0, "d") == 2.5);
  assert_string_equal(visor_db_text(&rows, 0, "s"), "héllo 'q'");
  assert_int_equal(visor_db_get(&rows, 0, "n")->type, VISOR_DB_NULL);
  visor_db_rows_free(&rows);
  assert_int_equal(visor_db_exec(conn, "SELECT * FROM no_such_table", NULL, 0, &rows, NULL, &err),
                   VISOR_ERR_IO);
  assert_non_null(strstr(err.message, "no_such_table"));
  visor_db_release(conn);
}

static void products_crud_and_unique_sku(void **state) {
  (void)state;
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(db, &err);
  char id[40], other[40];
  visor_uuid_new(id);
  visor_uuid_new(other);
  json_t *product = product_json("SKU-1", "Green apple", "fruit", 1.25);
  assert_int_equal(visor_product_insert(conn, id, product, &err), VISOR_OK);
  assert_int_equal(visor_product_insert(conn, other, product, &err), VISOR_ERR_CONFLICT);
  assert_non_null(strstr(err.message, "SKU-1"));
  json_t *stored = NULL;
  assert_int_equal(visor_product_get(conn, id, &stored, &err), VISOR_OK);
  assert_string_equal(json_string_value(json_object_get(stored, "name")), "Green apple");
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(stored, "labels"), "brand")), "acme");
  json_decref(stored);
  json_t *changes = json_pack("{s:s, s:n}", "name", "Granny Smith", "price");
  assert_int_equal(visor_product_update(conn, id, changes, &err), VISOR_OK);
  assert_int_equal(visor_product_get(conn, id, &stored, &err), VISOR_OK);
  assert_string_equal(json_string_value(json_object_get(stored, "name")), "Granny Smith");
  assert_true(json_is_null(json_object_get(stored, "price")));
  json_decref(stored);
  json_decref(changes);
  assert_int_equal(visor_product_soft_delete(conn, id, &err), VISOR_OK);
  assert_int_equal(visor_product_get(conn, id, &stored, &err), VISOR_ERR_NOT_FOUND);
  assert_int_equal(visor_product_soft_delete(conn, id, &err), VISOR_ERR_NOT_FOUND);
  /* A deleted product's SKU is free again. */
  assert_int_equal(visor_product_insert(conn, other, product, &err), VISOR_OK);
  json_decref(product);
  visor_db_release(conn);
}

static void product_list_filters_sorts_pages(void **state) {
  (void)state;
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(db, &err);
  for (int i = 0; i < 12; i++) {
    char id[40], sku[32], name[32];
    visor_uuid_new(id);
    snprintf(sku, sizeof sku, "LIST-%02d", i);
    snprintf(name, sizeof name, "%s item %02d", i % 3 ? "Milk" : "Juice", i);
    json_t *product = product_json(sku, name, i % 2 ? "dairy" : "drinks", 10.0 + i);
    assert_int_equal(visor_product_insert(conn, id, product, &err), VISOR_OK);
    json_decref(product);
  }
  visor_product_query query = {.category = "dairy", .sort = "-price", .limit = 4, .offset = 0};
  json_t *items = NULL;
  int64_t total = 0;
  assert_int_equal(visor_product_list(conn, &query, &items, &total, &err), VISOR_OK);
  assert_int_equal(total, 6);
  assert_int_equal(json_array_size(items), 4);
  assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "sku")),
                      "LIST-11");
  json_decref(items);
  query = (visor_product_query){.text = "JUICE", .sort = "name", .limit = 50};
  assert_int_equal(visor_product_list(conn, &query, &items, &total, &err), VISOR_OK);
  assert_int_equal(total, 4);
  json_decref(items);
  query = (visor_product_query){.text = "%", .limit = 50}; /* wildcards are literal-safe */
  assert_int_equal(visor_product_list(conn, &query, &items, &total, &err), VISOR_OK);
  assert_int_equal(total, 0);
  json_decref(items);
  query = (visor_product_query){.sort = "id; DROP TABLE products", .limit = 5};
  assert_int_equal(visor_product_list(conn, &query, &items, &total, &err), VISOR_ERR_INVALID);
  json_t *categories = NULL;
  assert_int_equal(visor_category_list(conn, &categories, &err), VISOR_OK);
  assert_true(json_array_size(categories) >= 2);
  json_decref(categories);
  visor_db_release(conn);
}

static void transactions_roll_back(void **state) {
  (void)state;
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(db, &err);
  char id[40];
  visor_uuid_new(id);
  assert_int_equal(visor_db_begin(conn, &err), VISOR_OK);
  json_t *product = product_json("TX-1", "rolled back", "x", 1);
  assert_int_equal(visor_product_insert(conn, id, product, &err), VISOR_OK);
  visor_db_rollback(conn);
  json_t *stored = NULL;
  assert_int_equal(visor_product_get(conn, id, &stored, &err), VISOR_ERR_NOT_FOUND);
  json_decref(product);
  visor_db_release(conn);
}

static void jobs_follow_their_lifecycle(void **state) {
  (void)state;
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(db, &err);
  char id[40];
  visor_uuid_new(id);
  assert_int_equal(visor_job_insert(conn, id, "index", "subject-1", "{\"a\":1}", 3, &err),
                   VISOR_OK);
  int applied = 0, attempt = 0, max_attempts = 0;
  assert_int_equal(visor_job_mark_running(conn, id, &attempt, &max_attempts, &applied, &err),
                   VISOR_OK);
  assert_true(applied);
  assert_int_equal(attempt, 1);
  assert_int_equal(max_attempts, 3);
  /* A worker that died mid-run: the next start counts another attempt. */
  assert_int_equal(visor_job_mark_running(conn, id, &attempt, &max_attempts, &applied, &err),
                   VISOR_OK);
  assert_int_equal(attempt, 2);
  assert_int_equal(visor_job_set_progress(conn, id, 0.5, &err), VISOR_OK);
  json_t *job = NULL;
  assert_int_equal(visor_job_get(conn, id, &job, &err), VISOR_OK);
  assert_string_equal(json_string_value(json_object_get(job, "status")), "running");
  assert_true(json_real_value(json_object_get(job, "progress")) == 0.5);
  assert_int_equal(json_integer_value(json_object_get(json_object_get(job, "payload"), "a")), 1);
  json_decref(job);
  assert_int_equal(visor_job_mark_failed(conn, id, "boom", &err), VISOR_OK);
  assert_int_equal(visor_job_cancel(conn, id, &applied, &err), VISOR_OK);
  assert_false(applied); /* failed jobs are not cancellable */
  assert_int_equal(visor_job_requeue(conn, id, &applied, &err), VISOR_OK);
  assert_true(applied);
  assert_int_equal(visor_job_cancel(conn, id, &applied, &err), VISOR_OK);
  assert_true(applied);
  assert_int_equal(visor_job_mark_running(conn, id, &attempt, &max_attempts, &applied, &err),
                   VISOR_OK);
  assert_false(applied); /* a cancelled job does not start */
  json_t *jobs = NULL;
  int64_t total = 0;
  assert_int_equal(visor_job_list(conn, "cancelled", "index", NULL, 10, 0, &jobs, &total, &err),
                   VISOR_OK);
  assert_true(total >= 1);
  json_decref(jobs);
  assert_int_equal(visor_job_get(conn, "00000000-0000-7000-8000-000000000000", &job, &err),
                   VISOR_ERR_NOT_FOUND);
  visor_db_release(conn);
}

static void *insert_many(void *arg) {
  int *failures = arg;
  for (int i = 0; i < 50; i++) {
    visor_error err = {0};
    visor_db_conn *conn = visor_db_acquire(db, &err);
    char id[40];
    visor_uuid_new(id);
    if (!conn || visor_job_insert(conn, id, "index", NULL, NULL, 1, &err) != VISOR_OK)
      (*failures)++;
    visor_db_release(conn);
  }
  return NULL;
}

static void concurrent_writers_all_succeed(void **state) {
  (void)state;
  pthread_t threads[8];
  int failures[8] = {0};
  for (int i = 0; i < 8; i++)
    pthread_create(&threads[i], NULL, insert_many, &failures[i]);
  for (int i = 0; i < 8; i++) {
    pthread_join(threads[i], NULL);
    assert_int_equal(failures[i], 0);
  }
}

static void placeholders_and_types_are_portable(void **state) {
  (void)state;
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(db, &err);
  assert_non_null(conn);
  /* A `?` inside a string literal is not a placeholder; a NULL tested with IS NULL binds. */
  visor_db_value params[] = {VISOR_DB_S("x"), VISOR_DB_NULL_VALUE, VISOR_DB_I(7)};
  visor_db_rows rows;
  assert_int_equal(visor_db_exec(conn,
                                 "SELECT 'a?''b?' AS q, ? AS v, (? IS NULL) AS null_test,"
                                 " ? / 2 AS half, 1 = 1 AS yes",
                                 params, 3, &rows, NULL, &err),
                   VISOR_OK);
  assert_string_equal(visor_db_text(&rows, 0, "q"), "a?'b?");
  assert_string_equal(visor_db_text(&rows, 0, "v"), "x");
  assert_int_equal(visor_db_get(&rows, 0, "null_test")->type, VISOR_DB_INT);
  assert_int_equal(visor_db_int(&rows, 0, "null_test"), 1);
  assert_int_equal(visor_db_get(&rows, 0, "half")->type, VISOR_DB_INT);
  assert_int_equal(visor_db_int(&rows, 0, "half"), 3); /* integer division on both */
  assert_int_equal(visor_db_int(&rows, 0, "yes"), 1);
  visor_db_rows_free(&rows);
  /* MAX over no rows is NULL, COUNT over no rows is 0. */
  assert_int_equal(visor_db_exec(conn,
                                 "SELECT MAX(created_at) AS m, COUNT(*) AS n FROM jobs"
                                 " WHERE id = 'none'",
                                 NULL, 0, &rows, NULL, &err),
                   VISOR_OK);
  assert_int_equal(visor_db_get(&rows, 0, "m")->type, VISOR_DB_NULL);
  assert_int_equal(visor_db_get(&rows, 0, "n")->type, VISOR_DB_INT);
  assert_int_equal(visor_db_int(&rows, 0, "n"), 0);
  visor_db_rows_free(&rows);
  visor_db_release(conn);
}

static void unique_violation_is_a_conflict(void **state) {
  (void)state;
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(db, &err);
  const char *sql = "INSERT INTO products(id, sku, name, created_at, updated_at)"
                    " VALUES (?, 'DUP-1', 'dup', 1, 1)";
  char id[40];
  visor_uuid_new(id);
  visor_db_value params[] = {VISOR_DB_S(id)};
  int64_t changes = 0;
  assert_int_equal(visor_db_exec(conn, sql, params, 1, NULL, &changes, &err), VISOR_OK);
  assert_int_equal(changes, 1);
  visor_uuid_new(id);
  assert_int_equal(visor_db_exec(conn, sql, params, 1, NULL, &changes, &err), VISOR_ERR_CONFLICT);
  /* The same inside a transaction; after ROLLBACK the connection works again. */
  assert_int_equal(visor_db_begin(conn, &err), VISOR_OK);
  assert_int_equal(visor_db_exec(conn, sql, params, 1, NULL, NULL, &err), VISOR_ERR_CONFLICT);
  visor_db_rollback(conn);
  visor_db_rows rows;
  assert_int_equal(visor_db_exec(conn, "SELECT COUNT(*) AS n FROM products WHERE sku = 'DUP-1'",
                                 NULL, 0, &rows, NULL, &err),
                   VISOR_OK);
  assert_int_equal(visor_db_int(&rows, 0, "n"), 1);
  visor_db_rows_free(&rows);
  visor_db_release(conn);
}

static void rolled_back_transaction_leaves_nothing(void **state) {
  (void)state;
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(db, &err);
  assert_int_equal(visor_db_begin(conn, &err), VISOR_OK);
  for (int i = 0; i < 5; i++) {
    char id[40];
    visor_uuid_new(id);
    assert_int_equal(visor_job_insert(conn, id, "rollback-test", NULL, NULL, 1, &err), VISOR_OK);
  }
  /* A failing statement inside the transaction, then ROLLBACK. */
  assert_int_equal(visor_db_exec(conn, "SELECT * FROM no_such_table", NULL, 0, NULL, NULL, &err),
                   VISOR_ERR_IO);
  visor_db_rollback(conn);
  visor_db_release(conn);
  /* Another connection sees nothing; a transaction left open at release is rolled back. */
  conn = visor_db_acquire(db, &err);
  assert_int_equal(visor_db_begin(conn, &err), VISOR_OK);
  char id[40];
  visor_uuid_new(id);
  assert_int_equal(visor_job_insert(conn, id, "rollback-test", NULL, NULL, 1, &err), VISOR_OK);
  visor_db_release(conn);
  conn = visor_db_acquire(db, &err);
  visor_db_rows rows;
  assert_int_equal(visor_db_exec(conn,
                                 "SELECT COUNT(*) AS n FROM jobs WHERE kind = 'rollback-test'",
                                 NULL, 0, &rows, NULL, &err),
                   VISOR_OK);
  assert_int_equal(visor_db_int(&rows, 0, "n"), 0);
  visor_db_rows_free(&rows);
  visor_db_release(conn);
}

/* Each of 4 threads makes 50 transactions that insert a row and bump a shared counter. */
static void *bump_counter(void *arg) {
  int *failures = arg;
  for (int i = 0; i < 50; i++) {
    visor_error err = {0};
    visor_db_conn *conn = visor_db_acquire(db, &err);
    if (!conn) {
      (*failures)++;
      continue;
    }
    char id[40];
    visor_uuid_new(id);
    visor_db_value params[] = {VISOR_DB_S(id)};
    int64_t changes = 0;
    if (visor_db_begin(conn, &err) != VISOR_OK ||
        visor_job_insert(conn, id, "pool-test", NULL, NULL, 1, &err) != VISOR_OK ||
        visor_db_exec(conn, "UPDATE pool_counter SET n = n + 1 WHERE id = 1", NULL, 0, NULL,
                      &changes, &err) != VISOR_OK ||
        changes != 1 ||
        visor_db_exec(conn, "SELECT id FROM jobs WHERE id = ?", params, 1, NULL, NULL, &err) !=
            VISOR_OK ||
        visor_db_commit(conn, &err) != VISOR_OK) {
      (*failures)++;
      visor_db_rollback(conn);
    }
    visor_db_release(conn);
  }
  return NULL;
}

static void pool_is_safe_across_threads(void **state) {
  (void)state;
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(db, &err);
  assert_int_equal(
      visor_db_exec(conn, "CREATE TABLE pool_counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)",
                    NULL, 0, NULL, NULL, &err),
      VISOR_OK);
  assert_int_equal(
      visor_db_exec(conn, "INSERT INTO pool_counter VALUES (1, 0)", NULL, 0, NULL, NULL, &err),
      VISOR_OK);
  visor_db_release(conn);
  pthread_t threads[4];
  int failures[4] = {0};
  for (int i = 0; i < 4; i++)
    pthread_create(&threads[i], NULL, bump_counter, &failures[i]);
  for (int i = 0; i < 4; i++) {
    pthread_join(threads[i], NULL);
    assert_int_equal(failures[i], 0);
  }
  conn = visor_db_acquire(db, &err);
  visor_db_rows rows;
  assert_int_equal(
      visor_db_exec(conn,
                    "SELECT (SELECT n FROM pool_counter WHERE id = 1) AS n,"
                    " (SELECT COUNT(DISTINCT id) FROM jobs WHERE kind = 'pool-test') AS jobs",
                    NULL, 0, &rows, NULL, &err),
      VISOR_OK);
  assert_int_equal(visor_db_int(&rows, 0, "n"), 200);
  assert_int_equal(visor_db_int(&rows, 0, "jobs"), 200);
  visor_db_rows_free(&rows);
  visor_db_release(conn);
}

/* A new product (sku, name, category kitchen) with one 640 x 480 product image at
 * object_key; their ids. */
static void add_product_with_image(visor_db_conn *conn, const char *sku, const char *name,
                                   const char *object_key, char product_id[40], char image_id[40]) {
  visor_error err = {0};
  visor_uuid_new(product_id);
  visor_uuid_new(image_id);
  json_t *product = product_json(sku, name, "kitchen", 4.5);
  assert_int_equal(visor_product_insert(conn, product_id, product, &err), VISOR_OK);
  json_decref(product);
  visor_image_record image = {.id = image_id,
                              .product_id = product_id,
                              .purpose = "product",
                              .object_key = object_key,
                              .width = 640,
                              .height = 480,
                              .format = "jpeg",
                              .size_bytes = 1234,
                              .sha256 = "00"};
  assert_int_equal(visor_image_insert(conn, &image, &err), VISOR_OK);
}

/* Images, regions and searches: the rest of the repositories, on every backend. */
static void regions_and_searches_round_trip(void **state) {
  (void)state;
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(db, &err);
  char product_id[40], image_id[40], whole_id[40], crop_id[40], query_image[40], search_id[40];
  add_product_with_image(conn, "REG-1", "Red mug", "img/a.jpg", product_id, image_id);
  visor_uuid_new(whole_id);
  visor_uuid_new(crop_id);
  visor_uuid_new(query_image);
  visor_uuid_new(search_id);
  visor_image_record image = {.id = query_image,
                              .purpose = "query",
                              .object_key = "q/b.jpg",
                              .width = 100,
                              .height = 100,
                              .format = "png",
                              .size_bytes = 10,
                              .sha256 = "11"};
  assert_int_equal(visor_image_insert(conn, &image, &err), VISOR_OK);
  visor_region_record whole = {.id = whole_id,
                               .image_id = image_id,
                               .product_id = product_id,
                               .w = 640,
                               .h = 480,
                               .whole_image = 1,
                               .label = "cup",
                               .label_score = 0.5,
                               .vector_id = "v1"};
  visor_region_record crop = {.id = crop_id,
                              .image_id = image_id,
                              .product_id = product_id,
                              .x = 10,
                              .y = 20,
                              .w = 100,
                              .h = 90,
                              .label = "cup",
                              .label_score = 0.8,
                              .labels_json = "[{\"name\":\"cup\",\"score\":0.8}]",
                              .detector_label = "cup",
                              .detector_score = 0.9,
                              .vector_id = "v2"};
  assert_int_equal(visor_region_insert(conn, &crop, &err), VISOR_OK);
  assert_int_equal(visor_region_insert(conn, &whole, &err), VISOR_OK);
  json_t *regions = NULL;
  assert_int_equal(visor_region_list(conn, image_id, &regions, &err), VISOR_OK);
  assert_int_equal(json_array_size(regions), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(regions, 0), "id")),
                      whole_id); /* the whole-image region first */
  assert_true(json_is_true(json_object_get(json_array_get(regions, 0), "whole_image")));
  json_decref(regions);
  json_t *region = NULL;
  assert_int_equal(visor_region_get(conn, crop_id, &region, &err), VISOR_OK);
  json_decref(region);

  assert_int_equal(visor_search_insert(conn, search_id, query_image, NULL, 5,
                                       "{\"category\":\"kitchen\"}", 0, "product", &err),
                   VISOR_OK);
  visor_search_region_record query_regions[] = {
      {.box = {0, 0, 100, 100}, .whole_image = 1, .label = "cup", .label_score = 0.4},
      {.box = {5, 5, 50, 50},
       .label = "cup",
       .label_score = 0.7,
       .detector_label = "cup",
       .detector_score = 0.6}};
  visor_search_result_record results[] = {
      {.ordinal = 0, .rank = 1, .product_id = product_id, .region_id = whole_id, .score = 0.9},
      {.ordinal = 1, .rank = 1, .product_id = product_id, .region_id = crop_id, .score = 0.8},
      {.ordinal = VISOR_SEARCH_OVERALL,
       .rank = 1,
       .product_id = product_id,
       .region_id = whole_id,
       .score = 0.9,
       .query_ordinal = 0}};
  for (int attempt = 0; attempt < 2; attempt++) /* idempotent on retry */
    assert_int_equal(visor_search_save(conn, search_id, query_regions, 2, results, 3, &err),
                     VISOR_OK);
  assert_int_equal(visor_search_set_status(conn, search_id, "running", NULL, 0, &err), VISOR_OK);
  assert_int_equal(visor_search_set_status(conn, search_id, "done", NULL, 12.5, &err), VISOR_OK);
  json_t *search = NULL;
  assert_int_equal(visor_search_get(conn, search_id, &search, &err), VISOR_OK);
  assert_string_equal(json_string_value(json_object_get(search, "status")), "done");
  assert_true(json_real_value(json_object_get(search, "duration_ms")) == 12.5);
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(search, "filters"), "category")),
      "kitchen");
  json_t *found = json_object_get(search, "regions");
  assert_int_equal(json_array_size(found), 2);
  assert_int_equal(json_array_size(json_object_get(json_array_get(found, 1), "results")), 1);
  json_t *overall = json_object_get(search, "products");
  assert_int_equal(json_array_size(overall), 1);
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(json_array_get(overall, 0), "product"),
                                        "thumbnail_image_id")),
      image_id);
  json_decref(search);
  assert_int_equal(visor_region_delete_for_image(conn, image_id, &err), VISOR_OK);
  visor_db_release(conn);
}

/* Products without a price sort last both ways, on every backend. */
static void price_sort_puts_missing_prices_last(void **state) {
  (void)state;
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(db, &err);
  const char *skus[] = {"NP-cheap", "NP-none", "NP-dear"};
  double prices[] = {1, -1, 9};
  for (int i = 0; i < 3; i++) {
    char id[40];
    visor_uuid_new(id);
    json_t *product = product_json(skus[i], skus[i], "nullprice", prices[i]);
    if (prices[i] < 0) json_object_del(product, "price");
    assert_int_equal(visor_product_insert(conn, id, product, &err), VISOR_OK);
    json_decref(product);
  }
  const char *sorts[] = {"price", "-price"};
  const char *expected[][3] = {{"NP-cheap", "NP-dear", "NP-none"},
                               {"NP-dear", "NP-cheap", "NP-none"}};
  for (int s = 0; s < 2; s++) {
    visor_product_query query = {.category = "nullprice", .sort = sorts[s], .limit = 10};
    json_t *items = NULL;
    int64_t total = 0;
    assert_int_equal(visor_product_list(conn, &query, &items, &total, &err), VISOR_OK);
    assert_int_equal(total, 3);
    for (int i = 0; i < 3; i++)
      assert_string_equal(
          json_string_value(json_object_get(json_array_get(items, (size_t)i), "sku")),
          expected[s][i]);
    json_decref(items);
  }
  visor_db_release(conn);
}

/* Filter expressions as SQL: the same three-valued meaning as in the vector stores. */
static void product_list_filter_expressions(void **state) {
  (void)state;
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(db, &err);
  /* FX-0..FX-5: category fx-a / fx-b / none; brand Oatly / Alpro / none; size 1l on even */
  for (int i = 0; i < 6; i++) {
    char id[40], sku[32];
    visor_uuid_new(id);
    snprintf(sku, sizeof sku, "FX-%d", i);
    json_t *product = product_json(sku, i == 4 ? "Say \"hi\"" : sku,
                                   i == 5  ? ""
                                   : i % 2 ? "fx-b"
                                           : "fx-a",
                                   5.0 * i);
    if (i == 3) json_object_del(product, "price");
    json_t *labels = json_object();
    if (i < 4) json_object_set_new(labels, "brand", json_string(i % 2 ? "Alpro" : "Oatly"));
    if (i % 2 == 0) json_object_set_new(labels, "size", json_string("1l"));
    json_object_set_new(labels, "o'q", json_string("x"));
    json_object_set_new(product, "labels", labels);
    assert_int_equal(visor_product_insert(conn, id, product, &err), VISOR_OK);
    json_decref(product);
  }
  static const struct {
    const char *filter;
    const char *skus; /* in sku order */
  } cases[] = {
      {"category IN (\"fx-a\", \"fx-b\") AND brand = \"Oatly\"", "FX-0 FX-2"},
      {"sku IN (\"FX-0\",\"FX-1\",\"FX-2\",\"FX-3\",\"FX-4\",\"FX-5\") AND NOT size = \"1l\"", ""},
      {"sku >= \"\"", NULL}, /* 400: strings do not order */
      {"price < 12 AND sku IN (\"FX-0\",\"FX-1\",\"FX-2\",\"FX-3\",\"FX-4\",\"FX-5\")",
       "FX-0 FX-1 FX-2"},
      {"NOT price >= 12 AND category IN (\"fx-a\",\"fx-b\")", "FX-0 FX-1 FX-2"},
      {"brand != \"Oatly\" AND category IN (\"fx-a\",\"fx-b\")", "FX-1 FX-3"},
      {"NOT brand = \"Oatly\" AND sku IN (\"FX-4\",\"FX-5\")", ""},
      {"category NOT IN (\"fx-a\") AND sku IN (\"FX-4\",\"FX-5\")", ""},
      {"category = \"\"", ""},
      {"name = \"Say \\\"hi\\\"\"", "FX-4"},
      {"labels.\"o'q\" = \"x\" AND (price > 20 OR sku = \"FX-3\")", "FX-3 FX-5"},
      {"brand = \"x'); DROP TABLE products; --\"", ""},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    visor_filter_expr *expr = NULL;
    visor_code parsed =
        visor_filter_parse(cases[c].filter, VISOR_FILTER_FIELDS_LISTING, &expr, &err);
    if (!cases[c].skus) {
      assert_int_equal(parsed, VISOR_ERR_INVALID);
      continue;
    }
    if (parsed != VISOR_OK) fail_msg("`%s`: %s", cases[c].filter, err.message);
    visor_product_query query = {.filter = expr, .sort = "sku", .limit = 50};
    json_t *items = NULL;
    int64_t total = 0;
    if (visor_product_list(conn, &query, &items, &total, &err) != VISOR_OK)
      fail_msg("`%s`: %s", cases[c].filter, err.message);
    char got[256] = "";
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) {
      const char *sku = json_string_value(json_object_get(item, "sku"));
      if (strncmp(sku, "FX-", 3) != 0) continue;
      snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", *got ? " " : "", sku);
    }
    if (strcmp(got, cases[c].skus) != 0)
      fail_msg("`%s`: got [%s], want [%s]", cases[c].filter, got, cases[c].skus);
    json_decref(items);
    visor_filter_free(expr);
  }
  visor_db_release(conn);
}

/* Two corrections of one region: the second's read of the row waits for the first's commit
 * and sees its label (a row lock on PostgreSQL, the single writer on SQLite), so the audit
 * entry's "before" of the second is what the first wrote. */
typedef struct second_correction {
  const char *region_id;
  char label_seen[64];
  visor_code code;
} second_correction;

static void *relabel_after(void *arg) {
  second_correction *second = arg;
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(db, &err);
  json_t *row = NULL;
  second->code = conn ? visor_db_begin(conn, &err) : VISOR_ERR_UNAVAILABLE;
  if (second->code == VISOR_OK)
    second->code = visor_edit_region_row(conn, second->region_id, &row, &err);
  if (second->code == VISOR_OK) {
    snprintf(second->label_seen, sizeof second->label_seen, "%s",
             json_string_value(json_object_get(row, "label")) ?: "");
    second->code = visor_edit_region_set_label(conn, second->region_id, "second", "admin", &err);
  }
  if (second->code == VISOR_OK)
    second->code = visor_db_commit(conn, &err);
  else if (conn)
    visor_db_rollback(conn);
  json_decref(row);
  visor_db_release(conn);
  return NULL;
}

static void concurrent_corrections_of_a_region_serialise(void **state) {
  (void)state;
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(db, &err);
  char product_id[40], image_id[40], region_id[40];
  add_product_with_image(conn, "LOCK-1", "Locked mug", "img/lock.jpg", product_id, image_id);
  visor_uuid_new(region_id);
  visor_region_record region = {.id = region_id,
                                .image_id = image_id,
                                .product_id = product_id,
                                .w = 640,
                                .h = 480,
                                .whole_image = 1,
                                .label = "original",
                                .vector_id = "lock-v"};
  assert_int_equal(visor_region_insert(conn, &region, &err), VISOR_OK);
  /* the first correction reads the row, the second starts, the first writes 300 ms later */
  json_t *row = NULL;
  assert_int_equal(visor_db_begin(conn, &err), VISOR_OK);
  assert_int_equal(visor_edit_region_row(conn, region_id, &row, &err), VISOR_OK);
  json_decref(row);
  second_correction second = {.region_id = region_id};
  pthread_t thread;
  assert_int_equal(pthread_create(&thread, NULL, relabel_after, &second), 0);
  visor_sleep_ms(300);
  assert_int_equal(visor_edit_region_set_label(conn, region_id, "first", "admin", &err), VISOR_OK);
  assert_int_equal(visor_db_commit(conn, &err), VISOR_OK);
  pthread_join(thread, NULL);
  assert_int_equal(second.code, VISOR_OK);
  assert_string_equal(second.label_seen, "first");
  assert_int_equal(visor_edit_region_row(conn, region_id, &row, &err), VISOR_OK);
  assert_string_equal(json_string_value(json_object_get(row, "label")), "second");
  json_decref(row);
  visor_db_release(conn);
}

int main(void) {
  const char *urls = getenv("VISOR_TEST_METADATA_URLS");
  char temp[] = "/tmp/visor-store-XXXXXX";
  char default_url[600];
  if (!urls || !*urls) {
    snprintf(default_url, sizeof default_url, "sqlite://%s/visor.db", mkdtemp(temp));
    urls = default_url;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(migrations_are_idempotent),
      cmocka_unit_test(values_round_trip),
      cmocka_unit_test(products_crud_and_unique_sku),
      cmocka_unit_test(product_list_filters_sorts_pages),
      cmocka_unit_test(transactions_roll_back),
      cmocka_unit_test(jobs_follow_their_lifecycle),
      cmocka_unit_test(concurrent_writers_all_succeed),
      cmocka_unit_test(placeholders_and_types_are_portable),
      cmocka_unit_test(unique_violation_is_a_conflict),
      cmocka_unit_test(rolled_back_transaction_leaves_nothing),
      cmocka_unit_test(pool_is_safe_across_threads),
      cmocka_unit_test(regions_and_searches_round_trip),
      cmocka_unit_test(price_sort_puts_missing_prices_last),
      cmocka_unit_test(product_list_filter_expressions),
      cmocka_unit_test(concurrent_corrections_of_a_region_serialise),
  };
  char *list = strdup(urls);
  int failed = 0;
  for (char *save = NULL, *url = strtok_r(list, " ", &save); url;
       url = strtok_r(NULL, " ", &save)) {
    visor_error err = {0};
    db = visor_db_open(url, &err);
    if (!db || visor_migrate(db, NULL, &err) != VISOR_OK) {
      fprintf(stderr, "cannot open %s: %s\n", url, err.message);
      failed++;
      visor_db_close(db);
      continue;
    }
    failed += cmocka_run_group_tests_name(url, tests, NULL, NULL);
    visor_db_close(db);
  }
  free(list);
  return failed;
}
