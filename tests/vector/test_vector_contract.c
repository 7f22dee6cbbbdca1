/* test_vector_contract.c: the vector store contract suite run against every URL in
 * VISOR_TEST_VECTOR_URLS (space-separated, e.g. "hnsw:///tmp/v chroma://127.0.0.1:58000/
 * visor_test/visor_test"); when it is unset or empty, against a fresh hnsw:// temp folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "vector_contract.h"

int main(void) {
  const char *urls = getenv("VISOR_TEST_VECTOR_URLS");
  if (urls && strspn(urls, " \t") < strlen(urls)) {
    char *copy = strdup(urls);
    if (!copy) return 1;
    int failed = 0;
    char *save = NULL;
    for (char *url = strtok_r(copy, " \t", &save); url; url = strtok_r(NULL, " \t", &save)) {
      char group[512];
      snprintf(group, sizeof group, "vector_contract %s", url);
      failed += visor_vector_contract_run(group, url);
    }
    free(copy);
    return failed;
  }
  char *dir = vt_temp_dir("visor-vector-contract");
  if (!dir) {
    perror("mkdtemp");
    return 1;
  }
  char url[4096];
  snprintf(url, sizeof url, "hnsw://%s/vectors", dir);
  int failed = visor_vector_contract_run("vector_contract hnsw (temp)", url);
  vt_remove_tree(dir);
  free(dir);
  return failed;
}
