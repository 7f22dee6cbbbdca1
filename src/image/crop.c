/* crop.c: cut a box out of an encoded image and encode it as JPEG or WebP (the crops
 * Visor stores and shows), downscaled to a maximum side. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/image_internal.h"

/* Clamps box to a width x height image as whole pixels; 0 when nothing is left. */
static int clamp_box(const visor_box *box, int width, int height, int *x, int *y, int *w, int *h) {
  if (!isfinite(box->x) || !isfinite(box->y) || !isfinite(box->w) || !isfinite(box->h)) return 0;
  double x0 = floor(fmax(0.0, box->x)), y0 = floor(fmax(0.0, box->y));
  double x1 = ceil(fmin((double)width, (double)box->x + box->w));
  double y1 = ceil(fmin((double)height, (double)box->y + box->h));
  if (x1 - x0 < 1 || y1 - y0 < 1) return 0;
  *x = (int)x0;
  *y = (int)y0;
  *w = (int)(x1 - x0);
  *h = (int)(y1 - y0);
  return 1;
}

struct visor_image {
  VipsImage *pixels; /* upright, 8-bit sRGB (alpha flattened), decoded into memory */
  double scale;      /* pixels' width / the original's */
};

visor_code visor_image_load(const void *data, size_t len, size_t max_pixels, int max_side,
                            visor_image **out, visor_error *err) {
  *out = NULL;
  visor_image_info info;
  VipsImage *image = NULL;
  visor_code code = visor_image_open(data, len, max_pixels, 0, &image, &info, err);
  if (code) return code;
  VipsImage *scope = vips_image_new();
  VipsImage **t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(scope), 2);
  VipsImage *memory = NULL;
  int shrink = max_side > 0 && (info.width > max_side || info.height > max_side);
  if (shrink) { /* decodes straight at the smaller size, upright */
    if (vips_thumbnail_buffer((void *)data, len, &t[0], max_side, "height", max_side, "size",
                              VIPS_SIZE_DOWN, NULL))
      code = visor_vips_error(err, VISOR_ERR_INVALID, "cannot decode the image");
  } else if (vips_autorot(image, &t[0], NULL)) {
    code = visor_vips_error(err, VISOR_ERR_INVALID, "cannot apply the EXIF orientation");
  }
  if (code == VISOR_OK) code = visor_image_to_srgb8(t[0], !shrink, &t[1], err);
  if (code == VISOR_OK && !(memory = vips_image_copy_memory(t[1])))
    code = visor_vips_error(err, VISOR_ERR_INVALID, "cannot decode the image");
  g_object_unref(scope);
  g_object_unref(image);
  if (code != VISOR_OK) return code;
  if (!(*out = malloc(sizeof **out))) {
    g_object_unref(memory);
    return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  }
  (*out)->pixels = memory;
  (*out)->scale = info.width > 0 ? (double)memory->Xsize / info.width : 1.0;
  return VISOR_OK;
}

void visor_image_free(visor_image *image) {
  if (!image) return;
  g_object_unref(image->pixels);
  free(image);
}

visor_code visor_image_crop_encode_loaded(const visor_image *image, const visor_box *box,
                                          int max_side, int webp, void **out, size_t *out_len,
                                          visor_error *err) {
  *out = NULL;
  *out_len = 0;
  if (!box) return visor_error_set(err, VISOR_ERR_INVALID, "crop box is missing");
  VipsImage *source = image->pixels;
  visor_box scaled = {box->x * (float)image->scale, box->y * (float)image->scale,
                      box->w * (float)image->scale, box->h * (float)image->scale};
  int x, y, w, h;
  if (!clamp_box(&scaled, source->Xsize, source->Ysize, &x, &y, &w, &h))
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "crop box x=%g y=%g w=%g h=%g is outside the %dx%d image", box->x,
                           box->y, box->w, box->h, source->Xsize, source->Ysize);
  VipsImage *scope = vips_image_new();
  VipsImage **t = (VipsImage **)vips_object_local_array(VIPS_OBJECT(scope), 2);
  visor_code code = VISOR_OK;
  void *buffer = NULL;
  size_t size = 0;
  if (vips_extract_area(source, &t[0], x, y, w, h, NULL)) {
    code = visor_vips_error(err, VISOR_ERR_INVALID, "cannot crop the image");
    goto done;
  }
  VipsImage *last = t[0];
  int longer = w > h ? w : h;
  if (max_side > 0 && longer > max_side) {
    if (vips_resize(last, &t[1], (double)max_side / longer, NULL)) {
      code = visor_vips_error(err, VISOR_ERR_INVALID, "cannot scale the crop down");
      goto done;
    }
    last = t[1];
  }
  int failed = webp ? vips_webpsave_buffer(last, &buffer, &size, "Q", 85, "strip", TRUE, NULL)
                    : vips_jpegsave_buffer(last, &buffer, &size, "Q", 85, "strip", TRUE, NULL);
  if (failed) {
    code = visor_vips_error(err, VISOR_ERR_INVALID,
                            webp ? "cannot encode the crop as WebP"
                                 : "cannot encode the crop as JPEG");
    goto done;
  }
  *out = malloc(size);
  if (!*out) {
    code = visor_error_set(err, VISOR_ERR_NOMEM, "no memory for a %zu-byte crop", size);
    goto done;
  }
  memcpy(*out, buffer, size);
  *out_len = size;
done:
  g_free(buffer);
  g_object_unref(scope);
  return code;
}

visor_code visor_image_crop_encode(const void *data, size_t len, size_t max_pixels,
                                   const visor_box *box, int max_side, int webp, void **out,
                                   size_t *out_len, visor_error *err) {
  *out = NULL;
  *out_len = 0;
  if (!box) return visor_error_set(err, VISOR_ERR_INVALID, "crop box is missing");
  visor_image *image = NULL;
  visor_code code = visor_image_load(data, len, max_pixels, 0, &image, err);
  if (code == VISOR_OK)
    code = visor_image_crop_encode_loaded(image, box, max_side, webp, out, out_len, err);
  visor_image_free(image);
  return code;
}
