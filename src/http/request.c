/* request.c: one HTTP request as route handlers see it: method, decoded path, request id,
 * path parameters, query arguments (decoded), headers, client address, the buffered body
 * and its JSON parse; and the request's own allocation and release. */
#include "http/http_internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "http/request_parse.h"

/* A client's X-Request-Id is kept when it is 1..64 characters of [A-Za-z0-9._:-]. */
int visor_http_sane_request_id(const char *id) {
  size_t len = id ? strlen(id) : 0;
  if (len == 0 || len > VISOR_HTTP_MAX_REQUEST_ID) return 0;
  for (size_t i = 0; i < len; i++)
    if (!isalnum((unsigned char)id[i]) && !strchr("._:-", id[i])) return 0;
  return 1;
}

static void load_client_ip(visor_http_request *req) {
  strcpy(req->client_ip, "unknown");
  const union MHD_ConnectionInfo *info =
      MHD_get_connection_info(req->connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (!info || !info->client_addr) return;
  const struct sockaddr *addr = info->client_addr;
  if (addr->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, req->client_ip,
              sizeof req->client_ip);
  else if (addr->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)addr)->sin6_addr, req->client_ip,
              sizeof req->client_ip);
}

visor_http_request *visor_http_request_new(visor_http_server *server,
                                           struct MHD_Connection *connection, const char *method,
                                           const char *url) {
  visor_http_request *req = calloc(1, sizeof *req);
  if (!req) return NULL;
  req->server = server;
  req->connection = connection;
  req->started = visor_monotonic_s();
  req->method = strdup(method);
  req->raw_path = strdup(url);
  int had_nul = 0;
  req->path = req->raw_path ? visor_http_url_decode(url, strlen(url), 0, &had_nul) : NULL;
  if (!req->method || !req->raw_path || !req->path) {
    visor_http_request_free(req);
    return NULL;
  }
  const char *client_id = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, "X-Request-Id");
  if (visor_http_sane_request_id(client_id))
    strcpy(req->request_id, client_id);
  else
    visor_uuid_new(req->request_id);
  req->res.request_id = req->request_id;
  req->res.status = 500;
  load_client_ip(req);
  return req;
}

void visor_http_request_free(visor_http_request *req) {
  if (!req) return;
  visor_http_multipart_abort(req);
  if (req->recheck_free) req->recheck_free(req->recheck_ctx);
  for (size_t i = 0; i < req->nparts; i++) {
    visor_http_part *part = &req->parts[i];
    free(part->field);
    free(part->filename);
    free(part->content_type);
    free(part->value);
  }
  free(req->parts);
  free(req->field_names);
  free(req->field_values);
  free(req->uploads);
  for (size_t i = 0; i < req->nparams; i++)
    free(req->param_values[i]);
  free(req->param_values);
  for (size_t i = 0; i < req->nquery; i++) {
    free(req->query_names[i]);
    free(req->query_values[i]);
  }
  free(req->query_names);
  free(req->query_values);
  json_decref(req->json);
  free(req->body);
  free(req->method);
  free(req->raw_path);
  free(req->path);
  visor_http_response_clear(&req->res);
  free(req);
}

/* ---- query ------------------------------------------------------------------------- */

typedef struct query_load {
  visor_http_request *req;
  int failed;
} query_load;

static enum MHD_Result add_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value) {
  (void)kind;
  query_load *load = cls;
  visor_http_request *req = load->req;
  char **names = realloc(req->query_names, (req->nquery + 1) * sizeof *names);
  if (names) req->query_names = names;
  char **values = names ? realloc(req->query_values, (req->nquery + 1) * sizeof *values) : NULL;
  if (values) req->query_values = values;
  if (!names || !values) {
    load->failed = 1;
    return MHD_NO;
  }
  int nul_in_key = 0, nul_in_value = 0;
  char *name = visor_http_url_decode(key, strlen(key), 1, &nul_in_key);
  char *decoded =
      value ? visor_http_url_decode(value, strlen(value), 1, &nul_in_value) : strdup("");
  if (!name || !decoded || nul_in_key || nul_in_value) {
    free(name);
    free(decoded);
    load->failed = 1;
    return MHD_NO;
  }
  names[req->nquery] = name;
  values[req->nquery] = decoded;
  req->nquery++;
  return MHD_YES;
}

int visor_http_request_load_query(visor_http_request *req) {
  query_load load = {req, 0};
  MHD_get_connection_values(req->connection, MHD_GET_ARGUMENT_KIND, add_query, &load);
  return load.failed ? -1 : 0;
}

/* ---- body -------------------------------------------------------------------------- */

int visor_http_request_append_body(visor_http_request *req, const char *data, size_t len) {
  if (req->body_len + len + 1 > req->body_cap) {
    size_t capacity = req->body_cap ? req->body_cap : 4096;
    while (capacity < req->body_len + len + 1)
      capacity *= 2;
    char *body = realloc(req->body, capacity);
    if (!body) return -1;
    req->body = body;
    req->body_cap = capacity;
  }
  memcpy(req->body + req->body_len, data, len);
  req->body_len += len;
  req->body[req->body_len] = '\0';
  return 0;
}

/* ---- accessors --------------------------------------------------------------------- */

const char *visor_http_method(const visor_http_request *req) {
  return req->method;
}

const char *visor_http_path(const visor_http_request *req) {
  return req->path;
}

const char *visor_http_request_id(const visor_http_request *req) {
  return req->request_id;
}

const char *visor_http_param(const visor_http_request *req, const char *name) {
  if (!req->route || !name) return NULL;
  size_t n = 0;
  for (size_t i = 0; i < req->route->nsegments; i++) {
    if (!req->route->is_param[i]) continue;
    if (strcmp(req->route->segments[i], name) == 0)
      return n < req->nparams ? req->param_values[n] : NULL;
    n++;
  }
  return NULL;
}

const char *visor_http_query(const visor_http_request *req, const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; i < req->nquery; i++)
    if (strcmp(req->query_names[i], name) == 0) return req->query_values[i];
  return NULL;
}

const char *visor_http_header(const visor_http_request *req, const char *name) {
  if (!name) return NULL;
  return MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, name);
}

const char *visor_http_client_ip(const visor_http_request *req) {
  return req->client_ip;
}

const char *visor_http_body(const visor_http_request *req, size_t *len) {
  if (len) *len = req->body_len;
  return req->body ? req->body : "";
}

int visor_http_is_multipart(const visor_http_request *req) {
  return req->multipart;
}

/* "application/json" or "application/json; charset=utf-8", or a +json type. */
int visor_http_is_json_type(const char *type) {
  size_t len = strcspn(type, ";");
  while (len && (type[len - 1] == ' ' || type[len - 1] == '\t'))
    len--;
  if (len == 16 && strncasecmp(type, "application/json", 16) == 0) return 1;
  return len > 5 && strncasecmp(type + len - 5, "+json", 5) == 0;
}

/* The name of the object member whose value is the number ending at end of body (a
 * number jansson refused as out of range), into out; 0 when it is not a member's value. */
static int member_before(const char *body, size_t end, char *out, size_t size) {
  size_t i = end;
  while (i > 0 && strchr("0123456789+-.eE", body[i - 1]))
    i--;
  while (i > 0 && strchr(" \t\r\n", body[i - 1]))
    i--;
  if (i == 0 || body[i - 1] != ':') return 0;
  i--;
  while (i > 0 && strchr(" \t\r\n", body[i - 1]))
    i--;
  if (i == 0 || body[i - 1] != '"') return 0;
  size_t close = --i;
  while (i > 0 && !(body[i - 1] == '"' && (i < 2 || body[i - 2] != '\\')))
    i--;
  if (i == 0 || close - i >= size) return 0;
  for (size_t k = i; k < close; k++)
    if ((unsigned char)body[k] < 0x20) return 0;
  memcpy(out, body + i, close - i);
  out[close - i] = '\0';
  return 1;
}

json_t *visor_http_json_body(visor_http_request *req, visor_http_response *res) {
  if (req->json) return req->json;
  const char *type = visor_http_header(req, MHD_HTTP_HEADER_CONTENT_TYPE);
  if (type && *type && !visor_http_is_json_type(type)) {
    visor_http_respond_error(res, 415, "unsupported_media_type",
                             "the request body must be application/json, not %s", type);
    return NULL;
  }
  if (req->body_len == 0) {
    visor_http_respond_error(res, 400, "invalid_argument",
                             "the request body is empty; expected a JSON object");
    return NULL;
  }
  json_error_t error;
  json_t *json = json_loadb(req->body, req->body_len, 0, &error);
  if (!json) {
    char member[80];
    if (json_error_code(&error) == json_error_numeric_overflow &&
        member_before(req->body, (size_t)error.position, member, sizeof member))
      visor_http_respond_error(res, 400, "invalid_argument",
                               "field '%s' must be a finite number: %s (line %d, column %d)",
                               member, error.text, error.line, error.column);
    else
      visor_http_respond_error(res, 400, "invalid_argument",
                               "the request body is not valid JSON: %s (line %d, column %d)",
                               error.text, error.line, error.column);
    return NULL;
  }
  if (!json_is_object(json)) {
    json_decref(json);
    visor_http_respond_error(res, 400, "invalid_argument",
                             "the request body must be a JSON object");
    return NULL;
  }
  req->json = json;
  return json;
}
