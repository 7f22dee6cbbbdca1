/* detector.c: YOLOX decoding (grid offsets, exp sizes, strides 8/16/32 in row order),
 * score = objectness x best class, threshold, class-aware greedy NMS, boxes back to the
 * original image's pixels, minimum size and maximum count. */
#include "ml/detector.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* At most this many candidates enter NMS (the best by score). */
#define MAX_CANDIDATES 2000

visor_detect_params visor_detect_defaults(const visor_model_spec *spec) {
  visor_detect_params params = {spec->score_threshold, spec->nms_iou, spec->max_detections,
                                spec->min_box_size, spec->class_agnostic};
  return params;
}

static int by_score_desc(const void *a, const void *b) {
  float sa = ((const visor_detection *)a)->score, sb = ((const visor_detection *)b)->score;
  return (sa < sb) - (sa > sb);
}

static float iou(const visor_box *a, const visor_box *b) {
  float x0 = fmaxf(a->x, b->x), y0 = fmaxf(a->y, b->y);
  float x1 = fminf(a->x + a->w, b->x + b->w), y1 = fminf(a->y + a->h, b->y + b->h);
  if (x1 <= x0 || y1 <= y0) return 0.0f;
  float inter = (x1 - x0) * (y1 - y0);
  float uni = a->w * a->h + b->w * b->h - inter;
  return uni > 0 ? inter / uni : 0.0f;
}

visor_code visor_detector_decode(const visor_model_spec *spec, const float *output, size_t rows,
                                 size_t columns, const visor_tensor_map *map, int image_w,
                                 int image_h, const visor_detect_params *params,
                                 visor_detection **out, size_t *count, visor_error *err) {
  *out = NULL;
  *count = 0;
  if (spec->detection_format != VISOR_DETECTION_YOLOX)
    return visor_error_set(err, VISOR_ERR_INVALID, "model %s: unknown detection format",
                           spec->name);
  if (columns < 6)
    return visor_error_set(err, VISOR_ERR_INVALID, "model %s: %zu columns per detection row",
                           spec->name, columns);
  const size_t classes = columns - 5;
  size_t capacity = 64, found = 0;
  visor_detection *candidates = malloc(capacity * sizeof *candidates);
  if (!candidates) return visor_error_set(err, VISOR_ERR_NOMEM, "no memory for detections");

  size_t row = 0;
  for (size_t level = 0; level < spec->stride_count; level++) {
    const int stride = spec->strides[level];
    const int grid_w = spec->input.width / stride, grid_h = spec->input.height / stride;
    for (int gy = 0; gy < grid_h; gy++)
      for (int gx = 0; gx < grid_w; gx++, row++) {
        if (row >= rows) goto decoded;
        const float *r = output + row * columns;
        float objectness = r[4];
        if (!(objectness >= params->score_threshold)) continue; /* score <= objectness */
        size_t best = 0;
        for (size_t c = 1; c < classes; c++)
          if (r[5 + c] > r[5 + best]) best = c;
        float score = objectness * r[5 + best];
        if (!(score >= params->score_threshold)) continue;
        float cx = (r[0] + gx) * stride, cy = (r[1] + gy) * stride;
        float w = expf(r[2]) * stride, h = expf(r[3]) * stride;
        /* tensor pixels → image pixels, clipped to the image */
        float x0 = map->offset_x + (cx - w / 2) / map->scale_x;
        float y0 = map->offset_y + (cy - h / 2) / map->scale_y;
        float x1 = map->offset_x + (cx + w / 2) / map->scale_x;
        float y1 = map->offset_y + (cy + h / 2) / map->scale_y;
        x0 = fmaxf(0.0f, x0);
        y0 = fmaxf(0.0f, y0);
        x1 = fminf((float)image_w, x1);
        y1 = fminf((float)image_h, y1);
        if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1)) continue;
        if (x1 - x0 < params->min_box_size || y1 - y0 < params->min_box_size || x1 <= x0 ||
            y1 <= y0)
          continue;
        if (found == capacity) {
          visor_detection *grown = realloc(candidates, 2 * capacity * sizeof *grown);
          if (!grown) {
            free(candidates);
            return visor_error_set(err, VISOR_ERR_NOMEM, "no memory for detections");
          }
          candidates = grown;
          capacity *= 2;
        }
        candidates[found++] = (visor_detection){{x0, y0, x1 - x0, y1 - y0}, (int)best, score};
      }
  }
decoded:
  qsort(candidates, found, sizeof *candidates, by_score_desc);
  if (found > MAX_CANDIDATES) found = MAX_CANDIDATES;

  size_t kept = 0;
  for (size_t i = 0; i < found && kept < params->max_detections; i++) {
    int suppressed = 0;
    for (size_t j = 0; j < kept && !suppressed; j++)
      if ((params->class_agnostic || candidates[j].class_id == candidates[i].class_id) &&
          iou(&candidates[j].box, &candidates[i].box) > params->nms_iou)
        suppressed = 1;
    if (!suppressed) candidates[kept++] = candidates[i];
  }
  if (kept == 0) {
    free(candidates);
    return VISOR_OK;
  }
  *out = candidates;
  *count = kept;
  return VISOR_OK;
}

visor_code visor_detector_detect(visor_onnx_session *session, const visor_model_spec *spec,
                                 const visor_rgb_image *image, const visor_detect_params *params,
                                 visor_detection **out, size_t *count, visor_error *err) {
  *out = NULL;
  *count = 0;
  size_t input_floats = visor_onnx_session_input_floats(session);
  size_t output_floats = visor_onnx_session_output_floats(session, spec->detections_output);
  float *input = malloc(input_floats * sizeof(float));
  float *output = malloc(output_floats * sizeof(float));
  visor_code code = VISOR_OK;
  visor_tensor_map map;
  if (!input || !output) {
    code = visor_error_set(err, VISOR_ERR_NOMEM, "no memory for the detector tensors");
    goto done;
  }
  if ((code = visor_preprocess(&spec->input, image, NULL, input, &map, err))) goto done;
  const char *names[1] = {spec->detections_output};
  float *outputs[1] = {output};
  if ((code = visor_onnx_session_run(session, input, 1, names, 1, outputs, err))) goto done;
  code = visor_detector_decode(spec, output, output_floats / (5 + spec->label_count),
                               5 + spec->label_count, &map, image->width, image->height, params,
                               out, count, err);
done:
  free(input);
  free(output);
  return code;
}
