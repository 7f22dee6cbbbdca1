/* settings.h: the retrieval settings of the pipelines: how catalogue and query images are
 * analyzed (detector threshold, regions per image) and how the ranking turns crop
 * similarities into product scores. One process-wide set, read by the index and search
 * tasks; set it before the workers start (visor eval sets it for its experiments). The
 * defaults are the configuration docs/EVALUATION.md measured best. */
#ifndef VISOR_PIPELINE_SETTINGS_H
#define VISOR_PIPELINE_SETTINGS_H

#include <stddef.h>

#include "ml/ml.h"

#define VISOR_PIPELINE_MAX_VIEWS VISOR_ML_MAX_VIEWS

typedef struct visor_pipeline_settings {
  visor_analyze_options index; /* catalogue images (max_regions 1 = whole image only) */
  visor_analyze_options query; /* query images */
  /* Overall ranking: 0 = only the whole query image votes; 1 = every query region votes
   * (a product's score is its best over regions, detections weighted by detection_weight). */
  int overall_all_regions;
  float detection_weight; /* 0..1, multiplies the similarity of a detected query region */
  /* A product's score for one query region: the mean of its best product_top_n crop
   * similarities (1 = the best crop only), so products with several matching reference
   * images rank higher. */
  int product_top_n;
  /* Views: centred crops of an image, as a fraction of its width and height (e.g. 0.7).
   * A query image's views are embedded and averaged with the whole image's embedding
   * (test-time augmentation). A catalogue image's views are averaged the same way when
   * index_views_averaged (so catalogue, query and a projection's fit describe an image
   * alike), else indexed as extra regions (more ways to match a close-up photo). */
  float index_views[VISOR_PIPELINE_MAX_VIEWS];
  size_t index_view_count;
  int index_views_averaged;
  float query_views[VISOR_PIPELINE_MAX_VIEWS];
  size_t query_view_count;
  /* Rejected matches (pipeline/negatives.h): the similarity to a product's negative
   * reference above which it is demoted, and the demotion of an identical query. */
  float negative_threshold;
  float negative_penalty;
} visor_pipeline_settings;

void visor_pipeline_settings_default(visor_pipeline_settings *settings);
/* The settings in use (the defaults until visor_pipeline_settings_set). */
const visor_pipeline_settings *visor_pipeline_settings_get(void);
/* Replaces the settings; call before workers start (not synchronised with running tasks). */
void visor_pipeline_settings_set(const visor_pipeline_settings *settings);

#endif
