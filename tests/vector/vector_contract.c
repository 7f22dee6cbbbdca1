/* vector_contract.c: the vector store contract suite (cmocka). Exact match first, upsert
 * replaces, removed ids never come back, filters (category any-of, labels all-of, model),
 * count, bad input and dimension mismatch errors, and reopening keeps everything. */
#include "vector_contract.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vector/vector.h"

#define DIM 24

static const char *contract_url;
static int collection_counter;

static uint64_t rng_state = 42;
static float frand(void) {
  rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (float)((rng_state >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
}

static void random_vector(float *v) {
  for (int i = 0; i < DIM; i++)
    v[i] = frand();
}

/* A fresh collection for each test. */
static visor_vector_store *open_fresh(char *name, size_t cap) {
  snprintf(name, cap, "contract%d_%d", collection_counter++, (int)(rng_state & 0xffff));
  visor_error err = {0};
  visor_vector_store *s = visor_vector_open(contract_url, name, DIM, NULL, &err);
  if (!s) fail_msg("open %s/%s: %s", contract_url, name, err.message);
  return s;
}

static visor_vector_store *reopen(const char *name, size_t dim, visor_error *err) {
  return visor_vector_open(contract_url, name, dim, NULL, err);
}

static void upsert_ok(visor_vector_store *s, const char *id, const float *v,
                      const visor_vector_meta *meta) {
  visor_error err = {0};
  visor_code rc = s->ops->upsert(s, id, v, meta, &err);
  if (rc != VISOR_OK) fail_msg("upsert %s: %s", id, err.message);
}

static size_t search_ok(visor_vector_store *s, const float *q, size_t k,
                        const visor_vector_filter *f, visor_vector_hit *hits) {
  visor_error err = {0};
  size_t n = 99999;
  visor_code rc = s->ops->search(s, q, k, f, hits, &n, &err);
  if (rc != VISOR_OK) fail_msg("search: %s", err.message);
  assert_true(n <= k);
  for (size_t i = 1; i < n; i++)
    assert_true(hits[i - 1].distance <= hits[i].distance);
  return n;
}

static void test_exact_match_first(void **state) {
  (void)state;
  char name[64];
  visor_vector_store *s = open_fresh(name, sizeof name);
  assert_int_equal(s->dim, DIM);
  static float vecs[200][DIM];
  char id[32], product[32];
  for (int i = 0; i < 200; i++) {
    random_vector(vecs[i]);
    snprintf(id, sizeof id, "r%d", i);
    snprintf(product, sizeof product, "p%d", i / 4);
    visor_vector_meta meta = {.product_id = product, .category = "shoes"};
    upsert_ok(s, id, vecs[i], &meta);
  }
  assert_int_equal(s->ops->count(s), 200);
  visor_vector_hit hits[10];
  for (int i = 0; i < 200; i += 7) {
    size_t n = search_ok(s, vecs[i], 10, NULL, hits);
    assert_int_equal(n, 10);
    snprintf(id, sizeof id, "r%d", i);
    snprintf(product, sizeof product, "p%d", i / 4);
    assert_string_equal(hits[0].id, id);
    assert_string_equal(hits[0].product_id, product);
    assert_true(fabsf(hits[0].distance) < 1e-4f);
  }
  /* k larger than the collection: everything, once. */
  visor_vector_hit all[300];
  size_t n = search_ok(s, vecs[0], 300, NULL, all);
  assert_int_equal(n, 200);
  /* k = 0 is allowed and returns nothing. */
  assert_int_equal(search_ok(s, vecs[0], 0, NULL, all), 0);
  s->ops->close(s);
}

static void test_upsert_replaces(void **state) {
  (void)state;
  char name[64];
  visor_vector_store *s = open_fresh(name, sizeof name);
  float a[DIM], b[DIM], other[DIM];
  random_vector(a);
  random_vector(b);
  for (int i = 0; i < 20; i++) {
    char id[16];
    snprintf(id, sizeof id, "o%d", i);
    random_vector(other);
    upsert_ok(s, id, other, NULL);
  }
  visor_vector_meta m1 = {.product_id = "old", .category = "hats"};
  visor_vector_meta m2 = {.product_id = "new", .category = "bags"};
  upsert_ok(s, "x", a, &m1);
  upsert_ok(s, "x", b, &m2);
  assert_int_equal(s->ops->count(s), 21);
  visor_vector_hit hits[30];
  size_t n = search_ok(s, b, 30, NULL, hits);
  assert_int_equal(n, 21);
  assert_string_equal(hits[0].id, "x");
  assert_string_equal(hits[0].product_id, "new");
  int seen = 0;
  for (size_t i = 0; i < n; i++)
    seen += strcmp(hits[i].id, "x") == 0;
  assert_int_equal(seen, 1);
  /* The old metadata is gone too. */
  const char *hats[] = {"hats"};
  visor_vector_filter f = {.categories = hats, .category_count = 1};
  assert_int_equal(search_ok(s, a, 10, &f, hits), 0);
  s->ops->close(s);
}

static void test_remove_never_returned(void **state) {
  (void)state;
  char name[64];
  visor_vector_store *s = open_fresh(name, sizeof name);
  static float vecs[100][DIM];
  char id[16];
  for (int i = 0; i < 100; i++) {
    random_vector(vecs[i]);
    snprintf(id, sizeof id, "v%d", i);
    upsert_ok(s, id, vecs[i], NULL);
  }
  visor_error err = {0};
  for (int i = 0; i < 100; i += 3) {
    snprintf(id, sizeof id, "v%d", i);
    assert_int_equal(s->ops->remove(s, id, &err), VISOR_OK);
  }
  /* Removing what is not there is not an error. */
  assert_int_equal(s->ops->remove(s, "v0", &err), VISOR_OK);
  assert_int_equal(s->ops->remove(s, "never-was", &err), VISOR_OK);
  assert_int_equal(s->ops->count(s), 66);
  visor_vector_hit hits[100];
  for (int i = 0; i < 100; i += 3) {
    size_t n = search_ok(s, vecs[i], 100, NULL, hits);
    assert_int_equal(n, 66);
    for (size_t j = 0; j < n; j++) {
      int num = atoi(hits[j].id + 1);
      assert_true(num % 3 != 0);
    }
  }
  /* Re-adding a removed id works. */
  upsert_ok(s, "v0", vecs[0], NULL);
  size_t n = search_ok(s, vecs[0], 1, NULL, hits);
  assert_int_equal(n, 1);
  assert_string_equal(hits[0].id, "v0");
  s->ops->close(s);
}

/* 120 vectors: category c{i%3}, labels color={i%4} and size={i%2}, model m{i%2}@1. */
static void fill_filtered(visor_vector_store *s, float vecs[][DIM]) {
  static const char *colors[] = {"color=red", "color=blue", "color=green", "color=black"};
  static const char *sizes[] = {"size=s", "size=m"};
  for (int i = 0; i < 120; i++) {
    char id[16], cat[8], model[16], product[16];
    snprintf(id, sizeof id, "f%d", i);
    snprintf(cat, sizeof cat, "c%d", i % 3);
    snprintf(model, sizeof model, "m%d@1", i % 2);
    snprintf(product, sizeof product, "p%d", i);
    const char *labels[] = {colors[i % 4], sizes[i % 2]};
    visor_vector_meta meta = {product, cat, labels, 2, model};
    random_vector(vecs[i]);
    upsert_ok(s, id, vecs[i], &meta);
  }
}

static void check_filter(visor_vector_store *s, float vecs[][DIM], const visor_vector_filter *f,
                         int (*want)(int i)) {
  visor_vector_hit hits[130];
  int expected = 0;
  for (int i = 0; i < 120; i++)
    expected += want(i);
  for (int q = 0; q < 120; q += 11) {
    size_t n = search_ok(s, vecs[q], 130, f, hits);
    assert_int_equal(n, (size_t)expected);
    for (size_t j = 0; j < n; j++)
      assert_true(want(atoi(hits[j].id + 1)));
    if (want(q)) assert_int_equal(atoi(hits[0].id + 1), q);
    /* k smaller than the matches still fills k. */
    size_t k = expected < 5 ? (size_t)expected : 5;
    assert_int_equal(search_ok(s, vecs[q], k, f, hits), k);
    for (size_t j = 0; j < k; j++)
      assert_true(want(atoi(hits[j].id + 1)));
  }
}

static int want_cat_0_or_2(int i) {
  return i % 3 != 1;
}
static int want_red_m(int i) {
  return i % 4 == 0 && i % 2 == 1;
}
static int want_blue_m(int i) {
  return i % 4 == 1 && i % 2 == 1;
}
static int want_model1(int i) {
  return i % 2 == 1;
}
static int want_all(int i) {
  return i % 3 == 1 && i % 4 == 1 && i % 2 == 1;
}
static int want_model1_after_changes(int i) { /* reopen test: i%5==0 removed, f1 moved */
  return i % 2 == 1 && i % 5 != 0 && i != 1;
}
static int want_none(int i) {
  (void)i;
  return 0;
}

static void test_filters(void **state) {
  (void)state;
  char name[64];
  visor_vector_store *s = open_fresh(name, sizeof name);
  static float vecs[120][DIM];
  fill_filtered(s, vecs);
  const char *cats[] = {"c0", "c2", "nope"};
  visor_vector_filter f1 = {.categories = cats, .category_count = 3};
  check_filter(s, vecs, &f1, want_cat_0_or_2);
  const char *red_m[] = {"color=red", "size=m"};
  visor_vector_filter f2 = {.labels = red_m, .label_count = 2};
  check_filter(s, vecs, &f2, want_red_m); /* red is i%4==0: even, so none is size=m */
  const char *blue_m[] = {"size=m", "color=blue"};
  visor_vector_filter f3 = {.labels = blue_m, .label_count = 2};
  check_filter(s, vecs, &f3, want_blue_m);
  visor_vector_filter f4 = {.model = "m1@1"};
  check_filter(s, vecs, &f4, want_model1);
  const char *c1[] = {"c1"};
  const char *blue[] = {"color=blue"};
  visor_vector_filter f5 = {c1, 1, blue, 1, "m1@1"};
  check_filter(s, vecs, &f5, want_all);
  visor_vector_filter f6 = {.model = "unknown@9"};
  check_filter(s, vecs, &f6, want_none);
  const char *unknown_label[] = {"color=red", "brand=none"};
  visor_vector_filter f7 = {.labels = unknown_label, .label_count = 2};
  check_filter(s, vecs, &f7, want_none);
  /* An empty filter constrains nothing. */
  visor_vector_filter empty = {0};
  visor_vector_hit hits[130];
  assert_int_equal(search_ok(s, vecs[0], 130, &empty, hits), 120);
  /* Removed vectors leave the filter results. */
  visor_error err = {0};
  for (int i = 0; i < 120; i += 2) {
    char id[16];
    snprintf(id, sizeof id, "f%d", i);
    assert_int_equal(s->ops->remove(s, id, &err), VISOR_OK);
  }
  check_filter(s, vecs, &f4, want_model1); /* model 1 = odd ids: untouched */
  assert_int_equal(search_ok(s, vecs[0], 130, &f2, hits), 0);
  s->ops->close(s);
}

static void test_count(void **state) {
  (void)state;
  char name[64];
  visor_vector_store *s = open_fresh(name, sizeof name);
  assert_int_equal(s->ops->count(s), 0);
  float v[DIM];
  visor_vector_hit hits[4];
  random_vector(v);
  assert_int_equal(search_ok(s, v, 4, NULL, hits), 0); /* empty collection */
  upsert_ok(s, "a", v, NULL);
  upsert_ok(s, "b", v, NULL);
  upsert_ok(s, "a", v, NULL);
  assert_int_equal(s->ops->count(s), 2);
  visor_error err = {0};
  s->ops->remove(s, "a", &err);
  assert_int_equal(s->ops->count(s), 1);
  s->ops->remove(s, "b", &err);
  assert_int_equal(s->ops->count(s), 0);
  assert_int_equal(search_ok(s, v, 4, NULL, hits), 0);
  s->ops->close(s);
}

static void test_bad_input(void **state) {
  (void)state;
  char name[64];
  visor_vector_store *s = open_fresh(name, sizeof name);
  float v[DIM], zero[DIM] = {0}, nan_v[DIM];
  random_vector(v);
  memcpy(nan_v, v, sizeof v);
  nan_v[3] = NAN;
  visor_error err = {0};
  assert_int_equal(s->ops->upsert(s, "z", zero, NULL, &err), VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "z"));
  assert_int_equal(s->ops->upsert(s, "n", nan_v, NULL, &err), VISOR_ERR_INVALID);
  nan_v[3] = INFINITY;
  assert_int_equal(s->ops->upsert(s, "n", nan_v, NULL, &err), VISOR_ERR_INVALID);
  assert_int_equal(s->ops->upsert(s, "", v, NULL, &err), VISOR_ERR_INVALID);
  assert_int_equal(s->ops->upsert(s, NULL, v, NULL, &err), VISOR_ERR_INVALID);
  assert_int_equal(s->ops->upsert(s, "x", NULL, NULL, &err), VISOR_ERR_INVALID);
  char long_id[100];
  memset(long_id, 'a', sizeof long_id - 1);
  long_id[sizeof long_id - 1] = '\0';
  assert_int_equal(s->ops->upsert(s, long_id, v, NULL, &err), VISOR_ERR_INVALID);
  visor_vector_meta long_product = {.product_id = long_id};
  assert_int_equal(s->ops->upsert(s, "x", v, &long_product, &err), VISOR_ERR_INVALID);
  const char *bad_labels[] = {"novalue"};
  visor_vector_meta bad_meta = {.labels = bad_labels, .label_count = 1};
  assert_int_equal(s->ops->upsert(s, "x", v, &bad_meta, &err), VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "novalue"));
  assert_int_equal(s->ops->count(s), 0);
  visor_vector_hit hits[2];
  size_t n = 7;
  assert_int_equal(s->ops->search(s, zero, 2, NULL, hits, &n, &err), VISOR_ERR_INVALID);
  assert_int_equal(n, 0);
  nan_v[0] = NAN;
  assert_int_equal(s->ops->search(s, nan_v, 2, NULL, hits, &n, &err), VISOR_ERR_INVALID);
  s->ops->close(s);

  /* Dimension mismatch with the existing collection. */
  assert_null(reopen(name, DIM + 1, &err));
  assert_int_equal(err.code, VISOR_ERR_INVALID);
  assert_null(reopen(name, 0, &err));
  assert_int_equal(err.code, VISOR_ERR_INVALID);
  /* Bad collection names. */
  assert_null(reopen("../escape", DIM, &err));
  assert_int_equal(err.code, VISOR_ERR_INVALID);
  assert_null(reopen("", DIM, &err));
  assert_int_equal(err.code, VISOR_ERR_INVALID);
  /* Bad URLs. */
  assert_null(visor_vector_open("nosuch://x", name, DIM, NULL, &err));
  assert_int_equal(err.code, VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "nosuch://x"));
}

static void test_reopen_keeps_data(void **state) {
  (void)state;
  char name[64];
  visor_vector_store *s = open_fresh(name, sizeof name);
  static float vecs[120][DIM];
  fill_filtered(s, vecs);
  visor_error err = {0};
  for (int i = 0; i < 120; i += 5) {
    char id[16];
    snprintf(id, sizeof id, "f%d", i);
    assert_int_equal(s->ops->remove(s, id, &err), VISOR_OK);
  }
  float moved[DIM];
  random_vector(moved);
  const char *labels[] = {"color=gold"};
  visor_vector_meta meta = {"pmoved", "c9", labels, 1, "m9@2"};
  upsert_ok(s, "f1", moved, &meta);
  s->ops->close(s);

  for (int round = 0; round < 2; round++) {
    s = reopen(name, DIM, &err);
    if (!s) fail_msg("reopen: %s", err.message);
    assert_int_equal(s->ops->count(s), 96);
    visor_vector_hit hits[130];
    size_t n = search_ok(s, vecs[3], 130, NULL, hits);
    assert_int_equal(n, 96);
    assert_string_equal(hits[0].id, "f3");
    for (size_t j = 0; j < n; j++)
      assert_true(atoi(hits[j].id + 1) % 5 != 0);
    n = search_ok(s, moved, 1, NULL, hits);
    assert_string_equal(hits[0].id, "f1");
    assert_string_equal(hits[0].product_id, "pmoved");
    const char *c9[] = {"c9"};
    visor_vector_filter f = {c9, 1, labels, 1, "m9@2"};
    n = search_ok(s, vecs[0], 10, &f, hits);
    assert_int_equal(n, 1);
    assert_string_equal(hits[0].id, "f1");
    visor_vector_filter f4 = {.model = "m1@1"};
    check_filter(s, vecs, &f4, want_model1_after_changes);
    if (round == 0) {
      /* A change after the reopen survives the next one too. */
      char id[16];
      snprintf(id, sizeof id, "f%d", 7);
      assert_int_equal(s->ops->remove(s, id, &err), VISOR_OK);
      const char *labels7[] = {"color=black", "size=m"};
      visor_vector_meta meta7 = {"p7", "c1", labels7, 2, "m1@1"};
      upsert_ok(s, "f7", vecs[7], &meta7);
    }
    s->ops->close(s);
  }
}

int visor_vector_contract_run(const char *group_name, const char *url) {
  contract_url = url;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exact_match_first),
      cmocka_unit_test(test_upsert_replaces),
      cmocka_unit_test(test_remove_never_returned),
      cmocka_unit_test(test_filters),
      cmocka_unit_test(test_count),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_reopen_keeps_data),
  };
  return _cmocka_run_group_tests(group_name, tests, sizeof tests / sizeof tests[0], NULL, NULL);
}
