/* decode.c: encoded bytes → upright 8-bit RGB pixels in memory, optionally shrunk on load
 * (JPEG DCT scaling, WebP/HEIF scaled decode) when only a smaller copy is needed. */
#include <stdlib.h>

#include "image/image_internal.h"

visor_code visor_image_decode_rgb(const void *data, size_t len, size_t max_pixels, int max_side,
                                  visor_rgb_image *out, float *scale, visor_error *err) {
  visor_image_info info;
  VipsImage *image = NULL, *upright = NULL, *rgb = NULL;
  visor_code code;
  out->width = out->height = 0;
  out->pixels = NULL;
  if (scale) *scale = 1.0f;

  if (max_side > 0) {
    /* Header and limit first, then vips_thumbnail decodes straight at the smaller size. */
    code = visor_image_open(data, len, max_pixels, 1, &image, &info, err);
    if (code) return code;
    g_object_unref(image);
    image = NULL;
    if (info.width > max_side || info.height > max_side) {
      if (vips_thumbnail_buffer((void *)data, len, &upright, max_side, "height", max_side, "size",
                                VIPS_SIZE_DOWN, "option_string", "fail_on=truncated", NULL)) {
        char what[64];
        snprintf(what, sizeof what, "cannot decode the %s image", info.format);
        return visor_vips_error(err, VISOR_ERR_INVALID, what);
      }
      code = visor_image_to_srgb8(upright, 0, &rgb, err);
      goto convert;
    }
  }
  /* Top-to-bottom decoding is enough (and saves a copy) unless the image must be rotated. */
  code = visor_image_open(data, len, max_pixels, 1, &image, &info, err);
  if (code) return code;
  if (vips_image_get_orientation(image) > 1) {
    g_object_unref(image);
    image = NULL;
    code = visor_image_open(data, len, max_pixels, 0, &image, &info, err);
    if (code) return code;
  }
  if (vips_autorot(image, &upright, NULL)) {
    g_object_unref(image);
    return visor_vips_error(err, VISOR_ERR_INVALID, "cannot apply the EXIF orientation");
  }
  code = visor_image_to_srgb8(upright, 1, &rgb, err);

convert:
  if (!code) code = visor_image_to_rgb(rgb, out, err);
  if (code && err && err->code == VISOR_ERR_INVALID) visor_error_wrap(err, "%s image", info.format);
  if (!code && scale && info.width > 0) *scale = (float)out->width / (float)info.width;
  if (rgb) g_object_unref(rgb);
  if (upright) g_object_unref(upright);
  if (image) g_object_unref(image);
  return code;
}

void visor_rgb_image_free(visor_rgb_image *image) {
  if (!image) return;
  free(image->pixels);
  image->pixels = NULL;
  image->width = image->height = 0;
}
