/* similar.c: similar products from a product's stored vectors (see similar.h). */
#include "pipeline/similar.h"

#include <stdlib.h>
#include <string.h>

#include "core/filter_expr.h"
#include "jobs/job_state.h"
#include "store/catalog.h"
#include "store/regions.h"

/* The product's live regions with their stored vectors, as an analysis the ranking takes. */
static visor_code load_product_regions(visor_app *app, const char *product_id,
                                       visor_analysis *analysis, visor_error *err) {
  memset(analysis, 0, sizeof *analysis);
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  json_t *product = NULL, *regions = NULL;
  visor_code code = visor_product_get(conn, product_id, &product, err);
  if (code == VISOR_OK) code = visor_region_vectors_of_product(conn, product_id, &regions, err);
  visor_db_release(conn);
  json_decref(product);
  if (code != VISOR_OK) return code;
  size_t count = json_array_size(regions), dim = app->vectors->dim;
  analysis->regions = calloc(count ? count : 1, sizeof *analysis->regions);
  if (!analysis->regions) code = visor_error_set(err, VISOR_ERR_NOMEM, "no memory for regions");
  analysis->dim = dim;
  for (size_t i = 0; code == VISOR_OK && i < count; i++) {
    json_t *row = json_array_get(regions, i);
    visor_region *region = &analysis->regions[analysis->region_count];
    if (!(region->embedding = malloc(dim * sizeof *region->embedding))) {
      code = visor_error_set(err, VISOR_ERR_NOMEM, "no memory for a vector");
      break;
    }
    visor_error missing = {0};
    const char *vector_id = json_string_value(json_object_get(row, "vector_id"));
    visor_code got = app->vectors->ops->get(app->vectors, vector_id, region->embedding, &missing);
    if (got == VISOR_ERR_NOT_FOUND) { /* being re-indexed: its new vector is not there yet */
      free(region->embedding);
      region->embedding = NULL;
      continue;
    }
    if (got != VISOR_OK) {
      free(region->embedding);
      region->embedding = NULL;
      code = visor_error_set(err, got, "%s", missing.message);
      break;
    }
    region->whole_image = (int)json_integer_value(json_object_get(row, "whole_image"));
    analysis->region_count++;
  }
  json_decref(regions);
  if (code != VISOR_OK) visor_analysis_free(analysis);
  return code;
}

visor_code visor_similar_products(visor_app *app, const char *product_id,
                                  const visor_vector_filter *filter, int k, visor_ranking *ranking,
                                  visor_error *err) {
  memset(ranking, 0, sizeof *ranking);
  if (!app->vectors || !app->vectors->ops->get)
    return visor_error_set(err, VISOR_ERR_UNAVAILABLE,
                           "similar products need the vector store, which this process has not");
  visor_analysis analysis;
  visor_code code = load_product_regions(app, product_id, &analysis, err);
  if (code != VISOR_OK) return code;
  /* One more than asked: the product itself, found first, is dropped below. */
  if (analysis.region_count)
    code = visor_rank_products(app, &analysis, filter, k + 1, ranking, err);
  visor_analysis_free(&analysis);
  if (code != VISOR_OK) return code;
  size_t kept = 0;
  int rank = 0;
  for (size_t i = 0; i < ranking->result_count; i++) {
    visor_search_result_record result = ranking->results[i];
    if (result.ordinal != VISOR_SEARCH_OVERALL || strcmp(result.product_id, product_id) == 0 ||
        rank >= k)
      continue;
    result.rank = ++rank;
    ranking->results[kept++] = result;
  }
  ranking->result_count = kept;
  return VISOR_OK;
}

visor_code visor_similar_results_json(const visor_ranking *ranking, json_t **results,
                                      visor_error *err) {
  *results = json_array();
  for (size_t i = 0; *results && i < ranking->result_count; i++) {
    const visor_search_result_record *result = &ranking->results[i];
    if (json_array_append_new(*results,
                              json_pack("{s:i, s:f, s:s, s:s}", "rank", result->rank, "score",
                                        result->score, "product_id", result->product_id,
                                        "region_id", result->region_id)) != 0) {
      json_decref(*results);
      *results = NULL;
    }
  }
  return *results
             ? VISOR_OK
             : visor_error_set(err, VISOR_ERR_NOMEM, "similar products: no memory for the results");
}

visor_code visor_similar_run_task(visor_app *app, visor_job_run *run, const json_t *request,
                                  visor_error *err) {
  const char *product_id = json_string_value(json_object_get(request, "product_id"));
  const char *category = json_string_value(json_object_get(request, "category"));
  const char *label = json_string_value(json_object_get(request, "label"));
  const char *expression = json_string_value(json_object_get(request, "filter"));
  json_int_t k = json_integer_value(json_object_get(request, "k"));
  if (!product_id || k < 1 || k > VISOR_SIMILAR_MAX_K)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "similar task: the request needs a product_id and k 1..%d",
                           VISOR_SIMILAR_MAX_K);
  visor_filter_expr *expr = NULL;
  if (expression && *expression &&
      visor_filter_parse(expression, VISOR_FILTER_FIELDS_SEARCH, &expr, err) != VISOR_OK)
    return err->code;
  const char *categories[] = {category}, *labels[] = {label};
  visor_vector_filter filter = {.categories = categories,
                                .category_count = category && *category,
                                .labels = labels,
                                .label_count = label && *label,
                                .model = app->embedder_model,
                                .expr = expr};
  visor_ranking ranking;
  json_t *results = NULL;
  char *text = NULL;
  visor_code code = visor_similar_products(app, product_id, &filter, (int)k, &ranking, err);
  if (code == VISOR_OK) code = visor_similar_results_json(&ranking, &results, err);
  if (code == VISOR_OK && !(text = json_dumps(results, JSON_COMPACT)))
    code = visor_error_set(err, VISOR_ERR_NOMEM, "similar products: no memory for the result");
  if (code == VISOR_OK)
    code = visor_jobs_set_result(app->db, visor_job_run_task(run)->id, text, err);
  free(text);
  json_decref(results);
  visor_ranking_free(&ranking);
  visor_filter_free(expr);
  return code;
}
