/* response.c: what a handler answers with: JSON, the one JSON error shape
 * {"error":{"code":...,"message":...,"request_id":...}}, bytes, or a stream read chunk by
 * chunk (blob downloads); extra headers; and turning that into a queued libmicrohttpd
 * response that always carries Content-Type and X-Request-Id. */
#include "http/http_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STREAM_BLOCK_SIZE (64 * 1024)

static void free_headers(visor_http_response *res) {
  for (size_t i = 0; i < res->nheaders; i++) {
    free(res->header_names[i]);
    free(res->header_values[i]);
  }
  free(res->header_names);
  free(res->header_values);
  res->header_names = res->header_values = NULL;
  res->nheaders = 0;
}

/* Drops the body (and stream context) but keeps headers. */
static void clear_body(visor_http_response *res) {
  free(res->data);
  free(res->content_type);
  if (res->kind == VISOR_RESPONSE_STREAM && res->free_ctx) res->free_ctx(res->read_ctx);
  res->data = NULL;
  res->content_type = NULL;
  res->len = 0;
  res->stream_len = 0;
  res->read = NULL;
  res->read_ctx = NULL;
  res->free_ctx = NULL;
  res->kind = VISOR_RESPONSE_NONE;
}

void visor_http_response_clear(visor_http_response *res) {
  clear_body(res);
  free_headers(res);
}

static void set_buffer(visor_http_response *res, int status, const char *content_type, char *data,
                       size_t len) {
  clear_body(res);
  res->kind = VISOR_RESPONSE_BUFFER;
  res->status = status;
  res->content_type = strdup(content_type ? content_type : "application/octet-stream");
  res->data = data;
  res->len = len;
}

static const char internal_error_body[] =
    "{\"error\":{\"code\":\"out_of_memory\",\"message\":\"out of memory building the response\"}}";

static void set_out_of_memory(visor_http_response *res) {
  char *copy = strdup(internal_error_body);
  set_buffer(res, 500, "application/json", copy, copy ? strlen(copy) : 0);
}

void visor_http_respond_json(visor_http_response *res, int status, json_t *body) {
  if (!body) {
    visor_http_respond_error(res, 500, "internal", "handler gave no JSON body");
    return;
  }
  char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
  json_decref(body);
  if (!text) {
    set_out_of_memory(res);
    return;
  }
  set_buffer(res, status, "application/json", text, strlen(text));
}

static int status_of_code_name(const char *code_name) {
  for (int code = VISOR_OK; code <= VISOR_ERR_INTERNAL; code++)
    if (strcmp(visor_code_name((visor_code)code), code_name) == 0)
      return visor_code_http_status((visor_code)code);
  if (strcmp(code_name, "not_found") == 0) return 404;
  if (strcmp(code_name, "method_not_allowed") == 0) return 405;
  if (strcmp(code_name, "rate_limited") == 0) return 429;
  return 500;
}

static void respond_error_text(visor_http_response *res, int status, const char *code_name,
                               const char *message) {
  if (!code_name) code_name = "internal";
  if (status <= 0) status = status_of_code_name(code_name);
  json_t *error = json_pack("{s:s, s:s}", "code", code_name, "message", message);
  if (error && res->request_id)
    json_object_set_new(error, "request_id", json_string(res->request_id));
  json_t *body = error ? json_pack("{s:o}", "error", error) : NULL;
  if (!body) {
    set_out_of_memory(res);
    return;
  }
  visor_http_respond_json(res, status, body);
}

void visor_http_respond_error(visor_http_response *res, int status, const char *code_name,
                              const char *fmt, ...) {
  char message[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(message, sizeof message, fmt, ap);
  va_end(ap);
  respond_error_text(res, status, code_name, message);
}

void visor_http_respond_visor_error(visor_http_response *res, const visor_error *err) {
  if (!err || err->code == VISOR_OK) {
    respond_error_text(res, 500, "internal", "unknown error");
    return;
  }
  respond_error_text(res, visor_code_http_status(err->code), visor_code_name(err->code),
                     err->message);
}

void visor_http_respond_bytes(visor_http_response *res, int status, const char *content_type,
                              void *data, size_t len) {
  if (!data && len) {
    visor_http_respond_error(res, 500, "internal", "handler gave no data for %zu bytes", len);
    return;
  }
  set_buffer(res, status, content_type, data, len);
}

void visor_http_respond_stream(visor_http_response *res, int status, const char *content_type,
                               uint64_t len, visor_http_reader read, void *ctx,
                               void (*free_ctx)(void *ctx)) {
  if (!read) {
    if (free_ctx) free_ctx(ctx);
    visor_http_respond_error(res, 500, "internal", "handler gave a stream without a reader");
    return;
  }
  clear_body(res);
  res->kind = VISOR_RESPONSE_STREAM;
  res->status = status;
  res->content_type = strdup(content_type ? content_type : "application/octet-stream");
  res->stream_len = len;
  res->read = read;
  res->read_ctx = ctx;
  res->free_ctx = free_ctx;
}

void visor_http_set_header(visor_http_response *res, const char *name, const char *value) {
  if (!name || !value || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) return;
  for (size_t i = 0; i < res->nheaders; i++)
    if (strcasecmp(res->header_names[i], name) == 0) {
      char *copy = strdup(value);
      if (!copy) return;
      free(res->header_values[i]);
      res->header_values[i] = copy;
      return;
    }
  char **names = realloc(res->header_names, (res->nheaders + 1) * sizeof *names);
  if (!names) return;
  res->header_names = names;
  char **values = realloc(res->header_values, (res->nheaders + 1) * sizeof *values);
  if (!values) return;
  res->header_values = values;
  names[res->nheaders] = strdup(name);
  values[res->nheaders] = strdup(value);
  if (!names[res->nheaders] || !values[res->nheaders]) {
    free(names[res->nheaders]);
    free(values[res->nheaders]);
    return;
  }
  res->nheaders++;
}

uint64_t visor_http_response_size(const visor_http_response *res) {
  return res->kind == VISOR_RESPONSE_STREAM ? res->stream_len : res->len;
}

/* ---- streaming ---------------------------------------------------------------------- */

typedef struct stream_state {
  uint64_t len;
  visor_http_reader read;
  void *ctx;
  void (*free_ctx)(void *ctx);
} stream_state;

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
  stream_state *state = cls;
  if (pos >= state->len) return MHD_CONTENT_READER_END_OF_STREAM;
  if (max > state->len - pos) max = (size_t)(state->len - pos);
  long n = state->read(state->ctx, pos, buf, max);
  /* 0 before the announced length would make MHD poll forever: treat it as an error. */
  if (n <= 0 || (size_t)n > max) return MHD_CONTENT_READER_END_WITH_ERROR;
  return (ssize_t)n;
}

static void stream_free(void *cls) {
  stream_state *state = cls;
  if (state->free_ctx) state->free_ctx(state->ctx);
  free(state);
}

static struct MHD_Response *make_stream(visor_http_response *res) {
  stream_state *state = malloc(sizeof *state);
  if (!state) return NULL;
  *state = (stream_state){res->stream_len, res->read, res->read_ctx, res->free_ctx};
  struct MHD_Response *response = MHD_create_response_from_callback(
      res->stream_len, STREAM_BLOCK_SIZE, stream_read, state, stream_free);
  if (!response) {
    free(state);
    return NULL;
  }
  /* the context now belongs to MHD's response */
  res->read_ctx = NULL;
  res->free_ctx = NULL;
  return response;
}

static struct MHD_Response *make_buffer(visor_http_response *res) {
  struct MHD_Response *response =
      MHD_create_response_from_buffer_with_free_callback(res->len, res->data, free);
  if (response) res->data = NULL; /* MHD frees it */
  return response;
}

enum MHD_Result visor_http_response_queue(visor_http_response *res,
                                          struct MHD_Connection *connection, int close_after) {
  if (res->kind == VISOR_RESPONSE_NONE)
    visor_http_respond_error(res, 500, "internal", "the handler sent no response");
  if (!res->content_type) set_out_of_memory(res);
  struct MHD_Response *response =
      res->kind == VISOR_RESPONSE_STREAM ? make_stream(res) : make_buffer(res);
  if (!response) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                          res->content_type ? res->content_type : "application/octet-stream");
  if (res->request_id) MHD_add_response_header(response, "X-Request-Id", res->request_id);
  for (size_t i = 0; i < res->nheaders; i++)
    MHD_add_response_header(response, res->header_names[i], res->header_values[i]);
  if (close_after) MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
  enum MHD_Result queued = MHD_queue_response(connection, (unsigned int)res->status, response);
  MHD_destroy_response(response);
  return queued;
}
