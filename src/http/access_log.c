/* access_log.c: what the server records when a request ends: one access log line
 * (method, path, status, bytes, duration, request id, client ip, route) at info level, and
 * the request metrics visor_http_requests_total{route,method,status} and
 * visor_http_request_duration_seconds{route,method}. Metrics are labelled by route
 * pattern, never by raw path, so their number stays bounded. */
#include "http/http_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"

/* Methods outside this list are counted as OTHER, so clients cannot make new series. */
static const char *method_label(const char *method) {
  static const char *known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcmp(method, known[i]) == 0) return known[i];
  return "OTHER";
}

/* Prometheus label values escape backslash, quote and newline. */
static void escape_label(char *out, size_t size, const char *text) {
  size_t n = 0;
  for (; *text && n + 3 < size; text++) {
    char c = *text;
    if (c == '\\' || c == '"' || c == '\n') {
      out[n++] = '\\';
      c = c == '\n' ? 'n' : c;
    }
    out[n++] = c;
  }
  out[n] = '\0';
}

static const char *route_label(const visor_http_request *req) {
  if (req->route) return req->route->pattern;
  return req->fallback ? "fallback" : "unmatched";
}

void visor_http_access_record(const visor_http_request *req, int log_line) {
  double seconds = visor_monotonic_s() - req->started;
  if (seconds < 0) seconds = 0;
  int status = req->queued ? req->status : 499; /* 499: the client went away first */
  const char *route = route_label(req);
  char route_escaped[256];
  escape_label(route_escaped, sizeof route_escaped, route);
  const char *method = method_label(req->method);

  char labels[512];
  snprintf(labels, sizeof labels, "route=\"%s\",method=\"%s\",status=\"%d\"", route_escaped, method,
           status);
  visor_metrics_counter_add("visor_http_requests_total", "HTTP requests by route, method, status",
                            labels, 1);
  snprintf(labels, sizeof labels, "route=\"%s\",method=\"%s\"", route_escaped, method);
  visor_metrics_observe("visor_http_request_duration_seconds",
                        "HTTP request duration in seconds by route and method", labels, seconds);

  if (!log_line || !visor_log_enabled(VISOR_LOG_INFO)) return;
  char status_text[16], bytes_text[32], ms_text[32];
  snprintf(status_text, sizeof status_text, "%d", status);
  snprintf(bytes_text, sizeof bytes_text, "%" PRIu64, req->response_bytes);
  snprintf(ms_text, sizeof ms_text, "%.1f", seconds * 1000.0);
  const char *fields[] = {
      "method",    req->method,    "path",        req->raw_path, "status",     status_text,
      "bytes",     bytes_text,     "duration_ms", ms_text,       "request_id", req->request_id,
      "client_ip", req->client_ip, "route",       route,         NULL};
  visor_log_fields(VISOR_LOG_INFO, fields, "%s %s %d", req->method, req->raw_path, status);
}
