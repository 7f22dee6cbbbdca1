/* projections.h: the projections repository: one row per fitted catalogue projection
 * (version, the embedder model it belongs to, the blob of its artefact, status building /
 * current / retired) and the reads `visor tune` fits and re-projects from (the indexed
 * images of live products, the live regions). At most one version is current. */
#ifndef VISOR_STORE_PROJECTIONS_H
#define VISOR_STORE_PROJECTIONS_H

#include <stdint.h>

#include "store/db.h"

typedef struct visor_projection_record {
  int64_t version;
  const char *model;
  const char *object_key;
  int64_t dim, classes, samples;
  int64_t labelled_images; /* images of fitted products when it was fitted */
} visor_projection_record;

/* One more than the highest version of any model (1 for the first). */
visor_code visor_projection_next_version(visor_db_conn *conn, int64_t *version, visor_error *err);
/* A building version whose heartbeat is older than this is taken to have died with its
 * process (a re-projection beats at every batch it writes). */
#define VISOR_PROJECTION_STALE_MS 60000
/* Inserts a version with status "building" (its heartbeat now). VISOR_ERR_CONFLICT when
 * another version of the model is being built (one with a stale heartbeat is marked failed
 * first). */
visor_code visor_projection_insert(visor_db_conn *conn, const visor_projection_record *record,
                                   visor_error *err);
/* Makes version the current one of its model (the previous current one "retired"); *previous
 * is that one's version (0 = none). Call in a transaction. */
visor_code visor_projection_make_current(visor_db_conn *conn, int64_t version, int64_t *previous,
                                         visor_error *err);
/* Renews a building version's heartbeat. */
visor_code visor_projection_heartbeat(visor_db_conn *conn, int64_t version, visor_error *err);
/* The current version of model and how many labelled images it was fitted with
 * (VISOR_ERR_NOT_FOUND when it has none). */
visor_code visor_projection_current_fit(visor_db_conn *conn, const char *model, int64_t *version,
                                        int64_t *labelled_images, visor_error *err);
/* Marks a version "failed" (a re-projection that did not complete). */
visor_code visor_projection_set_failed(visor_db_conn *conn, int64_t version, visor_error *err);
/* The current version of model and its artefact's key (key_size bytes); VISOR_ERR_NOT_FOUND
 * when it has none. */
visor_code visor_projection_current(visor_db_conn *conn, const char *model, int64_t *version,
                                    char *key, size_t key_size, visor_error *err);
/* The version being built for model (0 = none). */
visor_code visor_projection_building(visor_db_conn *conn, const char *model, int64_t *version,
                                     char *key, size_t key_size, visor_error *err);
/* The output dimension of a version (VISOR_ERR_NOT_FOUND when there is no such row). */
visor_code visor_projection_dim(visor_db_conn *conn, int64_t version, int64_t *dim,
                                visor_error *err);
/* The indexed images of live products: columns image_id, product_id, ordered by product. */
visor_code visor_projection_indexed_images(visor_db_conn *conn, visor_db_rows *rows,
                                           visor_error *err);
/* The live regions that have a vector: columns id, label, ordered by id. */
visor_code visor_projection_live_regions(visor_db_conn *conn, visor_db_rows *rows,
                                         visor_error *err);
/* How many indexed images of live products there are with at least 2 per product. */
visor_code visor_projection_labelled_images(visor_db_conn *conn, int64_t *count, visor_error *err);

#endif
