/* routes_system.c: health (/healthz: the process is up), readiness (/readyz: every
 * backend answers), Prometheus metrics (/metrics), the OpenAPI document
 * (/api/openapi.json), admin queue operations, and the web app's static files at /. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/routes.h"
#include "core/fsutil.h"
#include "core/metrics.h"

extern const unsigned char visor_openapi_json[]; /* generated from openapi.json */
extern const unsigned long visor_openapi_json_len;

static void readyz(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)req;
  visor_app *app = ctx;
  json_t *checks = json_object();
  int ready = 1;
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(app->db, &err);
  if (conn && visor_db_exec(conn, "SELECT 1", NULL, 0, NULL, NULL, &err) == VISOR_OK) {
    json_object_set_new(checks, "metadata", json_string("ok"));
  } else {
    ready = 0;
    json_object_set_new(checks, "metadata", json_string(err.message));
  }
  visor_db_release(conn);
  int exists = 0;
  if (app->blobs->ops->exists(app->blobs, "readyz-probe", &exists, &err) == VISOR_OK) {
    json_object_set_new(checks, "objects", json_string("ok"));
  } else {
    ready = 0;
    json_object_set_new(checks, "objects", json_string(err.message));
  }
  visor_queue_counts counts;
  if (app->queue->ops->counts(app->queue, &counts, &err) == VISOR_OK) {
    json_object_set_new(checks, "queue", json_string("ok"));
  } else {
    ready = 0;
    json_object_set_new(checks, "queue", json_string(err.message));
  }
  visor_http_respond_json(
      res, ready ? 200 : 503,
      json_pack("{s:s, s:o}", "status", ready ? "ready" : "not_ready", "checks", checks));
}

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

/* Refreshes the queue gauges before each /metrics export. */
static void collect_queue_metrics(void *ctx) {
  visor_app *app = ctx;
  visor_queue_counts counts;
  if (app->queue->ops->counts(app->queue, &counts, NULL) != VISOR_OK) return;
  const char *help = "Tasks in the queue by state";
  visor_metrics_gauge_set("visor_queue_tasks", help, "state=\"ready\"", (double)counts.ready);
  visor_metrics_gauge_set("visor_queue_tasks", help, "state=\"delayed\"", (double)counts.delayed);
  visor_metrics_gauge_set("visor_queue_tasks", help, "state=\"leased\"", (double)counts.leased);
  visor_metrics_gauge_set("visor_queue_tasks", help, "state=\"dead\"", (double)counts.dead);
  visor_metrics_gauge_set("visor_queue_paused", "1 when the queue is paused", NULL, counts.paused);
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
  if (!paused) visor_app_notify_workers(app);
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
  if (strncmp(path, "/api/", 5) == 0 || strstr(path, "..") || strchr(path, '\\')) {
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
                               "the web app is not built (no %s): run `make web`", file);
    else
      visor_http_respond_error(res, 404, "not_found", "no file %.200s", path);
    return;
  }
  if (strstr(path, "/assets/"))
    visor_http_set_header(res, "Cache-Control", "public, max-age=31536000, immutable");
  visor_http_respond_bytes(res, 200, static_content_type(file), data, len);
}

visor_code visor_api_register_system(visor_http_server *server, visor_app *app, visor_error *err) {
  /* Probes are not rate limited: load balancers and Prometheus poll them. */
  static const visor_route_options probe = {.no_rate_limit = 1};
  struct {
    const char *method, *pattern;
    visor_http_handler handler;
    const visor_route_options *options;
  } routes[] = {{"GET", "/healthz", visor_http_healthz_handler, &probe},
                {"GET", "/readyz", readyz, &probe},
                {"GET", "/metrics", visor_http_metrics_handler, &probe},
                {"GET", "/api/openapi.json", openapi, NULL},
                {"GET", "/api/v1/admin/queue", queue_stats, NULL},
                {"POST", "/api/v1/admin/queue/pause", pause_queue, NULL},
                {"POST", "/api/v1/admin/queue/resume", resume_queue, NULL}};
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    visor_code code = visor_http_route(server, routes[i].method, routes[i].pattern,
                                       routes[i].handler, app, routes[i].options, err);
    if (code != VISOR_OK) return code;
  }
  visor_metrics_add_collector(collect_queue_metrics, app);
  visor_http_fallback(server, web_app, app);
  return VISOR_OK;
}
