/* embedder.c: regions → batch tensor → one inference per batch → embeddings (normalised,
 * the manifest's colour descriptor appended) and classifier scores from the same run when
 * one model serves both. */
#include "ml/embedder.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/colour.h"
#include "ml/preprocess.h"

/* The model's own embedding size. */
static size_t model_dim(const visor_onnx_session *session, const visor_model_spec *spec) {
  return spec->embedding_output[0]
             ? visor_onnx_session_output_floats(session, spec->embedding_output)
             : 0;
}

size_t visor_embedder_dim(const visor_onnx_session *session, const visor_model_spec *spec) {
  size_t dim = model_dim(session, spec);
  return dim ? dim + visor_colour_dim(&spec->colour) : 0;
}

void visor_l2_normalize(float *vector, size_t dim) {
  double sum = 0.0;
  for (size_t i = 0; i < dim; i++)
    sum += (double)vector[i] * vector[i];
  if (sum <= 0.0) return;
  float inverse = (float)(1.0 / sqrt(sum));
  for (size_t i = 0; i < dim; i++)
    vector[i] *= inverse;
}

/* embeddings[i] = model_part[i] followed by colour_weight x region i's colour descriptor,
 * the whole made unit-length again when the manifest normalises. */
static void append_colour(const visor_model_spec *spec, const visor_rgb_image *image,
                          const visor_box *boxes, size_t count, const float *model_part,
                          size_t part_dim, float *embeddings) {
  size_t dim = part_dim + visor_colour_dim(&spec->colour);
  for (size_t i = 0; i < count; i++) {
    float *out = embeddings + i * dim;
    memcpy(out, model_part + i * part_dim, part_dim * sizeof *out);
    visor_colour_histogram(image, boxes ? &boxes[i] : NULL, &spec->colour, out + part_dim);
    for (size_t d = part_dim; d < dim; d++)
      out[d] *= spec->colour_weight;
    if (spec->normalize) visor_l2_normalize(out, dim);
  }
}

visor_code visor_embedder_run(visor_onnx_session *session, const visor_model_spec *spec,
                              const visor_rgb_image *image, const visor_box *boxes, size_t count,
                              float *embeddings, float *logits, visor_error *err) {
  return visor_embedder_run_with(session, spec, image, boxes, count, embeddings, logits, NULL, err);
}

visor_code visor_embedder_run_with(visor_onnx_session *session, const visor_model_spec *spec,
                                   const visor_rgb_image *image, const visor_box *boxes,
                                   size_t count, float *embeddings, float *logits,
                                   const visor_ml_runner *runner, visor_error *err) {
  if (count == 0) return VISOR_OK;
  if (boxes == NULL && count != 1)
    return visor_error_set(err, VISOR_ERR_INVALID, "embedder: %zu regions without boxes", count);
  const char *names[2];
  size_t dims[2];
  float *targets[2];
  size_t outputs = 0;
  size_t colour_dim = visor_colour_dim(&spec->colour);
  float *model_part = NULL; /* the model's embeddings when a colour part follows them */
  if (embeddings) {
    dims[outputs] = model_dim(session, spec);
    if (!dims[outputs])
      return visor_error_set(err, VISOR_ERR_INVALID, "model %s has no embedding output",
                             spec->name);
    names[outputs] = spec->embedding_output;
    targets[outputs++] = embeddings;
  }
  if (logits) {
    dims[outputs] = visor_onnx_session_output_floats(session, spec->logits_output);
    if (!spec->logits_output[0] || !dims[outputs])
      return visor_error_set(err, VISOR_ERR_INVALID, "model %s has no logits output", spec->name);
    names[outputs] = spec->logits_output;
    targets[outputs++] = logits;
  }
  if (outputs == 0) return VISOR_OK;
  if (embeddings && colour_dim &&
      !(targets[0] = model_part = malloc(count * dims[0] * sizeof(float))))
    return visor_error_set(err, VISOR_ERR_NOMEM, "no memory for %zu embeddings", count);

  size_t max_batch = visor_onnx_session_max_batch(session);
  size_t item = visor_onnx_session_input_floats(session);
  size_t batch_size = count < max_batch ? count : max_batch;
  float *input = malloc(batch_size * item * sizeof(float));
  if (!input) {
    free(model_part);
    return visor_error_set(err, VISOR_ERR_NOMEM, "no memory for a batch of %zu", batch_size);
  }
  visor_code code = VISOR_OK;
  for (size_t first = 0; first < count && !code; first += batch_size) {
    size_t batch = count - first < batch_size ? count - first : batch_size;
    for (size_t i = 0; i < batch && !code; i++) {
      visor_tensor_map map;
      code = visor_preprocess(&spec->input, image, boxes ? &boxes[first + i] : NULL,
                              input + i * item, &map, err);
      if (code) visor_error_wrap(err, "region %zu", first + i);
    }
    if (code) break;
    float *at[2];
    for (size_t o = 0; o < outputs; o++)
      at[o] = targets[o] + first * dims[o];
    code = visor_ml_runner_run(runner, session, input, batch, names, outputs, at, err);
  }
  free(input);
  if (!code && embeddings && spec->normalize)
    for (size_t i = 0; i < count; i++)
      visor_l2_normalize(targets[0] + i * dims[0], dims[0]);
  if (!code && model_part)
    append_colour(spec, image, boxes, count, model_part, dims[0], embeddings);
  free(model_part);
  return code;
}
