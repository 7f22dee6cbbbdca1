/* hnsw_strmap.c: string -> uint32 hash map with FNV-1a hashing, linear probing and
 * backward-shift deletion (no tombstones, so lookups stay short after many removes). */
#include "vector/hnsw_strmap.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_string(const char *s) {
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h ^ (h >> 29);
}

void hnsw_strmap_init(hnsw_strmap *map) {
  map->slots = NULL;
  map->capacity = 0;
  map->count = 0;
}

void hnsw_strmap_free(hnsw_strmap *map) {
  for (size_t i = 0; i < map->capacity; i++)
    free(map->slots[i].key);
  free(map->slots);
  hnsw_strmap_init(map);
}

static size_t find_slot(const hnsw_strmap *map, const char *key, uint64_t hash, int *found) {
  size_t mask = map->capacity - 1;
  size_t i = hash & mask;
  for (;;) {
    const hnsw_strmap_slot *s = &map->slots[i];
    if (!s->key) {
      *found = 0;
      return i;
    }
    if (s->hash == hash && strcmp(s->key, key) == 0) {
      *found = 1;
      return i;
    }
    i = (i + 1) & mask;
  }
}

int hnsw_strmap_get(const hnsw_strmap *map, const char *key, uint32_t *value) {
  if (map->count == 0) return 0;
  int found;
  size_t i = find_slot(map, key, hash_string(key), &found);
  if (found && value) *value = map->slots[i].value;
  return found;
}

static int grow(hnsw_strmap *map) {
  size_t capacity = map->capacity ? map->capacity * 2 : 16;
  hnsw_strmap_slot *slots = calloc(capacity, sizeof *slots);
  if (!slots) return -1;
  hnsw_strmap old = *map;
  map->slots = slots;
  map->capacity = capacity;
  for (size_t i = 0; i < old.capacity; i++) {
    if (!old.slots[i].key) continue;
    int found;
    size_t j = find_slot(map, old.slots[i].key, old.slots[i].hash, &found);
    map->slots[j] = old.slots[i];
  }
  free(old.slots);
  return 0;
}

int hnsw_strmap_put(hnsw_strmap *map, const char *key, uint32_t value) {
  if ((map->count + 1) * 4 > map->capacity * 3 && grow(map) != 0) return -1;
  uint64_t hash = hash_string(key);
  int found;
  size_t i = find_slot(map, key, hash, &found);
  if (found) {
    map->slots[i].value = value;
    return 0;
  }
  char *copy = strdup(key);
  if (!copy) return -1;
  map->slots[i] = (hnsw_strmap_slot){copy, hash, value};
  map->count++;
  return 0;
}

int hnsw_strmap_remove(hnsw_strmap *map, const char *key) {
  if (map->count == 0) return 0;
  int found;
  size_t mask = map->capacity - 1;
  size_t i = find_slot(map, key, hash_string(key), &found);
  if (!found) return 0;
  free(map->slots[i].key);
  map->slots[i].key = NULL;
  map->count--;
  /* Backward shift: move later entries of the same probe run into the hole. */
  size_t hole = i;
  for (size_t j = (i + 1) & mask; map->slots[j].key; j = (j + 1) & mask) {
    size_t home = map->slots[j].hash & mask;
    /* Entry j may move to hole if its home is not in (hole, j] (cyclically). */
    int in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!in_range) {
      map->slots[hole] = map->slots[j];
      map->slots[j].key = NULL;
      hole = j;
    }
  }
  return 1;
}
