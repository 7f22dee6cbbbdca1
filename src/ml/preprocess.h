/* preprocess.h: an image region → one model input tensor item, as the manifest says
 * (letterbox / centre crop / stretch, colour order, scale, mean, std, NCHW / NHWC), and the
 * mapping from tensor pixels back to image pixels. */
#ifndef VISOR_ML_PREPROCESS_H
#define VISOR_ML_PREPROCESS_H

#include "core/error.h"
#include "image/image.h"
#include "ml/manifest.h"

/* image_x = offset_x + tensor_x / scale_x (same for y). */
typedef struct visor_tensor_map {
  float offset_x, offset_y;
  float scale_x, scale_y;
} visor_tensor_map;

/* Writes input->width * input->height * 3 floats at item. box NULL = the whole image. */
visor_code visor_preprocess(const visor_model_input *input, const visor_rgb_image *image,
                            const visor_box *box, float *item, visor_tensor_map *map,
                            visor_error *err);

/* The normalisation alone: resized 8-bit RGB (input->width x height, or smaller at the
 * top-left for letterbox, the rest being fill) → tensor item. */
void visor_preprocess_normalize(const visor_model_input *input, const visor_rgb_image *resized,
                                float *item);

#endif
