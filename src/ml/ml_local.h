/* ml_local.h: the in-process ML backend (ONNX Runtime in this process). Open once; every
 * operation is safe to call from many threads at once (sessions and the manifest are
 * read-only after open), which is what `visor serve` workers and the `visor ml` server's
 * batching threads rely on. */
#ifndef VISOR_ML_ML_LOCAL_H
#define VISOR_ML_ML_LOCAL_H

#include "ml/manifest.h"
#include "ml/ml.h"
#include "ml/onnx_session.h"
#include "ml/runner.h"

/* Images are decoded at most this big (longer side) for analysis: the detector sees 416
 * pixels and crops are embedded at 224, so more only costs decode time. Boxes are always
 * reported in the original image's pixels. */
#define VISOR_ML_DECODE_MAX_SIDE 1024

visor_ml *visor_ml_local_open(const visor_ml_config *config, visor_error *err);

/* The manifest a local backend runs (for `visor ml` to describe itself). */
const visor_manifest *visor_ml_local_manifest(visor_ml *ml);

/* ---- for the `visor ml` server ------------------------------------------------------ */

#define VISOR_ML_SKIP_EMBEDDINGS 1u /* no embeddings (dim 0) */
#define VISOR_ML_SKIP_LABELS 2u     /* no labeller run (label_count 0) */

/* ops->analyze and ops->embed_boxes of a local backend with parts skipped and the crop
 * batches (embedder, labeller) run through runner (NULL = directly). */
visor_code visor_ml_local_analyze(visor_ml *ml, const void *data, size_t len,
                                  const visor_analyze_options *options, unsigned skip,
                                  const visor_ml_runner *runner, visor_analysis *out,
                                  visor_error *err);
visor_code visor_ml_local_embed_boxes(visor_ml *ml, const void *data, size_t len,
                                      visor_region *regions, size_t count, unsigned skip,
                                      const visor_ml_runner *runner, visor_error *err);
/* The embedder, detector and labeller a local backend runs (any may be NULL). */
visor_code visor_ml_local_models(visor_ml *ml, visor_model_info *embedder,
                                 visor_model_info *detector, visor_model_info *labeller);

/* A session that runs region crops, with every output name any caller asks of it. */
typedef struct visor_ml_crop_session {
  visor_onnx_session *session;
  const char *names[2];
  size_t name_count;
} visor_ml_crop_session;
/* The distinct sessions of the embedder and the labeller (at most 2); returns how many. */
size_t visor_ml_local_crop_sessions(visor_ml *ml, visor_ml_crop_session *out, size_t max);

#endif
