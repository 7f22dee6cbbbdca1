/* projection.h: a catalogue projection of embeddings: linear discriminant analysis with
 * shrinkage, fitted on labelled embeddings (one class per product), applied as "centre,
 * project, L2-normalise". It also carries the settings of the fused ranking that ranks
 * products the fit has not seen (fusion.h) and the names of the classes it was fitted on.
 * A projection is an artefact: it serialises to bytes with a format version, its own
 * version number and the embedder model it belongs to. */
#ifndef VISOR_TUNE_PROJECTION_H
#define VISOR_TUNE_PROJECTION_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define VISOR_PROJECTION_MODEL_MAX 260
#define VISOR_PROJECTION_CLASS_MAX 64

typedef struct visor_projection {
  char model[VISOR_PROJECTION_MODEL_MAX]; /* the embedder "name@version" it belongs to */
  int64_t version;                        /* the artefact's version (1, 2, ...); 0 = unset */
  size_t in_dim, out_dim;
  float *mean;   /* in_dim: the fit samples' mean */
  float *matrix; /* out_dim rows of in_dim: the discriminant directions */
  /* The fused ranking (fusion.h): weight of the projected similarity for products the fit
   * saw (seen_weight) and for the others (unseen_weight), 0..1. */
  float seen_weight, unseen_weight;
  float unseen_offset; /* added to an unseen product's calibrated score (in std units) */
  char (*classes)[VISOR_PROJECTION_CLASS_MAX]; /* the fitted classes (product ids), sorted */
  size_t class_count;
} visor_projection;

typedef struct visor_projection_fit_options {
  size_t out_dim;   /* number of directions kept (at most classes - 1; default 80) */
  double shrinkage; /* alpha in Sw -> (1 - alpha) Sw + alpha (tr Sw / D) I (default 0.1) */
} visor_projection_fit_options;

void visor_projection_fit_options_default(visor_projection_fit_options *options);

/* Fits on n samples of dim floats (row-major); labels[i] is the class index of sample i
 * (0 .. class_count-1) and class_names[c] its name (copied). Needs at least 2 classes and
 * one more sample than classes. Deterministic: the same input gives the same bytes. */
visor_code visor_projection_fit(const float *samples, const int *labels, size_t n, size_t dim,
                                const char *const *class_names, size_t class_count,
                                const visor_projection_fit_options *options, visor_projection *out,
                                visor_error *err);

/* out (out_dim floats) = normalise(matrix * (in - mean)). A zero result is
 * VISOR_ERR_INVALID. in and out must not overlap. */
visor_code visor_projection_apply(const visor_projection *projection, const float *in, float *out,
                                  visor_error *err);

/* Whether the fit saw class (a product id). */
int visor_projection_has_class(const visor_projection *projection, const char *name);

/* The artefact's bytes (malloc'd) and back. parse refuses another format, a truncated or
 * inconsistent buffer (VISOR_ERR_INVALID). */
visor_code visor_projection_serialize(const visor_projection *projection, void **bytes, size_t *len,
                                      visor_error *err);
visor_code visor_projection_parse(const void *bytes, size_t len, visor_projection *out,
                                  visor_error *err);

void visor_projection_free(visor_projection *projection); /* the contents; zeroes it */

#endif
