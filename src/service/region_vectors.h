/* region_vectors.h: brings the vectors of some regions in line with the metadata store
 * after an admin correction changed them: a live region (of a live image) has its vector
 * with its product's current category and labels and its own region_label (set_meta; a
 * vector that is gone, e.g. after a region delete was undone, is embedded again from the
 * original image); a deleted region (or one of a deleted image) has no vector and no
 * cached crop. Idempotent: it writes what the rows say now, so running it again (the
 * "sync" task, queued in the correction's transaction) repairs whatever a failure after
 * the commit left. */
#ifndef VISOR_SERVICE_REGION_VECTORS_H
#define VISOR_SERVICE_REGION_VECTORS_H

#include <jansson.h>

#include "app/app.h"

/* region_ids: JSON array of region id strings. Needs app->vectors (and app->ml to embed
 * a missing vector: VISOR_ERR_UNAVAILABLE without it). */
visor_code visor_region_vectors_sync(visor_app *app, const json_t *region_ids, visor_error *err);

/* Like visor_region_vectors_sync, but each live region listed is embedded again from its
 * box whether its vector exists or not (the vector is replaced in place under its id, through
 * the same write as above) and its crop cut again: for a region whose box an admin moved or
 * drew. */
visor_code visor_region_vectors_reembed(visor_app *app, const json_t *region_ids, visor_error *err);
/* One region vector's writes, raw and projected (every caller that writes a region vector
 * outside the index task goes through these, so the served catalogue projection follows:
 * app->projected). image_id is the region's image (its raw-embedding blob). */
/* set_meta on the raw vector and on its projected ones (VISOR_ERR_NOT_FOUND when the raw
 * vector is not there; a projected one missing is projected from the kept raw embedding). */
visor_code visor_region_vector_set_meta(visor_app *app, const char *image_id, const char *vector_id,
                                        const visor_vector_meta *meta, visor_error *err);
/* Removes the raw vector and the projected ones (not there is fine). */
visor_code visor_region_vector_remove(visor_app *app, const char *vector_id, visor_error *err);
/* A region's new embedding (app->vectors->dim floats, e.g. its box embedded again): the raw
 * vector, its kept raw embedding and its projected vectors. */
visor_code visor_region_vector_write(visor_app *app, const char *image_id, const char *vector_id,
                                     const float *embedding, const visor_vector_meta *meta,
                                     visor_error *err);

/* Queues a "sync" task for region_ids in the caller's transaction on conn (nothing when
 * the array is empty; job_id[0] = 0 then). subject_id names what the correction was on. */
visor_code visor_region_vectors_queue(visor_app *app, visor_db_conn *conn, const char *subject_id,
                                      const json_t *region_ids, char job_id[40], visor_error *err);
/* The same with reembed_ids (JSON array or NULL): regions the task embeds again
 * (visor_region_vectors_reembed); payload {"region_ids": [...], "reembed_ids": [...]}. */
visor_code visor_region_vectors_queue_embed(visor_app *app, visor_db_conn *conn,
                                            const char *subject_id, const json_t *region_ids,
                                            const json_t *reembed_ids, char job_id[40],
                                            visor_error *err);

#endif
