/* hnsw_graph.c: the HNSW graph. Layout (as in hnswlib, for cache locality): one contiguous
 * block holds, per node, its level-0 neighbour list (count + 2M ids) followed by its vector;
 * upper levels (rare: 1/M of nodes per level) live in one shared array, each node's lists
 * at its offset there (4 bytes per node, not a pointer and a malloc each). Searches get
 * their visited set (uint16 epoch tags, so no clearing per query) and heaps from a pool.
 *
 * Quantized (int8) mode: a node's block holds its level-0 list, the squared norm of its
 * vector and its int8 codes (hnsw_quant.h); the full-precision vectors live outside the
 * block, each malloc'd, or inside a read-only mmap of the snapshot file. Inserts, repairs
 * and brute-force scans use the full vectors (the graph is the same as the float index's);
 * searches walk the graph on the codes, then re-rank what they found with the full vectors.
 * The codes are fitted once min_vectors nodes exist (before that searches use the full
 * vectors), and refitted whenever the node count has doubled or the new vectors fall outside
 * the fitted range too often. A quantized graph stores its level-0 ids in 3 bytes while
 * every id fits (below HNSW_NARROW_ID_LIMIT nodes), and rewrites them in 4 bytes when it
 * grows past that: a quarter of a node's block at 128-d. */
#include "vector/hnsw_graph.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vector/distance.h"
#include "vector/hnsw_quant.h"

#define HNSW_MAX_LEVEL 30
#define HNSW_NONE UINT32_MAX
#define HNSW_MAX_M0 2048 /* 2 * the largest m */

/* 3-byte ids are read as the low bytes of a 4-byte load (id_at). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the 3-byte neighbour ids assume a little-endian host"
#endif

/* Level-0 ids of a quantized graph take 3 bytes while the capacity stays at or below this
 * (every id below 2^24); a test build lowers it to exercise the rewrite to 4 bytes. */
#ifndef HNSW_NARROW_ID_LIMIT
#define HNSW_NARROW_ID_LIMIT ((size_t)1 << 24)
#endif

typedef struct heap {
  hnsw_result *items; /* max-heap on distance */
  size_t size, capacity;
} heap;

typedef struct scratch {
  uint16_t *tags;
  size_t tag_capacity;
  uint16_t epoch;
  heap candidates; /* distances negated: the top is the closest */
  heap results;
  hnsw_result *sorted;
  size_t sorted_capacity;
  int8_t *query_codes; /* quantized mode: the prepared query */
  size_t query_codes_capacity;
  struct scratch *next;
} scratch;

struct hnsw_graph {
  size_t dim;
  visor_metric metric;
  visor_distance_fn dist;
  size_t m, m0, ef_construction;
  double level_mult;
  size_t count, capacity, deleted_count;
  size_t id_bytes;         /* width of a level-0 id in data0: 4, or 3 (quantized, narrow) */
  size_t link0_bytes;      /* a level-0 list in data0: u32 count + ids, padded to 4 bytes */
  size_t wide_link0_bytes; /* the same with 4-byte ids: the snapshot's layout */
  size_t node_bytes;
  char *data0;
  uint32_t *upper_pool;         /* the upper-level lists of every node, level by level */
  size_t upper_used, upper_cap; /* words */
  uint32_t *upper_at;           /* per node: offset of its lists in upper_pool (level > 0) */
  uint8_t *level;
  uint8_t *deleted;
  uint32_t entry;
  int max_level; /* -1 when empty */
  uint64_t rng;
  pthread_mutex_t pool_lock;
  scratch *pool;
  /* quantized mode (quantized != 0) */
  int quantized, rerank_mmap;
  size_t quant_min;
  hnsw_quant quant;
  int fitted;
  size_t fit_count, encoded_since_fit, clamped_since_fit;
  visor_dot_i8_fn dot8;
  const float **fvec; /* full-precision vector of each node */
  size_t ram_vectors; /* how many of them are malloc'd */
  char *map;          /* read-only mapping of the snapshot holding the others */
  size_t map_len;
  size_t float_node_bytes; /* a node's size in the snapshot: level-0 list + float vector */
};

/* The approximate distance of a prepared query to a node's codes. */
typedef struct code_query {
  hnsw_quant_query q;
  float qnorm2;
  int l2;
} code_query;

/* ---- heaps ---- */

static int heap_reserve(heap *h, size_t n) {
  if (n <= h->capacity) return 0;
  size_t cap = h->capacity ? h->capacity : 64;
  while (cap < n)
    cap *= 2;
  hnsw_result *items = realloc(h->items, cap * sizeof *items);
  if (!items) return -1;
  h->items = items;
  h->capacity = cap;
  return 0;
}

/* Callers reserve first; push never fails. */
static void heap_push(heap *h, float distance, uint32_t node) {
  size_t i = h->size++;
  hnsw_result *a = h->items;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (a[parent].distance >= distance) break;
    a[i] = a[parent];
    i = parent;
  }
  a[i].distance = distance;
  a[i].node = node;
}

static void heap_pop(heap *h) {
  hnsw_result *a = h->items;
  hnsw_result last = a[--h->size];
  size_t n = h->size, i = 0;
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && a[child + 1].distance > a[child].distance) child++;
    if (a[child].distance <= last.distance) break;
    a[i] = a[child];
    i = child;
  }
  if (n) a[i] = last;
}

/* ---- node access ---- */

static inline char *block_of(const hnsw_graph *g, uint32_t node) {
  return g->data0 + (size_t)node * g->node_bytes;
}

static inline const float *vec_of(const hnsw_graph *g, uint32_t node) {
  if (g->fvec) return g->fvec[node];
  return (const float *)(block_of(g, node) + g->link0_bytes);
}

/* Quantized mode: a node's squared norm, followed by its codes. */
static inline const char *code_block(const hnsw_graph *g, uint32_t node) {
  return block_of(g, node) + g->link0_bytes;
}

static inline float code_distance(const hnsw_graph *g, const code_query *cq, uint32_t node) {
  const char *b = code_block(g, node);
  float ip = cq->q.bias +
             cq->q.alpha * (float)g->dot8(cq->q.codes, (const int8_t *)(b + 4), g->quant.code_len);
  if (!cq->l2) return 1.0f - ip;
  float norm2;
  memcpy(&norm2, b, sizeof norm2);
  return cq->qnorm2 - 2.0f * ip + norm2;
}

static int vector_in_map(const hnsw_graph *g, const float *v) {
  return g->map && (const char *)v >= g->map && (const char *)v < g->map + g->map_len;
}

static void free_vector(hnsw_graph *g, uint32_t node) {
  if (g->fvec[node] && !vector_in_map(g, g->fvec[node])) {
    free((void *)g->fvec[node]);
    g->ram_vectors--;
  }
  g->fvec[node] = NULL;
}

static size_t encode_node(hnsw_graph *g, uint32_t node) {
  char *b = block_of(g, node) + g->link0_bytes;
  return hnsw_quant_encode(&g->quant, g->fvec[node], (int8_t *)(b + 4));
}

/* Fits the codes on every node's vector and encodes them all. Vectors in the mapped
 * snapshot are then dropped from the process's resident pages (the file stays cached). */
static void refit(hnsw_graph *g) {
  hnsw_quant_reset(&g->quant);
  for (uint32_t i = 0; i < g->count; i++)
    hnsw_quant_observe(&g->quant, g->fvec[i]);
  hnsw_quant_fit(&g->quant);
  for (uint32_t i = 0; i < g->count; i++)
    encode_node(g, i);
  g->fitted = 1;
  g->fit_count = g->count;
  g->encoded_since_fit = g->clamped_since_fit = 0;
  if (g->map) madvise(g->map, g->map_len, MADV_DONTNEED);
}

/* After node was added: fit when enough nodes exist, refit on growth or drift. */
static void maybe_refit(hnsw_graph *g) {
  if (!g->fitted) {
    if (g->count >= g->quant_min) refit(g);
    return;
  }
  int grown = g->count >= 2 * g->fit_count;
  int drifted =
      g->encoded_since_fit >= 256 && g->clamped_since_fit * 100 > g->encoded_since_fit * g->dim;
  if (grown || drifted) refit(g);
}

static inline size_t max_links(const hnsw_graph *g, int level) {
  return level == 0 ? g->m0 : g->m;
}

/* ---- neighbour lists ----
 * A list is a uint32 count followed by its ids, width bytes each (little-endian when 3).
 * Upper levels always use 4; level 0 uses g->id_bytes. */

/* Id j of a list's ids at p, read in place: one load (the 4-byte read of a 3-byte id stays
 * inside the node's block, which continues after its list). width is a constant where the
 * search loop is specialised on it. */
static inline __attribute__((always_inline)) uint32_t id_at(const char *p, size_t width,
                                                            uint32_t j) {
  uint32_t v;
  memcpy(&v, p + (size_t)j * width, sizeof v);
  return width == 4 ? v : v & 0xFFFFFFu;
}

/* The ids of the list at block: a pointer to them (width 4) or decoded into buf. */
static inline const uint32_t *block_ids(const char *block, size_t width, uint32_t *buf,
                                        uint32_t *n) {
  memcpy(n, block, sizeof *n);
  if (width == 4) return (const uint32_t *)(block + 4);
  for (uint32_t j = 0; j < *n; j++)
    buf[j] = id_at(block + 4, 3, j);
  return buf;
}

/* Sets the list at block to ids[0..n) (ids may point into that list). */
static inline void block_store(char *block, size_t width, const uint32_t *ids, uint32_t n) {
  if (width == 4) {
    if (n) memmove(block + 4, ids, n * sizeof *ids);
  } else {
    unsigned char *p = (unsigned char *)block + 4;
    for (uint32_t j = 0; j < n; j++, p += 3) {
      p[0] = (unsigned char)ids[j];
      p[1] = (unsigned char)(ids[j] >> 8);
      p[2] = (unsigned char)(ids[j] >> 16);
    }
  }
  memcpy(block, &n, sizeof n);
}

/* Words of the upper-level pool a node reaching level holds: one list per level above 0. */
static inline size_t upper_words(const hnsw_graph *g, int level) {
  return (size_t)level * (g->m + 1);
}

static inline char *list_block(const hnsw_graph *g, uint32_t node, int level) {
  return level == 0
             ? block_of(g, node)
             : (char *)(g->upper_pool + g->upper_at[node] + (size_t)(level - 1) * (g->m + 1));
}

static inline size_t list_width(const hnsw_graph *g, int level) {
  return level == 0 ? g->id_bytes : 4;
}

/* node's neighbours at level (*n of them): see block_ids; buf holds HNSW_MAX_M0 ids. */
static inline const uint32_t *list_ids(const hnsw_graph *g, uint32_t node, int level, uint32_t *buf,
                                       uint32_t *n) {
  return block_ids(list_block(g, node, level), list_width(g, level), buf, n);
}

static inline void list_store(hnsw_graph *g, uint32_t node, int level, const uint32_t *ids,
                              uint32_t n) {
  block_store(list_block(g, node, level), list_width(g, level), ids, n);
}

/* ---- scratch pool ---- */

static void scratch_free(scratch *s) {
  free(s->tags);
  free(s->candidates.items);
  free(s->results.items);
  free(s->sorted);
  free(s->query_codes);
  free(s);
}

static scratch *scratch_acquire(hnsw_graph *g) {
  pthread_mutex_lock(&g->pool_lock);
  scratch *s = g->pool;
  if (s) g->pool = s->next;
  pthread_mutex_unlock(&g->pool_lock);
  if (!s) {
    s = calloc(1, sizeof *s);
    if (!s) return NULL;
  }
  if (s->tag_capacity < g->count) {
    size_t cap = g->capacity > g->count ? g->capacity : g->count;
    uint16_t *tags = realloc(s->tags, cap * sizeof *tags);
    if (!tags) {
      scratch_free(s);
      return NULL;
    }
    memset(tags, 0, cap * sizeof *tags);
    s->tags = tags;
    s->tag_capacity = cap;
    s->epoch = 0;
  }
  if (g->quantized && s->query_codes_capacity < g->quant.code_len) {
    int8_t *codes = realloc(s->query_codes, g->quant.code_len);
    if (!codes) {
      scratch_free(s);
      return NULL;
    }
    s->query_codes = codes;
    s->query_codes_capacity = g->quant.code_len;
  }
  return s;
}

static void scratch_release(hnsw_graph *g, scratch *s) {
  pthread_mutex_lock(&g->pool_lock);
  s->next = g->pool;
  g->pool = s;
  pthread_mutex_unlock(&g->pool_lock);
}

static void visit_begin(scratch *s) {
  if (++s->epoch == 0) {
    memset(s->tags, 0, s->tag_capacity * sizeof *s->tags);
    s->epoch = 1;
  }
}

/* ---- life cycle ---- */

hnsw_graph *hnsw_graph_new(size_t dim, visor_metric metric, size_t m, size_t ef_construction,
                           uint64_t seed) {
  if (dim == 0 || m < 2 || m > 1024 || ef_construction == 0) return NULL;
  hnsw_graph *g = calloc(1, sizeof *g);
  if (!g) return NULL;
  g->dim = dim;
  g->metric = metric;
  g->dist = visor_distance_for(metric);
  g->m = m;
  g->m0 = 2 * m;
  g->ef_construction = ef_construction;
  g->level_mult = 1.0 / log((double)m);
  g->id_bytes = 4;
  g->wide_link0_bytes = g->link0_bytes = (1 + g->m0) * sizeof(uint32_t);
  g->node_bytes = g->link0_bytes + dim * sizeof(float);
  g->max_level = -1;
  g->entry = HNSW_NONE;
  g->rng = seed ? seed : 0x9E3779B97F4A7C15ULL;
  pthread_mutex_init(&g->pool_lock, NULL);
  return g;
}

int hnsw_graph_set_quantization(hnsw_graph *g, const hnsw_quant_options *o) {
  if (!o || !o->int8) return 0;
  if (g->count || g->capacity || g->quantized) return -1; /* before any reserve */
  if (hnsw_quant_init(&g->quant, g->dim) != 0) return -1;
  g->quantized = 1;
  g->rerank_mmap = o->rerank_mmap;
  g->quant_min = o->min_vectors ? o->min_vectors : 1;
  g->dot8 = visor_dot_i8();
  g->id_bytes = 3;
  g->link0_bytes = (4 + 3 * g->m0 + 3) / 4 * 4;
  g->node_bytes = g->link0_bytes + sizeof(float) + g->quant.code_len;
  return 0;
}

/* Rewrites a narrow graph's level-0 lists with 4-byte ids into a block for capacity nodes.
 * 0, or -1 when out of memory (the graph is then unchanged). */
static int widen_ids(hnsw_graph *g, size_t capacity) {
  size_t link0_bytes = g->wide_link0_bytes;
  size_t node_bytes = link0_bytes + (g->node_bytes - g->link0_bytes);
  char *data0 = malloc(capacity * node_bytes);
  if (!data0) return -1;
  uint32_t buf[HNSW_MAX_M0];
  for (uint32_t i = 0; i < g->count; i++) {
    const char *from = block_of(g, i);
    char *to = data0 + (size_t)i * node_bytes;
    uint32_t n;
    const uint32_t *ids = block_ids(from, 3, buf, &n);
    memset(to, 0, link0_bytes);
    block_store(to, 4, ids, n);
    memcpy(to + link0_bytes, from + g->link0_bytes, node_bytes - link0_bytes);
  }
  free(g->data0);
  g->data0 = data0;
  g->id_bytes = 4;
  g->link0_bytes = link0_bytes;
  g->node_bytes = node_bytes;
  return 0;
}

void hnsw_graph_requantize(hnsw_graph *g) {
  if (!g->quantized) return;
  if (g->count >= g->quant_min)
    refit(g);
  else
    g->fitted = 0;
}

int hnsw_graph_quantized(const hnsw_graph *g) {
  return g->quantized ? (g->fitted ? 2 : 1) : 0;
}

void hnsw_graph_free(hnsw_graph *g) {
  if (!g) return;
  if (g->fvec)
    for (uint32_t i = 0; i < g->count; i++)
      free_vector(g, i);
  free(g->fvec);
  if (g->map) munmap(g->map, g->map_len);
  hnsw_quant_free(&g->quant);
  free(g->upper_pool);
  free(g->upper_at);
  free(g->data0);
  free(g->level);
  free(g->deleted);
  while (g->pool) {
    scratch *s = g->pool;
    g->pool = s->next;
    scratch_free(s);
  }
  pthread_mutex_destroy(&g->pool_lock);
  free(g);
}

/* Room for words more words in the upper-level pool. 0, or -1 when out of memory or past
 * the offsets' 32 bits. */
static int upper_reserve(hnsw_graph *g, size_t words) {
  size_t need = g->upper_used + words;
  if (need <= g->upper_cap) return 0;
  if (need > UINT32_MAX) return -1;
  size_t cap = g->upper_cap ? g->upper_cap : 1024;
  while (cap < need)
    cap *= 2;
  uint32_t *pool = realloc(g->upper_pool, cap * sizeof *pool);
  if (!pool) return -1;
  g->upper_pool = pool;
  g->upper_cap = cap;
  return 0;
}

int hnsw_graph_reserve(hnsw_graph *g, size_t n) {
  if (n <= g->capacity) return 0;
  if (n > UINT32_MAX - 1) return -1;
  if (g->id_bytes == 3 && n > HNSW_NARROW_ID_LIMIT) {
    if (widen_ids(g, n) != 0) return -1;
  } else {
    char *data0 = realloc(g->data0, n * g->node_bytes);
    if (!data0) return -1;
    g->data0 = data0;
  }
  uint32_t *upper_at = realloc(g->upper_at, n * sizeof *upper_at);
  if (!upper_at) return -1;
  g->upper_at = upper_at;
  uint8_t *level = realloc(g->level, n);
  if (!level) return -1;
  g->level = level;
  uint8_t *deleted = realloc(g->deleted, n);
  if (!deleted) return -1;
  g->deleted = deleted;
  if (g->quantized) {
    const float **fvec = realloc(g->fvec, n * sizeof *fvec);
    if (!fvec) return -1;
    g->fvec = fvec;
  }
  g->capacity = n;
  return 0;
}

size_t hnsw_graph_count(const hnsw_graph *g) {
  return g->count;
}
size_t hnsw_graph_live(const hnsw_graph *g) {
  return g->count - g->deleted_count;
}
int hnsw_graph_is_deleted(const hnsw_graph *g, uint32_t node) {
  return node >= g->count || g->deleted[node];
}
const float *hnsw_graph_vector(const hnsw_graph *g, uint32_t node) {
  return vec_of(g, node);
}
int hnsw_graph_level(const hnsw_graph *g, uint32_t node) {
  return g->level[node];
}
size_t hnsw_graph_neighbours(const hnsw_graph *g, uint32_t node, int level, uint32_t *out) {
  uint32_t n;
  const uint32_t *ids = list_ids(g, node, level, out, &n);
  if (ids != out) memcpy(out, ids, n * sizeof *ids);
  return n;
}
size_t hnsw_graph_dim(const hnsw_graph *g) {
  return g->dim;
}
size_t hnsw_graph_m(const hnsw_graph *g) {
  return g->m;
}
void hnsw_graph_set_ef_construction(hnsw_graph *g, size_t ef) {
  if (ef) g->ef_construction = ef;
}
float hnsw_graph_distance(const hnsw_graph *g, const float *a, const float *b) {
  return g->dist(a, b, g->dim);
}

size_t hnsw_graph_memory(const hnsw_graph *g) {
  size_t bytes = sizeof *g + g->capacity * (g->node_bytes + sizeof(uint32_t) + 2) +
                 g->upper_cap * sizeof(uint32_t);
  if (g->quantized)
    bytes += g->capacity * sizeof(float *) + g->ram_vectors * g->dim * sizeof(float) +
             4 * g->dim * sizeof(float);
  return bytes;
}

/* ---- search primitives ---- */

static inline int node_ok(const hnsw_graph *g, uint32_t node, const hnsw_filter *f) {
  return !g->deleted[node] && (!f || !f->accept || f->accept(f->ctx, node));
}

/* The distance used by a search: the codes' (cq given) or the full vectors'. */
static inline __attribute__((always_inline)) float
search_distance(const hnsw_graph *g, const code_query *cq, const float *q, uint32_t node) {
  return cq ? code_distance(g, cq, node) : g->dist(q, vec_of(g, node), g->dim);
}

static inline const char *search_prefetch_target(const hnsw_graph *g, const code_query *cq,
                                                 uint32_t node) {
  return cq ? code_block(g, node) : (const char *)vec_of(g, node);
}

/* Greedy descent (ef = 1) from level `from` down to level `to` + 1. */
static uint32_t greedy_descend(const hnsw_graph *g, const code_query *cq, const float *q,
                               uint32_t cur, float *cur_dist, int from, int to) {
  for (int level = from; level > to; level--) {
    int changed = 1;
    while (changed) {
      changed = 0;
      uint32_t n, buf[HNSW_MAX_M0];
      const uint32_t *l = list_ids(g, cur, level, buf, &n);
      for (uint32_t j = 0; j < n; j++) {
        float d = search_distance(g, cq, q, l[j]);
        if (d < *cur_dist) {
          *cur_dist = d;
          cur = l[j];
          changed = 1;
        }
      }
    }
  }
  return cur;
}

/* Best-first search of one level from entry; leaves up to ef accepted nodes in s->results.
 * -1 when out of memory. */
static inline __attribute__((always_inline)) int
search_level_with(const hnsw_graph *g, const code_query *cq, scratch *s, const float *q,
                  uint32_t entry, float entry_dist, size_t ef, int level, const hnsw_filter *f,
                  const size_t width) {
  heap *cand = &s->candidates, *res = &s->results;
  cand->size = res->size = 0;
  if (heap_reserve(res, ef + 1) != 0) return -1;
  visit_begin(s);
  uint16_t *tags = s->tags;
  uint16_t epoch = s->epoch;

  /* Without tombstones or a filter every node qualifies: skip the per-node checks. */
  const int check = f != NULL || g->deleted_count > 0;
  tags[entry] = epoch;
  float bound = INFINITY;
  if (!check || node_ok(g, entry, f)) {
    heap_push(res, entry_dist, entry);
    bound = entry_dist;
  }
  if (heap_reserve(cand, 1) != 0) return -1;
  heap_push(cand, -entry_dist, entry);

  while (cand->size) {
    hnsw_result c = cand->items[0];
    if (-c.distance > bound && res->size >= ef) break;
    heap_pop(cand);
    const char *list = list_block(g, c.node, level), *l = list + 4;
    uint32_t n;
    memcpy(&n, list, sizeof n);
    if (heap_reserve(cand, cand->size + n) != 0) return -1;
    if (n) {
      uint32_t first = id_at(l, width, 0);
      __builtin_prefetch(&tags[first]);
      __builtin_prefetch(search_prefetch_target(g, cq, first));
    }
    for (uint32_t j = 0; j < n; j++) {
      uint32_t nb = id_at(l, width, j);
      if (j + 1 < n) {
        uint32_t after = id_at(l, width, j + 1);
        __builtin_prefetch(&tags[after]);
        const char *next = search_prefetch_target(g, cq, after);
        __builtin_prefetch(next);
        __builtin_prefetch(next + 64);
        if (cq) __builtin_prefetch(next + 128); /* norm + codes are 132 B at 128-d */
      }
      if (tags[nb] == epoch) continue;
      tags[nb] = epoch;
      float d = search_distance(g, cq, q, nb);
      if (res->size < ef || d < bound) {
        heap_push(cand, -d, nb);
        if (!check || node_ok(g, nb, f)) {
          heap_push(res, d, nb);
          if (res->size > ef) heap_pop(res);
          bound = res->items[0].distance;
        }
      }
    }
  }
  return 0;
}

/* search_level_with specialised on the level's id width. */
static inline __attribute__((always_inline)) int
search_level_by_width(const hnsw_graph *g, const code_query *cq, scratch *s, const float *q,
                      uint32_t entry, float entry_dist, size_t ef, int level,
                      const hnsw_filter *f) {
  if (list_width(g, level) == 3)
    return search_level_with(g, cq, s, q, entry, entry_dist, ef, level, f, 3);
  return search_level_with(g, cq, s, q, entry, entry_dist, ef, level, f, 4);
}

static int search_level(const hnsw_graph *g, scratch *s, const float *q, uint32_t entry,
                        float entry_dist, size_t ef, int level, const hnsw_filter *f) {
  return search_level_by_width(g, NULL, s, q, entry, entry_dist, ef, level, f);
}

static int search_level_codes(const hnsw_graph *g, const code_query *cq, scratch *s, uint32_t entry,
                              float entry_dist, size_t ef, const hnsw_filter *f) {
  return search_level_by_width(g, cq, s, NULL, entry, entry_dist, ef, 0, f);
}

/* Moves s->results into s->sorted, closest first. Returns the count, or -1 on OOM. */
static long drain_sorted(scratch *s) {
  heap *res = &s->results;
  size_t n = res->size;
  if (s->sorted_capacity < n) {
    hnsw_result *sorted = realloc(s->sorted, n * sizeof *sorted);
    if (!sorted) return -1;
    s->sorted = sorted;
    s->sorted_capacity = n;
  }
  for (size_t i = n; i > 0; i--) {
    s->sorted[i - 1] = res->items[0];
    heap_pop(res);
  }
  return (long)n;
}

/* The neighbour-selection heuristic: keep a candidate (closest first) only if it is closer
 * to the base than to every neighbour already kept. */
static size_t select_neighbours(const hnsw_graph *g, const hnsw_result *cand, size_t n, size_t max,
                                uint32_t *out) {
  if (n <= max) {
    for (size_t i = 0; i < n; i++)
      out[i] = cand[i].node;
    return n;
  }
  size_t kept = 0;
  for (size_t i = 0; i < n && kept < max; i++) {
    const float *v = vec_of(g, cand[i].node);
    int good = 1;
    for (size_t j = 0; j < kept; j++) {
      if (g->dist(v, vec_of(g, out[j]), g->dim) < cand[i].distance) {
        good = 0;
        break;
      }
    }
    if (good) out[kept++] = cand[i].node;
  }
  return kept;
}

static int cmp_result(const void *a, const void *b) {
  float x = ((const hnsw_result *)a)->distance, y = ((const hnsw_result *)b)->distance;
  return x < y ? -1 : x > y;
}

/* Adds the link from -> to at level, shrinking from's list with the heuristic when full. */
static int add_link(hnsw_graph *g, uint32_t from, uint32_t to, int level) {
  size_t max = max_links(g, level);
  uint32_t n, ids[HNSW_MAX_M0 + 1];
  const uint32_t *l = list_ids(g, from, level, ids, &n);
  for (uint32_t j = 0; j < n; j++)
    if (l[j] == to) return 0;
  if (l != ids) memcpy(ids, l, n * sizeof *ids);
  if (n < max) {
    ids[n] = to;
    list_store(g, from, level, ids, n + 1);
    return 0;
  }
  hnsw_result cand[HNSW_MAX_M0 + 1];
  const float *v = vec_of(g, from);
  for (uint32_t j = 0; j < n; j++) {
    cand[j].node = ids[j];
    cand[j].distance = g->dist(v, vec_of(g, ids[j]), g->dim);
  }
  cand[n].node = to;
  cand[n].distance = g->dist(v, vec_of(g, to), g->dim);
  qsort(cand, n + 1, sizeof *cand, cmp_result);
  uint32_t kept = (uint32_t)select_neighbours(g, cand, n + 1, max, ids);
  list_store(g, from, level, ids, kept);
  return 0;
}

static int random_level(hnsw_graph *g) {
  uint64_t z = (g->rng += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  double u = ((z >> 11) + 1) * (1.0 / 9007199254740993.0); /* (0, 1] */
  int level = (int)(-log(u) * g->level_mult);
  return level > HNSW_MAX_LEVEL ? HNSW_MAX_LEVEL : level;
}

int hnsw_graph_insert(hnsw_graph *g, const float *vec, uint32_t *node_out) {
  if (g->count == g->capacity) {
    size_t cap = g->capacity ? g->capacity * 2 : 1024;
    if (hnsw_graph_reserve(g, cap) != 0) return -1;
  }
  uint32_t node = (uint32_t)g->count;
  float *copy = NULL;
  if (g->quantized) {
    copy = malloc(g->dim * sizeof *copy);
    if (!copy) return -1;
    memcpy(copy, vec, g->dim * sizeof *copy);
  }
  int level = random_level(g);
  size_t words = upper_words(g, level);
  if (upper_reserve(g, words) != 0) {
    free(copy);
    return -1;
  }
  g->upper_at[node] = (uint32_t)g->upper_used;
  if (words) memset(g->upper_pool + g->upper_used, 0, words * sizeof *g->upper_pool);
  g->upper_used += words;
  list_store(g, node, 0, NULL, 0);
  if (g->quantized) {
    g->fvec[node] = copy;
    g->ram_vectors++;
    double sum = 0;
    for (size_t i = 0; i < g->dim; i++)
      sum += (double)copy[i] * copy[i];
    float norm2 = (float)sum;
    memcpy(block_of(g, node) + g->link0_bytes, &norm2, sizeof norm2);
  } else {
    memcpy(block_of(g, node) + g->link0_bytes, vec, g->dim * sizeof(float));
  }
  g->level[node] = (uint8_t)level;
  g->deleted[node] = 0;
  g->count++;
  if (node_out) *node_out = node;
  if (g->quantized) {
    if (g->fitted) {
      g->clamped_since_fit += encode_node(g, node);
      g->encoded_since_fit++;
    }
    maybe_refit(g);
  }
  if (g->max_level < 0) {
    g->entry = node;
    g->max_level = level;
    return 0;
  }

  scratch *s = scratch_acquire(g);
  if (!s) goto oom;
  const float *v = vec_of(g, node);
  uint32_t cur = g->entry;
  float cur_dist = g->dist(v, vec_of(g, cur), g->dim);
  if (level < g->max_level) cur = greedy_descend(g, NULL, v, cur, &cur_dist, g->max_level, level);
  uint32_t selected[HNSW_MAX_M0];
  for (int l = level < g->max_level ? level : g->max_level; l >= 0; l--) {
    if (search_level(g, s, v, cur, cur_dist, g->ef_construction, l, NULL) != 0) goto oom_s;
    long n = drain_sorted(s);
    if (n < 0) goto oom_s;
    if (n == 0) continue;
    size_t kept = select_neighbours(g, s->sorted, (size_t)n, g->m, selected);
    list_store(g, node, l, selected, (uint32_t)kept);
    for (size_t i = 0; i < kept; i++)
      add_link(g, selected[i], node, l);
    cur = s->sorted[0].node;
    cur_dist = s->sorted[0].distance;
  }
  scratch_release(g, s);
  if (level > g->max_level) {
    g->entry = node;
    g->max_level = level;
  }
  return 0;
oom_s:
  scratch_release(g, s);
oom:
  /* The node stays, possibly with partial links, but tombstoned: never returned. */
  g->deleted[node] = 1;
  g->deleted_count++;
  return -1;
}

void hnsw_graph_delete(hnsw_graph *g, uint32_t node) {
  if (node >= g->count || g->deleted[node]) return;
  g->deleted[node] = 1;
  g->deleted_count++;
}

/* ---- queries ---- */

static void top_k_push(heap *h, size_t k, float d, uint32_t node) {
  if (h->size < k) {
    heap_push(h, d, node);
  } else if (d < h->items[0].distance) {
    heap_pop(h);
    heap_push(h, d, node);
  }
}

static size_t drain_into(heap *h, hnsw_result *out) {
  size_t n = h->size;
  for (size_t i = n; i > 0; i--) {
    out[i - 1] = h->items[0];
    heap_pop(h);
  }
  return n;
}

size_t hnsw_graph_brute_force(hnsw_graph *g, const float *query, size_t k,
                              const hnsw_filter *filter, hnsw_result *out) {
  if (k == 0 || hnsw_graph_live(g) == 0) return 0;
  heap h = {0};
  if (heap_reserve(&h, k + 1) != 0) return 0;
  if (filter && filter->lists) {
    for (size_t li = 0; li < filter->list_count; li++) {
      const uint32_t *list = filter->lists[li];
      size_t n = filter->list_sizes[li];
      for (size_t i = 0; i < n; i++) {
        uint32_t node = list[i];
        if (i + 4 < n) __builtin_prefetch(vec_of(g, list[i + 4]));
        if (node >= g->count || !node_ok(g, node, filter)) continue;
        top_k_push(&h, k, g->dist(query, vec_of(g, node), g->dim), node);
      }
    }
  } else {
    for (uint32_t node = 0; node < g->count; node++) {
      if (!node_ok(g, node, filter)) continue;
      top_k_push(&h, k, g->dist(query, vec_of(g, node), g->dim), node);
    }
  }
  size_t n = drain_into(&h, out);
  free(h.items);
  return n;
}

/* The query encoded for code distances, in s's query buffer. */
static void prepare_code_query(const hnsw_graph *g, scratch *s, const float *query,
                               code_query *cq) {
  cq->q.codes = s->query_codes;
  hnsw_quant_prepare(&g->quant, query, &cq->q);
  cq->l2 = g->metric == VISOR_METRIC_L2;
  double qn2 = 0;
  for (size_t i = 0; cq->l2 && i < g->dim; i++)
    qn2 += (double)query[i] * query[i];
  cq->qnorm2 = (float)qn2;
}

/* The nodes a code search left in s->results re-ranked by their exact distance to query:
 * the best k into out (s->candidates holds them meanwhile; s->results is emptied). */
static size_t rerank_found(hnsw_graph *g, scratch *s, const float *query, size_t k,
                           hnsw_result *out) {
  heap *top = &s->candidates;
  top->size = 0;
  if (heap_reserve(top, k + 1) != 0) return 0;
  const heap *found = &s->results;
  for (size_t i = 0; i < found->size; i++) {
    uint32_t node = found->items[i].node;
    if (i + 1 < found->size) __builtin_prefetch(vec_of(g, found->items[i + 1].node));
    top_k_push(top, k, g->dist(query, vec_of(g, node), g->dim), node);
  }
  s->results.size = 0;
  return drain_into(top, out);
}

/* Quantized search: the graph walked on the codes, then the ef nodes found re-ranked by
 * their exact distance to query. */
static size_t search_codes(hnsw_graph *g, scratch *s, const float *query, size_t k, size_t ef,
                           const hnsw_filter *filter, hnsw_result *out) {
  code_query cq;
  prepare_code_query(g, s, query, &cq);
  uint32_t cur = g->entry;
  float cur_dist = code_distance(g, &cq, cur);
  cur = greedy_descend(g, &cq, NULL, cur, &cur_dist, g->max_level, 0);
  if (search_level_codes(g, &cq, s, cur, cur_dist, ef, filter) != 0) return 0;
  return rerank_found(g, s, query, k, out);
}

#define SCAN_SHORTLIST_PER_RESULT 4
#define SCAN_PREFETCH_AHEAD 3

/* Every cache line of a node's norm and codes (a scan reads them at random places, where
 * the first line's miss alone would leave the rest to arrive one by one). */
static inline void prefetch_codes(const hnsw_graph *g, uint32_t node) {
  const char *block = code_block(g, node);
  size_t bytes = 4 + g->quant.code_len;
  for (size_t offset = 0; offset < bytes; offset += 64)
    __builtin_prefetch(block + offset);
}

/* The filter's posting lists scanned on the codes (a quarter of the bytes of the full
 * vectors), the best shortlist of them re-ranked by their exact distance: the filtered
 * brute force of a quantized graph. */
static size_t scan_codes(hnsw_graph *g, scratch *s, const float *query, size_t k, size_t ef,
                         const hnsw_filter *filter, hnsw_result *out) {
  code_query cq;
  prepare_code_query(g, s, query, &cq);
  size_t shortlist = k * SCAN_SHORTLIST_PER_RESULT > ef ? k * SCAN_SHORTLIST_PER_RESULT : ef;
  heap *found = &s->results;
  found->size = 0;
  if (heap_reserve(found, shortlist + 1) != 0) return 0;
  for (size_t li = 0; li < filter->list_count; li++) {
    const uint32_t *list = filter->lists[li];
    size_t n = filter->list_sizes[li];
    for (size_t i = 0; i < n; i++) {
      uint32_t node = list[i];
      if (i + SCAN_PREFETCH_AHEAD < n && list[i + SCAN_PREFETCH_AHEAD] < g->count)
        prefetch_codes(g, list[i + SCAN_PREFETCH_AHEAD]);
      if (node >= g->count || !node_ok(g, node, filter)) continue;
      top_k_push(found, shortlist, code_distance(g, &cq, node), node);
    }
  }
  return rerank_found(g, s, query, k, out);
}

size_t hnsw_graph_search(hnsw_graph *g, const float *query, size_t k, size_t ef,
                         const hnsw_filter *filter, hnsw_result *out) {
  size_t live = hnsw_graph_live(g);
  if (k == 0 || live == 0 || g->max_level < 0) return 0;
  if (ef < k) ef = k;
  int brute = 0;
  if (filter && filter->lists) {
    brute = filter->strategy == HNSW_FILTER_BRUTE;
    if (filter->strategy == HNSW_FILTER_AUTO) {
      /* Graph cost grows as 1 / selectivity: ~ef * M0 distances per ef accepted results. */
      size_t scan = 0;
      for (size_t i = 0; i < filter->list_count; i++)
        scan += filter->list_sizes[i];
      size_t matches = filter->match_estimate ? filter->match_estimate : 1;
      double graph_cost = (double)ef * (double)g->m0 * ((double)live / (double)matches);
      brute = (double)scan <= graph_cost;
    }
    if (brute && !g->fitted) return hnsw_graph_brute_force(g, query, k, filter, out);
  }
  scratch *s = scratch_acquire(g);
  if (!s) return 0;
  if (g->fitted) {
    size_t n = brute ? scan_codes(g, s, query, k, ef, filter, out)
                     : search_codes(g, s, query, k, ef, filter, out);
    scratch_release(g, s);
    return n;
  }
  uint32_t cur = g->entry;
  float cur_dist = g->dist(query, vec_of(g, cur), g->dim);
  cur = greedy_descend(g, NULL, query, cur, &cur_dist, g->max_level, 0);
  size_t n = 0;
  if (search_level(g, s, query, cur, cur_dist, ef, 0, filter) == 0) {
    while (s->results.size > k)
      heap_pop(&s->results);
    n = drain_into(&s->results, out);
  }
  scratch_release(g, s);
  return n;
}

/* ---- repair and compaction ---- */

/* Rebuilds node's level list without tombstones: candidates are its live neighbours and the
 * live neighbours of its deleted neighbours, chosen again with the heuristic. The candidate
 * heap is reserved for the worst case beforehand, so this cannot fail. */
static void repair_node(hnsw_graph *g, scratch *s, uint32_t node, int level) {
  uint32_t n, own[HNSW_MAX_M0], ring_buf[HNSW_MAX_M0];
  const uint32_t *l = list_ids(g, node, level, own, &n);
  int any = 0;
  for (uint32_t j = 0; j < n; j++)
    any |= g->deleted[l[j]];
  if (!any) return;
  visit_begin(s);
  s->tags[node] = s->epoch;
  heap *c = &s->candidates;
  c->size = 0;
  const float *v = vec_of(g, node);
  for (uint32_t j = 0; j < n; j++) {
    uint32_t nb = l[j];
    const uint32_t *ring = &nb;
    uint32_t ring_n = 1;
    if (g->deleted[nb]) ring = list_ids(g, nb, level, ring_buf, &ring_n);
    for (uint32_t i = 0; i < ring_n; i++) {
      uint32_t x = ring[i];
      if (g->deleted[x] || s->tags[x] == s->epoch) continue;
      s->tags[x] = s->epoch;
      c->items[c->size].node = x;
      c->items[c->size].distance = g->dist(v, vec_of(g, x), g->dim);
      c->size++;
    }
  }
  qsort(c->items, c->size, sizeof *c->items, cmp_result);
  uint32_t kept = (uint32_t)select_neighbours(g, c->items, c->size, max_links(g, level), own);
  list_store(g, node, level, own, kept);
  c->size = 0;
}

int hnsw_graph_compact(hnsw_graph *g, uint32_t **remap_out) {
  size_t old_count = g->count;
  uint32_t *remap = malloc((old_count ? old_count : 1) * sizeof *remap);
  if (!remap) return -1;
  size_t live = 0;
  for (size_t i = 0; i < old_count; i++)
    remap[i] = g->deleted[i] ? HNSW_NONE : (uint32_t)live++;
  if (g->deleted_count > 0) {
    /* Every allocation first: past this point nothing can fail. */
    size_t live_words = 0;
    for (size_t i = 0; i < old_count; i++)
      if (!g->deleted[i]) live_words += upper_words(g, g->level[i]);
    char *data0 = malloc((live ? live : 1) * g->node_bytes);
    uint32_t *pool = malloc((live_words ? live_words : 1) * sizeof *pool);
    scratch *s = data0 && pool ? scratch_acquire(g) : NULL;
    if (!s || heap_reserve(&s->candidates, g->m0 * (g->m0 + 1) + 1) != 0) {
      if (s) scratch_release(g, s);
      free(data0);
      free(pool);
      free(remap);
      return -1;
    }
    size_t pool_used = 0;
    for (uint32_t u = 0; u < old_count; u++) {
      if (g->deleted[u]) continue;
      for (int level = 0; level <= g->level[u]; level++)
        repair_node(g, s, u, level);
    }
    scratch_release(g, s);
    /* Renumber: every live list now holds only live nodes. Slots below u are done, so
     * moving node u down to remap[u] <= u never overwrites a node still to be read. */
    uint32_t new_entry = HNSW_NONE;
    int new_max = -1;
    for (uint32_t u = 0; u < old_count; u++) {
      if (g->deleted[u]) {
        if (g->fvec) free_vector(g, u);
        continue;
      }
      uint32_t nu = remap[u];
      if (g->fvec) g->fvec[nu] = g->fvec[u];
      char *dst = data0 + (size_t)nu * g->node_bytes;
      memcpy(dst, block_of(g, u), g->node_bytes);
      for (int level = 0; level <= g->level[u]; level++) {
        char *list = level == 0 ? dst : list_block(g, u, level);
        uint32_t n, ids[HNSW_MAX_M0];
        const uint32_t *l = block_ids(list, list_width(g, level), ids, &n);
        if (l != ids) memcpy(ids, l, n * sizeof *ids);
        for (uint32_t j = 0; j < n; j++)
          ids[j] = remap[ids[j]];
        block_store(list, list_width(g, level), ids, n);
      }
      size_t words = upper_words(g, g->level[u]);
      if (words) memcpy(pool + pool_used, g->upper_pool + g->upper_at[u], words * sizeof *pool);
      g->upper_at[nu] = (uint32_t)pool_used;
      pool_used += words;
      g->level[nu] = g->level[u];
      g->deleted[nu] = 0;
      if ((int)g->level[nu] > new_max) {
        new_max = g->level[nu];
        new_entry = nu;
      }
    }
    if (g->entry != HNSW_NONE && remap[g->entry] != HNSW_NONE) {
      new_entry = remap[g->entry];
      new_max = g->level[new_entry];
    }
    free(g->data0);
    g->data0 = data0;
    free(g->upper_pool);
    g->upper_pool = pool;
    g->upper_used = pool_used;
    g->upper_cap = live_words ? live_words : 1;
    g->capacity = live ? live : 1; /* the other arrays are larger than needed: harmless */
    g->count = live;
    g->deleted_count = 0;
    g->entry = new_entry;
    g->max_level = new_max;
  }
  if (remap_out)
    *remap_out = remap;
  else
    free(remap);
  return 0;
}

/* ---- snapshot section ---- */

#define GRAPH_MAGIC 0x48504752u /* "RGPH" */

void hnsw_graph_write(const hnsw_graph *g, hnsw_writer *w) {
  hnsw_graph_write_at(g, w, NULL);
}

/* The level-0 block is written in the float layout whatever the mode (list, then vector),
 * so both modes read each other's snapshots and a quantized graph can map its vectors from
 * the file. */
void hnsw_graph_write_at(const hnsw_graph *g, hnsw_writer *w, uint64_t *data_offset) {
  hnsw_write_u32(w, GRAPH_MAGIC);
  hnsw_write_u64(w, g->dim);
  hnsw_write_u32(w, (uint32_t)g->metric);
  hnsw_write_u64(w, g->m);
  hnsw_write_u64(w, g->ef_construction);
  hnsw_write_u64(w, g->count);
  hnsw_write_u32(w, g->entry);
  hnsw_write_u32(w, (uint32_t)(g->max_level + 1));
  hnsw_write_u64(w, g->rng);
  if (data_offset) {
    long at = w->file ? ftell(w->file) : -1;
    *data_offset = at < 0 ? 0 : (uint64_t)at;
  }
  if (!g->quantized) {
    hnsw_write(w, g->data0, g->count * g->node_bytes);
  } else {
    uint32_t *wide = malloc(g->wide_link0_bytes);
    if (!wide) w->failed = 1;
    for (uint32_t i = 0; wide && i < g->count; i++) {
      uint32_t n, buf[HNSW_MAX_M0];
      const uint32_t *ids = list_ids(g, i, 0, buf, &n);
      memset(wide, 0, g->wide_link0_bytes);
      block_store((char *)wide, 4, ids, n);
      hnsw_write(w, wide, g->wide_link0_bytes);
      hnsw_write(w, g->fvec[i], g->dim * sizeof(float));
    }
    free(wide);
  }
  hnsw_write(w, g->level, g->count);
  hnsw_write(w, g->deleted, g->count);
  for (size_t i = 0; i < g->count; i++)
    if (g->level[i]) hnsw_write(w, g->upper_pool + g->upper_at[i], upper_words(g, g->level[i]) * 4);
}

/* A node's links at level must point to nodes that exist and reach that level (a search
 * at that level reads the target's own links there). */
static int links_valid(const hnsw_graph *g, uint32_t node, int level) {
  uint32_t n, buf[HNSW_MAX_M0];
  memcpy(&n, list_block(g, node, level), sizeof n);
  if (n > max_links(g, level)) return 0;
  const uint32_t *l = list_ids(g, node, level, buf, &n);
  for (uint32_t j = 0; j < n; j++)
    if (l[j] >= g->count || g->level[l[j]] < level) return 0;
  return 1;
}

hnsw_graph *hnsw_graph_read(hnsw_reader *r) {
  return hnsw_graph_read_with(r, NULL, -1);
}

/* Quantized read: each node's float block is split into its list (into data0) and its
 * vector (a malloc'd copy, or a pointer into the mapping of the file). */
static int read_quantized_nodes(hnsw_graph *g, hnsw_reader *r, size_t count, int fd) {
  size_t fnb = g->float_node_bytes;
  long at = ftell(r->file);
  if (g->rerank_mmap && fd >= 0 && at >= 0) {
    struct stat st;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_size >= (uint64_t)at + count * fnb &&
        ((uint64_t)at + g->wide_link0_bytes) % sizeof(float) == 0) {
      void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
      if (map != MAP_FAILED) {
        g->map = map;
        g->map_len = (size_t)st.st_size;
      }
    }
  }
  char *block = malloc(fnb);
  if (!block) return -1;
  for (size_t i = 0; i < count; i++) {
    hnsw_read(r, block, fnb);
    if (r->failed) break;
    /* Checked here, not only by links_valid: a narrow list cannot hold a bad count or id. */
    uint32_t n;
    memcpy(&n, block, sizeof n);
    const uint32_t *ids = (const uint32_t *)(block + 4);
    for (uint32_t j = 0; n <= g->m0 && j < n; j++)
      if (ids[j] >= count) n = UINT32_MAX;
    if (n > g->m0) {
      r->failed = 1;
      break;
    }
    list_store(g, (uint32_t)i, 0, ids, n);
    const float *v = (const float *)(block + g->wide_link0_bytes);
    if (g->map) {
      g->fvec[i] = (const float *)(g->map + (size_t)at + i * fnb + g->wide_link0_bytes);
    } else {
      float *copy = malloc(g->dim * sizeof *copy);
      if (!copy) {
        r->failed = 1;
        break;
      }
      memcpy(copy, v, g->dim * sizeof *copy);
      g->fvec[i] = copy;
      g->ram_vectors++;
    }
    double sum = 0;
    for (size_t j = 0; j < g->dim; j++)
      sum += (double)v[j] * v[j];
    float norm2 = (float)sum;
    memcpy(block_of(g, (uint32_t)i) + g->link0_bytes, &norm2, sizeof norm2);
  }
  free(block);
  return r->failed ? -1 : 0;
}

hnsw_graph *hnsw_graph_read_with(hnsw_reader *r, const hnsw_quant_options *quant, int fd) {
  if (hnsw_read_u32(r) != GRAPH_MAGIC) goto bad;
  uint64_t dim = hnsw_read_u64(r);
  uint32_t metric = hnsw_read_u32(r);
  uint64_t m = hnsw_read_u64(r);
  uint64_t efc = hnsw_read_u64(r);
  uint64_t count = hnsw_read_u64(r);
  uint32_t entry = hnsw_read_u32(r);
  uint32_t max_level1 = hnsw_read_u32(r);
  uint64_t rng = hnsw_read_u64(r);
  if (r->failed || dim == 0 || dim > 65536 || metric > VISOR_METRIC_L2 || m < 2 || m > 1024 ||
      count >= UINT32_MAX || max_level1 > HNSW_MAX_LEVEL + 1)
    goto bad;
  hnsw_graph *g = hnsw_graph_new(dim, (visor_metric)metric, m, efc ? efc : 1, rng);
  if (!g) goto bad;
  g->rng = rng;
  size_t file_node_bytes = g->node_bytes;
  g->float_node_bytes = file_node_bytes;
  if (hnsw_graph_set_quantization(g, quant) != 0) goto bad_g;
  /* Each node takes file_node_bytes + 2 bytes of the file: a count the file cannot hold is
   * corrupt, and must not size the allocation. */
  if (count &&
      (!hnsw_read_fits(r, count * (file_node_bytes + 2)) || hnsw_graph_reserve(g, count) != 0))
    goto bad_g;
  if (g->quantized) {
    for (size_t i = 0; i < count; i++)
      g->fvec[i] = NULL;
    g->count = count; /* from here hnsw_graph_free frees fvec[0..count) */
    if (read_quantized_nodes(g, r, count, fd) != 0) goto bad_g;
  } else {
    hnsw_read(r, g->data0, count * g->node_bytes);
  }
  hnsw_read(r, g->level, count);
  hnsw_read(r, g->deleted, count);
  if (r->failed) goto bad_g;
  g->count = count;
  size_t words = 0;
  for (size_t i = 0; i < count; i++) {
    if (g->level[i] > HNSW_MAX_LEVEL) goto bad_g;
    if (g->deleted[i]) g->deleted_count++;
    g->upper_at[i] = (uint32_t)words;
    words += upper_words(g, g->level[i]);
    if (words > UINT32_MAX) goto bad_g;
  }
  /* The lists must be in the file before they size the pool. */
  if (!hnsw_read_fits(r, (uint64_t)words * 4) || upper_reserve(g, words) != 0) goto bad_g;
  if (words) hnsw_read(r, g->upper_pool, words * 4);
  if (r->failed) goto bad_g;
  g->upper_used = words;
  for (size_t i = 0; i < count; i++)
    for (int level = 0; level <= g->level[i]; level++)
      if (!links_valid(g, (uint32_t)i, level)) goto bad_g;
  g->max_level = (int)max_level1 - 1;
  g->entry = entry;
  if ((count == 0) != (g->max_level < 0)) goto bad_g;
  if (count && (entry >= count || g->level[entry] != g->max_level)) goto bad_g;
  if (g->quantized && count >= g->quant_min) refit(g);
  return g;
bad_g:
  hnsw_graph_free(g);
bad:
  r->failed = 1;
  return NULL;
}

int hnsw_graph_map_snapshot(hnsw_graph *g, const char *path, uint64_t data_offset) {
  if (!g->quantized || !g->rerank_mmap) return 0;
  size_t fnb = g->wide_link0_bytes + g->dim * sizeof(float);
  if ((data_offset + g->wide_link0_bytes) % sizeof(float) != 0) return -1;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat st;
  void *map = MAP_FAILED;
  if (fstat(fd, &st) == 0 && (uint64_t)st.st_size >= data_offset + g->count * fnb)
    map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return -1;
  for (uint32_t i = 0; i < g->count; i++) {
    free_vector(g, i);
    g->fvec[i] = (const float *)((const char *)map + data_offset + i * fnb + g->wide_link0_bytes);
  }
  if (g->map) munmap(g->map, g->map_len);
  g->map = map;
  g->map_len = (size_t)st.st_size;
  return 0;
}
