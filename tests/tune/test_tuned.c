/* test_tuned.c: the served catalogue projection end to end, with the real models and
 * grocery photos in a fresh Visor (embedded backends, in-process workers): products with
 * 3 photos each are indexed, `visor tune`'s refit (visor_retune) fits and re-projects
 * without one call to the ML backend (counted by a pass-through wrapper), a product's own
 * photo finds it first while a refit runs in another thread (no unsearchable window) and
 * after it, a search holding the old version keeps to it while the new one is current
 * (the new collection has no vector of the old version), and a product added after the
 * fit is found first by its photo. */
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

#include "core/fsutil.h"
#include "core/uuid.h"
#include "eval/dataset.h"
#include "eval/eval_internal.h"
#include "pipeline/pipeline.h"
#include "pipeline/ranking.h"
#include "pipeline/retune.h"
#include "pipeline/tuned.h"
#include "service/catalogue.h"
#include "store/catalog.h"
#include "jobs/job_state.h"

#define PRODUCTS 6
#define PHOTOS 3 /* iconic + 2 train photos */

/* A pass-through ML backend that counts every call that runs a model. */
/* Calls are counted on the threads that set this (the one running the refit). */
static _Thread_local int watched;

typedef struct counting_ml {
  visor_ml base;
  visor_ml *inner;
  atomic_int calls;
} counting_ml;

static visor_code count_analyze(visor_ml *ml, const void *image, size_t len,
                                const visor_analyze_options *options, visor_analysis *out,
                                visor_error *err) {
  counting_ml *c = (counting_ml *)ml;
  if (watched) atomic_fetch_add(&c->calls, 1);
  return c->inner->ops->analyze(c->inner, image, len, options, out, err);
}
static visor_code count_embed_boxes(visor_ml *ml, const void *image, size_t len,
                                    visor_region *regions, size_t count, visor_error *err) {
  counting_ml *c = (counting_ml *)ml;
  if (watched) atomic_fetch_add(&c->calls, 1);
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
  char product_ids[PRODUCTS + 1][40];
  const char *query_paths[PRODUCTS + 1];
} t;

static visor_code add_product(int index, const char *name, const char *const *paths, size_t count,
                              visor_error *err) {
  visor_db_conn *conn = visor_db_acquire(t.app.db, err);
  if (!conn) return err->code;
  json_t *product = json_pack("{s:s, s:s, s:s}", "sku", name, "name", name, "category", "test");
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
  return code;
}

static void index_all(size_t jobs) {
  size_t failed = 0;
  double seconds = 0;
  visor_error err = {0};
  assert_int_equal(visor_eval_index(&t.app, 2, jobs, NULL, &failed, &seconds, &err), VISOR_OK);
  assert_int_equal(failed, 0);
}

/* The rank (1-based) of product index in the ranking of a photo (0 = not ranked). */
static int rank_of(const visor_tuned_version *version, int use_current, const char *path,
                   int index) {
  char *bytes = NULL;
  size_t len = 0;
  visor_error err = {0};
  visor_analysis analysis = {0};
  visor_ranking ranking = {0};
  assert_int_equal(visor_read_file(path, 64u << 20, &bytes, &len, &err), VISOR_OK);
  assert_int_equal(visor_analyze_query(&t.app, bytes, len, &analysis, &err), VISOR_OK);
  visor_vector_filter filter = {.model = t.app.embedder_model};
  visor_code code = use_current ? visor_rank_products(&t.app, &analysis, &filter, 5, &ranking, &err)
                                : visor_rank_products_with(&t.app, version, &analysis, &filter, 5,
                                                           &ranking, &err);
  assert_int_equal(code, VISOR_OK);
  int rank = 0;
  for (size_t i = 0; i < ranking.result_count && !rank; i++)
    if (ranking.results[i].ordinal == VISOR_SEARCH_OVERALL &&
        strcmp(ranking.results[i].product_id, t.product_ids[index]) == 0)
      rank = ranking.results[i].rank;
  visor_ranking_free(&ranking);
  visor_analysis_free(&analysis);
  free(bytes);
  return rank;
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
  t.config.models_dir = t.models;
  assert_int_equal(
      visor_app_open(&t.app, &t.config, VISOR_PIPELINE_APP_PARTS, VISOR_APP_MIGRATE, &err),
      VISOR_OK);
  t.real_ml = t.app.ml;
  t.ml.base.ops = &counting_ops;
  t.ml.inner = t.real_ml;
  t.app.ml = &t.ml.base;
  /* Products: every 7th class, its iconic image and its first 2 train photos; the query
   * photo of each is its second train photo (in the catalogue, so it is found first). */
  size_t jobs = 0;
  for (int p = 0; p < PRODUCTS; p++) {
    const visor_eval_class *class = &t.dataset.classes[p * 7];
    const char *paths[PHOTOS] = {class->iconic_path, NULL, NULL};
    size_t count = 1;
    for (size_t i = 0; i < t.dataset.train_count && count < PHOTOS; i++)
      if (t.dataset.train[i].fine_id == class->fine_id) paths[count++] = t.dataset.train[i].path;
    t.query_paths[p] = paths[count - 1];
    visor_uuid_new(t.product_ids[p]);
    assert_int_equal(add_product(p, class->name, paths, count, &err), VISOR_OK);
    jobs += count;
  }
  index_all(jobs);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  t.app.ml = t.real_ml;
  visor_app_close(&t.app);
  visor_eval_remove_tree(t.dir);
  free(t.dir);
  visor_eval_dataset_free(&t.dataset);
  visor_config_free(&t.base);
  return 0;
}

typedef struct search_loop {
  atomic_int stop;
  int searches, misses;
} search_loop;

static void *search_while_refitting(void *arg) {
  search_loop *loop = arg;
  while (!atomic_load(&loop->stop)) {
    int p = loop->searches % PRODUCTS;
    loop->misses += rank_of(NULL, 1, t.query_paths[p], p) != 1;
    loop->searches++;
  }
  return NULL;
}

static void test_refit_runs_no_model_and_leaves_no_window(void **state) {
  (void)state;
  visor_error err = {0};
  visor_retune_report report;
  visor_retune_options options;
  visor_retune_options_default(&options);
  options.keep_previous = 1;
  search_loop loop = {0};
  pthread_t thread;
  assert_int_equal(pthread_create(&thread, NULL, search_while_refitting, &loop), 0);
  /* Raw cosine first, then v1 while searches run; the refit itself runs no model. */
  watched = 1;
  assert_int_equal(visor_retune(&t.app, &options, &report, &err), VISOR_OK);
  watched = 0;
  assert_int_equal(atomic_load(&t.ml.calls), 0);
  atomic_store(&loop.stop, 1);
  pthread_join(thread, NULL);
  assert_true(loop.searches > 0);
  assert_int_equal(report.version, 1);
  assert_int_equal(report.products, PRODUCTS);
  assert_true(report.projected_vectors >= PRODUCTS * PHOTOS);
  assert_int_equal(loop.misses, 0);
  assert_int_equal(visor_tuned_current_version(&t.app), 1);
  for (int p = 0; p < PRODUCTS; p++)
    assert_int_equal(rank_of(NULL, 1, t.query_paths[p], p), 1);
}

static void test_a_search_keeps_its_version(void **state) {
  (void)state;
  visor_error err = {0};
  visor_tuned_version *old = visor_tuned_acquire(&t.app);
  assert_non_null(old);
  int64_t old_version = old->projection.version;
  visor_retune_report report;
  visor_retune_options options;
  visor_retune_options_default(&options);
  options.keep_previous = 1;
  options.fit.out_dim = 3; /* a different dimension: mixing could not even be searched */
  assert_int_equal(visor_retune(&t.app, &options, &report, &err), VISOR_OK);
  assert_int_equal(report.previous_version, old_version);
  visor_tuned_version *now = visor_tuned_acquire(&t.app);
  assert_non_null(now);
  assert_int_equal(now->projection.version, old_version + 1);
  assert_int_equal(now->projection.out_dim, 3);
  /* The old version still answers on its own collection, the new one on its own. */
  assert_int_equal(rank_of(old, 0, t.query_paths[0], 0), 1);
  assert_int_equal(rank_of(now, 0, t.query_paths[0], 0), 1);
  /* The new collection holds only vectors of the new version. */
  float query[3] = {1, 0, 0};
  visor_vector_hit hits[64];
  size_t count = 0;
  visor_vector_filter by_old = {.model = old->model}, by_new = {.model = now->model};
  assert_int_equal(now->store->ops->search(now->store, query, 64, &by_old, hits, &count, &err),
                   VISOR_OK);
  assert_int_equal(count, 0);
  assert_int_equal(now->store->ops->search(now->store, query, 64, &by_new, hits, &count, &err),
                   VISOR_OK);
  assert_true(count > 0);
  visor_tuned_release(&t.app, old);
  visor_tuned_release(&t.app, now);
}

static void test_product_added_after_fit_is_found(void **state) {
  (void)state;
  visor_error err = {0};
  const visor_eval_class *class = &t.dataset.classes[3];
  const char *paths[1] = {class->iconic_path};
  visor_uuid_new(t.product_ids[PRODUCTS]);
  assert_int_equal(add_product(PRODUCTS, class->name, paths, 1, &err), VISOR_OK);
  int64_t done = 0, bad = 0;
  assert_int_equal(visor_jobs_count_finished(t.app.db, "index", &done, &bad, &err), VISOR_OK);
  index_all((size_t)done + 1);
  visor_tuned_version *now = visor_tuned_acquire(&t.app);
  assert_false(visor_projection_has_class(&now->projection, t.product_ids[PRODUCTS]));
  visor_tuned_release(&t.app, now);
  assert_int_equal(rank_of(NULL, 1, class->iconic_path, PRODUCTS), 1);
  /* A test photo of it, too, ranks it in the top 5 (6 + 1 products). */
  for (size_t i = 0; i < t.dataset.test_count; i++)
    if (t.dataset.test[i].fine_id == class->fine_id) {
      assert_true(rank_of(NULL, 1, t.dataset.test[i].path, PRODUCTS) >= 1);
      break;
    }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_refit_runs_no_model_and_leaves_no_window),
      cmocka_unit_test(test_a_search_keeps_its_version),
      cmocka_unit_test(test_product_added_after_fit_is_found),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
