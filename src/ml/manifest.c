/* manifest.c: reading and validating models.json with jansson. Every field is checked;
 * a bad or unknown field fails with a message that names it ("models[1].input.layout: ...").
 * Also finds which manifest to use and loads the label files. */
#include "ml/manifest.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#ifndef VISOR_DEFAULT_MANIFEST
#define VISOR_DEFAULT_MANIFEST "models/models.json"
#endif

#define DEFAULT_MAX_BATCH 16

/* Parsing context: the manifest's name and the JSON path of the current object. */
typedef struct parse_ctx {
  const char *source;
  visor_error *err;
} parse_ctx;

static visor_code bad(parse_ctx *ctx, const char *where, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static visor_code bad(parse_ctx *ctx, const char *where, const char *field, const char *fmt, ...) {
  char what[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(what, sizeof what, fmt, ap);
  va_end(ap);
  return visor_error_set(ctx->err, VISOR_ERR_INVALID, "manifest %s: %s%s%s: %s", ctx->source, where,
                         *where && *field ? "." : "", field, what);
}

/* Fails on keys not in allowed (NULL-terminated): catches typos like "colour" for "color". */
static visor_code check_keys(parse_ctx *ctx, const char *where, json_t *object,
                             const char *const *allowed) {
  const char *key;
  json_t *value;
  json_object_foreach(object, key, value) {
    int known = 0;
    for (size_t i = 0; allowed[i]; i++)
      if (strcmp(key, allowed[i]) == 0) known = 1;
    if (!known) return bad(ctx, where, key, "unknown field");
  }
  return VISOR_OK;
}

static visor_code get_string(parse_ctx *ctx, const char *where, json_t *object, const char *field,
                             int required, char *out, size_t size) {
  json_t *value = json_object_get(object, field);
  if (!value) return required ? bad(ctx, where, field, "missing (a string is required)") : VISOR_OK;
  if (!json_is_string(value)) return bad(ctx, where, field, "must be a string");
  const char *text = json_string_value(value);
  if (!*text) return bad(ctx, where, field, "must not be empty");
  if (strlen(text) >= size) return bad(ctx, where, field, "longer than %zu characters", size - 1);
  snprintf(out, size, "%s", text);
  return VISOR_OK;
}

static visor_code get_number(parse_ctx *ctx, const char *where, json_t *object, const char *field,
                             int required, double min, double max, double *out) {
  json_t *value = json_object_get(object, field);
  if (!value) return required ? bad(ctx, where, field, "missing (a number is required)") : VISOR_OK;
  if (!json_is_number(value)) return bad(ctx, where, field, "must be a number");
  double number = json_number_value(value);
  if (!isfinite(number) || number < min || number > max)
    return bad(ctx, where, field, "%g is out of range [%g, %g]", number, min, max);
  *out = number;
  return VISOR_OK;
}

static visor_code get_int(parse_ctx *ctx, const char *where, json_t *object, const char *field,
                          int required, long min, long max, long *out) {
  json_t *value = json_object_get(object, field);
  if (!value)
    return required ? bad(ctx, where, field, "missing (an integer is required)") : VISOR_OK;
  if (!json_is_integer(value)) return bad(ctx, where, field, "must be an integer");
  json_int_t number = json_integer_value(value);
  if (number < min || number > max)
    return bad(ctx, where, field, "%lld is out of range [%ld, %ld]", (long long)number, min, max);
  *out = (long)number;
  return VISOR_OK;
}

static visor_code get_bool(parse_ctx *ctx, const char *where, json_t *object, const char *field,
                           int *out) {
  json_t *value = json_object_get(object, field);
  if (!value) return VISOR_OK;
  if (!json_is_boolean(value)) return bad(ctx, where, field, "must be true or false");
  *out = json_is_true(value);
  return VISOR_OK;
}

/* One of the given names (case-insensitive) → its index. */
static visor_code get_choice(parse_ctx *ctx, const char *where, json_t *object, const char *field,
                             int required, const char *const *names, int *out) {
  char text[64] = "";
  visor_code code = get_string(ctx, where, object, field, required, text, sizeof text);
  if (code || !*text) return code;
  for (int i = 0; names[i]; i++)
    if (strcasecmp(text, names[i]) == 0) {
      *out = i;
      return VISOR_OK;
    }
  char list[256] = "";
  for (int i = 0; names[i]; i++) {
    strncat(list, i ? ", " : "", sizeof list - strlen(list) - 1);
    strncat(list, names[i], sizeof list - strlen(list) - 1);
  }
  return bad(ctx, where, field, "\"%s\" is not one of: %s", text, list);
}

static visor_code get_triple(parse_ctx *ctx, const char *where, json_t *object, const char *field,
                             int positive, float out[3]) {
  json_t *value = json_object_get(object, field);
  if (!value) return VISOR_OK;
  if (!json_is_array(value) || json_array_size(value) != 3)
    return bad(ctx, where, field, "must be an array of 3 numbers (R, G, B)");
  for (size_t i = 0; i < 3; i++) {
    json_t *item = json_array_get(value, i);
    if (!json_is_number(item)) return bad(ctx, where, field, "item %zu must be a number", i);
    double number = json_number_value(item);
    if (!isfinite(number) || (positive && number <= 0))
      return bad(ctx, where, field, "item %zu (%g) must be %s", i, number,
                 positive ? "> 0" : "finite");
    out[i] = (float)number;
  }
  return VISOR_OK;
}

static visor_code get_object(parse_ctx *ctx, const char *where, json_t *parent, const char *field,
                             int required, json_t **out) {
  *out = json_object_get(parent, field);
  if (!*out) return required ? bad(ctx, where, field, "missing (an object is required)") : VISOR_OK;
  if (!json_is_object(*out)) return bad(ctx, where, field, "must be an object");
  return VISOR_OK;
}

/* Resolves file against dir unless it is absolute. */
static visor_code resolve(parse_ctx *ctx, const char *where, const char *field, const char *dir,
                          const char *file, char *out, size_t size) {
  int n = file[0] == '/' ? snprintf(out, size, "%s", file)
                         : snprintf(out, size, "%s/%s", dir && *dir ? dir : ".", file);
  if (n < 0 || (size_t)n >= size) return bad(ctx, where, field, "path is too long");
  return VISOR_OK;
}

static visor_code load_labels(parse_ctx *ctx, const char *where, visor_model_spec *model) {
  FILE *file = fopen(model->labels_path, "r");
  if (!file)
    return visor_error_set(ctx->err, errno == ENOENT ? VISOR_ERR_NOT_FOUND : VISOR_ERR_IO,
                           "manifest %s: %s.labels: cannot open %s: %s", ctx->source, where,
                           model->labels_path, strerror(errno));
  char line[1024];
  size_t capacity = 0;
  visor_code code = VISOR_OK;
  while (fgets(line, sizeof line, file)) {
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
      line[--n] = '\0';
    if (model->label_count == capacity) {
      capacity = capacity ? capacity * 2 : 128;
      char **grown = realloc(model->labels, capacity * sizeof *grown);
      if (!grown) {
        code = visor_error_set(ctx->err, VISOR_ERR_NOMEM, "no memory for labels");
        break;
      }
      model->labels = grown;
    }
    model->labels[model->label_count] = strdup(line);
    if (!model->labels[model->label_count]) {
      code = visor_error_set(ctx->err, VISOR_ERR_NOMEM, "no memory for labels");
      break;
    }
    model->label_count++;
  }
  fclose(file);
  /* A trailing empty line is not a class. */
  while (!code && model->label_count > 0 && !model->labels[model->label_count - 1][0])
    free(model->labels[--model->label_count]);
  if (!code && model->label_count == 0)
    code = bad(ctx, where, "labels", "%s has no labels", model->labels_path);
  return code;
}

static const char *const task_names[] = {"detector", "embedder", "classifier", NULL};
static const char *const layout_names[] = {"NCHW", "NHWC", NULL};
static const char *const colour_names[] = {"RGB", "BGR", NULL};
static const char *const resize_names[] = {"letterbox", "center_crop", "stretch", NULL};
static const char *const format_names[] = {"yolox", NULL};

static visor_code parse_input(parse_ctx *ctx, const char *where, json_t *object,
                              visor_model_input *in) {
  static const char *const keys[] = {"name", "width", "height", "layout",     "color", "scale",
                                     "mean", "std",   "resize", "short_side", "fill",  NULL};
  visor_code code;
  long width = 0, height = 0, short_side = 0;
  double scale = 1.0, fill = 0.0;
  int layout = VISOR_LAYOUT_NCHW, colour = VISOR_COLOUR_RGB, resize = VISOR_RESIZE_STRETCH;
  in->mean[0] = in->mean[1] = in->mean[2] = 0.0f;
  in->std[0] = in->std[1] = in->std[2] = 1.0f;
  if ((code = check_keys(ctx, where, object, keys)) ||
      (code = get_string(ctx, where, object, "name", 1, in->name, sizeof in->name)) ||
      (code = get_int(ctx, where, object, "width", 1, 1, 8192, &width)) ||
      (code = get_int(ctx, where, object, "height", 1, 1, 8192, &height)) ||
      (code = get_choice(ctx, where, object, "layout", 1, layout_names, &layout)) ||
      (code = get_choice(ctx, where, object, "color", 1, colour_names, &colour)) ||
      (code = get_number(ctx, where, object, "scale", 1, 1e-12, 1e6, &scale)) ||
      (code = get_triple(ctx, where, object, "mean", 0, in->mean)) ||
      (code = get_triple(ctx, where, object, "std", 1, in->std)) ||
      (code = get_choice(ctx, where, object, "resize", 1, resize_names, &resize)) ||
      (code = get_int(ctx, where, object, "short_side", resize == VISOR_RESIZE_CENTER_CROP, 1,
                      16384, &short_side)) ||
      (code = get_number(ctx, where, object, "fill", 0, 0, 255, &fill)))
    return code;
  if (resize == VISOR_RESIZE_CENTER_CROP && (short_side < width || short_side < height))
    return bad(ctx, where, "short_side", "%ld must be >= width %ld and height %ld", short_side,
               width, height);
  in->width = (int)width;
  in->height = (int)height;
  in->layout = (visor_tensor_layout)layout;
  in->colour = (visor_colour_order)colour;
  in->scale = (float)scale;
  in->resize = (visor_resize_mode)resize;
  in->short_side = (int)short_side;
  in->fill = (float)fill;
  return VISOR_OK;
}

/* outputs.embedding.colour_histogram {hue, saturation, value, weight}: bins per channel and
 * the descriptor's weight; the version records them. */
static visor_code parse_colour(parse_ctx *ctx, const char *where, json_t *embedding,
                               visor_model_spec *model) {
  static const char *const keys[] = {"hue", "saturation", "value", "weight", NULL};
  json_t *object;
  visor_code code = get_object(ctx, where, embedding, "colour_histogram", 0, &object);
  if (code || !object) return code;
  char path[192];
  snprintf(path, sizeof path, "%s.colour_histogram", where);
  long hue = 0, saturation = 0, value = 0;
  double weight = 0.0;
  if ((code = check_keys(ctx, path, object, keys)) ||
      (code = get_int(ctx, path, object, "hue", 1, 1, 64, &hue)) ||
      (code = get_int(ctx, path, object, "saturation", 1, 1, 16, &saturation)) ||
      (code = get_int(ctx, path, object, "value", 1, 1, 16, &value)) ||
      (code = get_number(ctx, path, object, "weight", 1, 0.001, 100.0, &weight)))
    return code;
  model->colour = (visor_colour_bins){(int)hue, (int)saturation, (int)value};
  model->colour_weight = (float)weight;
  size_t used = strlen(model->version);
  int n = snprintf(model->version + used, sizeof model->version - used, "+hsv%ldx%ldx%ld@%g", hue,
                   saturation, value, weight);
  if (n < 0 || (size_t)n >= sizeof model->version - used)
    return bad(ctx, path, "", "the version with the colour descriptor is too long");
  return VISOR_OK;
}

static visor_code parse_outputs(parse_ctx *ctx, const char *where, json_t *outputs,
                                visor_model_spec *model) {
  static const char *const keys[] = {"detections", "embedding", "logits", NULL};
  static const char *const detection_keys[] = {"name", "format", "strides", NULL};
  static const char *const embedding_keys[] = {"name", "normalize", "colour_histogram", NULL};
  static const char *const logits_keys[] = {"name", "softmax", NULL};
  char path[160];
  json_t *object;
  visor_code code = check_keys(ctx, where, outputs, keys);
  if (code) return code;

  int detector = (model->tasks & VISOR_TASK_DETECTOR) != 0;
  if ((code = get_object(ctx, where, outputs, "detections", detector, &object))) return code;
  if (object) {
    int format = VISOR_DETECTION_YOLOX;
    snprintf(path, sizeof path, "%s.detections", where);
    if ((code = check_keys(ctx, path, object, detection_keys)) ||
        (code = get_string(ctx, path, object, "name", 1, model->detections_output,
                           sizeof model->detections_output)) ||
        (code = get_choice(ctx, path, object, "format", 1, format_names, &format)))
      return code;
    model->detection_format = (visor_detection_format)format;
    json_t *strides = json_object_get(object, "strides");
    if (strides) {
      if (!json_is_array(strides) || json_array_size(strides) == 0 ||
          json_array_size(strides) > VISOR_MANIFEST_MAX_STRIDES)
        return bad(ctx, path, "strides", "must be an array of 1 to %d integers",
                   VISOR_MANIFEST_MAX_STRIDES);
      model->stride_count = json_array_size(strides);
      for (size_t i = 0; i < model->stride_count; i++) {
        json_t *item = json_array_get(strides, i);
        if (!json_is_integer(item) || json_integer_value(item) < 1 ||
            json_integer_value(item) > 1024)
          return bad(ctx, path, "strides", "item %zu must be an integer in [1, 1024]", i);
        model->strides[i] = (int)json_integer_value(item);
      }
    } else {
      model->stride_count = 3;
      model->strides[0] = 8;
      model->strides[1] = 16;
      model->strides[2] = 32;
    }
  }
  if ((code = get_object(ctx, where, outputs, "embedding",
                         (model->tasks & VISOR_TASK_EMBEDDER) != 0, &object)))
    return code;
  if (object) {
    snprintf(path, sizeof path, "%s.embedding", where);
    if ((code = check_keys(ctx, path, object, embedding_keys)) ||
        (code = get_string(ctx, path, object, "name", 1, model->embedding_output,
                           sizeof model->embedding_output)) ||
        (code = get_bool(ctx, path, object, "normalize", &model->normalize)) ||
        (code = parse_colour(ctx, path, object, model)))
      return code;
  }
  if ((code = get_object(ctx, where, outputs, "logits", (model->tasks & VISOR_TASK_CLASSIFIER) != 0,
                         &object)))
    return code;
  if (object) {
    snprintf(path, sizeof path, "%s.logits", where);
    if ((code = check_keys(ctx, path, object, logits_keys)) ||
        (code = get_string(ctx, path, object, "name", 1, model->logits_output,
                           sizeof model->logits_output)) ||
        (code = get_bool(ctx, path, object, "softmax", &model->softmax)))
      return code;
  }
  return VISOR_OK;
}

static visor_code parse_model(parse_ctx *ctx, size_t index, json_t *object, const char *models_dir,
                              visor_model_spec *model) {
  static const char *const keys[] = {"name",      "version",  "file",       "sha256",
                                     "tasks",     "input",    "outputs",    "labels",
                                     "max_batch", "detector", "classifier", "description",
                                     "license",   "source",   NULL};
  static const char *const detector_keys[] = {"score_threshold", "nms_iou",        "max_detections",
                                              "min_box_size",    "class_agnostic", NULL};
  static const char *const classifier_keys[] = {"top_k", NULL};
  char where[64], path[96], file[1024] = "", labels[1024] = "";
  snprintf(where, sizeof where, "models[%zu]", index);
  if (!json_is_object(object)) return bad(ctx, where, "", "must be an object");

  model->normalize = 1;
  model->softmax = 1;
  model->score_threshold = 0.3f;
  model->nms_iou = 0.45f;
  model->max_detections = 20;
  model->min_box_size = 8.0f;
  model->top_k = VISOR_ML_MAX_LABELS;
  model->max_batch = DEFAULT_MAX_BATCH;

  visor_code code;
  json_t *tasks, *input, *outputs, *detector, *classifier;
  long max_batch = DEFAULT_MAX_BATCH;
  if ((code = check_keys(ctx, where, object, keys)) ||
      (code = get_string(ctx, where, object, "name", 1, model->name, sizeof model->name)) ||
      (code =
           get_string(ctx, where, object, "version", 1, model->version, sizeof model->version)) ||
      (code = get_string(ctx, where, object, "file", 1, file, sizeof file)) ||
      (code = get_string(ctx, where, object, "labels", 0, labels, sizeof labels)) ||
      (code = get_int(ctx, where, object, "max_batch", 0, 1, 1024, &max_batch)))
    return code;
  model->max_batch = (size_t)max_batch;

  tasks = json_object_get(object, "tasks");
  if (!tasks) return bad(ctx, where, "tasks", "missing (an array of detector/embedder/classifier)");
  if (!json_is_array(tasks) || json_array_size(tasks) == 0)
    return bad(ctx, where, "tasks", "must be a non-empty array of detector/embedder/classifier");
  for (size_t i = 0; i < json_array_size(tasks); i++) {
    json_t *task = json_array_get(tasks, i);
    int found = -1;
    for (int t = 0; task_names[t] && json_is_string(task); t++)
      if (strcmp(json_string_value(task), task_names[t]) == 0) found = t;
    if (found < 0)
      return bad(ctx, where, "tasks", "item %zu is not one of: detector, embedder, classifier", i);
    model->tasks |= 1u << found;
  }

  if ((code = get_object(ctx, where, object, "input", 1, &input))) return code;
  snprintf(path, sizeof path, "%s.input", where);
  if ((code = parse_input(ctx, path, input, &model->input))) return code;
  if ((model->tasks & VISOR_TASK_DETECTOR) && model->input.resize == VISOR_RESIZE_CENTER_CROP)
    return bad(ctx, path, "resize",
               "center_crop would cut objects off a detector's view: use letterbox or stretch");

  if ((code = get_object(ctx, where, object, "outputs", 1, &outputs))) return code;
  snprintf(path, sizeof path, "%s.outputs", where);
  if ((code = parse_outputs(ctx, path, outputs, model))) return code;

  if ((code = get_object(ctx, where, object, "detector", 0, &detector))) return code;
  if (detector) {
    double score = model->score_threshold, iou = model->nms_iou, min_size = model->min_box_size;
    long max_detections = (long)model->max_detections;
    snprintf(path, sizeof path, "%s.detector", where);
    if ((code = check_keys(ctx, path, detector, detector_keys)) ||
        (code = get_number(ctx, path, detector, "score_threshold", 0, 0, 1, &score)) ||
        (code = get_number(ctx, path, detector, "nms_iou", 0, 0, 1, &iou)) ||
        (code = get_int(ctx, path, detector, "max_detections", 0, 1, 1000, &max_detections)) ||
        (code = get_number(ctx, path, detector, "min_box_size", 0, 0, 1e6, &min_size)) ||
        (code = get_bool(ctx, path, detector, "class_agnostic", &model->class_agnostic)))
      return code;
    model->score_threshold = (float)score;
    model->nms_iou = (float)iou;
    model->min_box_size = (float)min_size;
    model->max_detections = (size_t)max_detections;
  }
  if ((code = get_object(ctx, where, object, "classifier", 0, &classifier))) return code;
  if (classifier) {
    long top_k = (long)model->top_k;
    snprintf(path, sizeof path, "%s.classifier", where);
    if ((code = check_keys(ctx, path, classifier, classifier_keys)) ||
        (code = get_int(ctx, path, classifier, "top_k", 0, 1, VISOR_ML_MAX_LABELS, &top_k)))
      return code;
    model->top_k = (size_t)top_k;
  }

  if ((code = resolve(ctx, where, "file", models_dir, file, model->path, sizeof model->path)))
    return code;
  if (access(model->path, R_OK) != 0)
    return visor_error_set(ctx->err, VISOR_ERR_NOT_FOUND,
                           "manifest %s: %s.file: cannot read %s: %s", ctx->source, where,
                           model->path, strerror(errno));
  if (*labels) {
    if ((code = resolve(ctx, where, "labels", models_dir, labels, model->labels_path,
                        sizeof model->labels_path)) ||
        (code = load_labels(ctx, where, model)))
      return code;
  } else if (model->tasks & (VISOR_TASK_DETECTOR | VISOR_TASK_CLASSIFIER)) {
    return bad(ctx, where, "labels", "missing: a detector or classifier needs its class names");
  }
  return VISOR_OK;
}

/* "use": {"detector": "name", ...} picks among several models with the same task. */
static visor_code pick_task(parse_ctx *ctx, json_t *use, visor_manifest *manifest,
                            visor_model_task task, const char *task_name, int *out) {
  *out = -1;
  json_t *chosen = use ? json_object_get(use, task_name) : NULL;
  if (chosen) {
    if (!json_is_string(chosen)) return bad(ctx, "use", task_name, "must be a model name");
    for (size_t i = 0; i < manifest->model_count; i++)
      if (strcmp(manifest->models[i].name, json_string_value(chosen)) == 0) {
        if (!(manifest->models[i].tasks & task))
          return bad(ctx, "use", task_name, "model \"%s\" does not list the task %s",
                     json_string_value(chosen), task_name);
        *out = (int)i;
        return VISOR_OK;
      }
    return bad(ctx, "use", task_name, "no model is named \"%s\"", json_string_value(chosen));
  }
  for (size_t i = 0; i < manifest->model_count; i++) {
    if (!(manifest->models[i].tasks & task)) continue;
    if (*out >= 0)
      return bad(ctx, "use", task_name, "models \"%s\" and \"%s\" are both %ss: name one here",
                 manifest->models[*out].name, manifest->models[i].name, task_name);
    *out = (int)i;
  }
  return VISOR_OK;
}

visor_code visor_manifest_parse(const char *json_text, const char *source, const char *models_dir,
                                visor_manifest *out, visor_error *err) {
  static const char *const keys[] = {"format", "models", "use", "description", NULL};
  static const char *const use_keys[] = {"detector", "embedder", "classifier", NULL};
  parse_ctx ctx = {source ? source : "(text)", err};
  memset(out, 0, sizeof *out);
  out->detector = out->embedder = out->classifier = -1;
  snprintf(out->path, sizeof out->path, "%s", ctx.source);

  json_error_t json_error;
  json_t *root = json_loads(json_text, 0, &json_error);
  if (!root)
    return visor_error_set(err, VISOR_ERR_INVALID, "manifest %s: line %d column %d: %s", ctx.source,
                           json_error.line, json_error.column, json_error.text);
  visor_code code = VISOR_OK;
  long format = 1;
  json_t *models, *use = NULL;
  if (!json_is_object(root)) {
    code = bad(&ctx, "", "", "the top level must be an object");
    goto done;
  }
  if ((code = check_keys(&ctx, "", root, keys)) ||
      (code = get_int(&ctx, "", root, "format", 1, 1, 1, &format)) ||
      (code = get_object(&ctx, "", root, "use", 0, &use)) ||
      (use && (code = check_keys(&ctx, "use", use, use_keys))))
    goto done;
  models = json_object_get(root, "models");
  if (!json_is_array(models) || json_array_size(models) == 0) {
    code = bad(&ctx, "", "models", "must be a non-empty array of models");
    goto done;
  }
  out->models = calloc(json_array_size(models), sizeof *out->models);
  if (!out->models) {
    code = visor_error_set(err, VISOR_ERR_NOMEM, "no memory for the manifest");
    goto done;
  }
  for (size_t i = 0; i < json_array_size(models); i++) {
    out->model_count = i + 1;
    if ((code = parse_model(&ctx, i, json_array_get(models, i), models_dir, &out->models[i])))
      goto done;
    for (size_t j = 0; j < i; j++)
      if (strcmp(out->models[j].name, out->models[i].name) == 0) {
        char where[32];
        snprintf(where, sizeof where, "models[%zu]", i);
        code = bad(&ctx, where, "name", "\"%s\" is used twice", out->models[i].name);
        goto done;
      }
  }
  if ((code = pick_task(&ctx, use, out, VISOR_TASK_DETECTOR, "detector", &out->detector)) ||
      (code = pick_task(&ctx, use, out, VISOR_TASK_EMBEDDER, "embedder", &out->embedder)) ||
      (code = pick_task(&ctx, use, out, VISOR_TASK_CLASSIFIER, "classifier", &out->classifier)))
    goto done;
  if (out->embedder < 0)
    code = bad(&ctx, "", "models", "no model has the task \"embedder\" (search needs one)");
done:
  json_decref(root);
  if (code) visor_manifest_free(out);
  return code;
}

visor_code visor_manifest_load(const char *path, const char *models_dir, visor_manifest *out,
                               visor_error *err) {
  memset(out, 0, sizeof *out);
  FILE *file = fopen(path, "rb");
  if (!file)
    return visor_error_set(err, errno == ENOENT ? VISOR_ERR_NOT_FOUND : VISOR_ERR_IO,
                           "cannot open the model manifest %s: %s", path, strerror(errno));
  char *text = NULL;
  size_t size = 0, capacity = 0;
  visor_code code = VISOR_OK;
  for (;;) {
    if (capacity - size < 4096) {
      char *grown = realloc(text, capacity = capacity ? capacity * 2 : 16384);
      if (!grown) {
        code = visor_error_set(err, VISOR_ERR_NOMEM, "no memory to read %s", path);
        break;
      }
      text = grown;
    }
    size_t n = fread(text + size, 1, capacity - size - 1, file);
    size += n;
    if (n == 0) break;
    if (size > (1u << 24)) {
      code = visor_error_set(err, VISOR_ERR_TOO_LARGE, "model manifest %s is over 16 MB", path);
      break;
    }
  }
  if (!code && ferror(file))
    code = visor_error_set(err, VISOR_ERR_IO, "cannot read the model manifest %s", path);
  fclose(file);
  if (!code) {
    text[size] = '\0';
    char dir[VISOR_MANIFEST_PATH_MAX];
    if (!models_dir) { /* default: the manifest's own folder */
      snprintf(dir, sizeof dir, "%s", path);
      char *slash = strrchr(dir, '/');
      if (slash)
        *slash = '\0';
      else
        snprintf(dir, sizeof dir, ".");
      models_dir = dir;
    }
    code = visor_manifest_parse(text, path, models_dir, out, err);
  }
  free(text);
  return code;
}

void visor_manifest_free(visor_manifest *manifest) {
  if (!manifest) return;
  for (size_t i = 0; i < manifest->model_count; i++) {
    for (size_t j = 0; j < manifest->models[i].label_count; j++)
      free(manifest->models[i].labels[j]);
    free(manifest->models[i].labels);
  }
  free(manifest->models);
  manifest->models = NULL;
  manifest->model_count = 0;
}

const visor_model_spec *visor_manifest_model(const visor_manifest *manifest,
                                             visor_model_task task) {
  int index = task == VISOR_TASK_DETECTOR   ? manifest->detector
              : task == VISOR_TASK_EMBEDDER ? manifest->embedder
                                            : manifest->classifier;
  return index >= 0 ? &manifest->models[index] : NULL;
}

visor_code visor_manifest_locate(const char *explicit_path, const char *models_dir, char *path,
                                 size_t size, visor_error *err) {
  int n;
  if (explicit_path && *explicit_path) {
    n = snprintf(path, size, "%s", explicit_path);
  } else {
    if (models_dir && *models_dir) {
      n = snprintf(path, size, "%s/models.json", models_dir);
      if (n > 0 && (size_t)n < size && access(path, F_OK) == 0) return VISOR_OK;
    }
    n = snprintf(path, size, "%s", VISOR_DEFAULT_MANIFEST);
  }
  if (n < 0 || (size_t)n >= size)
    return visor_error_set(err, VISOR_ERR_INVALID, "model manifest path is too long");
  return VISOR_OK;
}
