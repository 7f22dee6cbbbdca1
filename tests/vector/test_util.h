/* test_util.h: helpers shared by the vector tests: temporary folders, random and clustered
 * data, exact neighbours and recall. */
#ifndef VISOR_TESTS_VECTOR_TEST_UTIL_H
#define VISOR_TESTS_VECTOR_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "vector/hnsw_graph.h"

/* mkdtemp under $TMPDIR (or /tmp); the caller frees the string. */
char *vt_temp_dir(const char *prefix);
/* rm -rf */
void vt_remove_tree(const char *path);

typedef struct vt_rng {
  uint64_t state;
} vt_rng;
float vt_uniform(vt_rng *r);  /* [0, 1) */
float vt_gaussian(vt_rng *r); /* N(0, 1) */

/* n x dim uniform in [-1, 1). */
float *vt_random_data(size_t n, size_t dim, uint64_t seed);
/* n x dim: gaussian clusters (centres in [-1,1), sigma spread). */
float *vt_clustered_data(size_t n, size_t dim, size_t clusters, float spread, uint64_t seed);

/* Saves g as the snapshot (sequence seq) of dir, its nodes with the ids "n0", "n1", ...
 * 0, or -1 (the error printed). */
int vt_save_graph(const char *dir, const hnsw_graph *g, uint64_t seq);

#endif
