/* distance.c: distance kernels. An AVX2+FMA version (four 8-wide accumulators) is used when
 * the CPU has it, chosen once with __builtin_cpu_supports; otherwise a portable version with
 * eight independent accumulators that the compiler vectorises for SSE2. */
#include "vector/distance.h"

#include <math.h>
#include <stdatomic.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VISOR_HAVE_X86 1
#endif

float visor_distance_l2_ref(const float *a, const float *b, size_t dim) {
  float acc[8] = {0};
  size_t i = 0;
  for (; i + 8 <= dim; i += 8)
    for (size_t j = 0; j < 8; j++) {
      float d = a[i + j] - b[i + j];
      acc[j] += d * d;
    }
  float sum = 0;
  for (; i < dim; i++) {
    float d = a[i] - b[i];
    sum += d * d;
  }
  for (size_t j = 0; j < 8; j++)
    sum += acc[j];
  return sum;
}

static float dot_portable(const float *a, const float *b, size_t dim) {
  float acc[8] = {0};
  size_t i = 0;
  for (; i + 8 <= dim; i += 8)
    for (size_t j = 0; j < 8; j++)
      acc[j] += a[i + j] * b[i + j];
  float sum = 0;
  for (; i < dim; i++)
    sum += a[i] * b[i];
  for (size_t j = 0; j < 8; j++)
    sum += acc[j];
  return sum;
}

float visor_distance_ip_ref(const float *a, const float *b, size_t dim) {
  return 1.0f - dot_portable(a, b, dim);
}

#ifdef VISOR_HAVE_X86
__attribute__((target("avx2,fma"))) static inline float hsum256(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
  return _mm_cvtss_f32(lo);
}

__attribute__((target("avx2,fma"))) static float l2_avx2(const float *a, const float *b,
                                                         size_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16));
    __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
    s1 = _mm256_fmadd_ps(d1, d1, s1);
    s2 = _mm256_fmadd_ps(d2, d2, s2);
    s3 = _mm256_fmadd_ps(d3, d3, s3);
  }
  for (; i + 8 <= dim; i += 8) {
    __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    s0 = _mm256_fmadd_ps(d0, d0, s0);
  }
  float sum = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < dim; i++) {
    float d = a[i] - b[i];
    sum += d * d;
  }
  return sum;
}

__attribute__((target("avx2,fma"))) static float ip_avx2(const float *a, const float *b,
                                                         size_t dim) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 32 <= dim; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= dim; i += 8)
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float sum = hsum256(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < dim; i++)
    sum += a[i] * b[i];
  return 1.0f - sum;
}

static int have_avx2(void) {
  static atomic_int cached = -1;
  int v = atomic_load_explicit(&cached, memory_order_relaxed);
  if (v < 0) {
    __builtin_cpu_init();
    v = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    atomic_store_explicit(&cached, v, memory_order_relaxed);
  }
  return v;
}
#else
static int have_avx2(void) {
  return 0;
}
#endif

visor_distance_fn visor_distance_for(visor_metric metric) {
#ifdef VISOR_HAVE_X86
  if (have_avx2()) return metric == VISOR_METRIC_L2 ? l2_avx2 : ip_avx2;
#endif
  return metric == VISOR_METRIC_L2 ? visor_distance_l2_ref : visor_distance_ip_ref;
}

const char *visor_distance_isa(void) {
  return have_avx2() ? "avx2+fma" : "portable";
}

int visor_vector_finite(const float *v, size_t dim, double *norm2) {
  double sum = 0;
  for (size_t i = 0; i < dim; i++) {
    if (!isfinite(v[i])) return 0;
    sum += (double)v[i] * v[i];
  }
  if (norm2) *norm2 = sum;
  return isfinite(sum);
}

int visor_vector_normalize(float *v, size_t dim) {
  double norm2;
  if (!visor_vector_finite(v, dim, &norm2) || norm2 <= 0) return 0;
  float inv = (float)(1.0 / sqrt(norm2));
  for (size_t i = 0; i < dim; i++)
    v[i] *= inv;
  return 1;
}
