/* bench_vector.c: the built-in HNSW graph against hnswlib on the same vectors with the same
 * parameters: build time, queries per second at recall@10 = 0.95 and 0.99 (ef_search swept for
 * both; the smallest ef reaching the target is used), memory, and filtered search at 1%
 * selectivity. Data: synthetic gaussian clusters, or an .fvecs file (real embeddings).
 *
 *   bench_vector [--n 200000] [--dim 128] [--queries 1000] [--clusters 100] [--spread 0.35]
 *                [--intrinsic 0] [--m 16] [--efc 200] [--metric l2|cosine] [--fvecs FILE]
 *                [--seed 1] [--graph-seed 100]
 *
 * Single-threaded build and search for both (ground truth uses two threads). */
#define _GNU_SOURCE
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vector/distance.h"
#include "vector/hnsw_graph.h"
#include "vector/hnsw_meta.h"

typedef struct hl_index hl_index;
hl_index *hl_new(size_t dim, int inner_product, size_t max_elements, size_t m, size_t efc,
                 size_t seed);
void hl_add(hl_index *h, const float *v, size_t label);
void hl_set_ef(hl_index *h, size_t ef);
size_t hl_search(hl_index *h, const float *q, size_t k, size_t *labels, float *dists);
void hl_free(hl_index *h);

#define K 10

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: build times are compared on it, since the machine is shared. */
static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double rss_mb(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
    fclose(f);
  }
  return resident * (double)sysconf(_SC_PAGESIZE) / (1024.0 * 1024.0);
}

static uint64_t rng_state;
static double uniform(void) {
  uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return ((z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}
static float gaussian(void) {
  return (float)(sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform()));
}

/* Clustered data: centres uniform in [-1,1)^dim, points = centre + N(0, spread^2) noise. With
 * intrinsic > 0 the noise of each cluster lies in its own random intrinsic-dimensional
 * subspace (plus 5% isotropic noise), closer to real embeddings; with 0 it is isotropic,
 * which makes the neighbours within a cluster as hard to find as in random data. */
static float *make_clustered(size_t n, size_t dim, size_t clusters, float spread,
                             size_t intrinsic) {
  float *centres = malloc(clusters * dim * sizeof(float));
  float *basis = intrinsic ? malloc(clusters * intrinsic * dim * sizeof(float)) : NULL;
  float *data = malloc(n * dim * sizeof(float));
  if (!centres || !data || (intrinsic && !basis)) exit(1);
  for (size_t i = 0; i < clusters * dim; i++)
    centres[i] = (float)(uniform() * 2 - 1);
  float scale = intrinsic ? sqrtf((float)dim / (float)intrinsic) : 1.0f;
  for (size_t i = 0; intrinsic && i < clusters * intrinsic * dim; i++)
    basis[i] = gaussian() * scale / sqrtf((float)dim);
  for (size_t i = 0; i < n; i++) {
    size_t c = (size_t)(uniform() * clusters) % clusters;
    float *v = data + i * dim;
    if (!intrinsic) {
      for (size_t j = 0; j < dim; j++)
        v[j] = centres[c * dim + j] + spread * gaussian();
      continue;
    }
    for (size_t j = 0; j < dim; j++)
      v[j] = centres[c * dim + j] + 0.05f * spread * gaussian();
    for (size_t b = 0; b < intrinsic; b++) {
      float g = spread * gaussian();
      const float *u = basis + (c * intrinsic + b) * dim;
      for (size_t j = 0; j < dim; j++)
        v[j] += g * u[j];
    }
  }
  free(centres);
  free(basis);
  return data;
}

/* .fvecs: per vector an int32 dim then dim float32. Reads up to max vectors. */
static float *read_fvecs(const char *path, size_t max, size_t *n_out, size_t *dim_out) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(1);
  }
  int32_t d;
  if (fread(&d, 4, 1, f) != 1 || d <= 0 || d > 65536) {
    fprintf(stderr, "%s: not an .fvecs file\n", path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long bytes = ftell(f);
  fseek(f, 0, SEEK_SET);
  size_t n = (size_t)bytes / (4 + 4 * (size_t)d);
  if (n > max) n = max;
  float *data = malloc(n * d * sizeof(float));
  if (!data) exit(1);
  for (size_t i = 0; i < n; i++) {
    int32_t di;
    if (fread(&di, 4, 1, f) != 1 || di != d || fread(data + i * d, 4, d, f) != (size_t)d) {
      fprintf(stderr, "%s: short or mixed-dimension file at vector %zu\n", path, i);
      exit(1);
    }
  }
  fclose(f);
  *n_out = n;
  *dim_out = (size_t)d;
  return data;
}

/* ---- exact ground truth (2 threads) ---- */

typedef struct gt_job {
  const float *base, *queries;
  size_t n, dim, q_begin, q_end;
  const uint8_t *allowed; /* NULL = all */
  uint32_t *truth;        /* K per query */
  visor_distance_fn dist;
} gt_job;

static void *gt_run(void *arg) {
  gt_job *j = arg;
  for (size_t q = j->q_begin; q < j->q_end; q++) {
    float best_d[K];
    uint32_t best_i[K];
    size_t have = 0;
    for (size_t i = 0; i < j->n; i++) {
      if (j->allowed && !j->allowed[i]) continue;
      float d = j->dist(j->queries + q * j->dim, j->base + i * j->dim, j->dim);
      if (have < K || d < best_d[have - 1]) {
        size_t p = have < K ? have++ : K - 1;
        while (p > 0 && best_d[p - 1] > d) {
          best_d[p] = best_d[p - 1];
          best_i[p] = best_i[p - 1];
          p--;
        }
        best_d[p] = d;
        best_i[p] = (uint32_t)i;
      }
    }
    for (size_t k = 0; k < K; k++)
      j->truth[q * K + k] = k < have ? best_i[k] : UINT32_MAX;
  }
  return NULL;
}

static uint32_t *ground_truth(const float *base, size_t n, const float *queries, size_t nq,
                              size_t dim, visor_metric metric, const uint8_t *allowed) {
  uint32_t *truth = malloc(nq * K * sizeof *truth);
  gt_job jobs[2];
  pthread_t threads[2];
  for (int t = 0; t < 2; t++) {
    jobs[t] = (gt_job){base,    queries,    n,
                       dim,     nq * t / 2, nq * (t + 1) / 2,
                       allowed, truth,      visor_distance_for(metric)};
    pthread_create(&threads[t], NULL, gt_run, &jobs[t]);
  }
  for (int t = 0; t < 2; t++)
    pthread_join(threads[t], NULL);
  return truth;
}

static double recall_of(const uint32_t *found, const size_t *counts, const uint32_t *truth,
                        size_t nq) {
  size_t hit = 0, total = 0;
  for (size_t q = 0; q < nq; q++)
    for (size_t i = 0; i < K; i++) {
      if (truth[q * K + i] == UINT32_MAX) continue;
      total++;
      for (size_t j = 0; j < counts[q]; j++)
        if (found[q * K + j] == truth[q * K + i]) {
          hit++;
          break;
        }
    }
  return total ? (double)hit / total : 1;
}

/* ---- runs ---- */

typedef struct point {
  size_t ef;
  double recall, qps;
} point;

typedef struct runner {
  hnsw_graph *graph;
  hl_index *hl;
  const hnsw_filter *filter; /* ours only */
  const uint8_t *allowed;    /* hnswlib post-filter */
  size_t overfetch;          /* hnswlib post-filter: k' */
} runner;

/* One pass over the queries; results into found/counts. */
static void run_pass(const runner *r, const float *queries, size_t nq, size_t dim, size_t ef,
                     uint32_t *found, size_t *counts) {
  hnsw_result res[K];
  size_t want = r->overfetch ? r->overfetch : K;
  size_t *labels = malloc(want * sizeof *labels);
  float *dists = malloc(want * sizeof *dists);
  if (r->hl) hl_set_ef(r->hl, ef > want ? ef : want);
  for (size_t q = 0; q < nq; q++) {
    const float *query = queries + q * dim;
    if (r->graph) {
      size_t n = hnsw_graph_search(r->graph, query, K, ef, r->filter, res);
      for (size_t i = 0; i < n; i++)
        found[q * K + i] = res[i].node;
      counts[q] = n;
    } else {
      size_t n = hl_search(r->hl, query, want, labels, dists), kept = 0;
      for (size_t i = 0; i < n && kept < K; i++)
        if (!r->allowed || r->allowed[labels[i]]) found[q * K + kept++] = (uint32_t)labels[i];
      counts[q] = kept;
    }
  }
  free(labels);
  free(dists);
}

static point measure(const runner *r, const float *queries, size_t nq, size_t dim, size_t ef,
                     const uint32_t *truth) {
  uint32_t *found = malloc(nq * K * sizeof *found);
  size_t *counts = malloc(nq * sizeof *counts);
  run_pass(r, queries, nq, dim, ef, found, counts); /* warm-up + recall */
  point p = {ef, recall_of(found, counts, truth, nq), 0};
  double t0 = now(), elapsed;
  size_t done = 0;
  do {
    run_pass(r, queries, nq, dim, ef, found, counts);
    done += nq;
    elapsed = now() - t0;
  } while (elapsed < 0.25 && done < 50 * nq);
  p.qps = done / elapsed;
  free(found);
  free(counts);
  return p;
}

static const size_t efs[] = {10, 12,  16,  20,  24,  32,  40,  48,  64,  80,
                             96, 128, 160, 200, 256, 320, 400, 512, 768, 1024};
#define NEFS (sizeof efs / sizeof efs[0])

/* Sweeps ef for both indexes. The machine is shared, so each point is the best of 3
 * measurements taken alternately (ours, hnswlib, ours, ...). */
static void sweep(const runner *a, const runner *b, const float *queries, size_t nq, size_t dim,
                  const uint32_t *truth, point *pa, point *pb) {
  int done_a = 0, done_b = 0;
  for (size_t i = 0; i < NEFS; i++) {
    pa[i] = (point){efs[i], 0, 0};
    pb[i] = (point){efs[i], 0, 0};
    for (int rep = 0; rep < 3; rep++) {
      if (!done_a) {
        point p = measure(a, queries, nq, dim, efs[i], truth);
        if (p.qps > pa[i].qps) pa[i] = p;
      }
      if (!done_b) {
        point p = measure(b, queries, nq, dim, efs[i], truth);
        if (p.qps > pb[i].qps) pb[i] = p;
      }
    }
    if (!done_a)
      fprintf(stderr, "  ours     ef %4zu  recall %.4f  %9.0f QPS\n", efs[i], pa[i].recall,
              pa[i].qps);
    if (!done_b)
      fprintf(stderr, "  hnswlib  ef %4zu  recall %.4f  %9.0f QPS\n", efs[i], pb[i].recall,
              pb[i].qps);
    done_a |= pa[i].recall >= 0.995;
    done_b |= pb[i].recall >= 0.995;
    if (done_a && done_b) break;
  }
}

/* Best of 3 of one configuration. */
static point best_of_3(const runner *r, const float *queries, size_t nq, size_t dim, size_t ef,
                       const uint32_t *truth) {
  point best = {ef, 0, 0};
  for (int rep = 0; rep < 3; rep++) {
    point p = measure(r, queries, nq, dim, ef, truth);
    if (p.qps > best.qps) best = p;
  }
  return best;
}

/* The smallest-ef point reaching target, or NULL. */
static const point *at_recall(const point *pts, double target) {
  for (size_t i = 0; i < NEFS; i++)
    if (pts[i].qps > 0 && pts[i].recall >= target) return &pts[i];
  return NULL;
}

/* QPS at exactly target recall, interpolated (log QPS, linear in recall) between the two
 * sweep points around it; 0 when the sweep never reached it. */
static double interpolated_qps(const point *pts, double target) {
  for (size_t i = 0; i < NEFS; i++) {
    if (pts[i].qps <= 0 || pts[i].recall < target) continue;
    if (i == 0 || pts[i - 1].qps <= 0 || pts[i - 1].recall >= pts[i].recall) return pts[i].qps;
    double t = (target - pts[i - 1].recall) / (pts[i].recall - pts[i - 1].recall);
    return exp(log(pts[i - 1].qps) + t * (log(pts[i].qps) - log(pts[i - 1].qps)));
  }
  return 0;
}

static void row_interp(const char *label, const point *a, const point *b, double target) {
  double qa = interpolated_qps(a, target), qb = interpolated_qps(b, target);
  char ca[64] = "not reached", cb[64] = "not reached", ratio[32] = "-";
  if (qa > 0) snprintf(ca, sizeof ca, "%.0f", qa);
  if (qb > 0) snprintf(cb, sizeof cb, "%.0f", qb);
  if (qa > 0 && qb > 0) snprintf(ratio, sizeof ratio, "%.2f", qa / qb);
  printf("| %-30s | %-26s | %-26s | %6s |\n", label, ca, cb, ratio);
}

static void row_qps(const char *label, const point *a, const point *b) {
  char ca[64] = "not reached", cb[64] = "not reached", ratio[32] = "-";
  if (a) snprintf(ca, sizeof ca, "%.0f (ef %zu, r %.3f)", a->qps, a->ef, a->recall);
  if (b) snprintf(cb, sizeof cb, "%.0f (ef %zu, r %.3f)", b->qps, b->ef, b->recall);
  if (a && b) snprintf(ratio, sizeof ratio, "%.2f", a->qps / b->qps);
  printf("| %-30s | %-26s | %-26s | %6s |\n", label, ca, cb, ratio);
}

static void row(const char *label, double a, double b, const char *fmt) {
  char ca[64], cb[64];
  snprintf(ca, sizeof ca, fmt, a);
  snprintf(cb, sizeof cb, fmt, b);
  printf("| %-30s | %-26s | %-26s | %6.2f |\n", label, ca, cb, b > 0 ? a / b : 0);
}

int main(int argc, char **argv) {
  size_t n = 200000, dim = 128, nq = 1000, clusters = 100, m = 16, efc = 200, intrinsic = 0;
  float spread = 0.35f;
  const char *fvecs = NULL;
  visor_metric metric = VISOR_METRIC_L2;
  uint64_t seed = 1, graph_seed = 100;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      fprintf(stderr, "%s needs a value\n", a);
      return 2;
    }
    if (!strcmp(a, "--n"))
      n = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--dim"))
      dim = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--queries"))
      nq = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--clusters"))
      clusters = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--intrinsic"))
      intrinsic = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--spread"))
      spread = strtof(v, NULL);
    else if (!strcmp(a, "--m"))
      m = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--efc"))
      efc = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--fvecs"))
      fvecs = v;
    else if (!strcmp(a, "--graph-seed"))
      graph_seed = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--seed"))
      seed = strtoull(v, NULL, 10);
    else if (!strcmp(a, "--metric"))
      metric = !strcmp(v, "cosine") ? VISOR_METRIC_COSINE : VISOR_METRIC_L2;
    else {
      fprintf(stderr, "unknown option %s (see the comment at the top of bench_vector.c)\n", a);
      return 2;
    }
    i++;
  }
  rng_state = seed;
  float *all;
  if (fvecs) {
    size_t total;
    all = read_fvecs(fvecs, n + nq, &total, &dim);
    if (total <= nq) {
      fprintf(stderr, "%s: %zu vectors, need more than %zu\n", fvecs, total, nq);
      return 1;
    }
    n = total - nq;
  } else {
    all = make_clustered(n + nq, dim, clusters, spread, intrinsic);
  }
  if (metric == VISOR_METRIC_COSINE)
    for (size_t i = 0; i < n + nq; i++)
      visor_vector_normalize(all + i * dim, dim);
  const float *base = all, *queries = all + n * dim;
  fprintf(stderr, "data: %zu x %zu (%s), %zu queries, M %zu, ef_construction %zu, %s, kernels %s\n",
          n, dim, fvecs ? fvecs : "clustered", nq, m, efc,
          metric == VISOR_METRIC_L2 ? "l2" : "cosine", visor_distance_isa());

  double t0 = now();
  uint32_t *truth = ground_truth(base, n, queries, nq, dim, metric, NULL);
  fprintf(stderr, "ground truth: %.1f s\n", now() - t0);

  /* Build: ours, then hnswlib, each with room for n up front. */
  double rss0 = rss_mb();
  t0 = now();
  double c0 = cpu_now();
  hnsw_graph *g = hnsw_graph_new(dim, metric, m, efc, graph_seed);
  hnsw_graph_reserve(g, n);
  for (size_t i = 0; i < n; i++)
    hnsw_graph_insert(g, base + i * dim, NULL);
  double build_ours = cpu_now() - c0;
  double mem_ours = rss_mb() - rss0;
  fprintf(stderr, "ours built in %.1f s CPU, %.1f s wall (%.0f MB RSS, %.0f MB computed)\n",
          build_ours, now() - t0, mem_ours, hnsw_graph_memory(g) / 1048576.0);
  rss0 = rss_mb();
  t0 = now();
  c0 = cpu_now();
  hl_index *hl = hl_new(dim, metric != VISOR_METRIC_L2, n, m, efc, graph_seed);
  for (size_t i = 0; i < n; i++)
    hl_add(hl, base + i * dim, i);
  double build_hl = cpu_now() - c0;
  double mem_hl = rss_mb() - rss0;
  fprintf(stderr, "hnswlib built in %.1f s CPU, %.1f s wall (%.0f MB RSS)\n", build_hl, now() - t0,
          mem_hl);

  point ours[NEFS], theirs[NEFS];
  runner r_ours = {g, NULL, NULL, NULL, 0}, r_hl = {NULL, hl, NULL, NULL, 0};
  sweep(&r_ours, &r_hl, queries, nq, dim, truth, ours, theirs);

  /* Filtered search, 1% selectivity: a category per vector, uniformly among 100. */
  hnsw_meta *meta = hnsw_meta_new();
  uint8_t *allowed = calloc(n, 1);
  for (size_t i = 0; i < n; i++) {
    char id[24], cat[16];
    unsigned c = (unsigned)(uniform() * 100) % 100;
    snprintf(id, sizeof id, "v%zu", i);
    snprintf(cat, sizeof cat, "c%u", c);
    visor_vector_meta vm = {.category = cat};
    hnsw_meta_append(meta, id, &vm);
    allowed[i] = c == 7;
  }
  uint32_t *ftruth = ground_truth(base, n, queries, nq, dim, metric, allowed);
  const char *cat7[] = {"c7"};
  visor_vector_filter vf = {.categories = cat7, .category_count = 1};
  hnsw_meta_query mq;
  hnsw_filter f;
  hnsw_meta_compile(&mq, meta, &vf, &f);
  const point *o95 = at_recall(ours, 0.95);
  size_t ef = o95 ? o95->ef : 64;
  point unf = best_of_3(&r_ours, queries, nq, dim, ef, truth);
  runner r_auto = {g, NULL, &f, NULL, 0};
  point fa = best_of_3(&r_auto, queries, nq, dim, ef, ftruth);
  f.strategy = HNSW_FILTER_GRAPH;
  runner r_graph = {g, NULL, &f, NULL, 0};
  point fg = measure(&r_graph, queries, nq, dim, ef, ftruth);
  runner r_post = {NULL, hl, NULL, allowed, 100 * K};
  point fp = best_of_3(&r_post, queries, nq, dim, ef, ftruth);
  const point *h95 = at_recall(theirs, 0.95);
  point hunf = best_of_3(&r_hl, queries, nq, dim, h95 ? h95->ef : ef, truth);

  printf("\n%zu x %zu %s vectors (%s), %zu queries, k %d, M %zu, ef_construction %zu, "
         "single thread\n\n",
         n, dim, metric == VISOR_METRIC_L2 ? "l2" : "cosine", fvecs ? fvecs : "clustered", nq, K, m,
         efc);
  printf("| %-30s | %-26s | %-26s | %6s |\n", "", "ours", "hnswlib 0.6.2", "ratio");
  printf("|--------------------------------|----------------------------|--------------------------"
         "--|--------|\n");
  row("build time (s, thread CPU)", build_ours, build_hl, "%.1f");
  row_qps("QPS at recall@10 >= 0.95", o95, h95);
  row_qps("QPS at recall@10 >= 0.99", at_recall(ours, 0.99), at_recall(theirs, 0.99));
  row_interp("QPS at 0.95, interpolated", ours, theirs, 0.95);
  row_interp("QPS at 0.99, interpolated", ours, theirs, 0.99);
  row("memory, RSS delta (MB)", mem_ours, mem_hl, "%.0f");
  printf("\nFiltered search, 1%% selectivity (%zu matches), ef %zu:\n\n", f.match_estimate, ef);
  printf("| %-44s | %10s | %8s |\n", "", "us/query", "recall");
  printf("|----------------------------------------------|------------|----------|\n");
  printf("| %-44s | %10.1f | %8.4f |\n", "ours, unfiltered", 1e6 / unf.qps, unf.recall);
  printf("| %-44s | %10.1f | %8.4f |\n", "ours, filtered (auto: brute force here)", 1e6 / fa.qps,
         fa.recall);
  printf("| %-44s | %10.1f | %8.4f |\n", "ours, filtered in-graph (forced)", 1e6 / fg.qps,
         fg.recall);
  printf("| %-44s | %10.1f | %8.4f |\n", "hnswlib, unfiltered (ef at 0.95)", 1e6 / hunf.qps,
         hunf.recall);
  printf("| %-44s | %10.1f | %8.4f |\n", "hnswlib 0.6.2, post-filter of top 1000", 1e6 / fp.qps,
         fp.recall);
  hnsw_meta_query_free(&mq);
  hnsw_meta_free(meta);
  free(allowed);
  free(ftruth);
  free(truth);
  hl_free(hl);
  hnsw_graph_free(g);
  free(all);
  return 0;
}
