/* routes_reindex.c: re-index runs under /api/v1/admin/reindex: start one (a product, a
 * category, the stale images or all; 202 with the run), follow one, list recent ones
 * with the stale counts under the current embedder. Admin token required; starting a run
 * is audited (action "reindex"). The work is service/reindex.c and pipeline/reindex.c. */
#include <stdio.h>
#include <string.h>

#include "api/routes.h"
#include "api/validate.h"
#include "service/reindex.h"
#include "store/reindex.h"

#define RUNS_PAGE_DEFAULT 20
#define RUNS_PAGE_MAX 100

static const visor_field_rule reindex_rules[] = {
    {"scope", VISOR_FIELD_STRING, 1, 1, 16, 0, 0, NULL, 0},
    {"product_id", VISOR_FIELD_STRING, 0, 36, 36, 0, 0, NULL, 0},
    {"category", VISOR_FIELD_STRING, 0, 1, 100, 0, 0, NULL, 0},
};

static void lower_case(char *text) {
  for (char *c = text; c && *c; c++)
    if (*c >= 'A' && *c <= 'F') *c = (char)(*c - 'A' + 'a');
}

static void start_run(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  char actor[VISOR_ROUTE_ACTOR_SIZE];
  if (!visor_route_admin_actor(app, req, res, actor)) return;
  json_t *body = visor_http_json_body(req, res);
  if (!body) return;
  visor_error err = {0};
  if (!json_is_object(body))
    visor_error_set(&err, VISOR_ERR_INVALID, "the body must be a JSON object");
  else
    visor_validate_object(body, reindex_rules, sizeof reindex_rules / sizeof reindex_rules[0], 0,
                          &err);
  if (err.code != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  visor_reindex_request request = {
      .scope = json_string_value(json_object_get(body, "scope")),
      .product_id = json_string_value(json_object_get(body, "product_id")),
      .category = json_string_value(json_object_get(body, "category"))};
  lower_case((char *)request.product_id);
  visor_correction_who who = {.actor = actor, .request_id = visor_http_request_id(req)};
  json_t *run = NULL;
  if (visor_reindex_start(app, &who, &request, &run, &err) != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  visor_http_respond_json(res, 202, run);
}

static void get_run(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  char actor[VISOR_ROUTE_ACTOR_SIZE];
  if (!visor_route_admin_actor(app, req, res, actor)) return;
  const char *id = NULL;
  visor_db_conn *conn = visor_route_id_conn(app, req, res, &id);
  if (!conn) return;
  json_t *run = NULL;
  visor_error err = {0};
  visor_code code = visor_reindex_run_get(conn, id, &run, &err);
  visor_db_release(conn);
  if (code != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  visor_http_respond_json(res, 200, run);
}

static void list_runs(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  char actor[VISOR_ROUTE_ACTOR_SIZE];
  if (!visor_route_admin_actor(app, req, res, actor)) return;
  int64_t limit = 0, offset = 0, total = 0;
  if (!visor_route_paging(req, res, RUNS_PAGE_DEFAULT, RUNS_PAGE_MAX, &limit, &offset)) return;
  visor_db_conn *conn = visor_route_conn(app, res);
  if (!conn) return;
  json_t *runs = NULL, *stale = NULL;
  visor_error err = {0};
  visor_code code = visor_reindex_run_list(conn, limit, offset, &runs, &total, &err);
  if (code == VISOR_OK) code = visor_reindex_stale_summary(app, conn, &stale, &err);
  visor_db_release(conn);
  if (code != VISOR_OK) {
    json_decref(runs);
    visor_route_fail(res, &err);
    return;
  }
  json_t *page = visor_route_page(runs, total, limit, offset);
  json_object_set_new(page, "stale", stale);
  visor_http_respond_json(res, 200, page);
}

visor_code visor_api_register_reindex(visor_http_server *server, visor_app *app, visor_error *err) {
  visor_code code =
      visor_http_route(server, "POST", "/api/v1/admin/reindex", start_run, app, NULL, err);
  if (code == VISOR_OK)
    code = visor_http_route(server, "GET", "/api/v1/admin/reindex", list_runs, app, NULL, err);
  if (code == VISOR_OK)
    code = visor_http_route(server, "GET", "/api/v1/admin/reindex/{id}", get_run, app, NULL, err);
  return code;
}
