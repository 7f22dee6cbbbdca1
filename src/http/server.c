/* server.c: the libmicrohttpd daemon and the life of a connection's request: accept
 * (internal poll() with a thread pool), route, read the body (buffered, or multipart into
 * the route's sink) within the route's limit, run the handler, queue the response, record
 * it when MHD says the request is complete, and graceful shutdown (quiesce: stop
 * accepting; wait for in-flight requests up to a grace period; stop). */
#include "http/http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"

visor_http_server *visor_http_server_new(const visor_http_config *config, visor_error *err) {
  visor_http_server *server = calloc(1, sizeof *server);
  if (!server) {
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory creating the HTTP server");
    return NULL;
  }
  if (config) server->config = *config;
  visor_http_config *c = &server->config;
  if (c->threads <= 0) c->threads = VISOR_HTTP_DEFAULT_THREADS;
  if (c->default_max_body == 0) c->default_max_body = VISOR_HTTP_DEFAULT_MAX_BODY;
  if (c->timeout_s <= 0) c->timeout_s = VISOR_HTTP_DEFAULT_TIMEOUT_S;
  if (c->max_connections <= 0) c->max_connections = VISOR_HTTP_DEFAULT_MAX_CONNECTIONS;
  if (c->max_connections_per_ip == 0) c->max_connections_per_ip = VISOR_HTTP_DEFAULT_MAX_PER_IP;
  if (c->max_connections_per_ip < 0) c->max_connections_per_ip = 0; /* MHD: 0 = no cap */
  if (c->header_timeout_s == 0) c->header_timeout_s = VISOR_HTTP_DEFAULT_HEADER_TIMEOUT_S;
  if (c->body_timeout_s == 0) c->body_timeout_s = VISOR_HTTP_DEFAULT_BODY_TIMEOUT_S;
  if (c->port < 0 || c->port > 65535) {
    visor_error_set(err, VISOR_ERR_INVALID, "HTTP port %d is not in 0..65535", c->port);
    free(server);
    return NULL;
  }
  server->host = strdup(c->host && *c->host ? c->host : "0.0.0.0");
  c->host = server->host;
  if (c->rate_limit_per_s < 0) c->rate_limit_per_s = 0;
  if (c->rate_limit_per_s > 0)
    server->limiter = visor_rate_limiter_new(c->rate_limit_per_s, c->rate_limit_burst);
  if (!server->host || (c->rate_limit_per_s > 0 && !server->limiter)) {
    visor_rate_limiter_free(server->limiter);
    free(server->host);
    free(server);
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory creating the HTTP server");
    return NULL;
  }
  pthread_mutex_init(&server->lock, NULL);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&server->idle, &attr);
  pthread_mutex_init(&server->timer_lock, NULL);
  pthread_cond_init(&server->timer_cond, &attr);
  pthread_condattr_destroy(&attr);
  atomic_init(&server->stopping, 0);
  atomic_init(&server->timer_running, 0);
  return server;
}

visor_code visor_http_route(visor_http_server *server, const char *method, const char *pattern,
                            visor_http_handler handler, void *ctx,
                            const visor_route_options *options, visor_error *err) {
  if (server->daemon)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "route %s %s: routes must be added before the server starts",
                           method ? method : "", pattern ? pattern : "");
  return visor_router_add(&server->router, method, pattern, handler, ctx, options,
                          server->config.default_max_body, err);
}

void visor_http_fallback(visor_http_server *server, visor_http_handler handler, void *ctx) {
  server->fallback = handler;
  server->fallback_ctx = ctx;
}

/* ---- one request ------------------------------------------------------------------- */

static int has_body(struct MHD_Connection *connection) {
  const char *length =
      MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (length && strtoull(length, NULL, 10) > 0) return 1;
  return MHD_lookup_connection_value(connection, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

static enum MHD_Result queue(visor_http_request *req, int close_after) {
  visor_http_response *res = &req->res;
  if (res->kind == VISOR_RESPONSE_NONE)
    visor_http_respond_error(res, 500, "internal", "the handler sent no response");
  if (atomic_load(&req->server->stopping)) close_after = 1;
  req->status = res->status;
  req->response_bytes = strcmp(req->method, "HEAD") == 0 ? 0 : visor_http_response_size(res);
  enum MHD_Result queued = visor_http_response_queue(res, req->connection, close_after);
  req->queued = queued == MHD_YES;
  return queued;
}

/* An answer before the body was read: the connection closes after it if a body follows. */
static enum MHD_Result respond_early(visor_http_request *req) {
  return queue(req, has_body(req->connection));
}

static int is_multipart(struct MHD_Connection *connection) {
  const char *type =
      MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
  return type && strncasecmp(type, "multipart/form-data", 19) == 0;
}

typedef struct value_size {
  size_t bytes;
} value_size;

static enum MHD_Result add_value_size(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value) {
  (void)kind;
  value_size *size = cls;
  size->bytes += strlen(key) + (value ? strlen(value) : 0) + 4; /* "k: v\r\n", "k=v&" */
  return MHD_YES;
}

static size_t values_size(struct MHD_Connection *connection, enum MHD_ValueKind kind) {
  value_size size = {0};
  MHD_get_connection_values(connection, kind, add_value_size, &size);
  return size.bytes;
}

/* The request line and headers within Visor's own limits, well below the connection
 * memory of libmicrohttpd (whose own answer to the same would be HTML). */
static enum MHD_Result check_sizes(visor_http_request *req) {
  size_t target = strlen(req->raw_path) + values_size(req->connection, MHD_GET_ARGUMENT_KIND);
  if (target > VISOR_HTTP_MAX_URI_BYTES) {
    visor_http_respond_error(&req->res, 414, "uri_too_long",
                             "the request target is about %zu bytes, over the limit of %zu bytes",
                             target, VISOR_HTTP_MAX_URI_BYTES);
    return queue(req, 1);
  }
  size_t headers = values_size(req->connection, MHD_HEADER_KIND);
  if (headers > VISOR_HTTP_MAX_HEADER_BYTES) {
    visor_http_respond_error(&req->res, 431, "headers_too_large",
                             "the request headers are about %zu bytes, over the limit of %zu bytes",
                             headers, VISOR_HTTP_MAX_HEADER_BYTES);
    return queue(req, 1);
  }
  return MHD_YES;
}

/* First call for a request: route, rate limit (unmatched paths count too), check the
 * body's type and announced size. */
static enum MHD_Result begin_request(visor_http_request *req) {
  visor_http_server *server = req->server;
  visor_http_response *res = &req->res;
  if (check_sizes(req) != MHD_YES || req->queued) return req->queued ? MHD_YES : MHD_NO;
  char allow[256];
  visor_match_result match =
      visor_router_match(&server->router, req->method, req->raw_path, &req->route,
                         &req->param_values, &req->nparams, allow, sizeof allow);
  int retry_after = 1;
  if (server->limiter && !(req->route && req->route->no_rate_limit) &&
      !visor_rate_limiter_take(server->limiter, req->client_ip, visor_monotonic_s(),
                               &retry_after)) {
    char seconds[16];
    snprintf(seconds, sizeof seconds, "%d", retry_after);
    visor_http_set_header(res, "Retry-After", seconds);
    visor_http_respond_error(res, 429, "rate_limited", "too many requests from %s; retry in %d s",
                             req->client_ip, retry_after);
    return respond_early(req);
  }
  switch (match) {
  case VISOR_MATCH_FOUND:
    break;
  case VISOR_MATCH_NO_PATH:
    if (server->fallback && (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)) {
      req->fallback = 1;
      break;
    }
    visor_http_respond_error(res, 404, "not_found", "no route for %s %s", req->method, req->path);
    return respond_early(req);
  case VISOR_MATCH_NO_METHOD:
    visor_http_set_header(res, "Allow", allow);
    visor_http_respond_error(res, 405, "method_not_allowed",
                             "%s is not allowed on %s (allowed: %s)", req->method, req->path,
                             allow);
    return respond_early(req);
  case VISOR_MATCH_BAD_PATH:
    visor_http_respond_error(res, 400, "invalid_argument",
                             "the path %s has an encoded '/' in a parameter or a NUL byte",
                             req->raw_path);
    return respond_early(req);
  case VISOR_MATCH_NO_MEMORY:
    visor_http_respond_error(res, 500, "out_of_memory", "out of memory routing the request");
    return respond_early(req);
  }
  if (visor_http_request_load_query(req) < 0) {
    visor_http_respond_error(res, 400, "invalid_argument",
                             "the query string has a NUL byte (or is too large)");
    return respond_early(req);
  }
  req->max_body = req->route ? req->route->max_body : server->config.default_max_body;
  const char *length =
      MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (length && strtoull(length, NULL, 10) > req->max_body) {
    visor_http_respond_error(res, 413, "too_large",
                             "the request body (%s bytes) is over the limit of %zu bytes", length,
                             req->max_body);
    return respond_early(req);
  }
  if (is_multipart(req->connection)) {
    if (!req->route || !req->route->sink) {
      visor_http_respond_error(res, 415, "unsupported_media_type",
                               "%s %s does not accept multipart/form-data", req->method, req->path);
      return respond_early(req);
    }
    if (visor_http_multipart_begin(req) < 0) return respond_early(req);
  }
  return MHD_YES;
}

static void fail_too_large(visor_http_request *req) {
  if (req->multipart) visor_http_multipart_abort(req);
  visor_http_respond_error(&req->res, 413, "too_large",
                           "the request body is over the limit of %zu bytes", req->max_body);
  req->failed = 1;
}

/* A chunk of body: buffer it or feed the multipart parser, within the limit. */
static enum MHD_Result take_body(visor_http_request *req, const char *data, size_t len) {
  req->received += len;
  if (req->failed) /* drop the rest so the client can read the error, up to a point */
    return req->received - len > req->max_body + VISOR_HTTP_MAX_DISCARD ? MHD_NO : MHD_YES;
  if (req->received > req->max_body) {
    fail_too_large(req);
    return MHD_YES;
  }
  if (req->multipart) {
    if (visor_http_multipart_feed(req, data, len) < 0) req->failed = 1;
  } else if (visor_http_request_append_body(req, data, len) < 0) {
    visor_http_respond_error(&req->res, 500, "out_of_memory",
                             "out of memory reading a %zu-byte body", req->received);
    req->failed = 1;
  }
  return MHD_YES;
}

static void run_handler(visor_http_request *req) {
  if (req->multipart && visor_http_multipart_end(req) < 0) return;
  if (req->multipart && visor_http_multipart_hand_over(req) < 0) return;
  visor_http_server *server = req->server;
  if (req->route)
    req->route->handler(req, &req->res, req->route->ctx);
  else
    server->fallback(req, &req->res, server->fallback_ctx);
}

/* The framing (framing.c) refused the request: one JSON error, and the connection closes. */
static enum MHD_Result respond_framing_error(visor_http_request *req, const char *name) {
  if (req->multipart) visor_http_multipart_abort(req);
  const visor_relay_reason *reason = visor_relay_reason_named(name);
  visor_http_response_clear(&req->res);
  visor_http_respond_error(&req->res, reason->status, reason->code, "%s", reason->message);
  return queue(req, 1);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *connection, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
  (void)version;
  visor_http_server *server = cls;
  visor_http_request *req = *con_cls;
  if (!req) {
    req = visor_http_request_new(server, connection, method, url);
    if (!req) return MHD_NO;
    *con_cls = req;
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    req->conn = info ? info->socket_context : NULL;
    visor_http_conn_phase(req, VISOR_CONN_BODY); /* the headers are in; the body's deadline */
    pthread_mutex_lock(&server->lock);
    server->inflight++;
    pthread_mutex_unlock(&server->lock);
    if (strcmp(method, VISOR_RELAY_ERROR_METHOD) == 0) /* in place of a malformed head */
      return respond_framing_error(req, url[0] == '/' ? url + 1 : url);
    return begin_request(req);
  }
  if (req->resumed) { /* a parked request got its answer */
    req->resumed = 0;
    return queue(req, 0);
  }
  if (req->queued) { /* answered early; MHD drops the body */
    *upload_data_size = 0;
    return MHD_YES;
  }
  if (*upload_data_size) {
    size_t len = *upload_data_size;
    *upload_data_size = 0;
    return take_body(req, upload_data, len);
  }
  const char *framing =
      MHD_lookup_connection_value(connection, MHD_FOOTER_KIND, VISOR_RELAY_ERROR_TRAILER);
  if (framing) return respond_framing_error(req, framing); /* the chunked body went bad */
  visor_http_conn_phase(req, VISOR_CONN_BUSY);
  if (!req->failed) run_handler(req);
  if (req->park_asked && !req->failed) {
    visor_http_park(req);
    return MHD_YES;
  }
  return queue(req, 0);
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)connection;
  (void)toe;
  visor_http_server *server = cls;
  visor_http_request *req = *con_cls;
  if (!req) return;
  *con_cls = NULL;
  visor_http_multipart_abort(req); /* the client went away mid-upload, or an error */
  visor_http_access_record(req, server->config.access_log);
  visor_http_conn_phase(req, VISOR_CONN_HEADERS); /* a kept-alive connection's next request */
  visor_http_request_free(req);
  pthread_mutex_lock(&server->lock);
  if (--server->inflight == 0) pthread_cond_broadcast(&server->idle);
  pthread_mutex_unlock(&server->lock);
}

/* ---- daemon ------------------------------------------------------------------------ */

/* Paths stay percent-encoded until the router splits them (see url.c). */
static size_t keep_escaped(void *cls, struct MHD_Connection *connection, char *text) {
  (void)cls;
  (void)connection;
  return strlen(text);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char message[512];
  vsnprintf(message, sizeof message, fmt, ap);
  size_t len = strlen(message);
  while (len && (message[len - 1] == '\n' || message[len - 1] == '\r'))
    message[--len] = '\0';
  visor_log(VISOR_LOG_DEBUG, "microhttpd: %s", message);
}

/* A listening TCP socket on addr, or -1. */
static int listen_on(const struct sockaddr_storage *addr, int port) {
  (void)port;
  int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (addr->ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  socklen_t len =
      addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
  if (bind(fd, (const struct sockaddr *)addr, len) != 0 || listen(fd, SOMAXCONN) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* Relay threads: the work is copying bytes, lighter than handling; at most 4. */
static int relay_threads(int workers) {
  int threads = (workers + 1) / 2;
  return threads < 1 ? 1 : threads > 4 ? 4 : threads;
}

visor_code visor_http_start(visor_http_server *server, visor_error *err) {
  if (server->daemon) return visor_error_set(err, VISOR_ERR_INVALID, "the server already runs");
  const visor_http_config *c = &server->config;
  struct sockaddr_storage addr;
  memset(&addr, 0, sizeof addr);
  /* poll(), not epoll: with epoll, libmicrohttpd 0.9.75 does not notice a client that
   * closes mid-upload until the connection timeout, so an abandoned upload's parts would
   * stay open for timeout_s (tests/http: test_client_abort_upload). */
  unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC |
                       MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_NO_LISTEN_SOCKET;
  struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
  if (inet_pton(AF_INET, server->host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons((uint16_t)c->port);
  } else if (inet_pton(AF_INET6, server->host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons((uint16_t)c->port);
  } else {
    return visor_error_set(err, VISOR_ERR_INVALID, "HTTP host %s is not an IPv4 or IPv6 address",
                           server->host);
  }
  atomic_store(&server->stopping, 0);
  /* Visor listens and accepts; libmicrohttpd gets each connection through the relay. */
  int listener = listen_on(&addr, c->port);
  if (listener < 0)
    return visor_error_set(err, VISOR_ERR_UNAVAILABLE,
                           "cannot listen on %s:%d (address in use or not permitted?)",
                           server->host, c->port);
  server->relay = visor_http_relay_new(listener, relay_threads(c->threads));
  if (!server->relay) {
    close(listener);
    return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory starting the HTTP relay");
  }
  server->daemon = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, server, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
      MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)c->threads, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned int)c->timeout_s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, server,
      MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL, MHD_OPTION_CONNECTION_LIMIT,
      (unsigned int)c->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      (unsigned int)c->max_connections_per_ip, MHD_OPTION_NOTIFY_CONNECTION,
      visor_http_on_connection, server, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      VISOR_HTTP_CONNECTION_MEMORY, MHD_OPTION_END);
  if (!server->daemon || visor_http_relay_start(server->relay, server->daemon) != 0) {
    if (server->daemon) MHD_stop_daemon(server->daemon);
    server->daemon = NULL;
    visor_http_relay_free(server->relay);
    server->relay = NULL;
    return visor_error_set(err, VISOR_ERR_UNAVAILABLE,
                           "cannot start the HTTP server on %s:%d (threads or memory)",
                           server->host, c->port);
  }
  visor_http_timer_start(server);
  struct sockaddr_storage bound;
  socklen_t bound_len = sizeof bound;
  server->port = c->port;
  if (getsockname(listener, (struct sockaddr *)&bound, &bound_len) == 0)
    server->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                     : ((struct sockaddr_in *)&bound)->sin_port);
  return VISOR_OK;
}

int visor_http_port(const visor_http_server *server) {
  return server->port;
}

void visor_http_stop(visor_http_server *server, int grace_ms) {
  if (!server || !server->daemon) return;
  atomic_store(&server->stopping, 1);
  visor_http_relay_stop_accepting(server->relay); /* new connections are refused */
  visor_http_timer_flush(server);                 /* parked requests answer now */
  struct timespec deadline;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  if (grace_ms < 0) grace_ms = 0;
  deadline.tv_sec += grace_ms / 1000;
  deadline.tv_nsec += (long)(grace_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&server->lock);
  while (server->inflight > 0)
    if (pthread_cond_timedwait(&server->idle, &server->lock, &deadline) == ETIMEDOUT) break;
  int left = server->inflight;
  pthread_mutex_unlock(&server->lock);
  if (left > 0)
    visor_log(VISOR_LOG_WARN, "http: stopping with %d request(s) still in flight after %d ms", left,
              grace_ms);
  MHD_stop_daemon(server->daemon);
  server->daemon = NULL;
  visor_http_relay_free(server->relay); /* after it passed the last answers on */
  server->relay = NULL;
  visor_http_timer_stop(server);
}

void visor_http_server_free(visor_http_server *server) {
  if (!server) return;
  visor_http_stop(server, 0);
  visor_router_free(&server->router);
  visor_rate_limiter_free(server->limiter);
  pthread_cond_destroy(&server->idle);
  pthread_cond_destroy(&server->timer_cond);
  pthread_mutex_destroy(&server->timer_lock);
  pthread_mutex_destroy(&server->lock);
  free(server->host);
  free(server);
}
