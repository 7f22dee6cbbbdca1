/* crops.h: region crops on demand. The index task stores no crop; the first request for a
 * region's crop cuts it from the original image by the region's stored box, stores it in
 * the object store under the region's crop_key as a cache, and later requests serve the
 * cached bytes. The crop_key a region row names is where its crop is (or will be) cached;
 * a crop never asked for is never made, and is no orphan. */
#ifndef VISOR_SERVICE_CROPS_H
#define VISOR_SERVICE_CROPS_H

#include <stddef.h>

#include "app/app.h"

/* A crop's longer side is at most this many pixels. */
#define VISOR_CROP_MAX_SIDE 320
/* Crops are cut from the original decoded shrunk to this side (the size analyze uses):
 * enough for a 320-pixel crop of any region larger than a third of the photo. */
#define VISOR_CROP_SOURCE_MAX_SIDE 1024

/* The object key a region's crop is cached under: crops/<image id>/<region id>.jpg. */
void visor_crop_key(const char *image_id, const char *region_id, char *key, size_t size);
/* A short hash of a box (its coordinates to a thousandth of a pixel): names the crop of that
 * box, so a crop URL or key that carries it never shows another box. */
unsigned visor_crop_box_version(double x, double y, double w, double h);
/* The key of a crop of a box an admin set: crops/<image id>/<region id>-<box version>.jpg.
 * A moved box gets a new key, so the cached crop of the old box is never served again. */
void visor_crop_key_for_box(const char *image_id, const char *region_id, double x, double y,
                            double w, double h, char *key, size_t size);

/* The JPEG crop of live region region_id into *bytes (malloc'd; the caller frees): the
 * cached object when there is one, else cut from the original, cached and returned.
 * Deterministic, so concurrent first requests store and return the same bytes.
 * VISOR_ERR_NOT_FOUND when the region or its image is missing or deleted, also when it is
 * deleted while its crop is being made (the crop is then removed again). A box moved while
 * its crop is being made: the bytes of the old box are returned but not left cached. */
visor_code visor_crop_get(visor_app *app, const char *region_id, void **bytes, size_t *len,
                          visor_error *err);

#endif
