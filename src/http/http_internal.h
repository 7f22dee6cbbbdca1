/* http_internal.h: the structures and helpers shared by the files of src/http (server,
 * router, request, multipart, response, rate limiting, access log). Not a public header:
 * code outside src/http uses http.h only. */
#ifndef VISOR_HTTP_INTERNAL_H
#define VISOR_HTTP_INTERNAL_H

#include <http_parser.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>

#include "core/error.h"
#include "core/uuid.h"
#include "http/http.h"
#include "http/sha256.h"

#define VISOR_HTTP_DEFAULT_MAX_BODY ((size_t)1024 * 1024)
#define VISOR_HTTP_DEFAULT_THREADS 8
#define VISOR_HTTP_DEFAULT_TIMEOUT_S 30
#define VISOR_HTTP_DEFAULT_MAX_CONNECTIONS 1000
#define VISOR_HTTP_DEFAULT_MAX_PER_IP 64
#define VISOR_HTTP_DEFAULT_HEADER_TIMEOUT_S 10.0
#define VISOR_HTTP_DEFAULT_BODY_TIMEOUT_S 120.0
#define VISOR_HTTP_DEFAULT_POLL_MS 200
#define VISOR_HTTP_FIRST_POLL_MS 20
/* Own limits on the request line and headers, answered with JSON 414 / 431, well below
 * libmicrohttpd's connection memory (whose own answers are HTML). */
#define VISOR_HTTP_MAX_URI_BYTES ((size_t)8 * 1024)
#define VISOR_HTTP_MAX_HEADER_BYTES ((size_t)32 * 1024)
#define VISOR_HTTP_CONNECTION_MEMORY ((size_t)256 * 1024)
/* The request line and headers as the relay holds them (framing.c): over it, 431 (or 414
 * when the request line alone is). */
#define VISOR_HTTP_MAX_HEAD_BYTES (VISOR_HTTP_MAX_URI_BYTES + VISOR_HTTP_MAX_HEADER_BYTES + 1024)
#define VISOR_HTTP_MAX_FIELD_BYTES ((size_t)64 * 1024) /* one multipart text field */
#define VISOR_HTTP_MAX_PARTS 256                       /* fields + files of one request */
#define VISOR_HTTP_MAX_REQUEST_ID 64
/* After a request failed mid-body the rest is read and dropped so the client gets the
 * error; past this many extra bytes the connection is closed instead. */
#define VISOR_HTTP_MAX_DISCARD ((size_t)16 * 1024 * 1024)

/* ---- router.c ---------------------------------------------------------------------- */

typedef struct visor_route {
  char *method;
  char *pattern;
  char **segments;         /* literal text, or the parameter name */
  unsigned char *is_param; /* per segment */
  size_t nsegments;
  visor_http_handler handler;
  void *ctx;
  size_t max_body;
  const visor_upload_sink *sink;
  void *sink_ctx;
  int no_rate_limit;
} visor_route;

typedef struct visor_router {
  visor_route *routes;
  size_t count, capacity;
} visor_router;

/* Compiles pattern and appends the route. */
visor_code visor_router_add(visor_router *router, const char *method, const char *pattern,
                            visor_http_handler handler, void *ctx,
                            const visor_route_options *options, size_t default_max_body,
                            visor_error *err);
void visor_router_free(visor_router *router);

typedef enum visor_match_result {
  VISOR_MATCH_FOUND,
  VISOR_MATCH_NO_PATH,   /* 404 */
  VISOR_MATCH_NO_METHOD, /* 405: allow is filled */
  VISOR_MATCH_BAD_PATH,  /* 400: a segment decodes to '/' (in a parameter) or NUL */
  VISOR_MATCH_NO_MEMORY,
} visor_match_result;

/* Matches raw_path (not yet percent-decoded) for method. On FOUND, *route is set and
 * param_values gets one malloc'd decoded value per parameter of the route (the caller frees
 * them). On NO_METHOD, allow gets "GET, HEAD, POST"-style text. */
visor_match_result visor_router_match(const visor_router *router, const char *method,
                                      const char *raw_path, const visor_route **route,
                                      char ***param_values, size_t *nparams, char *allow,
                                      size_t allow_size);

/* ---- url.c ------------------------------------------------------------------------- */

/* Percent-decodes len bytes of text (and '+' to ' ' if plus_is_space) into a malloc'd
 * NUL-terminated string; *had_nul is set when the decoded text contains a NUL byte. Bad
 * escapes are kept as they are. NULL when out of memory. */
char *visor_http_url_decode(const char *text, size_t len, int plus_is_space, int *had_nul);

/* ---- response.c -------------------------------------------------------------------- */

typedef enum visor_response_kind {
  VISOR_RESPONSE_NONE,
  VISOR_RESPONSE_BUFFER,
  VISOR_RESPONSE_STREAM,
} visor_response_kind;

struct visor_http_response {
  visor_response_kind kind;
  int status;
  char *content_type;
  char *data; /* BUFFER: malloc'd */
  size_t len;
  uint64_t stream_len; /* STREAM */
  visor_http_reader read;
  void *read_ctx;
  void (*free_ctx)(void *ctx);
  char **header_names;
  char **header_values;
  size_t nheaders;
  const char *request_id; /* goes into error bodies */
};

/* Frees what the response holds (and the stream context, if never handed to MHD). */
void visor_http_response_clear(visor_http_response *res);
/* Builds the MHD response (with Content-Type, X-Request-Id and the set headers) and
 * queues it. Stream contexts pass to MHD. Returns MHD_NO on failure. */
enum MHD_Result visor_http_response_queue(visor_http_response *res,
                                          struct MHD_Connection *connection, int close_after);
/* Body length for the access log. */
uint64_t visor_http_response_size(const visor_http_response *res);

/* ---- multipart_parser.c ------------------------------------------------------------ */

typedef struct visor_multipart_parser visor_multipart_parser;

/* Each returns 0, or -1 to stop the parse. The strings are the parser's (copy them). */
typedef struct visor_multipart_callbacks {
  int (*begin)(void *ctx, const char *name, const char *filename, const char *content_type);
  int (*data)(void *ctx, const char *data, size_t len);
  int (*end)(void *ctx);
} visor_multipart_callbacks;

/* The boundary parameter of a multipart Content-Type (1..70 characters) into out; -1 if
 * there is none or it is too long. */
int visor_multipart_boundary(const char *content_type, char *out, size_t size);
visor_multipart_parser *visor_multipart_parser_new(const char *boundary,
                                                   const visor_multipart_callbacks *cb, void *ctx);
/* 0, or -1 when the body is malformed or a callback stopped it. */
int visor_multipart_parser_feed(visor_multipart_parser *parser, const char *data, size_t len);
/* 1 once the closing delimiter was read. */
int visor_multipart_parser_done(const visor_multipart_parser *parser);
void visor_multipart_parser_free(visor_multipart_parser *parser);

/* ---- multipart.c ------------------------------------------------------------------- */

typedef enum visor_part_state {
  VISOR_PART_OPEN,     /* the sink handle is open and owned by the server */
  VISOR_PART_FINISHED, /* finish returned OK; still owned by the server */
  VISOR_PART_RELEASED, /* aborted, or handed to the route handler */
} visor_part_state;

typedef struct visor_http_part {
  char *field;
  char *filename; /* NULL for a text field */
  char *content_type;
  size_t size;
  visor_sha256 sha;
  char sha256[65];
  void *handle;
  visor_part_state state;
  char *value; /* text fields: the buffered value */
} visor_http_part;

/* ---- framing.c: the client's byte stream, framed and normalized for libmicrohttpd ---- */

/* What the framing sends in place of a malformed request head (a method no client gets
 * past the parser), and the trailer that ends a chunked body gone bad. */
#define VISOR_RELAY_ERROR_METHOD "VISOR-RELAY-ERROR"
#define VISOR_RELAY_ERROR_TRAILER "X-Visor-Relay-Error"

typedef struct visor_relay_reason {
  const char *name; /* in the error request's path, or the trailer's value */
  int status;
  const char *code;
  const char *message;
} visor_relay_reason;

/* The reason of that name ("malformed" for an unknown name). */
const visor_relay_reason *visor_relay_reason_named(const char *name);

typedef struct visor_http_framer {
  http_parser parser;
  char *out; /* the stream for libmicrohttpd: [0, ready) may go, [ready, len) is held */
  size_t len, ready, cap;
  int stopped;            /* no more client bytes are looked at */
  const char *failed;     /* the reason, once the stream ended with an error */
  int out_of_memory;      /* even the error could not be written */
  unsigned long requests; /* complete requests passed on */
  /* the message being parsed */
  int in_head, chunked, seen_field, drop_line, last;
  size_t url_len, line_start, field_len;
  char field[24];       /* the header name's first bytes */
  const char *reason;   /* set by a callback that refused */
  int crlf_left;        /* bytes of the CRLF after a chunk's data still to check */
  const char *feed_end; /* the end of the bytes being parsed */
  /* the raw bytes of a head, checked beside the parser */
  int head_phase; /* the bytes being parsed start in a head */
  int paused_at;  /* VISOR_FRAMER_PAUSED_*: where a callback stopped the parser */
  int raw_cr, raw_in_request_line;
  char raw_tail[9]; /* the request line's last bytes */
  size_t raw_tail_len;
} visor_http_framer;

enum { VISOR_FRAMER_PAUSED_HEAD = 1, VISOR_FRAMER_PAUSED_MESSAGE = 2 };

void visor_http_framer_init(visor_http_framer *f);
void visor_http_framer_free(visor_http_framer *f);
/* Parses len client bytes and appends what libmicrohttpd gets to f->out; after an error
 * f->stopped is set and the output ends with the error request or trailer. */
void visor_http_framer_feed(visor_http_framer *f, const char *data, size_t len);
/* n bytes of [0, ready) were passed on: drops them. */
void visor_http_framer_sent(visor_http_framer *f, size_t n);
/* The client is gone: a held head is dropped, nothing more is parsed. */
void visor_http_framer_client_gone(visor_http_framer *f);

/* ---- relay.c: Visor's accept loop and the byte relay in front of libmicrohttpd ------- */

typedef struct visor_http_relay visor_http_relay;
typedef struct visor_http_relay_thread visor_http_relay_thread;

/* Takes the listening socket (closed by stop_accepting or free). */
visor_http_relay *visor_http_relay_new(int listener, int threads);
/* Starts the threads; 0, or -1 when none started. */
int visor_http_relay_start(visor_http_relay *relay, struct MHD_Daemon *daemon);
/* Stops accepting and closes the listening socket; connections go on. */
void visor_http_relay_stop_accepting(visor_http_relay *relay);
/* After the daemon stopped: passes the last answers on (up to a second) and ends. */
void visor_http_relay_free(visor_http_relay *relay);

/* ---- connections (server.c, timer.c) ------------------------------------------------ */

typedef enum visor_conn_phase {
  VISOR_CONN_HEADERS, /* waiting for a request line and headers */
  VISOR_CONN_BODY,    /* reading the body */
  VISOR_CONN_BUSY,    /* handling or answering: no deadline */
  VISOR_CONN_PARKED,  /* suspended by visor_http_respond_later */
  VISOR_CONN_CUT,     /* the timer closed it */
} visor_conn_phase;

/* One TCP connection (MHD's socket context), in the server's list under timer_lock. */
typedef struct visor_http_conn {
  struct visor_http_conn *prev, *next;
  struct MHD_Connection *connection;
  int fd;
  double since; /* monotonic start of the phase */
  visor_conn_phase phase;
  int answered; /* requests answered on it */
} visor_http_conn;

/* ---- request ----------------------------------------------------------------------- */

struct visor_http_request {
  visor_http_server *server;
  struct MHD_Connection *connection;
  const visor_route *route;
  int fallback; /* handled by the server's fallback handler */
  char *method;
  char *raw_path; /* as sent, still percent-encoded */
  char *path;     /* decoded */
  char request_id[VISOR_HTTP_MAX_REQUEST_ID + 1];
  char client_ip[INET6_ADDRSTRLEN];
  double started; /* monotonic seconds */

  char **param_values; /* one per parameter of route, in pattern order */
  size_t nparams;
  char **query_names;
  char **query_values;
  size_t nquery;

  size_t max_body;
  size_t received; /* body bytes seen */
  char *body;
  size_t body_len, body_cap;
  json_t *json;

  int multipart;
  struct visor_multipart_parser *post;
  visor_http_part *parts;
  size_t nparts, parts_cap;
  visor_error part_error; /* why the multipart body failed, when part_failed */
  int part_failed;
  const char **field_names;
  const char **field_values;
  size_t nfields;
  visor_http_upload *uploads;
  size_t nuploads;

  visor_http_conn *conn;

  /* visor_http_respond_later */
  visor_http_recheck recheck;
  void *recheck_ctx;
  void (*recheck_free)(void *ctx);
  double wait_until, poll_s, next_check;
  double backoff_s; /* the next recheck interval: from 20 ms, doubling up to poll_s */
  int park_asked;   /* the handler asked to park */
  int parked;       /* suspended, in the server's parked list */
  int resumed;      /* answered by recheck; MHD calls back to queue it */
  struct visor_http_request *park_next;

  int failed; /* an error is in res; the rest of the body is read and dropped */
  int queued; /* a response was handed to MHD */
  int status; /* what was queued */
  uint64_t response_bytes;
  visor_http_response res;
};

visor_http_request *visor_http_request_new(visor_http_server *server,
                                           struct MHD_Connection *connection, const char *method,
                                           const char *url);
void visor_http_request_free(visor_http_request *req);
/* Reads the query arguments MHD parsed (still encoded) into req, decoded. 0 or -1 on a NUL
 * in a value or out of memory. */
int visor_http_request_load_query(visor_http_request *req);
/* Appends body bytes to the buffer (non-multipart). */
int visor_http_request_append_body(visor_http_request *req, const char *data, size_t len);

/* multipart.c */
int visor_http_multipart_begin(visor_http_request *req); /* 0, or -1 (400 in res) */
/* Feeds body bytes; -1 when the request failed (error in res). */
int visor_http_multipart_feed(visor_http_request *req, const char *data, size_t len);
/* At the end of the body: finishes the last part, checks the body was complete. */
int visor_http_multipart_end(visor_http_request *req);
/* Aborts every part handle the server still owns, and drops the parser. */
void visor_http_multipart_abort(visor_http_request *req);
/* Hands the parts to the handler: builds the uploads and fields arrays. */
int visor_http_multipart_hand_over(visor_http_request *req);

/* ---- rate_limit.c ------------------------------------------------------------------ */

typedef struct visor_rate_limiter visor_rate_limiter;
visor_rate_limiter *visor_rate_limiter_new(double per_second, int burst);
void visor_rate_limiter_free(visor_rate_limiter *limiter);
/* 1 if the client may go on; else 0 and *retry_after_s says when to come back. */
int visor_rate_limiter_take(visor_rate_limiter *limiter, const char *client, double now_s,
                            int *retry_after_s);

/* ---- access_log.c ------------------------------------------------------------------ */

void visor_http_access_record(const visor_http_request *req, int log_line);

/* ---- server ------------------------------------------------------------------------ */

struct visor_http_server {
  visor_http_config config;
  char *host;
  visor_router router;
  visor_http_handler fallback;
  void *fallback_ctx;
  struct MHD_Daemon *daemon;
  visor_http_relay *relay;
  visor_rate_limiter *limiter;
  pthread_mutex_t lock;
  pthread_cond_t idle; /* signalled when inflight drops to 0 */
  int inflight;
  atomic_int stopping;
  int port;

  /* timer.c: deadlines of connections and rechecks of parked requests */
  pthread_mutex_t timer_lock;
  pthread_cond_t timer_cond;
  pthread_t timer;
  atomic_int timer_running;
  int timer_quit, timer_busy, wakes;
  visor_http_conn *conns;
  visor_http_request *parked;
};

/* ---- timer.c ----------------------------------------------------------------------- */

void visor_http_timer_start(visor_http_server *server);
/* Answers every parked request (last = 1) and resumes them. */
void visor_http_timer_flush(visor_http_server *server);
void visor_http_timer_stop(visor_http_server *server);
/* MHD_OPTION_NOTIFY_CONNECTION */
void visor_http_on_connection(void *cls, struct MHD_Connection *connection, void **socket_context,
                              enum MHD_ConnectionNotificationCode code);
void visor_http_conn_phase(visor_http_request *req, visor_conn_phase phase);
/* After the handler asked to park: suspends the connection and lists it. */
void visor_http_park(visor_http_request *req);
/* Writes a complete 408 JSON answer straight to the socket (best effort). */
void visor_http_send_timeout(int fd, const char *what);

#endif
