/* vector.h: the vector store interface. One collection of fixed-dimension vectors, each
 * with a string id (a region id) and metadata that searches can filter on. Backends:
 * hnsw:// (built-in HNSW, hnsw_store.c; see docs/VECTOR_INDEX.md) and chroma://
 * (ChromaDB HTTP API v2, vector_chroma.c). Pipelines see only this interface. */
#ifndef VISOR_VECTOR_VECTOR_H
#define VISOR_VECTOR_VECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/filter_expr.h"

typedef enum visor_metric {
  VISOR_METRIC_COSINE, /* 1 - cos; vectors are normalised on insert and query */
  VISOR_METRIC_IP,     /* 1 - <a,b> */
  VISOR_METRIC_L2,     /* squared euclidean distance */
} visor_metric;

/* Metadata stored with each vector. Strings are copied by the store. labels are
 * "key=value" strings. */
typedef struct visor_vector_meta {
  const char *product_id;
  const char *category;
  const char *const *labels;
  size_t label_count;
  const char *model; /* "name@version" of the model that made the vector */
  double price;      /* the product's price, when has_price (a finite number) */
  int has_price;
} visor_vector_meta;

/* A search filter: every non-empty part must hold (AND). Applied during graph traversal,
 * not by over-fetching. NULL / zero counts mean "no constraint". expr, when given, is a
 * filter expression (core/filter_expr.h, fields category, price and labels) that must be
 * true as well; the other fields are shorthands for common expressions. */
typedef struct visor_vector_filter {
  const char *const *categories; /* the vector's category is any of these */
  size_t category_count;
  const char *const *labels; /* the vector has every one of these "key=value" labels */
  size_t label_count;
  const char *model; /* exact model "name@version" */
  const visor_filter_expr *expr;
} visor_vector_filter;

typedef struct visor_vector_hit {
  char id[64];
  char product_id[64];
  float distance; /* smaller is closer (see visor_metric) */
} visor_vector_hit;

typedef struct visor_vector_params {
  visor_metric metric;
  int m;               /* HNSW links per node (default 16) */
  int ef_construction; /* default 200 */
  int ef_search;       /* default 64; a search uses max(ef_search, k) */
} visor_vector_params;

typedef struct visor_vector_store visor_vector_store;

/* Called by list for each vector: return 0 to go on, non-zero to stop. */
typedef int (*visor_vector_list_fn)(void *ctx, const char *id, const char *product_id);

/* The operations every backend implements. All are thread-safe: many concurrent readers
 * with writers. An upsert or remove that returned VISOR_OK is durable (survives kill -9);
 * hnsw:// searches see it at once, chroma:// ones may miss it for a moment under load (the
 * contract test allows 2 s).
 * Ids are 1 to 63 bytes (they must fit visor_vector_hit.id), and so is meta->product_id.
 * Removing an id that is not there is not an error (VISOR_OK). NaN or infinite components
 * are VISOR_ERR_INVALID, and so is an all-zero vector for COSINE and IP. */
typedef struct visor_vector_ops {
  visor_code (*upsert)(visor_vector_store *store, const char *id, const float *vector,
                       const visor_vector_meta *meta, visor_error *err);
  visor_code (*remove)(visor_vector_store *store, const char *id, visor_error *err);
  /* Upserts n vectors at once (vectors holds n * dim floats; metas holds n entries, or is
   * NULL for none): every entry is checked first by the rules of upsert, and the ids must be
   * distinct (else VISOR_ERR_INVALID and nothing is written). An error after the checks may
   * leave some of the entries written; repeating the call is safe. Optional: callers go
   * through visor_vector_upsert_batch, which loops over upsert when it is NULL. */
  visor_code (*upsert_batch)(visor_vector_store *store, size_t n, const char *const *ids,
                             const float *vectors, const visor_vector_meta *metas,
                             visor_error *err);
  /* Replaces the metadata of id (all of it: labels not in meta are gone) and keeps its
   * vector. VISOR_ERR_NOT_FOUND when id is not there. Durable like upsert. */
  visor_code (*set_meta)(visor_vector_store *store, const char *id, const visor_vector_meta *meta,
                         visor_error *err);
  /* Fills up to k hits, closest first; *count is how many. */
  visor_code (*search)(visor_vector_store *store, const float *query, size_t k,
                       const visor_vector_filter *filter, visor_vector_hit *hits, size_t *count,
                       visor_error *err);
  /* Copies the stored vector of id into out (dim floats; for COSINE the normalised vector
   * the store keeps). VISOR_ERR_NOT_FOUND when id is not there (or was removed). */
  visor_code (*get)(visor_vector_store *store, const char *id, float *out, visor_error *err);
  size_t (*count)(visor_vector_store *store); /* live (not deleted) vectors */
  /* Calls fn for every live vector (its id and product id), in no set order, until fn
   * returns non-zero; for consistency checks and clean-ups, not for serving. */
  visor_code (*list)(visor_vector_store *store, visor_vector_list_fn fn, void *ctx,
                     visor_error *err);
  void (*close)(visor_vector_store *store); /* flushes and frees */
} visor_vector_ops;

struct visor_vector_store {
  const visor_vector_ops *ops;
  size_t dim;
};

/* Opens (creating if needed) collection `collection` of dimension dim at url:
 * "hnsw:///abs/path/dir" (the collection is a sub-folder; options in the query, e.g.
 * "?m=16&ef_construction=200&ef_search=64&metric=cosine", override params; one process
 * at a time: a second open of the same folder is VISOR_ERR_UNAVAILABLE), or
 * "chroma://host:port/TENANT/DATABASE" (tenant, database and collection are created when
 * missing; options ?metric=&timeout_ms=&connect_timeout_ms=&batch=). params may be
 * NULL for the defaults. Opening an existing collection with another dim or metric is
 * VISOR_ERR_INVALID. On failure returns NULL and fills err. */
visor_vector_store *visor_vector_open(const char *url, const char *collection, size_t dim,
                                      const visor_vector_params *params, visor_error *err);

void visor_vector_params_default(visor_vector_params *params);
/* Whether this build has a backend for url; fills err with the accepted forms if not. */
int visor_vector_url_supported(const char *url, visor_error *err);

/* The contract's rules on ids (1 to 63 bytes; what names the call) and metadata (strings
 * up to 1024 bytes, product_id up to 63, at most 1024 "key=value" labels), applied by
 * every backend before it writes. */
visor_code visor_vector_id_check(const char *what, const char *id, visor_error *err);
visor_code visor_vector_meta_check(const visor_vector_meta *meta, visor_error *err);

/* "cosine", "ip" or "l2", and back (-1 for another name). */
const char *visor_metric_name(visor_metric metric);
int visor_metric_parse(const char *name, visor_metric *metric);
/* Copies vector (dim floats) into out, normalised for cosine; refuses NaN / infinity, and
 * all-zero vectors for cosine and ip (no direction), naming what. Every backend uses it. */
visor_code visor_vector_prepare(visor_metric metric, size_t dim, const char *what,
                                const float *vector, float *out, visor_error *err);

/* store->ops->upsert_batch, or a loop over upsert for a backend without it. */
visor_code visor_vector_upsert_batch(visor_vector_store *store, size_t n, const char *const *ids,
                                     const float *vectors, const visor_vector_meta *metas,
                                     visor_error *err);

#endif
