/* views.c: centred-crop views of an image for retrieval (see views.h). */
#include "pipeline/views.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Embeds the centred crops at scales of the analyzed image into regions[count]. */
static visor_code embed_views(visor_app *app, const void *image, size_t len, const float *scales,
                              size_t count, const visor_analysis *analysis, visor_region *regions,
                              visor_error *err) {
  for (size_t i = 0; i < count; i++) {
    float scale = scales[i] > 0 && scales[i] <= 1 ? scales[i] : 1;
    float w = (float)analysis->width * scale, h = (float)analysis->height * scale;
    memset(&regions[i], 0, sizeof regions[i]);
    regions[i].box =
        (visor_box){((float)analysis->width - w) / 2, ((float)analysis->height - h) / 2, w, h};
    snprintf(regions[i].detector.name, sizeof regions[i].detector.name, "view");
  }
  return app->ml->ops->embed_boxes(app->ml, image, len, regions, count, err);
}

visor_code visor_views_add_regions(visor_app *app, const void *image, size_t len,
                                   const float *scales, size_t count, visor_analysis *analysis,
                                   visor_error *err) {
  if (!count || !analysis->region_count) return VISOR_OK;
  visor_region *regions =
      realloc(analysis->regions, (analysis->region_count + count) * sizeof *regions);
  if (!regions) return visor_error_set(err, VISOR_ERR_NOMEM, "no memory for %zu views", count);
  analysis->regions = regions;
  visor_code code =
      embed_views(app, image, len, scales, count, analysis, regions + analysis->region_count, err);
  if (code == VISOR_OK) analysis->region_count += count;
  return code;
}

visor_code visor_views_average(visor_app *app, const void *image, size_t len, const float *scales,
                               size_t count, visor_analysis *analysis, visor_error *err) {
  if (!count || !analysis->region_count || !analysis->regions[0].embedding) return VISOR_OK;
  visor_region *views = calloc(count, sizeof *views);
  if (!views) return visor_error_set(err, VISOR_ERR_NOMEM, "no memory for %zu views", count);
  visor_code code = embed_views(app, image, len, scales, count, analysis, views, err);
  if (code == VISOR_OK) {
    float *whole = analysis->regions[0].embedding;
    double norm = 0;
    for (size_t d = 0; d < analysis->dim; d++) {
      float sum = whole[d];
      for (size_t v = 0; v < count; v++)
        sum += views[v].embedding[d];
      whole[d] = sum;
      norm += (double)sum * sum;
    }
    float inverse = norm > 0 ? (float)(1.0 / sqrt(norm)) : 0;
    for (size_t d = 0; d < analysis->dim; d++)
      whole[d] *= inverse;
  }
  for (size_t v = 0; v < count; v++)
    free(views[v].embedding);
  free(views);
  return code;
}
