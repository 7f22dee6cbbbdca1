/* ml_http.c: visor_ml over HTTP against `visor ml` (wire format in wire.h, routes in
 * ml_server.c). analyze → POST /v1/analyze, embed_boxes → POST /v1/embed, embedder_info →
 * GET /v1/models (cached). Curl handles live in a small pool shared by all threads (a
 * handle keeps its connection alive between calls). The service's 4xx answers come back as
 * the matching visor_code with the service's own message; a service that cannot be reached,
 * times out or answers 5xx is VISOR_ERR_UNAVAILABLE (or the code it names) with the URL. */
#include "ml/ml_http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/wire.h"

#define POOL_SIZE 16
#define DEFAULT_TIMEOUT_MS 60000L
#define DEFAULT_CONNECT_TIMEOUT_MS 5000L
/* Up to this many boxes go in the query string; more go in a JSON body. */
#define QUERY_BOXES_MAX 32

typedef struct visor_ml_http {
  visor_ml base;
  char url[512];    /* as configured, for messages */
  char prefix[512]; /* scheme://host:port[/prefix], no trailing slash, no query */
  long timeout_ms, connect_timeout_ms;
  pthread_mutex_t lock;
  CURL *pool[POOL_SIZE];
  size_t pooled;
  int have_embedder;
  visor_model_info embedder;
} visor_ml_http;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_code;

static void init_curl(void) {
  curl_init_code = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- one call ----------------------------------------------------------------------- */

typedef struct growing {
  char *data;
  size_t len, cap;
} growing;

static size_t on_body(char *data, size_t size, size_t count, void *ctx) {
  growing *body = ctx;
  size_t len = size * count;
  if (body->len + len + 1 > body->cap) {
    size_t cap = body->cap ? body->cap : 16384;
    while (cap < body->len + len + 1)
      cap *= 2;
    char *grown = realloc(body->data, cap);
    if (!grown) return 0;
    body->data = grown;
    body->cap = cap;
  }
  memcpy(body->data + body->len, data, len);
  body->len += len;
  body->data[body->len] = '\0';
  return len;
}

static CURL *take_handle(visor_ml_http *h) {
  CURL *curl = NULL;
  pthread_mutex_lock(&h->lock);
  if (h->pooled) curl = h->pool[--h->pooled];
  pthread_mutex_unlock(&h->lock);
  return curl ? curl : curl_easy_init();
}

static void give_handle(visor_ml_http *h, CURL *curl) {
  pthread_mutex_lock(&h->lock);
  if (h->pooled < POOL_SIZE) {
    h->pool[h->pooled++] = curl;
    curl = NULL;
  }
  pthread_mutex_unlock(&h->lock);
  if (curl) curl_easy_cleanup(curl);
}

static visor_code code_from_name(const char *name, long status) {
  for (int c = VISOR_ERR_INVALID; c <= VISOR_ERR_INTERNAL; c++)
    if (name && strcmp(name, visor_code_name((visor_code)c)) == 0) return (visor_code)c;
  switch (status) {
  case 400:
    return VISOR_ERR_INVALID;
  case 404:
    return VISOR_ERR_NOT_FOUND;
  case 409:
    return VISOR_ERR_CONFLICT;
  case 413:
    return VISOR_ERR_TOO_LARGE;
  case 415:
    return VISOR_ERR_UNSUPPORTED;
  case 429:
  case 502:
  case 503:
  case 504:
    return VISOR_ERR_UNAVAILABLE;
  default:
    return status >= 400 && status < 500 ? VISOR_ERR_INVALID : VISOR_ERR_INTERNAL;
  }
}

/* An error answer → err: 4xx keep the service's message as it is (it is about the caller's
 * input); others name the service. */
static visor_code answer_error(visor_ml_http *h, const char *path, long status, const growing *body,
                               visor_error *err) {
  json_t *json = body->data ? json_loadb(body->data, body->len, 0, NULL) : NULL;
  json_t *error = json_object_get(json, "error");
  const char *name = json_string_value(json_object_get(error, "code"));
  const char *message = json_string_value(json_object_get(error, "message"));
  visor_code code = code_from_name(name, status);
  if (status == 405 || status == 404) code = VISOR_ERR_INTERNAL; /* a route we expect */
  if (status == 429) code = VISOR_ERR_UNAVAILABLE;
  if (status >= 400 && status < 500 && status != 404 && status != 405 && message)
    visor_error_set(err, code, "%s", message);
  else
    visor_error_set(err, code, "ML service %s: %s answered %ld: %s", h->url, path, status,
                    message ? message : "(no error message)");
  json_decref(json);
  return code;
}

/* GET (body NULL) or POST path; a 2xx JSON answer in *out. */
static visor_code call(visor_ml_http *h, const char *path, const char *content_type,
                       const void *body, size_t len, json_t **out, visor_error *err) {
  *out = NULL;
  size_t url_len = strlen(h->prefix) + strlen(path) + 1;
  char *url = malloc(url_len);
  CURL *curl = take_handle(h);
  struct curl_slist *headers = NULL;
  if (!url || !curl) {
    free(url);
    if (curl) curl_easy_cleanup(curl);
    return visor_error_set(err, VISOR_ERR_NOMEM, "ML service %s: no memory for a request", h->url);
  }
  snprintf(url, url_len, "%s%s", h->prefix, path);
  growing answer = {0};
  char curl_message[CURL_ERROR_SIZE] = "";
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, h->timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_message);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  headers = curl_slist_append(headers, "Accept: application/json");
  if (body) {
    char type_header[128];
    snprintf(type_header, sizeof type_header, "Content-Type: %s", content_type);
    headers = curl_slist_append(headers, type_header);
    headers = curl_slist_append(headers, "Expect:"); /* no 100-continue round trip */
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  visor_code code = VISOR_OK;
  if (rc != CURLE_OK) {
    const char *why = curl_message[0] ? curl_message : curl_easy_strerror(rc);
    int down = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
               rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_GOT_NOTHING ||
               rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR ||
               rc == CURLE_COULDNT_RESOLVE_PROXY;
    code = visor_error_set(err, down ? VISOR_ERR_UNAVAILABLE : VISOR_ERR_IO,
                           "ML service %s is unavailable: %s: %s", h->url, path, why);
  } else {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300) {
      code = answer_error(h, path, status, &answer, err);
    } else {
      json_error_t error;
      *out = answer.data ? json_loadb(answer.data, answer.len, 0, &error) : NULL;
      if (!*out)
        code = visor_error_set(err, VISOR_ERR_INTERNAL, "ML service %s: %s: the answer is not JSON",
                               h->url, path);
    }
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
  curl_slist_free_all(headers);
  free(answer.data);
  free(url);
  /* A handle whose connection failed is not worth keeping. */
  if (rc != CURLE_OK)
    curl_easy_cleanup(curl);
  else
    give_handle(h, curl);
  return code;
}

/* ---- operations --------------------------------------------------------------------- */

static visor_code http_analyze(visor_ml *ml, const void *image, size_t len,
                               const visor_analyze_options *options, visor_analysis *out,
                               visor_error *err) {
  visor_ml_http *h = (visor_ml_http *)ml;
  memset(out, 0, sizeof *out);
  char path[256];
  size_t n = (size_t)snprintf(path, sizeof path, "/v1/analyze");
  char sep = '?';
  if (options && options->min_score > 0) {
    n += (size_t)snprintf(path + n, sizeof path - n, "%cmin_score=%.9g", sep,
                          (double)options->min_score);
    sep = '&';
  }
  if (options && options->max_regions) {
    n +=
        (size_t)snprintf(path + n, sizeof path - n, "%cmax_regions=%zu", sep, options->max_regions);
    sep = '&';
  }
  if (options && options->skip_embeddings) {
    n += (size_t)snprintf(path + n, sizeof path - n, "%cskip_embeddings=1", sep);
    sep = '&';
  }
  for (size_t i = 0; options && i < options->view_count && i < VISOR_ML_MAX_VIEWS; i++) {
    n +=
        (size_t)snprintf(path + n, sizeof path - n, "%s%.9g",
                         i ? "," : (sep == '?' ? "?views=" : "&views="), (double)options->views[i]);
  }
  json_t *json;
  visor_code code = call(h, path, "application/octet-stream", image ? image : "", len, &json, err);
  if (code) return code;
  code = visor_wire_parse_analysis(json, out, err);
  json_decref(json);
  if (code) return visor_error_wrap(err, "ML service %s: bad /v1/analyze answer", h->url);
  return VISOR_OK;
}

/* Boxes as x,y,w,h;... (%.9g keeps every float exact) into path. */
static char *boxes_path(const visor_region *regions, size_t count) {
  size_t size = 32 + count * 4 * 20;
  char *path = malloc(size);
  if (!path) return NULL;
  size_t n = (size_t)snprintf(path, size, "/v1/embed?boxes=");
  for (size_t i = 0; i < count; i++) {
    const visor_box *b = &regions[i].box;
    n += (size_t)snprintf(path + n, size - n, "%s%.9g,%.9g,%.9g,%.9g", i ? "%3B" : "", (double)b->x,
                          (double)b->y, (double)b->w, (double)b->h);
  }
  return path;
}

static visor_code http_embed_boxes(visor_ml *ml, const void *image, size_t len,
                                   visor_region *regions, size_t count, visor_error *err) {
  visor_ml_http *h = (visor_ml_http *)ml;
  if (count == 0) return VISOR_OK;
  if (!regions) return visor_error_set(err, VISOR_ERR_INVALID, "embed_boxes: no regions");
  for (size_t i = 0; i < count; i++) {
    regions[i].embedding = NULL;
    regions[i].label_count = 0;
  }
  json_t *answer = NULL;
  visor_code code;
  if (count <= QUERY_BOXES_MAX) {
    char *path = boxes_path(regions, count);
    if (!path) return visor_error_set(err, VISOR_ERR_NOMEM, "no memory for %zu boxes", count);
    code = call(h, path, "application/octet-stream", image ? image : "", len, &answer, err);
    free(path);
  } else {
    char *data = visor_base64_encode(image ? image : "", len);
    json_t *boxes = json_array(), *body = NULL;
    for (size_t i = 0; boxes && i < count; i++) {
      const visor_box *b = &regions[i].box;
      json_array_append_new(
          boxes, json_pack("[f, f, f, f]", (double)b->x, (double)b->y, (double)b->w, (double)b->h));
    }
    if (data && boxes) body = json_pack("{s:s, s:O}", "image_base64", data, "boxes", boxes);
    json_decref(boxes);
    free(data);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) return visor_error_set(err, VISOR_ERR_NOMEM, "no memory for %zu boxes", count);
    code = call(h, "/v1/embed", "application/json", text, strlen(text), &answer, err);
    free(text);
  }
  if (code) return code;
  json_t *list = json_object_get(answer, "regions");
  json_t *dim_json = json_object_get(answer, "dim");
  size_t dim = json_is_integer(dim_json) ? (size_t)json_integer_value(dim_json) : 0;
  if (!json_is_array(list) || json_array_size(list) != count || dim == 0) {
    json_decref(answer);
    return visor_error_set(err, VISOR_ERR_INTERNAL,
                           "ML service %s: /v1/embed answered %zu regions of dim %zu for %zu "
                           "boxes",
                           h->url, json_array_size(list), dim, count);
  }
  for (size_t i = 0; !code && i < count; i++) {
    visor_region parsed = {0};
    code = visor_wire_parse_region(json_array_get(list, i), dim, &parsed, err);
    if (!code && !parsed.embedding)
      code = visor_error_set(err, VISOR_ERR_INTERNAL, "region %zu has no embedding", i);
    if (code) {
      free(parsed.embedding);
      visor_error_wrap(err, "ML service %s: bad /v1/embed answer", h->url);
      break;
    }
    memcpy(regions[i].labels, parsed.labels, sizeof parsed.labels);
    regions[i].label_count = parsed.label_count;
    regions[i].embedding = parsed.embedding;
  }
  json_decref(answer);
  if (code)
    for (size_t i = 0; i < count; i++) {
      free(regions[i].embedding);
      regions[i].embedding = NULL;
      regions[i].label_count = 0;
    }
  return code;
}

static visor_code http_embedder_info(visor_ml *ml, visor_model_info *info, visor_error *err) {
  visor_ml_http *h = (visor_ml_http *)ml;
  pthread_mutex_lock(&h->lock);
  int have = h->have_embedder;
  if (have) *info = h->embedder;
  pthread_mutex_unlock(&h->lock);
  if (have) return VISOR_OK;
  json_t *json;
  visor_code code = call(h, "/v1/models", NULL, NULL, 0, &json, err);
  if (code) return code;
  code = visor_wire_parse_model_info(json_object_get(json, "embedder"), info, err);
  json_decref(json);
  if (!code && (!info->name[0] || !info->dim))
    code = visor_error_set(err, VISOR_ERR_INTERNAL, "ML service %s has no embedder", h->url);
  if (code) return visor_error_wrap(err, "ML service %s: /v1/models", h->url);
  pthread_mutex_lock(&h->lock);
  h->embedder = *info;
  h->have_embedder = 1;
  pthread_mutex_unlock(&h->lock);
  return VISOR_OK;
}

static void http_close(visor_ml *ml) {
  visor_ml_http *h = (visor_ml_http *)ml;
  if (!h) return;
  for (size_t i = 0; i < h->pooled; i++)
    curl_easy_cleanup(h->pool[i]);
  pthread_mutex_destroy(&h->lock);
  free(h);
}

static const visor_ml_ops http_ops = {http_analyze, http_embed_boxes, http_embedder_info,
                                      http_close};

/* ?timeout_ms=N&connect_timeout_ms=N */
static visor_code parse_url_options(visor_ml_http *h, const char *query, visor_error *err) {
  while (query && *query) {
    const char *end = strchr(query, '&');
    size_t n = end ? (size_t)(end - query) : strlen(query);
    char item[128];
    if (n >= sizeof item) n = sizeof item - 1;
    memcpy(item, query, n);
    item[n] = '\0';
    char *eq = strchr(item, '=');
    char *stop = NULL;
    long value = eq ? strtol(eq + 1, &stop, 10) : 0;
    if (!eq || stop == eq + 1 || *stop || value <= 0)
      return visor_error_set(err, VISOR_ERR_INVALID,
                             "ML service URL %s: option \"%s\" is not name=milliseconds", h->url,
                             item);
    *eq = '\0';
    if (strcmp(item, "timeout_ms") == 0)
      h->timeout_ms = value;
    else if (strcmp(item, "connect_timeout_ms") == 0)
      h->connect_timeout_ms = value;
    else
      return visor_error_set(err, VISOR_ERR_INVALID,
                             "ML service URL %s: unknown option \"%s\" (timeout_ms, "
                             "connect_timeout_ms)",
                             h->url, item);
    query = end ? end + 1 : NULL;
  }
  return VISOR_OK;
}

visor_ml *visor_ml_http_open(const visor_ml_config *config, visor_error *err) {
  pthread_once(&curl_once, init_curl);
  if (curl_init_code != CURLE_OK) {
    visor_error_set(err, VISOR_ERR_INTERNAL, "libcurl start-up failed: %s",
                    curl_easy_strerror(curl_init_code));
    return NULL;
  }
  const char *url = config->url;
  size_t scheme = strncmp(url, "https://", 8) == 0 ? 8 : 7;
  if (strlen(url) >= sizeof((visor_ml_http *)0)->url || strlen(url) <= scheme) {
    visor_error_set(err, VISOR_ERR_INVALID, "ML service URL \"%.600s\" is empty or too long", url);
    return NULL;
  }
  visor_ml_http *h = calloc(1, sizeof *h);
  if (!h) {
    visor_error_set(err, VISOR_ERR_NOMEM, "no memory for the ML client");
    return NULL;
  }
  h->base.ops = &http_ops;
  pthread_mutex_init(&h->lock, NULL);
  h->timeout_ms = DEFAULT_TIMEOUT_MS;
  h->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
  snprintf(h->url, sizeof h->url, "%s", url);
  snprintf(h->prefix, sizeof h->prefix, "%s", url);
  char *query = strchr(h->prefix, '?');
  if (query) *query++ = '\0';
  size_t n = strlen(h->prefix);
  while (n > scheme && h->prefix[n - 1] == '/')
    h->prefix[--n] = '\0';
  if (parse_url_options(h, query, err)) {
    http_close(&h->base);
    return NULL;
  }
  return &h->base;
}
