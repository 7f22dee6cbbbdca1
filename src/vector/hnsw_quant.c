/* hnsw_quant.c: the per-dimension int8 scalar quantizer (fit from min / max, encode, query
 * preparation). See hnsw_quant.h for the algebra. */
#include "vector/hnsw_quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int hnsw_quant_init(hnsw_quant *q, size_t dim) {
  memset(q, 0, sizeof *q);
  q->dim = dim;
  q->code_len = (dim + 31) / 32 * 32;
  q->mid = calloc(dim, sizeof(float));
  q->step = calloc(dim, sizeof(float));
  q->lo = calloc(dim, sizeof(float));
  q->hi = calloc(dim, sizeof(float));
  if (!q->mid || !q->step || !q->lo || !q->hi) {
    hnsw_quant_free(q);
    return -1;
  }
  return 0;
}

void hnsw_quant_free(hnsw_quant *q) {
  free(q->mid);
  free(q->step);
  free(q->lo);
  free(q->hi);
  memset(q, 0, sizeof *q);
}

void hnsw_quant_reset(hnsw_quant *q) {
  q->observed = 0;
}

void hnsw_quant_observe(hnsw_quant *q, const float *v) {
  if (q->observed++ == 0) {
    memcpy(q->lo, v, q->dim * sizeof(float));
    memcpy(q->hi, v, q->dim * sizeof(float));
    return;
  }
  for (size_t i = 0; i < q->dim; i++) {
    if (v[i] < q->lo[i]) q->lo[i] = v[i];
    if (v[i] > q->hi[i]) q->hi[i] = v[i];
  }
}

void hnsw_quant_fit(hnsw_quant *q) {
  for (size_t i = 0; i < q->dim; i++) {
    float lo = q->observed ? q->lo[i] : 0, hi = q->observed ? q->hi[i] : 0;
    q->mid[i] = 0.5f * (lo + hi);
    q->step[i] = (hi - lo) / 254.0f; /* [lo, hi] -> [-127, 127] */
  }
}

size_t hnsw_quant_encode(const hnsw_quant *q, const float *v, int8_t *codes) {
  size_t clamped = 0;
  for (size_t i = 0; i < q->dim; i++) {
    float d = v[i] - q->mid[i];
    float c = q->step[i] > 0 ? d / q->step[i] : 0.0f;
    if (q->step[i] <= 0 && d != 0) clamped++;
    if (c > 127.0f) {
      c = 127.0f;
      if (d > q->step[i] * 127.5f) clamped++;
    } else if (c < -127.0f) {
      c = -127.0f;
      if (-d > q->step[i] * 127.5f) clamped++;
    }
    codes[i] = (int8_t)lrintf(c);
  }
  memset(codes + q->dim, 0, q->code_len - q->dim);
  return clamped;
}

void hnsw_quant_prepare(const hnsw_quant *q, const float *v, hnsw_quant_query *out) {
  double bias = 0;
  float max = 0;
  for (size_t i = 0; i < q->dim; i++) {
    bias += (double)v[i] * q->mid[i];
    float w = fabsf(v[i] * q->step[i]);
    if (w > max) max = w;
  }
  float alpha = max > 0 ? max / 127.0f : 1.0f;
  float inv = 1.0f / alpha;
  for (size_t i = 0; i < q->dim; i++) {
    float w = v[i] * q->step[i] * inv;
    if (w > 127.0f) w = 127.0f;
    if (w < -127.0f) w = -127.0f;
    out->codes[i] = (int8_t)lrintf(w);
  }
  memset(out->codes + q->dim, 0, q->code_len - q->dim);
  out->bias = (float)bias;
  out->alpha = alpha;
}
