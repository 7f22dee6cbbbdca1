/* views.h: views of an image for retrieval: centred crops at given scales, embedded by the
 * ML backend, either added to an analysis as extra regions (catalogue images) or averaged
 * into its whole-image embedding (query images). See settings.h. */
#ifndef VISOR_PIPELINE_VIEWS_H
#define VISOR_PIPELINE_VIEWS_H

#include "app/app.h"
#include "ml/ml.h"

/* Appends one region per scale (scales in (0, 1)) after the analysis's regions; each is
 * labelled and embedded, with detector name "view" and score 0. */
visor_code visor_views_add_regions(visor_app *app, const void *image, size_t len,
                                   const float *scales, size_t count, visor_analysis *analysis,
                                   visor_error *err);
/* Replaces the whole-image region's embedding by the normalised mean of it and the
 * embeddings of the views at scales. */
visor_code visor_views_average(visor_app *app, const void *image, size_t len, const float *scales,
                               size_t count, visor_analysis *analysis, visor_error *err);

#endif
