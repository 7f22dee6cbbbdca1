/* ml_server.c: the HTTP routes of `visor ml` (see ml_server.h). A request's image is
 * decoded and run through the detector on the request's own thread; its region crops go
 * through the batchers (one per embedder / labeller session), which run crops of
 * concurrent requests as one ONNX Runtime batch. */
#include "ml/ml_server.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/metrics.h"
#include "ml/batcher.h"
#include "ml/ml_local.h"
#include "ml/wire.h"

#define DEFAULT_MAX_BODY (25u * 1024u * 1024u)
#define MAX_BOXES 256
#define MAX_REGIONS_LIMIT 1000

struct visor_ml_service {
  visor_ml *local;
  visor_ml_service_config config;
  visor_batcher *batchers[2];
  size_t batcher_count;
  visor_ml_runner runner; /* through the batchers */
};

/* ---- batching ----------------------------------------------------------------------- */

static visor_code service_run(void *ctx, visor_onnx_session *session, const float *input,
                              size_t batch, const char *const *names, size_t count,
                              float *const *outputs, visor_error *err) {
  visor_ml_service *service = ctx;
  for (size_t i = 0; i < service->batcher_count; i++)
    if (visor_batcher_session(service->batchers[i]) == session)
      return visor_batcher_run(service->batchers[i], input, batch, names, count, outputs, err);
  return visor_onnx_session_run(session, input, batch, names, count, outputs, err);
}

static const visor_ml_runner *runner_of(visor_ml_service *service) {
  return service->batcher_count ? &service->runner : NULL;
}

visor_ml_service *visor_ml_service_new(visor_ml *local, const visor_ml_service_config *config,
                                       visor_error *err) {
  visor_ml_service *service = calloc(1, sizeof *service);
  if (!service) {
    visor_error_set(err, VISOR_ERR_NOMEM, "no memory for the ML service");
    return NULL;
  }
  service->local = local;
  if (config) service->config = *config;
  if (!service->config.max_body) service->config.max_body = DEFAULT_MAX_BODY;
  service->runner = (visor_ml_runner){service_run, service};
  if (service->config.max_batch > 1) {
    visor_ml_crop_session sessions[2];
    size_t n = visor_ml_local_crop_sessions(local, sessions, 2);
    visor_model_info embedder;
    visor_ml_local_models(local, &embedder, NULL, NULL);
    int runners = service->config.runners;
    if (runners <= 0) {
      long cpus = sysconf(_SC_NPROCESSORS_ONLN);
      runners = cpus < 1                           ? 1
                : cpus > VISOR_BATCHER_MAX_RUNNERS ? VISOR_BATCHER_MAX_RUNNERS
                                                   : (int)cpus;
    }
    for (size_t i = 0; i < n; i++) {
      service->batchers[i] = visor_batcher_new(
          sessions[i].session, sessions[i].names, sessions[i].name_count, service->config.max_batch,
          service->config.batch_wait_ms, runners, i == 0 ? embedder.name : "labeller", err);
      if (!service->batchers[i]) {
        visor_ml_service_free(service);
        return NULL;
      }
      service->batcher_count = i + 1;
    }
  }
  return service;
}

void visor_ml_service_get_stats(visor_ml_service *service, visor_ml_service_stats *stats) {
  memset(stats, 0, sizeof *stats);
  for (size_t i = 0; i < service->batcher_count; i++) {
    visor_batcher_stats one;
    visor_batcher_get_stats(service->batchers[i], &one);
    stats->batches += one.batches;
    stats->crops += one.items;
    if (one.largest > stats->largest) stats->largest = one.largest;
  }
}

void visor_ml_service_free(visor_ml_service *service) {
  if (!service) return;
  for (size_t i = 0; i < service->batcher_count; i++)
    visor_batcher_free(service->batchers[i]);
  free(service);
}

/* ---- request parsing ---------------------------------------------------------------- */

/* image/..., application/octet-stream, or none (sniffed): the body is the image. */
static int is_image_type(const char *type) {
  if (!type || !*type) return 1;
  return strncasecmp(type, "image/", 6) == 0 ||
         strncasecmp(type, "application/octet-stream", 24) == 0;
}

static int is_json_type(const char *type) {
  return type && strncasecmp(type, "application/json", 16) == 0;
}

/* The image bytes of a request whose body is the image; responds and returns NULL when
 * there are none. */
static const char *image_body(visor_http_request *req, visor_http_response *res, size_t *len) {
  const char *type = visor_http_header(req, "Content-Type");
  if (!is_image_type(type)) {
    visor_http_respond_error(res, 415, "unsupported_media_type",
                             "the body must be the image (Content-Type image/* or "
                             "application/octet-stream), not %.100s",
                             type);
    return NULL;
  }
  const char *body = visor_http_body(req, len);
  if (*len == 0) {
    visor_http_respond_error(res, 400, "invalid_argument",
                             "the request body is empty; send "
                             "the image bytes");
    return NULL;
  }
  return body;
}

static int parse_flag(const char *text, int *out) {
  if (!strcmp(text, "1") || !strcasecmp(text, "true") || !strcasecmp(text, "yes"))
    *out = 1;
  else if (!strcmp(text, "0") || !strcasecmp(text, "false") || !strcasecmp(text, "no"))
    *out = 0;
  else
    return -1;
  return 0;
}

/* "0.8,0.6": up to VISOR_ML_MAX_VIEWS fractions in (0, 1] into options->views. */
static int parse_views(const char *text, visor_analyze_options *options) {
  options->view_count = 0;
  while (*text) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno || !isfinite(v) || v <= 0 || v > 1 ||
        options->view_count >= VISOR_ML_MAX_VIEWS || (*end && *end != ','))
      return -1;
    options->views[options->view_count++] = (float)v;
    text = *end ? end + 1 : end;
    if (*end && !*text) return -1; /* a trailing comma */
  }
  return options->view_count ? 0 : -1;
}

/* min_score, max_regions, skip_embeddings, views from the query; responds 400 on a bad
 * one. */
static int parse_options(visor_http_request *req, visor_http_response *res,
                         visor_analyze_options *options) {
  memset(options, 0, sizeof *options);
  const char *text = visor_http_query(req, "min_score");
  if (text) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (!*text || *end || errno || !isfinite(v) || v < 0 || v > 1) {
      visor_http_respond_error(res, 400, "invalid_argument",
                               "min_score \"%.64s\" must be a number from 0 to 1", text);
      return -1;
    }
    options->min_score = (float)v;
  }
  if ((text = visor_http_query(req, "max_regions"))) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!*text || *end || errno || v < 1 || v > MAX_REGIONS_LIMIT) {
      visor_http_respond_error(res, 400, "invalid_argument",
                               "max_regions \"%.64s\" must be an integer from 1 to %d", text,
                               MAX_REGIONS_LIMIT);
      return -1;
    }
    options->max_regions = (size_t)v;
  }
  if ((text = visor_http_query(req, "skip_embeddings")) &&
      parse_flag(text, &options->skip_embeddings)) {
    visor_http_respond_error(res, 400, "invalid_argument",
                             "skip_embeddings \"%.64s\" must be true or false (1 or 0)", text);
    return -1;
  }
  if ((text = visor_http_query(req, "views")) && parse_views(text, options)) {
    visor_http_respond_error(res, 400, "invalid_argument",
                             "views \"%.64s\" must be up to %d comma-separated fractions in (0, 1]",
                             text, VISOR_ML_MAX_VIEWS);
    return -1;
  }
  return 0;
}

/* "x,y,w,h;x,y,w,h" (also '|' or a JSON array) → boxes (count ≤ MAX_BOXES). */
static visor_code parse_boxes_query(const char *text, visor_box *boxes, size_t *count,
                                    visor_error *err) {
  *count = 0;
  while (isspace((unsigned char)*text))
    text++;
  if (*text == '[') {
    json_error_t error;
    json_t *json = json_loads(text, 0, &error);
    if (!json || !json_is_array(json)) {
      json_decref(json);
      return visor_error_set(err, VISOR_ERR_INVALID, "boxes is not a JSON array: %s",
                             json ? "not an array" : error.text);
    }
    visor_code code = VISOR_OK;
    if (json_array_size(json) > MAX_BOXES)
      code = visor_error_set(err, VISOR_ERR_INVALID, "%zu boxes; at most %d per request",
                             json_array_size(json), MAX_BOXES);
    for (size_t i = 0; !code && i < json_array_size(json); i++) {
      code = visor_wire_parse_box(json_array_get(json, i), &boxes[i], err);
      if (code)
        visor_error_wrap(err, "box %zu", i);
      else
        *count = i + 1;
    }
    json_decref(json);
    return code;
  }
  const char *at = text;
  while (*at) {
    if (*count == MAX_BOXES)
      return visor_error_set(err, VISOR_ERR_INVALID, "more than %d boxes per request", MAX_BOXES);
    float v[4];
    for (int i = 0; i < 4; i++) {
      char *end;
      errno = 0;
      double d = strtod(at, &end);
      if (end == at || errno || !isfinite(d))
        return visor_error_set(err, VISOR_ERR_INVALID,
                               "boxes: box %zu is not x,y,w,h numbers (at \"%.32s\")", *count, at);
      v[i] = (float)d;
      at = end;
      if (i < 3) {
        if (*at != ',')
          return visor_error_set(err, VISOR_ERR_INVALID,
                                 "boxes: box %zu needs 4 comma-separated numbers", *count);
        at++;
      }
    }
    boxes[(*count)++] = (visor_box){v[0], v[1], v[2], v[3]};
    if (*at == ';' || *at == '|')
      at++;
    else if (*at)
      return visor_error_set(err, VISOR_ERR_INVALID,
                             "boxes: expected ';' between boxes (at \"%.32s\")", at);
  }
  if (*count == 0) return visor_error_set(err, VISOR_ERR_INVALID, "boxes is empty");
  return VISOR_OK;
}

/* The image and boxes of /v1/embed and /v1/label: the image as the body with
 * ?boxes=x,y,w,h;..., or a JSON body {"image_base64": "...", "boxes": [{x,y,w,h}, ...]}.
 * *owned is set when the image was decoded from base64 (caller frees). */
static int image_and_boxes(visor_http_request *req, visor_http_response *res, const char **image,
                           size_t *len, void **owned, visor_box *boxes, size_t *count) {
  visor_error err = {0};
  *owned = NULL;
  if (is_json_type(visor_http_header(req, "Content-Type"))) {
    json_t *body = visor_http_json_body(req, res);
    if (!body) return -1;
    json_t *data = json_object_get(body, "image_base64");
    json_t *list = json_object_get(body, "boxes");
    if (!json_is_string(data) || json_string_length(data) == 0) {
      visor_http_respond_error(res, 400, "invalid_argument",
                               "the JSON body needs \"image_base64\": the image as base64");
      return -1;
    }
    if (!json_is_array(list) || json_array_size(list) == 0 || json_array_size(list) > MAX_BOXES) {
      visor_http_respond_error(res, 400, "invalid_argument",
                               "the JSON body needs \"boxes\": an array of 1 to %d boxes "
                               "{\"x\",\"y\",\"w\",\"h\"}",
                               MAX_BOXES);
      return -1;
    }
    for (size_t i = 0; i < json_array_size(list); i++)
      if (visor_wire_parse_box(json_array_get(list, i), &boxes[i], &err)) {
        visor_http_respond_error(res, 400, "invalid_argument", "box %zu: %s", i, err.message);
        return -1;
      }
    *count = json_array_size(list);
    if (visor_base64_decode(json_string_value(data), json_string_length(data), owned, len, &err)) {
      visor_http_respond_error(res, 400, "invalid_argument", "image_base64: %s", err.message);
      return -1;
    }
    if (*len == 0) {
      free(*owned);
      *owned = NULL;
      visor_http_respond_error(res, 400, "invalid_argument", "image_base64 is empty");
      return -1;
    }
    *image = *owned;
    return 0;
  }
  const char *text = visor_http_query(req, "boxes");
  if (!(*image = image_body(req, res, len))) return -1;
  if (!text) {
    visor_http_respond_error(res, 400, "invalid_argument",
                             "which regions? add ?boxes=x,y,w,h;x,y,w,h (original image "
                             "pixels) or send JSON {\"image_base64\", \"boxes\"}");
    return -1;
  }
  if (parse_boxes_query(text, boxes, count, &err)) {
    visor_http_respond_visor_error(res, &err);
    return -1;
  }
  return 0;
}

/* ---- routes ------------------------------------------------------------------------- */

static void respond_json_or_nomem(visor_http_response *res, json_t *json) {
  if (!json)
    visor_http_respond_error(res, 500, "out_of_memory", "cannot build the answer");
  else
    visor_http_respond_json(res, 200, json);
}

static void analyze_common(visor_http_request *req, visor_http_response *res,
                           visor_ml_service *service, int detect_only) {
  size_t len;
  visor_analyze_options options;
  const char *image = image_body(req, res, &len);
  if (!image || parse_options(req, res, &options)) return;
  unsigned skip = detect_only ? VISOR_ML_SKIP_EMBEDDINGS | VISOR_ML_SKIP_LABELS : 0;
  visor_analysis analysis;
  visor_error err = {0};
  if (visor_ml_local_analyze(service->local, image, len, &options, skip, runner_of(service),
                             &analysis, &err)) {
    visor_http_respond_visor_error(res, &err);
    return;
  }
  unsigned parts = detect_only ? VISOR_WIRE_DETECTOR
                               : VISOR_WIRE_DETECTOR | VISOR_WIRE_LABELS | VISOR_WIRE_EMBEDDING;
  json_t *json = visor_wire_analysis(&analysis, parts);
  if (json && detect_only) json_object_del(json, "labeller");
  visor_analysis_free(&analysis);
  respond_json_or_nomem(res, json);
}

static void analyze_route(visor_http_request *req, visor_http_response *res, void *ctx) {
  analyze_common(req, res, ctx, 0);
}

static void detect_route(visor_http_request *req, visor_http_response *res, void *ctx) {
  analyze_common(req, res, ctx, 1);
}

static void boxes_common(visor_http_request *req, visor_http_response *res,
                         visor_ml_service *service, int label_only) {
  const char *image;
  size_t len, count = 0;
  void *owned = NULL;
  visor_box *boxes = malloc(MAX_BOXES * sizeof *boxes);
  visor_region *regions = NULL;
  if (!boxes) {
    visor_http_respond_error(res, 500, "out_of_memory", "no memory for boxes");
    return;
  }
  if (image_and_boxes(req, res, &image, &len, &owned, boxes, &count)) goto done;
  regions = calloc(count, sizeof *regions);
  if (!regions) {
    visor_http_respond_error(res, 500, "out_of_memory", "no memory for %zu regions", count);
    goto done;
  }
  for (size_t i = 0; i < count; i++)
    regions[i].box = boxes[i];
  visor_error err = {0};
  unsigned skip = label_only ? VISOR_ML_SKIP_EMBEDDINGS : 0;
  if (visor_ml_local_embed_boxes(service->local, image, len, regions, count, skip,
                                 runner_of(service), &err)) {
    visor_http_respond_visor_error(res, &err);
    goto done;
  }
  visor_model_info embedder, labeller;
  visor_ml_local_models(service->local, &embedder, NULL, &labeller);
  size_t dim = label_only ? 0 : embedder.dim;
  json_t *list = json_array();
  for (size_t i = 0; list && i < count; i++) {
    json_t *region = visor_wire_region(&regions[i], dim, VISOR_WIRE_LABELS | VISOR_WIRE_EMBEDDING);
    if (!region || json_array_append_new(list, region)) {
      json_decref(list);
      list = NULL;
    }
  }
  json_t *json = NULL;
  if (list) {
    json = json_pack("{s:I, s:o}", "dim", (json_int_t)dim, "regions", list);
    if (json && !label_only)
      json_object_set_new(json, "embedder", visor_wire_model_info(&embedder));
    if (json) json_object_set_new(json, "labeller", visor_wire_model_info(&labeller));
  }
  respond_json_or_nomem(res, json);
done:
  for (size_t i = 0; regions && i < count; i++)
    free(regions[i].embedding);
  free(regions);
  free(boxes);
  free(owned);
}

static void embed_route(visor_http_request *req, visor_http_response *res, void *ctx) {
  boxes_common(req, res, ctx, 0);
}

static void label_route(visor_http_request *req, visor_http_response *res, void *ctx) {
  boxes_common(req, res, ctx, 1);
}

static json_t *task_names(unsigned tasks) {
  json_t *list = json_array();
  if (tasks & VISOR_TASK_DETECTOR) json_array_append_new(list, json_string("detector"));
  if (tasks & VISOR_TASK_EMBEDDER) json_array_append_new(list, json_string("embedder"));
  if (tasks & VISOR_TASK_CLASSIFIER) json_array_append_new(list, json_string("labeller"));
  return list;
}

static void models_route(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)req;
  visor_ml_service *service = ctx;
  const visor_manifest *manifest = visor_ml_local_manifest(service->local);
  visor_model_info embedder, detector, labeller;
  visor_ml_local_models(service->local, &embedder, &detector, &labeller);
  json_t *models = json_array();
  for (size_t i = 0; i < manifest->model_count; i++) {
    const visor_model_spec *spec = &manifest->models[i];
    json_t *model = json_pack("{s:s, s:s, s:o, s:{s:i, s:i}, s:I}", "name", spec->name, "version",
                              spec->version, "tasks", task_names(spec->tasks), "input", "width",
                              spec->input.width, "height", spec->input.height, "labels",
                              (json_int_t)spec->label_count);
    if (model && (spec->tasks & VISOR_TASK_EMBEDDER) && strcmp(spec->name, embedder.name) == 0)
      json_object_set_new(model, "dim", json_integer((json_int_t)embedder.dim));
    json_array_append_new(models, model);
  }
  size_t batch = service->batcher_count ? service->config.max_batch : 1;
  json_t *json = json_pack(
      "{s:o, s:o, s:o, s:o, s:{s:b, s:I, s:i}}", "models", models, "embedder",
      visor_wire_model_info(&embedder), "detector", visor_wire_model_info(&detector), "labeller",
      visor_wire_model_info(&labeller), "batching", "enabled", service->batcher_count > 0,
      "max_batch", (json_int_t)batch, "max_wait_ms", service->config.batch_wait_ms);
  respond_json_or_nomem(res, json);
}

static void readyz_route(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)req;
  visor_ml_service *service = ctx;
  visor_model_info embedder;
  visor_ml_local_models(service->local, &embedder, NULL, NULL);
  /* The models are loaded before the server starts: up means ready. */
  visor_http_respond_json(res, 200,
                          json_pack("{s:s, s:s}", "status", "ready", "embedder", embedder.name));
}

visor_code visor_ml_service_register(visor_ml_service *service, visor_http_server *server,
                                     visor_error *err) {
  /* JSON bodies carry the image as base64 (4/3 of its size). */
  size_t json_max = service->config.max_body / 3 * 4 + 64 * 1024;
  visor_route_options image_route = {.max_body = service->config.max_body};
  visor_route_options boxes_route = {.max_body = json_max};
  visor_route_options probe = {.no_rate_limit = 1};
  struct {
    const char *method, *pattern;
    visor_http_handler handler;
    const visor_route_options *options;
  } routes[] = {
      {"POST", "/v1/analyze", analyze_route, &image_route},
      {"POST", "/v1/detect", detect_route, &image_route},
      {"POST", "/v1/embed", embed_route, &boxes_route},
      {"POST", "/v1/label", label_route, &boxes_route},
      {"GET", "/v1/models", models_route, NULL},
      {"GET", "/healthz", visor_http_healthz_handler, &probe},
      {"GET", "/readyz", readyz_route, &probe},
      {"GET", "/metrics", visor_http_metrics_handler, &probe},
  };
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    visor_code code = visor_http_route(server, routes[i].method, routes[i].pattern,
                                       routes[i].handler, service, routes[i].options, err);
    if (code) return code;
  }
  return VISOR_OK;
}
