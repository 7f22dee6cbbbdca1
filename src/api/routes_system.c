/* routes_system.c: the probes (probes.c), the OpenAPI document (/api/openapi.json),
 * admin queue operations, and the web app's static files at /. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "api/routes.h"
#include "core/fsutil.h"
#include "core/metrics.h"

extern const unsigned char visor_openapi_json[]; /* generated from openapi.json */
extern const unsigned long visor_openapi_json_len;

static void openapi(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)req, (void)ctx;
  char *copy = malloc(visor_openapi_json_len);
  if (!copy) {
    visor_http_respond_error(res, 500, "out_of_memory", "out of memory");
    return;
  }
  memcpy(copy, visor_openapi_json, visor_openapi_json_len);
  visor_http_respond_bytes(res, 200, "application/json", copy, visor_openapi_json_len);
}

static void queue_stats(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  if (!visor_route_admin(app, req, res)) return;
  visor_error err = {0};
  visor_queue_counts counts;
  if (app->queue->ops->counts(app->queue, &counts, &err) != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  visor_http_respond_json(res, 200,
                          json_pack("{s:I, s:I, s:I, s:I, s:b}", "ready", (json_int_t)counts.ready,
                                    "delayed", (json_int_t)counts.delayed, "leased",
                                    (json_int_t)counts.leased, "dead", (json_int_t)counts.dead,
                                    "paused", counts.paused));
}

static void set_paused(visor_http_request *req, visor_http_response *res, visor_app *app,
                       int paused) {
  if (!visor_route_admin(app, req, res)) return;
  visor_error err = {0};
  if (app->queue->ops->set_paused(app->queue, paused, &err) != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  if (!paused) visor_app_jobs_committed(app);
  visor_http_respond_json(res, 200, json_pack("{s:b}", "paused", paused));
}

static void pause_queue(visor_http_request *req, visor_http_response *res, void *ctx) {
  set_paused(req, res, ctx, 1);
}

static void resume_queue(visor_http_request *req, visor_http_response *res, void *ctx) {
  set_paused(req, res, ctx, 0);
}

/* ---- the web app ------------------------------------------------------------------ */

static const char *static_content_type(const char *path) {
  static const struct {
    const char *ext, *type;
  } types[] = {{".html", "text/html; charset=utf-8"},
               {".js", "text/javascript"},
               {".css", "text/css"},
               {".svg", "image/svg+xml"},
               {".png", "image/png"},
               {".ico", "image/x-icon"},
               {".json", "application/json"},
               {".woff2", "font/woff2"},
               {".webmanifest", "application/manifest+json"}};
  const char *dot = strrchr(path, '.');
  for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
    if (strcmp(dot, types[i].ext) == 0) return types[i].type;
  return "application/octet-stream";
}

static void web_app(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  const char *path = visor_http_path(req);
  size_t path_len = strlen(path);
  /* Source maps stay out of production: the build may have them, the server never sends
   * them. */
  int source_map = path_len >= 4 && strcmp(path + path_len - 4, ".map") == 0;
  if (strncmp(path, "/api/", 5) == 0 || strstr(path, "..") || strchr(path, '\\') || source_map) {
    visor_http_respond_error(res, 404, "not_found", "no route for %.200s", path);
    return;
  }
  const char *root = app->config->web_dir ? app->config->web_dir : VISOR_DEFAULT_WEB_DIR;
  char file[PATH_MAX];
  const char *last_segment = strrchr(path, '/');
  int is_asset = last_segment && strchr(last_segment, '.');
  /* Client-side routes (no file extension) all get the app's index.html. */
  snprintf(file, sizeof file, "%s%s", root, is_asset ? path : "/index.html");
  char *data = NULL;
  size_t len = 0;
  visor_error err = {0};
  if (visor_read_file(file, 16 * 1024 * 1024, &data, &len, &err) != VISOR_OK) {
    if (!is_asset)
      visor_http_respond_error(res, 404, "not_found",
                               "the web app is not installed on this server");
    else
      visor_http_respond_error(res, 404, "not_found", "no file %.200s", path);
    return;
  }
  if (strstr(path, "/assets/"))
    visor_http_set_header(res, "Cache-Control", "public, max-age=31536000, immutable");
  visor_http_respond_bytes(res, 200, static_content_type(file), data, len);
}

visor_code visor_api_register_system(visor_http_server *server, visor_app *app, visor_error *err) {
  struct {
    const char *method, *pattern;
    visor_http_handler handler;
    const visor_route_options *options;
  } routes[] = {{"GET", "/api/openapi.json", openapi, NULL},
                {"GET", "/api/v1/admin/queue", queue_stats, NULL},
                {"POST", "/api/v1/admin/queue/pause", pause_queue, NULL},
                {"POST", "/api/v1/admin/queue/resume", resume_queue, NULL}};
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    visor_code code = visor_http_route(server, routes[i].method, routes[i].pattern,
                                       routes[i].handler, app, routes[i].options, err);
    if (code != VISOR_OK) return code;
  }
  visor_http_fallback(server, web_app, app);
  return visor_api_register_probes(server, app, err);
}
