/* hnsw_seed_gen.c: writes the seed corpus of fuzz_hnsw with the project's own writers: a
 * log of dimension 4 with a few upserts and a remove, the same log with a torn tail, and a
 * snapshot of a small graph with its metadata. Each seed starts with fuzz_hnsw's mode byte.
 * Usage: hnsw_seed_gen OUT_DIR (run once; the seeds are kept in tests/fuzz/corpus/hnsw). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vector/hnsw_persist.h"

#define DIM 4

static int ignore(void *ctx, const hnsw_record *r) {
  (void)ctx;
  (void)r;
  return 0;
}

/* Copies src to out/name with mode byte prefixed; keep bytes (0 = all). */
static void emit(const char *src, const char *out, const char *name, int mode, long keep) {
  FILE *in = fopen(src, "rb");
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", out, name);
  FILE *dst = fopen(path, "wb");
  if (!in || !dst) exit(1);
  fputc(mode, dst);
  int c;
  long n = 0;
  while ((c = fgetc(in)) != EOF && (keep == 0 || n < keep)) {
    fputc(c, dst);
    n++;
  }
  fclose(in);
  fclose(dst);
}

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  char dir[] = "/tmp/visor-hnsw-seeds-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char log_path[256];
  snprintf(log_path, sizeof log_path, "%s/log", dir);
  visor_error err = {0};
  hnsw_log *log = NULL;
  uint64_t last = 0;
  if (hnsw_log_open(log_path, DIM, 0, ignore, NULL, &log, &last, &err) != VISOR_OK) return 1;
  const char *labels[] = {"colour=red", "season=summer"};
  float v[3][DIM] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0.5f, 0.5f, 0.5f, 0.5f}};
  const char *ids[] = {"3f2b1c9e-0000-4000-8000-000000000001",
                       "3f2b1c9e-0000-4000-8000-000000000002",
                       "3f2b1c9e-0000-4000-8000-000000000003"};
  hnsw_graph *graph = hnsw_graph_new(DIM, VISOR_METRIC_COSINE, 4, 16, 42);
  hnsw_meta *meta = hnsw_meta_new();
  for (int i = 0; i < 3; i++) {
    visor_vector_meta m = {.product_id = "9a0c6a4e-0000-4000-8000-00000000000a",
                           .category = i ? "bags" : "shoes",
                           .labels = labels,
                           .label_count = (size_t)i % 3,
                           .model = "mobilenetv2@1"};
    hnsw_record r = {HNSW_RECORD_UPSERT, (uint64_t)i + 1, ids[i], v[i], m};
    uint32_t node;
    if (hnsw_log_append(log, &r, &err) != VISOR_OK || hnsw_graph_insert(graph, v[i], &node) ||
        hnsw_meta_append(meta, ids[i], &m))
      return 1;
  }
  hnsw_record remove = {HNSW_RECORD_REMOVE, 4, ids[1], NULL, {0}};
  if (hnsw_log_append(log, &remove, &err) != VISOR_OK) return 1;
  hnsw_graph_delete(graph, 1);
  hnsw_meta_delete(meta, 1);
  hnsw_log_close(log);
  struct stat st;
  stat(log_path, &st);
  emit(log_path, argv[1], "log", 0, 0);
  emit(log_path, argv[1], "log-fixcrc", 2, 0);
  emit(log_path, argv[1], "log-torn", 0, (long)st.st_size - 7);
  if (hnsw_snapshot_save(dir, graph, meta, 4, &err) != VISOR_OK) return 1;
  char snap[256];
  snprintf(snap, sizeof snap, "%s/snapshot", dir);
  emit(snap, argv[1], "snapshot", 1, 0);
  emit(snap, argv[1], "snapshot-fixcrc", 3, 0);
  unlink(snap);
  unlink(log_path);
  rmdir(dir);
  hnsw_graph_free(graph);
  hnsw_meta_free(meta);
  return 0;
}
