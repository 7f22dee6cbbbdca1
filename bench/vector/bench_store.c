/* bench_store.c: vector stores compared through Visor's own interface (vector.h), e.g.
 * chroma:// against hnsw://, on the same vectors: insert rate (upsert_batch), and QPS and
 * recall@10 (against exact cosine search) unfiltered and with a 1 % category filter (each
 * vector gets one of 100 categories; each query filters on one). One thread, k 10. Prints a
 * table with the ratio of the second store to the first.
 *
 *   bench_store --fvecs FILE [--n 20000] [--nq 500] [--batch 500]
 *               [--a hnsw:///tmp/dir] [--b chroma://127.0.0.1:58000/visor_bench/visor_bench]
 *
 * The last nq vectors of the file are the queries; the n before them are indexed. Each run
 * uses a fresh collection (named after the process id). */
#define _GNU_SOURCE
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vector/vector.h"

#define K 10
#define CATEGORIES 100

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *read_fvecs(const char *path, size_t max, size_t *n_out, size_t *dim_out) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    return NULL;
  }
  int32_t dim = 0;
  if (fread(&dim, 4, 1, f) != 1 || dim <= 0 || dim > 65536) {
    fprintf(stderr, "%s: not an .fvecs file\n", path);
    fclose(f);
    return NULL;
  }
  rewind(f);
  float *data = malloc(max * (size_t)dim * sizeof *data);
  size_t n = 0;
  while (data && n < max) {
    int32_t d;
    if (fread(&d, 4, 1, f) != 1) break;
    if (d != dim || fread(data + n * dim, sizeof(float), (size_t)dim, f) != (size_t)dim) break;
    n++;
  }
  fclose(f);
  *n_out = n;
  *dim_out = (size_t)dim;
  return data;
}

static void normalize(float *v, size_t dim) {
  double s = 0;
  for (size_t i = 0; i < dim; i++)
    s += (double)v[i] * v[i];
  float inv = s > 0 ? (float)(1.0 / sqrt(s)) : 0;
  for (size_t i = 0; i < dim; i++)
    v[i] *= inv;
}

/* Exact top K by cosine (vectors normalised); category < 0: all. */
static void exact(const float *data, size_t n, size_t dim, const float *q, int category,
                  uint32_t *best) {
  float best_d[K];
  size_t have = 0;
  for (size_t i = 0; i < n; i++) {
    if (category >= 0 && (int)(i % CATEGORIES) != category) continue;
    const float *v = data + i * dim;
    float dot = 0;
    for (size_t j = 0; j < dim; j++)
      dot += q[j] * v[j];
    float d = 1.0f - dot;
    if (have < K || d < best_d[have - 1]) {
      size_t at = have < K ? have++ : K - 1;
      while (at > 0 && best_d[at - 1] > d) {
        best_d[at] = best_d[at - 1];
        best[at] = best[at - 1];
        at--;
      }
      best_d[at] = d;
      best[at] = (uint32_t)i;
    }
  }
  for (size_t i = have; i < K; i++)
    best[i] = UINT32_MAX;
}

typedef struct result {
  double insert_s, qps, recall, qps_f, recall_f;
} result;

static const char *category_names[CATEGORIES];

static int run(const char *url, const float *data, size_t n, size_t dim, const float *queries,
               size_t nq, const uint32_t *truth, const uint32_t *truth_f, size_t batch,
               result *out) {
  char collection[64];
  snprintf(collection, sizeof collection, "bench_%ld_%ld", (long)getpid(), (long)time(NULL));
  visor_error err = {0};
  visor_vector_store *s = visor_vector_open(url, collection, dim, NULL, &err);
  if (!s) {
    fprintf(stderr, "open %s: %s\n", url, err.message);
    return -1;
  }
  char(*id_text)[24] = malloc(n * sizeof *id_text);
  const char **ids = malloc(n * sizeof *ids);
  visor_vector_meta *metas = calloc(n, sizeof *metas);
  for (size_t i = 0; i < n; i++) {
    snprintf(id_text[i], sizeof id_text[i], "%zu", i);
    ids[i] = id_text[i];
    metas[i].product_id = id_text[i];
    metas[i].category = category_names[i % CATEGORIES];
    metas[i].model = "bench@1";
  }
  double t0 = now_s();
  for (size_t from = 0; from < n; from += batch) {
    size_t count = from + batch < n ? batch : n - from;
    if (visor_vector_upsert_batch(s, count, ids + from, data + from * dim, metas + from, &err) !=
        VISOR_OK) {
      fprintf(stderr, "upsert into %s: %s\n", url, err.message);
      return -1;
    }
  }
  out->insert_s = now_s() - t0;
  fprintf(stderr, "%s: %zu inserted in %.1f s\n", url, n, out->insert_s);
  visor_vector_hit hits[K];
  for (int filtered = 0; filtered < 2; filtered++) {
    size_t found = 0, wanted = 0;
    double start = now_s();
    for (size_t q = 0; q < nq; q++) {
      const char *cat[] = {category_names[q % CATEGORIES]};
      visor_vector_filter f = {.categories = cat, .category_count = 1};
      size_t got = 0;
      if (s->ops->search(s, queries + q * dim, K, filtered ? &f : NULL, hits, &got, &err) !=
          VISOR_OK) {
        fprintf(stderr, "search %s: %s\n", url, err.message);
        return -1;
      }
      const uint32_t *t = (filtered ? truth_f : truth) + q * K;
      for (size_t j = 0; j < K; j++) {
        if (t[j] == UINT32_MAX) continue;
        wanted++;
        for (size_t h = 0; h < got; h++)
          if ((uint32_t)atol(hits[h].id) == t[j]) {
            found++;
            break;
          }
      }
    }
    double took = now_s() - start;
    double qps = nq / took, recall = wanted ? (double)found / wanted : 0;
    if (filtered) {
      out->qps_f = qps;
      out->recall_f = recall;
    } else {
      out->qps = qps;
      out->recall = recall;
    }
  }
  s->ops->close(s);
  free(id_text);
  free(ids);
  free(metas);
  return 0;
}

int main(int argc, char **argv) {
  const char *fvecs = NULL;
  const char *url_a = NULL, *url_b = "chroma://127.0.0.1:58000/visor_bench/visor_bench";
  size_t n = 20000, nq = 500, batch = 500;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      fprintf(stderr, "%s needs a value\n", a);
      return 2;
    }
    if (!strcmp(a, "--fvecs"))
      fvecs = v;
    else if (!strcmp(a, "--n"))
      n = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--nq"))
      nq = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--batch"))
      batch = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--a"))
      url_a = v;
    else if (!strcmp(a, "--b"))
      url_b = v;
    else {
      fprintf(stderr, "unknown option %s\n", a);
      return 2;
    }
    i++;
  }
  if (!fvecs || !batch || !nq) {
    fprintf(stderr, "usage: bench_store --fvecs FILE [--n 20000] [--nq 500] [--batch 500] "
                    "[--a URL] [--b URL]\n");
    return 2;
  }
  char tmp_dir[] = "/tmp/visor-bench-store-XXXXXX", default_a[128];
  if (!url_a) {
    if (!mkdtemp(tmp_dir)) {
      perror("mkdtemp");
      return 1;
    }
    snprintf(default_a, sizeof default_a, "hnsw://%s", tmp_dir);
    url_a = default_a;
  }
  static char names[CATEGORIES][8];
  for (int c = 0; c < CATEGORIES; c++) {
    snprintf(names[c], sizeof names[c], "c%d", c);
    category_names[c] = names[c];
  }
  size_t total = 0, dim = 0;
  float *all = read_fvecs(fvecs, n + nq, &total, &dim);
  if (!all || total <= nq) {
    fprintf(stderr, "%s: %zu vectors, need more than %zu\n", fvecs, total, nq);
    return 1;
  }
  n = total - nq;
  const float *queries = all + n * dim;
  /* Ground truth on normalised copies (the stores normalise for cosine too). */
  float *norm = malloc(total * dim * sizeof *norm);
  memcpy(norm, all, total * dim * sizeof *norm);
  for (size_t i = 0; i < total; i++)
    normalize(norm + i * dim, dim);
  uint32_t *truth = malloc(nq * K * sizeof *truth), *truth_f = malloc(nq * K * sizeof *truth_f);
  double t0 = now_s();
  for (size_t q = 0; q < nq; q++) {
    exact(norm, n, dim, norm + (n + q) * dim, -1, truth + q * K);
    exact(norm, n, dim, norm + (n + q) * dim, (int)(q % CATEGORIES), truth_f + q * K);
  }
  fprintf(stderr, "exact neighbours of %zu queries in %.1f s\n", nq, now_s() - t0);
  result ra = {0}, rb = {0};
  if (run(url_a, all, n, dim, queries, nq, truth, truth_f, batch, &ra) != 0 ||
      run(url_b, all, n, dim, queries, nq, truth, truth_f, batch, &rb) != 0)
    return 1;
  printf("\n%zu x %zu-d indexed (%s), %zu queries, k %d, 1%% filter = one of %d categories, "
         "batches of %zu, one thread\n\n",
         n, dim, fvecs, nq, K, CATEGORIES, batch);
  printf("A = %s\nB = %s\n\n", url_a, url_b);
  printf("| %-30s | %-22s | %-22s | %7s |\n", "", "A", "B", "B / A");
  printf("|%s|%s|%s|%s|\n", "--------------------------------", "------------------------",
         "------------------------", "---------");
  printf("| %-30s | %22.0f | %22.0f | %7.3g |\n", "insert (vectors/s)", n / ra.insert_s,
         n / rb.insert_s, (n / rb.insert_s) / (n / ra.insert_s));
  printf("| %-30s | %22.0f | %22.0f | %7.3g |\n", "QPS unfiltered", ra.qps, rb.qps,
         rb.qps / ra.qps);
  printf("| %-30s | %22.4f | %22.4f | %7.3g |\n", "recall@10 unfiltered", ra.recall, rb.recall,
         rb.recall / ra.recall);
  printf("| %-30s | %22.0f | %22.0f | %7.3g |\n", "QPS 1% filter", ra.qps_f, rb.qps_f,
         rb.qps_f / ra.qps_f);
  printf("| %-30s | %22.4f | %22.4f | %7.3g |\n", "recall@10 1% filter", ra.recall_f, rb.recall_f,
         rb.recall_f / ra.recall_f);
  printf("| %-30s | %22.2f | %22.2f | %7s |\n", "filtered slowdown (unf./filt.)", ra.qps / ra.qps_f,
         rb.qps / rb.qps_f, "");
  free(all);
  free(norm);
  free(truth);
  free(truth_f);
  if (url_a == default_a) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_dir);
  }
  return 0;
}
