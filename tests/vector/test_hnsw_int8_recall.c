/* test_hnsw_int8_recall.c: search quality of the int8 index (hnsw://?quantization=int8) on
 * real embeddings, through the store interface: recall@10 >= 0.95 against exact search at
 * the default ef_search, for the full vectors in memory and mapped from the snapshot (after
 * a close and reopen); a 1% filter still exact; the float index on the same data for
 * comparison. Data: the first 10 000 + 300 vectors (2 000 + 100 under ASan) of an .fvecs file of
 * Visor's embedder (1280-d MobileNetV2 features of the Grocery Store photos and random views of
 * them, see bench/pipeline/make_embeddings.c): $VISOR_TEST_EMBEDDINGS, else
 * $VISOR_SHARED_DIR/embeddings/grocery.fvecs, else /tmp/visor-grocery-{20k,100k}.fvecs (where
 * docs/BENCHMARKS.md puts them), else made by running make_embeddings (when built) into
 * /tmp/visor-grocery-12k.fvecs. Skipped (77) when none of these is possible. Label "heavy". */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"
#include "vector/distance.h"
#include "vector/vector.h"

/* Under the sanitizers (10 to 20 times slower) a smaller subset keeps the test bounded. */
#if defined(__SANITIZE_ADDRESS__)
#define BASE 2000
#define QUERIES 100
#else
#define BASE 10000
#define QUERIES 300
#endif
#define K 10
#define CATEGORIES 100

static float *data;
static size_t dim;
static uint32_t *truth, *ftruth; /* exact top K: unfiltered, and of category c7 */

static int file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && st.st_size > 0;
}

static const char *find_embeddings(char *buf, size_t cap) {
  const char *env = getenv("VISOR_TEST_EMBEDDINGS");
  if (env && *env) return env;
  const char *shared = getenv("VISOR_SHARED_DIR");
  if (shared) {
    snprintf(buf, cap, "%s/embeddings/grocery.fvecs", shared);
    if (file_exists(buf)) return buf;
  }
  const char *known[] = {"/tmp/visor-grocery-20k.fvecs", "/tmp/visor-grocery-100k.fvecs",
                         "/tmp/visor-grocery-12k.fvecs"};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (file_exists(known[i])) return known[i];
#ifdef VISOR_MAKE_EMBEDDINGS
  if (file_exists(VISOR_MAKE_EMBEDDINGS)) {
    snprintf(buf, cap, "%s /tmp/visor-grocery-12k.fvecs --n 12000 >&2", VISOR_MAKE_EMBEDDINGS);
    fprintf(stderr, "no embeddings file: making one with the real embedder: %s\n", buf);
    if (system(buf) == 0 && file_exists("/tmp/visor-grocery-12k.fvecs"))
      return "/tmp/visor-grocery-12k.fvecs";
  }
#endif
  return NULL;
}

static int load(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  int32_t d;
  if (fread(&d, 4, 1, f) != 1 || d <= 0 || d > 65536) {
    fclose(f);
    return -1;
  }
  dim = (size_t)d;
  data = malloc((size_t)(BASE + QUERIES) * dim * sizeof *data);
  rewind(f);
  for (size_t i = 0; data && i < BASE + QUERIES; i++) {
    int32_t di;
    if (fread(&di, 4, 1, f) != 1 || di != d || fread(data + i * dim, 4, dim, f) != dim) {
      fclose(f);
      return -1;
    }
    visor_vector_normalize(data + i * dim, dim);
  }
  fclose(f);
  return data ? 0 : -1;
}

/* Exact top K by cosine distance, among the base vectors of category want (-1: all). */
static void exact(const float *q, int want, uint32_t *out) {
  float best[K];
  for (int j = 0; j < K; j++) {
    best[j] = INFINITY;
    out[j] = UINT32_MAX;
  }
  for (uint32_t i = 0; i < BASE; i++) {
    if (want >= 0 && (int)(i % CATEGORIES) != want) continue;
    float d = visor_distance_ip_ref(q, data + (size_t)i * dim, dim);
    if (d >= best[K - 1]) continue;
    int j = K - 1;
    while (j > 0 && best[j - 1] > d) {
      best[j] = best[j - 1];
      out[j] = out[j - 1];
      j--;
    }
    best[j] = d;
    out[j] = i;
  }
}

static int setup(void **state) {
  (void)state;
  char buf[4096];
  const char *path = find_embeddings(buf, sizeof buf);
  if (!path || load(path) != 0) return -1;
  fprintf(stderr, "embeddings: %s (%zu-d)\n", path, dim);
  truth = malloc(QUERIES * K * sizeof *truth);
  ftruth = malloc(QUERIES * K * sizeof *ftruth);
  for (size_t q = 0; q < QUERIES; q++) {
    exact(data + (BASE + q) * dim, -1, truth + q * K);
    exact(data + (BASE + q) * dim, 7, ftruth + q * K);
  }
  return 0;
}

static void fill(visor_vector_store *s) {
  enum { BATCH = 500 };
  static char id_text[BATCH][16], cat_text[BATCH][16];
  const char *ids[BATCH];
  visor_vector_meta metas[BATCH];
  for (size_t b = 0; b < BASE; b += BATCH) {
    for (size_t i = 0; i < BATCH; i++) {
      snprintf(id_text[i], sizeof id_text[i], "%zu", b + i);
      snprintf(cat_text[i], sizeof cat_text[i], "c%zu", (b + i) % CATEGORIES);
      ids[i] = id_text[i];
      metas[i] = (visor_vector_meta){.product_id = id_text[i], .category = cat_text[i]};
    }
    visor_error err = {0};
    if (visor_vector_upsert_batch(s, BATCH, ids, data + b * dim, metas, &err) != VISOR_OK)
      fail_msg("upsert batch at %zu: %s", b, err.message);
  }
}

/* Mean recall@K over the queries, and the mean µs per query. */
static double recall(visor_vector_store *s, const visor_vector_filter *f, const uint32_t *want,
                     double *us) {
  size_t found = 0, total = 0;
  visor_vector_hit hits[K];
  struct timespec t0, t1;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
  for (size_t q = 0; q < QUERIES; q++) {
    size_t n;
    visor_error err = {0};
    assert_int_equal(s->ops->search(s, data + (BASE + q) * dim, K, f, hits, &n, &err), VISOR_OK);
    for (int i = 0; i < K; i++) {
      if (want[q * K + i] == UINT32_MAX) continue;
      total++;
      char id[16];
      snprintf(id, sizeof id, "%u", want[q * K + i]);
      for (size_t j = 0; j < n; j++)
        if (strcmp(hits[j].id, id) == 0) {
          found++;
          break;
        }
    }
  }
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
  *us = ((t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) * 1e-3) / QUERIES;
  return total ? (double)found / (double)total : 1.0;
}

static void check(const char *options, double min_recall) {
  char *dir = vt_temp_dir("visor-int8-recall");
  char url[4096];
  snprintf(url, sizeof url, "hnsw://%s/v%s", dir, options);
  visor_error err = {0};
  visor_vector_store *s = visor_vector_open(url, "real", dim, NULL, &err);
  if (!s) fail_msg("open %s: %s", url, err.message);
  fill(s);
  const char *c7[] = {"c7"};
  visor_vector_filter f = {.categories = c7, .category_count = 1};
  for (int round = 0; round < 2; round++) {
    double us, fus;
    double r = recall(s, NULL, truth, &us);
    double fr = recall(s, &f, ftruth, &fus);
    print_message("%-40s %s: recall@10 %.4f (%.0f us/query), 1%% filter %.4f (%.0f us)\n",
                  *options ? options : "float", round ? "reopened" : "built   ", r, us, fr, fus);
    assert_true(r >= min_recall);
    assert_true(fr == 1.0); /* the 1% filter is a scan: exact */
    s->ops->close(s);
    s = visor_vector_open(url, "real", dim, NULL, &err);
    if (!s) fail_msg("reopen %s: %s", url, err.message);
  }
  assert_int_equal(s->ops->count(s), BASE);
  s->ops->close(s);
  vt_remove_tree(dir);
  free(dir);
}

static void test_float(void **state) {
  (void)state;
  check("", 0.95);
}

static void test_int8_ram(void **state) {
  (void)state;
  check("?quantization=int8&rerank_store=ram", 0.95);
}

static void test_int8_mmap(void **state) {
  (void)state;
  check("?quantization=int8&rerank_store=mmap", 0.95);
}

int main(void) {
  char buf[4096];
  if (!find_embeddings(buf, sizeof buf)) {
    fprintf(stderr, "test_hnsw_int8_recall: no real embeddings file (see the comment at the top) "
                    "and no make_embeddings to make one: skipped\n");
    return 77;
  }
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_float), cmocka_unit_test(test_int8_ram),
                                     cmocka_unit_test(test_int8_mmap)};
  int failed = cmocka_run_group_tests_name("hnsw_int8_recall", tests, setup, NULL);
  free(data);
  free(truth);
  free(ftruth);
  return failed;
}
