/* test_store_duplicates.c: the duplicates repository and the SKU / sha256 look-ups behind
 * `visor import`, on every backend URL in VISOR_TEST_METADATA_URLS (space-separated, each
 * an empty database; by default a fresh SQLite file): one row per pair whichever side
 * records it, listings from both products, pairs with a deleted image or product hidden. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/uuid.h"
#include "store/catalog.h"
#include "store/duplicates.h"
#include "store/migrate.h"

static visor_db *db;

typedef struct fixture_product {
  char id[40], image[40];
} fixture_product;

static void add_product(visor_db_conn *conn, const char *sku, const char *sha256,
                        fixture_product *out) {
  visor_error err = {0};
  visor_uuid_new(out->id);
  visor_uuid_new(out->image);
  json_t *product = json_pack("{s:s, s:s}", "sku", sku, "name", sku);
  assert_int_equal(visor_product_insert(conn, out->id, product, &err), VISOR_OK);
  json_decref(product);
  visor_image_record image = {.id = out->image,
                              .product_id = out->id,
                              .purpose = "product",
                              .object_key = "images/x/original",
                              .width = 10,
                              .height = 10,
                              .format = "jpeg",
                              .size_bytes = 10,
                              .sha256 = sha256};
  assert_int_equal(visor_image_insert(conn, &image, &err), VISOR_OK);
}

static void pairs_are_stored_once_and_listed_from_both_sides(void **state) {
  (void)state;
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(db, &err);
  assert_non_null(conn);
  const char *same = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  fixture_product a, b, c;
  add_product(conn, "DUP-A", same, &a);
  add_product(conn, "DUP-B", same, &b);
  add_product(conn, "DUP-C", "cccc", &c);

  json_t *found = NULL;
  assert_int_equal(visor_images_with_sha256(conn, same, a.id, &found, &err), VISOR_OK);
  assert_int_equal(json_array_size(found), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(found, 0), "sku")), "DUP-B");
  json_decref(found);
  assert_int_equal(visor_images_with_sha256(conn, same, NULL, &found, &err), VISOR_OK);
  assert_int_equal(json_array_size(found), 2);
  json_decref(found);

  json_t *product = NULL;
  assert_int_equal(visor_product_find_by_sku(conn, "DUP-B", &product, &err), VISOR_OK);
  assert_string_equal(json_string_value(json_object_get(product, "id")), b.id);
  json_decref(product);
  assert_int_equal(visor_product_find_by_sku(conn, "DUP-NONE", &product, &err),
                   VISOR_ERR_NOT_FOUND);

  assert_int_equal(visor_duplicate_upsert(conn, a.image, a.id, b.image, b.id, "exact", 1.0, &err),
                   VISOR_OK);
  /* the same pair from the other side updates the one row */
  assert_int_equal(visor_duplicate_upsert(conn, b.image, b.id, a.image, a.id, "exact", 1.0, &err),
                   VISOR_OK);
  assert_int_equal(visor_duplicate_upsert(conn, c.image, c.id, a.image, a.id, "near", 0.98, &err),
                   VISOR_OK);
  json_t *items = NULL;
  int64_t total = 0;
  assert_int_equal(visor_duplicates_list(conn, NULL, 10, 0, &items, &total, &err), VISOR_OK);
  assert_int_equal(total, 2);
  assert_int_equal(json_array_size(items), 2);
  json_decref(items);
  assert_int_equal(visor_duplicates_list(conn, "near", 10, 0, &items, &total, &err), VISOR_OK);
  assert_int_equal(total, 1);
  json_t *near = json_array_get(items, 0);
  assert_true(json_real_value(json_object_get(near, "score")) > 0.97);
  assert_non_null(json_string_value(json_object_get(near, "detected_at")));
  json_decref(items);

  assert_int_equal(visor_duplicates_of_product(conn, a.id, &items, &err), VISOR_OK);
  assert_int_equal(json_array_size(items), 2);
  assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "image_id")),
                      a.image); /* seen from a: a's image first, best score first */
  assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "other_sku")),
                      "DUP-B");
  assert_string_equal(json_string_value(json_object_get(json_array_get(items, 1), "other_sku")),
                      "DUP-C");
  json_decref(items);
  assert_int_equal(visor_duplicates_of_product(conn, c.id, &items, &err), VISOR_OK);
  assert_int_equal(json_array_size(items), 1);
  assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "other_sku")),
                      "DUP-A");
  json_decref(items);

  assert_int_equal(visor_product_soft_delete(conn, b.id, &err), VISOR_OK);
  assert_int_equal(visor_duplicates_of_product(conn, a.id, &items, &err), VISOR_OK);
  assert_int_equal(json_array_size(items), 1); /* b is gone */
  json_decref(items);
  assert_int_equal(visor_images_with_sha256(conn, same, a.id, &found, &err), VISOR_OK);
  assert_int_equal(json_array_size(found), 0);
  json_decref(found);
  assert_int_equal(visor_image_soft_delete(conn, c.image, &err), VISOR_OK);
  assert_int_equal(visor_duplicates_list(conn, NULL, 10, 0, &items, &total, &err), VISOR_OK);
  assert_int_equal(total, 0);
  json_decref(items);
  visor_db_release(conn);
}

int main(void) {
  const char *urls = getenv("VISOR_TEST_METADATA_URLS");
  char temp[] = "/tmp/visor-store-dup-XXXXXX";
  char default_url[600];
  if (!urls || !*urls) {
    snprintf(default_url, sizeof default_url, "sqlite://%s/visor.db", mkdtemp(temp));
    urls = default_url;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(pairs_are_stored_once_and_listed_from_both_sides),
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
