/* routes_review.c: the admin review queue, GET /api/v1/admin/review (what the models were
 * unsure of: regions, products, searches; store/review.h says what each list holds), and
 * GET /api/v1/admin/review/labels, the labels in use, which a relabelling admin picks
 * from. Thresholds come from the configuration (--review-*) unless the query gives them. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes.h"
#include "core/clock.h"
#include "store/review.h"

#define REVIEW_PAGE_DEFAULT 20
#define REVIEW_PAGE_MAX 100
#define LABELS_DEFAULT 200
#define LABELS_MAX 1000
#define MS_PER_DAY 86400000.0

/* A number query parameter in [min, max] (def when absent); responds 400 when bad. */
static int number_query(visor_http_request *req, visor_http_response *res, const char *name,
                        double def, double min, double max, double *value) {
  const char *text = visor_http_query(req, name);
  *value = def;
  if (!text) return 1;
  char *end = NULL;
  errno = 0;
  double parsed = strtod(text, &end);
  if (!*text || errno || *end || !isfinite(parsed) || parsed < min || parsed > max) {
    visor_http_respond_error(res, 400, "invalid_argument",
                             "query parameter '%s' must be a number from %g to %g", name, min, max);
    return 0;
  }
  *value = parsed;
  return 1;
}

static void get_review(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  char actor[VISOR_ROUTE_ACTOR_SIZE];
  if (!visor_route_admin_actor(app, req, res, actor)) return;
  const char *kind_name = visor_http_query(req, "kind");
  visor_review_kind kind = VISOR_REVIEW_REGIONS;
  if (kind_name) {
    for (kind = 0; kind < VISOR_REVIEW_KIND_COUNT; kind++)
      if (strcmp(kind_name, visor_review_kind_name(kind)) == 0) break;
    if (kind == VISOR_REVIEW_KIND_COUNT) {
      visor_http_respond_error(res, 400, "invalid_argument",
                               "kind '%.40s' is not one of regions, products, searches", kind_name);
      return;
    }
  }
  const visor_config *config = app->config;
  visor_review_thresholds t = {0};
  double days = 0;
  int64_t limit = 0, offset = 0;
  if (!visor_route_paging(req, res, REVIEW_PAGE_DEFAULT, REVIEW_PAGE_MAX, &limit, &offset) ||
      !number_query(req, res, "detector_score", config->review_detector_score, 0, 1,
                    &t.detector_score) ||
      !number_query(req, res, "label_score", config->review_label_score, 0, 1, &t.label_score) ||
      !number_query(req, res, "product_score", config->review_product_score, 0, 1,
                    &t.product_score) ||
      !number_query(req, res, "search_score", config->review_search_score, -1, 1,
                    &t.search_score) ||
      !number_query(req, res, "search_days", config->review_search_days, 0, 3650, &days))
    return;
  t.search_since_ms = days > 0 ? visor_now_ms() - (int64_t)(days * MS_PER_DAY) : 0;

  visor_db_conn *conn = visor_route_conn(app, res);
  if (!conn) return;
  visor_error err = {0};
  json_t *items = NULL, *counts = json_object();
  int64_t total = 0;
  visor_code code = visor_review_list(conn, kind, &t, limit, offset, &items, &total, &err);
  for (visor_review_kind other = 0; code == VISOR_OK && other < VISOR_REVIEW_KIND_COUNT; other++) {
    int64_t n = total;
    if (other != kind) code = visor_review_count(conn, other, &t, &n, &err);
    json_object_set_new(counts, visor_review_kind_name(other), json_integer(n));
  }
  visor_db_release(conn);
  if (code != VISOR_OK) {
    json_decref(items);
    json_decref(counts);
    visor_route_fail(res, &err);
    return;
  }
  size_t i;
  json_t *item;
  json_array_foreach(items, i, item) {
    visor_api_set_crop_url(json_object_get(item, "region"), "id");
    visor_api_set_crop_urls(json_object_get(item, "results"), "region_id");
  }
  json_t *body = visor_route_page(items, total, limit, offset);
  json_object_set_new(body, "kind", json_string(visor_review_kind_name(kind)));
  json_object_set_new(body, "counts", counts);
  json_object_set_new(body, "thresholds",
                      json_pack("{s:f, s:f, s:f, s:f, s:f}", "detector_score", t.detector_score,
                                "label_score", t.label_score, "product_score", t.product_score,
                                "search_score", t.search_score, "search_days", days));
  visor_http_respond_json(res, 200, body);
}

static void get_labels(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  char actor[VISOR_ROUTE_ACTOR_SIZE];
  if (!visor_route_admin_actor(app, req, res, actor)) return;
  int64_t limit = 0;
  if (!visor_route_int_query(req, res, "limit", LABELS_DEFAULT, 1, LABELS_MAX, &limit)) return;
  visor_db_conn *conn = visor_route_conn(app, res);
  if (!conn) return;
  visor_error err = {0};
  json_t *labels = NULL;
  visor_code code = visor_review_known_labels(conn, limit, &labels, &err);
  visor_db_release(conn);
  if (code != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  visor_http_respond_json(res, 200, json_pack("{s:o}", "items", labels));
}

visor_code visor_api_register_review(visor_http_server *server, visor_app *app, visor_error *err) {
  visor_code code =
      visor_http_route(server, "GET", "/api/v1/admin/review", get_review, app, NULL, err);
  if (code == VISOR_OK)
    code =
        visor_http_route(server, "GET", "/api/v1/admin/review/labels", get_labels, app, NULL, err);
  return code;
}
