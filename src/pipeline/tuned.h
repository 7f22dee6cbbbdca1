/* tuned.h: the catalogue projection a process serves with (src/tune): the current
 * version (its projection and its vector collection, named after the version since its
 * dimension differs), how the index task writes projected vectors and keeps each region's
 * raw embedding (blob "embeddings/<image id>.bin", so re-projection never reruns a model),
 * and the fused search: raw-cosine and projected k-NN merged by calibrated scores, so a
 * product the fit has not seen is still ranked fairly. A search takes one version for
 * its whole ranking (reference counted): a projection change never mixes versions. */
#ifndef VISOR_PIPELINE_TUNED_H
#define VISOR_PIPELINE_TUNED_H

#include <stdint.h>

#include "app/app.h"
#include "ml/ml.h"
#include "tune/projection.h"
#include "vector/vector.h"

/* One projection version and its collection. */
typedef struct visor_tuned_version {
  visor_projection projection;
  visor_vector_store *store;
  char model[VISOR_PROJECTION_MODEL_MAX + 32]; /* "<embedder>+p<version>", on its vectors */
  int refs;                                    /* under the state's lock */
} visor_tuned_version;

/* Creates app->tuned with no projection (searches are raw cosine until one is installed).
 * With follow_db, the process follows the metadata store: every acquire at most every
 * VISOR_TUNED_REFRESH_MS checks the projections table and loads a new current or building
 * version from the blob store (so every process of a distributed deployment serves the
 * same current version); without it, only visor_tuned_install changes it (visor eval). */
#define VISOR_TUNED_REFRESH_MS 2000
visor_code visor_tuned_create(visor_app *app, int follow_db, visor_error *err);
/* Checks the projections table now (what acquire does every VISOR_TUNED_REFRESH_MS). */
visor_code visor_tuned_refresh(visor_app *app, visor_error *err);
/* Reads and parses the artefact at key. */
visor_code visor_tuned_load_artefact(visor_app *app, const char *key, visor_projection *out,
                                     visor_error *err);
void visor_tuned_destroy(visor_app *app);

/* The collection name and vector model string of a projection version. */
void visor_tuned_model_name(const char *embedder_model, int64_t version, char *out, size_t size);

/* Opens projection's collection (created empty if new) and makes it the current version;
 * takes projection (zeroed on return, also on error). Searches already running finish on
 * the version they took. */
visor_code visor_tuned_install(visor_app *app, visor_projection *projection, visor_error *err);
/* Also writes new index tasks' vectors into a version being built (visor tune), so nothing
 * indexed during a re-projection is missing from it; NULL stops that. Takes projection. */
visor_code visor_tuned_set_building(visor_app *app, visor_projection *projection, visor_error *err);
/* Stops writing into the version being built when it is version (a build that failed). */
void visor_tuned_clear_building(visor_app *app, int64_t version);
/* The current version (a reference; NULL when none), and giving it back. */
visor_tuned_version *visor_tuned_acquire(visor_app *app);
void visor_tuned_release(visor_app *app, visor_tuned_version *version);
/* The version being built (a reference; NULL when none). */
visor_tuned_version *visor_tuned_acquire_building(visor_app *app);
/* The current version's number (0 = none). */
int64_t visor_tuned_current_version(visor_app *app);

/* k nearest catalogue vectors of a raw query embedding: raw cosine when version is NULL,
 * else the raw and projected hits fused per product (tune/fusion.h): one hit per product
 * (its best crop of the raw list, else of the projected one), calibrated across the
 * products, hits[i].distance = 1 - fused score. */
visor_code visor_tuned_search(visor_app *app, const visor_tuned_version *version,
                              const float *embedding, size_t k, const visor_vector_filter *filter,
                              visor_vector_hit *hits, size_t *count, visor_error *err);

/* For the index task, before its region rows (and the image's indexed status) are
 * committed: keeps the regions' raw embeddings (one blob per image), so a refit that sees
 * the image indexed always finds them. ids[i] belongs to analysis->regions[i]. */
visor_code visor_tuned_keep_raw(visor_app *app, const char *image_id,
                                const visor_analysis *analysis, const char *const *ids,
                                visor_error *err);
/* For the index task, after the raw vectors are written: writes the regions' projected
 * vectors into the current (and a building) version. ids[i] and metas[i] (its raw vector's
 * metadata; the model is replaced) belong to analysis->regions[i]. */
visor_code visor_tuned_index_regions(visor_app *app, const char *image_id,
                                     const visor_vector_meta *metas, const visor_analysis *analysis,
                                     const char *const *ids, visor_error *err);
/* Removes a region's projected vectors (a re-index of its image; not there is fine). */
void visor_tuned_remove_vector(visor_app *app, const char *vector_id);

/* The raw-embedding blob of an image: ids (40 bytes each) and count * dim floats. */
typedef struct visor_raw_embeddings {
  size_t count, dim;
  char (*ids)[40];
  float *vectors;
} visor_raw_embeddings;
void visor_raw_embeddings_key(const char *image_id, char *out, size_t size);
visor_code visor_raw_embeddings_load(visor_app *app, const char *image_id,
                                     visor_raw_embeddings *out, visor_error *err);
void visor_raw_embeddings_free(visor_raw_embeddings *embeddings);

#endif
