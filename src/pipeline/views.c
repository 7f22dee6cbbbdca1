/* views.c: centred-crop views of an image for retrieval (see views.h). */
#include "pipeline/views.h"

#include <math.h>
#include <stdlib.h>

#include "pipeline/settings.h"

visor_analyze_options visor_views_options(const visor_analyze_options *base, const float *scales,
                                          size_t count) {
  visor_analyze_options options = *base;
  options.view_count = count < VISOR_ML_MAX_VIEWS ? count : VISOR_ML_MAX_VIEWS;
  for (size_t i = 0; i < options.view_count; i++)
    options.views[i] = scales[i];
  return options;
}

void visor_views_average(visor_analysis *analysis, size_t count) {
  if (!count || analysis->region_count <= count) return;
  size_t first = analysis->region_count - count;
  float *whole = analysis->regions[0].embedding;
  if (whole) {
    double norm = 0;
    for (size_t d = 0; d < analysis->dim; d++) {
      float sum = whole[d];
      for (size_t v = first; v < analysis->region_count; v++)
        if (analysis->regions[v].embedding) sum += analysis->regions[v].embedding[d];
      whole[d] = sum;
      norm += (double)sum * sum;
    }
    float inverse = norm > 0 ? (float)(1.0 / sqrt(norm)) : 0;
    for (size_t d = 0; d < analysis->dim; d++)
      whole[d] *= inverse;
  }
  for (size_t v = first; v < analysis->region_count; v++) {
    free(analysis->regions[v].embedding);
    analysis->regions[v].embedding = NULL;
  }
  analysis->region_count = first;
}

visor_code visor_views_analyze(visor_ml *ml, const void *image, size_t len,
                               const visor_analyze_options *base, const float *scales, size_t count,
                               int averaged, visor_analysis *analysis, visor_error *err) {
  visor_analyze_options options = visor_views_options(base, scales, count);
  visor_code code = ml->ops->analyze(ml, image, len, &options, analysis, err);
  if (code == VISOR_OK && averaged) visor_views_average(analysis, options.view_count);
  return code;
}

visor_code visor_views_analyze_catalogue(visor_ml *ml, const void *image, size_t len,
                                         int whole_only, visor_analysis *analysis,
                                         visor_error *err) {
  const visor_pipeline_settings *settings = visor_pipeline_settings_get();
  visor_analyze_options base = settings->index;
  if (whole_only) base.max_regions = 1;
  return visor_views_analyze(ml, image, len, &base, settings->index_views,
                             settings->index_view_count, settings->index_views_averaged, analysis,
                             err);
}

visor_code visor_views_embed_whole_image(visor_app *app, const void *image, size_t len,
                                         float **embedding, visor_error *err) {
  *embedding = NULL;
  visor_analysis analysis = {0};
  visor_code code = visor_views_analyze_catalogue(app->ml, image, len, 1, &analysis, err);
  if (code == VISOR_OK && (analysis.region_count == 0 || !analysis.regions[0].embedding))
    code = visor_error_set(err, VISOR_ERR_INTERNAL, "the analysis has no whole-image embedding");
  if (code == VISOR_OK) {
    *embedding = analysis.regions[0].embedding;
    analysis.regions[0].embedding = NULL;
  }
  visor_analysis_free(&analysis);
  return code;
}
