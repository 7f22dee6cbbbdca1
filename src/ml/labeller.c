/* labeller.c: softmax + top-k over classifier outputs and the short names of label lines. */
#include "ml/labeller.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ml/embedder.h"

void visor_label_short_name(const char *label, char *out, size_t size) {
  if (size == 0) return;
  while (*label == ' ' || *label == '\t')
    label++;
  size_t n = strcspn(label, ",");
  while (n > 0 && (label[n - 1] == ' ' || label[n - 1] == '\t'))
    n--;
  if (n >= size) n = size - 1;
  memcpy(out, label, n);
  out[n] = '\0';
}

size_t visor_labeller_top_k(const float *scores, size_t classes, int apply_softmax,
                            char *const *labels, size_t k, visor_label *out) {
  if (k > classes) k = classes;
  if (k == 0) return 0;
  double max = -INFINITY, sum = 0.0;
  if (apply_softmax) {
    for (size_t c = 0; c < classes; c++)
      if (scores[c] > max) max = scores[c];
    for (size_t c = 0; c < classes; c++)
      sum += exp((double)scores[c] - max);
  }
  size_t best[64];
  if (k > sizeof best / sizeof best[0]) k = sizeof best / sizeof best[0];
  size_t filled = 0;
  for (size_t c = 0; c < classes; c++) { /* insertion into a sorted top-k list */
    if (filled == k && !(scores[c] > scores[best[k - 1]])) continue;
    size_t at = filled < k ? filled++ : k - 1;
    while (at > 0 && scores[c] > scores[best[at - 1]]) {
      best[at] = best[at - 1];
      at--;
    }
    best[at] = c;
  }
  for (size_t i = 0; i < k; i++) {
    visor_label_short_name(labels ? labels[best[i]] : "", out[i].name, sizeof out[i].name);
    out[i].score =
        apply_softmax ? (float)(exp((double)scores[best[i]] - max) / sum) : scores[best[i]];
  }
  return k;
}

visor_code visor_labeller_label(visor_onnx_session *session, const visor_model_spec *spec,
                                const visor_rgb_image *image, const visor_box *boxes, size_t count,
                                visor_region *regions, visor_error *err) {
  return visor_labeller_label_with(session, spec, image, boxes, count, regions, NULL, err);
}

visor_code visor_labeller_label_with(visor_onnx_session *session, const visor_model_spec *spec,
                                     const visor_rgb_image *image, const visor_box *boxes,
                                     size_t count, visor_region *regions,
                                     const visor_ml_runner *runner, visor_error *err) {
  size_t classes = spec->label_count;
  float *logits = malloc(count * classes * sizeof(float));
  if (!logits) return visor_error_set(err, VISOR_ERR_NOMEM, "no memory for %zu logits", count);
  visor_code code =
      visor_embedder_run_with(session, spec, image, boxes, count, NULL, logits, runner, err);
  for (size_t i = 0; !code && i < count; i++) {
    size_t k = spec->top_k < VISOR_ML_MAX_LABELS ? spec->top_k : VISOR_ML_MAX_LABELS;
    regions[i].label_count = visor_labeller_top_k(logits + i * classes, classes, spec->softmax,
                                                  spec->labels, k, regions[i].labels);
  }
  free(logits);
  return code;
}
