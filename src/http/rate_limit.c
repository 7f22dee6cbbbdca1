/* rate_limit.c: per-client-IP token buckets. Each client gets `burst` tokens that refill at
 * `per_second`; a request takes one. The table is bounded: a set-associative cache of
 * RATE_SETS x RATE_WAYS entries keyed by a hash of the address, where a new client replaces
 * the least recently seen entry of its set (a forgotten client starts with a full bucket,
 * which only ever errs on the side of letting a request through). */
#include "http/http_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RATE_SETS 1024
#define RATE_WAYS 4

typedef struct rate_entry {
  char client[INET6_ADDRSTRLEN];
  double tokens;
  double updated; /* monotonic seconds of the last refill */
} rate_entry;

struct visor_rate_limiter {
  double per_second;
  double burst;
  pthread_mutex_t lock;
  rate_entry entries[RATE_SETS][RATE_WAYS];
};

visor_rate_limiter *visor_rate_limiter_new(double per_second, int burst) {
  visor_rate_limiter *limiter = calloc(1, sizeof *limiter);
  if (!limiter) return NULL;
  limiter->per_second = per_second;
  limiter->burst = burst > 0 ? burst : fmax(1.0, ceil(per_second));
  pthread_mutex_init(&limiter->lock, NULL);
  return limiter;
}

void visor_rate_limiter_free(visor_rate_limiter *limiter) {
  if (!limiter) return;
  pthread_mutex_destroy(&limiter->lock);
  free(limiter);
}

static uint32_t hash_client(const char *client) {
  uint32_t hash = 2166136261u; /* FNV-1a */
  for (; *client; client++)
    hash = (hash ^ (unsigned char)*client) * 16777619u;
  return hash;
}

int visor_rate_limiter_take(visor_rate_limiter *limiter, const char *client, double now_s,
                            int *retry_after_s) {
  rate_entry *set = limiter->entries[hash_client(client) % RATE_SETS];
  pthread_mutex_lock(&limiter->lock);
  rate_entry *entry = NULL, *victim = NULL; /* victim: an empty slot, else the oldest */
  for (int i = 0; i < RATE_WAYS; i++) {
    rate_entry *slot = &set[i];
    if (slot->client[0] && strcmp(slot->client, client) == 0) {
      entry = slot;
      break;
    }
    if (!victim || (victim->client[0] && (!slot->client[0] || slot->updated < victim->updated)))
      victim = slot;
  }
  if (!entry) {
    entry = victim;
    snprintf(entry->client, sizeof entry->client, "%s", client);
    entry->tokens = limiter->burst;
    entry->updated = now_s;
  }
  double elapsed = now_s - entry->updated;
  if (elapsed > 0)
    entry->tokens = fmin(limiter->burst, entry->tokens + elapsed * limiter->per_second);
  entry->updated = now_s;
  int allowed = entry->tokens >= 1.0;
  if (allowed) {
    entry->tokens -= 1.0;
  } else if (retry_after_s) {
    double wait = (1.0 - entry->tokens) / limiter->per_second;
    *retry_after_s = wait < 1.0 ? 1 : (int)ceil(wait);
  }
  pthread_mutex_unlock(&limiter->lock);
  return allowed;
}
