/* preprocess.c: model input tensors from RGB images: the resize geometry of each mode
 * (the pixel work is visor_rgb_image_resize in src/image), then colour order, scaling,
 * mean / std and layout through a per-channel lookup table. */
#include "ml/preprocess.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void visor_preprocess_normalize(const visor_model_input *input, const visor_rgb_image *resized,
                                float *item) {
  const int width = input->width, height = input->height;
  const size_t plane = (size_t)width * height;
  /* lut[c][v]: value of byte v in tensor channel c (c in the tensor's colour order). */
  float lut[3][256];
  for (int c = 0; c < 3; c++) {
    int rgb = input->colour == VISOR_COLOUR_BGR ? 2 - c : c;
    for (int v = 0; v < 256; v++)
      lut[c][v] = ((float)v * input->scale - input->mean[rgb]) / input->std[rgb];
  }
  float fill[3];
  for (int c = 0; c < 3; c++) {
    int rgb = input->colour == VISOR_COLOUR_BGR ? 2 - c : c;
    fill[c] = (input->fill * input->scale - input->mean[rgb]) / input->std[rgb];
  }
  const int bgr = input->colour == VISOR_COLOUR_BGR;
  for (int y = 0; y < height; y++) {
    const uint8_t *row =
        y < resized->height ? resized->pixels + (size_t)y * resized->width * 3 : NULL;
    for (int x = 0; x < width; x++) {
      float value[3];
      if (row && x < resized->width) {
        const uint8_t *p = row + (size_t)x * 3;
        value[0] = lut[0][p[bgr ? 2 : 0]];
        value[1] = lut[1][p[1]];
        value[2] = lut[2][p[bgr ? 0 : 2]];
      } else {
        value[0] = fill[0];
        value[1] = fill[1];
        value[2] = fill[2];
      }
      size_t at = (size_t)y * width + x;
      if (input->layout == VISOR_LAYOUT_NCHW) {
        item[at] = value[0];
        item[plane + at] = value[1];
        item[2 * plane + at] = value[2];
      } else {
        item[at * 3] = value[0];
        item[at * 3 + 1] = value[1];
        item[at * 3 + 2] = value[2];
      }
    }
  }
}

/* Widens the span [*start, *start + *length) of an axis of size pixels (>= 1) to at least
 * one pixel around its centre, kept inside the axis. */
static void widen_to_pixel(double *start, double *length, int size) {
  if (*length >= 1) return;
  double centre = *start + *length / 2;
  *start = fmin(fmax(0.0, centre - 0.5), (double)size - 1);
  *length = 1;
}

visor_code visor_preprocess(const visor_model_input *input, const visor_rgb_image *image,
                            const visor_box *box, float *item, visor_tensor_map *map,
                            visor_error *err) {
  if (!image || image->width < 1 || image->height < 1 || !image->pixels)
    return visor_error_set(err, VISOR_ERR_INVALID, "preprocess: the image is empty");
  /* The region, clamped to the image. */
  double bx = 0, by = 0, bw = image->width, bh = image->height;
  if (box) {
    if (!isfinite(box->x) || !isfinite(box->y) || !isfinite(box->w) || !isfinite(box->h))
      return visor_error_set(err, VISOR_ERR_INVALID, "preprocess: the box is not finite");
    bx = fmax(0.0, box->x);
    by = fmax(0.0, box->y);
    bw = fmin((double)image->width, (double)box->x + box->w) - bx;
    bh = fmin((double)image->height, (double)box->y + box->h) - by;
    if (!(bw > 0) || !(bh > 0))
      return visor_error_set(err, VISOR_ERR_INVALID,
                             "preprocess: box x=%g y=%g w=%g h=%g is outside the %dx%d image",
                             box->x, box->y, box->w, box->h, image->width, image->height);
    /* A box thinner than a pixel (a centred view of a 1-pixel-wide image, a tiny box of
     * a downscaled image) still covers part of the image: read the whole pixel around it. */
    widen_to_pixel(&bx, &bw, image->width);
    widen_to_pixel(&by, &bh, image->height);
  }
  const int width = input->width, height = input->height;
  visor_box source = {(float)bx, (float)by, (float)bw, (float)bh};
  int out_w = width, out_h = height;
  switch (input->resize) {
  case VISOR_RESIZE_LETTERBOX: {
    double r = fmin(width / bw, height / bh);
    out_w = (int)fmin(width, fmax(1.0, floor(bw * r + 0.5)));
    out_h = (int)fmin(height, fmax(1.0, floor(bh * r + 0.5)));
    map->scale_x = map->scale_y = (float)r;
    break;
  }
  case VISOR_RESIZE_CENTER_CROP: {
    /* short side → short_side, then the centre width x height: in image pixels, a
     * (width / s) x (height / s) window around the box's centre. */
    double s = input->short_side / fmin(bw, bh);
    double cw = fmin(bw, width / s), ch = fmin(bh, height / s);
    source.x = (float)(bx + (bw - cw) / 2);
    source.y = (float)(by + (bh - ch) / 2);
    source.w = (float)cw;
    source.h = (float)ch;
    map->scale_x = (float)(width / cw);
    map->scale_y = (float)(height / ch);
    break;
  }
  case VISOR_RESIZE_STRETCH:
    map->scale_x = (float)(width / bw);
    map->scale_y = (float)(height / bh);
    break;
  }
  map->offset_x = source.x;
  map->offset_y = source.y;

  visor_rgb_image resized;
  visor_code code = visor_rgb_image_resize(image, &source, out_w, out_h, &resized, err);
  if (code) return code;
  visor_preprocess_normalize(input, &resized, item);
  visor_rgb_image_free(&resized);
  return VISOR_OK;
}
