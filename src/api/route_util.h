/* route_util.h: what every route handler needs: a validated id from the path, paging
 * parameters, a database connection, and error responses from visor_error. Each helper
 * responds itself when it fails and returns NULL / non-zero so the handler just returns. */
#ifndef VISOR_API_ROUTE_UTIL_H
#define VISOR_API_ROUTE_UTIL_H

#include <stdint.h>

#include "app/app.h"
#include "http/http.h"

/* The path parameter name as a UUID, or responds 400 and returns NULL. */
const char *visor_route_id(visor_http_request *req, visor_http_response *res, const char *name);
/* limit (1..max, default def) and offset (>= 0) from the query; responds 400 on bad ones. */
int visor_route_paging(visor_http_request *req, visor_http_response *res, int64_t def, int64_t max,
                       int64_t *limit, int64_t *offset);
/* An integer query parameter in [min, max] (def when absent); responds 400 when bad. */
int visor_route_int_query(visor_http_request *req, visor_http_response *res, const char *name,
                          int64_t def, int64_t min, int64_t max, int64_t *value);
visor_db_conn *visor_route_conn(visor_app *app, visor_http_response *res);
/* Both of the above: the path's {id} as a UUID into *id, and a connection. */
visor_db_conn *visor_route_id_conn(visor_app *app, visor_http_request *req,
                                   visor_http_response *res, const char **id);
void visor_route_fail(visor_http_response *res, const visor_error *err);
/* {"items": items, "total": n, "limit": l, "offset": o} (takes items). */
json_t *visor_route_page(json_t *items, int64_t total, int64_t limit, int64_t offset);
/* Admin routes: the Authorization: Bearer token must equal one of the configured admin
 * tokens (--admin-token, --admin-tokens; compared in constant time). Responds 401 (none),
 * 403 (wrong), 400 (a bad X-Visor-Actor) or 503 (no token configured) and returns 0 when
 * not allowed. */
int visor_route_admin(visor_app *app, visor_http_request *req, visor_http_response *res);
/* The same, and actor receives who acts: the token's name, or "name/ACTOR" when the
 * request has an X-Visor-Actor header (1-64 printable characters, no '/'). */
#define VISOR_ROUTE_ACTOR_SIZE 160
int visor_route_admin_actor(visor_app *app, visor_http_request *req, visor_http_response *res,
                            char actor[VISOR_ROUTE_ACTOR_SIZE]);

/* The per-client cap on queued work: when the request's client IP already has
 * config->client_jobs or more index/search jobs queued or running (counted in the
 * metadata store, so every API process sees the same count), responds 429 with
 * Retry-After and returns 0. new_jobs is how many this request would add. */
int visor_route_client_admit(visor_app *app, visor_http_request *req, visor_http_response *res,
                             size_t new_jobs);
/* Tags job_id (made on conn, in the request's transaction) with the request's client IP. */
visor_code visor_route_tag_job(visor_http_request *req, visor_db_conn *conn, const char *job_id,
                               visor_error *err);

/* Sets "crop_url" (/api/v1/regions/ID/crop) on object from its key_of_id member ("id" for
 * a region, "region_id" for a search result); does nothing when that is missing. */
void visor_api_set_crop_url(json_t *object, const char *key_of_id);
/* The same on each object of array. */
void visor_api_set_crop_urls(json_t *array, const char *key_of_id);
/* For a region object (with "id" and "box"): crop_url /api/v1/regions/ID/crop?v=VERSION,
 * VERSION naming the box (service/crops.h), so a browser that cached the crop of an old
 * box (the crop is served as immutable) asks again once the box moved. */
void visor_api_set_region_crop_url(json_t *region);
void visor_api_set_region_crop_urls(json_t *regions);

#endif
