/* test_hnsw_concurrency.c: many readers with a writer on one store (pthreads). Readers search
 * with and without filters and check every answer is well-formed; the writer upserts,
 * replaces and removes with a small snapshot threshold, so snapshots and compactions run
 * under the readers too; the same with the int8 index. Built under ThreadSanitizer in the
 * TSan build. */
#include <math.h>
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

#include "test_util.h"
#include "vector/vector.h"

#define DIM 16
#define BASE 1500
#define WRITES 600
#define READERS 3

static visor_vector_store *store;
static float *data;
static atomic_int writer_done;
static atomic_int reader_errors;
static atomic_long searches;

static void *reader(void *arg) {
  int seed = (int)(intptr_t)arg;
  visor_vector_hit hits[20];
  const char *even[] = {"even"};
  const char *lab[] = {"mod3=0"};
  visor_vector_filter filters[3] = {
      {0}, {.categories = even, .category_count = 1}, {.labels = lab, .label_count = 1}};
  for (int i = 0; !atomic_load(&writer_done) || i < 50; i++) {
    const float *q = data + (size_t)((i * 13 + seed * 101) % BASE) * DIM;
    const visor_vector_filter *f = &filters[i % 3];
    visor_error err = {0};
    size_t n;
    if (store->ops->search(store, q, 20, f, hits, &n, &err) != VISOR_OK) {
      atomic_fetch_add(&reader_errors, 1);
      continue;
    }
    for (size_t j = 0; j < n; j++) {
      if (j && hits[j].distance < hits[j - 1].distance) atomic_fetch_add(&reader_errors, 1);
      for (size_t k = 0; k < j; k++)
        if (strcmp(hits[j].id, hits[k].id) == 0) atomic_fetch_add(&reader_errors, 1);
      int id = atoi(hits[j].id + 1);
      if (i % 3 == 1 && id % 2 != 0) atomic_fetch_add(&reader_errors, 1);
      if (i % 3 == 2 && id % 3 != 0) atomic_fetch_add(&reader_errors, 1);
    }
    (void)store->ops->count(store);
    atomic_fetch_add(&searches, 1);
  }
  return NULL;
}

static void upsert(int i, const float *v) {
  char id[16], mod3[16];
  snprintf(id, sizeof id, "v%d", i);
  snprintf(mod3, sizeof mod3, "mod3=%d", i % 3);
  const char *labels[] = {mod3};
  visor_vector_meta meta = {
      .product_id = id, .category = i % 2 ? "odd" : "even", .labels = labels, .label_count = 1};
  visor_error err = {0};
  if (store->ops->upsert(store, id, v, &meta, &err) != VISOR_OK) fail_msg("%s", err.message);
}

static void *writer(void *arg) {
  (void)arg;
  for (int w = 0; w < WRITES; w++) {
    int i = (w * 7) % (BASE + WRITES);
    if (w % 4 == 3) {
      char id[16];
      snprintf(id, sizeof id, "v%d", i);
      visor_error err = {0};
      if (store->ops->remove(store, id, &err) != VISOR_OK) atomic_fetch_add(&reader_errors, 1);
    } else {
      upsert(i, data + (size_t)(i % BASE) * DIM);
    }
  }
  atomic_store(&writer_done, 1);
  return NULL;
}

static void readers_and_writer(const char *options) {
  atomic_store(&writer_done, 0);
  atomic_store(&searches, 0);
  char *dir = vt_temp_dir("visor-hnsw-conc");
  char url[4096];
  snprintf(url, sizeof url, "hnsw://%s/v?snapshot_bytes=20000&ef_construction=64%s", dir, options);
  visor_error err = {0};
  store = visor_vector_open(url, "c", DIM, NULL, &err);
  if (!store) fail_msg("%s", err.message);
  data = vt_random_data(BASE, DIM, 21);
  for (int i = 0; i < BASE; i++)
    upsert(i, data + (size_t)i * DIM);
  pthread_t readers[READERS], w;
  for (int r = 0; r < READERS; r++)
    pthread_create(&readers[r], NULL, reader, (void *)(intptr_t)r);
  pthread_create(&w, NULL, writer, NULL);
  pthread_join(w, NULL);
  for (int r = 0; r < READERS; r++)
    pthread_join(readers[r], NULL);
  print_message("%ld searches alongside %d writes (%s)\n", atomic_load(&searches), WRITES,
                *options ? options : "float");
  assert_int_equal(atomic_load(&reader_errors), 0);
  size_t count = store->ops->count(store);
  store->ops->close(store);
  store = visor_vector_open(url, "c", DIM, NULL, &err);
  if (!store) fail_msg("%s", err.message);
  assert_int_equal(store->ops->count(store), count);
  store->ops->close(store);
  free(data);
  vt_remove_tree(dir);
  free(dir);
}

static void test_readers_and_writer(void **state) {
  (void)state;
  readers_and_writer("");
}

/* The int8 index: refits (the codes fitted from 500 vectors, then on growth), snapshots that
 * re-point the full vectors into the new file, and compactions, all under the readers. */
static void test_readers_and_writer_int8(void **state) {
  (void)state;
  readers_and_writer("&quantization=int8&rerank_store=mmap&quant_min=500");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_readers_and_writer),
                                     cmocka_unit_test(test_readers_and_writer_int8)};
  return cmocka_run_group_tests_name("hnsw_concurrency", tests, NULL, NULL);
}
