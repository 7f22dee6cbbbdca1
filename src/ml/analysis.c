/* analysis.c: releasing what an analysis holds (region array and embeddings). */
#include <stdlib.h>
#include <string.h>

#include "ml/ml.h"

void visor_analysis_free(visor_analysis *analysis) {
  if (!analysis) return;
  for (size_t i = 0; i < analysis->region_count; i++)
    free(analysis->regions[i].embedding);
  free(analysis->regions);
  analysis->regions = NULL;
  analysis->region_count = 0;
}
