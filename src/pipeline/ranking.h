/* ranking.h: turns the regions of an analyzed query image into ranked products: k-NN of
 * each region's embedding in the vector store (with the filter), the best crop per
 * product, the top k products per region, and an overall ranking across regions. */
#ifndef VISOR_PIPELINE_RANKING_H
#define VISOR_PIPELINE_RANKING_H

#include "app/app.h"
#include "ml/ml.h"
#include "store/searches.h"
#include "vector/vector.h"

typedef struct visor_ranked_id {
  char product_id[64];
  char region_id[64];
} visor_ranked_id;

typedef struct visor_ranking {
  visor_search_region_record *regions; /* borrows label strings from the analysis */
  size_t region_count;
  visor_search_result_record *results; /* per region, then overall (ordinal -1) */
  visor_ranked_id *ids;                /* owns the strings results point at */
  size_t result_count;
} visor_ranking;

/* Analyzes a query image as the search pipeline does: ML analyze with the pipeline's query
 * settings, then the query views averaged in (settings.h). */
visor_code visor_analyze_query(visor_app *app, const void *image, size_t len,
                               visor_analysis *analysis, visor_error *err);

/* Analyzes one region of a query image (a box the shopper drew; width x height is the
 * upright original): no detector, one region, its embedding averaged with the query views
 * of the box, as visor_analyze_query does for the whole image. */
visor_code visor_analyze_query_box(visor_app *app, const void *image, size_t len, int width,
                                   int height, visor_box box, visor_analysis *analysis,
                                   visor_error *err);

/* Ranks with the current catalogue projection (pipeline/tuned.h) when there is one. */
visor_code visor_rank_products(visor_app *app, const visor_analysis *analysis,
                               const visor_vector_filter *filter, int k, visor_ranking *ranking,
                               visor_error *err);
/* As visor_rank_products with the given projection version (tuned.h; NULL = raw cosine)
 * instead of the current one. */
struct visor_tuned_version;
visor_code visor_rank_products_with(visor_app *app, const struct visor_tuned_version *version,
                                    const visor_analysis *analysis,
                                    const visor_vector_filter *filter, int k,
                                    visor_ranking *ranking, visor_error *err);
/* The page of k results after the first `offset` (ranks offset + 1 ...). raw_crops: every
 * matching crop is its own result (a product may come several times) instead of one entry
 * per product with its best crop. visor_rank_products is the first page, grouped. */
visor_code visor_rank_page(visor_app *app, const visor_analysis *analysis,
                           const visor_vector_filter *filter, int k, int offset, int raw_crops,
                           visor_ranking *ranking, visor_error *err);
void visor_ranking_free(visor_ranking *ranking);

#endif
