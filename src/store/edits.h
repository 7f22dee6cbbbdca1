/* edits.h: the writes of admin corrections on regions, images and products (labels,
 * the primary region, deleting and restoring a region, moving images between products,
 * restoring a soft-deleted product), and the rows they read first. Each takes the
 * caller's connection so a correction and its audit entry share one transaction. */
#ifndef VISOR_STORE_EDITS_H
#define VISOR_STORE_EDITS_H

#include <jansson.h>

#include "store/db.h"

/* A region row whatever its state: {id, image_id, product_id, label, source, is_primary
 * (0/1), whole_image (0/1), vector_id, crop_key, box_x, box_y, box_w, box_h, deleted (0/1)}, or
 * VISOR_ERR_NOT_FOUND. On PostgreSQL the read locks the row until the transaction ends (as
 * visor_edit_product_row does), so concurrent corrections of one subject do not interleave. */
visor_code visor_edit_region_row(visor_db_conn *conn, const char *id, json_t **row,
                                 visor_error *err);
/* Ids of product_id's live primary regions, as a JSON array of strings (sorted). */
visor_code visor_edit_primary_regions(visor_db_conn *conn, const char *product_id, json_t **ids,
                                      visor_error *err);
visor_code visor_edit_region_set_label(visor_db_conn *conn, const char *id, const char *label,
                                       const char *source, visor_error *err);
/* Sets a live region's box (pixels of the original), the key its crop is cached under, its
 * source and whether it is the image's whole-image region. */
visor_code visor_edit_region_set_box(visor_db_conn *conn, const char *id, double x, double y,
                                     double w, double h, const char *crop_key, const char *source,
                                     int whole_image, visor_error *err);
/* Makes exactly the live regions of product_id listed in ids (JSON array of strings)
 * primary, and every other live region of it not. */
visor_code visor_edit_set_primaries(visor_db_conn *conn, const char *product_id, const json_t *ids,
                                    visor_error *err);
/* Soft-deletes (deleted = 1) or restores (0) one region; VISOR_ERR_CONFLICT when it is
 * not in the other state. */
visor_code visor_edit_region_set_deleted(visor_db_conn *conn, const char *id, int deleted,
                                         visor_error *err);
/* Moves image_id (live) and its regions to product_id. */
visor_code visor_edit_move_image(visor_db_conn *conn, const char *image_id, const char *product_id,
                                 visor_error *err);
/* Ids of the live regions of the live images listed (JSON array of image ids). */
visor_code visor_edit_regions_of_images(visor_db_conn *conn, const json_t *image_ids,
                                        json_t **region_ids, visor_error *err);
/* {id, sku, deleted (0/1)} of a product whatever its state, or VISOR_ERR_NOT_FOUND; locked on
 * PostgreSQL until the transaction ends. */
visor_code visor_edit_product_row(visor_db_conn *conn, const char *id, json_t **row,
                                  visor_error *err);
/* Restores a soft-deleted product; VISOR_ERR_CONFLICT when it is live or its SKU was taken
 * by another live product meanwhile. */
visor_code visor_edit_product_restore(visor_db_conn *conn, const char *id, visor_error *err);

/* What the vector of a region must look like: {id, vector_id, box_x.., region_deleted,
 * image_deleted, image_key (the original's object key), crop_key, product_id,
 * product_deleted, category, labels (object), price} or VISOR_ERR_NOT_FOUND (no row at all). */
visor_code visor_edit_region_vector_state(visor_db_conn *conn, const char *id, json_t **state,
                                          visor_error *err);

#endif
