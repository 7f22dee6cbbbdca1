/* colour.c: the hue / saturation / value histogram of a region (colour.h), read on a grid of
 * pixel centres across the box. */
#include "ml/colour.h"

#include <math.h>
#include <string.h>

size_t visor_colour_dim(const visor_colour_bins *bins) {
  if (!bins || bins->hue <= 0 || bins->saturation <= 0 || bins->value <= 0) return 0;
  return (size_t)bins->hue * (size_t)bins->saturation * (size_t)bins->value;
}

static int bin_of(float fraction, int bins) {
  int bin = (int)(fraction * (float)bins);
  return bin < 0 ? 0 : bin >= bins ? bins - 1 : bin;
}

/* The histogram bin of one RGB pixel. */
static size_t pixel_bin(const uint8_t *p, const visor_colour_bins *bins) {
  int r = p[0], g = p[1], b = p[2];
  int max = r > g ? (r > b ? r : b) : (g > b ? g : b);
  int min = r < g ? (r < b ? r : b) : (g < b ? g : b);
  int chroma = max - min;
  float hue = 0.0f; /* in sixths of the circle, [0, 6) */
  if (chroma > 0) {
    if (max == r)
      hue = (float)(g - b) / (float)chroma;
    else if (max == g)
      hue = 2.0f + (float)(b - r) / (float)chroma;
    else
      hue = 4.0f + (float)(r - g) / (float)chroma;
    if (hue < 0.0f) hue += 6.0f;
  }
  float saturation = max > 0 ? (float)chroma / (float)max : 0.0f;
  float value = (float)max / 255.0f;
  size_t h = (size_t)bin_of(hue / 6.0f, bins->hue);
  size_t s = (size_t)bin_of(saturation, bins->saturation);
  size_t v = (size_t)bin_of(value, bins->value);
  return (h * (size_t)bins->saturation + s) * (size_t)bins->value + v;
}

/* The pixel span [*first, *last] of an axis that a box side covers, clipped to size. */
static int span(float start, float length, int size, int *first, int *last) {
  float end = start + length;
  if (start < 0.0f) start = 0.0f;
  if (end > (float)size) end = (float)size;
  *first = (int)floorf(start);
  *last = (int)ceilf(end) - 1;
  if (*last >= size) *last = size - 1;
  return *first <= *last;
}

void visor_colour_histogram(const visor_rgb_image *image, const visor_box *box,
                            const visor_colour_bins *bins, float *out) {
  size_t dim = visor_colour_dim(bins);
  if (!dim) return;
  memset(out, 0, dim * sizeof *out);
  visor_box whole = {0.0f, 0.0f, (float)image->width, (float)image->height};
  if (!box) box = &whole;
  int x0, x1, y0, y1;
  if (!image->pixels || !span(box->x, box->w, image->width, &x0, &x1) ||
      !span(box->y, box->h, image->height, &y0, &y1))
    return;
  int columns = x1 - x0 + 1, rows = y1 - y0 + 1;
  int grid_x = columns < VISOR_COLOUR_GRID ? columns : VISOR_COLOUR_GRID;
  int grid_y = rows < VISOR_COLOUR_GRID ? rows : VISOR_COLOUR_GRID;
  for (int j = 0; j < grid_y; j++) {
    int y = y0 + (int)(((double)j + 0.5) * rows / grid_y);
    const uint8_t *row = image->pixels + (size_t)y * (size_t)image->width * 3;
    for (int i = 0; i < grid_x; i++) {
      int x = x0 + (int)(((double)i + 0.5) * columns / grid_x);
      out[pixel_bin(row + (size_t)x * 3, bins)] += 1.0f;
    }
  }
  float total = (float)grid_x * (float)grid_y;
  for (size_t i = 0; i < dim; i++)
    out[i] = sqrtf(out[i] / total);
}
