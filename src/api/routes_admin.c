/* routes_admin.c: the corrections API under /api/v1/admin/ (regions, products, merge,
 * image moves, the audit trail and undo). Each route checks the admin token first (and
 * learns who acts), validates its input, and hands the correction to the corrections
 * service (src/service/corrections.c), which applies it with its audit entry. */
#include <stdio.h>
#include <string.h>

#include "api/routes.h"
#include "api/validate.h"
#include "core/uuid.h"
#include "service/corrections.h"
#include "service/feedback.h"
#include "store/audit.h"
#include "store/regions.h"

#define AUDIT_PAGE_DEFAULT 50
#define AUDIT_PAGE_MAX 200

static const char *const audit_actions[] = {
    "region.update", "region.delete", "region.create", "product.update", "product.merge",
    "image.move",    "match.confirm", "match.reject",  "undo",           "reindex"};

/* The admin check, then the path's {id}: NULL (answered) when either fails. */
static const char *admin_id(visor_app *app, visor_http_request *req, visor_http_response *res,
                            char actor[VISOR_ROUTE_ACTOR_SIZE]) {
  if (!visor_route_admin_actor(app, req, res, actor)) return NULL;
  return visor_route_id(req, res, "id");
}

/* A validated JSON body (NULL: answered with 400). At least one field unless empty_ok. */
static json_t *admin_body(visor_http_request *req, visor_http_response *res,
                          const visor_field_rule *rules, size_t count) {
  json_t *body = visor_http_json_body(req, res);
  if (!body) return NULL;
  visor_error err = {0};
  if (!json_is_object(body)) {
    visor_error_set(&err, VISOR_ERR_INVALID, "the body must be a JSON object");
  } else if (json_object_size(body) == 0) {
    visor_error_set(&err, VISOR_ERR_INVALID, "the body names no field to change");
  } else {
    visor_validate_object(body, rules, count, 1, &err);
  }
  if (err.code != VISOR_OK) {
    visor_route_fail(res, &err);
    return NULL;
  }
  return body;
}

/* A UUID field of body (lower-cased in place), or responds 400 and returns NULL. */
static const char *body_uuid(json_t *body, const char *field, visor_http_response *res) {
  const char *text = json_string_value(json_object_get(body, field));
  if (!text || !visor_uuid_valid(text)) {
    visor_http_respond_error(res, 400, "invalid_argument", "field '%s' must be a product id (UUID)",
                             field);
    return NULL;
  }
  for (char *c = (char *)text; *c; c++)
    if (*c >= 'A' && *c <= 'F') *c = (char)(*c - 'A' + 'a');
  return text;
}

static void respond_correction(visor_http_response *res, visor_code code,
                               visor_correction_result *result, const visor_error *err) {
  if (code != VISOR_OK) {
    visor_route_fail(res, err);
    return;
  }
  json_t *body = json_pack("{s:O, s:o}", "audit", result->entry, "job_id",
                           result->job_id[0] ? json_string(result->job_id) : json_null());
  visor_correction_result_free(result);
  visor_http_respond_json(res, 200, body);
}

#define WHO(req, actor)                                                                            \
  { .actor = (actor), .request_id = visor_http_request_id(req) }

static const visor_field_rule region_rules[] = {
    {"label", VISOR_FIELD_STRING, 0, 1, 64, 0, 0, NULL, 0},
    {"is_primary", VISOR_FIELD_BOOL, 0, 0, 0, 0, 0, NULL, 0},
    {"box", VISOR_FIELD_BOX, 0, 0, 0, 0, 0, NULL, 0},
};

/* What a correction takes from its request: the path's {id}, the validated body (NULL for
 * a route without one) and the body's UUID field naming the other subject (or NULL). */
typedef struct correction_input {
  const char *id;
  const json_t *body;
  const char *other_id;
} correction_input;

/* A correction route: its body rules (none when rules is NULL), the body's UUID field the
 * correction needs (or NULL), and the corrections-service call. */
typedef struct correction_route {
  const visor_field_rule *rules;
  size_t rule_count;
  const char *uuid_field;
  visor_code (*apply)(visor_app *app, const visor_correction_who *who, const correction_input *in,
                      visor_correction_result *out, visor_error *err);
} correction_route;

/* Every correction route: admin check, {id}, body, the correction, the answer. */
static void run_correction(visor_http_request *req, visor_http_response *res, visor_app *app,
                           const correction_route *route) {
  char actor[VISOR_ROUTE_ACTOR_SIZE];
  correction_input in = {.id = admin_id(app, req, res, actor)};
  if (!in.id) return;
  if (route->rules) {
    json_t *body = admin_body(req, res, route->rules, route->rule_count);
    if (!body) return;
    in.body = body;
    if (route->uuid_field && !(in.other_id = body_uuid(body, route->uuid_field, res))) return;
  }
  visor_correction_who who = WHO(req, actor);
  visor_correction_result result;
  visor_error err = {0};
  visor_code code = route->apply(app, &who, &in, &result, &err);
  respond_correction(res, code, &result, &err);
}

static visor_code apply_region_update(visor_app *app, const visor_correction_who *who,
                                      const correction_input *in, visor_correction_result *out,
                                      visor_error *err) {
  return visor_correct_region(app, who, in->id, in->body, out, err);
}
static visor_code apply_region_create(visor_app *app, const visor_correction_who *who,
                                      const correction_input *in, visor_correction_result *out,
                                      visor_error *err) {
  return visor_create_region(app, who, in->id, in->body, out, err);
}
static visor_code apply_region_delete(visor_app *app, const visor_correction_who *who,
                                      const correction_input *in, visor_correction_result *out,
                                      visor_error *err) {
  return visor_delete_region(app, who, in->id, out, err);
}
static visor_code apply_product_update(visor_app *app, const visor_correction_who *who,
                                       const correction_input *in, visor_correction_result *out,
                                       visor_error *err) {
  return visor_correct_product(app, who, in->id, in->body, out, err);
}
static visor_code apply_merge(visor_app *app, const visor_correction_who *who,
                              const correction_input *in, visor_correction_result *out,
                              visor_error *err) {
  return visor_merge_products(app, who, in->id, in->other_id, out, err);
}
static visor_code apply_move(visor_app *app, const visor_correction_who *who,
                             const correction_input *in, visor_correction_result *out,
                             visor_error *err) {
  return visor_move_image(app, who, in->id, in->other_id, out, err);
}
static visor_code apply_undo(visor_app *app, const visor_correction_who *who,
                             const correction_input *in, visor_correction_result *out,
                             visor_error *err) {
  return visor_undo_correction(app, who, in->id, out, err);
}

static const visor_field_rule merge_rules[] = {
    {"from", VISOR_FIELD_STRING, 1, 36, 36, 0, 0, NULL, 0},
};
static const visor_field_rule move_rules[] = {
    {"product_id", VISOR_FIELD_STRING, 1, 36, 36, 0, 0, NULL, 0},
};

static void update_region(visor_http_request *req, visor_http_response *res, void *ctx) {
  const correction_route route = {region_rules, 3, NULL, apply_region_update};
  run_correction(req, res, ctx, &route);
}

/* POST /admin/images/{id}/regions: 201 with the correction and the new region. */
static void create_region(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  char actor[VISOR_ROUTE_ACTOR_SIZE];
  const char *image_id = admin_id(app, req, res, actor);
  if (!image_id) return;
  json_t *body = admin_body(req, res, region_rules, 3);
  if (!body) return;
  visor_error err = {0};
  if (!json_object_get(body, "box")) {
    visor_error_set(&err, VISOR_ERR_INVALID, "field 'box' is required");
    visor_route_fail(res, &err);
    return;
  }
  visor_correction_who who = WHO(req, actor);
  correction_input in = {.id = image_id, .body = body};
  visor_correction_result result;
  visor_code code = apply_region_create(app, &who, &in, &result, &err);
  if (code != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  json_t *region = NULL;
  visor_db_conn *conn = visor_route_conn(app, res);
  if (!conn) {
    visor_correction_result_free(&result);
    return;
  }
  code = visor_region_get(conn, json_string_value(json_object_get(result.entry, "subject_id")),
                          &region, &err);
  visor_db_release(conn);
  if (code != VISOR_OK) { /* deleted again at once: the correction stands */
    region = json_null();
  } else {
    json_object_del(region, "crop_object_key");
    visor_api_set_region_crop_url(region);
  }
  json_t *answer =
      json_pack("{s:O, s:o, s:o}", "audit", result.entry, "job_id",
                result.job_id[0] ? json_string(result.job_id) : json_null(), "region", region);
  visor_correction_result_free(&result);
  visor_http_respond_json(res, 201, answer);
}
static void delete_region(visor_http_request *req, visor_http_response *res, void *ctx) {
  const correction_route route = {NULL, 0, NULL, apply_region_delete};
  run_correction(req, res, ctx, &route);
}
static void update_product(visor_http_request *req, visor_http_response *res, void *ctx) {
  const correction_route route = {visor_product_rules, visor_product_rule_count, NULL,
                                  apply_product_update};
  run_correction(req, res, ctx, &route);
}
static void merge_products(visor_http_request *req, visor_http_response *res, void *ctx) {
  const correction_route route = {merge_rules, 1, "from", apply_merge};
  run_correction(req, res, ctx, &route);
}
static void move_image(visor_http_request *req, visor_http_response *res, void *ctx) {
  const correction_route route = {move_rules, 1, "product_id", apply_move};
  run_correction(req, res, ctx, &route);
}
static void undo(visor_http_request *req, visor_http_response *res, void *ctx) {
  const correction_route route = {NULL, 0, NULL, apply_undo};
  run_correction(req, res, ctx, &route);
}

static const visor_field_rule feedback_rules[] = {
    {"region", VISOR_FIELD_INTEGER, 1, 0, 0, 0, 1e6, NULL, 0},
    {"product_id", VISOR_FIELD_STRING, 1, 36, 36, 0, 0, NULL, 0},
    {"verdict", VISOR_FIELD_STRING, 1, 1, 16, 0, 0, NULL, 0},
};

/* POST /admin/searches/{id}/feedback {"region", "product_id", "verdict"}: confirm or
 * reject one match of a query region (service/feedback.h). */
static void search_feedback(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  char actor[VISOR_ROUTE_ACTOR_SIZE];
  const char *search_id = admin_id(app, req, res, actor);
  if (!search_id) return;
  json_t *body = admin_body(req, res, feedback_rules, 3);
  if (!body) return;
  json_t *region = json_object_get(body, "region");
  const char *verdict = json_string_value(json_object_get(body, "verdict"));
  if (!json_is_integer(region)) {
    visor_http_respond_error(res, 400, "invalid_argument",
                             "field 'region' (the query region's ordinal) is required");
    return;
  }
  if (!verdict || (strcmp(verdict, "confirm") != 0 && strcmp(verdict, "reject") != 0)) {
    visor_http_respond_error(res, 400, "invalid_argument",
                             "field 'verdict' must be \"confirm\" or \"reject\"");
    return;
  }
  const char *product_id = body_uuid(body, "product_id", res);
  if (!product_id) return;
  visor_correction_who who = WHO(req, actor);
  visor_correction_result result;
  visor_error err = {0};
  visor_code code = visor_feedback_on_search(app, &who, search_id, (int)json_integer_value(region),
                                             product_id, verdict, &result, &err);
  respond_correction(res, code, &result, &err);
}

static void get_audit(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  char actor[VISOR_ROUTE_ACTOR_SIZE];
  const char *id = admin_id(app, req, res, actor);
  if (!id) return;
  visor_db_conn *conn = visor_route_conn(app, res);
  if (!conn) return;
  json_t *entry = NULL;
  visor_error err = {0};
  visor_code code = visor_audit_get(conn, id, &entry, &err);
  visor_db_release(conn);
  if (code != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  visor_http_respond_json(res, 200, entry);
}

/* ?subject_kind= (region, product, image, reindex) and ?undone= (true, false); 0 when answered. */
static int audit_extra_filters(visor_http_request *req, visor_http_response *res,
                               visor_audit_query *query) {
  const char *kind = query->subject_kind;
  if (kind && strcmp(kind, "region") != 0 && strcmp(kind, "product") != 0 &&
      strcmp(kind, "image") != 0 && strcmp(kind, "reindex") != 0) {
    visor_http_respond_error(res, 400, "invalid_argument",
                             "subject_kind '%.40s' is not one of region, product, image, reindex",
                             kind);
    return 0;
  }
  const char *undone = visor_http_query(req, "undone");
  if (!undone) return 1;
  if (strcmp(undone, "true") == 0) {
    query->undone = VISOR_AUDIT_UNDONE;
  } else if (strcmp(undone, "false") == 0) {
    query->undone = VISOR_AUDIT_NOT_UNDONE;
  } else {
    visor_http_respond_error(res, 400, "invalid_argument", "undone '%.40s' is not true or false",
                             undone);
    return 0;
  }
  return 1;
}

static void list_audit(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  char actor[VISOR_ROUTE_ACTOR_SIZE];
  if (!visor_route_admin_actor(app, req, res, actor)) return;
  visor_audit_query query = {.action = visor_http_query(req, "action"),
                             .subject_id = visor_http_query(req, "subject_id"),
                             .actor = visor_http_query(req, "actor"),
                             .subject_kind = visor_http_query(req, "subject_kind")};
  if (!audit_extra_filters(req, res, &query)) return;
  if (!visor_route_paging(req, res, AUDIT_PAGE_DEFAULT, AUDIT_PAGE_MAX, &query.limit,
                          &query.offset))
    return;
  int known = !query.action;
  for (size_t i = 0; !known && i < sizeof audit_actions / sizeof audit_actions[0]; i++)
    known = strcmp(query.action, audit_actions[i]) == 0;
  if (!known) {
    visor_http_respond_error(
        res, 400, "invalid_argument",
        "action '%.40s' is not one of region.update, region.delete, "
        "region.create, product.update, product.merge, image.move, match.confirm, match.reject, "
        "undo, reindex",
        query.action);
    return;
  }
  char subject[40];
  if (query.subject_id) {
    if (!visor_uuid_valid(query.subject_id)) {
      visor_http_respond_error(res, 400, "invalid_argument", "subject_id '%.64s' is not a UUID",
                               query.subject_id);
      return;
    }
    size_t i = 0;
    for (; query.subject_id[i] && i < sizeof subject - 1; i++) {
      char c = query.subject_id[i];
      subject[i] = c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c;
    }
    subject[i] = '\0';
    query.subject_id = subject;
  }
  if (query.actor && (!*query.actor || strlen(query.actor) >= VISOR_ROUTE_ACTOR_SIZE)) {
    visor_http_respond_error(res, 400, "invalid_argument", "actor must be 1-%d characters",
                             VISOR_ROUTE_ACTOR_SIZE - 1);
    return;
  }
  visor_db_conn *conn = visor_route_conn(app, res);
  if (!conn) return;
  json_t *items = NULL;
  int64_t total = 0;
  visor_error err = {0};
  visor_code code = visor_audit_list(conn, &query, &items, &total, &err);
  visor_db_release(conn);
  if (code != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  visor_http_respond_json(res, 200, visor_route_page(items, total, query.limit, query.offset));
}

visor_code visor_api_register_admin(visor_http_server *server, visor_app *app, visor_error *err) {
  struct {
    const char *method, *pattern;
    visor_http_handler handler;
  } routes[] = {{"PATCH", "/api/v1/admin/regions/{id}", update_region},
                {"DELETE", "/api/v1/admin/regions/{id}", delete_region},
                {"POST", "/api/v1/admin/images/{id}/regions", create_region},
                {"PATCH", "/api/v1/admin/products/{id}", update_product},
                {"POST", "/api/v1/admin/products/{id}/merge", merge_products},
                {"POST", "/api/v1/admin/images/{id}/move", move_image},
                {"GET", "/api/v1/admin/audit", list_audit},
                {"GET", "/api/v1/admin/audit/{id}", get_audit},
                {"POST", "/api/v1/admin/audit/{id}/undo", undo},
                {"POST", "/api/v1/admin/searches/{id}/feedback", search_feedback}};
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    visor_code code = visor_http_route(server, routes[i].method, routes[i].pattern,
                                       routes[i].handler, app, NULL, err);
    if (code != VISOR_OK) return code;
  }
  return VISOR_OK;
}
