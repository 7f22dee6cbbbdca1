/* image_internal.h: helpers shared by the files of src/image (not part of the public API):
 * turning libvips errors into visor_error, opening a buffer with the format and pixel-limit
 * checks, and normalising any decoded image to 8-bit, 3-band sRGB. */
#ifndef VISOR_IMAGE_INTERNAL_H
#define VISOR_IMAGE_INTERNAL_H

#include <vips/vips.h>

#include "image/image.h"

/* Sets err to code with "what: <libvips message>" and clears libvips' error buffer. */
visor_code visor_vips_error(visor_error *err, visor_code code, const char *what);

/* Checks the bytes are an accepted format and the upright size is within max_pixels, then
 * returns the (lazily decoded) image in *out (caller unrefs) and its header in *info.
 * sequential != 0 opens for top-to-bottom reading (enough for the header and for
 * thumbnails); otherwise the pixels can be read in any order (rotation, crops). */
visor_code visor_image_open(const void *data, size_t len, size_t max_pixels, int sequential,
                            VipsImage **out, visor_image_info *info, visor_error *err);

/* Any image → 8-bit sRGB, 3 bands: ICC / CMYK to sRGB, grey to RGB, 16-bit to 8-bit, alpha
 * flattened on white. colour_manage = 0 skips embedded ICC profiles (already applied, e.g.
 * by vips_thumbnail). *out is a new reference. */
visor_code visor_image_to_srgb8(VipsImage *in, int colour_manage, VipsImage **out,
                                visor_error *err);

/* Copies a 3-band uchar image into a malloc'd visor_rgb_image. */
visor_code visor_image_to_rgb(VipsImage *in, visor_rgb_image *out, visor_error *err);

#endif
