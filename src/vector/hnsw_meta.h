/* hnsw_meta.h: the metadata of each HNSW node (external id, product id, category, labels,
 * model, price) with interned strings and per-value posting lists, so a filter (shorthands
 * and expression) compiles once per query into integer comparisons and the brute-force
 * fallback knows which nodes to scan. */
#ifndef VISOR_VECTOR_HNSW_META_H
#define VISOR_VECTOR_HNSW_META_H

#include <stddef.h>
#include <stdint.h>

#include "vector/hnsw_graph.h"
#include "vector/hnsw_io.h"
#include "vector/vector.h"

typedef struct hnsw_meta hnsw_meta;

/* A price is stored in the log and the snapshot as one more label, "\x1fprice=%.17g" (user
 * labels never start with a control character: visor_vector_meta_check), so both formats
 * stay as they were. hnsw_meta_append turns that label back into the number. */
#define HNSW_META_PRICE_LABEL "\x1fprice="
#define HNSW_META_PRICE_LABEL_MAX 48
/* Writes meta's price label into buf; 1 when meta has a price, else 0. */
int hnsw_meta_price_label(const visor_vector_meta *meta, char *buf, size_t cap);

hnsw_meta *hnsw_meta_new(void);
void hnsw_meta_free(hnsw_meta *m);

/* Appends the metadata of node hnsw_meta_count(m). meta may be NULL. 0, or -1 on OOM. */
int hnsw_meta_append(hnsw_meta *m, const char *id, const visor_vector_meta *meta);
size_t hnsw_meta_count(const hnsw_meta *m);
void hnsw_meta_delete(hnsw_meta *m, uint32_t node);
/* Undoes the last append (used when the graph insert that went with it failed). */
void hnsw_meta_pop(hnsw_meta *m);

const char *hnsw_meta_id(const hnsw_meta *m, uint32_t node);
const char *hnsw_meta_product(const hnsw_meta *m, uint32_t node); /* "" when none */
const char *hnsw_meta_category(const hnsw_meta *m, uint32_t node);
const char *hnsw_meta_model(const hnsw_meta *m, uint32_t node);
size_t hnsw_meta_label_count(const hnsw_meta *m, uint32_t node);
const char *hnsw_meta_label(const hnsw_meta *m, uint32_t node, size_t i);
/* 1 and *price when the node has a price. */
int hnsw_meta_price(const hnsw_meta *m, uint32_t node, double *price);

/* A new table holding the nodes with remap[old] != UINT32_MAX at their new ids. */
hnsw_meta *hnsw_meta_compacted(const hnsw_meta *m, const uint32_t *remap, size_t old_count);

typedef struct hnsw_meta_term hnsw_meta_term;

/* A filter compiled against the current table. Valid while the table is not modified. */
typedef struct hnsw_meta_query {
  const hnsw_meta *meta;
  uint32_t *categories;
  size_t category_count;
  uint32_t *labels;
  size_t label_count;
  uint32_t model;
  int has_model;
  const uint32_t **lists;
  size_t *list_sizes;
  hnsw_meta_term *expr; /* the compiled expression, or NULL */
  uint32_t *merged;     /* the expression's scan set when it joins several lists */
} hnsw_meta_query;

typedef enum hnsw_meta_compile_result {
  HNSW_META_NO_FILTER,     /* the filter constrains nothing: search without one */
  HNSW_META_FILTER,        /* *out is ready */
  HNSW_META_MATCHES_NONE,  /* a value the filter names is in no live vector */
  HNSW_META_COMPILE_NOMEM, /* out of memory */
} hnsw_meta_compile_result;

hnsw_meta_compile_result hnsw_meta_compile(hnsw_meta_query *q, const hnsw_meta *m,
                                           const visor_vector_filter *filter, hnsw_filter *out);
void hnsw_meta_query_free(hnsw_meta_query *q);
/* The accept() callback of compiled filters (ctx is the hnsw_meta_query). */
int hnsw_meta_accept(const void *ctx, uint32_t node);

void hnsw_meta_write(const hnsw_meta *m, hnsw_writer *w);
hnsw_meta *hnsw_meta_read(hnsw_reader *r);

size_t hnsw_meta_memory(const hnsw_meta *m);

#endif
