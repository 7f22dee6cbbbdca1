/* test_vector_contract_hnsw.c: the vector store contract suite run against hnsw://: the
 * float index, and the int8-quantized one with its full vectors in memory and mapped from
 * the snapshot (quant_min=1: the codes are in use from the first vector on, so every test
 * of the suite goes through the quantized search, the refits and the re-ranking). */
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"
#include "vector_contract.h"

int main(void) {
  static const char *const configs[][2] = {
      {"vector_contract_hnsw", ""},
      {"vector_contract_hnsw_int8_ram", "?quantization=int8&rerank_store=ram&quant_min=1"},
      {"vector_contract_hnsw_int8_mmap", "?quantization=int8&rerank_store=mmap&quant_min=1"},
  };
  int failed = 0;
  for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
    char *dir = vt_temp_dir("visor-vector-contract");
    if (!dir) {
      perror("mkdtemp");
      return 1;
    }
    char url[4096];
    snprintf(url, sizeof url, "hnsw://%s/vectors%s", dir, configs[i][1]);
    failed += visor_vector_contract_run(configs[i][0], url);
    vt_remove_tree(dir);
    free(dir);
  }
  return failed;
}
