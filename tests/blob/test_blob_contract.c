/* test_blob_contract.c: the object store contract, written once and run against every
 * blob backend named in VISOR_TEST_BLOB_URLS (space-separated), by default a file://
 * store in a temp folder. Every key is under a prefix of this run, so runs can share a
 * bucket; s3:// stores need VISOR_S3_ACCESS_KEY / VISOR_S3_SECRET_KEY. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blob/blob.h"
#include "core/clock.h"

static char store_url[512];
static char run_prefix[64]; /* "run-PID-N/" */

/* The key of name in this run (one of a few rotating buffers). */
static const char *K(const char *name) {
  static char keys[4][VISOR_BLOB_KEY_MAX + 1];
  static int next;
  char *key = keys[next++ % 4];
  snprintf(key, VISOR_BLOB_KEY_MAX + 1, "%s%s", run_prefix, name);
  return key;
}

static void fill_pattern(unsigned char *buf, size_t len, uint64_t offset) {
  for (size_t i = 0; i < len; i++) {
    uint64_t x = offset + i;
    buf[i] = (unsigned char)((x * 2654435761u) >> 13);
  }
}

static int key_exists(visor_blob_store *store, const char *key) {
  visor_error err = {0};
  int exists = -1;
  assert_int_equal(store->ops->exists(store, key, &exists, &err), VISOR_OK);
  return exists;
}

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
  assert_int_equal(visor_blob_put(store, K("t/a/b.txt"), text, strlen(text), &err), VISOR_OK);
  void *data = NULL;
  size_t len = 0;
  assert_int_equal(visor_blob_get(store, K("t/a/b.txt"), 0, &data, &len, &err), VISOR_OK);
  assert_int_equal(len, strlen(text));
  assert_memory_equal(data, text, len);
  free(data);
  int exists = 0;
  assert_int_equal(store->ops->exists(store, K("t/a/b.txt"), &exists, &err), VISOR_OK);
  assert_true(exists);
  assert_int_equal(visor_blob_remove(store, K("t/a/b.txt"), &err), VISOR_OK);
  assert_int_equal(visor_blob_get(store, K("t/a/b.txt"), 0, &data, &len, &err),
                   VISOR_ERR_NOT_FOUND);
  assert_int_equal(visor_blob_remove(store, K("t/a/b.txt"), &err), VISOR_OK); /* missing is fine */
}

static void streaming_write_and_ranged_read(void **state) {
  visor_blob_store *store = *state;
  visor_error err = {0};
  visor_blob_writer *writer =
      store->ops->open_writer(store, K("t/big.bin"), VISOR_BLOB_SYNCED, &err);
  assert_non_null(writer);
  unsigned char chunk[4096];
  for (int i = 0; i < 300; i++) {
    memset(chunk, i & 0xff, sizeof chunk);
    assert_int_equal(store->ops->write(writer, chunk, sizeof chunk, &err), VISOR_OK);
  }
  assert_int_equal(store->ops->commit(writer, &err), VISOR_OK);
  uint64_t size = 0;
  visor_blob_reader *reader = store->ops->open_reader(store, K("t/big.bin"), &size, &err);
  assert_non_null(reader);
  assert_int_equal(size, 300 * 4096);
  unsigned char buf[16];
  assert_int_equal(store->ops->read_at(reader, 4096 * 7 + 5, buf, sizeof buf), sizeof buf);
  assert_int_equal(buf[0], 7);
  store->ops->close_reader(reader);
  void *data;
  size_t len;
  assert_int_equal(visor_blob_get(store, K("t/big.bin"), 1000, &data, &len, &err),
                   VISOR_ERR_TOO_LARGE);
  visor_blob_remove(store, K("t/big.bin"), &err);
}

static void aborted_write_leaves_nothing(void **state) {
  visor_blob_store *store = *state;
  visor_error err = {0};
  visor_blob_writer *writer =
      store->ops->open_writer(store, K("t/aborted"), VISOR_BLOB_SYNCED, &err);
  assert_non_null(writer);
  assert_int_equal(store->ops->write(writer, "partial", 7, &err), VISOR_OK);
  store->ops->abort(writer);
  int exists = 1;
  assert_int_equal(store->ops->exists(store, K("t/aborted"), &exists, &err), VISOR_OK);
  assert_false(exists);
}

static void empty_object(void **state) {
  visor_blob_store *store = *state;
  visor_error err = {0};
  assert_int_equal(visor_blob_put(store, K("empty"), "", 0, &err), VISOR_OK);
  void *data = NULL;
  size_t len = 99;
  assert_int_equal(visor_blob_get(store, K("empty"), 0, &data, &len, &err), VISOR_OK);
  assert_int_equal(len, 0);
  free(data);
  assert_true(key_exists(store, K("empty")));
  assert_int_equal(visor_blob_remove(store, K("empty"), &err), VISOR_OK);
  assert_false(key_exists(store, K("empty")));
}

/* An object written VISOR_BLOB_UNSYNCED is stored and read back like any other. */
static void unsynced_write_reads_back(void **state) {
  visor_blob_store *store = *state;
  visor_error err = {0};
  const char *key = K("t/unsynced/q.bin");
  visor_blob_writer *writer = store->ops->open_writer(store, key, VISOR_BLOB_UNSYNCED, &err);
  if (!writer) fail_msg("open_writer %s: %s", key, err.message);
  const char text[] = "a query photo";
  assert_int_equal(store->ops->write(writer, text, sizeof text, &err), VISOR_OK);
  assert_false(key_exists(store, key));
  assert_int_equal(store->ops->commit(writer, &err), VISOR_OK);
  void *data = NULL;
  size_t len = 0;
  assert_int_equal(visor_blob_get(store, key, 0, &data, &len, &err), VISOR_OK);
  assert_int_equal(len, sizeof text);
  assert_memory_equal(data, text, sizeof text);
  free(data);
  assert_int_equal(visor_blob_remove(store, key, &err), VISOR_OK);
  assert_false(key_exists(store, key));
}

/* Writes size bytes of the pattern to key in chunks of chunk bytes (not committed). */
static visor_blob_writer *write_pattern(visor_blob_store *store, const char *key, size_t size,
                                        size_t chunk) {
  visor_error err = {0};
  visor_blob_writer *writer = store->ops->open_writer(store, key, VISOR_BLOB_SYNCED, &err);
  if (!writer) fail_msg("open_writer %s: %s", key, err.message);
  unsigned char *buf = malloc(chunk);
  assert_non_null(buf);
  for (size_t done = 0; done < size;) {
    size_t n = size - done < chunk ? size - done : chunk;
    fill_pattern(buf, n, done);
    if (store->ops->write(writer, buf, n, &err) != VISOR_OK) fail_msg("write: %s", err.message);
    done += n;
  }
  free(buf);
  return writer;
}

static void writes_are_atomic(void **state) {
  visor_blob_store *store = *state;
  visor_error err = {0};
  /* Small (one PUT) and large (multipart, parts already sent): invisible until commit. */
  size_t sizes[] = {1000, 6u << 20};
  for (int i = 0; i < 2; i++) {
    const char *key = K(i ? "atomic/large" : "atomic/small");
    visor_blob_writer *writer = write_pattern(store, key, sizes[i], 65536);
    assert_false(key_exists(store, key));
    uint64_t size = 0;
    assert_null(store->ops->open_reader(store, key, &size, &err));
    assert_int_equal(err.code, VISOR_ERR_NOT_FOUND);
    assert_int_equal(store->ops->commit(writer, &err), VISOR_OK);
    assert_true(key_exists(store, key));
    visor_blob_reader *reader = store->ops->open_reader(store, key, &size, &err);
    assert_non_null(reader);
    assert_int_equal(size, sizes[i]);
    store->ops->close_reader(reader);
    assert_int_equal(visor_blob_remove(store, key, &err), VISOR_OK);
  }
}

static void aborted_multipart_leaves_nothing(void **state) {
  visor_blob_store *store = *state;
  visor_error err = {0};
  /* More than one part's worth (5 MiB) written, then aborted. */
  visor_blob_writer *writer = write_pattern(store, K("aborted-big"), (11u << 20) / 2, 100003);
  store->ops->abort(writer);
  assert_false(key_exists(store, K("aborted-big")));
  /* A replaced object stays whole while the new one is aborted. */
  assert_int_equal(visor_blob_put(store, K("kept"), "old", 3, &err), VISOR_OK);
  writer = write_pattern(store, K("kept"), 6u << 20, 1u << 20);
  store->ops->abort(writer);
  void *data = NULL;
  size_t len = 0;
  assert_int_equal(visor_blob_get(store, K("kept"), 0, &data, &len, &err), VISOR_OK);
  assert_int_equal(len, 3);
  assert_memory_equal(data, "old", 3);
  free(data);
  assert_int_equal(visor_blob_remove(store, K("kept"), &err), VISOR_OK);
}

static void large_object_round_trip_and_odd_ranges(void **state) {
  visor_blob_store *store = *state;
  visor_error err = {0};
  const size_t size = 12u << 20; /* three parts on S3: 5 + 5 + 2 MiB */
  visor_blob_writer *writer = write_pattern(store, K("twelve.bin"), size, 777777);
  assert_int_equal(store->ops->commit(writer, &err), VISOR_OK);
  void *data = NULL;
  size_t len = 0;
  assert_int_equal(visor_blob_get(store, K("twelve.bin"), 0, &data, &len, &err), VISOR_OK);
  assert_int_equal(len, size);
  unsigned char *expected = malloc(size);
  assert_non_null(expected);
  fill_pattern(expected, size, 0);
  assert_memory_equal(data, expected, size);
  free(data);
  uint64_t got_size = 0;
  visor_blob_reader *reader = store->ops->open_reader(store, K("twelve.bin"), &got_size, &err);
  assert_non_null(reader);
  assert_int_equal(got_size, size);
  struct {
    uint64_t offset;
    size_t max;
    long want;
  } cases[] = {
      {0, 1, 1},
      {1, 7, 7},
      {(5u << 20) - 3, 11, 11}, /* across the first part boundary */
      {(10u << 20) - 1, 4099, 4099},
      {size - 5, 64, 5}, /* short at the end */
      {size - 1, 1, 1},
      {size, 16, 0}, /* at the end */
      {size + 100, 16, 0},
  };
  unsigned char buf[8192];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    memset(buf, 0xEE, sizeof buf);
    long got = store->ops->read_at(reader, cases[i].offset, buf, cases[i].max);
    assert_int_equal(got, cases[i].want);
    if (got > 0) assert_memory_equal(buf, expected + cases[i].offset, (size_t)got);
  }
  store->ops->close_reader(reader);
  free(expected);
  assert_int_equal(visor_blob_remove(store, K("twelve.bin"), &err), VISOR_OK);
}

static void odd_but_valid_keys(void **state) {
  visor_blob_store *store = *state;
  char long_key[VISOR_BLOB_KEY_MAX + 1]; /* 512 characters, segments of up to 255 */
  int used = snprintf(long_key, sizeof long_key, "%slong/", run_prefix);
  for (size_t i = (size_t)used; i < sizeof long_key - 1; i++)
    long_key[i] = (i - (size_t)used) % 200 == 199 ? '/' : 'x';
  long_key[sizeof long_key - 1] = '\0';
  if (long_key[sizeof long_key - 2] == '/') long_key[sizeof long_key - 2] = 'y';
  const char *odd[] = {K("..a/a..b/.../-/_"), K("UPPER.lower-9_/._-"), K("-leading-dash"),
                       K("a.b.c/d_e-f.JPG"), long_key};
  for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
    visor_error err = {0};
    const char *key = odd[i];
    assert_true(visor_blob_key_valid(key));
    if (visor_blob_put(store, key, key, strlen(key), &err) != VISOR_OK)
      fail_msg("put '%s': %s", key, err.message);
    void *data = NULL;
    size_t len = 0;
    assert_int_equal(visor_blob_get(store, key, 0, &data, &len, &err), VISOR_OK);
    assert_int_equal(len, strlen(key));
    assert_memory_equal(data, key, len);
    free(data);
    assert_true(key_exists(store, key));
    assert_int_equal(visor_blob_remove(store, key, &err), VISOR_OK);
    assert_false(key_exists(store, key));
  }
}

typedef struct listed {
  int count;
  int stop_after;
  uint64_t total;
  int64_t oldest, newest; /* modified_ms seen */
  char keys[16][128];
} listed;

static int collect(void *ctx, const char *key, uint64_t size, int64_t modified_ms) {
  listed *l = ctx;
  if (!l->oldest || modified_ms < l->oldest) l->oldest = modified_ms;
  if (modified_ms > l->newest) l->newest = modified_ms;
  if (l->count < 16) snprintf(l->keys[l->count], sizeof l->keys[0], "%s", key);
  l->count++;
  l->total += size;
  return l->stop_after && l->count >= l->stop_after;
}

static int has_key(const listed *l, const char *key) {
  for (int i = 0; i < l->count && i < 16; i++)
    if (strcmp(l->keys[i], key) == 0) return 1;
  return 0;
}

static void list_under_prefix(void **state) {
  visor_blob_store *store = *state;
  visor_error err = {0};
  const char *names[] = {"list/a", "list/b/c", "list/b/d", "listx/e"};
  int64_t written_from = visor_now_ms();
  for (int i = 0; i < 4; i++)
    assert_int_equal(visor_blob_put(store, K(names[i]), "12345", (size_t)i + 1, &err), VISOR_OK);
  /* An open writer's data (a temp file, a pending upload) is not listed. */
  visor_blob_writer *writer =
      store->ops->open_writer(store, K("list/pending"), VISOR_BLOB_SYNCED, &err);
  assert_non_null(writer);
  assert_int_equal(store->ops->write(writer, "x", 1, &err), VISOR_OK);

  listed l = {0};
  assert_int_equal(visor_blob_list(store, K("list/"), collect, &l, &err), VISOR_OK);
  assert_int_equal(l.count, 3);
  assert_int_equal(l.total, 1 + 2 + 3);
  assert_true(has_key(&l, K("list/a")));
  assert_true(has_key(&l, K("list/b/c")));
  assert_true(has_key(&l, K("list/b/d")));
  /* each object's age: mtime or LastModified (whole seconds on S3) */
  int64_t written_to = visor_now_ms();
  if (l.oldest < written_from - 2000 || l.newest > written_to + 2000)
    fail_msg("modified %lld..%lld, written %lld..%lld", (long long)l.oldest, (long long)l.newest,
             (long long)written_from, (long long)written_to);
  /* sweeping temp data older than a minute ago keeps a write in progress */
  size_t swept = 99;
  assert_int_equal(visor_blob_sweep_temp(store, written_from - 60000, &swept, &err), VISOR_OK);
  assert_int_equal(swept, 0);

  memset(&l, 0, sizeof l);
  assert_int_equal(visor_blob_list(store, K("list"), collect, &l, &err), VISOR_OK);
  assert_int_equal(l.count, 4); /* a string prefix: listx/ too */
  memset(&l, 0, sizeof l);
  assert_int_equal(visor_blob_list(store, K("list/b/"), collect, &l, &err), VISOR_OK);
  assert_int_equal(l.count, 2);
  memset(&l, 0, sizeof l);
  assert_int_equal(visor_blob_list(store, K("list/b/c"), collect, &l, &err), VISOR_OK);
  assert_int_equal(l.count, 1);
  memset(&l, 0, sizeof l);
  assert_int_equal(visor_blob_list(store, K("nothing/"), collect, &l, &err), VISOR_OK);
  assert_int_equal(l.count, 0);
  memset(&l, 0, sizeof l);
  l.stop_after = 1;
  assert_int_equal(visor_blob_list(store, run_prefix, collect, &l, &err), VISOR_OK);
  assert_int_equal(l.count, 1);
  memset(&l, 0, sizeof l);
  assert_int_equal(visor_blob_list(store, "", collect, &l, &err), VISOR_OK);
  assert_true(l.count >= 4);
  for (int i = 0; i < l.count && i < 16; i++)
    assert_null(strstr(l.keys[i], ".tmp"));
  const char *bad[] = {"/x", "../", "a//", "a/../b/", "sp ace", "/"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(visor_blob_list(store, bad[i], collect, &l, &err), VISOR_ERR_INVALID);

  store->ops->abort(writer);
  for (int i = 0; i < 4; i++)
    assert_int_equal(visor_blob_remove(store, K(names[i]), &err), VISOR_OK);
  memset(&l, 0, sizeof l);
  assert_int_equal(visor_blob_list(store, K("list"), collect, &l, &err), VISOR_OK);
  assert_int_equal(l.count, 0);
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
  char long_segment[300];
  memset(long_segment, 's', 256);
  long_segment[256] = '\0';
  assert_false(visor_blob_key_valid(long_segment)); /* over 255 in one segment */
  long_segment[255] = '\0';
  assert_true(visor_blob_key_valid(long_segment));
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
  snprintf(run_prefix, sizeof run_prefix, "run-%ld-%ld/", (long)getpid(), (long)time(NULL));
  char *list = strdup(urls);
  int failed = 0;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(put_get_remove, open_store, close_store),
      cmocka_unit_test_setup_teardown(streaming_write_and_ranged_read, open_store, close_store),
      cmocka_unit_test_setup_teardown(aborted_write_leaves_nothing, open_store, close_store),
      cmocka_unit_test_setup_teardown(empty_object, open_store, close_store),
      cmocka_unit_test_setup_teardown(writes_are_atomic, open_store, close_store),
      cmocka_unit_test_setup_teardown(unsynced_write_reads_back, open_store, close_store),
      cmocka_unit_test_setup_teardown(aborted_multipart_leaves_nothing, open_store, close_store),
      cmocka_unit_test_setup_teardown(large_object_round_trip_and_odd_ranges, open_store,
                                      close_store),
      cmocka_unit_test_setup_teardown(odd_but_valid_keys, open_store, close_store),
      cmocka_unit_test_setup_teardown(list_under_prefix, open_store, close_store),
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
