/* similar.h: products similar to a catalogue product, from the product's own vectors (no
 * upload, no model run): each of its live regions' stored vectors is a query region of the
 * ranking (ranking.h), whole-image regions voting; the product itself is left out. */
#ifndef VISOR_PIPELINE_SIMILAR_H
#define VISOR_PIPELINE_SIMILAR_H

#include "app/app.h"
#include "jobs/worker.h"
#include "pipeline/ranking.h"

/* The most a similar-products request may ask for. */
#define VISOR_SIMILAR_MAX_K 100

/* Fills ranking with up to k products similar to product_id under filter (its overall
 * results, ordinal VISOR_SEARCH_OVERALL). VISOR_ERR_NOT_FOUND for an unknown product;
 * VISOR_ERR_UNAVAILABLE when this process has no vector store; a product with no indexed
 * region yet answers no results. */
visor_code visor_similar_products(visor_app *app, const char *product_id,
                                  const visor_vector_filter *filter, int k, visor_ranking *ranking,
                                  visor_error *err);

/* The ranking's results as [{"rank", "score", "product_id", "region_id"}, ...]. */
visor_code visor_similar_results_json(const visor_ranking *ranking, json_t **results,
                                      visor_error *err);

/* The same as a queued task, for a process without a vector store (`visor api`): the API
 * queues a search-kind job whose payload is {"similar": REQUEST} with REQUEST
 * {"product_id", "k", "category", "label", "filter"} (the last three optional; the filter
 * an expression of core/filter_expr.h, checked by the API), and waits for it. The task runs
 * visor_similar_products and leaves the ranking as the job's result (jobs/job_state.h):
 * [{"rank", "score", "product_id", "region_id"}, ...]. */
visor_code visor_similar_run_task(visor_app *app, visor_job_run *run, const json_t *request,
                                  visor_error *err);

#endif
