/* views.h: views of an image for retrieval: centred crops at given scales, labelled and
 * embedded by the ML backend in the same pass (and from the same decode) as the image's
 * other regions (visor_analyze_options.views), then either kept as extra regions
 * (catalogue images) or averaged into the whole-image embedding (query images). See
 * settings.h. */
#ifndef VISOR_PIPELINE_VIEWS_H
#define VISOR_PIPELINE_VIEWS_H

#include "ml/ml.h"

/* base with the views at scales (scales in (0, 1]; at most VISOR_ML_MAX_VIEWS) asked for:
 * analyze appends one region per scale after the others, detector name "view". */
visor_analyze_options visor_views_options(const visor_analyze_options *base, const float *scales,
                                          size_t count);
/* Replaces the whole-image region's embedding by the normalised mean of it and the
 * embeddings of the analysis's last count regions (the views), and drops those. */
void visor_views_average(visor_analysis *analysis, size_t count);

#endif
