/* views.h: views of an image for retrieval: centred crops at given scales, labelled and
 * embedded by the ML backend in the same pass (and from the same decode) as the image's
 * other regions (visor_analyze_options.views), then averaged into the whole-image
 * embedding (query images, and catalogue images unless the settings keep their views as extra
 * regions). See settings.h. */
#ifndef VISOR_PIPELINE_VIEWS_H
#define VISOR_PIPELINE_VIEWS_H

#include "app/app.h"
#include "ml/ml.h"

/* base with the views at scales (scales in (0, 1]; at most VISOR_ML_MAX_VIEWS) asked for:
 * analyze appends one region per scale after the others, detector name "view". */
visor_analyze_options visor_views_options(const visor_analyze_options *base, const float *scales,
                                          size_t count);
/* Replaces the whole-image region's embedding by the normalised mean of it and the
 * embeddings of the analysis's last count regions (the views), and drops those. */
void visor_views_average(visor_analysis *analysis, size_t count);

/* Analyzes an image with base and the views at scales, averaged into the whole-image
 * embedding when averaged (else kept as extra regions). */
visor_code visor_views_analyze(visor_ml *ml, const void *image, size_t len,
                               const visor_analyze_options *base, const float *scales, size_t count,
                               int averaged, visor_analysis *analysis, visor_error *err);

/* Analyzes a catalogue image as the index task indexes it: the index settings, with the index
 * views averaged into the whole-image embedding (or kept as extra regions, as the settings
 * say). whole_only: the whole image and its views only, no detector regions (what a
 * projection's fit takes of a photo). */
visor_code visor_views_analyze_catalogue(visor_ml *ml, const void *image, size_t len,
                                         int whole_only, visor_analysis *analysis,
                                         visor_error *err);

/* The whole-image embedding of an image as visor_views_analyze_catalogue makes it
 * (visor_app.embed_whole_image): *embedding malloc'd, app->embedder.dim floats. */
visor_code visor_views_embed_whole_image(visor_app *app, const void *image, size_t len,
                                         float **embedding, visor_error *err);

#endif
