/* route_util.c: shared route helpers (see route_util.h). */
#include "api/route_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/admin_tokens.h"
#include "core/log.h"
#include "core/uuid.h"
#include "jobs/job_state.h"
#include "service/crops.h"

const char *visor_route_id(visor_http_request *req, visor_http_response *res, const char *name) {
  const char *id = visor_http_param(req, name);
  if (!visor_uuid_valid(id)) {
    visor_http_respond_error(res, 400, "invalid_argument", "%s '%.64s' is not a valid UUID", name,
                             id ? id : "");
    return NULL;
  }
  /* UUIDs are stored in lower case; accept either case. The value is the request's own
   * decoded copy, so it may be changed in place. */
  for (char *c = (char *)id; *c; c++)
    if (*c >= 'A' && *c <= 'F') *c = (char)(*c - 'A' + 'a');
  return id;
}

int visor_route_int_query(visor_http_request *req, visor_http_response *res, const char *name,
                          int64_t def, int64_t min, int64_t max, int64_t *value) {
  const char *text = visor_http_query(req, name);
  *value = def;
  if (!text) return 1;
  char *end = NULL;
  errno = 0;
  long long parsed = strtoll(text, &end, 10);
  if (!*text || errno || *end || parsed < min || parsed > max) {
    visor_http_respond_error(res, 400, "invalid_argument",
                             "query parameter '%s' must be an integer from %lld to %lld", name,
                             (long long)min, (long long)max);
    return 0;
  }
  *value = parsed;
  return 1;
}

int visor_route_paging(visor_http_request *req, visor_http_response *res, int64_t def, int64_t max,
                       int64_t *limit, int64_t *offset) {
  return visor_route_int_query(req, res, "limit", def, 1, max, limit) &&
         visor_route_int_query(req, res, "offset", 0, 0, INT64_MAX / 2, offset);
}

void visor_route_fail(visor_http_response *res, const visor_error *err) {
  if (visor_code_http_status(err->code) >= 500) visor_log_error("request failed: %s", err->message);
  visor_http_respond_visor_error(res, err);
}

visor_db_conn *visor_route_conn(visor_app *app, visor_http_response *res) {
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(app->db, &err);
  if (!conn) visor_route_fail(res, &err);
  return conn;
}

visor_db_conn *visor_route_id_conn(visor_app *app, visor_http_request *req,
                                   visor_http_response *res, const char **id) {
  *id = visor_route_id(req, res, "id");
  return *id ? visor_route_conn(app, res) : NULL;
}

json_t *visor_route_page(json_t *items, int64_t total, int64_t limit, int64_t offset) {
  return json_pack("{s:o, s:I, s:I, s:I}", "items", items, "total", (json_int_t)total, "limit",
                   (json_int_t)limit, "offset", (json_int_t)offset);
}

int visor_route_admin_actor(visor_app *app, visor_http_request *req, visor_http_response *res,
                            char actor[VISOR_ROUTE_ACTOR_SIZE]) {
  actor[0] = '\0';
  visor_admin_tokens tokens;
  visor_error err = {0};
  if (visor_admin_tokens_parse(app->config->admin_token, app->config->admin_tokens, &tokens,
                               &err) != VISOR_OK) {
    visor_route_fail(res, &err); /* checked at start: cannot happen */
    return 0;
  }
  if (tokens.count == 0) {
    visor_http_respond_error(res, 503, "admin_disabled",
                             "admin routes are off: set VISOR_ADMIN_TOKEN or VISOR_ADMIN_TOKENS");
    return 0;
  }
  const char *header = visor_http_header(req, "Authorization");
  if (!header || strncmp(header, "Bearer ", 7) != 0 || !header[7]) {
    visor_admin_tokens_free(&tokens);
    visor_http_set_header(res, "WWW-Authenticate", "Bearer");
    visor_http_respond_error(res, 401, "unauthorized",
                             "admin routes need 'Authorization: Bearer <admin token>'");
    return 0;
  }
  const char *given = header + 7;
  long match = visor_admin_tokens_match(&tokens, given, strlen(given));
  if (match < 0) {
    visor_admin_tokens_free(&tokens);
    visor_http_respond_error(res, 403, "forbidden", "the admin token is wrong");
    return 0;
  }
  const char *named = visor_http_header(req, "X-Visor-Actor");
  if (named && !visor_admin_actor_valid(named)) {
    visor_admin_tokens_free(&tokens);
    visor_http_respond_error(res, 400, "invalid_argument",
                             "header X-Visor-Actor must be 1-%d printable characters without '/'",
                             VISOR_ADMIN_ACTOR_MAX);
    return 0;
  }
  if (named)
    snprintf(actor, VISOR_ROUTE_ACTOR_SIZE, "%s/%s", tokens.items[match].name, named);
  else
    snprintf(actor, VISOR_ROUTE_ACTOR_SIZE, "%s", tokens.items[match].name);
  visor_admin_tokens_free(&tokens);
  return 1;
}

int visor_route_admin(visor_app *app, visor_http_request *req, visor_http_response *res) {
  char actor[VISOR_ROUTE_ACTOR_SIZE];
  return visor_route_admin_actor(app, req, res, actor);
}

void visor_api_set_crop_url(json_t *object, const char *key_of_id) {
  const char *id = json_string_value(json_object_get(object, key_of_id));
  if (!id) return;
  char url[128];
  snprintf(url, sizeof url, "/api/v1/regions/%s/crop", id);
  json_object_set_new(object, "crop_url", json_string(url));
}

void visor_api_set_crop_urls(json_t *array, const char *key_of_id) {
  size_t index;
  json_t *object;
  json_array_foreach(array, index, object) visor_api_set_crop_url(object, key_of_id);
}

void visor_api_set_region_crop_url(json_t *region) {
  const char *id = json_string_value(json_object_get(region, "id"));
  json_t *box = json_object_get(region, "box");
  if (!id) return;
  if (!json_is_object(box)) {
    visor_api_set_crop_url(region, "id");
    return;
  }
  unsigned version = visor_crop_box_version(
      json_number_value(json_object_get(box, "x")), json_number_value(json_object_get(box, "y")),
      json_number_value(json_object_get(box, "w")), json_number_value(json_object_get(box, "h")));
  char url[128];
  snprintf(url, sizeof url, "/api/v1/regions/%s/crop?v=%08x", id, version);
  json_object_set_new(region, "crop_url", json_string(url));
}

void visor_api_set_region_crop_urls(json_t *regions) {
  size_t index;
  json_t *region;
  json_array_foreach(regions, index, region) visor_api_set_region_crop_url(region);
}

#define CLIENT_RETRY_AFTER_S 5 /* a queued task takes seconds; ask again after a few */

int visor_route_client_admit(visor_app *app, visor_http_request *req, visor_http_response *res,
                             size_t new_jobs) {
  long cap = app->config->client_jobs;
  const char *client = visor_http_client_ip(req);
  if (cap <= 0 || new_jobs == 0 || !client) return 1;
  visor_error err = {0};
  int64_t active = 0;
  if (visor_jobs_count_for_client(app->db, client, &active, &err) != VISOR_OK) {
    visor_route_fail(res, &err);
    return 0;
  }
  if (active + (int64_t)new_jobs <= cap) return 1;
  char seconds[16];
  snprintf(seconds, sizeof seconds, "%d", CLIENT_RETRY_AFTER_S);
  visor_http_set_header(res, "Retry-After", seconds);
  visor_http_respond_error(res, 429, "too_many_jobs",
                           "%s has %lld index and search jobs queued or running and this request "
                           "adds %zu; the limit is %ld per client: retry when some have finished",
                           client, (long long)active, new_jobs, cap);
  return 0;
}

visor_code visor_route_tag_job(visor_http_request *req, visor_db_conn *conn, const char *job_id,
                               visor_error *err) {
  const char *client = visor_http_client_ip(req);
  return client && *client ? visor_jobs_set_client(conn, job_id, client, err) : VISOR_OK;
}
