/* detector.h: object detection: preprocess, run, decode the model's raw output (YOLOX),
 * threshold, non-maximum suppression, boxes in image pixels. */
#ifndef VISOR_ML_DETECTOR_H
#define VISOR_ML_DETECTOR_H

#include <stddef.h>

#include "core/error.h"
#include "image/image.h"
#include "ml/manifest.h"
#include "ml/onnx_session.h"
#include "ml/preprocess.h"

typedef struct visor_detection {
  visor_box box; /* image pixels */
  int class_id;
  float score;
} visor_detection;

typedef struct visor_detect_params {
  float score_threshold; /* keep score >= this */
  float nms_iou;         /* suppress a box overlapping a better one more than this */
  size_t max_detections;
  float min_box_size; /* drop boxes whose width or height (image pixels) is below */
  int class_agnostic; /* NMS across classes */
} visor_detect_params;

/* The manifest's defaults for a detector model. */
visor_detect_params visor_detect_defaults(const visor_model_spec *spec);

/* Decodes one image's raw YOLOX output (rows x (5 + classes), as MODELS.md describes), maps
 * boxes back through map, clips them to image_w x image_h and applies the params. *out is
 * malloc'd (caller frees), sorted by score. */
visor_code visor_detector_decode(const visor_model_spec *spec, const float *output, size_t rows,
                                 size_t columns, const visor_tensor_map *map, int image_w,
                                 int image_h, const visor_detect_params *params,
                                 visor_detection **out, size_t *count, visor_error *err);

/* Preprocess + inference + decode on one decoded image. */
visor_code visor_detector_detect(visor_onnx_session *session, const visor_model_spec *spec,
                                 const visor_rgb_image *image, const visor_detect_params *params,
                                 visor_detection **out, size_t *count, visor_error *err);

#endif
