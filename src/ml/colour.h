/* colour.h: the colour descriptor an embedder can append to its model's embedding: a
 * joint hue / saturation / value histogram of a region's pixels, as unit-length square
 * roots of the bin frequencies (Hellinger), so that a cosine of two descriptors is their
 * Bhattacharyya coefficient. */
#ifndef VISOR_ML_COLOUR_H
#define VISOR_ML_COLOUR_H

#include <stddef.h>

#include "image/image.h"

/* Samples per axis of a region at most: a region is read on a grid of <= this^2 pixels. */
#define VISOR_COLOUR_GRID 64

typedef struct visor_colour_bins {
  int hue, saturation, value; /* bins per channel; 0 hue bins = no colour descriptor */
} visor_colour_bins;

/* hue * saturation * value (0 when the descriptor is off). */
size_t visor_colour_dim(const visor_colour_bins *bins);

/* Writes visor_colour_dim(bins) floats of the descriptor of box (NULL = the whole image)
 * of image to out; an empty region gives a zero vector. */
void visor_colour_histogram(const visor_rgb_image *image, const visor_box *box,
                            const visor_colour_bins *bins, float *out);

#endif
