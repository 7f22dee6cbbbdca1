/* hnsw_store.c: the hnsw:// vector store: one collection = one folder holding `params` (dim,
 * metric, M, written once), `snapshot`, `log` and `LOCK` (flock: one process at a time).
 * Maps string ids to graph nodes (an upsert tombstones the old node and adds a new one).
 *
 * Concurrency: searches take a read lock on a pthread rwlock (writer-preferring), so they run
 * in parallel. Writers are serialised by a mutex: each appends its record to the log and
 * fdatasyncs it without blocking readers, then takes the write lock only to apply the change
 * in memory. Snapshots are written under the read lock (searches go on).
 *
 * ?quantization=int8 searches on int8 codes and re-ranks with the full vectors, which stay
 * in memory (?rerank_store=ram, the default) or in the snapshot file (mmap): see
 * hnsw_graph.c. The files are the same in both modes. */
#define _GNU_SOURCE
#include "core/fsutil.h"
#include "vector/hnsw_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vector/distance.h"
#include "vector/hnsw_graph.h"
#include "vector/hnsw_meta.h"
#include "vector/hnsw_persist.h"
#include "vector/hnsw_strmap.h"

#define DIM_MAX 65536
#define DEFAULT_SNAPSHOT_BYTES (64ull << 20)
#define GRAPH_SEED 0x5eed5eedULL
#define DEFAULT_QUANT_MIN 1000 /* vectors before the int8 codes are fitted */

typedef struct hnsw_store {
  visor_vector_store base;
  pthread_rwlock_t lock;       /* graph, meta, ids */
  pthread_mutex_t write_mutex; /* one writer at a time: log order == apply order */
  hnsw_graph *graph;
  hnsw_meta *meta;
  hnsw_strmap ids; /* external id -> live node */
  hnsw_log *log;
  char *dir;
  int lock_fd;
  visor_vector_params params;
  uint64_t seq;
  uint64_t snapshot_bytes; /* log size that triggers a snapshot */
  uint64_t snapshot_at;    /* the next trigger: pushed back after a failed snapshot */
  hnsw_quant_options quant;
} hnsw_store;

static const visor_vector_ops hnsw_ops;

/* ---- validation ---- */

static visor_code check_params(const visor_vector_params *p, visor_error *err) {
  if ((unsigned)p->metric > VISOR_METRIC_L2)
    return visor_error_set(err, VISOR_ERR_INVALID, "unknown metric %d", (int)p->metric);
  if (p->m < 2 || p->m > 256)
    return visor_error_set(err, VISOR_ERR_INVALID, "m %d must be in [2, 256]", p->m);
  if (p->ef_construction < 1 || p->ef_construction > 100000)
    return visor_error_set(err, VISOR_ERR_INVALID, "ef_construction %d must be in [1, 100000]",
                           p->ef_construction);
  if (p->ef_search < 1 || p->ef_search > 100000)
    return visor_error_set(err, VISOR_ERR_INVALID, "ef_search %d must be in [1, 100000]",
                           p->ef_search);
  return VISOR_OK;
}

static int parse_int(const char *s, long min, long max, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < min || v > max) return -1;
  *out = v;
  return 0;
}

static visor_code parse_query(const char *query, visor_vector_params *p, uint64_t *snapshot_bytes,
                              hnsw_quant_options *quant, visor_error *err) {
  if (!query || !*query) return VISOR_OK;
  char *copy = strdup(query);
  if (!copy) return visor_error_set(err, VISOR_ERR_NOMEM, "parsing URL query: out of memory");
  visor_code rc = VISOR_OK;
  char *save = NULL;
  for (char *kv = strtok_r(copy, "&", &save); kv && rc == VISOR_OK;
       kv = strtok_r(NULL, "&", &save)) {
    char *eq = strchr(kv, '=');
    if (!eq) {
      rc = visor_error_set(err, VISOR_ERR_INVALID, "URL option '%s' has no value", kv);
      break;
    }
    *eq = '\0';
    const char *key = kv, *value = eq + 1;
    long v;
    if (strcmp(key, "metric") == 0) {
      if (visor_metric_parse(value, &p->metric) != 0)
        rc = visor_error_set(err, VISOR_ERR_INVALID, "metric '%s' is not cosine, ip or l2", value);
    } else if (strcmp(key, "m") == 0 || strcmp(key, "M") == 0) {
      if (parse_int(value, 2, 256, &v) != 0)
        rc = visor_error_set(err, VISOR_ERR_INVALID, "m '%s' must be in [2, 256]", value);
      else
        p->m = (int)v;
    } else if (strcmp(key, "ef_construction") == 0) {
      if (parse_int(value, 1, 100000, &v) != 0)
        rc = visor_error_set(err, VISOR_ERR_INVALID, "ef_construction '%s' must be in [1, 100000]",
                             value);
      else
        p->ef_construction = (int)v;
    } else if (strcmp(key, "ef_search") == 0) {
      if (parse_int(value, 1, 100000, &v) != 0)
        rc =
            visor_error_set(err, VISOR_ERR_INVALID, "ef_search '%s' must be in [1, 100000]", value);
      else
        p->ef_search = (int)v;
    } else if (strcmp(key, "snapshot_bytes") == 0) {
      if (parse_int(value, 1, LONG_MAX, &v) != 0)
        rc = visor_error_set(err, VISOR_ERR_INVALID, "snapshot_bytes '%s' must be > 0", value);
      else
        *snapshot_bytes = (uint64_t)v;
    } else if (strcmp(key, "quantization") == 0) {
      if (strcmp(value, "none") == 0)
        quant->int8 = 0;
      else if (strcmp(value, "int8") == 0)
        quant->int8 = 1;
      else
        rc =
            visor_error_set(err, VISOR_ERR_INVALID, "quantization '%s' is not none or int8", value);
    } else if (strcmp(key, "rerank_store") == 0) {
      if (strcmp(value, "ram") == 0)
        quant->rerank_mmap = 0;
      else if (strcmp(value, "mmap") == 0)
        quant->rerank_mmap = 1;
      else
        rc = visor_error_set(err, VISOR_ERR_INVALID, "rerank_store '%s' is not ram or mmap", value);
    } else if (strcmp(key, "quant_min") == 0) {
      if (parse_int(value, 1, INT_MAX, &v) != 0)
        rc = visor_error_set(err, VISOR_ERR_INVALID, "quant_min '%s' must be > 0", value);
      else
        quant->min_vectors = (size_t)v;
    } else {
      rc = visor_error_set(err, VISOR_ERR_INVALID,
                           "unknown hnsw URL option '%s' (m, ef_construction, ef_search, metric, "
                           "snapshot_bytes, quantization, rerank_store, quant_min)",
                           key);
    }
  }
  free(copy);
  return rc;
}

/* ---- applying changes (write lock held) ---- */

/* 0, or -1 when out of memory (nothing changed). vector is ready (normalised). */
static int apply_upsert(hnsw_store *s, const char *id, const float *vector,
                        const visor_vector_meta *meta) {
  uint32_t old;
  int had_old = hnsw_strmap_get(&s->ids, id, &old);
  uint32_t node = (uint32_t)hnsw_graph_count(s->graph);
  if (hnsw_strmap_put(&s->ids, id, node) != 0) return -1;
  if (hnsw_meta_append(s->meta, id, meta) != 0) goto undo_id;
  size_t before = hnsw_graph_count(s->graph);
  uint32_t added;
  if (hnsw_graph_insert(s->graph, vector, &added) != 0) {
    if (hnsw_graph_count(s->graph) > before)
      hnsw_meta_delete(s->meta, node); /* added but tombstoned */
    else
      hnsw_meta_pop(s->meta);
    goto undo_id;
  }
  if (had_old) {
    hnsw_graph_delete(s->graph, old);
    hnsw_meta_delete(s->meta, old);
  }
  return 0;
undo_id:
  if (had_old)
    hnsw_strmap_put(&s->ids, id, old); /* key exists: no allocation */
  else
    hnsw_strmap_remove(&s->ids, id);
  return -1;
}

static void apply_remove(hnsw_store *s, const char *id) {
  uint32_t node;
  if (!hnsw_strmap_get(&s->ids, id, &node)) return;
  hnsw_graph_delete(s->graph, node);
  hnsw_meta_delete(s->meta, node);
  hnsw_strmap_remove(&s->ids, id);
}

static int replay_record(void *ctx, const hnsw_record *r) {
  hnsw_store *s = ctx;
  if (r->type == HNSW_RECORD_REMOVE) {
    apply_remove(s, r->id);
    return 0;
  }
  return apply_upsert(s, r->id, r->vector, &r->meta);
}

static int rebuild_ids(hnsw_strmap *ids, const hnsw_graph *g, const hnsw_meta *m) {
  hnsw_strmap_init(ids);
  for (uint32_t i = 0; i < hnsw_meta_count(m); i++) {
    if (hnsw_graph_is_deleted(g, i)) continue;
    if (hnsw_strmap_put(ids, hnsw_meta_id(m, i), i) != 0) {
      hnsw_strmap_free(ids);
      return -1;
    }
  }
  return 0;
}

/* Drops tombstones (write lock held). Best effort: on OOM nothing changes. */
static void compact(hnsw_store *s) {
  const hnsw_graph *g = s->graph;
  size_t count = hnsw_graph_count(g);
  if (hnsw_graph_live(g) == count) return;
  uint32_t *plan = malloc((count ? count : 1) * sizeof *plan);
  if (!plan) return;
  uint32_t live = 0;
  for (uint32_t i = 0; i < count; i++)
    plan[i] = hnsw_graph_is_deleted(g, i) ? UINT32_MAX : live++;
  hnsw_meta *meta = hnsw_meta_compacted(s->meta, plan, count);
  hnsw_strmap ids;
  hnsw_strmap_init(&ids);
  int ok = meta != NULL;
  for (uint32_t i = 0; ok && i < live; i++)
    ok = hnsw_strmap_put(&ids, hnsw_meta_id(meta, i), i) == 0;
  if (ok) ok = hnsw_graph_compact(s->graph, NULL) == 0; /* same plan: live nodes in order */
  free(plan);
  if (!ok) {
    hnsw_meta_free(meta);
    hnsw_strmap_free(&ids);
    return;
  }
  hnsw_meta_free(s->meta);
  s->meta = meta;
  hnsw_strmap_free(&s->ids);
  s->ids = ids;
}

/* Writes a snapshot and empties the log (write_mutex held). */
static visor_code snapshot(hnsw_store *s, visor_error *err) {
  pthread_rwlock_wrlock(&s->lock);
  compact(s);
  hnsw_graph_requantize(s->graph); /* the fit a reopen computes from this snapshot */
  pthread_rwlock_unlock(&s->lock);
  pthread_rwlock_rdlock(&s->lock);
  uint64_t data_offset = 0;
  visor_code rc = hnsw_snapshot_save_at(s->dir, s->graph, s->meta, s->seq, &data_offset, err);
  pthread_rwlock_unlock(&s->lock);
  if (rc == VISOR_OK && s->quant.int8 && s->quant.rerank_mmap) {
    /* The vectors now on disk are served from the file; on failure they stay in memory. */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/snapshot", s->dir);
    pthread_rwlock_wrlock(&s->lock);
    hnsw_graph_map_snapshot(s->graph, path, data_offset);
    pthread_rwlock_unlock(&s->lock);
  }
  if (rc == VISOR_OK) rc = hnsw_log_reset(s->log, err);
  /* After a failure (disk full...) the log still holds everything; retry a log later. */
  s->snapshot_at = hnsw_log_size(s->log) + s->snapshot_bytes;
  return rc;
}

/* Snapshots when the log has grown enough (write_mutex held). A failed snapshot is not the
 * caller's error: the change is already durable in the log. */
static void maybe_snapshot(hnsw_store *s) {
  if (hnsw_log_size(s->log) < s->snapshot_at) return;
  visor_error ignored;
  snapshot(s, &ignored);
}

/* ---- operations ---- */

/* Logs and applies one upsert of a ready (normalised) vector (write_mutex held). */
static visor_code write_upsert(hnsw_store *s, const char *id, const float *ready,
                               const visor_vector_meta *meta, visor_error *err) {
  visor_vector_meta none = {0};
  hnsw_record r = {HNSW_RECORD_UPSERT, s->seq + 1, id, ready, meta ? *meta : none};
  visor_code rc = hnsw_log_append(s->log, &r, err);
  if (rc != VISOR_OK) return rc;
  s->seq = r.seq;
  pthread_rwlock_wrlock(&s->lock);
  int failed = apply_upsert(s, id, ready, meta);
  pthread_rwlock_unlock(&s->lock);
  if (failed)
    return visor_error_set(err, VISOR_ERR_NOMEM,
                           "upsert %s: out of memory (logged, applied on reopen)", id);
  maybe_snapshot(s);
  return VISOR_OK;
}

static visor_code hnsw_upsert(visor_vector_store *store, const char *id, const float *vector,
                              const visor_vector_meta *meta, visor_error *err) {
  hnsw_store *s = (hnsw_store *)store;
  visor_code rc = visor_vector_id_check("upsert", id, err);
  if (rc != VISOR_OK) return rc;
  rc = visor_vector_meta_check(meta, err);
  if (rc != VISOR_OK) return visor_error_wrap(err, "upsert %s", id);
  float *ready = malloc(store->dim * sizeof *ready);
  if (!ready) return visor_error_set(err, VISOR_ERR_NOMEM, "upsert %s: out of memory", id);
  rc = visor_vector_prepare(s->params.metric, s->base.dim, "upsert", vector, ready, err);
  if (rc != VISOR_OK) {
    free(ready);
    return visor_error_wrap(err, "upsert %s", id);
  }
  pthread_mutex_lock(&s->write_mutex);
  rc = write_upsert(s, id, ready, meta, err);
  pthread_mutex_unlock(&s->write_mutex);
  free(ready);
  return rc;
}

static int compare_strings(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* VISOR_OK when the n ids are distinct. */
static visor_code check_distinct(size_t n, const char *const *ids, visor_error *err) {
  const char **sorted = malloc((n ? n : 1) * sizeof *sorted);
  if (!sorted) return visor_error_set(err, VISOR_ERR_NOMEM, "upsert batch: out of memory");
  memcpy(sorted, ids, n * sizeof *sorted);
  qsort(sorted, n, sizeof *sorted, compare_strings);
  visor_code rc = VISOR_OK;
  for (size_t i = 1; i < n && rc == VISOR_OK; i++)
    if (strcmp(sorted[i - 1], sorted[i]) == 0)
      rc =
          visor_error_set(err, VISOR_ERR_INVALID, "upsert batch: id '%s' appears twice", sorted[i]);
  free(sorted);
  return rc;
}

/* Checks every entry, then logs them all with one fdatasync and applies them. */
static visor_code hnsw_upsert_batch(visor_vector_store *store, size_t n, const char *const *ids,
                                    const float *vectors, const visor_vector_meta *metas,
                                    visor_error *err) {
  hnsw_store *s = (hnsw_store *)store;
  if (n == 0) return VISOR_OK;
  if (!ids || !vectors)
    return visor_error_set(err, VISOR_ERR_INVALID, "upsert batch: ids and vectors must be given");
  size_t dim = store->dim;
  float *ready = malloc(n * dim * sizeof *ready);
  if (!ready) return visor_error_set(err, VISOR_ERR_NOMEM, "upsert batch of %zu: out of memory", n);
  visor_code rc = VISOR_OK;
  for (size_t i = 0; i < n && rc == VISOR_OK; i++) {
    if ((rc = visor_vector_id_check("upsert batch", ids[i], err)) != VISOR_OK) break;
    if ((rc = visor_vector_meta_check(metas ? &metas[i] : NULL, err)) == VISOR_OK)
      rc = visor_vector_prepare(s->params.metric, s->base.dim, "upsert", vectors + i * dim,
                                ready + i * dim, err);
    if (rc != VISOR_OK) visor_error_wrap(err, "upsert batch: entry %zu (%s)", i, ids[i]);
  }
  if (rc == VISOR_OK) rc = check_distinct(n, ids, err);
  hnsw_record *records = rc == VISOR_OK ? malloc(n * sizeof *records) : NULL;
  if (rc == VISOR_OK && !records)
    rc = visor_error_set(err, VISOR_ERR_NOMEM, "upsert batch of %zu: out of memory", n);
  if (rc == VISOR_OK) {
    /* One log write and one fdatasync for the batch, then each entry is applied. */
    visor_vector_meta none = {0};
    pthread_mutex_lock(&s->write_mutex);
    for (size_t i = 0; i < n; i++)
      records[i] = (hnsw_record){HNSW_RECORD_UPSERT, s->seq + 1 + i, ids[i], ready + i * dim,
                                 metas ? metas[i] : none};
    rc = hnsw_log_append_batch(s->log, records, n, err);
    if (rc == VISOR_OK) {
      s->seq += n;
      for (size_t i = 0; i < n && rc == VISOR_OK; i++) {
        pthread_rwlock_wrlock(&s->lock);
        int failed = apply_upsert(s, ids[i], ready + i * dim, metas ? &metas[i] : NULL);
        pthread_rwlock_unlock(&s->lock);
        if (failed)
          rc = visor_error_set(err, VISOR_ERR_NOMEM,
                               "upsert %s: out of memory (logged, applied on reopen)", ids[i]);
      }
      maybe_snapshot(s);
    }
    pthread_mutex_unlock(&s->write_mutex);
  }
  free(records);
  free(ready);
  return rc;
}

/* Re-logs the stored vector with the new metadata: durable and replayed like an upsert. */
static visor_code hnsw_set_meta(visor_vector_store *store, const char *id,
                                const visor_vector_meta *meta, visor_error *err) {
  hnsw_store *s = (hnsw_store *)store;
  visor_code rc = visor_vector_id_check("set_meta", id, err);
  if (rc != VISOR_OK) return rc;
  rc = visor_vector_meta_check(meta, err);
  if (rc != VISOR_OK) return visor_error_wrap(err, "set_meta %s", id);
  float *stored = malloc(store->dim * sizeof *stored);
  if (!stored) return visor_error_set(err, VISOR_ERR_NOMEM, "set_meta %s: out of memory", id);
  pthread_mutex_lock(&s->write_mutex);
  /* Only writers change ids and the graph's vectors, and they hold write_mutex. */
  uint32_t node;
  if (!hnsw_strmap_get(&s->ids, id, &node)) {
    rc = visor_error_set(err, VISOR_ERR_NOT_FOUND, "set_meta: no vector with id '%s'", id);
  } else {
    memcpy(stored, hnsw_graph_vector(s->graph, node), store->dim * sizeof *stored);
    rc = write_upsert(s, id, stored, meta, err);
  }
  pthread_mutex_unlock(&s->write_mutex);
  free(stored);
  return rc;
}

static visor_code hnsw_remove(visor_vector_store *store, const char *id, visor_error *err) {
  hnsw_store *s = (hnsw_store *)store;
  visor_code check = visor_vector_id_check("remove", id, err);
  if (check != VISOR_OK) return check;
  pthread_mutex_lock(&s->write_mutex);
  /* Only writers change ids and they hold write_mutex: reading it here needs no rwlock. */
  visor_code rc = VISOR_OK;
  if (hnsw_strmap_get(&s->ids, id, NULL)) {
    hnsw_record r = {HNSW_RECORD_REMOVE, s->seq + 1, id, NULL, {0}};
    rc = hnsw_log_append(s->log, &r, err);
    if (rc == VISOR_OK) {
      s->seq = r.seq;
      pthread_rwlock_wrlock(&s->lock);
      apply_remove(s, id);
      pthread_rwlock_unlock(&s->lock);
      maybe_snapshot(s);
    }
  }
  pthread_mutex_unlock(&s->write_mutex);
  return rc;
}

static void copy_field(char *dst, size_t cap, const char *src) {
  size_t n = strnlen(src, cap - 1);
  memcpy(dst, src, n);
  dst[n] = '\0';
}

static visor_code hnsw_search(visor_vector_store *store, const float *query, size_t k,
                              const visor_vector_filter *filter, visor_vector_hit *hits,
                              size_t *count, visor_error *err) {
  hnsw_store *s = (hnsw_store *)store;
  if (count) *count = 0;
  if (!count || (k && !hits))
    return visor_error_set(err, VISOR_ERR_INVALID, "search: hits and count must not be NULL");
  if (k == 0) return VISOR_OK;
  if (k > 100000) return visor_error_set(err, VISOR_ERR_INVALID, "search: k %zu > 100000", k);
  float *q = malloc(store->dim * sizeof *q);
  hnsw_result *results = malloc(k * sizeof *results);
  if (!q || !results) {
    free(q);
    free(results);
    return visor_error_set(err, VISOR_ERR_NOMEM, "search: out of memory");
  }
  visor_code rc = visor_vector_prepare(s->params.metric, s->base.dim, "query", query, q, err);
  if (rc != VISOR_OK) {
    free(q);
    free(results);
    return rc;
  }
  size_t ef = (size_t)s->params.ef_search;
  pthread_rwlock_rdlock(&s->lock);
  hnsw_meta_query mq;
  hnsw_filter hf;
  size_t n = 0;
  switch (hnsw_meta_compile(&mq, s->meta, filter, &hf)) {
  case HNSW_META_NO_FILTER:
    n = hnsw_graph_search(s->graph, q, k, ef, NULL, results);
    break;
  case HNSW_META_FILTER:
    n = hnsw_graph_search(s->graph, q, k, ef, &hf, results);
    hnsw_meta_query_free(&mq);
    break;
  case HNSW_META_MATCHES_NONE:
    break;
  case HNSW_META_COMPILE_NOMEM:
    rc = visor_error_set(err, VISOR_ERR_NOMEM, "search: compiling the filter: out of memory");
    break;
  }
  for (size_t i = 0; i < n; i++) {
    copy_field(hits[i].id, sizeof hits[i].id, hnsw_meta_id(s->meta, results[i].node));
    copy_field(hits[i].product_id, sizeof hits[i].product_id,
               hnsw_meta_product(s->meta, results[i].node));
    hits[i].distance = results[i].distance;
  }
  pthread_rwlock_unlock(&s->lock);
  *count = n;
  free(q);
  free(results);
  return rc;
}

static visor_code hnsw_get(visor_vector_store *store, const char *id, float *out,
                           visor_error *err) {
  hnsw_store *s = (hnsw_store *)store;
  visor_code rc = visor_vector_id_check("get", id, err);
  if (rc != VISOR_OK) return rc;
  if (!out) return visor_error_set(err, VISOR_ERR_INVALID, "get %s: out must not be NULL", id);
  uint32_t node;
  pthread_rwlock_rdlock(&s->lock);
  if (hnsw_strmap_get(&s->ids, id, &node))
    memcpy(out, hnsw_graph_vector(s->graph, node), store->dim * sizeof *out);
  else
    rc = visor_error_set(err, VISOR_ERR_NOT_FOUND, "get: no vector with id '%s'", id);
  pthread_rwlock_unlock(&s->lock);
  return rc;
}

static size_t hnsw_count(visor_vector_store *store) {
  hnsw_store *s = (hnsw_store *)store;
  pthread_rwlock_rdlock(&s->lock);
  size_t n = hnsw_graph_live(s->graph);
  pthread_rwlock_unlock(&s->lock);
  return n;
}

static visor_code hnsw_list(visor_vector_store *store, visor_vector_list_fn fn, void *ctx,
                            visor_error *err) {
  (void)err;
  hnsw_store *s = (hnsw_store *)store;
  pthread_rwlock_rdlock(&s->lock);
  size_t nodes = hnsw_graph_count(s->graph);
  for (uint32_t i = 0; i < nodes; i++) {
    if (hnsw_graph_is_deleted(s->graph, i)) continue;
    if (fn(ctx, hnsw_meta_id(s->meta, i), hnsw_meta_product(s->meta, i))) break;
  }
  pthread_rwlock_unlock(&s->lock);
  return VISOR_OK;
}

static void store_free(hnsw_store *s) {
  hnsw_log_close(s->log);
  hnsw_graph_free(s->graph);
  hnsw_meta_free(s->meta);
  hnsw_strmap_free(&s->ids);
  if (s->lock_fd >= 0) close(s->lock_fd); /* releases the flock */
  pthread_rwlock_destroy(&s->lock);
  pthread_mutex_destroy(&s->write_mutex);
  free(s->dir);
  free(s);
}

static void hnsw_close(visor_vector_store *store) {
  if (!store) return;
  hnsw_store *s = (hnsw_store *)store;
  pthread_mutex_lock(&s->write_mutex);
  if (s->log && hnsw_log_size(s->log) > 0) {
    visor_error ignored; /* the log still holds everything: reopening replays it */
    snapshot(s, &ignored);
  }
  pthread_mutex_unlock(&s->write_mutex);
  store_free(s);
}

static const visor_vector_ops hnsw_ops = {
    .upsert = hnsw_upsert,
    .remove = hnsw_remove,
    .upsert_batch = hnsw_upsert_batch,
    .set_meta = hnsw_set_meta,
    .get = hnsw_get,
    .search = hnsw_search,
    .count = hnsw_count,
    .list = hnsw_list,
    .close = hnsw_close,
};

/* ---- opening ---- */

static visor_code check_collection(const char *name, visor_error *err) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > 128 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
    return visor_error_set(err, VISOR_ERR_INVALID, "collection name '%s' must be 1 to 128 chars",
                           name ? name : "(null)");
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.'))
      return visor_error_set(err, VISOR_ERR_INVALID,
                             "collection name '%s' may only hold letters, digits, '_', '-', '.'",
                             name);
  }
  return VISOR_OK;
}

/* Reads dir/params, or creates it (atomically) for a new collection. The file fixes dim,
 * metric and M for the life of the collection. */
static visor_code load_or_create_params(hnsw_store *s, const char *collection, size_t dim,
                                        visor_error *err) {
  char path[PATH_MAX], tmp[PATH_MAX];
  snprintf(path, sizeof path, "%s/params", s->dir);
  snprintf(tmp, sizeof tmp, "%s/params.tmp", s->dir);
  FILE *f = fopen(path, "re");
  if (f) {
    char metric[32] = "";
    unsigned long file_dim = 0;
    int m = 0, version = 0;
    int got = fscanf(f, "visor-hnsw %d dim %lu metric %31s m %d", &version, &file_dim, metric, &m);
    fclose(f);
    visor_metric file_metric;
    if (got != 4 || version != 1 || visor_metric_parse(metric, &file_metric) != 0 || m < 2 ||
        m > 256)
      return visor_error_set(err, VISOR_ERR_IO, "%s is not a valid collection params file", path);
    if (file_dim != dim)
      return visor_error_set(err, VISOR_ERR_INVALID,
                             "collection '%s' holds %lu-d vectors, not %zu-d", collection, file_dim,
                             dim);
    if (file_metric != s->params.metric)
      return visor_error_set(err, VISOR_ERR_INVALID, "collection '%s' uses metric %s, not %s",
                             collection, metric, visor_metric_name(s->params.metric));
    s->params.m = m;
    return VISOR_OK;
  }
  if (errno != ENOENT)
    return visor_error_set(err, VISOR_ERR_IO, "open %s: %s", path, strerror(errno));
  f = fopen(tmp, "we");
  if (!f) return visor_error_set(err, VISOR_ERR_IO, "create %s: %s", tmp, strerror(errno));
  fprintf(f, "visor-hnsw 1\ndim %zu\nmetric %s\nm %d\n", dim, visor_metric_name(s->params.metric),
          s->params.m);
  int failed = fflush(f) != 0 || fsync(fileno(f)) != 0;
  failed |= fclose(f) != 0;
  if (failed || rename(tmp, path) != 0 || hnsw_fsync_dir(s->dir) != 0) {
    unlink(tmp);
    return visor_error_set(err, VISOR_ERR_IO, "write %s: %s", path, strerror(errno));
  }
  return VISOR_OK;
}

visor_vector_store *visor_hnsw_store_open(const char *path, const char *query,
                                          const char *collection, size_t dim,
                                          const visor_vector_params *params, visor_error *err) {
  visor_vector_params p;
  if (params)
    p = *params;
  else
    visor_vector_params_default(&p);
  uint64_t snapshot_bytes = DEFAULT_SNAPSHOT_BYTES;
  hnsw_quant_options quant = {0, 0, DEFAULT_QUANT_MIN};
  if (parse_query(query, &p, &snapshot_bytes, &quant, err) != VISOR_OK) return NULL;
  if (check_params(&p, err) != VISOR_OK) return NULL;
  if (dim == 0 || dim > DIM_MAX) {
    visor_error_set(err, VISOR_ERR_INVALID, "dimension %zu must be in [1, %d]", dim, DIM_MAX);
    return NULL;
  }
  if (!path || !*path) {
    visor_error_set(err, VISOR_ERR_INVALID, "hnsw URL has no path");
    return NULL;
  }
  if (check_collection(collection, err) != VISOR_OK) return NULL;

  hnsw_store *s = calloc(1, sizeof *s);
  if (!s) {
    visor_error_set(err, VISOR_ERR_NOMEM, "opening hnsw store: out of memory");
    return NULL;
  }
  s->base.ops = &hnsw_ops;
  s->base.dim = dim;
  s->params = p;
  s->snapshot_bytes = snapshot_bytes;
  s->snapshot_at = snapshot_bytes;
  s->quant = quant;
  s->lock_fd = -1;
  hnsw_strmap_init(&s->ids);
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&s->lock, &attr);
  pthread_rwlockattr_destroy(&attr);
  pthread_mutex_init(&s->write_mutex, NULL);

  size_t dir_len = strlen(path) + strlen(collection) + 2;
  s->dir = malloc(dir_len);
  if (!s->dir) {
    visor_error_set(err, VISOR_ERR_NOMEM, "opening hnsw store: out of memory");
    goto fail;
  }
  snprintf(s->dir, dir_len, "%s/%s", path, collection);
  if (visor_mkdirs(s->dir, err) != VISOR_OK) goto fail;

  char lock_path[PATH_MAX], log_path[PATH_MAX];
  if (snprintf(lock_path, sizeof lock_path, "%s/LOCK", s->dir) >= (int)sizeof lock_path ||
      snprintf(log_path, sizeof log_path, "%s/log", s->dir) >= (int)sizeof log_path) {
    visor_error_set(err, VISOR_ERR_INVALID, "path %s is too long", s->dir);
    goto fail;
  }
  s->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (s->lock_fd < 0) {
    visor_error_set(err, VISOR_ERR_IO, "open %s: %s", lock_path, strerror(errno));
    goto fail;
  }
  if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    visor_error_set(err, VISOR_ERR_UNAVAILABLE,
                    "collection %s is already open (another process, or another handle in "
                    "this one, holds its LOCK)",
                    s->dir);
    goto fail;
  }
  if (load_or_create_params(s, collection, dim, err) != VISOR_OK) goto fail;

  uint64_t snapshot_seq = 0;
  visor_error load_err;
  visor_code rc =
      hnsw_snapshot_load_with(s->dir, &s->quant, &s->graph, &s->meta, &snapshot_seq, &load_err);
  if (rc == VISOR_ERR_NOT_FOUND) {
    s->graph =
        hnsw_graph_new(dim, p.metric, (size_t)s->params.m, (size_t)p.ef_construction, GRAPH_SEED);
    s->meta = hnsw_meta_new();
    if (!s->graph || !s->meta || hnsw_graph_set_quantization(s->graph, &s->quant) != 0) {
      visor_error_set(err, VISOR_ERR_NOMEM, "opening %s: out of memory", s->dir);
      goto fail;
    }
  } else if (rc != VISOR_OK) {
    if (err) *err = load_err;
    goto fail;
  } else {
    if (hnsw_graph_dim(s->graph) != dim || hnsw_graph_m(s->graph) != (size_t)s->params.m) {
      visor_error_set(err, VISOR_ERR_IO, "snapshot in %s does not match its params file", s->dir);
      goto fail;
    }
    hnsw_graph_set_ef_construction(s->graph, (size_t)p.ef_construction);
    hnsw_strmap_free(&s->ids);
    if (rebuild_ids(&s->ids, s->graph, s->meta) != 0) {
      visor_error_set(err, VISOR_ERR_NOMEM, "opening %s: out of memory", s->dir);
      goto fail;
    }
  }
  if (hnsw_log_open(log_path, dim, snapshot_seq, replay_record, s, &s->log, &s->seq, err) !=
      VISOR_OK)
    goto fail;
  return &s->base;
fail:
  store_free(s);
  return NULL;
}
