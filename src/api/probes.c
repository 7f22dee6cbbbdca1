/* probes.c: the routes every Visor server process has, `visor worker` included: health
 * (/healthz: the process is up), readiness (/readyz: every backend answers, else 503) and
 * Prometheus metrics (/metrics, with the queue's gauges and the index lag). */
#include "api/api.h"
#include "core/clock.h"
#include "core/metrics.h"
#include "store/catalog.h"

static void readyz(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)req;
  visor_app *app = ctx;
  json_t *checks = json_object();
  int ready = 1;
  visor_error err = {0};
  if (visor_db_ping(app->db, &err) == VISOR_OK) {
    json_object_set_new(checks, "metadata", json_string("ok"));
  } else {
    ready = 0;
    json_object_set_new(checks, "metadata", json_string(err.message));
  }
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

/* Refreshes the queue gauges before each /metrics export. */
static void collect_queue_metrics(void *ctx) {
  visor_app *app = ctx;
  visor_queue_counts counts;
  if (app->vectors)
    visor_metrics_gauge_set("visor_vectors", "Vectors in this process's vector collection", NULL,
                            (double)app->vectors->ops->count(app->vectors));
  visor_db_conn *conn = visor_db_acquire(app->db, NULL);
  visor_index_lag lag;
  if (conn && visor_image_index_lag(conn, &lag, NULL) == VISOR_OK) {
    double age = lag.pending ? (double)(visor_now_ms() - lag.oldest_pending_ms) / 1000.0 : 0;
    visor_metrics_gauge_set("visor_index_lag_seconds",
                            "Age of the oldest product image not yet searchable (0: none pending)",
                            NULL, age > 0 ? age : 0);
    const char *help = "Product images not searchable, by state";
    visor_metrics_gauge_set("visor_images_unsearchable", help, "state=\"pending\"",
                            (double)lag.pending);
    visor_metrics_gauge_set("visor_images_unsearchable", help, "state=\"failed\"",
                            (double)lag.failed);
  }
  visor_db_release(conn);
  if (app->queue->ops->counts(app->queue, &counts, NULL) != VISOR_OK) return;
  const char *help = "Tasks in the queue by state";
  visor_metrics_gauge_set("visor_queue_tasks", help, "state=\"ready\"", (double)counts.ready);
  visor_metrics_gauge_set("visor_queue_tasks", help, "state=\"delayed\"", (double)counts.delayed);
  visor_metrics_gauge_set("visor_queue_tasks", help, "state=\"leased\"", (double)counts.leased);
  visor_metrics_gauge_set("visor_queue_tasks", help, "state=\"dead\"", (double)counts.dead);
  visor_metrics_gauge_set("visor_queue_paused", "1 when the queue is paused", NULL, counts.paused);
}

visor_code visor_api_register_probes(visor_http_server *server, visor_app *app, visor_error *err) {
  /* Probes are not rate limited: load balancers and Prometheus poll them. */
  static const visor_route_options probe = {.no_rate_limit = 1};
  visor_code code =
      visor_http_route(server, "GET", "/healthz", visor_http_healthz_handler, app, &probe, err);
  if (code == VISOR_OK) code = visor_http_route(server, "GET", "/readyz", readyz, app, &probe, err);
  if (code == VISOR_OK)
    code =
        visor_http_route(server, "GET", "/metrics", visor_http_metrics_handler, app, &probe, err);
  if (code == VISOR_OK) visor_metrics_add_collector(collect_queue_metrics, app);
  return code;
}
