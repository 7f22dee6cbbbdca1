/* resize.c: the pure image part of model preprocessing: resample a box of an RGB image in
 * memory to an exact size. Separable triangle (bilinear) filter, widened by the reduction
 * factor when shrinking (antialiased, like PIL's bilinear), with sub-pixel box edges. Plain
 * C: for the small tensors models take, per-call libvips pipelines cost more than the work.
 * Letterbox / centre-crop geometry lives in src/ml/preprocess.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"

/* Taps of one output pixel: source index of the first one, how many, and their weights. */
typedef struct taps {
  int *first;
  int *count;
  float *weights; /* out_size * max_taps */
  int max_taps;
} taps;

/* Output i covers source [start + i * step, start + (i + 1) * step); source 0..in_size. */
static int make_taps(double start, double span, int in_size, int out_size, taps *t) {
  double step = span / out_size;
  double support = step > 1.0 ? step : 1.0; /* triangle half-width in source pixels */
  t->max_taps = (int)ceil(2 * support) + 2;
  t->first = malloc((size_t)out_size * sizeof(int));
  t->count = malloc((size_t)out_size * sizeof(int));
  t->weights = malloc((size_t)out_size * t->max_taps * sizeof(float));
  if (!t->first || !t->count || !t->weights) return 0;
  for (int i = 0; i < out_size; i++) {
    double centre = start + (i + 0.5) * step;
    int lo = (int)floor(centre - support), hi = (int)ceil(centre + support);
    if (lo < 0) lo = 0;
    if (hi > in_size) hi = in_size;
    if (hi - lo > t->max_taps) hi = lo + t->max_taps;
    float *w = t->weights + (size_t)i * t->max_taps;
    double sum = 0;
    int n = 0;
    for (int j = lo; j < hi; j++, n++) {
      double x = fabs((j + 0.5 - centre) / support);
      w[n] = x < 1.0 ? (float)(1.0 - x) : 0.0f;
      sum += w[n];
    }
    if (sum <= 0) { /* a box thinner than a pixel at the edge: nearest pixel */
      int nearest = (int)floor(centre);
      lo = nearest < 0 ? 0 : nearest >= in_size ? in_size - 1 : nearest;
      n = 1;
      w[0] = 1.0f;
      sum = 1.0;
    }
    for (int k = 0; k < n; k++)
      w[k] = (float)(w[k] / sum);
    t->first[i] = lo;
    t->count[i] = n;
  }
  return 1;
}

static void free_taps(taps *t) {
  free(t->first);
  free(t->count);
  free(t->weights);
}

visor_code visor_rgb_image_resize(const visor_rgb_image *image, const visor_box *box, int out_w,
                                  int out_h, visor_rgb_image *out, visor_error *err) {
  memset(out, 0, sizeof *out);
  if (!image || !image->pixels || image->width < 1 || image->height < 1)
    return visor_error_set(err, VISOR_ERR_INVALID, "resize: the source image is empty");
  if (out_w < 1 || out_h < 1 || out_w > 16384 || out_h > 16384)
    return visor_error_set(err, VISOR_ERR_INVALID, "resize: target size %dx%d is not in 1..16384",
                           out_w, out_h);
  double x0 = 0, y0 = 0, x1 = image->width, y1 = image->height;
  if (box) {
    if (!isfinite(box->x) || !isfinite(box->y) || !isfinite(box->w) || !isfinite(box->h))
      return visor_error_set(err, VISOR_ERR_INVALID, "resize: box is not finite");
    x0 = fmax(0.0, box->x);
    y0 = fmax(0.0, box->y);
    x1 = fmin((double)image->width, (double)box->x + box->w);
    y1 = fmin((double)image->height, (double)box->y + box->h);
    if (x1 - x0 < 0.5 || y1 - y0 < 0.5)
      return visor_error_set(err, VISOR_ERR_INVALID,
                             "resize: box x=%g y=%g w=%g h=%g is outside the %dx%d image", box->x,
                             box->y, box->w, box->h, image->width, image->height);
  }
  taps tx = {0}, ty = {0};
  float *rows = NULL;
  visor_code code = VISOR_OK;
  out->pixels = malloc((size_t)out_w * out_h * 3);
  if (!out->pixels || !make_taps(x0, x1 - x0, image->width, out_w, &tx) ||
      !make_taps(y0, y1 - y0, image->height, out_h, &ty)) {
    code = visor_error_set(err, VISOR_ERR_NOMEM, "resize: no memory for %dx%d", out_w, out_h);
    goto done;
  }
  /* Horizontal pass over the source rows the vertical taps touch. */
  int row_lo = ty.first[0], row_hi = ty.first[out_h - 1] + ty.count[out_h - 1];
  for (int i = 0; i < out_h; i++) {
    if (ty.first[i] < row_lo) row_lo = ty.first[i];
    if (ty.first[i] + ty.count[i] > row_hi) row_hi = ty.first[i] + ty.count[i];
  }
  const size_t row_floats = (size_t)out_w * 3;
  rows = malloc((size_t)(row_hi - row_lo) * row_floats * sizeof(float));
  if (!rows) {
    code = visor_error_set(err, VISOR_ERR_NOMEM, "resize: no memory for %dx%d", out_w, out_h);
    goto done;
  }
  for (int y = row_lo; y < row_hi; y++) {
    const uint8_t *src = image->pixels + (size_t)y * image->width * 3;
    float *dst = rows + (size_t)(y - row_lo) * row_floats;
    for (int x = 0; x < out_w; x++) {
      const float *w = tx.weights + (size_t)x * tx.max_taps;
      const uint8_t *p = src + (size_t)tx.first[x] * 3;
      float r = 0, g = 0, b = 0;
      for (int k = 0; k < tx.count[x]; k++, p += 3) {
        r += w[k] * p[0];
        g += w[k] * p[1];
        b += w[k] * p[2];
      }
      dst[x * 3] = r;
      dst[x * 3 + 1] = g;
      dst[x * 3 + 2] = b;
    }
  }
  /* Vertical pass. */
  for (int y = 0; y < out_h; y++) {
    const float *w = ty.weights + (size_t)y * ty.max_taps;
    uint8_t *dst = out->pixels + (size_t)y * row_floats;
    const float *first = rows + (size_t)(ty.first[y] - row_lo) * row_floats;
    for (size_t x = 0; x < row_floats; x++) {
      float v = 0;
      const float *p = first + x;
      for (int k = 0; k < ty.count[y]; k++, p += row_floats)
        v += w[k] * *p;
      v += 0.5f;
      dst[x] = v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)v;
    }
  }
  out->width = out_w;
  out->height = out_h;
done:
  free(rows);
  free_taps(&tx);
  free_taps(&ty);
  if (code) {
    free(out->pixels);
    memset(out, 0, sizeof *out);
  }
  return code;
}
