/* test_hnsw_corrupt.c: corrupt snapshots the fuzzer (tests/fuzz/fuzz_hnsw) found, kept as
 * regression tests: each is refused by hnsw_snapshot_load instead of crashing or asking
 * for gigabytes. The files are the fuzzer's own crash inputs (tests/fuzz/corpus/hnsw/
 * regress-*): one mode byte, then the snapshot, whose trailing checksum the harness
 * recomputes (mode bit 1) and this test recomputes the same way. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vector/hnsw_io.h"
#include "vector/hnsw_persist.h"

static void load_regression(const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/hnsw/%s", VISOR_FUZZ_CORPUS_DIR, name);
  FILE *in = fopen(path, "rb");
  assert_non_null(in);
  unsigned char data[8192];
  size_t size = fread(data, 1, sizeof data, in);
  fclose(in);
  assert_true(size > 5);
  unsigned char *file = data + 1; /* the harness's mode byte */
  size_t file_size = size - 1;
  if (data[0] & 2) {
    uint32_t crc = hnsw_crc32c(0, file, file_size - 4);
    memcpy(file + file_size - 4, &crc, 4);
  }
  char dir[] = "/tmp/visor-hnsw-corrupt-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char snapshot[256];
  snprintf(snapshot, sizeof snapshot, "%s/snapshot", dir);
  FILE *out = fopen(snapshot, "wb");
  assert_non_null(out);
  assert_int_equal(fwrite(file, 1, file_size, out), file_size);
  fclose(out);

  hnsw_graph *graph = NULL;
  hnsw_meta *meta = NULL;
  uint64_t seq = 0;
  visor_error err = {0};
  visor_code code = hnsw_snapshot_load(dir, &graph, &meta, &seq, &err);
  if (code == VISOR_OK) {
    /* Before the fix this search followed a link into a node without that level. */
    float query[4] = {1, 0, 0, 0};
    hnsw_result results[4];
    hnsw_graph_search(graph, query, 4, 16, NULL, results);
    hnsw_graph_free(graph);
    hnsw_meta_free(meta);
  }
  assert_int_equal(code, VISOR_ERR_IO);
  assert_null(graph);
  assert_null(meta);
  assert_non_null(strstr(err.message, "corrupt"));
  unlink(snapshot);
  rmdir(dir);
}

/* The node count says ~4 billion nodes in a 600-byte file: refused before allocating. */
static void test_huge_count_is_refused(void **state) {
  (void)state;
  load_regression("regress-snapshot-huge-count");
}

/* A valid checksum, but a level-1 link points to a node that has only level 0. */
static void test_link_above_level_is_refused(void **state) {
  (void)state;
  load_regression("regress-snapshot-link-above-level");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_huge_count_is_refused),
      cmocka_unit_test(test_link_above_level_is_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
