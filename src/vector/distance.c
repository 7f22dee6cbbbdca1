/* distance.c: distance kernels. An AVX2+FMA version (four 8-wide accumulators) is used when
 * the CPU has it, chosen once with __builtin_cpu_supports; otherwise a portable version with
 * eight independent accumulators that the compiler vectorises for SSE2. Also the int8 dot
 * product of the quantized index (AVX2 maddubs, or portable). */
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

/* int8 dot with AVX2: maddubs multiplies unsigned by signed bytes, so |a| times b with a's
 * sign moved onto b (sign_epi8). With components in [-127, 127] a pair sum is at most
 * 2 * 127 * 127 = 32258: the 16-bit saturation of maddubs never triggers. */
__attribute__((target("avx2"))) static int32_t dot_i8_avx2(const int8_t *a, const int8_t *b,
                                                           size_t n) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m256i a0 = _mm256_loadu_si256((const __m256i *)(a + i));
    __m256i b0 = _mm256_loadu_si256((const __m256i *)(b + i));
    __m256i a1 = _mm256_loadu_si256((const __m256i *)(a + i + 32));
    __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + i + 32));
    __m256i p0 = _mm256_maddubs_epi16(_mm256_sign_epi8(a0, a0), _mm256_sign_epi8(b0, a0));
    __m256i p1 = _mm256_maddubs_epi16(_mm256_sign_epi8(a1, a1), _mm256_sign_epi8(b1, a1));
    s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p0, ones));
    s1 = _mm256_add_epi32(s1, _mm256_madd_epi16(p1, ones));
  }
  for (; i + 32 <= n; i += 32) {
    __m256i a0 = _mm256_loadu_si256((const __m256i *)(a + i));
    __m256i b0 = _mm256_loadu_si256((const __m256i *)(b + i));
    __m256i p0 = _mm256_maddubs_epi16(_mm256_sign_epi8(a0, a0), _mm256_sign_epi8(b0, a0));
    s0 = _mm256_add_epi32(s0, _mm256_madd_epi16(p0, ones));
  }
  __m256i s = _mm256_add_epi32(s0, s1);
  __m128i x = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(1, 0, 3, 2)));
  x = _mm_add_epi32(x, _mm_shuffle_epi32(x, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(x);
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

int32_t visor_dot_i8_ref(const int8_t *a, const int8_t *b, size_t n) {
  int32_t acc[8] = {0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (size_t j = 0; j < 8; j++)
      acc[j] += (int32_t)a[i + j] * b[i + j];
  int32_t sum = 0;
  for (; i < n; i++)
    sum += (int32_t)a[i] * b[i];
  for (size_t j = 0; j < 8; j++)
    sum += acc[j];
  return sum;
}

visor_dot_i8_fn visor_dot_i8(void) {
#ifdef VISOR_HAVE_X86
  if (have_avx2()) return dot_i8_avx2;
#endif
  return visor_dot_i8_ref;
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
