/* vector_chroma.h: the chroma:// backend of the vector store interface (see vector_chroma.c). */
#ifndef VISOR_VECTOR_VECTOR_CHROMA_H
#define VISOR_VECTOR_VECTOR_CHROMA_H

#include <stddef.h>

#include "core/error.h"
#include "vector/vector.h"

/* Opens collection `collection` on the ChromaDB server named by url,
 * "chroma://host[:port]/TENANT/DATABASE[?options]" (port 8000 by default), creating the
 * tenant, the database and the collection when missing. Options: metric (cosine|ip|l2),
 * m, ef_construction, ef_search (the collection's HNSW settings, used when it is created),
 * timeout_ms (per request, default 30000), connect_timeout_ms (default 2000), batch
 * (records per upsert request, default 1000). */
visor_vector_store *visor_chroma_store_open(const char *url, const char *collection, size_t dim,
                                            const visor_vector_params *params, visor_error *err);

#endif
