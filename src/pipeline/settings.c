/* settings.c: the process-wide retrieval settings of the pipelines (see settings.h). */
#include "pipeline/settings.h"

#include "pipeline/negatives.h"

/* The measured best configuration (docs/EVALUATION.md): catalogue images indexed as the
 * whole image plus the detector's boxes; an image's whole-image embedding, catalogue and
 * query alike, the mean of the whole image and its centred 80% and 60% views; a query ranked
 * by its whole image; a product scored by its best crop. */
/* clang-format off */
#define DEFAULT_SETTINGS {                                      \
    .index = {.min_score = 0, .max_regions = 0},                \
    .query = {.min_score = 0, .max_regions = 0},                \
    .overall_all_regions = 0,                                   \
    .detection_weight = 1.0f,                                   \
    .product_top_n = 1,                                         \
    .index_views = {0.8f, 0.6f},                                \
    .index_view_count = 2,                                      \
    .index_views_averaged = 1,                                  \
    .query_views = {0.8f, 0.6f},                                \
    .query_view_count = 2,                                      \
    .negative_threshold = VISOR_NEGATIVE_THRESHOLD,             \
    .negative_penalty = VISOR_NEGATIVE_PENALTY,                 \
  }
/* clang-format on */

static const visor_pipeline_settings defaults = DEFAULT_SETTINGS;
static visor_pipeline_settings current = DEFAULT_SETTINGS;

void visor_pipeline_settings_default(visor_pipeline_settings *settings) {
  *settings = defaults;
}

const visor_pipeline_settings *visor_pipeline_settings_get(void) {
  return &current;
}

void visor_pipeline_settings_set(const visor_pipeline_settings *settings) {
  current = *settings;
}
