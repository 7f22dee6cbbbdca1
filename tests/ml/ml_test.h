/* ml_test.h: small helpers shared by the ML tests: paths under $VISOR_SHARED_DIR and the
 * repository, reading files, cosine similarity. */
#ifndef VISOR_TESTS_ML_TEST_H
#define VISOR_TESTS_ML_TEST_H

#include <stdio.h>
#include <stdlib.h>

static inline const char *shared_dir(void) {
  const char *dir = getenv("VISOR_SHARED_DIR");
  return dir ? dir : VISOR_SOURCE_DIR "/../shared";
}

static inline void shared_path(char *out, size_t size, const char *relative) {
  snprintf(out, size, "%s/%s", shared_dir(), relative);
}

/* Reads a whole file (malloc'd) or returns NULL. */
static inline void *read_whole(const char *path, size_t *len) {
  FILE *file = fopen(path, "rb");
  if (!file) return NULL;
  fseek(file, 0, SEEK_END);
  long size = ftell(file);
  fseek(file, 0, SEEK_SET);
  void *data = malloc(size > 0 ? (size_t)size : 1);
  *len = data ? fread(data, 1, (size_t)size, file) : 0;
  fclose(file);
  return data;
}

static inline float cosine(const float *a, const float *b, size_t dim) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < dim; i++) {
    dot += (double)a[i] * b[i];
    na += (double)a[i] * a[i];
    nb += (double)b[i] * b[i];
  }
  return (float)(dot / (sqrt(na) * sqrt(nb) + 1e-12));
}

#endif
