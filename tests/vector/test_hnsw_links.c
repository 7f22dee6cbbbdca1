/* test_hnsw_links.c: a quantized graph stores its level-0 ids in 3 bytes (4 once it grows
 * past HNSW_NARROW_ID_LIMIT; CMake also builds this test with that limit lowered, so the
 * rewrite to 4 bytes happens during the inserts). Its inserts use the full vectors, so its
 * graph must be exactly the float graph built from the same data and seed: every list of
 * every node is compared, after inserts, after a compaction, and through a snapshot read in
 * both modes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "test_util.h"
#include "vector/hnsw_graph.h"
#include "vector/hnsw_meta.h"
#include "vector/hnsw_persist.h"

/* More than 2^16 nodes, so ids use all three bytes. */
enum { DIM = 8, COUNT = 70000, M = 4, EF_CONSTRUCTION = 32 };

static void assert_same_graph(const hnsw_graph *a, const hnsw_graph *b) {
  assert_int_equal(hnsw_graph_count(a), hnsw_graph_count(b));
  assert_int_equal(hnsw_graph_live(a), hnsw_graph_live(b));
  uint32_t la[2 * M], lb[2 * M];
  size_t edges = 0;
  for (uint32_t node = 0; node < hnsw_graph_count(a); node++) {
    assert_int_equal(hnsw_graph_level(a, node), hnsw_graph_level(b, node));
    for (int level = 0; level <= hnsw_graph_level(a, node); level++) {
      size_t na = hnsw_graph_neighbours(a, node, level, la);
      size_t nb = hnsw_graph_neighbours(b, node, level, lb);
      assert_int_equal(na, nb);
      assert_memory_equal(la, lb, na * sizeof *la);
      edges += na;
    }
  }
  assert_true(edges >= hnsw_graph_count(a) * M / 2); /* a real graph, not empty lists */
}

/* a and b give the same answers (nodes and distances) to 100 of the points. A quantized graph
 * reloaded from its snapshot recomputes every norm and code from the vectors, so this checks
 * that the norms and codes beside the narrow lists were kept intact. */
static void assert_same_answers(hnsw_graph *a, hnsw_graph *b, const float *data) {
  hnsw_result ra[10], rb[10];
  for (size_t q = 0; q < 100; q++) {
    const float *query = data + (q * 691 % COUNT) * DIM;
    size_t na = hnsw_graph_search(a, query, 10, 10, NULL, ra);
    size_t nb = hnsw_graph_search(b, query, 10, 10, NULL, rb);
    assert_int_equal(na, 10);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
      assert_int_equal(ra[i].node, rb[i].node);
      assert_true(ra[i].distance == rb[i].distance);
    }
  }
}

static hnsw_graph *load(const char *dir, const hnsw_quant_options *quant) {
  hnsw_graph *g = NULL;
  hnsw_meta *meta = NULL;
  uint64_t seq;
  visor_error err;
  assert_int_equal(hnsw_snapshot_load_with(dir, quant, &g, &meta, &seq, &err), VISOR_OK);
  hnsw_meta_free(meta);
  return g;
}

static void quantized_graph_equals_float_graph(void **state) {
  (void)state;
  float *data = vt_clustered_data(COUNT, DIM, 50, 0.2f, 11);
  hnsw_graph *plain = hnsw_graph_new(DIM, VISOR_METRIC_L2, M, EF_CONSTRUCTION, 5);
  hnsw_graph *quant = hnsw_graph_new(DIM, VISOR_METRIC_L2, M, EF_CONSTRUCTION, 5);
  hnsw_quant_options ram = {1, 0, 500}, mapped = {1, 1, 500};
  assert_int_equal(hnsw_graph_set_quantization(quant, &ram), 0);
  for (size_t i = 0; i < COUNT; i++) {
    assert_int_equal(hnsw_graph_insert(plain, data + i * DIM, NULL), 0);
    assert_int_equal(hnsw_graph_insert(quant, data + i * DIM, NULL), 0);
  }
  assert_int_equal(hnsw_graph_quantized(quant), 2);
  assert_same_graph(plain, quant);
  char *dir = vt_temp_dir("visor-links");
  hnsw_graph_requantize(quant); /* the codes a reload fits */
  assert_int_equal(vt_save_graph(dir, quant, 1), 0);
  hnsw_graph *reloaded = load(dir, &ram);
  assert_same_answers(quant, reloaded, data);
  hnsw_graph_free(reloaded);

  for (uint32_t i = 0; i < COUNT; i += 3) {
    hnsw_graph_delete(plain, i);
    hnsw_graph_delete(quant, i);
  }
  assert_int_equal(hnsw_graph_compact(plain, NULL), 0);
  assert_int_equal(hnsw_graph_compact(quant, NULL), 0);
  assert_same_graph(plain, quant);

  assert_int_equal(vt_save_graph(dir, quant, 2), 0);
  hnsw_graph *as_float = load(dir, NULL), *as_mapped = load(dir, &mapped);
  assert_int_equal(hnsw_graph_quantized(as_mapped), 2);
  assert_same_graph(plain, as_float);
  assert_same_graph(plain, as_mapped);
  /* The reloaded graph keeps growing like the float one. */
  for (size_t i = 0; i < 200; i++) {
    assert_int_equal(hnsw_graph_insert(plain, data + i * DIM, NULL), 0);
    assert_int_equal(hnsw_graph_insert(as_mapped, data + i * DIM, NULL), 0);
  }
  assert_same_graph(plain, as_mapped);

  hnsw_graph_free(as_float);
  hnsw_graph_free(as_mapped);
  vt_remove_tree(dir);
  free(dir);
  hnsw_graph_free(plain);
  hnsw_graph_free(quant);
  free(data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(quantized_graph_equals_float_graph),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
