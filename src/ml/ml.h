/* ml.h: the ML interface: detect objects, label and embed regions of an image. Backends:
 * in-process ONNX Runtime (ml_local.c, used by `visor serve` and `visor ml`) and an HTTP
 * client of `visor ml` (ml_http.c). Pipelines see only this interface. */
#ifndef VISOR_ML_ML_H
#define VISOR_ML_ML_H

#include <stddef.h>

#include "core/error.h"
#include "image/image.h"

#define VISOR_ML_MAX_LABELS 5
#define VISOR_ML_NAME_MAX 128

typedef struct visor_label {
  char name[64];
  float score; /* softmax probability (labeller) or detector score */
} visor_label;

typedef struct visor_region {
  visor_box box;        /* original-image pixels */
  int whole_image;      /* 1 for the region every image gets */
  visor_label detector; /* detector class and score; name "" for the whole-image region */
  visor_label labels[VISOR_ML_MAX_LABELS]; /* labeller's top-k, best first */
  size_t label_count;
  float *embedding; /* dim floats, L2-normalised; owned by the visor_analysis */
} visor_region;

typedef struct visor_model_info {
  char name[VISOR_ML_NAME_MAX];    /* e.g. "mobilenetv2-12-int8-embed" */
  char version[VISOR_ML_NAME_MAX]; /* from the manifest */
  size_t dim;                      /* embedding dimension (embedders) */
} visor_model_info;

typedef struct visor_analysis {
  int width, height; /* upright original */
  char format[16];
  visor_region *regions; /* whole-image region first, then detections by score */
  size_t region_count;
  size_t dim;
  visor_model_info embedder;
  visor_model_info detector;
  visor_model_info labeller;
} visor_analysis;

#define VISOR_ML_MAX_VIEWS 4

typedef struct visor_analyze_options {
  float min_score;     /* detector score threshold (0 = manifest default) */
  size_t max_regions;  /* including the whole-image one (0 = default) */
  int skip_embeddings; /* 1: detect + label only */
  /* Views: centred crops at these fractions (0, 1] of the image's width and height,
   * labelled and embedded from the same decode as the other regions and appended after
   * them (detector name "view", score 0; not counted in max_regions). */
  float views[VISOR_ML_MAX_VIEWS];
  size_t view_count;
} visor_analyze_options;

void visor_analysis_free(visor_analysis *analysis); /* frees the contents, not the struct */

typedef struct visor_ml visor_ml;

typedef struct visor_ml_ops {
  /* Decodes, detects, labels and embeds every region. */
  visor_code (*analyze)(visor_ml *ml, const void *image, size_t len,
                        const visor_analyze_options *options, visor_analysis *out,
                        visor_error *err);
  /* Embeds and labels the given boxes of one image (e.g. an admin's corrected box).
   * regions[i].box is input; labels and embedding are filled (embedding malloc'd, the
   * caller frees each). */
  visor_code (*embed_boxes)(visor_ml *ml, const void *image, size_t len, visor_region *regions,
                            size_t count, visor_error *err);
  visor_code (*embedder_info)(visor_ml *ml, visor_model_info *info, visor_error *err);
  void (*close)(visor_ml *ml);
} visor_ml_ops;

struct visor_ml {
  const visor_ml_ops *ops;
};

typedef struct visor_ml_config {
  const char *url;        /* "local" (in-process) or "http://host:port" */
  const char *models_dir; /* folder with the model files (local) */
  const char *manifest;   /* models.json; NULL = <models_dir>/models.json if it exists, else
                             the manifest shipped with Visor (models/models.json) */
  int intra_op_threads;   /* 0 = ONNX Runtime default */
  int inter_op_threads;
  size_t max_pixels; /* 0 = VISOR_IMAGE_DEFAULT_MAX_PIXELS */
} visor_ml_config;

visor_ml *visor_ml_open(const visor_ml_config *config, visor_error *err);
/* Whether this build has a backend for url; fills err with the accepted forms if not. */
int visor_ml_url_supported(const char *url, visor_error *err);

#endif
