/* routes_similar.c: GET /api/v1/products/{id}/similar: the products most like a catalogue
 * product, found from its own stored vectors (pipeline/similar.h), under an optional
 * category, key=value label and filter expression (docs/FILTERS.md); the product itself is
 * not in the answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes.h"
#include "pipeline/similar.h"
#include "store/catalog.h"

#define MAX_K 100

/* The answer's items: rank, score, product_id, region_id (the best-matching crop), its
 * crop_url, and the product summary. */
static visor_code similar_items(visor_app *app, const visor_ranking *ranking, json_t **items,
                                visor_error *err) {
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return err->code;
  *items = json_array();
  visor_code code = VISOR_OK;
  for (size_t i = 0; code == VISOR_OK && i < ranking->result_count; i++) {
    const visor_search_result_record *result = &ranking->results[i];
    json_t *product = NULL;
    code = visor_product_summary(conn, result->product_id, &product, err);
    if (code == VISOR_ERR_NOT_FOUND) { /* deleted meanwhile */
      code = VISOR_OK;
      continue;
    }
    if (code != VISOR_OK) break;
    json_t *item = json_pack("{s:I, s:f, s:s, s:s, s:o}", "rank", (json_int_t)result->rank, "score",
                             result->score, "product_id", result->product_id, "region_id",
                             result->region_id, "product", product);
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

static void similar_products(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  const char *id = visor_route_id(req, res, "id");
  int64_t k = 10;
  if (!id || !visor_route_int_query(req, res, "k", 10, 1, MAX_K, &k)) return;
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
  const char *categories[] = {category}, *labels[] = {label};
  visor_vector_filter filter = {.categories = categories,
                                .category_count = category && *category,
                                .labels = labels,
                                .label_count = label && *label,
                                .model = app->embedder_model[0] ? app->embedder_model : NULL,
                                .expr = expr};
  visor_ranking ranking;
  json_t *items = NULL;
  visor_code code = visor_similar_products(app, id, &filter, (int)k, &ranking, &err);
  if (code == VISOR_OK) code = similar_items(app, &ranking, &items, &err);
  visor_ranking_free(&ranking);
  visor_filter_free(expr);
  if (code != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  visor_http_respond_json(
      res, 200, json_pack("{s:s, s:I, s:o}", "product_id", id, "k", (json_int_t)k, "items", items));
}

visor_code visor_api_register_similar(visor_http_server *server, visor_app *app, visor_error *err) {
  return visor_http_route(server, "GET", "/api/v1/products/{id}/similar", similar_products, app,
                          NULL, err);
}
