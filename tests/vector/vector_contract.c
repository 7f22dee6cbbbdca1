/* vector_contract.c: the vector store contract suite (cmocka). Exact match first, upsert
 * replaces, removed ids never come back, filters (category any-of, labels all-of, model,
 * filter expressions with prices and three-valued NOT),
 * count, bad input and dimension mismatch errors, reopening keeps everything, batch upserts,
 * set_meta changes what filters find, get returns the stored vector, recall@10 against exact
 * search, and threads writing and searching at once. Collection names carry the process id and
 * time, so runs against a long-lived server do not collide. */
#include "vector_contract.h"

#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/clock.h"
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
  snprintf(name, cap, "contract%d_%ld_%ld", collection_counter++, (long)getpid(), (long)time(NULL));
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
    visor_vector_meta meta = {
        .product_id = product, .category = cat, .labels = labels, .label_count = 2, .model = model};
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
    if (n != (size_t)expected) {
      int seen[120] = {0};
      for (size_t j = 0; j < n; j++)
        seen[atoi(hits[j].id + 1)] = 1;
      for (int i = 0; i < 120; i++)
        if (want(i) && !seen[i]) print_error("  missing f%d\n", i);
    }
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
  visor_vector_filter f5 = {
      .categories = c1, .category_count = 1, .labels = blue, .label_count = 1, .model = "m1@1"};
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

typedef struct listed {
  int count, seen_b, seen_c, product_ok;
} listed;

static int collect(void *ctx, const char *id, const char *product_id) {
  listed *l = ctx;
  l->count++;
  l->seen_b += strcmp(id, "b") == 0;
  l->seen_c += strcmp(id, "c") == 0;
  if (strcmp(id, "c") == 0) l->product_ok = strcmp(product_id, "p-c") == 0;
  return 0;
}

static int stop_at_first(void *ctx, const char *id, const char *product_id) {
  (void)id, (void)product_id;
  ((listed *)ctx)->count++;
  return 1;
}

/* list walks exactly the live vectors, with their product ids, and stops when asked. */
/* ---- filter expressions ---- */

/* 120 vectors for expressions: category c{i%3} except none when i%10==9, color={red, blue,
 * green, black}[i%4], size={s,m}[i%2] except no size label when i%7==0, price i except no
 * price when i%5==0, model m{i%2}@1. */
static void fill_expr(visor_vector_store *s, float vecs[][DIM]) {
  static const char *colors[] = {"color=red", "color=blue", "color=green", "color=black"};
  static const char *sizes[] = {"size=s", "size=m"};
  for (int i = 0; i < 120; i++) {
    char id[16], cat[8], model[16], product[16];
    snprintf(id, sizeof id, "f%d", i);
    snprintf(cat, sizeof cat, "c%d", i % 3);
    snprintf(model, sizeof model, "m%d@1", i % 2);
    snprintf(product, sizeof product, "p%d", i);
    const char *labels[] = {colors[i % 4], sizes[i % 2]};
    visor_vector_meta meta = {.product_id = product,
                              .category = i % 10 == 9 ? NULL : cat,
                              .labels = labels,
                              .label_count = i % 7 == 0 ? 1 : 2,
                              .model = model,
                              .price = i,
                              .has_price = i % 5 != 0};
    random_vector(vecs[i]);
    upsert_ok(s, id, vecs[i], &meta);
  }
}

static int has_cat(int i) {
  return i % 10 != 9;
}
static int has_size(int i) {
  return i % 7 != 0;
}
static int has_price(int i) {
  return i % 5 != 0;
}
static int want_x1(int i) { /* category IN ("c0","c2") AND price < 50 */
  return has_cat(i) && i % 3 != 1 && has_price(i) && i < 50;
}
static int want_x2(int i) { /* NOT size = "m" */
  return has_size(i) && i % 2 == 0;
}
static int want_x3(int i) { /* color != "red" */
  return i % 4 != 0;
}
static int want_x4(int i) { /* NOT (category = "c1" OR price >= 100) */
  return has_cat(i) && i % 3 != 1 && has_price(i) && i < 100;
}
static int want_x5(int i) { /* price IN (3, 4, 10, 11) */
  return i == 3 || i == 4 || i == 11;
}
static int want_x6(int i) { /* category NOT IN ("c0") */
  return has_cat(i) && i % 3 != 0;
}
static int want_x7(int i) { /* labels.size = "s" OR price > 110 */
  return (has_size(i) && i % 2 == 0) || (has_price(i) && i > 110);
}
static int want_x8(int i) { /* NOT price != 12 */
  return i == 12;
}
static int want_x9(int i) { /* NOT (size IN ("s") AND price <= 60) */
  return (has_size(i) && i % 2 == 1) || (has_price(i) && i > 60);
}
static int want_x10(int i) { /* model m1@1 (shorthand) AND color IN ("red","blue") */
  return i % 4 == 1;
}
static int want_x11(int i) { /* category c2 (shorthand) AND NOT price > 30 */
  return has_cat(i) && i % 3 == 2 && has_price(i) && i <= 30;
}

static int want_x12(int i) { /* category = "c1" OR color = "red": overlapping lists */
  return (has_cat(i) && i % 3 == 1) || i % 4 == 0;
}

typedef struct expr_case {
  const char *text;
  int (*want)(int i);
  const char *category;
  const char *model;
} expr_case;

static const expr_case expr_cases[] = {
    {"category IN (\"c0\",\"c2\") AND price < 50", want_x1, NULL, NULL},
    {"NOT size = \"m\"", want_x2, NULL, NULL},
    {"color != \"red\"", want_x3, NULL, NULL},
    {"NOT (category = \"c1\" OR price >= 100)", want_x4, NULL, NULL},
    {"price IN (3, 4, 10, 11)", want_x5, NULL, NULL},
    {"category NOT IN (\"c0\")", want_x6, NULL, NULL},
    {"labels.size = \"s\" OR price > 110", want_x7, NULL, NULL},
    {"NOT price != 12", want_x8, NULL, NULL},
    {"NOT (size IN ('s') AND price <= 60)", want_x9, NULL, NULL},
    {"color IN (\"red\", \"blue\")", want_x10, NULL, "m1@1"},
    {"NOT price > 30", want_x11, "c2", NULL},
    {"category = \"c1\" OR color = \"red\"", want_x12, NULL, NULL},
    {"category = \"nosuch\"", want_none, NULL, NULL},
    {"category = \"\"", want_none, NULL, NULL},
    {"brand = \"x\"", want_none, NULL, NULL},
    {"NOT brand = \"x\"", want_none, NULL, NULL}, /* unknown stays unknown */
    {"price <= 10 AND price > 10", want_none, NULL, NULL},
};

static void check_expressions(visor_vector_store *s, float vecs[][DIM]) {
  for (size_t c = 0; c < sizeof expr_cases / sizeof expr_cases[0]; c++) {
    visor_filter_expr *expr = NULL;
    visor_error err = {0};
    if (visor_filter_parse(expr_cases[c].text, VISOR_FILTER_FIELDS_SEARCH, &expr, &err) != VISOR_OK)
      fail_msg("parse `%s`: %s", expr_cases[c].text, err.message);
    const char *cats[] = {expr_cases[c].category};
    visor_vector_filter f = {.categories = expr_cases[c].category ? cats : NULL,
                             .category_count = expr_cases[c].category ? 1 : 0,
                             .model = expr_cases[c].model,
                             .expr = expr};
    print_message("  filter `%s`\n", expr_cases[c].text);
    check_filter(s, vecs, &f, expr_cases[c].want);
    visor_filter_free(expr);
  }
}

static void test_filter_expressions(void **state) {
  (void)state;
  char name[64];
  visor_vector_store *s = open_fresh(name, sizeof name);
  static float vecs[120][DIM];
  fill_expr(s, vecs);
  check_expressions(s, vecs);
  /* A price change through set_meta moves the vector in and out of price filters. */
  visor_error err = {0};
  const char *labels[] = {"color=blue", "size=m"}; /* as fill_expr gave f13 */
  visor_vector_meta cheap = {.product_id = "p13",
                             .category = "c1",
                             .labels = labels,
                             .label_count = 2,
                             .model = "m1@1",
                             .price = 0.5,
                             .has_price = 1};
  assert_int_equal(s->ops->set_meta(s, "f13", &cheap, &err), VISOR_OK);
  visor_filter_expr *expr = NULL;
  assert_int_equal(visor_filter_parse("price < 1", VISOR_FILTER_FIELDS_SEARCH, &expr, &err),
                   VISOR_OK);
  visor_vector_filter f = {.expr = expr};
  visor_vector_hit hits[130];
  size_t n = search_ok(s, vecs[0], 130, &f, hits);
  assert_int_equal(n, 1);
  assert_string_equal(hits[0].id, "f13");
  visor_vector_meta unpriced = cheap;
  unpriced.has_price = 0;
  assert_int_equal(s->ops->set_meta(s, "f13", &unpriced, &err), VISOR_OK);
  assert_int_equal(search_ok(s, vecs[0], 130, &f, hits), 0);
  visor_vector_meta back = cheap;
  back.category = "c1";
  back.price = 13;
  assert_int_equal(s->ops->set_meta(s, "f13", &back, &err), VISOR_OK);
  visor_filter_free(expr);
  /* Prices and labels survive a reopen. */
  s->ops->close(s);
  s = reopen(name, DIM, &err);
  if (!s) fail_msg("reopen: %s", err.message);
  check_expressions(s, vecs);
  s->ops->close(s);
}

static void test_list(void **state) {
  (void)state;
  char name[64];
  visor_vector_store *s = open_fresh(name, sizeof name);
  float v[DIM];
  random_vector(v);
  visor_vector_meta meta = {.product_id = "p-c"};
  upsert_ok(s, "a", v, NULL);
  upsert_ok(s, "b", v, NULL);
  upsert_ok(s, "c", v, &meta);
  upsert_ok(s, "b", v, NULL); /* replaced: still one */
  visor_error err = {0};
  assert_int_equal(s->ops->remove(s, "a", &err), VISOR_OK);
  listed l = {0};
  assert_int_equal(s->ops->list(s, collect, &l, &err), VISOR_OK);
  assert_int_equal(l.count, 2);
  assert_int_equal(l.seen_b, 1);
  assert_int_equal(l.seen_c, 1);
  assert_true(l.product_ok);
  listed first = {0};
  assert_int_equal(s->ops->list(s, stop_at_first, &first, &err), VISOR_OK);
  assert_int_equal(first.count, 1);
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
  visor_vector_meta meta = {.product_id = "pmoved",
                            .category = "c9",
                            .labels = labels,
                            .label_count = 1,
                            .model = "m9@2"};
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
    visor_vector_filter f = {
        .categories = c9, .category_count = 1, .labels = labels, .label_count = 1, .model = "m9@2"};
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
      visor_vector_meta meta7 = {.product_id = "p7",
                                 .category = "c1",
                                 .labels = labels7,
                                 .label_count = 2,
                                 .model = "m1@1"};
      upsert_ok(s, "f7", vecs[7], &meta7);
    }
    s->ops->close(s);
  }
}

static visor_vector_hit *search_all(visor_vector_store *s, const float *q,
                                    const visor_vector_filter *f, size_t *n) {
  static visor_vector_hit hits[300];
  *n = search_ok(s, q, 300, f, hits);
  return hits;
}

static int has_id(const visor_vector_hit *hits, size_t n, const char *id) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(hits[i].id, id) == 0) return 1;
  return 0;
}

static void test_set_meta(void **state) {
  (void)state;
  char name[64];
  visor_vector_store *s = open_fresh(name, sizeof name);
  assert_non_null(s->ops->set_meta);
  static float vecs[30][DIM];
  const char *labels_ab[] = {"color=red", "size=m"};
  for (int i = 0; i < 30; i++) {
    char id[16];
    snprintf(id, sizeof id, "s%d", i);
    random_vector(vecs[i]);
    visor_vector_meta meta = {
        .product_id = "p", .category = "A", .labels = labels_ab, .label_count = 2, .model = "m@1"};
    upsert_ok(s, id, vecs[i], &meta);
  }
  visor_error err = {0};
  /* s3 moves from category A to B and loses the size label. */
  const char *labels_red[] = {"color=red"};
  visor_vector_meta moved = {.product_id = "pmoved",
                             .category = "B",
                             .labels = labels_red,
                             .label_count = 1,
                             .model = "m@1"};
  assert_int_equal(s->ops->set_meta(s, "s3", &moved, &err), VISOR_OK);
  const char *a[] = {"A"}, *b[] = {"B"}, *size_m[] = {"size=m"}, *red[] = {"color=red"};
  visor_vector_filter fa = {.categories = a, .category_count = 1};
  visor_vector_filter fb = {.categories = b, .category_count = 1};
  visor_vector_filter fsize = {.labels = size_m, .label_count = 1};
  visor_vector_filter fred = {.labels = red, .label_count = 1};
  size_t n;
  visor_vector_hit *hits = search_all(s, vecs[3], &fb, &n);
  assert_int_equal(n, 1);
  assert_string_equal(hits[0].id, "s3");
  assert_string_equal(hits[0].product_id, "pmoved");
  assert_true(fabsf(hits[0].distance) < 1e-4f); /* the vector did not change */
  hits = search_all(s, vecs[3], &fa, &n);
  assert_int_equal(n, 29);
  assert_false(has_id(hits, n, "s3"));
  hits = search_all(s, vecs[3], &fsize, &n); /* the removed label no longer matches */
  assert_int_equal(n, 29);
  assert_false(has_id(hits, n, "s3"));
  hits = search_all(s, vecs[3], &fred, &n);
  assert_int_equal(n, 30);
  assert_string_equal(hits[0].id, "s3");
  /* NULL meta clears everything; the vector stays. */
  assert_int_equal(s->ops->set_meta(s, "s4", NULL, &err), VISOR_OK);
  hits = search_all(s, vecs[4], &fred, &n);
  assert_int_equal(n, 29);
  assert_false(has_id(hits, n, "s4"));
  hits = search_all(s, vecs[4], NULL, &n);
  assert_int_equal(n, 30);
  assert_string_equal(hits[0].id, "s4");
  assert_string_equal(hits[0].product_id, "");
  assert_int_equal(s->ops->count(s), 30);
  /* Missing and removed ids, bad metadata. */
  assert_int_equal(s->ops->set_meta(s, "never-was", &moved, &err), VISOR_ERR_NOT_FOUND);
  assert_non_null(strstr(err.message, "never-was"));
  assert_int_equal(s->ops->remove(s, "s5", &err), VISOR_OK);
  assert_int_equal(s->ops->set_meta(s, "s5", &moved, &err), VISOR_ERR_NOT_FOUND);
  const char *bad[] = {"novalue"};
  visor_vector_meta bad_meta = {.labels = bad, .label_count = 1};
  assert_int_equal(s->ops->set_meta(s, "s6", &bad_meta, &err), VISOR_ERR_INVALID);
  assert_int_equal(s->ops->set_meta(s, "", &moved, &err), VISOR_ERR_INVALID);
  s->ops->close(s);
  /* The change is durable. */
  s = reopen(name, DIM, &err);
  if (!s) fail_msg("reopen: %s", err.message);
  hits = search_all(s, vecs[3], &fb, &n);
  assert_int_equal(n, 1);
  assert_string_equal(hits[0].id, "s3");
  hits = search_all(s, vecs[3], &fsize, &n);
  assert_false(has_id(hits, n, "s3"));
  assert_int_equal(s->ops->count(s), 29);
  s->ops->close(s);
}

/* get returns what was stored (normalised under cosine), follows upserts, and forgets
 * removed and unknown ids. */
static void test_get(void **state) {
  (void)state;
  char name[64];
  visor_vector_store *s = open_fresh(name, sizeof name);
  assert_non_null(s->ops->get);
  float v[DIM], w[DIM], got[DIM];
  random_vector(v);
  random_vector(w);
  visor_vector_meta meta = {.product_id = "p", .category = "A", .model = "m@1"};
  upsert_ok(s, "g1", v, &meta);
  upsert_ok(s, "g2", w, &meta);
  visor_error err = {0};
  assert_int_equal(s->ops->get(s, "g1", got, &err), VISOR_OK);
  double norm = 0, dot = 0, got_norm = 0;
  for (int i = 0; i < DIM; i++) {
    norm += (double)v[i] * v[i];
    dot += (double)v[i] * got[i];
    got_norm += (double)got[i] * got[i];
  }
  assert_true(fabs(dot / sqrt(norm * got_norm) - 1.0) < 1e-5); /* same direction */
  assert_true(fabs(got_norm - 1.0) < 1e-4);                    /* stored normalised */
  upsert_ok(s, "g1", w, &meta); /* an upsert replaces what get answers */
  assert_int_equal(s->ops->get(s, "g1", got, &err), VISOR_OK);
  dot = 0, norm = 0;
  for (int i = 0; i < DIM; i++) {
    dot += (double)w[i] * got[i];
    norm += (double)w[i] * w[i];
  }
  assert_true(fabs(dot / sqrt(norm) - 1.0) < 1e-4);
  assert_int_equal(s->ops->remove(s, "g2", &err), VISOR_OK);
  assert_int_equal(s->ops->get(s, "g2", got, &err), VISOR_ERR_NOT_FOUND);
  assert_int_equal(s->ops->get(s, "never-was", got, &err), VISOR_ERR_NOT_FOUND);
  assert_non_null(strstr(err.message, "never-was"));
  assert_int_equal(s->ops->get(s, "", got, &err), VISOR_ERR_INVALID);
  s->ops->close(s);
  s = reopen(name, DIM, &err); /* durable like the vectors themselves */
  if (!s) fail_msg("reopen: %s", err.message);
  assert_int_equal(s->ops->get(s, "g1", got, &err), VISOR_OK);
  assert_int_equal(s->ops->get(s, "g2", got, &err), VISOR_ERR_NOT_FOUND);
  s->ops->close(s);
}

static void test_upsert_batch(void **state) {
  (void)state;
  char name[64];
  visor_vector_store *s = open_fresh(name, sizeof name);
  enum { N = 50 };
  static float vecs[N][DIM];
  char id_text[N][16], product[N][16];
  const char *ids[N];
  visor_vector_meta metas[N];
  const char *labels[] = {"color=blue", "shape=round"};
  for (int i = 0; i < N; i++) {
    random_vector(vecs[i]);
    snprintf(id_text[i], sizeof id_text[i], "b%d", i);
    snprintf(product[i], sizeof product[i], "p%d", i);
    ids[i] = id_text[i];
    metas[i] = (visor_vector_meta){.product_id = product[i],
                                   .category = i % 2 ? "odd" : "even",
                                   .labels = labels,
                                   .label_count = 2,
                                   .model = "m@1"};
  }
  visor_error err = {0};
  /* Bad entries anywhere: nothing is written. */
  const char *dup_ids[3] = {"d1", "d2", "d1"};
  assert_int_equal(visor_vector_upsert_batch(s, 3, dup_ids, &vecs[0][0], metas, &err),
                   VISOR_ERR_INVALID);
  static float with_nan[3][DIM];
  memcpy(with_nan, vecs, sizeof with_nan);
  with_nan[2][1] = NAN;
  assert_int_equal(visor_vector_upsert_batch(s, 3, ids, &with_nan[0][0], metas, &err),
                   VISOR_ERR_INVALID);
  assert_int_equal(s->ops->count(s), 0);
  assert_int_equal(visor_vector_upsert_batch(s, 0, ids, &vecs[0][0], metas, &err), VISOR_OK);

  assert_int_equal(visor_vector_upsert_batch(s, N, ids, &vecs[0][0], metas, &err), VISOR_OK);
  assert_int_equal(s->ops->count(s), N);
  visor_vector_hit hits[N + 5];
  for (int i = 0; i < N; i += 7) {
    size_t n = search_ok(s, vecs[i], 3, NULL, hits);
    assert_int_equal(n, 3);
    assert_string_equal(hits[0].id, ids[i]);
    assert_string_equal(hits[0].product_id, product[i]);
  }
  const char *odd[] = {"odd"};
  visor_vector_filter fodd = {
      .categories = odd, .category_count = 1, .labels = labels, .label_count = 2, .model = "m@1"};
  assert_int_equal(search_ok(s, vecs[0], N + 5, &fodd, hits), N / 2);
  /* A second batch over the same ids replaces vectors and metadata (labels too), and
   * metas may be NULL. */
  static float again[N][DIM];
  for (int i = 0; i < N; i++)
    random_vector(again[i]);
  assert_int_equal(visor_vector_upsert_batch(s, N / 2, ids, &again[0][0], NULL, &err), VISOR_OK);
  assert_int_equal(s->ops->count(s), N);
  size_t n = search_ok(s, again[0], 1, NULL, hits);
  assert_int_equal(n, 1);
  assert_string_equal(hits[0].id, "b0");
  assert_string_equal(hits[0].product_id, "");
  visor_vector_filter fblue = {.labels = labels, .label_count = 1};
  assert_int_equal(search_ok(s, vecs[0], N + 5, &fblue, hits), N - N / 2);
  s->ops->close(s);
}

static float dot(const float *a, const float *b, size_t dim) {
  double d = 0;
  for (size_t i = 0; i < dim; i++)
    d += (double)a[i] * b[i];
  return (float)d;
}

/* 2,000 x 64-d random vectors, 50 queries: recall@10 against exact cosine search. */
static void test_recall_vs_exact(void **state) {
  (void)state;
  enum { N = 2000, D = 64, Q = 50, K = 10 };
  char name[64];
  snprintf(name, sizeof name, "recall%d_%ld_%ld", collection_counter++, (long)getpid(),
           (long)time(NULL));
  visor_error err = {0};
  visor_vector_store *s = visor_vector_open(contract_url, name, D, NULL, &err);
  if (!s) fail_msg("open %s: %s", name, err.message);
  float *data = malloc(sizeof(float) * N * D);
  float *norm = malloc(sizeof(float) * N * D);
  char(*id_text)[16] = malloc(sizeof *id_text * N);
  const char **ids = malloc(sizeof *ids * N);
  visor_vector_meta *metas = calloc(N, sizeof *metas);
  assert_non_null(data);
  assert_non_null(norm);
  assert_non_null(id_text);
  assert_non_null(ids);
  assert_non_null(metas);
  for (size_t i = 0; i < (size_t)N * D; i++)
    data[i] = frand();
  for (int i = 0; i < N; i++) {
    float n2 = sqrtf(dot(data + i * D, data + i * D, D));
    for (int j = 0; j < D; j++)
      norm[i * D + j] = data[i * D + j] / n2;
    snprintf(id_text[i], sizeof id_text[i], "%d", i);
    ids[i] = id_text[i];
    metas[i].category = i % 100 == 0 ? "rare" : "common";
  }
  assert_int_equal(visor_vector_upsert_batch(s, N, ids, data, metas, &err), VISOR_OK);
  assert_int_equal(s->ops->count(s), N);
  int found = 0, found_filtered = 0, total_filtered = 0;
  for (int q = 0; q < Q; q++) {
    float query[D], qn[D];
    for (int j = 0; j < D; j++)
      query[j] = frand();
    float n2 = sqrtf(dot(query, query, D));
    for (int j = 0; j < D; j++)
      qn[j] = query[j] / n2;
    for (int filtered = 0; filtered < 2; filtered++) {
      int best[K];
      float best_d[K];
      int have = 0;
      for (int i = 0; i < N; i++) {
        if (filtered && i % 100 != 0) continue;
        float d = 1.0f - dot(qn, norm + i * D, D);
        if (have < K || d < best_d[have - 1]) {
          int at = have < K ? have++ : K - 1;
          while (at > 0 && best_d[at - 1] > d) {
            best_d[at] = best_d[at - 1];
            best[at] = best[at - 1];
            at--;
          }
          best_d[at] = d;
          best[at] = i;
        }
      }
      const char *rare[] = {"rare"};
      visor_vector_filter f = {.categories = rare, .category_count = 1};
      visor_vector_hit hits[K];
      size_t n = search_ok(s, query, K, filtered ? &f : NULL, hits);
      assert_int_equal(n, (size_t)have);
      for (size_t h = 0; h < n; h++) {
        int got = atoi(hits[h].id);
        if (filtered) assert_true(got % 100 == 0);
        for (int b = 0; b < have; b++)
          if (best[b] == got) {
            if (filtered)
              found_filtered++;
            else
              found++;
            /* The distance is 1 - cos, as vector.h defines it. */
            assert_true(fabsf(hits[h].distance - best_d[b]) < 1e-3f);
          }
      }
      if (filtered) total_filtered += have;
    }
  }
  double recall = (double)found / (Q * K),
         recall_filtered = (double)found_filtered / total_filtered;
  print_message("recall@10 %.3f, with a 1%% filter %.3f (%s)\n", recall, recall_filtered,
                contract_url);
  assert_true(recall >= 0.9);
  assert_true(recall_filtered >= 0.9);
  free(data);
  free(norm);
  free(id_text);
  free(ids);
  free(metas);
  s->ops->close(s);
}

typedef struct writer_arg {
  visor_vector_store *store;
  int thread;
  int failures;
} writer_arg;

/* Each thread upserts its own 40 vectors one by one and searches after each. */
static void *writer_thread(void *p) {
  writer_arg *a = p;
  uint64_t state = 1000 + (uint64_t)a->thread;
  for (int i = 0; i < 40; i++) {
    float v[DIM];
    for (int j = 0; j < DIM; j++) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      v[j] = (float)((state >> 40) / (double)(1 << 24)) * 2.0f - 1.0f;
    }
    char id[32];
    snprintf(id, sizeof id, "t%d_%d", a->thread, i);
    visor_vector_meta meta = {.product_id = id, .category = "threads"};
    visor_error err = {0};
    if (a->store->ops->upsert(a->store, id, v, &meta, &err) != VISOR_OK) {
      print_message("thread %d: upsert %s: %s\n", a->thread, id, err.message);
      a->failures++;
    }
    /* The writer finds its own vector first. Chroma answers a query from its log and its
     * index, and under load (seen once under ASan with four writers) a query right after the
     * upsert returned may miss it for a moment: it must be there within 2 s; an error is a
     * failure at once. */
    visor_vector_hit hits[1];
    size_t n = 0;
    double asked = visor_monotonic_s();
    int found = 0;
    while (!found) {
      if (a->store->ops->search(a->store, v, 1, NULL, hits, &n, &err) != VISOR_OK) {
        print_message("thread %d: search %s: %s\n", a->thread, id, err.message);
        break;
      }
      found = n == 1 && strcmp(hits[0].id, id) == 0;
      if (found || visor_monotonic_s() - asked > 2.0) break;
      struct timespec pause = {0, 50 * 1000000L};
      nanosleep(&pause, NULL);
    }
    if (!found) {
      print_message("thread %d: %s not found first (%zu hits, first %s)\n", a->thread, id, n,
                    n ? hits[0].id : "-");
      a->failures++;
    } else if (visor_monotonic_s() - asked > 0.05) {
      print_message("thread %d: %s found after %.2f s\n", a->thread, id,
                    visor_monotonic_s() - asked);
    }
  }
  return NULL;
}

static void test_concurrent_writers_and_readers(void **state) {
  (void)state;
  char name[64];
  visor_vector_store *s = open_fresh(name, sizeof name);
  enum { THREADS = 4 };
  pthread_t threads[THREADS];
  writer_arg args[THREADS];
  for (int t = 0; t < THREADS; t++) {
    args[t] = (writer_arg){s, t, 0};
    assert_int_equal(pthread_create(&threads[t], NULL, writer_thread, &args[t]), 0);
  }
  for (int t = 0; t < THREADS; t++) {
    pthread_join(threads[t], NULL);
    assert_int_equal(args[t].failures, 0);
  }
  assert_int_equal(s->ops->count(s), THREADS * 40);
  s->ops->close(s);
}

int visor_vector_contract_run(const char *group_name, const char *url) {
  contract_url = url;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exact_match_first),
      cmocka_unit_test(test_upsert_replaces),
      cmocka_unit_test(test_remove_never_returned),
      cmocka_unit_test(test_filters),
      cmocka_unit_test(test_filter_expressions),
      cmocka_unit_test(test_count),
      cmocka_unit_test(test_list),
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_reopen_keeps_data),
      cmocka_unit_test(test_set_meta),
      cmocka_unit_test(test_get),
      cmocka_unit_test(test_upsert_batch),
      cmocka_unit_test(test_recall_vs_exact),
      cmocka_unit_test(test_concurrent_writers_and_readers),
  };
  return _cmocka_run_group_tests(group_name, tests, sizeof tests / sizeof tests[0], NULL, NULL);
}
