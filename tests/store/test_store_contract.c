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
#include "store/catalog.h"
#include "store/jobs.h"
#include "store/migrate.h"

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
  int applied = 0;
  assert_int_equal(visor_job_mark_running(conn, id, 1, &applied, &err), VISOR_OK);
  assert_true(applied);
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
  assert_int_equal(visor_job_mark_running(conn, id, 1, &applied, &err), VISOR_OK);
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
