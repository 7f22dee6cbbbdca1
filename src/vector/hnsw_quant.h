/* hnsw_quant.h: int8 scalar quantization of the HNSW index (quantization=int8). Each
 * dimension i gets its own affine code fitted from the data, x ~ mid[i] + step[i] * c with
 * c in [-127, 127]; a query is turned into int8 weights w[i] ~ q[i] * step[i] / alpha, so
 * <q, x> ~ sum(q * mid) + alpha * <w, c>: one int8 dot product per distance. The codes only
 * order the graph search; results are re-ranked with the full-precision vectors. */
#ifndef VISOR_VECTOR_HNSW_QUANT_H
#define VISOR_VECTOR_HNSW_QUANT_H

#include <stddef.h>
#include <stdint.h>

typedef struct hnsw_quant {
  size_t dim;
  size_t code_len; /* dim rounded up to 32 (the padding is zero) */
  float *mid, *step;
  /* running min / max of the vectors being fitted (hnsw_quant_observe) */
  float *lo, *hi;
  size_t observed;
} hnsw_quant;

/* A query prepared for one search: approx <q, x> = bias + alpha * <codes, x's codes>. */
typedef struct hnsw_quant_query {
  int8_t *codes; /* code_len */
  float bias, alpha;
} hnsw_quant_query;

/* 0, or -1 when out of memory. */
int hnsw_quant_init(hnsw_quant *q, size_t dim);
void hnsw_quant_free(hnsw_quant *q);
/* Fitting: reset, observe every vector, then fit (mid / step from the min and max seen). */
void hnsw_quant_reset(hnsw_quant *q);
void hnsw_quant_observe(hnsw_quant *q, const float *v);
void hnsw_quant_fit(hnsw_quant *q);
/* Writes code_len codes for v; returns how many components fell outside the fitted range
 * (clamped): many of them mean the data drifted and the fit should be redone. */
size_t hnsw_quant_encode(const hnsw_quant *q, const float *v, int8_t *codes);
/* Prepares query v (codes must hold code_len bytes). */
void hnsw_quant_prepare(const hnsw_quant *q, const float *v, hnsw_quant_query *out);

#endif
