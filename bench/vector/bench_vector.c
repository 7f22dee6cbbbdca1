/* bench_vector.c: the built-in HNSW graph, float and int8 (quantization=int8: the same graph
 * searched on int8 codes, re-ranked with the full vectors mapped from its snapshot file),
 * against hnswlib and, when built with FAISS, FAISS IndexHNSWFlat and IndexHNSWSQ (8-bit), on
 * the same vectors with the same parameters: build time, queries per second at recall@10 =
 * 0.95 and 0.99 (ef_search swept for all; the smallest ef reaching the target is used, and
 * the QPS interpolated at the target), memory, and filtered search at 1% selectivity. The
 * recall reference is exact search (FAISS IndexFlatIP / IndexFlatL2 when built with FAISS).
 * Data: synthetic gaussian clusters, or an .fvecs file (real embeddings).
 *
 *   bench_vector [--n 200000] [--dim 128] [--queries 1000] [--clusters 100] [--spread 0.35]
 *                [--intrinsic 0] [--m 16] [--efc 200] [--metric l2|cosine] [--fvecs FILE]
 *                [--seed 1] [--graph-seed 100] [--rerank mmap|ram] [--tmp /tmp]
 *                [--faiss-hnsw 1] (0: FAISS only for the exact reference, no FAISS HNSW builds,
 *                 which take most of a large run)
 *
 * Single-threaded build and search for all (ground truth uses two threads); times are the
 * thread's CPU time (the machine is shared). */
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

#include "vector/hnsw_persist.h"

typedef struct hl_index hl_index;
hl_index *hl_new(size_t dim, int inner_product, size_t max_elements, size_t m, size_t efc,
                 size_t seed);
void hl_add(hl_index *h, const float *v, size_t label);
void hl_set_ef(hl_index *h, size_t ef);
size_t hl_search(hl_index *h, const float *q, size_t k, size_t *labels, float *dists);
void hl_free(hl_index *h);

typedef struct fs_index fs_index;
#ifdef BENCH_HAVE_FAISS
void fs_threads(int n);
fs_index *fs_new(int kind, size_t dim, int inner_product, size_t m, size_t efc);
void fs_train(fs_index *f, size_t n, const float *x);
void fs_add(fs_index *f, size_t n, const float *x);
void fs_set_ef(fs_index *f, size_t ef);
size_t fs_search(fs_index *f, const float *q, size_t k, size_t *labels);
void fs_free(fs_index *f);
void fs_exact(size_t dim, int inner_product, const float *base, size_t n, const float *queries,
              size_t nq, size_t k, uint32_t *out);
#else
static void fs_set_ef(fs_index *f, size_t ef) {
  (void)f;
  (void)ef;
}
static size_t fs_search(fs_index *f, const float *q, size_t k, size_t *labels) {
  (void)f;
  (void)q;
  (void)k;
  (void)labels;
  return 0;
}
#endif

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
  const char *name;
  hnsw_graph *graph;
  hl_index *hl;
  fs_index *fs;
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
  if (r->fs) fs_set_ef(r->fs, ef);
  for (size_t q = 0; q < nq; q++) {
    const float *query = queries + q * dim;
    if (r->graph) {
      size_t n = hnsw_graph_search(r->graph, query, K, ef, r->filter, res);
      for (size_t i = 0; i < n; i++)
        found[q * K + i] = res[i].node;
      counts[q] = n;
    } else if (r->fs) {
      size_t n = fs_search(r->fs, query, K, labels);
      for (size_t i = 0; i < n; i++)
        found[q * K + i] = (uint32_t)labels[i];
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

/* QPS in the thread's CPU time (the machine is shared: wall time would count the others). */
static point measure(const runner *r, const float *queries, size_t nq, size_t dim, size_t ef,
                     const uint32_t *truth) {
  uint32_t *found = malloc(nq * K * sizeof *found);
  size_t *counts = malloc(nq * sizeof *counts);
  run_pass(r, queries, nq, dim, ef, found, counts); /* warm-up + recall */
  point p = {ef, recall_of(found, counts, truth, nq), 0};
  double t0 = cpu_now(), elapsed;
  size_t done = 0;
  do {
    run_pass(r, queries, nq, dim, ef, found, counts);
    done += nq;
    elapsed = cpu_now() - t0;
  } while (elapsed < 0.25 && done < 50 * nq);
  p.qps = done / elapsed;
  free(found);
  free(counts);
  return p;
}

static const size_t efs[] = {10, 12,  16,  20,  24,  32,  40,  48,  64,  80,
                             96, 128, 160, 200, 256, 320, 400, 512, 768, 1024};
#define NEFS (sizeof efs / sizeof efs[0])
#define MAX_RUNNERS 5

/* Sweeps ef for every index. Each point is the best of 3 measurements taken alternately
 * (one index after the other, three times). An index stops once it reaches 0.995 or its
 * recall stops rising. */
static void sweep(const runner *rs, size_t nr, const float *queries, size_t nq, size_t dim,
                  const uint32_t *truth, point pts[][NEFS]) {
  int done[MAX_RUNNERS] = {0};
  for (size_t i = 0; i < NEFS; i++) {
    for (size_t e = 0; e < nr; e++)
      pts[e][i] = (point){efs[i], 0, 0};
    for (int rep = 0; rep < 3; rep++)
      for (size_t e = 0; e < nr; e++) {
        if (done[e]) continue;
        point p = measure(&rs[e], queries, nq, dim, efs[i], truth);
        if (p.qps > pts[e][i].qps) pts[e][i] = p;
      }
    int all = 1;
    for (size_t e = 0; e < nr; e++) {
      if (!done[e])
        fprintf(stderr, "  %-18s ef %4zu  recall %.4f  %9.0f QPS\n", rs[e].name, efs[i],
                pts[e][i].recall, pts[e][i].qps);
      /* Done at 0.995, or when three more ef steps have not raised recall (a plateau). */
      done[e] |= pts[e][i].recall >= 0.995;
      done[e] |= i >= 3 && pts[e][i].recall <= pts[e][i - 3].recall + 1e-4;
      all &= done[e];
    }
    if (all) break;
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

/* Resident memory (MB) of this process: anonymous and file-backed (mapped files). */
static void rss_split(double *anon, double *file) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long a = 0, fl = 0;
  while (f && fgets(line, sizeof line, f)) {
    sscanf(line, "RssAnon: %ld kB", &a);
    sscanf(line, "RssFile: %ld kB", &fl);
  }
  if (f) fclose(f);
  *anon = a / 1024.0;
  *file = fl / 1024.0;
}

typedef struct engine_stats {
  double build_s; /* thread CPU */
  double mem_mb;  /* RSS delta when built (loaded) */
  const char *note;
} engine_stats;

static void print_qps_cell(const point *pts, double target) {
  const point *p = at_recall(pts, target);
  char c[64] = "not reached";
  if (p) snprintf(c, sizeof c, "%.0f (ef %zu, r %.3f)", p->qps, p->ef, p->recall);
  printf(" %-24s |", c);
  double q = interpolated_qps(pts, target);
  if (q > 0)
    printf(" %8.0f |", q);
  else
    printf(" %8s |", "-");
}

int main(int argc, char **argv) {
  size_t n = 200000, dim = 128, nq = 1000, clusters = 100, m = 16, efc = 200, intrinsic = 0;
  float spread = 0.35f;
  const char *fvecs = NULL, *tmp_root = "/tmp";
  visor_metric metric = VISOR_METRIC_L2;
  uint64_t seed = 1, graph_seed = 100;
  int rerank_mmap = 1, faiss_hnsw = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
    if (!strcmp(a, "--n"))
      n = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--dim"))
      dim = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--queries"))
      nq = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--clusters"))
      clusters = strtoul(v, NULL, 10);
    else if (!strcmp(a, "--spread"))
      spread = strtof(v, NULL);
    else if (!strcmp(a, "--intrinsic"))
      intrinsic = strtoul(v, NULL, 10);
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
    else if (!strcmp(a, "--rerank"))
      rerank_mmap = strcmp(v, "ram") != 0;
    else if (!strcmp(a, "--tmp"))
      tmp_root = v;
    else if (!strcmp(a, "--faiss-hnsw"))
      faiss_hnsw = strcmp(v, "0") != 0;
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
  int ip = metric != VISOR_METRIC_L2;
  fprintf(stderr, "data: %zu x %zu (%s), %zu queries, M %zu, ef_construction %zu, %s, kernels %s\n",
          n, dim, fvecs ? fvecs : "clustered", nq, m, efc, ip ? "cosine" : "l2",
          visor_distance_isa());

  double t0 = now();
  uint32_t *truth;
#ifdef BENCH_HAVE_FAISS
  truth = malloc(nq * K * sizeof *truth);
  fs_threads(2);
  fs_exact(dim, ip, base, n, queries, nq, K, truth);
  fs_threads(1);
  const char *truth_name = ip ? "FAISS IndexFlatIP" : "FAISS IndexFlatL2";
#else
  truth = ground_truth(base, n, queries, nq, dim, metric, NULL);
  const char *truth_name = "exact scan";
#endif
  fprintf(stderr, "ground truth (%s): %.1f s\n", truth_name, now() - t0);

  /* Metadata (a category per vector, uniformly among 100: the 1% filter is c7). */
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

  engine_stats st[MAX_RUNNERS] = {{0}};
  runner rs[MAX_RUNNERS] = {{0}};
  size_t nr = 0;
  double anon0, file0, anon1, file1;

  /* Ours, float. */
  rss_split(&anon0, &file0);
  double c0 = cpu_now();
  hnsw_graph *g = hnsw_graph_new(dim, metric, m, efc, graph_seed);
  hnsw_graph_reserve(g, n);
  for (size_t i = 0; i < n; i++)
    hnsw_graph_insert(g, base + i * dim, NULL);
  st[nr].build_s = cpu_now() - c0;
  rss_split(&anon1, &file1);
  st[nr].mem_mb = (anon1 - anon0) + (file1 - file0);
  fprintf(stderr, "ours float built in %.1f s CPU (%.0f MB RSS, %.0f MB computed)\n",
          st[nr].build_s, st[nr].mem_mb, hnsw_graph_memory(g) / 1048576.0);
  rs[nr++] = (runner){.name = "ours float", .graph = g};

  /* Ours, int8: the float graph's snapshot opened quantized (what hnsw://?quantization=int8
   * does on open): same graph, codes fitted on all vectors, full vectors in the file. */
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/bench-vector-int8-XXXXXX", tmp_root);
  if (!mkdtemp(dir)) {
    perror(dir);
    return 1;
  }
  visor_error err;
  if (hnsw_snapshot_save(dir, g, meta, 1, &err) != VISOR_OK) {
    fprintf(stderr, "snapshot: %s\n", err.message);
    return 1;
  }
  rss_split(&anon0, &file0);
  c0 = cpu_now();
  hnsw_quant_options qo = {1, rerank_mmap, 1000};
  hnsw_graph *g8 = NULL;
  hnsw_meta *m8 = NULL;
  uint64_t seq;
  if (hnsw_snapshot_load_with(dir, &qo, &g8, &m8, &seq, &err) != VISOR_OK) {
    fprintf(stderr, "load int8: %s\n", err.message);
    return 1;
  }
  hnsw_meta_free(m8);
  double load8 = cpu_now() - c0;
  rss_split(&anon1, &file1);
  st[nr].build_s = st[0].build_s;
  st[nr].mem_mb = (anon1 - anon0) + (file1 - file0);
  st[nr].note = rerank_mmap ? "same graph; vectors mmap'd" : "same graph; vectors in RAM";
  fprintf(stderr,
          "ours int8 loaded + encoded in %.1f s CPU (%.0f MB anon + %.0f MB file RSS, %.0f MB "
          "computed)\n",
          load8, anon1 - anon0, file1 - file0, hnsw_graph_memory(g8) / 1048576.0);
  rs[nr++] = (runner){.name = "ours int8", .graph = g8};

  /* hnswlib. */
  rss_split(&anon0, &file0);
  c0 = cpu_now();
  hl_index *hl = hl_new(dim, ip, n, m, efc, graph_seed);
  for (size_t i = 0; i < n; i++)
    hl_add(hl, base + i * dim, i);
  st[nr].build_s = cpu_now() - c0;
  rss_split(&anon1, &file1);
  st[nr].mem_mb = (anon1 - anon0) + (file1 - file0);
  fprintf(stderr, "hnswlib built in %.1f s CPU (%.0f MB RSS)\n", st[nr].build_s, st[nr].mem_mb);
  size_t hl_at = nr;
  rs[nr++] = (runner){.name = "hnswlib 0.6.2", .hl = hl};

#ifdef BENCH_HAVE_FAISS
  fs_index *fs[2] = {NULL, NULL};
  for (int kind = 0; faiss_hnsw && kind < 2; kind++) {
    rss_split(&anon0, &file0);
    c0 = cpu_now();
    fs[kind] = fs_new(kind, dim, ip, m, efc);
    if (kind == 1) fs_train(fs[kind], n, base);
    fs_add(fs[kind], n, base);
    st[nr].build_s = cpu_now() - c0;
    rss_split(&anon1, &file1);
    st[nr].mem_mb = (anon1 - anon0) + (file1 - file0);
    rs[nr] = (runner){.name = kind ? "FAISS HNSWSQ 8bit" : "FAISS HNSWFlat", .fs = fs[kind]};
    fprintf(stderr, "%s built in %.1f s CPU (%.0f MB RSS)\n", rs[nr].name, st[nr].build_s,
            st[nr].mem_mb);
    nr++;
  }
#endif

  point pts[MAX_RUNNERS][NEFS];
  sweep(rs, nr, queries, nq, dim, truth, pts);
  rss_split(&anon1, &file1);

  /* Filtered search, 1% selectivity. */
  uint32_t *ftruth = ground_truth(base, n, queries, nq, dim, metric, allowed);
  const char *cat7[] = {"c7"};
  visor_vector_filter vf = {.categories = cat7, .category_count = 1};
  hnsw_meta_query mq;
  hnsw_filter f;
  hnsw_meta_compile(&mq, meta, &vf, &f);
  const point *o95 = at_recall(pts[1], 0.95);
  size_t ef = o95 ? o95->ef : 64;
  point unf = best_of_3(&rs[0], queries, nq, dim, ef, truth);
  point unf8 = best_of_3(&rs[1], queries, nq, dim, ef, truth);
  runner r_auto = {.graph = g, .filter = &f};
  point fa = best_of_3(&r_auto, queries, nq, dim, ef, ftruth);
  runner r_auto8 = {.graph = g8, .filter = &f};
  point fa8 = best_of_3(&r_auto8, queries, nq, dim, ef, ftruth);
  hnsw_filter fgraph = f;
  fgraph.strategy = HNSW_FILTER_GRAPH;
  runner r_graph8 = {.graph = g8, .filter = &fgraph};
  point fg8 = measure(&r_graph8, queries, nq, dim, ef, ftruth);
  runner r_post = {.hl = hl, .allowed = allowed, .overfetch = 100 * K};
  point fp = best_of_3(&r_post, queries, nq, dim, ef, ftruth);

  printf("\n%zu x %zu %s vectors (%s), %zu queries, k %d, M %zu, ef_construction %zu, "
         "single thread, recall against %s, QPS in thread CPU time\n\n",
         n, dim, ip ? "cosine" : "l2", fvecs ? fvecs : "clustered", nq, K, m, efc, truth_name);
  printf("| %-18s | %9s | %-24s | %8s | %-24s | %8s | %9s |\n", "index", "build s",
         "QPS at r >= 0.95", "@0.95 i", "QPS at r >= 0.99", "@0.99 i", "memory MB");
  printf("|--------------------|-----------|--------------------------|----------|------------"
         "--------------|----------|-----------|\n");
  for (size_t e = 0; e < nr; e++) {
    printf("| %-18s | %9.1f |", rs[e].name, st[e].build_s);
    print_qps_cell(pts[e], 0.95);
    print_qps_cell(pts[e], 0.99);
    printf(" %9.0f |\n", st[e].mem_mb);
  }
  printf("\nours int8 against each (QPS ratio at recall 0.95 and 0.99, interpolated; memory "
         "ratio):\n\n");
  printf("| %-18s | %10s | %10s | %12s |\n", "against", "QPS @0.95", "QPS @0.99", "memory");
  printf("|--------------------|------------|------------|--------------|\n");
  for (size_t e = 0; e < nr; e++) {
    if (e == 1) continue;
    double a95 = interpolated_qps(pts[1], 0.95), b95 = interpolated_qps(pts[e], 0.95);
    double a99 = interpolated_qps(pts[1], 0.99), b99 = interpolated_qps(pts[e], 0.99);
    printf("| %-18s | %10.2f | %10.2f | %12.2f |\n", rs[e].name, b95 > 0 ? a95 / b95 : 0,
           b99 > 0 ? a99 / b99 : 0, st[e].mem_mb > 0 ? st[1].mem_mb / st[e].mem_mb : 0);
  }
  printf("\nours int8: %s; %.1f s CPU to load its snapshot and encode; its file-backed RSS "
         "after the sweep (vectors read by re-ranking, page cache) %.0f MB\n",
         st[1].note, load8, file1 - file0);
  printf("\nFiltered search, 1%% selectivity (%zu matches), ef %zu:\n\n", f.match_estimate, ef);
  printf("| %-44s | %10s | %8s |\n", "", "us/query", "recall");
  printf("|----------------------------------------------|------------|----------|\n");
  printf("| %-44s | %10.1f | %8.4f |\n", "ours float, unfiltered", 1e6 / unf.qps, unf.recall);
  printf("| %-44s | %10.1f | %8.4f |\n", "ours float, filtered (auto: brute force)", 1e6 / fa.qps,
         fa.recall);
  printf("| %-44s | %10.1f | %8.4f |\n", "ours int8, unfiltered", 1e6 / unf8.qps, unf8.recall);
  printf("| %-44s | %10.1f | %8.4f |\n", "ours int8, filtered (auto: brute force)", 1e6 / fa8.qps,
         fa8.recall);
  printf("| %-44s | %10.1f | %8.4f |\n", "ours int8, filtered in-graph (forced)", 1e6 / fg8.qps,
         fg8.recall);
  printf("| %-44s | %10.1f | %8.4f |\n", "hnswlib 0.6.2, post-filter of top 1000", 1e6 / fp.qps,
         fp.recall);
  (void)hl_at;
  hnsw_meta_query_free(&mq);
  hnsw_meta_free(meta);
  free(allowed);
  free(ftruth);
  free(truth);
  hl_free(hl);
#ifdef BENCH_HAVE_FAISS
  for (int kind = 0; kind < 2; kind++)
    if (fs[kind]) fs_free(fs[kind]);
#else
  (void)faiss_hnsw;
#endif
  hnsw_graph_free(g8);
  hnsw_graph_free(g);
  char path[4200];
  snprintf(path, sizeof path, "%s/snapshot", dir);
  unlink(path);
  rmdir(dir);
  free(all);
  return 0;
}
