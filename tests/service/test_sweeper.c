/* test_sweeper.c: the orphan sweeper after a simulated crash (issue 12, #5): an upload's
 * images/<new id>/original with no row, the crop of an interrupted index attempt (no
 * region row), a temp file of a cut-off write; aged past a short grace period, a sweep
 * removes them and keeps every object a row owns and every young one. Runs over file://
 * and over each s3:// URL in VISOR_TEST_BLOB_URLS, in a new bucket of its own
 * (visor-sweeper-PID, on the URL's server with its keys), where a cut-off multipart
 * upload plays the temp file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob/blob_s3.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "core/uuid.h"
#include "service/sweeper.h"
#include "store/catalog.h"
#include "store/regions.h"

static const char *blob_url;

typedef struct fixture {
  char data_dir[64];
  visor_config config;
  visor_app app;
} fixture;

static int open_app(void **state) {
  fixture *f = calloc(1, sizeof *f);
  snprintf(f->data_dir, sizeof f->data_dir, "/tmp/visor-sweeper-XXXXXX");
  if (!mkdtemp(f->data_dir)) return -1;
  char blobs[1200];
  if (blob_url)
    snprintf(blobs, sizeof blobs, "%s", blob_url);
  else
    snprintf(blobs, sizeof blobs, "file://%s/blobs", f->data_dir);
  char *argv[] = {"--data-dir", f->data_dir, "--objects", blobs, "--log-level", "error"};
  int help = 0;
  visor_error err = {0};
  if (visor_config_load(&f->config, 6, argv, &help, &err) != VISOR_OK ||
      visor_app_open(&f->app, &f->config, 0, VISOR_APP_MIGRATE, &err) != VISOR_OK) {
    fprintf(stderr, "open: %s\n", err.message);
    return -1;
  }
  *state = f;
  return 0;
}

static int close_app(void **state) {
  fixture *f = *state;
  visor_app_close(&f->app);
  visor_config_free(&f->config);
  char command[128];
  snprintf(command, sizeof command, "rm -rf %s", f->data_dir);
  if (system(command) != 0) return -1;
  free(f);
  return 0;
}

static int exists(visor_app *app, const char *key) {
  int found = 0;
  visor_error err = {0};
  assert_int_equal(app->blobs->ops->exists(app->blobs, key, &found, &err), VISOR_OK);
  return found;
}

static void put(visor_app *app, const char *key) {
  visor_error err = {0};
  assert_int_equal(visor_blob_put(app->blobs, key, "not really a jpeg", 17, &err), VISOR_OK);
}

/* A product with one image (its original) and one region (its crop), all with rows. */
static void add_owned(visor_app *app, char image_key[128], char crop_key[128]) {
  char product_id[40], image_id[40], region_id[40];
  visor_uuid_new(product_id);
  visor_uuid_new(image_id);
  visor_uuid_new(region_id);
  snprintf(image_key, 128, "images/%s/original", image_id);
  snprintf(crop_key, 128, "crops/%s/%s.jpg", image_id, region_id);
  put(app, image_key);
  put(app, crop_key);
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(app->db, &err);
  assert_non_null(conn);
  assert_int_equal(visor_db_begin(conn, &err), VISOR_OK);
  char sku[48];
  snprintf(sku, sizeof sku, "SWEEP-%.8s", product_id + 28);
  json_t *product = json_pack("{s:s, s:s}", "sku", sku, "name", "kept");
  assert_int_equal(visor_product_insert(conn, product_id, product, &err), VISOR_OK);
  json_decref(product);
  visor_image_record image = {.id = image_id,
                              .purpose = "product",
                              .object_key = image_key,
                              .width = 10,
                              .height = 10,
                              .format = "jpeg",
                              .size_bytes = 17,
                              .sha256 = "0"};
  assert_int_equal(visor_image_insert(conn, &image, &err), VISOR_OK);
  visor_region_record region = {.id = region_id,
                                .image_id = image_id,
                                .product_id = product_id,
                                .w = 10,
                                .h = 10,
                                .whole_image = 1,
                                .labels_json = "[]",
                                .source = "model",
                                .crop_key = crop_key,
                                .vector_id = region_id,
                                .model = "test@1"};
  visor_code code = visor_region_insert(conn, &region, &err);
  if (code) fail_msg("region: %s", err.message);
  assert_int_equal(visor_db_commit(conn, &err), VISOR_OK);
  visor_db_release(conn);
}

/* A file in the file store's temp folder, as a write cut off by kill -9 leaves it. */
static void crash_temp_file(fixture *f, char *path, size_t size) {
  snprintf(path, size, "%s/blobs/.tmp/0190c0de-dead-7000-8000-00000000cafe", f->data_dir);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "half", 4), 4);
  close(fd);
}

/* An S3 write of 7 MiB left open: its first 5 MiB part is up in a pending upload. */
static visor_blob_writer *start_multipart(visor_app *app, const char *key) {
  visor_error err = {0};
  visor_blob_writer *writer =
      app->blobs->ops->open_writer(app->blobs, key, VISOR_BLOB_SYNCED, &err);
  assert_non_null(writer);
  char *chunk = calloc(1, 1 << 20);
  for (int i = 0; i < 7; i++)
    assert_int_equal(app->blobs->ops->write(writer, chunk, 1 << 20, &err), VISOR_OK);
  free(chunk);
  size_t pending = 0;
  assert_int_equal(visor_blob_s3_pending_uploads(app->blobs, "", &pending, &err), VISOR_OK);
  assert_int_equal(pending, 1);
  return writer;
}

static void sweeps_orphans_after_a_crash(void **state) {
  fixture *f = *state;
  visor_app *app = &f->app;
  char owned_image[128], owned_crop[128], orphan_image[128], orphan_crop[128];
  char young_image[128], temp_path[600] = "";
  add_owned(app, owned_image, owned_crop);
  /* the crash: an upload's original without rows, and a crop of an attempt whose region
   * rows were never written (of the owned image: the retry wrote other regions) */
  char id[40];
  visor_uuid_new(id);
  snprintf(orphan_image, sizeof orphan_image, "images/%s/original", id);
  visor_uuid_new(id);
  snprintf(orphan_crop, sizeof orphan_crop, "%.*s%s.jpg",
           (int)(strrchr(owned_crop, '/') - owned_crop + 1), owned_crop, id);
  put(app, orphan_image);
  put(app, orphan_crop);
  int file_store = !visor_blob_is_s3(app->blobs);
  visor_blob_writer *cut_off = NULL; /* S3: a multipart upload with its first part up */
  if (file_store)
    crash_temp_file(f, temp_path, sizeof temp_path);
  else
    cut_off = start_multipart(app, "images/cut-off/original");
  /* the grace period protects everything young: nothing goes yet */
  visor_sweep_report report;
  visor_error err = {0};
  assert_int_equal(visor_sweep_once(app, 60000, &report, &err), VISOR_OK);
  assert_int_equal(report.orphans, 0);
  assert_int_equal(report.temp_removed, 0);
  assert_true(exists(app, orphan_image) && exists(app, orphan_crop));
  /* age them past a 1 s grace (S3's LastModified has whole seconds) */
  visor_sleep_ms(2300);
  visor_uuid_new(id);
  snprintf(young_image, sizeof young_image, "images/%s/original", id);
  put(app, young_image); /* an upload in progress: its rows are not written yet */
  assert_int_equal(visor_sweep_once(app, 1000, &report, &err), VISOR_OK);
  assert_int_equal(report.orphans, 2);
  assert_true(report.young >= 1);
  assert_false(exists(app, orphan_image));
  assert_false(exists(app, orphan_crop));
  assert_true(exists(app, owned_image));
  assert_true(exists(app, owned_crop));
  assert_true(exists(app, young_image));
  assert_int_equal(report.temp_removed, 1);
  if (file_store) {
    assert_int_equal(access(temp_path, F_OK), -1);
  } else {
    size_t pending = 9;
    assert_int_equal(visor_blob_s3_pending_uploads(app->blobs, "", &pending, &err), VISOR_OK);
    assert_int_equal(pending, 0);
    app->blobs->ops->abort(cut_off); /* frees the writer; its upload is gone already */
  }
  char *metrics = visor_metrics_render();
  assert_non_null(strstr(metrics, "visor_sweeper_removed_total{what=\"object\"}"));
  free(metrics);
  /* nothing left to do: a second sweep removes nothing */
  assert_int_equal(visor_sweep_once(app, 1000, &report, &err), VISOR_OK);
  assert_int_equal(report.orphans, 0);
  visor_blob_remove(app->blobs, young_image, NULL);
  visor_blob_remove(app->blobs, owned_image, NULL);
  visor_blob_remove(app->blobs, owned_crop, NULL);
}

/* The thread of visor serve / visor worker: sweeps at start, stops at once when asked. */
static void the_thread_sweeps_at_start(void **state) {
  fixture *f = *state;
  visor_app *app = &f->app;
  char id[40], key[128];
  visor_uuid_new(id);
  snprintf(key, sizeof key, "images/%s/original", id);
  put(app, key);
  visor_sleep_ms(1200);
  visor_error err = {0};
  double started = visor_monotonic_s();
  visor_sweeper *sweeper = visor_sweeper_start(app, 3600, 0, &err);
  assert_non_null(sweeper);
  for (int i = 0; i < 100 && exists(app, key); i++)
    visor_sleep_ms(50);
  assert_false(exists(app, key));
  visor_sweeper_stop(sweeper);
  assert_true(visor_monotonic_s() - started < 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(sweeps_orphans_after_a_crash, open_app, close_app),
      cmocka_unit_test_setup_teardown(the_thread_sweeps_at_start, open_app, close_app),
  };
  int failed = cmocka_run_group_tests_name("file://", tests, NULL, NULL);
  const char *urls = getenv("VISOR_TEST_BLOB_URLS");
  char *list = strdup(urls ? urls : "");
  for (char *save = NULL, *url = strtok_r(list, " ", &save); url;
       url = strtok_r(NULL, " ", &save)) {
    if (strncmp(url, "s3://", 5) != 0) continue;
    /* a bucket of its own: a sweep with a 1 s grace must not touch other tests' objects */
    static char own[1200];
    const char *query = strchr(url, '?');
    snprintf(own, sizeof own, "s3://visor-sweeper-%d%s", (int)getpid(), query ? query : "");
    blob_url = own;
    failed += cmocka_run_group_tests_name(url, tests, NULL, NULL);
  }
  free(list);
  return failed;
}
