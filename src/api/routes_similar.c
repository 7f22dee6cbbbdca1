/* routes_similar.c: GET /api/v1/products/{id}/similar: the products most like a catalogue
 * product, found from its own stored vectors (pipeline/similar.h), under an optional
 * category, key=value label and filter expression (docs/FILTERS.md); the product itself is
 * not in the answer. A process with the vector store (`visor serve`) answers at once; one
 * without it (`visor api`) queues the request as a search-kind task for the workers and
 * parks the request until its result is there (at most SIMILAR_WAIT_S). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes.h"
#include "jobs/job_state.h"
#include "pipeline/similar.h"
#include "store/catalog.h"

/* The answer's items from the ranking's results ([{rank, score, product_id, region_id}], as
 * pipeline/similar.h gives them): each with its crop_url and the product summary. */
static visor_code similar_items(visor_app *app, const json_t *results, json_t **items,
                                visor_error *err) {
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  *items = json_array();
  visor_code code = VISOR_OK;
  size_t index;
  json_t *result;
  json_array_foreach(results, index, result) {
    const char *product_id = json_string_value(json_object_get(result, "product_id"));
    json_t *product = NULL;
    code =
        product_id ? visor_product_summary(conn, product_id, &product, err) : VISOR_ERR_NOT_FOUND;
    if (code == VISOR_ERR_NOT_FOUND) { /* deleted meanwhile */
      code = VISOR_OK;
      continue;
    }
    if (code != VISOR_OK) break;
    json_t *item = json_pack("{s:O, s:O, s:s, s:O, s:o}", "rank", json_object_get(result, "rank"),
                             "score", json_object_get(result, "score"), "product_id", product_id,
                             "region_id", json_object_get(result, "region_id"), "product", product);
    visor_api_set_crop_url(item, "region_id");
    json_array_append_new(*items, item);
  }
  visor_db_release(conn);
  if (code != VISOR_OK) {
    json_decref(*items);
    *items = NULL;
  }
  return code;
}

static void respond_similar(visor_app *app, visor_http_response *res, const char *product_id,
                            int64_t k, const json_t *results) {
  visor_error err = {0};
  json_t *items = NULL;
  if (similar_items(app, results, &items, &err) != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  visor_http_respond_json(
      res, 200,
      json_pack("{s:s, s:I, s:o}", "product_id", product_id, "k", (json_int_t)k, "items", items));
}

/* ---- queued for the workers (a process without the vector store) ---- */

#define SIMILAR_WAIT_S 30

typedef struct similar_wait {
  visor_app *app;
  char job_id[40];
  char product_id[40];
  int64_t k;
} similar_wait;

static int recheck_similar(visor_http_request *req, visor_http_response *res, void *ctx, int last) {
  (void)req;
  similar_wait *wait = ctx;
  visor_error err = {0};
  char status[16];
  char *result = NULL, *error = NULL;
  if (visor_jobs_outcome(wait->app->db, wait->job_id, status, &result, &error, &err) != VISOR_OK) {
    visor_route_fail(res, &err);
    return 1;
  }
  int answered = 1;
  json_t *results = strcmp(status, "done") == 0 && result ? json_loads(result, 0, NULL) : NULL;
  if (results) {
    respond_similar(wait->app, res, wait->product_id, wait->k, results);
  } else if (strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0) {
    /* e.g. the product was deleted meanwhile */
    int not_found = error && strstr(error, "not found");
    visor_http_respond_error(res, not_found ? 404 : 500, not_found ? "not_found" : "internal",
                             "similar products of %s: %s", wait->product_id,
                             error ? error : status);
  } else if (last) {
    visor_http_set_header(res, "Retry-After", "5");
    visor_http_respond_error(res, 503, "unavailable",
                             "similar products of %s: no worker answered within %d s (job %s)",
                             wait->product_id, SIMILAR_WAIT_S, wait->job_id);
  } else {
    answered = 0;
  }
  json_decref(results);
  free(result);
  free(error);
  return answered;
}

/* Queues the request (payload {"similar": request}) and parks until its result is there. */
static void queue_similar(visor_http_request *req, visor_http_response *res, visor_app *app,
                          const char *product_id, int64_t k, json_t *request) {
  if (!visor_route_client_admit(app, req, res, 1)) return;
  visor_error err = {0};
  similar_wait *wait = calloc(1, sizeof *wait);
  json_t *wrapped = json_pack("{s:O}", "similar", request);
  char *payload = wrapped ? json_dumps(wrapped, JSON_COMPACT) : NULL;
  json_decref(wrapped);
  visor_code code = wait && payload ? VISOR_OK
                                    : visor_error_set(&err, VISOR_ERR_NOMEM,
                                                      "similar products: no memory for the task");
  visor_db_conn *conn = code == VISOR_OK ? visor_db_acquire(app->db, &err) : NULL;
  if (code == VISOR_OK && !conn) code = err.code;
  json_t *product = NULL; /* an unknown product is a 404 now, not a failed task later */
  if (code == VISOR_OK) code = visor_product_summary(conn, product_id, &product, &err);
  json_decref(product);
  if (code == VISOR_OK) code = visor_db_begin(conn, &err);
  if (code == VISOR_OK) {
    code = visor_jobs_create(conn, "search", product_id, payload, app->job_attempts, wait->job_id,
                             &err);
    if (code == VISOR_OK) code = visor_route_tag_job(req, conn, wait->job_id, &err);
    if (code == VISOR_OK)
      code = visor_db_commit(conn, &err);
    else
      visor_db_rollback(conn);
  }
  if (conn) visor_db_release(conn);
  free(payload);
  if (code != VISOR_OK) {
    free(wait);
    visor_route_fail(res, &err);
    return;
  }
  visor_app_jobs_committed(app);
  wait->app = app;
  wait->k = k;
  snprintf(wait->product_id, sizeof wait->product_id, "%s", product_id);
  visor_http_respond_later(req, res, SIMILAR_WAIT_S, 0, recheck_similar, wait, free);
}

static void similar_products(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  const char *id = visor_route_id(req, res, "id");
  int64_t k = 10;
  if (!id || !visor_route_int_query(req, res, "k", 10, 1, VISOR_SIMILAR_MAX_K, &k)) return;
  const char *category = visor_http_query(req, "category");
  const char *label = visor_http_query(req, "label");
  if (category && strlen(category) > 100) {
    visor_http_respond_error(res, 400, "invalid_argument",
                             "query parameter 'category' is longer than 100 characters");
    return;
  }
  if (label && *label && (!strchr(label, '=') || label[0] == '=' || strlen(label) > 321)) {
    visor_http_respond_error(res, 400, "invalid_argument",
                             "query parameter 'label' must look like key=value");
    return;
  }
  visor_error err = {0};
  const char *expression = visor_http_query(req, "filter");
  visor_filter_expr *expr = NULL;
  if (expression && *expression &&
      visor_filter_parse(expression, VISOR_FILTER_FIELDS_SEARCH, &expr, &err) != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  if (!app->vectors) { /* visor api: the workers have the vector store */
    visor_filter_free(expr);
    json_t *request = json_pack("{s:s, s:I}", "product_id", id, "k", (json_int_t)k);
    if (category && *category) json_object_set_new(request, "category", json_string(category));
    if (label && *label) json_object_set_new(request, "label", json_string(label));
    if (expression && *expression) json_object_set_new(request, "filter", json_string(expression));
    queue_similar(req, res, app, id, k, request);
    json_decref(request);
    return;
  }
  const char *categories[] = {category}, *labels[] = {label};
  visor_vector_filter filter = {.categories = categories,
                                .category_count = category && *category,
                                .labels = labels,
                                .label_count = label && *label,
                                .model = app->embedder_model[0] ? app->embedder_model : NULL,
                                .expr = expr};
  visor_ranking ranking;
  json_t *results = NULL;
  visor_code code = visor_similar_products(app, id, &filter, (int)k, &ranking, &err);
  if (code == VISOR_OK) code = visor_similar_results_json(&ranking, &results, &err);
  visor_ranking_free(&ranking);
  visor_filter_free(expr);
  if (code != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  respond_similar(app, res, id, k, results);
  json_decref(results);
}

visor_code visor_api_register_similar(visor_http_server *server, visor_app *app, visor_error *err) {
  return visor_http_route(server, "GET", "/api/v1/products/{id}/similar", similar_products, app,
                          NULL, err);
}
