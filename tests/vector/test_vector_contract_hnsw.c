/* test_vector_contract_hnsw.c: the vector store contract suite run against hnsw://. */
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"
#include "vector_contract.h"

int main(void) {
  char *dir = vt_temp_dir("visor-vector-contract");
  if (!dir) {
    perror("mkdtemp");
    return 1;
  }
  char url[4096];
  snprintf(url, sizeof url, "hnsw://%s/vectors", dir);
  int failed = visor_vector_contract_run("vector_contract_hnsw", url);
  vt_remove_tree(dir);
  free(dir);
  return failed;
}
