/* distance.h: distance kernels of the HNSW index (squared L2 and 1 - inner product; cosine
 * is inner product on normalised vectors). The fastest kernel the CPU supports is chosen
 * once at run time, so the build needs no -march flag. */
#ifndef VISOR_VECTOR_DISTANCE_H
#define VISOR_VECTOR_DISTANCE_H

#include <stddef.h>
#include <stdint.h>

#include "vector/vector.h"

typedef float (*visor_distance_fn)(const float *a, const float *b, size_t dim);

/* The kernel for metric (COSINE and IP share 1 - <a,b>). */
visor_distance_fn visor_distance_for(visor_metric metric);

/* Portable reference kernels (tests compare the fast ones against them). */
float visor_distance_l2_ref(const float *a, const float *b, size_t dim);
float visor_distance_ip_ref(const float *a, const float *b, size_t dim);

/* Dot product of two int8 arrays of n components, each in [-127, 127] (not -128), n a
 * multiple of 32 (callers pad with zeros). AVX2 when the CPU has it, else portable. */
typedef int32_t (*visor_dot_i8_fn)(const int8_t *a, const int8_t *b, size_t n);
visor_dot_i8_fn visor_dot_i8(void);
int32_t visor_dot_i8_ref(const int8_t *a, const int8_t *b, size_t n);

/* Name of the kernel family chosen at run time ("avx2+fma" or "portable"). */
const char *visor_distance_isa(void);

/* Scales v to unit length. Returns 0 when v has zero (or non-finite) norm. */
int visor_vector_normalize(float *v, size_t dim);

/* 1 when every component is finite, 0 otherwise. Also returns the squared norm. */
int visor_vector_finite(const float *v, size_t dim, double *norm2);

#endif
