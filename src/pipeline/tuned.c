/* tuned.c: the served catalogue projection (see tuned.h): its current and building
 * versions behind one lock with reference counts, the fused search, and the raw
 * embeddings the index task keeps. */
#include "pipeline/tuned.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/projections.h"
#include "tune/fusion.h"

#define RAW_MAGIC "VEMB"
#define RAW_ID_SIZE 40
#define MAX_RAW_BLOB (256u * 1024 * 1024)

#define MAX_ARTEFACT (64u * 1024 * 1024)

struct visor_tuned {
  pthread_mutex_t lock;
  visor_tuned_version *current, *building;
  int follow_db;
  pthread_mutex_t refresh_lock; /* one refreshing thread at a time */
  pthread_mutex_t raw_lock;     /* raw-embedding blob writes of this process */
  int64_t checked_at_ms;        /* under lock */
};

static void version_unref(visor_tuned_version *version) {
  if (!version || --version->refs > 0) return;
  if (version->store) version->store->ops->close(version->store);
  visor_projection_free(&version->projection);
  free(version);
}

static const visor_projected_ops projected_ops;
static visor_code projected_remove(visor_app *app, const char *vector_id, visor_error *err);

visor_code visor_tuned_create(visor_app *app, int follow_db, visor_error *err) {
  struct visor_tuned *tuned = calloc(1, sizeof *tuned);
  if (!tuned) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  pthread_mutex_init(&tuned->lock, NULL);
  pthread_mutex_init(&tuned->refresh_lock, NULL);
  pthread_mutex_init(&tuned->raw_lock, NULL);
  tuned->follow_db = follow_db;
  tuned->checked_at_ms = INT64_MIN / 2;
  app->tuned = tuned;
  app->tuned_close = visor_tuned_destroy;
  app->projected = &projected_ops;
  return VISOR_OK;
}

void visor_tuned_destroy(visor_app *app) {
  struct visor_tuned *tuned = app->tuned;
  if (!tuned) return;
  version_unref(tuned->current);
  version_unref(tuned->building);
  pthread_mutex_destroy(&tuned->lock);
  pthread_mutex_destroy(&tuned->refresh_lock);
  pthread_mutex_destroy(&tuned->raw_lock);
  free(tuned);
  app->tuned = NULL;
  app->tuned_close = NULL;
  app->projected = NULL;
}

void visor_tuned_model_name(const char *embedder_model, int64_t version, char *out, size_t size) {
  snprintf(out, size, "%s+p%lld", embedder_model, (long long)version);
}

/* A version object for projection (taken) with its collection opened. */
static visor_code open_version(visor_app *app, visor_projection *projection,
                               visor_tuned_version **out, visor_error *err) {
  *out = NULL;
  if (strcmp(projection->model, app->embedder_model) != 0 ||
      projection->in_dim != app->embedder.dim) {
    visor_code code = visor_error_set(err, VISOR_ERR_INVALID,
                                      "projection v%lld belongs to %s (%zu-d), not to %s (%zu-d)",
                                      (long long)projection->version, projection->model,
                                      projection->in_dim, app->embedder_model, app->embedder.dim);
    visor_projection_free(projection);
    return code;
  }
  visor_tuned_version *version = calloc(1, sizeof *version);
  if (!version) {
    visor_projection_free(projection);
    return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  }
  version->projection = *projection;
  memset(projection, 0, sizeof *projection);
  version->refs = 1;
  visor_tuned_model_name(app->embedder_model, version->projection.version, version->model,
                         sizeof version->model);
  char collection[sizeof version->model];
  visor_app_collection_name(version->model, collection, sizeof collection);
  version->store = visor_vector_open(app->config->vector_url, collection,
                                     version->projection.out_dim, NULL, err);
  if (!version->store) {
    visor_error_wrap(err, "collection %s of projection v%lld", collection,
                     (long long)version->projection.version);
    version_unref(version);
    return err->code;
  }
  *out = version;
  return VISOR_OK;
}

static visor_code swap_in(visor_app *app, visor_projection *projection, int building,
                          visor_error *err) {
  struct visor_tuned *tuned = app->tuned;
  if (!tuned) return visor_error_set(err, VISOR_ERR_INTERNAL, "no projection state");
  visor_tuned_version *version = NULL;
  if (projection) {
    visor_code code = open_version(app, projection, &version, err);
    if (code != VISOR_OK) return code;
  }
  pthread_mutex_lock(&tuned->lock);
  visor_tuned_version **slot = building ? &tuned->building : &tuned->current;
  visor_tuned_version *old = *slot;
  *slot = version;
  /* Installing the version being built ends its building. */
  if (!building && version && tuned->building &&
      tuned->building->projection.version == version->projection.version) {
    version_unref(tuned->building);
    tuned->building = NULL;
  }
  version_unref(old);
  pthread_mutex_unlock(&tuned->lock);
  return VISOR_OK;
}

visor_code visor_tuned_install(visor_app *app, visor_projection *projection, visor_error *err) {
  return swap_in(app, projection, 0, err);
}

visor_code visor_tuned_set_building(visor_app *app, visor_projection *projection,
                                    visor_error *err) {
  return swap_in(app, projection, 1, err);
}

void visor_tuned_clear_building(visor_app *app, int64_t version) {
  struct visor_tuned *tuned = app->tuned;
  if (!tuned) return;
  pthread_mutex_lock(&tuned->lock);
  if (tuned->building && tuned->building->projection.version == version) {
    version_unref(tuned->building);
    tuned->building = NULL;
  }
  pthread_mutex_unlock(&tuned->lock);
}

visor_code visor_tuned_load_artefact(visor_app *app, const char *key, visor_projection *out,
                                     visor_error *err) {
  void *bytes = NULL;
  size_t len = 0;
  visor_code code = visor_blob_get(app->blobs, key, MAX_ARTEFACT, &bytes, &len, err);
  if (code == VISOR_OK) code = visor_projection_parse(bytes, len, out, err);
  free(bytes);
  if (code != VISOR_OK) visor_error_wrap(err, "projection artefact %s", key);
  return code;
}

static int64_t slot_version(visor_app *app, int building) {
  struct visor_tuned *tuned = app->tuned;
  pthread_mutex_lock(&tuned->lock);
  visor_tuned_version *version = building ? tuned->building : tuned->current;
  int64_t number = version ? version->projection.version : 0;
  pthread_mutex_unlock(&tuned->lock);
  return number;
}

visor_code visor_tuned_refresh(visor_app *app, visor_error *err) {
  struct visor_tuned *tuned = app->tuned;
  if (!tuned || !tuned->follow_db) return VISOR_OK;
  visor_error ignored = {0};
  if (!err) err = &ignored;
  int64_t versions[2] = {0, 0};
  char keys[2][VISOR_PROJECTION_MODEL_MAX + 64] = {"", ""};
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  visor_code code = visor_projection_current(conn, app->embedder_model, &versions[0], keys[0],
                                             sizeof keys[0], err);
  if (code == VISOR_ERR_NOT_FOUND) code = VISOR_OK;
  if (code == VISOR_OK)
    code = visor_projection_building(conn, app->embedder_model, &versions[1], keys[1],
                                     sizeof keys[1], err);
  visor_db_release(conn);
  /* The version this process built becomes current as it is (its collection is open). */
  if (code == VISOR_OK && versions[0] && versions[0] != slot_version(app, 0) &&
      versions[0] == slot_version(app, 1)) {
    pthread_mutex_lock(&tuned->lock);
    visor_tuned_version *old = tuned->current;
    tuned->current = tuned->building;
    tuned->building = NULL;
    version_unref(old);
    pthread_mutex_unlock(&tuned->lock);
  }
  for (int building = 0; code == VISOR_OK && building < 2; building++) {
    if (versions[building] == slot_version(app, building)) continue;
    visor_projection projection = {0};
    if (versions[building]) code = visor_tuned_load_artefact(app, keys[building], &projection, err);
    if (code == VISOR_OK)
      code = swap_in(app, versions[building] ? &projection : NULL, building, err);
    visor_projection_free(&projection);
  }
  return code;
}

/* Refreshes from the metadata store when the last check is older than the interval; a
 * failed check keeps the version being served. */
static void maybe_refresh(visor_app *app) {
  struct visor_tuned *tuned = app->tuned;
  if (!tuned->follow_db) return;
  int64_t now = visor_now_ms();
  pthread_mutex_lock(&tuned->lock);
  int due = now - tuned->checked_at_ms >= VISOR_TUNED_REFRESH_MS;
  pthread_mutex_unlock(&tuned->lock);
  if (!due || pthread_mutex_trylock(&tuned->refresh_lock) != 0) return;
  visor_error ignored = {0}; /* a failed check is made again at the next interval */
  visor_tuned_refresh(app, &ignored);
  pthread_mutex_lock(&tuned->lock);
  tuned->checked_at_ms = now;
  pthread_mutex_unlock(&tuned->lock);
  pthread_mutex_unlock(&tuned->refresh_lock);
}

static visor_tuned_version *acquire_slot(visor_app *app, int building) {
  struct visor_tuned *tuned = app->tuned;
  if (!tuned) return NULL;
  maybe_refresh(app);
  pthread_mutex_lock(&tuned->lock);
  visor_tuned_version *version = building ? tuned->building : tuned->current;
  if (version) version->refs++;
  pthread_mutex_unlock(&tuned->lock);
  return version;
}

visor_tuned_version *visor_tuned_acquire(visor_app *app) {
  return acquire_slot(app, 0);
}

visor_tuned_version *visor_tuned_acquire_building(visor_app *app) {
  return acquire_slot(app, 1);
}

void visor_tuned_release(visor_app *app, visor_tuned_version *version) {
  struct visor_tuned *tuned = app->tuned;
  if (!tuned || !version) return;
  pthread_mutex_lock(&tuned->lock);
  version_unref(version);
  pthread_mutex_unlock(&tuned->lock);
}

int64_t visor_tuned_current_version(visor_app *app) {
  visor_tuned_version *version = visor_tuned_acquire(app);
  int64_t number = version ? version->projection.version : 0;
  visor_tuned_release(app, version);
  return number;
}

/* One candidate vector of the fused search. */
typedef struct fused_hit {
  visor_vector_hit hit;
  visor_fusion_candidate candidate;
  float score;
} fused_hit;

static int by_fused_score(const void *a, const void *b) {
  const fused_hit *x = a, *y = b;
  if (x->score != y->score) return x->score < y->score ? 1 : -1;
  return strcmp(x->hit.id, y->hit.id);
}

visor_code visor_tuned_search(visor_app *app, const visor_tuned_version *version,
                              const float *embedding, size_t k, const visor_vector_filter *filter,
                              visor_vector_hit *hits, size_t *count, visor_error *err) {
  if (!version)
    return app->vectors->ops->search(app->vectors, embedding, k, filter, hits, count, err);
  const visor_projection *projection = &version->projection;
  visor_vector_hit *projected_hits = calloc(k ? k : 1, sizeof *projected_hits);
  fused_hit *fused = calloc(2 * k + 1, sizeof *fused);
  float *query = malloc(projection->out_dim * sizeof *query);
  size_t raw_count = 0, projected_count = 0, fused_count = 0;
  visor_code code = projected_hits && fused && query
                        ? VISOR_OK
                        : visor_error_set(err, VISOR_ERR_NOMEM, "out of memory searching");
  if (code == VISOR_OK)
    code = app->vectors->ops->search(app->vectors, embedding, k, filter, hits, &raw_count, err);
  if (code == VISOR_OK) code = visor_projection_apply(projection, embedding, query, err);
  if (code == VISOR_OK) {
    visor_vector_filter projected_filter = filter ? *filter : (visor_vector_filter){0};
    projected_filter.model = version->model;
    code = version->store->ops->search(version->store, query, k, &projected_filter, projected_hits,
                                       &projected_count, err);
  }
  /* One candidate per product, calibrated across products (the hits come closest first,
   * so a product's first hit in each list is its best crop there). */
  for (int list = 0; code == VISOR_OK && list < 2; list++) {
    const visor_vector_hit *from = list ? projected_hits : hits;
    size_t from_count = list ? projected_count : raw_count;
    for (size_t i = 0; i < from_count; i++) {
      fused_hit *entry = NULL;
      for (size_t j = 0; j < fused_count && !entry; j++)
        if (strcmp(fused[j].hit.product_id, from[i].product_id) == 0) entry = &fused[j];
      if (!entry) {
        entry = &fused[fused_count++];
        *entry = (fused_hit){
            .hit = from[i],
            .candidate = {.raw = NAN,
                          .projected = NAN,
                          .seen = visor_projection_has_class(projection, from[i].product_id)}};
      }
      float *value = list ? &entry->candidate.projected : &entry->candidate.raw;
      if (isnan(*value)) *value = 1.0f - from[i].distance;
    }
  }
  if (code == VISOR_OK) {
    visor_fusion_candidate *candidates = malloc((fused_count + 1) * sizeof *candidates);
    float *scores = malloc((fused_count + 1) * sizeof *scores);
    if (!candidates || !scores) {
      code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory searching");
    } else {
      for (size_t i = 0; i < fused_count; i++)
        candidates[i] = fused[i].candidate;
      visor_fusion_scores(projection->seen_weight, projection->unseen_weight,
                          projection->unseen_offset, candidates, fused_count, scores);
      for (size_t i = 0; i < fused_count; i++)
        fused[i].score = scores[i];
      qsort(fused, fused_count, sizeof *fused, by_fused_score);
      *count = fused_count < k ? fused_count : k;
      for (size_t i = 0; i < *count; i++) {
        hits[i] = fused[i].hit;
        hits[i].distance = 1.0f - fused[i].score;
      }
    }
    free(candidates);
    free(scores);
  }
  free(projected_hits);
  free(fused);
  free(query);
  return code;
}

void visor_raw_embeddings_key(const char *image_id, char *out, size_t size) {
  snprintf(out, size, "embeddings/%s.bin", image_id);
}

/* "VEMB", u32 dim, u32 count, then count times: 40-byte id, dim floats (host order).
 * Callers hold raw_lock (a correction's read-modify-write and an index task's write of
 * the same image's blob do not interleave in this process). */
static visor_code put_raw(visor_app *app, const char *image_id, size_t n, size_t dim,
                          const char *const *ids, const float *const *vectors, visor_error *err) {
  size_t size = 12 + n * (RAW_ID_SIZE + dim * sizeof(float));
  unsigned char *buffer = calloc(1, size);
  if (!buffer) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  uint32_t header[2] = {(uint32_t)dim, (uint32_t)n};
  memcpy(buffer, RAW_MAGIC, 4);
  memcpy(buffer + 4, header, sizeof header);
  unsigned char *at = buffer + 12;
  for (size_t i = 0; i < n; i++) {
    snprintf((char *)at, RAW_ID_SIZE, "%s", ids[i]);
    memcpy(at + RAW_ID_SIZE, vectors[i], dim * sizeof(float));
    at += RAW_ID_SIZE + dim * sizeof(float);
  }
  char key[128];
  visor_raw_embeddings_key(image_id, key, sizeof key);
  visor_code code = visor_blob_put(app->blobs, key, buffer, size, err);
  free(buffer);
  return code;
}

static visor_code write_raw(visor_app *app, const char *image_id, const visor_analysis *analysis,
                            const char *const *ids, visor_error *err) {
  size_t n = analysis->region_count;
  const float **vectors = malloc((n ? n : 1) * sizeof *vectors);
  if (!vectors) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < n; i++)
    vectors[i] = analysis->regions[i].embedding;
  pthread_mutex_lock(&app->tuned->raw_lock);
  visor_code code = put_raw(app, image_id, n, analysis->dim, ids, vectors, err);
  pthread_mutex_unlock(&app->tuned->raw_lock);
  free(vectors);
  return code;
}

/* Sets vector_id's entry of image_id's raw-embedding blob to embedding (added when new). */
static visor_code update_raw(visor_app *app, const char *image_id, const char *vector_id,
                             const float *embedding, size_t dim, visor_error *err) {
  pthread_mutex_lock(&app->tuned->raw_lock);
  visor_raw_embeddings raw = {0};
  visor_code code = visor_raw_embeddings_load(app, image_id, &raw, err);
  if (code == VISOR_ERR_NOT_FOUND) code = VISOR_OK;
  if (code == VISOR_OK && raw.count && raw.dim != dim)
    code = visor_error_set(err, VISOR_ERR_INVALID, "image %s: %zu-d raw embeddings, not %zu",
                           image_id, raw.dim, dim);
  size_t n = raw.count + 1;
  const char **ids = code == VISOR_OK ? malloc(n * sizeof *ids) : NULL;
  const float **vectors = code == VISOR_OK ? malloc(n * sizeof *vectors) : NULL;
  if (code == VISOR_OK && (!ids || !vectors))
    code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  if (code == VISOR_OK) {
    size_t count = 0;
    int replaced = 0;
    for (size_t i = 0; i < raw.count; i++) {
      int same = strcmp(raw.ids[i], vector_id) == 0;
      ids[count] = raw.ids[i];
      vectors[count++] = same ? embedding : raw.vectors + i * dim;
      replaced |= same;
    }
    if (!replaced) {
      ids[count] = vector_id;
      vectors[count++] = embedding;
    }
    code = put_raw(app, image_id, count, dim, ids, vectors, err);
  }
  free(ids);
  free(vectors);
  visor_raw_embeddings_free(&raw);
  pthread_mutex_unlock(&app->tuned->raw_lock);
  if (code != VISOR_OK) visor_error_wrap(err, "raw embedding of region %s", vector_id);
  return code;
}

static visor_code upsert_projected(visor_tuned_version *version, const visor_vector_meta *raw_metas,
                                   const visor_analysis *analysis, const char *const *ids,
                                   visor_error *err) {
  size_t n = analysis->region_count, out_dim = version->projection.out_dim;
  float *vectors = malloc((n ? n : 1) * out_dim * sizeof *vectors);
  visor_vector_meta *metas = malloc((n ? n : 1) * sizeof *metas);
  visor_code code = vectors && metas ? VISOR_OK : visor_error_set(err, VISOR_ERR_NOMEM, "oom");
  for (size_t i = 0; code == VISOR_OK && i < n; i++) {
    code = visor_projection_apply(&version->projection, analysis->regions[i].embedding,
                                  vectors + i * out_dim, err);
    metas[i] = raw_metas[i];
    metas[i].model = version->model;
  }
  if (code == VISOR_OK)
    code = visor_vector_upsert_batch(version->store, n, ids, vectors, metas, err);
  free(vectors);
  free(metas);
  return code;
}

visor_code visor_tuned_keep_raw(visor_app *app, const char *image_id,
                                const visor_analysis *analysis, const char *const *ids,
                                visor_error *err) {
  if (analysis->region_count == 0 || !app->tuned) return VISOR_OK;
  return write_raw(app, image_id, analysis, ids, err);
}

visor_code visor_tuned_index_regions(visor_app *app, const char *image_id,
                                     const visor_vector_meta *metas, const visor_analysis *analysis,
                                     const char *const *ids, visor_error *err) {
  (void)image_id;
  if (analysis->region_count == 0) return VISOR_OK;
  visor_code code = VISOR_OK;
  for (int building = 0; code == VISOR_OK && building < 2; building++) {
    visor_tuned_version *version = acquire_slot(app, building);
    if (version) code = upsert_projected(version, metas, analysis, ids, err);
    visor_tuned_release(app, version);
  }
  return code;
}

void visor_tuned_remove_vector(visor_app *app, const char *vector_id) {
  projected_remove(app, vector_id, NULL);
}

/* The projected vectors that follow region_vectors' writes (app->projected). */

static visor_code projected_remove(visor_app *app, const char *vector_id, visor_error *err) {
  visor_code code = VISOR_OK;
  for (int building = 0; building < 2; building++) {
    visor_tuned_version *version = acquire_slot(app, building);
    visor_code removed =
        version ? version->store->ops->remove(version->store, vector_id, err) : VISOR_OK;
    if (removed != VISOR_OK && removed != VISOR_ERR_NOT_FOUND && code == VISOR_OK) code = removed;
    visor_tuned_release(app, version);
  }
  return code;
}

/* Writes one projected vector of embedding into version with meta (its model replaced). */
static visor_code upsert_one(visor_tuned_version *version, const char *vector_id,
                             const float *embedding, const visor_vector_meta *meta,
                             visor_error *err) {
  float *projected = malloc(version->projection.out_dim * sizeof *projected);
  if (!projected) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  visor_vector_meta own = *meta;
  own.model = version->model;
  visor_code code = visor_projection_apply(&version->projection, embedding, projected, err);
  if (code == VISOR_OK)
    code = version->store->ops->upsert(version->store, vector_id, projected, &own, err);
  free(projected);
  if (code != VISOR_OK)
    visor_error_wrap(err, "projected vector %s of v%lld", vector_id,
                     (long long)version->projection.version);
  return code;
}

static visor_code projected_set_meta(visor_app *app, const char *image_id, const char *vector_id,
                                     const visor_vector_meta *meta, visor_error *err) {
  visor_code code = VISOR_OK;
  visor_raw_embeddings raw = {0};
  int raw_loaded = 0;
  for (int building = 0; code == VISOR_OK && building < 2; building++) {
    visor_tuned_version *version = acquire_slot(app, building);
    if (!version) continue;
    visor_vector_meta own = *meta;
    own.model = version->model;
    code = version->store->ops->set_meta(version->store, vector_id, &own, err);
    if (code == VISOR_ERR_NOT_FOUND) { /* e.g. written before this version: project it now */
      code = VISOR_OK;
      if (image_id && !raw_loaded) {
        raw_loaded = 1;
        code = visor_raw_embeddings_load(app, image_id, &raw, err);
        if (code == VISOR_ERR_NOT_FOUND) code = VISOR_OK;
      }
      for (size_t i = 0; code == VISOR_OK && i < raw.count; i++)
        if (strcmp(raw.ids[i], vector_id) == 0 && raw.dim == version->projection.in_dim)
          code = upsert_one(version, vector_id, raw.vectors + i * raw.dim, meta, err);
    }
    visor_tuned_release(app, version);
  }
  visor_raw_embeddings_free(&raw);
  return code;
}

static visor_code projected_write(visor_app *app, const char *image_id, const char *vector_id,
                                  const float *embedding, size_t dim, const visor_vector_meta *meta,
                                  visor_error *err) {
  visor_code code = update_raw(app, image_id, vector_id, embedding, dim, err);
  for (int building = 0; code == VISOR_OK && building < 2; building++) {
    visor_tuned_version *version = acquire_slot(app, building);
    if (version && version->projection.in_dim != dim)
      code =
          visor_error_set(err, VISOR_ERR_INVALID, "a %zu-d embedding for projection v%lld (%zu-d)",
                          dim, (long long)version->projection.version, version->projection.in_dim);
    else if (version)
      code = upsert_one(version, vector_id, embedding, meta, err);
    visor_tuned_release(app, version);
  }
  return code;
}

static const visor_projected_ops projected_ops = {
    .set_meta = projected_set_meta, .remove = projected_remove, .write = projected_write};

visor_code visor_raw_embeddings_load(visor_app *app, const char *image_id,
                                     visor_raw_embeddings *out, visor_error *err) {
  memset(out, 0, sizeof *out);
  char key[128];
  visor_raw_embeddings_key(image_id, key, sizeof key);
  void *bytes = NULL;
  size_t len = 0;
  visor_code code = visor_blob_get(app->blobs, key, MAX_RAW_BLOB, &bytes, &len, err);
  if (code != VISOR_OK) return code;
  uint32_t header[2] = {0, 0};
  if (len >= 12) memcpy(header, (char *)bytes + 4, sizeof header);
  size_t dim = header[0], n = header[1];
  if (len < 12 || memcmp(bytes, RAW_MAGIC, 4) != 0 || dim == 0 ||
      len != 12 + n * (RAW_ID_SIZE + dim * sizeof(float))) {
    free(bytes);
    return visor_error_set(err, VISOR_ERR_INVALID, "raw embeddings %s: not a valid blob", key);
  }
  out->ids = calloc(n ? n : 1, sizeof *out->ids);
  out->vectors = malloc((n ? n : 1) * dim * sizeof *out->vectors);
  if (!out->ids || !out->vectors) {
    free(bytes);
    visor_raw_embeddings_free(out);
    return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  }
  const unsigned char *at = (const unsigned char *)bytes + 12;
  for (size_t i = 0; i < n; i++) {
    memcpy(out->ids[i], at, RAW_ID_SIZE);
    out->ids[i][RAW_ID_SIZE - 1] = 0;
    memcpy(out->vectors + i * dim, at + RAW_ID_SIZE, dim * sizeof(float));
    at += RAW_ID_SIZE + dim * sizeof(float);
  }
  out->count = n;
  out->dim = dim;
  free(bytes);
  return VISOR_OK;
}

void visor_raw_embeddings_free(visor_raw_embeddings *embeddings) {
  free(embeddings->ids);
  free(embeddings->vectors);
  memset(embeddings, 0, sizeof *embeddings);
}
