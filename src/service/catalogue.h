/* catalogue.h: the catalogue service: the one code path for "store an image, insert its
 * rows, queue its index job", "delete an image" and "re-index an image", used by the API
 * routes, `visor eval` and the CLI. */
#ifndef VISOR_SERVICE_CATALOGUE_H
#define VISOR_SERVICE_CATALOGUE_H

#include <stddef.h>

#include "app/app.h"
#include "image/image.h"
#include "store/catalog.h"

/* An image whose bytes are in the object store, ready for its rows: record's strings
 * point into this struct (or at the caller's filename). */
typedef struct visor_stored_image {
  visor_image_record record;
  char id[40];
  char object_key[128];
  char sha256[65];
  char content_type[32];
  visor_image_info info;
} visor_stored_image;

/* Probes bytes (an image libvips reads, within the pixel limit) and stores them under
 * images/<new id>/original; fills out for visor_catalogue_add_image. */
visor_code visor_catalogue_store_bytes(visor_app *app, const void *bytes, size_t len,
                                       const char *filename, visor_stored_image *out,
                                       visor_error *err);

/* Inserts the image row of product_id with its index job, inside the caller's
 * transaction on conn (image->product_id and ->job_id are set here; job_id receives the
 * job's id). Call visor_app_jobs_committed after the commit. */
visor_code visor_catalogue_add_image(visor_app *app, visor_db_conn *conn, const char *product_id,
                                     visor_image_record *image, char job_id[40], visor_error *err);

/* Deletes an image: the image and its regions are soft-deleted and its pending index job
 * cancelled in one transaction; then its vectors leave the index (at once in a process
 * with the vector store, else by an index job that cleans up after the deleted image). */
visor_code visor_catalogue_delete_image(visor_app *app, const char *image_id, visor_error *err);

/* Queues a new index job for a live image, in the caller's transaction. */
visor_code visor_catalogue_reindex_image(visor_app *app, visor_db_conn *conn, const char *image_id,
                                         const char *product_id, char job_id[40], visor_error *err);

/* Applies changes (validated by the caller) to product id in one transaction; when they
 * touch what the vectors carry (category, labels) a "meta" job is queued in the same
 * transaction to rewrite the product's vectors' metadata, and job_id receives its id
 * (else job_id[0] = 0). *product receives the updated product (caller decrefs). */
visor_code visor_catalogue_update_product(visor_app *app, const char *id, const json_t *changes,
                                          json_t **product, char job_id[40], visor_error *err);

/* The same inside the caller's transaction on conn (call visor_app_jobs_committed after
 * the commit when job_id[0]). */
visor_code visor_catalogue_update_product_on(visor_app *app, visor_db_conn *conn, const char *id,
                                             const json_t *changes, char job_id[40],
                                             visor_error *err);

/* Removes the vectors and crop objects of keys (region rows: vector_id, crop_key). */
visor_code visor_catalogue_remove_region_data(visor_app *app, const json_t *keys, visor_error *err);

#endif
