/* test_refit.c: the catalogue projection after its fit, with the real models and grocery
 * photos in a fresh Visor (embedded backends, a worker pool running every task kind in
 * the background, as `visor serve` does). With projection v1 current: an admin relabel, a
 * product's category change, a region delete and its undo show at once in the projected
 * space (its collection and the fused search). Then with --refit-after 4: adding 2
 * products of 2 photos (4 labelled images) queues exactly one "tune" job, which runs no
 * model, makes v2 current only once its collection holds every live region, while
 * searches in another thread keep finding every product; a product added after the fit
 * is found by its photo. Embedded backends; VISOR_TEST_REFIT_METADATA_URL (an empty
 * PostgreSQL database) and VISOR_TEST_REFIT_QUEUE_URL (redis://...) run it over the
 * distributed ones. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/clock.h"
#include "core/fsutil.h"
#include "core/uuid.h"
#include "eval/dataset.h"
#include "eval/eval_internal.h"
#include "jobs/job_state.h"
#include "pipeline/pipeline.h"
#include "pipeline/ranking.h"
#include "pipeline/refit.h"
#include "pipeline/retune.h"
#include "pipeline/tuned.h"
#include "service/catalogue.h"
#include "service/corrections.h"
#include "store/catalog.h"
#include "store/jobs.h"
#include "store/projections.h"
#include "store/regions.h"

#define PRODUCTS 6
#define PHOTOS 2 /* iconic + 1 train photo */
#define ADDED 2  /* products added later, PHOTOS each */
#define REFIT_AFTER (ADDED * PHOTOS)
#define ALL (PRODUCTS + ADDED + 1)
#define WAIT_MS 240000

/* A pass-through ML backend that counts the calls made outside the search thread. */
static _Thread_local int searching;

typedef struct counting_ml {
  visor_ml base;
  visor_ml *inner;
  atomic_int counting, calls;
} counting_ml;

static void count_call(visor_ml *ml) {
  counting_ml *c = (counting_ml *)ml;
  if (!searching && atomic_load(&c->counting)) atomic_fetch_add(&c->calls, 1);
}
static visor_code count_analyze(visor_ml *ml, const void *image, size_t len,
                                const visor_analyze_options *options, visor_analysis *out,
                                visor_error *err) {
  count_call(ml);
  counting_ml *c = (counting_ml *)ml;
  return c->inner->ops->analyze(c->inner, image, len, options, out, err);
}
static visor_code count_embed_boxes(visor_ml *ml, const void *image, size_t len,
                                    visor_region *regions, size_t count, visor_error *err) {
  count_call(ml);
  counting_ml *c = (counting_ml *)ml;
  return c->inner->ops->embed_boxes(c->inner, image, len, regions, count, err);
}
static visor_code count_info(visor_ml *ml, visor_model_info *info, visor_error *err) {
  counting_ml *c = (counting_ml *)ml;
  return c->inner->ops->embedder_info(c->inner, info, err);
}
static void count_close(visor_ml *ml) {
  (void)ml;
}
static const visor_ml_ops counting_ops = {count_analyze, count_embed_boxes, count_info,
                                          count_close};

static struct {
  char *dir;
  char metadata[600], objects[600], vectors[600], models[600];
  visor_config base, config;
  visor_app app;
  counting_ml ml;
  visor_ml *real_ml;
  visor_eval_dataset dataset;
  char product_ids[ALL][40];
  const char *query_paths[ALL];
  size_t index_jobs;
} t;

static const visor_correction_who admin = {.actor = "test", .request_id = NULL};

static visor_code add_product(int index, const char *name, const char *const *paths, size_t count,
                              visor_error *err) {
  visor_db_conn *conn = visor_db_acquire(t.app.db, err);
  if (!conn) return err->code;
  json_t *product = json_pack("{s:s, s:s, s:s}", "sku", name, "name", name, "category", "test");
  visor_uuid_new(t.product_ids[index]);
  visor_code code = visor_db_begin(conn, err);
  if (code == VISOR_OK) code = visor_product_insert(conn, t.product_ids[index], product, err);
  for (size_t i = 0; code == VISOR_OK && i < count; i++) {
    char *bytes = NULL;
    size_t len = 0;
    visor_stored_image image;
    char job_id[40];
    code = visor_read_file(paths[i], 64u << 20, &bytes, &len, err);
    if (code == VISOR_OK)
      code = visor_catalogue_store_bytes(&t.app, bytes, len, "p.jpg", &image, err);
    if (code == VISOR_OK)
      code =
          visor_catalogue_add_image(&t.app, conn, t.product_ids[index], &image.record, job_id, err);
    free(bytes);
  }
  if (code == VISOR_OK)
    code = visor_db_commit(conn, err);
  else
    visor_db_rollback(conn);
  visor_db_release(conn);
  json_decref(product);
  visor_app_jobs_committed(&t.app);
  t.index_jobs += count;
  return code;
}

/* Adds product index from dataset class `class_index` with up to photos photos (iconic
 * first); its query photo is its last one (in the catalogue, so it is found first). */
static void add_class(int index, size_t class_index, size_t photos) {
  const visor_eval_class *class = &t.dataset.classes[class_index];
  const char *paths[PHOTOS] = {class->iconic_path, NULL};
  size_t count = 1;
  for (size_t i = 0; i < t.dataset.train_count && count < photos; i++)
    if (t.dataset.train[i].fine_id == class->fine_id) paths[count++] = t.dataset.train[i].path;
  t.query_paths[index] = paths[count - 1];
  visor_error err = {0};
  assert_int_equal(add_product(index, class->name, paths, count, &err), VISOR_OK);
}

/* Waits until `jobs` jobs of kind are finished (none failed). */
static void wait_jobs(const char *kind, size_t jobs) {
  visor_error err = {0};
  int64_t done = 0, bad = 0;
  int64_t deadline = visor_now_ms() + WAIT_MS;
  while (visor_now_ms() < deadline) {
    assert_int_equal(visor_jobs_count_finished(t.app.db, kind, &done, &bad, &err), VISOR_OK);
    if ((size_t)done >= jobs) break;
    visor_sleep_ms(50);
  }
  assert_int_equal(bad, 0);
  assert_true((size_t)done >= jobs);
}

/* How many jobs of kind there are (any status). */
static int64_t job_total(const char *kind) {
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(t.app.db, &err);
  assert_non_null(conn);
  json_t *jobs = NULL;
  int64_t total = 0;
  assert_int_equal(visor_job_list(conn, NULL, kind, NULL, 10, 0, &jobs, &total, &err), VISOR_OK);
  visor_db_release(conn);
  json_decref(jobs);
  return total;
}

/* The rank (1-based) of product index in the current ranking of a photo (0 = not ranked);
 * with category, only that category is searched. */
static int rank_of(const char *path, int index, const char *category) {
  char *bytes = NULL;
  size_t len = 0;
  visor_error err = {0};
  visor_analysis analysis = {0};
  visor_ranking ranking = {0};
  int rank = -1;
  if (visor_read_file(path, 64u << 20, &bytes, &len, &err) != VISOR_OK ||
      visor_analyze_query(&t.app, bytes, len, &analysis, &err) != VISOR_OK) {
    free(bytes);
    return rank;
  }
  const char *categories[1] = {category};
  visor_vector_filter filter = {
      .model = t.app.embedder_model, .categories = categories, .category_count = category ? 1 : 0};
  if (visor_rank_products(&t.app, &analysis, &filter, 5, &ranking, &err) == VISOR_OK) {
    rank = 0;
    for (size_t i = 0; i < ranking.result_count && !rank; i++)
      if (ranking.results[i].ordinal == VISOR_SEARCH_OVERALL &&
          strcmp(ranking.results[i].product_id, t.product_ids[index]) == 0)
        rank = ranking.results[i].rank;
  }
  visor_ranking_free(&ranking);
  visor_analysis_free(&analysis);
  free(bytes);
  return rank;
}

/* The live regions of product index: {"id","image_id","vector_id","whole_image","label"}. */
static json_t *regions_of(int index) {
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(t.app.db, &err);
  assert_non_null(conn);
  json_t *regions = NULL;
  assert_int_equal(visor_region_vectors_of_product(conn, t.product_ids[index], &regions, &err),
                   VISOR_OK);
  visor_db_release(conn);
  return regions;
}

/* The ids of the projected vectors (current version) the filter matches near the projected
 * raw embedding of vector_id's region; *found says whether vector_id is among them. */
static size_t projected_hits(const char *image_id, const char *vector_id,
                             const visor_vector_filter *extra, int *found) {
  visor_error err = {0};
  visor_tuned_version *version = visor_tuned_acquire(&t.app);
  assert_non_null(version);
  visor_raw_embeddings raw = {0};
  assert_int_equal(visor_raw_embeddings_load(&t.app, image_id, &raw, &err), VISOR_OK);
  const float *embedding = NULL;
  for (size_t i = 0; i < raw.count; i++)
    if (strcmp(raw.ids[i], vector_id) == 0) embedding = raw.vectors + i * raw.dim;
  assert_non_null(embedding);
  float query[512];
  assert_true(version->projection.out_dim <= 512);
  assert_int_equal(visor_projection_apply(&version->projection, embedding, query, &err), VISOR_OK);
  visor_vector_filter filter = extra ? *extra : (visor_vector_filter){0};
  filter.model = version->model;
  visor_vector_hit hits[64];
  size_t count = 0;
  assert_int_equal(
      version->store->ops->search(version->store, query, 64, &filter, hits, &count, &err),
      VISOR_OK);
  *found = 0;
  for (size_t i = 0; i < count; i++)
    *found |= strcmp(hits[i].id, vector_id) == 0;
  visor_raw_embeddings_free(&raw);
  visor_tuned_release(&t.app, version);
  return count;
}

static int setup(void **state) {
  (void)state;
  const char *shared = getenv("VISOR_SHARED_DIR");
  char grocery[600];
  snprintf(grocery, sizeof grocery, "%s/datasets/grocery", shared ? shared : "../shared");
  snprintf(t.models, sizeof t.models, "%s/models", shared ? shared : "../shared");
  visor_error err = {0};
  assert_int_equal(visor_eval_dataset_load(grocery, &t.dataset, &err), VISOR_OK);
  assert_int_equal(visor_eval_make_temp_dir(&t.dir, &err), VISOR_OK);
  snprintf(t.metadata, sizeof t.metadata, "sqlite://%s/visor.db", t.dir);
  snprintf(t.objects, sizeof t.objects, "file://%s/blobs", t.dir);
  snprintf(t.vectors, sizeof t.vectors, "hnsw://%s/vectors", t.dir);
  int help = 0;
  assert_int_equal(visor_config_load(&t.base, 0, NULL, &help, &err), VISOR_OK);
  t.config = t.base;
  t.config.data_dir = t.dir;
  t.config.metadata_url = t.metadata;
  t.config.blob_url = t.objects;
  t.config.vector_url = t.vectors;
  t.config.queue_url = "local";
  /* The distributed backends when given (a fresh PostgreSQL database, a Redis prefix). */
  if (getenv("VISOR_TEST_REFIT_METADATA_URL"))
    t.config.metadata_url = getenv("VISOR_TEST_REFIT_METADATA_URL");
  if (getenv("VISOR_TEST_REFIT_QUEUE_URL"))
    t.config.queue_url = getenv("VISOR_TEST_REFIT_QUEUE_URL");
  t.config.models_dir = t.models;
  t.config.refit_after = 0; /* on in test_refit_after_n_labelled_images */
  assert_int_equal(
      visor_app_open(&t.app, &t.config, VISOR_PIPELINE_APP_PARTS, VISOR_APP_MIGRATE, &err),
      VISOR_OK);
  t.real_ml = t.app.ml;
  t.ml.base.ops = &counting_ops;
  t.ml.inner = t.real_ml;
  t.app.ml = &t.ml.base;
  /* Workers for every kind (index, search, meta, sync, tune), for the whole test. */
  visor_worker_config workers = {
      .concurrency = 2, .backoff_base_ms = 100, .backoff_max_ms = 2000, .poll_ms = 50};
  assert_int_equal(visor_app_create_workers(&t.app, &workers, &err), VISOR_OK);
  assert_int_equal(visor_pipeline_register(&t.app, t.app.workers, &err), VISOR_OK);
  assert_int_equal(visor_worker_pool_start(t.app.workers, &err), VISOR_OK);
  for (int p = 0; p < PRODUCTS; p++)
    add_class(p, (size_t)p * 7, PHOTOS);
  wait_jobs("index", t.index_jobs);
  /* v1, fitted on the 6 products (12 labelled images). */
  visor_retune_options options;
  visor_retune_options_default(&options);
  options.follower_wait_ms = 0; /* one process */
  visor_retune_report report;
  assert_int_equal(visor_retune(&t.app, &options, &report, &err), VISOR_OK);
  assert_int_equal(report.version, 1);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  visor_worker_pool_stop(t.app.workers);
  t.app.ml = t.real_ml;
  visor_app_close(&t.app);
  visor_eval_remove_tree(t.dir);
  free(t.dir);
  visor_eval_dataset_free(&t.dataset);
  visor_config_free(&t.base);
  return 0;
}

static void test_corrections_reach_the_projection_at_once(void **state) {
  (void)state;
  visor_error err = {0};
  assert_int_equal(visor_tuned_current_version(&t.app), 1);
  json_t *regions = regions_of(0);
  assert_true(json_array_size(regions) >= 1);
  json_t *region = json_array_get(regions, 0);
  const char *region_id = json_string_value(json_object_get(region, "id"));
  const char *image_id = json_string_value(json_object_get(region, "image_id"));
  const char *vector_id = json_string_value(json_object_get(region, "vector_id"));
  int found = 0;

  /* A relabel: the projected vector carries the new region_label at once. */
  const char *label_filter[1] = {"region_label=relabelled by test"};
  visor_vector_filter by_label = {.labels = label_filter, .label_count = 1};
  assert_int_equal(projected_hits(image_id, vector_id, &by_label, &found), 0);
  json_t *changes = json_pack("{s:s}", "label", "relabelled by test");
  visor_correction_result result = {0};
  assert_int_equal(visor_correct_region(&t.app, &admin, region_id, changes, &result, &err),
                   VISOR_OK);
  json_decref(changes);
  visor_correction_result_free(&result);
  assert_int_equal(projected_hits(image_id, vector_id, &by_label, &found), 1);
  assert_true(found);

  /* A category change (its "meta" job): every projected vector of the product follows, and
   * the fused search within the new category finds the product first. */
  changes = json_pack("{s:s}", "category", "moved");
  assert_int_equal(visor_correct_product(&t.app, &admin, t.product_ids[0], changes, &result, &err),
                   VISOR_OK);
  json_decref(changes);
  visor_correction_result_free(&result);
  wait_jobs("meta", 1);
  const char *moved[1] = {"moved"};
  visor_vector_filter by_category = {.categories = moved, .category_count = 1};
  assert_int_equal(projected_hits(image_id, vector_id, &by_category, &found),
                   json_array_size(regions));
  assert_true(found);
  assert_int_equal(rank_of(t.query_paths[0], 0, "moved"), 1);
  assert_int_equal(rank_of(t.query_paths[1], 1, "moved"), 0);

  /* A delete: gone from the projected collection at once; its undo embeds it again, into
   * the raw and the projected collection, with its label and category. */
  visor_tuned_version *version = visor_tuned_acquire(&t.app);
  size_t before = version->store->ops->count(version->store);
  assert_int_equal(visor_delete_region(&t.app, &admin, region_id, &result, &err), VISOR_OK);
  char audit_id[64];
  snprintf(audit_id, sizeof audit_id, "%s",
           json_string_value(json_object_get(result.entry, "id")) ?: "");
  visor_correction_result_free(&result);
  assert_int_equal(version->store->ops->count(version->store), before - 1);
  assert_int_equal(projected_hits(image_id, vector_id, &by_category, &found),
                   json_array_size(regions) - 1);
  assert_false(found);
  int64_t calls = atomic_load(&t.ml.calls);
  atomic_store(&t.ml.counting, 1);
  assert_int_equal(visor_undo_correction(&t.app, &admin, audit_id, &result, &err), VISOR_OK);
  atomic_store(&t.ml.counting, 0);
  visor_correction_result_free(&result);
  assert_true(atomic_load(&t.ml.calls) > calls); /* embedded again */
  assert_int_equal(version->store->ops->count(version->store), before);
  assert_int_equal(projected_hits(image_id, vector_id, &by_label, &found), 1);
  assert_true(found);
  assert_int_equal(projected_hits(image_id, vector_id, &by_category, &found),
                   json_array_size(regions));
  visor_tuned_release(&t.app, version);
  assert_int_equal(rank_of(t.query_paths[0], 0, "moved"), 1);
  json_decref(regions);
}

/* Searches every product of the catalogue over and over while the refit runs; records
 * misses, the versions seen, and whether a current v2 ever lacked a live region. */
typedef struct search_loop {
  atomic_int stop;
  int searches, misses, saw_v1, saw_v2, v2_incomplete;
  size_t live_regions;
} search_loop;

static void *search_while_refitting(void *arg) {
  search_loop *loop = arg;
  searching = 1;
  while (!atomic_load(&loop->stop)) {
    int p = loop->searches % PRODUCTS;
    const char *category = p == 0 ? "moved" : "test";
    loop->misses += rank_of(t.query_paths[p], p, category) != 1;
    visor_tuned_version *version = visor_tuned_acquire(&t.app);
    if (version && version->projection.version == 1) loop->saw_v1 = 1;
    if (version && version->projection.version == 2) {
      loop->saw_v2 = 1;
      loop->v2_incomplete |= version->store->ops->count(version->store) < loop->live_regions;
    }
    visor_tuned_release(&t.app, version);
    loop->searches++;
  }
  return NULL;
}

static size_t live_region_count(void) {
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(t.app.db, &err);
  assert_non_null(conn);
  visor_db_rows rows = {0};
  assert_int_equal(visor_projection_live_regions(conn, &rows, &err), VISOR_OK);
  size_t count = rows.row_count;
  visor_db_rows_free(&rows);
  visor_db_release(conn);
  return count;
}

static void test_refit_after_n_labelled_images(void **state) {
  (void)state;
  visor_error err = {0};
  int queued = 1;
  t.config.refit_after = REFIT_AFTER;
  assert_int_equal(visor_refit_check(&t.app, &queued, &err), VISOR_OK);
  assert_int_equal(queued, 0); /* nothing new since v1's fit */
  /* One product (2 labelled images) is not enough. */
  add_class(PRODUCTS, 50, PHOTOS);
  wait_jobs("index", t.index_jobs);
  assert_int_equal(job_total("tune"), 0);
  visor_tuned_version *v1 = visor_tuned_acquire(&t.app);
  assert_non_null(v1);
  assert_true(v1->store->ops->count(v1->store) > 0);
  search_loop loop = {0};
  pthread_t thread;
  assert_int_equal(pthread_create(&thread, NULL, search_while_refitting, &loop), 0);
  /* The second makes 4: the refit is queued by the index task of its last image. */
  add_class(PRODUCTS + 1, 57, PHOTOS);
  wait_jobs("index", t.index_jobs);
  loop.live_regions = live_region_count();
  atomic_store(&t.ml.counting, 1);
  int64_t calls = atomic_load(&t.ml.calls);
  assert_int_equal(visor_refit_check(&t.app, &queued, &err), VISOR_OK);
  assert_int_equal(queued, 0); /* queued already (or done): never a second one */
  wait_jobs("tune", 1);
  atomic_store(&t.ml.counting, 0);
  assert_int_equal(atomic_load(&t.ml.calls), calls); /* the refit ran no model */
  /* Let the searches see the new version a few times. */
  int64_t until = visor_now_ms() + 1000;
  while (visor_now_ms() < until)
    visor_sleep_ms(50);
  atomic_store(&loop.stop, 1);
  pthread_join(thread, NULL);
  assert_int_equal(job_total("tune"), 1);
  /* v1's collection was emptied after the switch (while searches could still hold it). */
  assert_int_equal(v1->store->ops->count(v1->store), 0);
  visor_tuned_release(&t.app, v1);
  assert_true(loop.searches > 0);
  assert_int_equal(loop.misses, 0);
  assert_true(loop.saw_v1); /* searches ran on v1 while v2 was built */
  assert_true(loop.saw_v2);
  assert_false(loop.v2_incomplete);
  visor_tuned_version *now = visor_tuned_acquire(&t.app);
  assert_non_null(now);
  assert_int_equal(now->projection.version, 2);
  assert_true(visor_projection_has_class(&now->projection, t.product_ids[PRODUCTS + 1]));
  visor_tuned_release(&t.app, now);
  /* v2 was fitted with every labelled image: nothing is due, and the corrections made
   * under v1 are in v2 (the category of product 0). */
  assert_int_equal(visor_refit_check(&t.app, &queued, &err), VISOR_OK);
  assert_int_equal(queued, 0);
  assert_int_equal(rank_of(t.query_paths[0], 0, "moved"), 1);
  for (int p = 0; p < PRODUCTS + ADDED; p++)
    assert_int_equal(rank_of(t.query_paths[p], p, p == 0 ? "moved" : "test"), 1);
}

static void test_product_added_after_the_refit_is_found(void **state) {
  (void)state;
  add_class(ALL - 1, 3, 1);
  wait_jobs("index", t.index_jobs);
  visor_tuned_version *now = visor_tuned_acquire(&t.app);
  assert_false(visor_projection_has_class(&now->projection, t.product_ids[ALL - 1]));
  visor_tuned_release(&t.app, now);
  assert_int_equal(rank_of(t.query_paths[ALL - 1], ALL - 1, NULL), 1);
  assert_int_equal(job_total("tune"), 1); /* a 1-photo product is not labelled */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_corrections_reach_the_projection_at_once),
      cmocka_unit_test(test_refit_after_n_labelled_images),
      cmocka_unit_test(test_product_added_after_the_refit_is_found),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
