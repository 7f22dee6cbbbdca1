/* vector.c: opening a vector store by URL. The scheme picks the backend: hnsw://PATH (the
 * built-in index; hnsw:///abs/path or hnsw://relative/path, with an optional ?query of
 * options) or chroma://host:port/TENANT/DATABASE (ChromaDB). Unknown schemes are an error
 * that names the URL. Also the batch upsert fallback for backends without one. */
#include "vector/vector.h"

#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "vector/distance.h"
#include "vector/hnsw_store.h"
#include "vector/vector_chroma.h"

void visor_vector_params_default(visor_vector_params *params) {
  params->metric = VISOR_METRIC_COSINE;
  params->m = 16;
  params->ef_construction = 200;
  params->ef_search = 64;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Percent-decodes src[0..n) into a new string; NULL on a bad escape or OOM. */
static char *decode_path(const char *src, size_t n) {
  char *out = malloc(n + 1);
  if (!out) return NULL;
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    if (src[i] == '%') {
      int hi = i + 2 < n ? hex_value(src[i + 1]) : -1;
      int lo = hi >= 0 ? hex_value(src[i + 2]) : -1;
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
        free(out);
        return NULL;
      }
      out[o++] = (char)(hi * 16 + lo);
      i += 2;
    } else {
      out[o++] = src[i];
    }
  }
  out[o] = '\0';
  return out;
}

int visor_vector_url_supported(const char *url, visor_error *err) {
  if (url && (strncmp(url, "hnsw://", 7) == 0 || strncmp(url, "chroma://", 9) == 0)) return 1;
  visor_error_set(err, VISOR_ERR_INVALID,
                  "vector store URL '%s': unknown scheme (supported: hnsw://PATH, "
                  "chroma://HOST:PORT/TENANT/DATABASE)",
                  url ? url : "");
  return 0;
}

visor_vector_store *visor_vector_open(const char *url, const char *collection, size_t dim,
                                      const visor_vector_params *params, visor_error *err) {
  static const char hnsw_scheme[] = "hnsw://";
  if (!url) {
    visor_error_set(err, VISOR_ERR_INVALID, "vector store URL is NULL");
    return NULL;
  }
  if (strncmp(url, hnsw_scheme, sizeof hnsw_scheme - 1) == 0) {
    const char *rest = url + sizeof hnsw_scheme - 1;
    const char *q = strchr(rest, '?');
    size_t path_len = q ? (size_t)(q - rest) : strlen(rest);
    char *path = decode_path(rest, path_len);
    if (!path) {
      visor_error_set(err, VISOR_ERR_INVALID, "vector store URL '%s' has a bad %%-escape", url);
      return NULL;
    }
    if (!*path) {
      free(path);
      visor_error_set(err, VISOR_ERR_INVALID, "vector store URL '%s' has no path", url);
      return NULL;
    }
    visor_vector_store *store =
        visor_hnsw_store_open(path, q ? q + 1 : NULL, collection, dim, params, err);
    if (!store) visor_error_wrap(err, "opening vector store %s", url);
    free(path);
    return store;
  }
  static const char chroma_scheme[] = "chroma://";
  if (strncmp(url, chroma_scheme, sizeof chroma_scheme - 1) == 0) {
    visor_vector_store *store = visor_chroma_store_open(url, collection, dim, params, err);
    if (!store) visor_error_wrap(err, "opening vector store %s", url);
    return store;
  }
  visor_error_set(err, VISOR_ERR_INVALID,
                  "vector store URL '%s': unknown scheme (supported: hnsw://PATH, "
                  "chroma://HOST:PORT/TENANT/DATABASE)",
                  url);
  return NULL;
}

visor_code visor_vector_upsert_batch(visor_vector_store *store, size_t n, const char *const *ids,
                                     const float *vectors, const visor_vector_meta *metas,
                                     visor_error *err) {
  if (store->ops->upsert_batch) return store->ops->upsert_batch(store, n, ids, vectors, metas, err);
  for (size_t i = 0; i < n; i++) {
    visor_code code =
        store->ops->upsert(store, ids[i], vectors + i * store->dim, metas ? &metas[i] : NULL, err);
    if (code != VISOR_OK) return code;
  }
  return VISOR_OK;
}

#define ID_MAX 63 /* visor_vector_hit.id is char[64] */
#define STRING_MAX 1024
#define LABELS_MAX 1024

visor_code visor_vector_id_check(const char *what, const char *id, visor_error *err) {
  if (!id || !*id || strlen(id) > ID_MAX)
    return visor_error_set(err, VISOR_ERR_INVALID, "%s: vector id '%s' must be 1 to %d bytes", what,
                           id ? id : "(null)", ID_MAX);
  return VISOR_OK;
}

static visor_code check_string(const char *what, const char *s, size_t max, visor_error *err) {
  if (s && strlen(s) > max)
    return visor_error_set(err, VISOR_ERR_INVALID, "%s is longer than %zu bytes", what, max);
  return VISOR_OK;
}

visor_code visor_vector_meta_check(const visor_vector_meta *meta, visor_error *err) {
  if (!meta) return VISOR_OK;
  visor_code rc;
  if ((rc = check_string("product_id", meta->product_id, ID_MAX, err)) != VISOR_OK ||
      (rc = check_string("category", meta->category, STRING_MAX, err)) != VISOR_OK ||
      (rc = check_string("model", meta->model, STRING_MAX, err)) != VISOR_OK)
    return rc;
  if (meta->label_count > LABELS_MAX)
    return visor_error_set(err, VISOR_ERR_INVALID, "%zu labels: at most %d", meta->label_count,
                           LABELS_MAX);
  if (meta->label_count && !meta->labels)
    return visor_error_set(err, VISOR_ERR_INVALID, "label_count %zu but labels is NULL",
                           meta->label_count);
  for (size_t i = 0; i < meta->label_count; i++) {
    const char *l = meta->labels[i];
    const char *eq = l ? strchr(l, '=') : NULL;
    if (!eq || eq == l)
      return visor_error_set(err, VISOR_ERR_INVALID, "label '%s' is not \"key=value\"",
                             l ? l : "(null)");
    if ((rc = check_string("label", l, STRING_MAX, err)) != VISOR_OK) return rc;
    if ((unsigned char)l[0] < 0x20)
      return visor_error_set(err, VISOR_ERR_INVALID,
                             "label '%s' starts with a control character (reserved)", l + 1);
  }
  if (meta->has_price && !isfinite(meta->price))
    return visor_error_set(err, VISOR_ERR_INVALID, "price must be a finite number");
  return VISOR_OK;
}

const char *visor_metric_name(visor_metric metric) {
  return metric == VISOR_METRIC_L2 ? "l2" : metric == VISOR_METRIC_IP ? "ip" : "cosine";
}

int visor_metric_parse(const char *name, visor_metric *metric) {
  if (strcmp(name, "cosine") == 0)
    *metric = VISOR_METRIC_COSINE;
  else if (strcmp(name, "ip") == 0)
    *metric = VISOR_METRIC_IP;
  else if (strcmp(name, "l2") == 0)
    *metric = VISOR_METRIC_L2;
  else
    return -1;
  return 0;
}

visor_code visor_vector_prepare(visor_metric metric, size_t dim, const char *what,
                                const float *vector, float *out, visor_error *err) {
  if (!vector) return visor_error_set(err, VISOR_ERR_INVALID, "%s vector is NULL", what);
  double norm2;
  if (!visor_vector_finite(vector, dim, &norm2))
    return visor_error_set(err, VISOR_ERR_INVALID, "%s vector has a NaN or infinite component",
                           what);
  if (norm2 == 0 && metric != VISOR_METRIC_L2)
    return visor_error_set(err, VISOR_ERR_INVALID, "%s vector is all zeros (no direction for %s)",
                           what, visor_metric_name(metric));
  memcpy(out, vector, dim * sizeof *out);
  if (metric == VISOR_METRIC_COSINE && !visor_vector_normalize(out, dim))
    return visor_error_set(err, VISOR_ERR_INVALID, "%s vector cannot be normalised", what);
  return VISOR_OK;
}
