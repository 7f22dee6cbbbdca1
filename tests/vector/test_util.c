/* test_util.c: temporary folders, synthetic data and snapshots of bare graphs for the vector
 * tests. */
#define _GNU_SOURCE
#include "test_util.h"

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vector/hnsw_meta.h"
#include "vector/hnsw_persist.h"

char *vt_temp_dir(const char *prefix) {
  const char *base = getenv("TMPDIR");
  if (!base || !*base) base = "/tmp";
  char *path = NULL;
  if (asprintf(&path, "%s/%s-XXXXXX", base, prefix) < 0) return NULL;
  if (!mkdtemp(path)) {
    free(path);
    return NULL;
  }
  return path;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

void vt_remove_tree(const char *path) {
  if (path) nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

float vt_uniform(vt_rng *r) {
  uint64_t z = (r->state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return (float)((z >> 40) * (1.0 / 16777216.0));
}

float vt_gaussian(vt_rng *r) {
  float u1 = vt_uniform(r), u2 = vt_uniform(r);
  if (u1 < 1e-7f) u1 = 1e-7f;
  return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

float *vt_random_data(size_t n, size_t dim, uint64_t seed) {
  vt_rng r = {seed};
  float *data = malloc(n * dim * sizeof *data);
  if (!data) return NULL;
  for (size_t i = 0; i < n * dim; i++)
    data[i] = vt_uniform(&r) * 2.0f - 1.0f;
  return data;
}

float *vt_clustered_data(size_t n, size_t dim, size_t clusters, float spread, uint64_t seed) {
  vt_rng r = {seed};
  float *centres = malloc(clusters * dim * sizeof *centres);
  float *data = malloc(n * dim * sizeof *data);
  if (!centres || !data) {
    free(centres);
    free(data);
    return NULL;
  }
  for (size_t i = 0; i < clusters * dim; i++)
    centres[i] = vt_uniform(&r) * 2.0f - 1.0f;
  for (size_t i = 0; i < n; i++) {
    size_t c = (size_t)(vt_uniform(&r) * (float)clusters) % clusters;
    for (size_t j = 0; j < dim; j++)
      data[i * dim + j] = centres[c * dim + j] + spread * vt_gaussian(&r);
  }
  free(centres);
  return data;
}

int vt_save_graph(const char *dir, const hnsw_graph *g, uint64_t seq) {
  hnsw_meta *meta = hnsw_meta_new();
  int rc = meta ? 0 : -1;
  for (size_t i = 0; rc == 0 && i < hnsw_graph_count(g); i++) {
    char id[32];
    snprintf(id, sizeof id, "n%zu", i);
    rc = hnsw_meta_append(meta, id, NULL);
  }
  visor_error err = {0};
  if (rc == 0 && hnsw_snapshot_save(dir, g, meta, seq, &err) != VISOR_OK) {
    fprintf(stderr, "snapshot of %s: %s\n", dir, err.message);
    rc = -1;
  }
  hnsw_meta_free(meta);
  return rc;
}
