/* test_hnsw_unit.c: unit tests of the HNSW backend's parts: distance kernels, the string map,
 * URL options, filter compilation, log replay with a torn tail, snapshots and compaction; the
 * int8 kernel and quantizer, and the quantized graph's fit, refit and exact re-ranking. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_util.h"
#include "vector/distance.h"
#include "vector/hnsw_graph.h"
#include "vector/hnsw_meta.h"
#include "vector/hnsw_persist.h"
#include "vector/hnsw_quant.h"
#include "vector/hnsw_strmap.h"
#include "vector/vector.h"

static char *tmp_dir;

static void test_distance_kernels(void **state) {
  (void)state;
  vt_rng r = {7};
  float a[300], b[300];
  for (size_t dim = 1; dim <= 300; dim += (dim < 40 ? 1 : 37)) {
    for (size_t i = 0; i < dim; i++) {
      a[i] = vt_uniform(&r) * 2 - 1;
      b[i] = vt_uniform(&r) * 2 - 1;
    }
    float l2 = visor_distance_for(VISOR_METRIC_L2)(a, b, dim);
    float ip = visor_distance_for(VISOR_METRIC_IP)(a, b, dim);
    float cs = visor_distance_for(VISOR_METRIC_COSINE)(a, b, dim);
    double ref_l2 = 0, ref_dot = 0;
    for (size_t i = 0; i < dim; i++) {
      ref_l2 += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
      ref_dot += (double)a[i] * b[i];
    }
    assert_true(fabs(l2 - ref_l2) <= 1e-4 * (1 + ref_l2));
    assert_true(fabs(ip - (1 - ref_dot)) <= 1e-4 * (1 + fabs(ref_dot)));
    assert_true(cs == ip);
    assert_true(fabsf(visor_distance_l2_ref(a, b, dim) - l2) <= 1e-4f * (1 + l2));
  }
  float z[4] = {0};
  assert_int_equal(visor_vector_normalize(z, 4), 0);
  float v[3] = {3, 0, 4};
  assert_int_equal(visor_vector_normalize(v, 3), 1);
  assert_true(fabsf(v[0] - 0.6f) < 1e-6f && fabsf(v[2] - 0.8f) < 1e-6f);
  float bad[2] = {1, NAN};
  assert_int_equal(visor_vector_finite(bad, 2, NULL), 0);
}

static void test_strmap(void **state) {
  (void)state;
  hnsw_strmap m;
  hnsw_strmap_init(&m);
  char key[32];
  for (uint32_t i = 0; i < 5000; i++) {
    snprintf(key, sizeof key, "k%u", i);
    assert_int_equal(hnsw_strmap_put(&m, key, i), 0);
  }
  for (uint32_t i = 0; i < 5000; i += 2) {
    snprintf(key, sizeof key, "k%u", i);
    assert_int_equal(hnsw_strmap_remove(&m, key), 1);
  }
  assert_int_equal(m.count, 2500);
  for (uint32_t i = 0; i < 5000; i++) {
    snprintf(key, sizeof key, "k%u", i);
    uint32_t v = 0;
    int found = hnsw_strmap_get(&m, key, &v);
    assert_int_equal(found, i % 2);
    if (found) assert_int_equal(v, i);
  }
  assert_int_equal(hnsw_strmap_put(&m, "k1", 77), 0);
  uint32_t v;
  assert_true(hnsw_strmap_get(&m, "k1", &v) && v == 77);
  assert_int_equal(hnsw_strmap_remove(&m, "nope"), 0);
  hnsw_strmap_free(&m);
}

static void test_url_options(void **state) {
  (void)state;
  char url[4096];
  visor_error err = {0};
  snprintf(url, sizeof url, "hnsw://%s/opts?m=8&ef_construction=50&ef_search=20&metric=l2",
           tmp_dir);
  visor_vector_store *s = visor_vector_open(url, "c", 4, NULL, &err);
  if (!s) fail_msg("%s", err.message);
  float zero[4] = {0}, one[4] = {1, 0, 0, 0};
  /* l2 accepts the zero vector: it has a position. */
  assert_int_equal(s->ops->upsert(s, "z", zero, NULL, &err), VISOR_OK);
  assert_int_equal(s->ops->upsert(s, "o", one, NULL, &err), VISOR_OK);
  visor_vector_hit hits[2];
  size_t n;
  assert_int_equal(s->ops->search(s, one, 2, NULL, hits, &n, &err), VISOR_OK);
  assert_int_equal(n, 2);
  assert_string_equal(hits[0].id, "o");
  assert_true(fabsf(hits[1].distance - 1.0f) < 1e-6f);
  s->ops->close(s);
  /* The collection keeps its metric: opening it as cosine is a mismatch. */
  snprintf(url, sizeof url, "hnsw://%s/opts", tmp_dir);
  assert_null(visor_vector_open(url, "c", 4, NULL, &err));
  assert_int_equal(err.code, VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "metric"));
  const char *bad[] = {"?m=1",        "?m=abc", "?ef_search=0",     "?metric=hamming",
                       "?bogus=1",    "?m",     "?quantization=pq", "?rerank_store=ssd",
                       "?quant_min=0"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(url, sizeof url, "hnsw://%s/opts%s", tmp_dir, bad[i]);
    assert_null(visor_vector_open(url, "d", 4, NULL, &err));
    assert_int_equal(err.code, VISOR_ERR_INVALID);
  }
  visor_vector_params p;
  visor_vector_params_default(&p);
  assert_int_equal(p.m, 16);
  assert_int_equal(p.ef_construction, 200);
  assert_int_equal(p.ef_search, 64);
  assert_int_equal(p.metric, VISOR_METRIC_COSINE);
  p.m = 1000;
  snprintf(url, sizeof url, "hnsw://%s/opts", tmp_dir);
  assert_null(visor_vector_open(url, "e", 4, &p, &err));
  assert_int_equal(err.code, VISOR_ERR_INVALID);
  /* A second handle on an open collection is refused (one writer per log). */
  s = visor_vector_open(url, "f", 4, NULL, &err);
  assert_non_null(s);
  assert_null(visor_vector_open(url, "f", 4, NULL, &err));
  assert_int_equal(err.code, VISOR_ERR_UNAVAILABLE);
  s->ops->close(s);
  assert_null(visor_vector_open("hnsw://", "f", 4, NULL, &err));
  assert_int_equal(err.code, VISOR_ERR_INVALID);
}

/* A filter expression compiles into a scan set where it has one: the union of OR's lists
 * without duplicates, AND's cheapest term; price terms and != have none (graph only). The
 * price reaches accept() and survives compaction. */
static void test_meta_expression_scan_sets(void **state) {
  (void)state;
  hnsw_meta *m = hnsw_meta_new();
  for (int i = 0; i < 10; i++) {
    char id[8], color[16];
    snprintf(id, sizeof id, "n%d", i);
    snprintf(color, sizeof color, "color=%s", i % 2 ? "red" : "blue");
    const char *labels[] = {color};
    visor_vector_meta meta = {.product_id = "p",
                              .category = i < 3 ? "rare" : "common",
                              .labels = labels,
                              .label_count = 1,
                              .price = i,
                              .has_price = i != 9};
    assert_int_equal(hnsw_meta_append(m, id, &meta), 0);
  }
  static const struct {
    const char *text;
    size_t scan;       /* 0: no lists (graph) */
    unsigned accepted; /* bit per node */
  } cases[] = {
      {"category = \"rare\" OR color = \"red\"", 7, 0x2AF}, /* 0,1,2 + 1,3,5,7,9, deduplicated */
      {"category = \"rare\" AND price > 0", 3, 0x6},
      {"color = \"red\" AND category = \"rare\"", 3, 0x2},
      {"price < 5", 0, 0x1F},
      {"NOT price < 5", 0, 0x1E0}, /* n9 has no price: unknown */
      {"NOT color != \"red\"", 5, 0x2AA},
      {"category != \"common\"", 0, 0x7},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    visor_filter_expr *expr = NULL;
    visor_error err = {0};
    assert_int_equal(visor_filter_parse(cases[c].text, VISOR_FILTER_FIELDS_SEARCH, &expr, &err),
                     VISOR_OK);
    visor_vector_filter vf = {.expr = expr};
    hnsw_meta_query q;
    hnsw_filter f;
    assert_int_equal(hnsw_meta_compile(&q, m, &vf, &f), HNSW_META_FILTER);
    size_t scan = 0;
    for (size_t i = 0; i < f.list_count; i++)
      scan += f.list_sizes[i];
    if (scan != cases[c].scan)
      fail_msg("`%s`: scan %zu, want %zu", cases[c].text, scan, cases[c].scan);
    assert_int_equal(f.lists == NULL, cases[c].scan == 0);
    unsigned accepted = 0;
    for (uint32_t n = 0; n < 10; n++)
      accepted |= (unsigned)(f.accept(f.ctx, n) != 0) << n;
    if (accepted != cases[c].accepted)
      fail_msg("`%s`: accepted 0x%x, want 0x%x", cases[c].text, accepted, cases[c].accepted);
    hnsw_meta_query_free(&q);
    visor_filter_free(expr);
  }
  /* an expression naming nothing that exists matches nothing */
  visor_filter_expr *expr = NULL;
  visor_error err = {0};
  assert_int_equal(
      visor_filter_parse("category = \"x\" AND price > 1", VISOR_FILTER_FIELDS_SEARCH, &expr, &err),
      VISOR_OK);
  visor_vector_filter vf = {.expr = expr};
  hnsw_meta_query q;
  hnsw_filter f;
  assert_int_equal(hnsw_meta_compile(&q, m, &vf, &f), HNSW_META_MATCHES_NONE);
  visor_filter_free(expr);
  /* prices survive compaction; the reserved label never shows as a label */
  uint32_t remap[10];
  for (uint32_t i = 0; i < 10; i++)
    remap[i] = i < 5 ? UINT32_MAX : i - 5;
  hnsw_meta *c = hnsw_meta_compacted(m, remap, 10);
  assert_non_null(c);
  double price = 0;
  assert_true(hnsw_meta_price(c, 0, &price));
  assert_true(price == 5.0);
  assert_false(hnsw_meta_price(c, 4, &price));
  assert_int_equal(hnsw_meta_label_count(c, 0), 1);
  hnsw_meta_free(c);
  hnsw_meta_free(m);
}

static void test_meta_compile(void **state) {
  (void)state;
  hnsw_meta *m = hnsw_meta_new();
  const char *l0[] = {"a=1", "b=2", "a=1"};
  const char *l1[] = {"b=2"};
  visor_vector_meta m0 = {
      .product_id = "p0", .category = "shoes", .labels = l0, .label_count = 3, .model = "x@1"};
  visor_vector_meta m1 = {
      .product_id = "p1", .category = "bags", .labels = l1, .label_count = 1, .model = "x@1"};
  assert_int_equal(hnsw_meta_append(m, "id0", &m0), 0);
  assert_int_equal(hnsw_meta_append(m, "id1", &m1), 0);
  assert_int_equal(hnsw_meta_append(m, "id2", NULL), 0);
  assert_int_equal(hnsw_meta_label_count(m, 0), 2); /* duplicates folded */
  assert_string_equal(hnsw_meta_product(m, 2), "");
  hnsw_meta_query q;
  hnsw_filter f;
  const char *want_b[] = {"b=2"};
  visor_vector_filter vf = {.labels = want_b, .label_count = 1};
  assert_int_equal(hnsw_meta_compile(&q, m, &vf, &f), HNSW_META_FILTER);
  assert_int_equal(f.match_estimate, 2);
  assert_true(f.accept(f.ctx, 0) && f.accept(f.ctx, 1) && !f.accept(f.ctx, 2));
  hnsw_meta_query_free(&q);
  hnsw_meta_delete(m, 1);
  assert_int_equal(hnsw_meta_compile(&q, m, &vf, &f), HNSW_META_FILTER);
  assert_int_equal(f.match_estimate, 1);
  hnsw_meta_query_free(&q);
  hnsw_meta_delete(m, 0);
  assert_int_equal(hnsw_meta_compile(&q, m, &vf, &f), HNSW_META_MATCHES_NONE);
  visor_vector_filter none = {0};
  assert_int_equal(hnsw_meta_compile(&q, m, &none, &f), HNSW_META_NO_FILTER);
  assert_int_equal(hnsw_meta_compile(&q, m, NULL, &f), HNSW_META_NO_FILTER);
  /* a model: a filter while a live node lacks it, none once every live node has it */
  visor_vector_filter model = {.model = "x@1"};
  assert_int_equal(hnsw_meta_compile(&q, m, &model, &f), HNSW_META_MATCHES_NONE); /* id2 only */
  visor_vector_meta m3 = {.product_id = "p3", .model = "x@1"};
  assert_int_equal(hnsw_meta_append(m, "id3", &m3), 0);
  assert_int_equal(hnsw_meta_compile(&q, m, &model, &f), HNSW_META_FILTER);
  assert_false(f.accept(f.ctx, 2));
  assert_true(f.accept(f.ctx, 3));
  hnsw_meta_query_free(&q);
  hnsw_meta_delete(m, 2);
  assert_int_equal(hnsw_meta_compile(&q, m, &model, &f), HNSW_META_NO_FILTER);
  visor_vector_filter other = {.model = "y@2"};
  assert_int_equal(hnsw_meta_compile(&q, m, &other, &f), HNSW_META_MATCHES_NONE);
  hnsw_meta_pop(m);
  assert_int_equal(hnsw_meta_count(m), 3);
  hnsw_meta_free(m);
}

static char *log_path(const char *collection_dir) {
  char *p = NULL;
  if (asprintf(&p, "%s/log", collection_dir) < 0) return NULL;
  return p;
}

/* Upserts ids 0..n-1 in a child that exits without closing (as if killed). */
static void upsert_and_die(const char *url, int n, size_t dim) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    visor_error err;
    visor_vector_store *s = visor_vector_open(url, "torn", dim, NULL, &err);
    if (!s) _exit(2);
    float v[16];
    for (int i = 0; i < n; i++) {
      char id[16];
      snprintf(id, sizeof id, "t%d", i);
      for (size_t j = 0; j < dim; j++)
        v[j] = (float)((i * 31 + (int)j * 7) % 17) + 1.0f;
      v[i % dim] += 5;
      if (s->ops->upsert(s, id, v, NULL, &err) != VISOR_OK) _exit(3);
    }
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_log_torn_tail(void **state) {
  (void)state;
  char url[4096], dir[4096];
  snprintf(url, sizeof url, "hnsw://%s/torn", tmp_dir);
  snprintf(dir, sizeof dir, "%s/torn/torn", tmp_dir);
  upsert_and_die(url, 10, 8);
  char *lp = log_path(dir);
  struct stat st;
  assert_int_equal(stat(lp, &st), 0);
  off_t good = st.st_size;
  /* A torn record: a header that promises more bytes than there are. */
  int fd = open(lp, O_WRONLY | O_APPEND);
  assert_true(fd >= 0);
  unsigned char torn[] = {'V', 'R', 'E', 'C', 200, 0, 0, 0, 1, 2, 3};
  assert_int_equal(write(fd, torn, sizeof torn), (ssize_t)sizeof torn);
  close(fd);
  visor_error err = {0};
  visor_vector_store *s = visor_vector_open(url, "torn", 8, NULL, &err);
  if (!s) fail_msg("%s", err.message);
  assert_int_equal(s->ops->count(s), 10);
  assert_int_equal(stat(lp, &st), 0);
  assert_int_equal(st.st_size, good); /* the tail was cut */
  float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  assert_int_equal(s->ops->upsert(s, "after", v, NULL, &err), VISOR_OK);
  s->ops->close(s);

  /* A last record with a bad checksum is dropped; the ones before it stay. */
  upsert_and_die(url, 12, 8); /* t0..t11: t0..t9 replaced, t10 and t11 new */
  assert_int_equal(stat(lp, &st), 0);
  fd = open(lp, O_RDWR);
  unsigned char byte;
  assert_int_equal(pread(fd, &byte, 1, st.st_size - 10), 1);
  byte ^= 0xff;
  assert_int_equal(pwrite(fd, &byte, 1, st.st_size - 10), 1);
  close(fd);
  s = visor_vector_open(url, "torn", 8, NULL, &err);
  if (!s) fail_msg("%s", err.message);
  assert_int_equal(s->ops->count(s), 12); /* 10 + after + t10; t11 lost with its checksum */
  s->ops->close(s);
  free(lp);
}

static void test_snapshot_and_log(void **state) {
  (void)state;
  char url[4096];
  /* A tiny snapshot threshold: snapshots (with compaction) happen all along. */
  snprintf(url, sizeof url, "hnsw://%s/snap?snapshot_bytes=3000", tmp_dir);
  visor_error err = {0};
  visor_vector_store *s = visor_vector_open(url, "c", 16, NULL, &err);
  if (!s) fail_msg("%s", err.message);
  float *data = vt_random_data(400, 16, 3);
  char id[16];
  for (int i = 0; i < 400; i++) {
    snprintf(id, sizeof id, "s%d", i);
    const char *labels[] = {i % 2 ? "odd=1" : "even=1"};
    visor_vector_meta meta = {.category = i % 3 ? "x" : "y", .labels = labels, .label_count = 1};
    assert_int_equal(s->ops->upsert(s, id, data + i * 16, &meta, &err), VISOR_OK);
    if (i % 4 == 3) {
      snprintf(id, sizeof id, "s%d", i - 1);
      assert_int_equal(s->ops->remove(s, id, &err), VISOR_OK);
    }
  }
  assert_int_equal(s->ops->count(s), 300);
  s->ops->close(s);
  s = visor_vector_open(url, "c", 16, NULL, &err);
  if (!s) fail_msg("%s", err.message);
  assert_int_equal(s->ops->count(s), 300);
  visor_vector_hit hits[5];
  size_t n;
  for (int i = 0; i < 400; i += 13) {
    assert_int_equal(s->ops->search(s, data + i * 16, 5, NULL, hits, &n, &err), VISOR_OK);
    snprintf(id, sizeof id, "s%d", i);
    if (i % 4 == 2)
      for (size_t j = 0; j < n; j++)
        assert_string_not_equal(hits[j].id, id);
    else
      assert_string_equal(hits[0].id, id);
  }
  const char *odd[] = {"odd=1"};
  const char *y[] = {"y"};
  visor_vector_filter f = {
      .categories = y, .category_count = 1, .labels = odd, .label_count = 1, .model = NULL};
  assert_int_equal(s->ops->search(s, data, 5, &f, hits, &n, &err), VISOR_OK);
  assert_int_equal(n, 5);
  for (size_t j = 0; j < n; j++) {
    int i = atoi(hits[j].id + 1);
    assert_true(i % 2 == 1 && i % 3 == 0 && i % 4 != 2);
  }
  s->ops->close(s);
  free(data);
}

static void test_graph_compact(void **state) {
  (void)state;
  size_t n = 3000, dim = 16;
  float *data = vt_random_data(n, dim, 5);
  hnsw_graph *g = hnsw_graph_new(dim, VISOR_METRIC_L2, 8, 64, 1);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(hnsw_graph_insert(g, data + i * dim, NULL), 0);
  for (uint32_t i = 0; i < n; i += 2)
    hnsw_graph_delete(g, i);
  hnsw_graph_delete(g, 1); /* whatever the entry point is, lots of its neighbours go */
  uint32_t *remap = NULL;
  assert_int_equal(hnsw_graph_compact(g, &remap), 0);
  assert_int_equal(hnsw_graph_count(g), n / 2 - 1);
  assert_int_equal(hnsw_graph_live(g), n / 2 - 1);
  assert_int_equal(remap[0], UINT32_MAX);
  assert_int_equal(remap[3], 0);
  assert_int_equal(remap[5], 1);
  hnsw_result res[10], exact[10];
  int found = 0, total = 0;
  for (size_t q = 0; q < 100; q++) {
    const float *query = data + (q * 29 % n) * dim;
    size_t a = hnsw_graph_search(g, query, 10, 64, NULL, res);
    size_t b = hnsw_graph_brute_force(g, query, 10, NULL, exact);
    assert_int_equal(a, 10);
    assert_int_equal(b, 10);
    for (size_t i = 0; i < b; i++) {
      total++;
      for (size_t j = 0; j < a; j++)
        found += exact[i].node == res[j].node;
    }
  }
  assert_true(found >= total * 95 / 100);
  /* Compacting everything away leaves an empty, usable graph. */
  for (uint32_t i = 0; i < hnsw_graph_count(g); i++)
    hnsw_graph_delete(g, i);
  free(remap);
  assert_int_equal(hnsw_graph_compact(g, NULL), 0);
  assert_int_equal(hnsw_graph_count(g), 0);
  assert_int_equal(hnsw_graph_search(g, data, 10, 64, NULL, res), 0);
  assert_int_equal(hnsw_graph_insert(g, data, NULL), 0);
  assert_int_equal(hnsw_graph_search(g, data, 10, 64, NULL, res), 1);
  hnsw_graph_free(g);
  free(data);
}

/* The dispatched int8 kernel equals the portable one, for every padded length. */
static void test_int8_kernel(void **state) {
  (void)state;
  vt_rng r = {11};
  visor_dot_i8_fn dot = visor_dot_i8();
  int8_t a[1312], b[1312];
  for (size_t n = 32; n <= 1312; n += 32) {
    for (size_t i = 0; i < n; i++) {
      a[i] = (int8_t)((int)(vt_uniform(&r) * 255) - 127);
      b[i] = (int8_t)((int)(vt_uniform(&r) * 255) - 127);
    }
    a[0] = b[0] = 127; /* the extremes: no 16-bit saturation */
    a[1] = b[1] = -127;
    int32_t want = 0;
    for (size_t i = 0; i < n; i++)
      want += (int32_t)a[i] * b[i];
    assert_int_equal(visor_dot_i8_ref(a, b, n), want);
    assert_int_equal(dot(a, b, n), want);
  }
}

/* Codes reproduce the fitted data to half a step; the query form gives <q, x> closely;
 * values outside the fitted range are clamped and counted. */
static void test_quantizer(void **state) {
  (void)state;
  size_t dim = 40, n = 200;
  float *data = vt_random_data(n, dim, 5);
  hnsw_quant q;
  assert_int_equal(hnsw_quant_init(&q, dim), 0);
  assert_int_equal(q.code_len, 64);
  for (size_t i = 0; i < n; i++)
    hnsw_quant_observe(&q, data + i * dim);
  hnsw_quant_fit(&q);
  int8_t codes[64], qcodes[64];
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(hnsw_quant_encode(&q, data + i * dim, codes), 0);
    for (size_t j = 0; j < dim; j++)
      assert_true(fabsf(q.mid[j] + q.step[j] * codes[j] - data[i * dim + j]) <=
                  0.5f * q.step[j] + 1e-6f);
    for (size_t j = dim; j < 64; j++)
      assert_int_equal(codes[j], 0);
  }
  hnsw_quant_query qq = {qcodes, 0, 0};
  const float *x = data, *v = data + dim;
  hnsw_quant_prepare(&q, v, &qq);
  hnsw_quant_encode(&q, x, codes);
  float approx = qq.bias + qq.alpha * (float)visor_dot_i8_ref(qq.codes, codes, q.code_len);
  float exact = 1.0f - visor_distance_ip_ref(v, x, dim);
  assert_true(fabsf(approx - exact) < 0.05f * dim * 0.02f + 0.1f);
  float far[40];
  for (size_t j = 0; j < dim; j++)
    far[j] = j < 4 ? 10.0f : 0.0f;
  assert_int_equal(hnsw_quant_encode(&q, far, codes), 4);
  assert_int_equal(codes[0], 127);
  hnsw_quant_free(&q);
  free(data);
}

/* A quantized graph: exact search before min_vectors, codes after; the top hit of a stored
 * vector is itself at distance 0 (re-ranked with the full vector); refits on growth; a
 * snapshot read back quantized gives the same answers as the float graph reading it. */
static void test_quantized_graph(void **state) {
  (void)state;
  size_t dim = 24, n = 3000;
  float *data = vt_clustered_data(n, dim, 20, 0.2f, 9);
  hnsw_graph *g = hnsw_graph_new(dim, VISOR_METRIC_L2, 8, 64, 3);
  hnsw_quant_options o = {1, 0, 500};
  assert_int_equal(hnsw_graph_set_quantization(g, &o), 0);
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(hnsw_graph_insert(g, data + i * dim, NULL), 0);
    if (i == 498) assert_int_equal(hnsw_graph_quantized(g), 1);
    if (i == 499) assert_int_equal(hnsw_graph_quantized(g), 2);
  }
  assert_int_equal(hnsw_graph_set_quantization(g, &o), -1); /* not empty */
  hnsw_result res[5];
  size_t self = 0;
  for (size_t i = 0; i < n; i += 7) {
    size_t got = hnsw_graph_search(g, data + i * dim, 5, 64, NULL, res);
    assert_int_equal(got, 5);
    for (size_t j = 1; j < got; j++)
      assert_true(res[j - 1].distance <= res[j].distance);
    self += res[0].node == i || res[0].distance == 0.0f;
    assert_true(res[0].distance <= hnsw_graph_distance(g, data + i * dim, data + i * dim) + 1e-6f);
  }
  assert_true(self >= (n / 7) * 99 / 100);
  for (size_t i = 0; i < n; i += 3)
    hnsw_graph_delete(g, (uint32_t)i);
  assert_int_equal(hnsw_graph_compact(g, NULL), 0);
  assert_int_equal(hnsw_graph_count(g), n - (n + 2) / 3);
  size_t got = hnsw_graph_search(g, data + 1 * dim, 1, 64, NULL, res);
  assert_int_equal(got, 1);
  assert_true(res[0].distance == 0.0f);

  char *dir = vt_temp_dir("visor-quant-graph");
  assert_int_equal(vt_save_graph(dir, g, 1), 0);
  visor_error err;
  hnsw_graph *gf = NULL, *gm = NULL;
  hnsw_meta *mf = NULL, *mm = NULL;
  uint64_t seq;
  assert_int_equal(hnsw_snapshot_load(dir, &gf, &mf, &seq, &err), VISOR_OK);
  hnsw_quant_options om = {1, 1, 500};
  assert_int_equal(hnsw_snapshot_load_with(dir, &om, &gm, &mm, &seq, &err), VISOR_OK);
  assert_int_equal(hnsw_graph_quantized(gf), 0);
  assert_int_equal(hnsw_graph_quantized(gm), 2);
  for (size_t i = 0; i < hnsw_graph_count(gf); i++)
    assert_memory_equal(hnsw_graph_vector(gf, (uint32_t)i), hnsw_graph_vector(gm, (uint32_t)i),
                        dim * sizeof(float));
  hnsw_result a[3], b[3];
  for (size_t i = 0; i < 200; i++) {
    const float *q = data + i * dim;
    size_t na = hnsw_graph_brute_force(gf, q, 3, NULL, a);
    size_t nb = hnsw_graph_brute_force(gm, q, 3, NULL, b);
    assert_int_equal(na, nb);
    for (size_t j = 0; j < na; j++)
      assert_true(a[j].distance == b[j].distance);
  }
  hnsw_graph_free(gf);
  hnsw_graph_free(gm);
  hnsw_meta_free(mf);
  hnsw_meta_free(mm);
  vt_remove_tree(dir);
  free(dir);
  hnsw_graph_free(g);
  free(data);
}

int main(void) {
  tmp_dir = vt_temp_dir("visor-hnsw-unit");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_distance_kernels),
      cmocka_unit_test(test_strmap),
      cmocka_unit_test(test_url_options),
      cmocka_unit_test(test_meta_compile),
      cmocka_unit_test(test_meta_expression_scan_sets),
      cmocka_unit_test(test_log_torn_tail),
      cmocka_unit_test(test_snapshot_and_log),
      cmocka_unit_test(test_graph_compact),
      cmocka_unit_test(test_int8_kernel),
      cmocka_unit_test(test_quantizer),
      cmocka_unit_test(test_quantized_graph),
  };
  int failed = cmocka_run_group_tests_name("hnsw_unit", tests, NULL, NULL);
  vt_remove_tree(tmp_dir);
  free(tmp_dir);
  return failed;
}
