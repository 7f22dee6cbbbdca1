/* test_blob_contract.c: the object store contract, written once and run against every
 * blob backend named in VISOR_TEST_BLOB_URLS (space-separated), by default a file://
 * store in a temp folder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob/blob.h"

static char store_url[512];

static int open_store(void **state) {
  visor_error err = {0};
  visor_blob_store *store = visor_blob_open(store_url, &err);
  if (!store) fail_msg("cannot open %s: %s", store_url, err.message);
  *state = store;
  return 0;
}

static int close_store(void **state) {
  visor_blob_close(*state);
  return 0;
}

static void put_get_remove(void **state) {
  visor_blob_store *store = *state;
  visor_error err = {0};
  const char *text = "hello objects";
  assert_int_equal(visor_blob_put(store, "t/a/b.txt", text, strlen(text), &err), VISOR_OK);
  void *data = NULL;
  size_t len = 0;
  assert_int_equal(visor_blob_get(store, "t/a/b.txt", 0, &data, &len, &err), VISOR_OK);
  assert_int_equal(len, strlen(text));
  assert_memory_equal(data, text, len);
  free(data);
  int exists = 0;
  assert_int_equal(store->ops->exists(store, "t/a/b.txt", &exists, &err), VISOR_OK);
  assert_true(exists);
  assert_int_equal(visor_blob_remove(store, "t/a/b.txt", &err), VISOR_OK);
  assert_int_equal(visor_blob_get(store, "t/a/b.txt", 0, &data, &len, &err), VISOR_ERR_NOT_FOUND);
  assert_int_equal(visor_blob_remove(store, "t/a/b.txt", &err), VISOR_OK); /* missing is fine */
}

static void streaming_write_and_ranged_read(void **state) {
  visor_blob_store *store = *state;
  visor_error err = {0};
  visor_blob_writer *writer = store->ops->open_writer(store, "t/big.bin", &err);
  assert_non_null(writer);
  unsigned char chunk[4096];
  for (int i = 0; i < 300; i++) {
    memset(chunk, i & 0xff, sizeof chunk);
    assert_int_equal(store->ops->write(writer, chunk, sizeof chunk, &err), VISOR_OK);
  }
  assert_int_equal(store->ops->commit(writer, &err), VISOR_OK);
  uint64_t size = 0;
  visor_blob_reader *reader = store->ops->open_reader(store, "t/big.bin", &size, &err);
  assert_non_null(reader);
  assert_int_equal(size, 300 * 4096);
  unsigned char buf[16];
  assert_int_equal(store->ops->read_at(reader, 4096 * 7 + 5, buf, sizeof buf), sizeof buf);
  assert_int_equal(buf[0], 7);
  store->ops->close_reader(reader);
  void *data;
  size_t len;
  assert_int_equal(visor_blob_get(store, "t/big.bin", 1000, &data, &len, &err),
                   VISOR_ERR_TOO_LARGE);
  visor_blob_remove(store, "t/big.bin", &err);
}

static void aborted_write_leaves_nothing(void **state) {
  visor_blob_store *store = *state;
  visor_error err = {0};
  visor_blob_writer *writer = store->ops->open_writer(store, "t/aborted", &err);
  assert_non_null(writer);
  assert_int_equal(store->ops->write(writer, "partial", 7, &err), VISOR_OK);
  store->ops->abort(writer);
  int exists = 1;
  assert_int_equal(store->ops->exists(store, "t/aborted", &exists, &err), VISOR_OK);
  assert_false(exists);
}

static void bad_keys_are_refused(void **state) {
  visor_blob_store *store = *state;
  const char *bad[] = {"",      "/abs",   "../escape", "a/../../b", "a//b",
                       "a/./b", "sp ace", "a\\b",      "x/..",      "%2e%2e/x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    visor_error err = {0};
    assert_false(visor_blob_key_valid(bad[i]));
    assert_int_equal(visor_blob_put(store, bad[i], "x", 1, &err), VISOR_ERR_INVALID);
    void *data;
    size_t len;
    assert_int_equal(visor_blob_get(store, bad[i], 0, &data, &len, &err), VISOR_ERR_INVALID);
  }
  char long_key[600];
  memset(long_key, 'a', sizeof long_key - 1);
  long_key[sizeof long_key - 1] = '\0';
  assert_false(visor_blob_key_valid(long_key));
  assert_true(visor_blob_key_valid("images/01a2/original.jpg"));
}

static void bad_urls_are_refused(void **state) {
  (void)state;
  visor_error err = {0};
  assert_null(visor_blob_open("ftp://x", &err));
  assert_int_equal(err.code, VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "ftp://x"));
}

int main(void) {
  char temp[] = "/tmp/visor-blob-XXXXXX";
  const char *urls = getenv("VISOR_TEST_BLOB_URLS");
  char default_url[600];
  if (!urls || !*urls) {
    snprintf(default_url, sizeof default_url, "file://%s", mkdtemp(temp));
    urls = default_url;
  }
  char *list = strdup(urls);
  int failed = 0;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(put_get_remove, open_store, close_store),
      cmocka_unit_test_setup_teardown(streaming_write_and_ranged_read, open_store, close_store),
      cmocka_unit_test_setup_teardown(aborted_write_leaves_nothing, open_store, close_store),
      cmocka_unit_test_setup_teardown(bad_keys_are_refused, open_store, close_store),
      cmocka_unit_test(bad_urls_are_refused),
  };
  for (char *save = NULL, *url = strtok_r(list, " ", &save); url;
       url = strtok_r(NULL, " ", &save)) {
    snprintf(store_url, sizeof store_url, "%s", url);
    printf("blob contract: %s\n", store_url);
    failed += cmocka_run_group_tests_name(store_url, tests, NULL, NULL);
  }
  free(list);
  return failed;
}
