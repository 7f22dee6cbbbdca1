/* ml_local.h: the in-process ML backend (ONNX Runtime in this process). Open once; every
 * operation is safe to call from many threads at once (sessions and the manifest are
 * read-only after open), which is what `visor serve` workers and the `visor ml` server's
 * batching threads rely on. */
#ifndef VISOR_ML_ML_LOCAL_H
#define VISOR_ML_ML_LOCAL_H

#include "ml/manifest.h"
#include "ml/ml.h"

/* Images are decoded at most this big (longer side) for analysis: the detector sees 416
 * pixels and crops are embedded at 224, so more only costs decode time. Boxes are always
 * reported in the original image's pixels. */
#define VISOR_ML_DECODE_MAX_SIDE 1024

visor_ml *visor_ml_local_open(const visor_ml_config *config, visor_error *err);

/* The manifest a local backend runs (for `visor ml` to describe itself). */
const visor_manifest *visor_ml_local_manifest(visor_ml *ml);

#endif
