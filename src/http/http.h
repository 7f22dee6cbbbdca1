/* http.h: Visor's HTTP server on libmicrohttpd. A router with path parameters
 * ("/api/v1/products/{id}"), buffered JSON bodies, multipart/form-data uploads streamed
 * chunk by chunk into a caller-given sink (the blob store) with a size limit, one error
 * shape {"error":{"code":"...","message":"..."}}, request ids, an access log, request
 * metrics, per-client rate limiting, and graceful shutdown (stop accepting, finish
 * in-flight requests). */
#ifndef VISOR_HTTP_HTTP_H
#define VISOR_HTTP_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct visor_http_server visor_http_server;
typedef struct visor_http_request visor_http_request;
typedef struct visor_http_response visor_http_response;

/* ---- uploads ---------------------------------------------------------------------- */

/* Where file parts of a multipart body go, chunk by chunk, as they arrive. The server owns
 * every part's handle, finished or not, until it calls the route handler; from then on the
 * handler owns them (see visor_http_upload) and must finish its work with each one (e.g.
 * commit it, or call abort). If the request fails before that (limit, client gone, bad
 * multipart, a sink error) the server calls abort on every handle it still owns, including
 * parts whose finish already returned OK, and the handler is not called: nothing is left
 * behind. The sink is called from the server's worker threads, one request at a time per
 * handle. max_body counts the whole request body (multipart framing included). */
typedef struct visor_upload_sink {
  /* Returns a handle for one file part, or NULL with err set (the request fails with it). */
  void *(*open)(void *ctx, const char *field, const char *filename, const char *content_type,
                visor_error *err);
  visor_code (*write)(void *ctx, void *handle, const void *data, size_t len, visor_error *err);
  visor_code (*finish)(void *ctx, void *handle, visor_error *err);
  /* Undoes a part (removes what was written) and frees the handle. */
  void (*abort)(void *ctx, void *handle);
} visor_upload_sink;

typedef struct visor_http_upload {
  const char *field;
  const char *filename;
  const char *content_type;
  size_t size;
  char sha256[65]; /* hex of the part's bytes */
  void *handle;    /* the sink's handle, owned by the handler once it runs */
} visor_http_upload;

/* ---- routes ----------------------------------------------------------------------- */

typedef void (*visor_http_handler)(visor_http_request *req, visor_http_response *res, void *ctx);

typedef struct visor_route_options {
  size_t max_body;               /* bytes; 0 = the server's default (1 MiB) */
  const visor_upload_sink *sink; /* required to accept multipart/form-data */
  void *sink_ctx;
  int allow_missing_body; /* reserved; bodies are always optional */
  int no_rate_limit;      /* exempt from per-client rate limiting (health checks, /metrics) */
} visor_route_options;

/* ---- server ----------------------------------------------------------------------- */

typedef struct visor_http_config {
  const char *host; /* "0.0.0.0" default, "127.0.0.1" for tests */
  int port;         /* 0 = pick a free port (see visor_http_port) */
  int threads;      /* worker threads (default 8) */
  size_t default_max_body;
  double rate_limit_per_s; /* requests per second per client IP; 0 = off */
  int rate_limit_burst;    /* bucket size (0 = ceil(rate_limit_per_s), at least 1) */
  int access_log;          /* 1 = log each request at info level */
  int timeout_s;           /* idle connection timeout in seconds (0 = 30) */
  /* Slow clients: connections open at once (0 = 1000), per client address (0 = 64, < 0 =
   * no cap), and TOTAL deadlines, not reset by each byte: the request line and headers
   * must arrive within header_timeout_s of the connection opening (or of the previous
   * answer on a kept-alive connection), the body within body_timeout_s of the headers.
   * Past a deadline the client gets 408 (JSON) and the connection closes. 0 = defaults
   * (10 s, 120 s); < 0 = no deadline. */
  int max_connections;
  int max_connections_per_ip;
  double header_timeout_s;
  double body_timeout_s;
} visor_http_config;

visor_http_server *visor_http_server_new(const visor_http_config *config, visor_error *err);
/* pattern: "/api/v1/products/{id}/images"; {name} matches one path segment. A path that
 * matches a pattern under another method gives 405 with an Allow header; none gives 404. */
visor_code visor_http_route(visor_http_server *server, const char *method, const char *pattern,
                            visor_http_handler handler, void *ctx,
                            const visor_route_options *options, visor_error *err);
/* A fallback for GET paths no route matched (e.g. the web app's static files). */
void visor_http_fallback(visor_http_server *server, visor_http_handler handler, void *ctx);
visor_code visor_http_start(visor_http_server *server, visor_error *err);
int visor_http_port(const visor_http_server *server);
/* Stops accepting, waits up to grace_ms for in-flight requests, then stops. */
void visor_http_stop(visor_http_server *server, int grace_ms);
void visor_http_server_free(visor_http_server *server);

/* ---- request ---------------------------------------------------------------------- */

const char *visor_http_method(const visor_http_request *req);
const char *visor_http_path(const visor_http_request *req); /* percent-decoded */
const char *visor_http_request_id(const visor_http_request *req);
const char *visor_http_param(const visor_http_request *req, const char *name); /* path */
const char *visor_http_query(const visor_http_request *req, const char *name); /* ?a=b */
const char *visor_http_header(const visor_http_request *req, const char *name);
const char *visor_http_client_ip(const visor_http_request *req);
/* The raw body of a non-multipart request (NUL-terminated; len without the NUL). */
const char *visor_http_body(const visor_http_request *req, size_t *len);
/* Parses the body as a JSON object; on failure responds 400 and returns NULL. The
 * returned reference is borrowed (freed with the request). */
json_t *visor_http_json_body(visor_http_request *req, visor_http_response *res);
/* Multipart text fields (name → value; the last one wins; all of them via _fields). */
const char *visor_http_form_field(const visor_http_request *req, const char *name);
size_t visor_http_form_fields(const visor_http_request *req, const char *const **names,
                              const char *const **values);
size_t visor_http_uploads(visor_http_request *req, visor_http_upload **uploads);
int visor_http_is_multipart(const visor_http_request *req);

/* ---- response --------------------------------------------------------------------- */

/* Takes ownership of body (json_decref'd by the server). */
void visor_http_respond_json(visor_http_response *res, int status, json_t *body);
/* {"error":{"code":code_name,"message":...}}; status from the code unless status > 0. */
void visor_http_respond_error(visor_http_response *res, int status, const char *code_name,
                              const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void visor_http_respond_visor_error(visor_http_response *res, const visor_error *err);
/* Takes ownership of data (freed with free()). */
void visor_http_respond_bytes(visor_http_response *res, int status, const char *content_type,
                              void *data, size_t len);
/* Streams len bytes produced by read(ctx, offset, buf, max) → bytes or -1; free_ctx at the
 * end. For blob downloads. */
typedef long (*visor_http_reader)(void *ctx, uint64_t offset, char *buf, size_t max);
void visor_http_respond_stream(visor_http_response *res, int status, const char *content_type,
                               uint64_t len, visor_http_reader read, void *ctx,
                               void (*free_ctx)(void *ctx));
void visor_http_set_header(visor_http_response *res, const char *name, const char *value);

/* ---- responding later (long polls) -------------------------------------------------- */

/* Asks whether a parked request can be answered now. Returns 1 after filling res, 0 to go
 * on waiting. last = 1 when the wait is over (deadline or server stopping): it must answer
 * then. Runs on the server's timer thread, never on a worker thread. */
typedef int (*visor_http_recheck)(visor_http_request *req, visor_http_response *res, void *ctx,
                                  int last);

/* Instead of answering, a handler parks the request: the connection is suspended (it holds
 * no worker thread), recheck runs at once after the handler returns, on every
 * visor_http_wake, after 20 ms, 40 ms, ... doubling up to every poll_ms (0 = 200 ms), and at
 * wait_s, and the answer it gives is
 * sent. free_ctx(ctx) runs when it is done. Headers set on res before parking are kept. */
void visor_http_respond_later(visor_http_request *req, visor_http_response *res, double wait_s,
                              int poll_ms, visor_http_recheck recheck, void *ctx,
                              void (*free_ctx)(void *ctx));
/* Re-checks every parked request now (e.g. a search finished in this process). Safe from
 * any thread, and with a NULL or stopped server. */
void visor_http_wake(visor_http_server *server);

/* ---- handlers every server shares (probe_routes.c) ------------------------------ */

/* GET /healthz: {"status":"ok"} while the process serves requests. */
void visor_http_healthz_handler(visor_http_request *req, visor_http_response *res, void *ctx);
/* GET /metrics: the metrics registry (core/metrics.h) in the Prometheus text format. */
void visor_http_metrics_handler(visor_http_request *req, visor_http_response *res, void *ctx);

#endif
