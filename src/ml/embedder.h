/* embedder.h: batched inference over the regions of one image: every region is
 * preprocessed into one batch tensor and the model runs once per max_batch regions,
 * giving L2-normalised embeddings (with the manifest's colour descriptor appended, ml/colour.h)
 * and / or classifier scores for each. */
#ifndef VISOR_ML_EMBEDDER_H
#define VISOR_ML_EMBEDDER_H

#include <stddef.h>

#include "core/error.h"
#include "image/image.h"
#include "ml/manifest.h"
#include "ml/onnx_session.h"
#include "ml/runner.h"

/* The embedding size of an embedder session: the model's output and the colour descriptor's
 * bins (0 when it has no embedding output). */
size_t visor_embedder_dim(const visor_onnx_session *session, const visor_model_spec *spec);

/* For count boxes of image (boxes NULL = one whole-image region): embeddings (count * dim,
 * L2-normalised when the manifest says so) and / or logits (count * label_count); either
 * may be NULL when not wanted. */
visor_code visor_embedder_run(visor_onnx_session *session, const visor_model_spec *spec,
                              const visor_rgb_image *image, const visor_box *boxes, size_t count,
                              float *embeddings, float *logits, visor_error *err);
/* The same, with each batch run through runner (NULL = directly on the session). */
visor_code visor_embedder_run_with(visor_onnx_session *session, const visor_model_spec *spec,
                                   const visor_rgb_image *image, const visor_box *boxes,
                                   size_t count, float *embeddings, float *logits,
                                   const visor_ml_runner *runner, visor_error *err);

/* Scales a vector to unit length (a zero vector stays zero). */
void visor_l2_normalize(float *vector, size_t dim);

#endif
