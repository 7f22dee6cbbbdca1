/* test_blob_s3.c: what only the S3 object store does, against the real server named by the
 * first s3:// URL in VISOR_TEST_BLOB_URLS (skipped, exit 77, when there is none): wrong
 * credentials give a clear VISOR_ERR_PERMISSION, aborted multipart uploads leave nothing
 * pending, listings page with continuation tokens, many threads share one store, and a
 * server that goes away (scripts/servers/s3.sh down) gives VISOR_ERR_UNAVAILABLE promptly,
 * and works again after `up` with the same store (only when VISOR_TEST_S3_SCRIPT names that
 * script and it serves this URL). Needs VISOR_S3_ACCESS_KEY / VISOR_S3_SECRET_KEY. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blob/blob.h"
#include "blob/blob_s3.h"

static char s3_url[1024];
static char run_prefix[64];

static const char *K(const char *name) {
  static char keys[4][VISOR_BLOB_KEY_MAX + 1];
  static int next;
  char *key = keys[next++ % 4];
  snprintf(key, VISOR_BLOB_KEY_MAX + 1, "%s%s", run_prefix, name);
  return key;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int open_store(void **state) {
  visor_error err = {0};
  visor_blob_store *store = visor_blob_open(s3_url, &err);
  if (!store) fail_msg("cannot open %s: %s", s3_url, err.message);
  *state = store;
  return 0;
}

static int close_store(void **state) {
  visor_blob_close(*state);
  return 0;
}

/* Runs fn with the environment variable name set to value (NULL = unset), then restores. */
static void with_env(const char *name, const char *value, void (*fn)(void)) {
  const char *old = getenv(name);
  char *saved = old ? strdup(old) : NULL;
  if (value)
    setenv(name, value, 1);
  else
    unsetenv(name);
  fn();
  if (saved)
    setenv(name, saved, 1);
  else
    unsetenv(name);
  free(saved);
}

static void expect_permission_error(void) {
  visor_error err = {0};
  visor_blob_store *store = visor_blob_open(s3_url, &err);
  assert_null(store);
  assert_int_equal(err.code, VISOR_ERR_PERMISSION);
  assert_non_null(strstr(err.message, "bucket '"));
  assert_non_null(strstr(err.message, "http://"));
  assert_non_null(strstr(err.message, "VISOR_S3_SECRET_KEY"));
  printf("# %s\n", err.message);
}

static void wrong_secret_is_a_clear_error(void **state) {
  (void)state;
  with_env("VISOR_S3_SECRET_KEY", "not-the-secret", expect_permission_error);
  with_env("VISOR_S3_ACCESS_KEY", "NOSUCHACCESSKEY", expect_permission_error);
}

static void expect_no_credentials(void) {
  const char *aws = getenv("AWS_SECRET_ACCESS_KEY");
  if (aws) return; /* the machine has AWS credentials: nothing to check */
  visor_error err = {0};
  assert_null(visor_blob_open(s3_url, &err));
  assert_int_equal(err.code, VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "VISOR_S3_ACCESS_KEY"));
}

static void missing_credentials_are_named(void **state) {
  (void)state;
  with_env("VISOR_S3_SECRET_KEY", NULL, expect_no_credentials);
}

static void bad_urls_are_refused(void **state) {
  (void)state;
  const char *bad[] = {
      "s3://",
      "s3://UPPER?endpoint=http://127.0.0.1:1",
      "s3://ok-bucket/path?endpoint=http://127.0.0.1:1",
      "s3://ok-bucket?endpoint=ftp://127.0.0.1:1",
      "s3://ok-bucket?endpoint=http://127.0.0.1:1&colour=blue",
      "s3://ok-bucket?endpoint=http://127.0.0.1:1&path_style=maybe",
      "s3://ok-bucket?endpoint=http://127.0.0.1:1&timeout=-1",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    visor_error err = {0};
    assert_null(visor_blob_open(bad[i], &err));
    assert_int_equal(err.code, VISOR_ERR_INVALID);
  }
}

static void nothing_listening_is_unavailable(void **state) {
  (void)state;
  visor_error err = {0};
  double started = now_s();
  assert_null(visor_blob_open("s3://visor-test?endpoint=http://127.0.0.1:9&path_style=1", &err));
  assert_int_equal(err.code, VISOR_ERR_UNAVAILABLE);
  assert_true(now_s() - started < 5);
}

static size_t pending(visor_blob_store *store, const char *prefix) {
  visor_error err = {0};
  size_t count = 99;
  if (visor_blob_s3_pending_uploads(store, prefix, &count, &err) != VISOR_OK)
    fail_msg("pending uploads: %s", err.message);
  return count;
}

static visor_blob_writer *write_bytes(visor_blob_store *store, const char *key, size_t size) {
  visor_error err = {0};
  visor_blob_writer *writer = store->ops->open_writer(store, key, VISOR_BLOB_SYNCED, &err);
  assert_non_null(writer);
  char *chunk = malloc(1 << 20);
  assert_non_null(chunk);
  memset(chunk, 'z', 1 << 20);
  for (size_t done = 0; done < size; done += 1 << 20)
    assert_int_equal(
        store->ops->write(writer, chunk, size - done < (1u << 20) ? size - done : 1u << 20, &err),
        VISOR_OK);
  free(chunk);
  return writer;
}

static void aborted_multipart_leaves_no_upload(void **state) {
  visor_blob_store *store = *state;
  visor_error err = {0};
  assert_true(visor_blob_is_s3(store));
  assert_int_equal(pending(store, run_prefix), 0);
  visor_blob_writer *writer = write_bytes(store, K("mp/aborted"), 7u << 20);
  assert_int_equal(pending(store, run_prefix), 1); /* the first part is up */
  store->ops->abort(writer);
  assert_int_equal(pending(store, run_prefix), 0);
  int exists = 1;
  assert_int_equal(store->ops->exists(store, K("mp/aborted"), &exists, &err), VISOR_OK);
  assert_false(exists);

  /* A committed one leaves no upload either, and a small one never starts one. */
  writer = write_bytes(store, K("mp/done"), 11u << 20);
  assert_int_equal(store->ops->commit(writer, &err), VISOR_OK);
  writer = write_bytes(store, K("mp/small"), 5u << 20); /* exactly one part: one PUT */
  assert_int_equal(pending(store, run_prefix), 0);
  assert_int_equal(store->ops->commit(writer, &err), VISOR_OK);
  assert_int_equal(pending(store, run_prefix), 0);
  uint64_t size = 0;
  visor_blob_reader *reader = store->ops->open_reader(store, K("mp/done"), &size, &err);
  assert_non_null(reader);
  assert_int_equal(size, 11u << 20);
  store->ops->close_reader(reader);
  assert_int_equal(visor_blob_remove(store, K("mp/done"), &err), VISOR_OK);
  assert_int_equal(visor_blob_remove(store, K("mp/small"), &err), VISOR_OK);

  /* A crashed writer's upload (never aborted) can be found and aborted. */
  writer = write_bytes(store, K("mp/crashed"), 6u << 20);
  assert_int_equal(pending(store, run_prefix), 1);
  size_t aborted = 0;
  assert_int_equal(visor_blob_s3_abort_uploads(store, run_prefix, &aborted, &err), VISOR_OK);
  assert_int_equal(aborted, 1);
  assert_int_equal(pending(store, run_prefix), 0);
  assert_int_not_equal(store->ops->commit(writer, &err), VISOR_OK); /* its upload is gone */
  assert_int_equal(store->ops->exists(store, K("mp/crashed"), &exists, &err), VISOR_OK);
  assert_false(exists);
}

static int count_keys(void *ctx, const char *key, uint64_t size, int64_t modified_ms) {
  (void)key;
  (void)size;
  (void)modified_ms;
  ++*(int *)ctx;
  return 0;
}

static void listing_pages_with_tokens(void **state) {
  (void)state;
  char url[1100];
  snprintf(url, sizeof url, "%s&page_size=2", s3_url);
  visor_error err = {0};
  visor_blob_store *store = visor_blob_open(url, &err);
  if (!store) fail_msg("cannot open %s: %s", url, err.message);
  char name[64];
  for (int i = 0; i < 7; i++) {
    snprintf(name, sizeof name, "paged/%d", i);
    assert_int_equal(visor_blob_put(store, K(name), "x", 1, &err), VISOR_OK);
  }
  int count = 0;
  assert_int_equal(visor_blob_list(store, K("paged/"), count_keys, &count, &err), VISOR_OK);
  assert_int_equal(count, 7);
  for (int i = 0; i < 7; i++) {
    snprintf(name, sizeof name, "paged/%d", i);
    assert_int_equal(visor_blob_remove(store, K(name), &err), VISOR_OK);
  }
  visor_blob_close(store);
}

typedef struct worker_args {
  visor_blob_store *store;
  int id;
  int failures;
} worker_args;

static void *worker(void *arg) {
  worker_args *args = arg;
  for (int i = 0; i < 15; i++) {
    char name[64], body[64];
    snprintf(name, sizeof name, "threads/%d/%d", args->id, i);
    int len = snprintf(body, sizeof body, "body %d %d", args->id, i);
    visor_error err = {0};
    char copy[VISOR_BLOB_KEY_MAX + 1]; /* not K(): its buffers are not per thread */
    snprintf(copy, sizeof copy, "%s%s", run_prefix, name);
    void *data = NULL;
    size_t got = 0;
    if (visor_blob_put(args->store, copy, body, (size_t)len, &err) != VISOR_OK ||
        visor_blob_get(args->store, copy, 0, &data, &got, &err) != VISOR_OK || got != (size_t)len ||
        memcmp(data, body, got) != 0 || visor_blob_remove(args->store, copy, &err) != VISOR_OK)
      args->failures++;
    free(data);
  }
  return NULL;
}

static void many_threads_share_a_store(void **state) {
  visor_blob_store *store = *state;
  pthread_t threads[8];
  worker_args args[8];
  for (int i = 0; i < 8; i++) {
    args[i] = (worker_args){store, i, 0};
    assert_int_equal(pthread_create(&threads[i], NULL, worker, &args[i]), 0);
  }
  int failures = 0;
  for (int i = 0; i < 8; i++) {
    pthread_join(threads[i], NULL);
    failures += args[i].failures;
  }
  assert_int_equal(failures, 0);
}

static const char *script(void) {
  return getenv("VISOR_TEST_S3_SCRIPT");
}

static int run_script(const char *command) {
  char line[2048];
  snprintf(line, sizeof line, "'%s' %s >/dev/null 2>&1", script(), command);
  return system(line);
}

/* The URL is the one scripts/servers/s3.sh serves (else it is not ours to stop). */
static int url_is_the_scripts(void) {
  char line[2048], got[1100] = "";
  snprintf(line, sizeof line, "'%s' url 2>/dev/null", script());
  FILE *pipe = popen(line, "r");
  if (!pipe) return 0;
  if (!fgets(got, sizeof got, pipe)) got[0] = '\0';
  pclose(pipe);
  got[strcspn(got, "\n")] = '\0';
  return strcmp(got, s3_url) == 0;
}

static void server_goes_away_and_comes_back(void **state) {
  visor_blob_store *store = *state;
  if (!script() || !*script() || !url_is_the_scripts()) {
    printf("# VISOR_TEST_S3_SCRIPT is not set or does not serve %s: skipped\n", s3_url);
    skip();
  }
  visor_error err = {0};
  assert_int_equal(visor_blob_put(store, K("survivor"), "still here", 10, &err), VISOR_OK);
  assert_int_equal(run_script("down"), 0);

  double started = now_s();
  int exists = 0;
  assert_int_equal(store->ops->exists(store, K("survivor"), &exists, &err), VISOR_ERR_UNAVAILABLE);
  double took = now_s() - started;
  printf("# server down: %s (%.2f s)\n", err.message, took);
  assert_true(took < 5);
  assert_non_null(strstr(err.message, "127.0.0.1"));
  started = now_s();
  assert_int_equal(visor_blob_put(store, K("while-down"), "x", 1, &err), VISOR_ERR_UNAVAILABLE);
  visor_blob_writer *writer =
      store->ops->open_writer(store, K("while-down-big"), VISOR_BLOB_SYNCED, &err);
  assert_non_null(writer);
  char *chunk = calloc(1, 5u << 20);
  assert_non_null(chunk);
  assert_int_equal(store->ops->write(writer, chunk, 5u << 20, &err), VISOR_OK);       /* buffered */
  assert_int_equal(store->ops->write(writer, chunk, 1, &err), VISOR_ERR_UNAVAILABLE); /* a part */
  store->ops->abort(writer);
  free(chunk);
  assert_true(now_s() - started < 10);

  double up_started = now_s();
  assert_int_equal(run_script("up"), 0);
  printf("# s3 server back after %.1f s\n", now_s() - up_started);
  /* The same store object works again, with the data kept. */
  void *data = NULL;
  size_t len = 0;
  assert_int_equal(visor_blob_get(store, K("survivor"), 0, &data, &len, &err), VISOR_OK);
  assert_int_equal(len, 10);
  assert_memory_equal(data, "still here", 10);
  free(data);
  assert_int_equal(visor_blob_remove(store, K("survivor"), &err), VISOR_OK);
}

static void nothing_is_left_behind(void **state) {
  visor_blob_store *store = *state;
  visor_error err = {0};
  int count = 0;
  assert_int_equal(visor_blob_list(store, run_prefix, count_keys, &count, &err), VISOR_OK);
  assert_int_equal(count, 0);
  assert_int_equal(pending(store, run_prefix), 0);
}

int main(void) {
  const char *urls = getenv("VISOR_TEST_BLOB_URLS");
  const char *found = urls ? strstr(urls, "s3://") : NULL;
  if (!found) {
    printf("no s3:// URL in VISOR_TEST_BLOB_URLS: skipped\n");
    return 77;
  }
  snprintf(s3_url, sizeof s3_url, "%.*s", (int)strcspn(found, " "), found);
  snprintf(run_prefix, sizeof run_prefix, "s3test-%ld-%ld/", (long)getpid(), (long)time(NULL));
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(wrong_secret_is_a_clear_error),
      cmocka_unit_test(missing_credentials_are_named),
      cmocka_unit_test(bad_urls_are_refused),
      cmocka_unit_test(nothing_listening_is_unavailable),
      cmocka_unit_test_setup_teardown(aborted_multipart_leaves_no_upload, open_store, close_store),
      cmocka_unit_test(listing_pages_with_tokens),
      cmocka_unit_test_setup_teardown(many_threads_share_a_store, open_store, close_store),
      cmocka_unit_test_setup_teardown(server_goes_away_and_comes_back, open_store, close_store),
      cmocka_unit_test_setup_teardown(nothing_is_left_behind, open_store, close_store),
  };
  return cmocka_run_group_tests_name(s3_url, tests, NULL, NULL);
}
