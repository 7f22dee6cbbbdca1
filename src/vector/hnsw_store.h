/* hnsw_store.h: the hnsw:// backend of the vector store interface (see hnsw_store.c). */
#ifndef VISOR_VECTOR_HNSW_STORE_H
#define VISOR_VECTOR_HNSW_STORE_H

#include <stddef.h>

#include "core/error.h"
#include "vector/vector.h"

/* Opens collection `collection` under directory path. query is the URL's query string
 * ("m=16&ef_search=64", may be NULL): its values override params. Options: m,
 * ef_construction, ef_search, metric (cosine|ip|l2), snapshot_bytes (log size that triggers
 * a snapshot; default 64 MiB). */
visor_vector_store *visor_hnsw_store_open(const char *path, const char *query,
                                          const char *collection, size_t dim,
                                          const visor_vector_params *params, visor_error *err);

#endif
