/* views.c: centred-crop views of an image for retrieval (see views.h). */
#include "pipeline/views.h"

#include <math.h>
#include <stdlib.h>

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
