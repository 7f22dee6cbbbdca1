/* probe_routes.c: the handlers every Visor server exposes the same way: /healthz (the
 * process serves requests) and /metrics (the process's metrics registry in the Prometheus
 * text format). */
#include <string.h>

#include "core/metrics.h"
#include "http/http.h"

void visor_http_healthz_handler(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)req, (void)ctx;
  visor_http_respond_json(res, 200, json_pack("{s:s}", "status", "ok"));
}

void visor_http_metrics_handler(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)req, (void)ctx;
  char *text = visor_metrics_render();
  if (!text) {
    visor_http_respond_error(res, 500, "out_of_memory", "cannot render metrics");
    return;
  }
  visor_http_respond_bytes(res, 200, "text/plain; version=0.0.4", text, strlen(text));
}
