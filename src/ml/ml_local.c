/* ml_local.c: the in-process visor_ml backend. analyze decodes the image once, detects
 * objects, puts the whole-image region first and the asked-for views last, then labels and
 * embeds every region in batched inference calls; embed_boxes does the same for given
 * boxes. */
#include "ml/ml_local.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/detector.h"
#include "ml/embedder.h"
#include "ml/labeller.h"
#include "ml/onnx_session.h"

typedef struct visor_ml_local {
  visor_ml base;
  visor_manifest manifest;
  const visor_model_spec *detector, *embedder, *classifier;
  visor_onnx_session *detector_session, *embedder_session, *classifier_session;
  size_t max_pixels;
} visor_ml_local;

static void model_info(const visor_model_spec *spec, size_t dim, visor_model_info *info) {
  memset(info, 0, sizeof *info);
  if (!spec) return;
  snprintf(info->name, sizeof info->name, "%s", spec->name);
  snprintf(info->version, sizeof info->version, "%s", spec->version);
  info->dim = dim;
}

/* Labels and (unless skip_embeddings) embeds count regions whose boxes are in decoded
 * pixels; embeddings are malloc'd per region. */
static visor_code label_and_embed(visor_ml_local *local, const visor_rgb_image *image,
                                  const visor_box *boxes, size_t count, visor_region *regions,
                                  unsigned skip, const visor_ml_runner *runner, visor_error *err) {
  size_t dim = visor_embedder_dim(local->embedder_session, local->embedder);
  int skip_embeddings = (skip & VISOR_ML_SKIP_EMBEDDINGS) != 0;
  const visor_model_spec *classifier = skip & VISOR_ML_SKIP_LABELS ? NULL : local->classifier;
  int shared = classifier && local->classifier_session == local->embedder_session;
  size_t classes = classifier ? classifier->label_count : 0;
  float *embeddings = NULL, *logits = NULL;
  visor_code code = VISOR_OK;
  if (!skip_embeddings && !(embeddings = malloc(count * dim * sizeof(float))))
    return visor_error_set(err, VISOR_ERR_NOMEM, "no memory for %zu embeddings", count);
  if (shared && !(logits = malloc(count * classes * sizeof(float)))) {
    free(embeddings);
    return visor_error_set(err, VISOR_ERR_NOMEM, "no memory for %zu label scores", count);
  }
  if (embeddings || logits)
    code = visor_embedder_run_with(local->embedder_session, local->embedder, image, boxes, count,
                                   embeddings, logits, runner, err);
  if (!code && shared) {
    size_t k = classifier->top_k;
    for (size_t i = 0; i < count; i++)
      regions[i].label_count =
          visor_labeller_top_k(logits + i * classes, classes, classifier->softmax,
                               classifier->labels, k, regions[i].labels);
  } else if (!code && classifier) {
    code = visor_labeller_label_with(local->classifier_session, classifier, image, boxes, count,
                                     regions, runner, err);
  }
  for (size_t i = 0; !code && embeddings && i < count; i++) {
    regions[i].embedding = malloc(dim * sizeof(float));
    if (!regions[i].embedding) {
      code = visor_error_set(err, VISOR_ERR_NOMEM, "no memory for an embedding");
      break;
    }
    memcpy(regions[i].embedding, embeddings + i * dim, dim * sizeof(float));
  }
  if (code)
    for (size_t i = 0; i < count; i++) {
      free(regions[i].embedding);
      regions[i].embedding = NULL;
    }
  free(embeddings);
  free(logits);
  return code;
}

/* The centred box of fraction of a width x height image. */
static visor_box centred_box(float width, float height, float fraction) {
  float w = width * fraction, h = height * fraction;
  return (visor_box){(width - w) / 2, (height - h) / 2, w, h};
}

visor_code visor_ml_local_analyze(visor_ml *ml, const void *data, size_t len,
                                  const visor_analyze_options *options, unsigned skip,
                                  const visor_ml_runner *runner, visor_analysis *out,
                                  visor_error *err) {
  visor_ml_local *local = (visor_ml_local *)ml;
  memset(out, 0, sizeof *out);
  visor_image_info info;
  visor_code code = visor_image_probe(data, len, local->max_pixels, &info, err);
  if (code) return code;
  visor_rgb_image image = {0};
  float scale = 1.0f;
  code = visor_image_decode_rgb(data, len, local->max_pixels, VISOR_ML_DECODE_MAX_SIDE, &image,
                                &scale, err);
  if (code) return code;

  visor_detection *detections = NULL;
  size_t detection_count = 0;
  visor_box *boxes = NULL;
  size_t max_regions = options && options->max_regions ? options->max_regions : 0;
  if (local->detector) {
    visor_detect_params params = visor_detect_defaults(local->detector);
    if (options && options->min_score > 0) params.score_threshold = options->min_score;
    params.min_box_size *= scale; /* the minimum is in original pixels */
    if (!max_regions) max_regions = 1 + params.max_detections;
    if (max_regions - 1 < params.max_detections) params.max_detections = max_regions - 1;
    if (params.max_detections > 0)
      code = visor_detector_detect(local->detector_session, local->detector, &image, &params,
                                   &detections, &detection_count, err);
    if (code) {
      visor_error_wrap(err, "detector %s", local->detector->name);
      goto done;
    }
  }
  size_t views = options ? options->view_count : 0;
  if (views > VISOR_ML_MAX_VIEWS) views = VISOR_ML_MAX_VIEWS;
  size_t count = 1 + detection_count + views;
  out->regions = calloc(count, sizeof *out->regions);
  boxes = malloc(count * sizeof *boxes);
  if (!out->regions || !boxes) {
    code = visor_error_set(err, VISOR_ERR_NOMEM, "no memory for %zu regions", count);
    goto done;
  }
  out->region_count = count;
  boxes[0] = (visor_box){0, 0, (float)image.width, (float)image.height};
  out->regions[0].box = (visor_box){0, 0, (float)info.width, (float)info.height};
  out->regions[0].whole_image = 1;
  out->regions[0].detector.score = 1.0f;
  for (size_t i = 0; i < detection_count; i++) {
    visor_region *region = &out->regions[1 + i];
    const visor_box *box = &detections[i].box;
    boxes[1 + i] = *box;
    /* decoded pixels → original pixels, clipped */
    float x0 = box->x / scale, y0 = box->y / scale;
    float x1 = fminf((float)info.width, (box->x + box->w) / scale);
    float y1 = fminf((float)info.height, (box->y + box->h) / scale);
    region->box = (visor_box){x0, y0, x1 - x0, y1 - y0};
    int class_id = detections[i].class_id;
    visor_label_short_name(class_id >= 0 && (size_t)class_id < local->detector->label_count
                               ? local->detector->labels[class_id]
                               : "",
                           region->detector.name, sizeof region->detector.name);
    region->detector.score = detections[i].score;
  }
  for (size_t i = 0; i < views; i++) {
    float fraction = options->views[i] > 0 && options->views[i] <= 1 ? options->views[i] : 1;
    visor_region *region = &out->regions[1 + detection_count + i];
    region->box = centred_box((float)info.width, (float)info.height, fraction);
    /* a box thinner than a decoded pixel is widened around its centre by preprocess */
    boxes[1 + detection_count + i] = centred_box((float)image.width, (float)image.height, fraction);
    snprintf(region->detector.name, sizeof region->detector.name, "view");
  }
  if (options && options->skip_embeddings) skip |= VISOR_ML_SKIP_EMBEDDINGS;
  if ((code = label_and_embed(local, &image, boxes, count, out->regions, skip, runner, err)))
    goto done;

  out->width = info.width;
  out->height = info.height;
  snprintf(out->format, sizeof out->format, "%s", info.format);
  out->dim = skip & VISOR_ML_SKIP_EMBEDDINGS
                 ? 0
                 : visor_embedder_dim(local->embedder_session, local->embedder);
  model_info(local->embedder, visor_embedder_dim(local->embedder_session, local->embedder),
             &out->embedder);
  model_info(local->detector, 0, &out->detector);
  model_info(local->classifier, 0, &out->labeller);
done:
  if (code) visor_analysis_free(out);
  free(boxes);
  free(detections);
  visor_rgb_image_free(&image);
  return code;
}

static visor_code local_analyze(visor_ml *ml, const void *data, size_t len,
                                const visor_analyze_options *options, visor_analysis *out,
                                visor_error *err) {
  return visor_ml_local_analyze(ml, data, len, options, 0, NULL, out, err);
}

visor_code visor_ml_local_embed_boxes(visor_ml *ml, const void *data, size_t len,
                                      visor_region *regions, size_t count, unsigned skip,
                                      const visor_ml_runner *runner, visor_error *err) {
  visor_ml_local *local = (visor_ml_local *)ml;
  if (count == 0) return VISOR_OK;
  if (!regions) return visor_error_set(err, VISOR_ERR_INVALID, "embed_boxes: no regions");
  visor_image_info info;
  visor_code code = visor_image_probe(data, len, local->max_pixels, &info, err);
  if (code) return code;
  for (size_t i = 0; i < count; i++) {
    const visor_box *b = &regions[i].box;
    regions[i].embedding = NULL;
    regions[i].label_count = 0;
    if (!isfinite(b->x) || !isfinite(b->y) || !isfinite(b->w) || !isfinite(b->h) || b->w <= 0 ||
        b->h <= 0 || b->x >= info.width || b->y >= info.height || b->x + b->w <= 0 ||
        b->y + b->h <= 0)
      return visor_error_set(err, VISOR_ERR_INVALID,
                             "box %zu (x=%g y=%g w=%g h=%g) is empty or outside the %dx%d image", i,
                             b->x, b->y, b->w, b->h, info.width, info.height);
  }
  visor_rgb_image image = {0};
  float scale = 1.0f;
  code = visor_image_decode_rgb(data, len, local->max_pixels, VISOR_ML_DECODE_MAX_SIDE, &image,
                                &scale, err);
  if (code) return code;
  visor_box *boxes = malloc(count * sizeof *boxes);
  if (!boxes) {
    visor_rgb_image_free(&image);
    return visor_error_set(err, VISOR_ERR_NOMEM, "no memory for %zu boxes", count);
  }
  for (size_t i = 0; i < count; i++) {
    const visor_box *b = &regions[i].box;
    /* a box thinner than a decoded pixel is widened around its centre by preprocess */
    boxes[i] = (visor_box){b->x * scale, b->y * scale, b->w * scale, b->h * scale};
  }
  code = label_and_embed(local, &image, boxes, count, regions, skip, runner, err);
  free(boxes);
  visor_rgb_image_free(&image);
  return code;
}

static visor_code local_embed_boxes(visor_ml *ml, const void *data, size_t len,
                                    visor_region *regions, size_t count, visor_error *err) {
  return visor_ml_local_embed_boxes(ml, data, len, regions, count, 0, NULL, err);
}

static visor_code local_embedder_info(visor_ml *ml, visor_model_info *info, visor_error *err) {
  (void)err;
  visor_ml_local *local = (visor_ml_local *)ml;
  model_info(local->embedder, visor_embedder_dim(local->embedder_session, local->embedder), info);
  return VISOR_OK;
}

static void local_close(visor_ml *ml) {
  visor_ml_local *local = (visor_ml_local *)ml;
  if (!local) return;
  if (local->classifier_session != local->embedder_session &&
      local->classifier_session != local->detector_session)
    visor_onnx_session_close(local->classifier_session);
  if (local->embedder_session != local->detector_session)
    visor_onnx_session_close(local->embedder_session);
  visor_onnx_session_close(local->detector_session);
  visor_manifest_free(&local->manifest);
  free(local);
}

static const visor_ml_ops local_ops = {local_analyze, local_embed_boxes, local_embedder_info,
                                       local_close};

/* The session of spec: an already opened one when two tasks share a model. */
static visor_code session_for(visor_ml_local *local, const visor_model_spec *spec,
                              const visor_ml_config *config, visor_onnx_session **out,
                              visor_error *err) {
  *out = NULL;
  if (!spec) return VISOR_OK;
  const visor_model_spec *specs[2] = {local->detector, local->embedder};
  visor_onnx_session *sessions[2] = {local->detector_session, local->embedder_session};
  for (int i = 0; i < 2; i++)
    if (specs[i] == spec && sessions[i]) {
      *out = sessions[i];
      return VISOR_OK;
    }
  return visor_onnx_session_open(spec, config->intra_op_threads, config->inter_op_threads, out,
                                 err);
}

visor_ml *visor_ml_local_open(const visor_ml_config *config, visor_error *err) {
  visor_code code = visor_image_init(err);
  if (code) return NULL;
  char path[VISOR_MANIFEST_PATH_MAX];
  const char *models_dir = config->models_dir;
  if (!models_dir || !*models_dir) models_dir = getenv("VISOR_MODELS");
  if (visor_manifest_locate(config->manifest, models_dir, path, sizeof path, err)) return NULL;
  visor_ml_local *local = calloc(1, sizeof *local);
  if (!local) {
    visor_error_set(err, VISOR_ERR_NOMEM, "no memory for the ML backend");
    return NULL;
  }
  local->base.ops = &local_ops;
  local->max_pixels = config->max_pixels ? config->max_pixels : VISOR_IMAGE_DEFAULT_MAX_PIXELS;
  if ((code = visor_manifest_load(path, models_dir && *models_dir ? models_dir : NULL,
                                  &local->manifest, err)))
    goto fail;
  local->detector = visor_manifest_model(&local->manifest, VISOR_TASK_DETECTOR);
  local->embedder = visor_manifest_model(&local->manifest, VISOR_TASK_EMBEDDER);
  local->classifier = visor_manifest_model(&local->manifest, VISOR_TASK_CLASSIFIER);
  if ((code = session_for(local, local->detector, config, &local->detector_session, err)) ||
      (code = session_for(local, local->embedder, config, &local->embedder_session, err)) ||
      (code = session_for(local, local->classifier, config, &local->classifier_session, err)))
    goto fail;
  if (!visor_embedder_dim(local->embedder_session, local->embedder)) {
    visor_error_set(err, VISOR_ERR_INVALID, "model %s: the embedding output is empty",
                    local->embedder->name);
    goto fail;
  }
  return &local->base;
fail:
  visor_error_wrap(err, "ML models (manifest %s)", path);
  local_close(&local->base);
  return NULL;
}

const visor_manifest *visor_ml_local_manifest(visor_ml *ml) {
  return &((visor_ml_local *)ml)->manifest;
}

visor_code visor_ml_local_models(visor_ml *ml, visor_model_info *embedder,
                                 visor_model_info *detector, visor_model_info *labeller) {
  visor_ml_local *local = (visor_ml_local *)ml;
  size_t dim = visor_embedder_dim(local->embedder_session, local->embedder);
  if (embedder) model_info(local->embedder, dim, embedder);
  if (detector) model_info(local->detector, 0, detector);
  if (labeller) model_info(local->classifier, 0, labeller);
  return VISOR_OK;
}

size_t visor_ml_local_crop_sessions(visor_ml *ml, visor_ml_crop_session *out, size_t max) {
  visor_ml_local *local = (visor_ml_local *)ml;
  size_t n = 0;
  if (n < max && local->embedder_session) {
    visor_ml_crop_session *s = &out[n++];
    memset(s, 0, sizeof *s);
    s->session = local->embedder_session;
    s->names[s->name_count++] = local->embedder->embedding_output;
    if (local->classifier && local->classifier_session == local->embedder_session)
      s->names[s->name_count++] = local->classifier->logits_output;
  }
  if (n < max && local->classifier && local->classifier_session &&
      local->classifier_session != local->embedder_session) {
    visor_ml_crop_session *s = &out[n++];
    memset(s, 0, sizeof *s);
    s->session = local->classifier_session;
    s->names[s->name_count++] = local->classifier->logits_output;
  }
  return n;
}
