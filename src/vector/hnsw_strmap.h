/* hnsw_strmap.h: a string -> uint32 hash map (open addressing, linear probing, backward-shift
 * deletion). Keys are copied. Used for external id -> node and for interning metadata
 * strings. Not thread-safe: the store's lock guards it. */
#ifndef VISOR_VECTOR_HNSW_STRMAP_H
#define VISOR_VECTOR_HNSW_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct hnsw_strmap_slot {
  char *key; /* NULL = empty */
  uint64_t hash;
  uint32_t value;
} hnsw_strmap_slot;

typedef struct hnsw_strmap {
  hnsw_strmap_slot *slots;
  size_t capacity; /* power of two, or 0 */
  size_t count;
} hnsw_strmap;

void hnsw_strmap_init(hnsw_strmap *map);
void hnsw_strmap_free(hnsw_strmap *map);
/* 1 and *value when key is present, 0 otherwise. */
int hnsw_strmap_get(const hnsw_strmap *map, const char *key, uint32_t *value);
/* Inserts or replaces. Returns 0, or -1 when out of memory (the map is unchanged). */
int hnsw_strmap_put(hnsw_strmap *map, const char *key, uint32_t value);
/* Removes key if present; returns 1 if it was there. */
int hnsw_strmap_remove(hnsw_strmap *map, const char *key);

#endif
