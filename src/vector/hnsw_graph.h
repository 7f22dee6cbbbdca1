/* hnsw_graph.h: the in-memory HNSW graph (Malkov & Yashunin). Nodes are dense uint32 ids in
 * insertion order. Not synchronised for writers: the caller serialises insert / delete /
 * compact against everything else; searches may run concurrently with each other. */
#ifndef VISOR_VECTOR_HNSW_GRAPH_H
#define VISOR_VECTOR_HNSW_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "vector/hnsw_io.h"
#include "vector/vector.h"

typedef struct hnsw_graph hnsw_graph;

typedef enum hnsw_filter_strategy {
  HNSW_FILTER_AUTO,  /* brute force over the candidate lists when cheaper, else graph */
  HNSW_FILTER_GRAPH, /* always filter during graph traversal */
  HNSW_FILTER_BRUTE, /* always scan the candidate lists (exact; quantized: codes, then the
                      * best max(ef, 4k) re-ranked exactly) */
} hnsw_filter_strategy;

/* A filter applied during traversal: nodes for which accept() is 0 are still traversed
 * (for connectivity) but never enter the results. lists, when given, hold every accepted
 * node (and possibly others): the brute-force fallback scans them. */
typedef struct hnsw_filter {
  int (*accept)(const void *ctx, uint32_t node);
  const void *ctx;
  const uint32_t *const *lists;
  const size_t *list_sizes;
  size_t list_count;
  size_t match_estimate; /* upper bound on accepted live nodes */
  hnsw_filter_strategy strategy;
} hnsw_filter;

typedef struct hnsw_result {
  float distance;
  uint32_t node;
} hnsw_result;

/* int8 scalar quantization (see hnsw_quant.h and docs/VECTOR_INDEX.md). */
typedef struct hnsw_quant_options {
  int int8;           /* 0: the float index (the rest is ignored) */
  int rerank_mmap;    /* full-precision vectors of a loaded snapshot stay in the file (mmap) */
  size_t min_vectors; /* the codes are fitted once this many nodes exist (before: exact) */
} hnsw_quant_options;

/* Returns NULL when out of memory. m >= 2, ef_construction >= 1. */
hnsw_graph *hnsw_graph_new(size_t dim, visor_metric metric, size_t m, size_t ef_construction,
                           uint64_t seed);
void hnsw_graph_free(hnsw_graph *g);

/* Switches a new graph (no insert or reserve yet) to quantized mode (o NULL or o->int8 0:
 * nothing). 0, or -1 when out of memory or the graph is not new. */
int hnsw_graph_set_quantization(hnsw_graph *g, const hnsw_quant_options *o);
/* Quantized: fits the codes again on every node (or drops them below min_vectors), as
 * reading a snapshot does: called when a snapshot is taken, so a reopened collection has
 * the very codes (and answers) the running one had. */
void hnsw_graph_requantize(hnsw_graph *g);
/* 0: float index; 1: quantized, codes not fitted yet (searches exact); 2: codes in use. */
int hnsw_graph_quantized(const hnsw_graph *g);
/* Quantized with rerank_mmap: points every node's full vector into the snapshot file at
 * path just written by hnsw_graph_write_at (data_offset from it) and frees the copies in
 * memory. Call with the graph unchanged since that write. 0 (also when not applicable), or
 * -1 (the graph is unchanged). */
int hnsw_graph_map_snapshot(hnsw_graph *g, const char *path, uint64_t data_offset);

/* Pre-allocates room for n nodes. 0, or -1 when out of memory. */
int hnsw_graph_reserve(hnsw_graph *g, size_t n);
/* Adds vec (already normalised for cosine) as node *node. 0, or -1 when out of memory. */
int hnsw_graph_insert(hnsw_graph *g, const float *vec, uint32_t *node);
/* Tombstones node: still traversed, never returned. */
void hnsw_graph_delete(hnsw_graph *g, uint32_t node);
/* Repairs the links around tombstones, then drops the tombstoned nodes and renumbers the
 * rest in order. If remap is not NULL, *remap gets a malloc'd old -> new id array (UINT32_MAX
 * for dropped nodes) of hnsw_graph_count() entries as it was before the call. -1 on OOM
 * (the graph is then unchanged). */
int hnsw_graph_compact(hnsw_graph *g, uint32_t **remap);

/* Up to k closest accepted live nodes, closest first; returns how many. ef is the search
 * breadth (raised to k). Thread-safe against other searches. */
size_t hnsw_graph_search(hnsw_graph *g, const float *query, size_t k, size_t ef,
                         const hnsw_filter *filter, hnsw_result *out);
/* Exact k nearest accepted live nodes (scans filter lists when given, else all nodes). */
size_t hnsw_graph_brute_force(hnsw_graph *g, const float *query, size_t k,
                              const hnsw_filter *filter, hnsw_result *out);

size_t hnsw_graph_count(const hnsw_graph *g); /* nodes, including tombstones */
size_t hnsw_graph_live(const hnsw_graph *g);  /* nodes not deleted */
int hnsw_graph_is_deleted(const hnsw_graph *g, uint32_t node);
const float *hnsw_graph_vector(const hnsw_graph *g, uint32_t node);
/* The level node reaches (its lists are 0 .. level), and its neighbours at one of them into
 * out (room for 2M ids); returns how many. The graph's structure, for tests and tools. */
int hnsw_graph_level(const hnsw_graph *g, uint32_t node);
size_t hnsw_graph_neighbours(const hnsw_graph *g, uint32_t node, int level, uint32_t *out);
size_t hnsw_graph_dim(const hnsw_graph *g);
size_t hnsw_graph_m(const hnsw_graph *g);
void hnsw_graph_set_ef_construction(hnsw_graph *g, size_t ef);
size_t hnsw_graph_memory(const hnsw_graph *g); /* bytes held by the graph */
float hnsw_graph_distance(const hnsw_graph *g, const float *a, const float *b);

/* Snapshot section: writes / reads the whole graph. read returns NULL (and marks r
 * failed) on a bad or inconsistent section, or when out of memory. */
void hnsw_graph_write(const hnsw_graph *g, hnsw_writer *w);
hnsw_graph *hnsw_graph_read(hnsw_reader *r);
/* The same, and write_at reports the file offset of the level-0 block; read_with builds a
 * quantized graph when quant asks for it (fd: the file r reads, mapped for rerank_mmap). */
void hnsw_graph_write_at(const hnsw_graph *g, hnsw_writer *w, uint64_t *data_offset);
hnsw_graph *hnsw_graph_read_with(hnsw_reader *r, const hnsw_quant_options *quant, int fd);

#endif
