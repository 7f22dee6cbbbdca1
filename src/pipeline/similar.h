/* similar.h: products similar to a catalogue product, from the product's own vectors (no
 * upload, no model run): each of its live regions' stored vectors is a query region of the
 * ranking (ranking.h), whole-image regions voting; the product itself is left out. */
#ifndef VISOR_PIPELINE_SIMILAR_H
#define VISOR_PIPELINE_SIMILAR_H

#include "app/app.h"
#include "pipeline/ranking.h"

/* Fills ranking with up to k products similar to product_id under filter (its overall
 * results, ordinal VISOR_SEARCH_OVERALL). VISOR_ERR_NOT_FOUND for an unknown product;
 * VISOR_ERR_UNAVAILABLE when this process has no vector store; a product with no indexed
 * region yet answers no results. */
visor_code visor_similar_products(visor_app *app, const char *product_id,
                                  const visor_vector_filter *filter, int k, visor_ranking *ranking,
                                  visor_error *err);

#endif
