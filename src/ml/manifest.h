/* manifest.h: the model manifest (models.json): which ONNX files Visor runs, for which
 * task, and exactly how to feed them (input tensor name, size, layout, colour order,
 * scaling, resize mode) and read them (output names and formats, labels, thresholds).
 * Everything model-specific lives here, so another model needs no code change.
 * The format is documented field by field in docs/MODELS.md. */
#ifndef VISOR_ML_MANIFEST_H
#define VISOR_ML_MANIFEST_H

#include <stddef.h>

#include "core/error.h"
#include "ml/colour.h"
#include "ml/ml.h"

#define VISOR_MANIFEST_PATH_MAX 4096
#define VISOR_MANIFEST_TENSOR_NAME_MAX 128
#define VISOR_MANIFEST_MAX_STRIDES 8

typedef enum visor_model_task {
  VISOR_TASK_DETECTOR = 1,
  VISOR_TASK_EMBEDDER = 2,
  VISOR_TASK_CLASSIFIER = 4,
} visor_model_task;

typedef enum visor_tensor_layout { VISOR_LAYOUT_NCHW, VISOR_LAYOUT_NHWC } visor_tensor_layout;
typedef enum visor_colour_order { VISOR_COLOUR_RGB, VISOR_COLOUR_BGR } visor_colour_order;
typedef enum visor_resize_mode {
  VISOR_RESIZE_LETTERBOX,   /* keep aspect, top-left, fill the rest */
  VISOR_RESIZE_CENTER_CROP, /* short side → short_side, then centre crop */
  VISOR_RESIZE_STRETCH,     /* straight to width x height */
} visor_resize_mode;
typedef enum visor_detection_format { VISOR_DETECTION_YOLOX } visor_detection_format;

typedef struct visor_model_input {
  char name[VISOR_MANIFEST_TENSOR_NAME_MAX];
  int width, height;
  visor_tensor_layout layout;
  visor_colour_order colour;
  float scale;   /* pixel (0..255) * scale, then (x - mean) / std per channel (R, G, B) */
  float mean[3]; /* in R, G, B order whatever the colour order of the tensor */
  float std[3];
  visor_resize_mode resize;
  int short_side; /* center_crop: the short side before cropping (>= width and height) */
  float fill;     /* letterbox: pixel value (0..255) of the padding */
} visor_model_input;

typedef struct visor_model_spec {
  char name[VISOR_ML_NAME_MAX];
  char version[VISOR_ML_NAME_MAX];
  char path[VISOR_MANIFEST_PATH_MAX]; /* the .onnx file, resolved against models_dir */
  unsigned tasks;                     /* visor_model_task bits */
  visor_model_input input;
  size_t max_batch; /* images per inference call (the model's fixed batch wins) */

  /* detector */
  char detections_output[VISOR_MANIFEST_TENSOR_NAME_MAX];
  visor_detection_format detection_format;
  int strides[VISOR_MANIFEST_MAX_STRIDES];
  size_t stride_count;
  float score_threshold, nms_iou, min_box_size;
  size_t max_detections;
  int class_agnostic;

  /* embedder */
  char embedding_output[VISOR_MANIFEST_TENSOR_NAME_MAX];
  int normalize; /* L2-normalise the embedding */
  /* outputs.embedding.colour_histogram: a colour descriptor appended to the model's
   * embedding (colour.h), scaled by colour_weight against the unit-length model part;
   * the manifest version gets "+hsvHxSxV@W" so vectors with and without never mix. */
  visor_colour_bins colour;
  float colour_weight;

  /* classifier */
  char logits_output[VISOR_MANIFEST_TENSOR_NAME_MAX];
  int softmax; /* 1: the output is logits; 0: already probabilities */
  size_t top_k;

  /* class names (detector, classifier), one per line; line index = class id */
  char labels_path[VISOR_MANIFEST_PATH_MAX];
  char **labels;
  size_t label_count;
} visor_model_spec;

typedef struct visor_manifest {
  char path[VISOR_MANIFEST_PATH_MAX];
  visor_model_spec *models;
  size_t model_count;
  int detector, embedder, classifier; /* index in models, -1 when no model serves it */
} visor_manifest;

/* Finds the manifest to use: explicit (if not NULL), else <models_dir>/models.json when it
 * exists, else the one shipped with Visor (models/models.json in the source tree). */
visor_code visor_manifest_locate(const char *explicit_path, const char *models_dir, char *path,
                                 size_t size, visor_error *err);

/* Reads and validates a manifest file; model and label files resolve against models_dir
 * (NULL = the manifest's own folder). Label files are loaded. */
visor_code visor_manifest_load(const char *path, const char *models_dir, visor_manifest *out,
                               visor_error *err);
/* The same from JSON text; source names it in messages. */
visor_code visor_manifest_parse(const char *json_text, const char *source, const char *models_dir,
                                visor_manifest *out, visor_error *err);
void visor_manifest_free(visor_manifest *manifest);

/* The model serving a task, or NULL. */
const visor_model_spec *visor_manifest_model(const visor_manifest *manifest, visor_model_task task);

#endif
