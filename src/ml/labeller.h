/* labeller.h: "what is it" labels for regions: softmax over a classifier's logits, the
 * top-k classes, each named by the first synonym of its label line. */
#ifndef VISOR_ML_LABELLER_H
#define VISOR_ML_LABELLER_H

#include <stddef.h>

#include "core/error.h"
#include "ml/manifest.h"
#include "ml/ml.h"
#include "ml/onnx_session.h"
#include "ml/runner.h"

/* Top-k of one row of class scores (softmax first when apply_softmax) → out[0..k), best
 * first; returns how many were written (min(k, classes)). */
size_t visor_labeller_top_k(const float *scores, size_t classes, int apply_softmax,
                            char *const *labels, size_t k, visor_label *out);

/* "Granny Smith, Granny Smith apple" → "Granny Smith" (trimmed, cut to size). */
void visor_label_short_name(const char *label, char *out, size_t size);

/* Labels count boxes of image with a classifier model (batched); box NULL = whole image.
 * regions[i].labels / label_count are filled. */
visor_code visor_labeller_label(visor_onnx_session *session, const visor_model_spec *spec,
                                const visor_rgb_image *image, const visor_box *boxes, size_t count,
                                visor_region *regions, visor_error *err);
/* The same, with each batch run through runner (NULL = directly on the session). */
visor_code visor_labeller_label_with(visor_onnx_session *session, const visor_model_spec *spec,
                                     const visor_rgb_image *image, const visor_box *boxes,
                                     size_t count, visor_region *regions,
                                     const visor_ml_runner *runner, visor_error *err);

#endif
