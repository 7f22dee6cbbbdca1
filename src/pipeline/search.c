/* search.c: the search pipeline (task kind "search"): fetch the query image, analyze it,
 * and for every detected region (whole image first) ask the vector store for the nearest
 * catalogue crops under the caller's filters and filter expression (applied inside the
 * index), keep each product's best crop (or every crop for group "none"), rank the page of k
 * after `offset` per region and overall, and save the results. A search of a drawn box
 * analyzes that region alone (no detector). Products deleted since they were indexed are
 * skipped. A task whose payload asks for similar products runs those instead (similar.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "ml/wire.h"
#include "pipeline/pipeline.h"
#include "pipeline/pipeline_util.h"
#include "pipeline/ranking.h"
#include "pipeline/similar.h"
#include "store/searches.h"

/* Reads the search's filters: {"categories": [...], "labels": ["k=v", ...], "expression":
 * "..."} (the expression was checked by the API; a stored one that no longer parses fails the
 * search with the parser's message). */
typedef struct search_filter {
  const char **categories;
  size_t category_count;
  const char **labels;
  size_t label_count;
  visor_filter_expr *expr;
} search_filter;

static visor_code read_filter(const json_t *filters, search_filter *filter, visor_error *err) {
  const char *expression = json_string_value(json_object_get(filters, "expression"));
  if (expression) {
    visor_code code =
        visor_filter_parse(expression, VISOR_FILTER_FIELDS_SEARCH, &filter->expr, err);
    if (code != VISOR_OK) return code;
  }
  json_t *categories = json_object_get(filters, "categories"),
         *labels = json_object_get(filters, "labels");
  filter->category_count = json_array_size(categories);
  filter->label_count = json_array_size(labels);
  filter->categories = calloc(filter->category_count + 1, sizeof *filter->categories);
  filter->labels = calloc(filter->label_count + 1, sizeof *filter->labels);
  for (size_t i = 0; filter->categories && i < filter->category_count; i++)
    filter->categories[i] = json_string_value(json_array_get(categories, i));
  for (size_t i = 0; filter->labels && i < filter->label_count; i++)
    filter->labels[i] = json_string_value(json_array_get(labels, i));
  if (!filter->categories || !filter->labels)
    return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory reading the filters");
  return VISOR_OK;
}

static visor_code set_status(visor_app *app, const char *search_id, const char *status,
                             const char *error, double duration_ms) {
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(app->db, &err);
  if (!conn) return err.code;
  visor_code code = visor_search_set_status(conn, search_id, status, error, duration_ms, &err);
  visor_db_release(conn);
  return code;
}

static visor_code run_search(void *ctx, visor_job_run *run, visor_error *err) {
  visor_app *app = ctx;
  double started = visor_monotonic_s();
  json_t *payload = NULL, *search = NULL;
  const char *search_id = NULL;
  void *bytes = NULL;
  size_t len = 0;
  visor_analysis analysis = {0};
  search_filter filter = {0};
  visor_ranking ranking = {0};
  visor_code code = visor_pipeline_payload(app, run, &payload, err);
  json_t *similar = json_object_get(payload, "similar");
  if (code == VISOR_OK && json_is_object(similar)) { /* similar products, asked by `visor api` */
    code = visor_similar_run_task(app, run, similar, err);
    json_decref(payload);
    return code;
  }
  if (code == VISOR_OK) code = visor_pipeline_payload_id(payload, "search_id", &search_id, err);
  visor_db_conn *conn = code == VISOR_OK ? visor_db_acquire(app->db, err) : NULL;
  if (code == VISOR_OK && !conn) code = visor_db_acquire_failed(err);
  if (code == VISOR_OK) code = visor_search_load(conn, search_id, &search, err);
  if (code == VISOR_OK) code = visor_search_set_status(conn, search_id, "running", NULL, 0, err);
  visor_db_release(conn);
  if (code == VISOR_OK)
    code = visor_blob_get(app->blobs, json_string_value(json_object_get(search, "object_key")), 0,
                          &bytes, &len, err);
  json_t *box = json_object_get(search, "box");
  if (code == VISOR_OK && json_is_object(box)) {
    visor_box region = {(float)json_number_value(json_object_get(box, "x")),
                        (float)json_number_value(json_object_get(box, "y")),
                        (float)json_number_value(json_object_get(box, "w")),
                        (float)json_number_value(json_object_get(box, "h"))};
    code = visor_analyze_query_box(
        app, bytes, len, (int)json_integer_value(json_object_get(search, "width")),
        (int)json_integer_value(json_object_get(search, "height")), region, &analysis, err);
  } else if (code == VISOR_OK) {
    code = visor_analyze_query(app, bytes, len, &analysis, err);
  }
  if (code == VISOR_OK) code = read_filter(json_object_get(search, "filters"), &filter, err);
  if (code == VISOR_OK) {
    visor_vector_filter vector_filter = {.categories = filter.categories,
                                         .category_count = filter.category_count,
                                         .labels = filter.labels,
                                         .label_count = filter.label_count,
                                         .model = app->embedder_model,
                                         .expr = filter.expr};
    int k = (int)json_integer_value(json_object_get(search, "k"));
    int offset = (int)json_integer_value(json_object_get(search, "offset"));
    const char *group = json_string_value(json_object_get(search, "group"));
    int raw_crops = group && strcmp(group, "none") == 0;
    code = visor_rank_page(app, &analysis, &vector_filter, k, offset, raw_crops, &ranking, err);
  }
  /* Each region keeps its query embedding: an admin's "wrong match" keeps it as a negative
   * reference of the product (service/feedback.h). */
  char **embeddings = calloc(ranking.region_count + 1, sizeof *embeddings);
  if (code == VISOR_OK && !embeddings)
    code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory keeping query embeddings");
  for (size_t r = 0; code == VISOR_OK && r < ranking.region_count && r < analysis.region_count;
       r++) {
    const float *embedding = analysis.regions[r].embedding;
    if (embedding && (embeddings[r] = visor_base64_encode(embedding, analysis.dim * sizeof(float))))
      ranking.regions[r].embedding = embeddings[r];
  }
  if (code == VISOR_OK) {
    conn = visor_db_acquire(app->db, err);
    if (!conn) code = visor_db_acquire_failed(err);
  }
  if (code == VISOR_OK) {
    code = visor_db_begin(conn, err);
    if (code == VISOR_OK)
      code = visor_search_save(conn, search_id, ranking.regions, ranking.region_count,
                               ranking.results, ranking.result_count, err);
    if (code == VISOR_OK)
      code = visor_search_set_status(conn, search_id, "done", NULL,
                                     (visor_monotonic_s() - started) * 1000, err);
    if (code == VISOR_OK)
      code = visor_db_commit(conn, err);
    else
      visor_db_rollback(conn);
    visor_db_release(conn);
  }
  /* A search that cannot succeed is failed now; others are retried by the worker. */
  if (code != VISOR_OK && search_id &&
      (code == VISOR_ERR_INVALID || code == VISOR_ERR_UNSUPPORTED || code == VISOR_ERR_TOO_LARGE ||
       code == VISOR_ERR_NOT_FOUND || visor_job_run_is_last_attempt(run)))
    set_status(app, search_id, "failed", err->message, (visor_monotonic_s() - started) * 1000);
  visor_app_signal(app);
  for (size_t r = 0; embeddings && r < ranking.region_count; r++)
    free(embeddings[r]);
  free(embeddings);
  visor_ranking_free(&ranking);
  free(filter.categories);
  free(filter.labels);
  visor_filter_free(filter.expr);
  visor_analysis_free(&analysis);
  free(bytes);
  json_decref(search);
  json_decref(payload);
  return code;
}

visor_code visor_pipeline_register_search(visor_app *app, visor_worker_pool *pool,
                                          visor_error *err) {
  return visor_worker_pool_register(pool, "search", run_search, app, err);
}
