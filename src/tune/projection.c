/* projection.c: fitting, applying and (de)serialising a catalogue projection (see
 * projection.h). The fit is Fisher's LDA: with the within-class scatter Sw (shrunk
 * towards a multiple of the identity, which keeps it well conditioned when there are
 * fewer samples than dimensions) and the between-class scatter Sb, the directions are
 * the top eigenvectors of the generalized symmetric problem Sb v = lambda Sw v, solved
 * by LAPACK's dsygvd. Scatters are accumulated with BLAS dsyrk in blocks of samples. */
#include "tune/projection.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK (Fortran calling convention; the trailing lengths are the hidden CHARACTER
 * lengths gfortran passes). */
extern void dsygvd_(const int *itype, const char *jobz, const char *uplo, const int *n, double *a,
                    const int *lda, double *b, const int *ldb, double *w, double *work,
                    const int *lwork, int *iwork, const int *liwork, int *info, size_t jobz_len,
                    size_t uplo_len);

#define FORMAT_MAGIC "VPRJ"
#define FORMAT_VERSION 2u
#define SCATTER_BLOCK 256

void visor_projection_fit_options_default(visor_projection_fit_options *options) {
  options->out_dim = 80;
  options->shrinkage = 0.1;
}

void visor_projection_free(visor_projection *projection) {
  free(projection->mean);
  free(projection->matrix);
  free(projection->classes);
  memset(projection, 0, sizeof *projection);
}

static int compare_names(const void *a, const void *b) {
  return strncmp(a, b, VISOR_PROJECTION_CLASS_MAX);
}

int visor_projection_has_class(const visor_projection *projection, const char *name) {
  char key[VISOR_PROJECTION_CLASS_MAX] = {0};
  snprintf(key, sizeof key, "%s", name);
  return projection->class_count && bsearch(key, projection->classes, projection->class_count,
                                            sizeof *projection->classes, compare_names) != NULL;
}

/* Sw and Sb (dim x dim, upper triangle, column-major) of the samples. */
static void scatters(const float *samples, const int *labels, size_t n, size_t dim,
                     size_t class_count, const double *mean, const double *class_means,
                     const size_t *class_sizes, double *within, double *between, double *block) {
  for (size_t start = 0; start < n; start += SCATTER_BLOCK) {
    size_t rows = n - start < SCATTER_BLOCK ? n - start : SCATTER_BLOCK;
    for (size_t r = 0; r < rows; r++) {
      const float *x = samples + (start + r) * dim;
      const double *mu = class_means + (size_t)labels[start + r] * dim;
      for (size_t j = 0; j < dim; j++)
        block[r * dim + j] = (double)x[j] - mu[j];
    }
    /* within += block^T block: block is rows x dim row-major = dim x rows column-major. */
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, (int)dim, (int)rows, 1.0, block, (int)dim,
                start ? 1.0 : 0.0, within, (int)dim);
  }
  for (size_t start = 0; start < class_count; start += SCATTER_BLOCK) {
    size_t rows = class_count - start < SCATTER_BLOCK ? class_count - start : SCATTER_BLOCK;
    for (size_t r = 0; r < rows; r++) {
      double weight = sqrt((double)class_sizes[start + r]);
      const double *mu = class_means + (start + r) * dim;
      for (size_t j = 0; j < dim; j++)
        block[r * dim + j] = weight * (mu[j] - mean[j]);
    }
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, (int)dim, (int)rows, 1.0, block, (int)dim,
                start ? 1.0 : 0.0, between, (int)dim);
  }
}

/* Solves Sb v = lambda Sw v; eigenvalues ascending in values, eigenvectors in between's
 * columns. */
static visor_code solve(double *between, double *within, size_t dim, double *values,
                        visor_error *err) {
  int itype = 1, n = (int)dim, info = 0, lwork = -1, liwork = -1, iwork_size = 0;
  double work_size = 0;
  dsygvd_(&itype, "V", "U", &n, between, &n, within, &n, values, &work_size, &lwork, &iwork_size,
          &liwork, &info, 1, 1);
  if (info != 0)
    return visor_error_set(err, VISOR_ERR_INTERNAL, "LAPACK dsygvd workspace query: info %d", info);
  lwork = (int)work_size;
  liwork = iwork_size;
  double *work = malloc((size_t)lwork * sizeof *work);
  int *iwork = malloc((size_t)liwork * sizeof *iwork);
  if (!work || !iwork) {
    free(work);
    free(iwork);
    return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory for a %zu-d eigenproblem", dim);
  }
  dsygvd_(&itype, "V", "U", &n, between, &n, within, &n, values, work, &lwork, iwork, &liwork,
          &info, 1, 1);
  free(work);
  free(iwork);
  if (info != 0)
    return visor_error_set(err, VISOR_ERR_INTERNAL,
                           "LAPACK dsygvd on %zu dimensions: info %d (scatter not positive "
                           "definite: raise the shrinkage)",
                           dim, info);
  return VISOR_OK;
}

static visor_code check_fit_input(const int *labels, size_t n, size_t dim, size_t class_count,
                                  const visor_projection_fit_options *options, size_t *sizes,
                                  visor_error *err) {
  if (dim == 0 || class_count < 2 || n < class_count + 1)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "a projection needs at least 2 classes and more samples than classes "
                           "(%zu samples of %zu classes)",
                           n, class_count);
  if (options->out_dim == 0 || options->out_dim > dim)
    return visor_error_set(err, VISOR_ERR_INVALID, "projection dimension %zu not in 1..%zu",
                           options->out_dim, dim);
  if (!(options->shrinkage >= 0 && options->shrinkage <= 1))
    return visor_error_set(err, VISOR_ERR_INVALID, "shrinkage %g not in 0..1", options->shrinkage);
  for (size_t i = 0; i < n; i++) {
    if (labels[i] < 0 || (size_t)labels[i] >= class_count)
      return visor_error_set(err, VISOR_ERR_INVALID, "sample %zu: class %d not in 0..%zu", i,
                             labels[i], class_count - 1);
    sizes[labels[i]]++;
  }
  return VISOR_OK;
}

visor_code visor_projection_fit(const float *samples, const int *labels, size_t n, size_t dim,
                                const char *const *class_names, size_t class_count,
                                const visor_projection_fit_options *options, visor_projection *out,
                                visor_error *err) {
  memset(out, 0, sizeof *out);
  visor_projection_fit_options defaults;
  visor_projection_fit_options_default(&defaults);
  if (!options) options = &defaults;
  size_t *sizes = calloc(class_count ? class_count : 1, sizeof *sizes);
  if (!sizes) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  visor_code code = check_fit_input(labels, n, dim, class_count, options, sizes, err);
  if (code != VISOR_OK) {
    free(sizes);
    return code;
  }
  size_t out_dim = options->out_dim;
  double *mean = calloc(dim, sizeof *mean), *class_means = calloc(class_count * dim, sizeof *mean);
  double *within = malloc(dim * dim * sizeof *within),
         *between = malloc(dim * dim * sizeof *between);
  double *block = malloc(SCATTER_BLOCK * dim * sizeof *block),
         *values = malloc(dim * sizeof *values);
  out->mean = malloc(dim * sizeof *out->mean);
  out->matrix = malloc(out_dim * dim * sizeof *out->matrix);
  out->classes = calloc(class_count, sizeof *out->classes);
  if (!mean || !class_means || !within || !between || !block || !values || !out->mean ||
      !out->matrix || !out->classes)
    code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory fitting a %zu-d projection", dim);
  if (code == VISOR_OK) {
    for (size_t i = 0; i < n; i++)
      for (size_t j = 0; j < dim; j++) {
        double x = samples[i * dim + j];
        mean[j] += x;
        class_means[(size_t)labels[i] * dim + j] += x;
      }
    for (size_t j = 0; j < dim; j++)
      mean[j] /= (double)n;
    for (size_t c = 0; c < class_count; c++)
      for (size_t j = 0; sizes[c] && j < dim; j++)
        class_means[c * dim + j] /= (double)sizes[c];
    scatters(samples, labels, n, dim, class_count, mean, class_means, sizes, within, between,
             block);
    double trace = 0;
    for (size_t j = 0; j < dim; j++)
      trace += within[j * dim + j];
    double alpha = options->shrinkage, ridge = alpha * trace / (double)dim;
    for (size_t col = 0; col < dim; col++)
      for (size_t row = 0; row <= col; row++) {
        within[col * dim + row] = (1 - alpha) * within[col * dim + row] / (double)n;
        between[col * dim + row] /= (double)n;
      }
    for (size_t j = 0; j < dim; j++)
      within[j * dim + j] += ridge / (double)n;
    code = solve(between, within, dim, values, err);
  }
  if (code == VISOR_OK) {
    /* Largest eigenvalues first; each direction's sign fixed by its largest component. */
    for (size_t k = 0; k < out_dim; k++) {
      const double *v = between + (dim - 1 - k) * dim;
      size_t peak = 0;
      for (size_t j = 1; j < dim; j++)
        if (fabs(v[j]) > fabs(v[peak])) peak = j;
      double sign = v[peak] < 0 ? -1.0 : 1.0;
      for (size_t j = 0; j < dim; j++)
        out->matrix[k * dim + j] = (float)(sign * v[j]);
    }
    for (size_t j = 0; j < dim; j++)
      out->mean[j] = (float)mean[j];
    for (size_t c = 0; c < class_count; c++)
      snprintf(out->classes[c], sizeof out->classes[c], "%s", class_names[c]);
    qsort(out->classes, class_count, sizeof *out->classes, compare_names);
    out->class_count = class_count;
    out->in_dim = dim;
    out->out_dim = out_dim;
    out->seen_weight = 1.0f;
    out->unseen_weight = 0.0f;
    out->unseen_offset = 0.0f;
  }
  free(sizes);
  free(mean);
  free(class_means);
  free(within);
  free(between);
  free(block);
  free(values);
  if (code != VISOR_OK) visor_projection_free(out);
  return code;
}

visor_code visor_projection_apply(const visor_projection *projection, const float *in, float *out,
                                  visor_error *err) {
  size_t dim = projection->in_dim;
  double norm = 0;
  for (size_t k = 0; k < projection->out_dim; k++) {
    const float *row = projection->matrix + k * dim;
    double sum = 0;
    for (size_t j = 0; j < dim; j++)
      sum += (double)row[j] * ((double)in[j] - projection->mean[j]);
    out[k] = (float)sum;
    norm += sum * sum;
  }
  if (!(norm > 0) || !isfinite(norm))
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "projection v%lld: the vector projects to zero or not a number",
                           (long long)projection->version);
  float scale = (float)(1.0 / sqrt(norm));
  for (size_t k = 0; k < projection->out_dim; k++)
    out[k] *= scale;
  return VISOR_OK;
}

/* The artefact: "VPRJ", u32 format version, i64 version, u32 in_dim, u32 out_dim, f32
 * seen_weight, f32 unseen_weight, f32 unseen_offset, u32 class count, u32 model length + model
 * bytes, the classes (u32 length + bytes each), then in_dim floats of mean and out_dim * in_dim
 * floats of matrix; numbers in the host's (little-endian) byte order. */
typedef struct writer {
  unsigned char *at;
} writer;

static void put(writer *w, const void *value, size_t size) {
  memcpy(w->at, value, size);
  w->at += size;
}

static void put_u32(writer *w, size_t value) {
  uint32_t v = (uint32_t)value;
  put(w, &v, sizeof v);
}

visor_code visor_projection_serialize(const visor_projection *projection, void **bytes, size_t *len,
                                      visor_error *err) {
  size_t model_len = strlen(projection->model);
  size_t size = 4 + 4 + 8 + 4 + 4 + 4 + 4 + 4 + 4 + 4 + model_len;
  for (size_t c = 0; c < projection->class_count; c++)
    size += 4 + strnlen(projection->classes[c], VISOR_PROJECTION_CLASS_MAX);
  size += (projection->in_dim + projection->out_dim * projection->in_dim) * sizeof(float);
  unsigned char *buffer = malloc(size);
  if (!buffer) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  writer w = {buffer};
  put(&w, FORMAT_MAGIC, 4);
  put_u32(&w, FORMAT_VERSION);
  put(&w, &projection->version, sizeof projection->version);
  put_u32(&w, projection->in_dim);
  put_u32(&w, projection->out_dim);
  put(&w, &projection->seen_weight, sizeof(float));
  put(&w, &projection->unseen_weight, sizeof(float));
  put(&w, &projection->unseen_offset, sizeof(float));
  put_u32(&w, projection->class_count);
  put_u32(&w, model_len);
  put(&w, projection->model, model_len);
  for (size_t c = 0; c < projection->class_count; c++) {
    size_t class_len = strnlen(projection->classes[c], VISOR_PROJECTION_CLASS_MAX);
    put_u32(&w, class_len);
    put(&w, projection->classes[c], class_len);
  }
  put(&w, projection->mean, projection->in_dim * sizeof(float));
  put(&w, projection->matrix, projection->out_dim * projection->in_dim * sizeof(float));
  *bytes = buffer;
  *len = size;
  return VISOR_OK;
}

typedef struct reader {
  const unsigned char *at, *end;
} reader;

static int take(reader *r, void *value, size_t size) {
  if ((size_t)(r->end - r->at) < size) return 0;
  memcpy(value, r->at, size);
  r->at += size;
  return 1;
}

static int take_u32(reader *r, size_t *value) {
  uint32_t v;
  if (!take(r, &v, sizeof v)) return 0;
  *value = v;
  return 1;
}

visor_code visor_projection_parse(const void *bytes, size_t len, visor_projection *out,
                                  visor_error *err) {
  memset(out, 0, sizeof *out);
  reader r = {bytes, (const unsigned char *)bytes + len};
  char magic[4];
  size_t format = 0, model_len = 0;
  int ok = take(&r, magic, 4) && memcmp(magic, FORMAT_MAGIC, 4) == 0 && take_u32(&r, &format);
  if (!ok || format != FORMAT_VERSION)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "not a projection artefact of format %u (%zu bytes)", FORMAT_VERSION,
                           len);
  ok = take(&r, &out->version, sizeof out->version) && take_u32(&r, &out->in_dim) &&
       take_u32(&r, &out->out_dim) && take(&r, &out->seen_weight, sizeof(float)) &&
       take(&r, &out->unseen_weight, sizeof(float)) &&
       take(&r, &out->unseen_offset, sizeof(float)) && take_u32(&r, &out->class_count) &&
       take_u32(&r, &model_len) && model_len < sizeof out->model &&
       take(&r, out->model, model_len) && out->in_dim > 0 && out->out_dim > 0 &&
       out->out_dim <= out->in_dim && out->in_dim <= 65536 &&
       out->class_count <= (size_t)(r.end - r.at) / 4;
  if (ok) {
    out->model[model_len] = 0;
    out->classes = calloc(out->class_count ? out->class_count : 1, sizeof *out->classes);
    out->mean = malloc(out->in_dim * sizeof *out->mean);
    out->matrix = malloc(out->out_dim * out->in_dim * sizeof *out->matrix);
    if (!out->classes || !out->mean || !out->matrix) {
      visor_projection_free(out);
      return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    }
  }
  for (size_t c = 0; ok && c < out->class_count; c++) {
    size_t class_len = 0;
    ok = take_u32(&r, &class_len) && class_len < VISOR_PROJECTION_CLASS_MAX &&
         take(&r, out->classes[c], class_len);
  }
  ok = ok && take(&r, out->mean, out->in_dim * sizeof(float)) &&
       take(&r, out->matrix, out->out_dim * out->in_dim * sizeof(float)) && r.at == r.end;
  if (!ok) {
    visor_projection_free(out);
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "projection artefact truncated or inconsistent "
                           "(%zu bytes)",
                           len);
  }
  return VISOR_OK;
}
