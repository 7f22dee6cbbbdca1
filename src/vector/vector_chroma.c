/* vector_chroma.c: the chroma:// vector store over ChromaDB's HTTP API v2 (libcurl +
 * jansson). Opening creates the tenant, the database and the collection (get_or_create, with
 * the metric as its hnsw space and visor_dim / visor_metric in its metadata, so a later open
 * with another dim or metric is refused). Each vector's metadata is flattened into scalar
 * keys, since Chroma refuses lists: product_id, category ("" when none), model, price (a
 * number, when the product has one), one boolean key "label.KEY=VALUE" per label (so a key
 * may carry several values) and one "labelkey.KEY" per label key (so "has a KEY label" can be
 * asked). Filters become a `where`: the shorthands $eq / $in under $and, and an expression
 * with NOT pushed down to the comparisons ($and / $or / $eq / $ne / $in / $nin / $lt / ...),
 * which keeps its three-valued meaning exactly (a comparison on a missing field is never
 * true; Chroma's $ne and $nin do match records without the key, so they are paired with the
 * key's presence). Chroma's upsert merges metadata keys, so every upsert and set_meta first
 * reads the record's current keys and sends null for those that must go.
 *
 * Curl handles live in a small pool shared by all threads (a handle keeps its connection).
 * A server that cannot be reached or times out is VISOR_ERR_UNAVAILABLE; the next call
 * simply connects again. A record route that answers 404 (the collection was dropped behind
 * our back) re-creates the collection once and retries. */
#define _GNU_SOURCE
#include "vector/vector_chroma.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "vector/distance.h"

#define POOL_SIZE 16
#define DIM_MAX 65536
#define K_MAX 100000
#define DEFAULT_PORT 8000
#define DEFAULT_TIMEOUT_MS 30000L
#define DEFAULT_CONNECT_TIMEOUT_MS 2000L
#define DEFAULT_BATCH 1000
#define LABEL_PREFIX "label."
#define LABEL_KEY_PREFIX "labelkey."

typedef struct chroma_store {
  visor_vector_store base;
  char url[512];     /* as given, for messages */
  char origin[300];  /* http://host:port */
  char db_path[400]; /* /api/v2/tenants/T/databases/D */
  char tenant[128], database[128], collection[129];
  visor_vector_params params;
  long timeout_ms, connect_timeout_ms;
  size_t batch;
  int base64; /* the server takes upsert embeddings as base64 float32 (pre-flight-checks) */
  pthread_mutex_t lock; /* pool and collection_id */
  char collection_id[64];
  CURL *pool[POOL_SIZE];
  size_t pooled;
} chroma_store;

static const visor_vector_ops chroma_ops;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_code;

static void init_curl(void) {
  curl_init_code = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- HTTP ---------------------------------------------------------------------------- */

typedef struct growing {
  char *data;
  size_t len, cap;
} growing;

static size_t on_body(char *data, size_t size, size_t count, void *ctx) {
  growing *body = ctx;
  size_t len = size * count;
  if (body->len + len + 1 > body->cap) {
    size_t cap = body->cap ? body->cap : 16384;
    while (cap < body->len + len + 1)
      cap *= 2;
    char *grown = realloc(body->data, cap);
    if (!grown) return 0;
    body->data = grown;
    body->cap = cap;
  }
  memcpy(body->data + body->len, data, len);
  body->len += len;
  body->data[body->len] = '\0';
  return len;
}

static CURL *take_handle(chroma_store *s) {
  CURL *curl = NULL;
  pthread_mutex_lock(&s->lock);
  if (s->pooled) curl = s->pool[--s->pooled];
  pthread_mutex_unlock(&s->lock);
  return curl ? curl : curl_easy_init();
}

static void give_handle(chroma_store *s, CURL *curl) {
  pthread_mutex_lock(&s->lock);
  if (s->pooled < POOL_SIZE) {
    s->pool[s->pooled++] = curl;
    curl = NULL;
  }
  pthread_mutex_unlock(&s->lock);
  if (curl) curl_easy_cleanup(curl);
}

static visor_code code_of_status(long status) {
  switch (status) {
  case 404:
    return VISOR_ERR_NOT_FOUND;
  case 409:
    return VISOR_ERR_CONFLICT;
  case 413:
    return VISOR_ERR_TOO_LARGE;
  case 429:
  case 502:
  case 503:
  case 504:
    return VISOR_ERR_UNAVAILABLE;
  default:
    return status >= 400 && status < 500 ? VISOR_ERR_INVALID : VISOR_ERR_UNAVAILABLE;
  }
}

/* method path (under origin) with an optional JSON body; a 2xx JSON answer in *out (any JSON
 * value). Other answers: the code of their status, with Chroma's message. *status_out gets
 * the HTTP status (0 when no answer came). */
static visor_code call(chroma_store *s, const char *method, const char *path, const char *body,
                       size_t len, json_t **out, long *status_out, visor_error *err) {
  *out = NULL;
  if (status_out) *status_out = 0;
  char url[1024];
  if (snprintf(url, sizeof url, "%s%s", s->origin, path) >= (int)sizeof url)
    return visor_error_set(err, VISOR_ERR_INVALID, "chroma %s: request path too long", s->url);
  CURL *curl = take_handle(s);
  if (!curl)
    return visor_error_set(err, VISOR_ERR_NOMEM, "chroma %s: no memory for a request", s->url);
  growing answer = {0};
  char curl_message[CURL_ERROR_SIZE] = "";
  struct curl_slist *headers = NULL;
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, s->timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, s->connect_timeout_ms);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_message);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(curl, CURLOPT_PROXY, ""); /* the server is named directly */
  headers = curl_slist_append(headers, "Accept: application/json");
  if (body) {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  }
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  CURLcode rc = curl_easy_perform(curl);
  visor_code code = VISOR_OK;
  long status = 0;
  if (rc != CURLE_OK) {
    const char *why = curl_message[0] ? curl_message : curl_easy_strerror(rc);
    code =
        visor_error_set(err, rc == CURLE_OUT_OF_MEMORY ? VISOR_ERR_NOMEM : VISOR_ERR_UNAVAILABLE,
                        "chroma server %s is unavailable: %s %s: %s", s->origin, method, path, why);
  } else {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    json_t *json = answer.data ? json_loadb(answer.data, answer.len, JSON_DECODE_ANY, NULL) : NULL;
    if (status >= 200 && status < 300) {
      if (json)
        *out = json;
      else
        code = visor_error_set(err, VISOR_ERR_UNAVAILABLE,
                               "chroma server %s: %s %s: the answer is not JSON", s->origin, method,
                               path);
    } else {
      const char *message = json_string_value(json_object_get(json, "message"));
      code = visor_error_set(err, code_of_status(status),
                             "chroma server %s: %s %s answered %ld: %s", s->origin, method, path,
                             status, message ? message : (answer.data ? answer.data : "(no body)"));
      json_decref(json);
    }
  }
  if (status_out) *status_out = status;
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
  curl_slist_free_all(headers);
  free(answer.data);
  if (rc != CURLE_OK) /* a handle whose connection failed is not worth keeping */
    curl_easy_cleanup(curl);
  else
    give_handle(s, curl);
  return code;
}

/* POST path with a jansson body (stolen). */
static visor_code call_json(chroma_store *s, const char *path, json_t *body, json_t **out,
                            long *status, visor_error *err) {
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (!text) return visor_error_set(err, VISOR_ERR_NOMEM, "chroma %s: out of memory", s->url);
  visor_code code = call(s, "POST", path, text, strlen(text), out, status, err);
  free(text);
  return code;
}

/* ---- opening: tenant, database, collection ------------------------------------------- */

/* POST that may answer 409 (it exists already): both are fine. */
static visor_code create_if_missing(chroma_store *s, const char *path, const char *name,
                                    visor_error *err) {
  json_t *out = NULL;
  long status = 0;
  visor_code code = call_json(s, path, json_pack("{ss}", "name", name), &out, &status, err);
  json_decref(out);
  if (code == VISOR_ERR_CONFLICT) return VISOR_OK;
  return code;
}

/* get_or_create the collection, check its dim and metric, remember its id. */
static visor_code ensure_collection(chroma_store *s, visor_error *err) {
  char path[600];
  snprintf(path, sizeof path, "%s/collections", s->db_path);
  json_t *body =
      json_pack("{ss s{sIss} s{s{sssisisi}} sb}", "name", s->collection, "metadata", "visor_dim",
                (json_int_t)s->base.dim, "visor_metric", visor_metric_name(s->params.metric),
                "configuration", "hnsw", "space", visor_metric_name(s->params.metric),
                "ef_construction", s->params.ef_construction, "ef_search", s->params.ef_search,
                "max_neighbors", s->params.m, "get_or_create", 1);
  json_t *out = NULL;
  visor_code code = call_json(s, path, body, &out, NULL, err);
  if (code != VISOR_OK) return code;
  const char *id = json_string_value(json_object_get(out, "id"));
  json_t *meta = json_object_get(out, "metadata");
  json_t *dim = json_object_get(meta, "visor_dim");
  json_t *known_dim = json_object_get(out, "dimension");
  const char *space = json_string_value(json_object_get(
      json_object_get(json_object_get(out, "configuration_json"), "hnsw"), "space"));
  if (!space) space = json_string_value(json_object_get(meta, "visor_metric"));
  if (!id || strlen(id) >= sizeof s->collection_id) {
    code = visor_error_set(err, VISOR_ERR_INTERNAL, "chroma %s: collection %s has no id in %s",
                           s->url, s->collection, path);
  } else if ((json_is_integer(dim) && (size_t)json_integer_value(dim) != s->base.dim) ||
             (!json_is_integer(dim) && json_is_integer(known_dim) &&
              (size_t)json_integer_value(known_dim) != s->base.dim)) {
    code = visor_error_set(
        err, VISOR_ERR_INVALID, "collection '%s' holds %lld-d vectors, not %zu-d", s->collection,
        (long long)json_integer_value(json_is_integer(dim) ? dim : known_dim), s->base.dim);
  } else if (space && strcmp(space, visor_metric_name(s->params.metric)) != 0) {
    code = visor_error_set(err, VISOR_ERR_INVALID, "collection '%s' uses metric %s, not %s",
                           s->collection, space, visor_metric_name(s->params.metric));
  } else {
    pthread_mutex_lock(&s->lock);
    snprintf(s->collection_id, sizeof s->collection_id, "%s", id);
    pthread_mutex_unlock(&s->lock);
  }
  json_decref(out);
  return code;
}

/* Asks the server whether it takes base64 embeddings (only used on little-endian hosts:
 * the packed form is little-endian float32). An old server without the route: no. */
static void check_features(chroma_store *s) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  json_t *out = NULL;
  visor_error ignored;
  if (call(s, "GET", "/api/v2/pre-flight-checks", NULL, 0, &out, NULL, &ignored) == VISOR_OK)
    s->base64 = json_is_true(json_object_get(out, "supports_base64_encoding"));
  json_decref(out);
#else
  (void)s;
#endif
}

static visor_code create_all(chroma_store *s, visor_error *err) {
  visor_code code = create_if_missing(s, "/api/v2/tenants", s->tenant, err);
  if (code != VISOR_OK) return visor_error_wrap(err, "creating tenant %s", s->tenant);
  char path[400];
  snprintf(path, sizeof path, "/api/v2/tenants/%s/databases", s->tenant);
  code = create_if_missing(s, path, s->database, err);
  if (code != VISOR_OK) return visor_error_wrap(err, "creating database %s", s->database);
  code = ensure_collection(s, err);
  if (code != VISOR_OK) return visor_error_wrap(err, "opening collection %s", s->collection);
  return VISOR_OK;
}

/* POST a record route (upsert, get, query, update, delete) of the collection. A 404 means
 * the collection is gone (dropped, or the server's data was reset): re-create it and retry
 * once. body is text (kept by the caller). */
static visor_code record_call(chroma_store *s, const char *route, const char *body, size_t len,
                              const char *method, json_t **out, visor_error *err) {
  for (int attempt = 0;; attempt++) {
    char path[600];
    pthread_mutex_lock(&s->lock);
    snprintf(path, sizeof path, "%s/collections/%s/%s", s->db_path, s->collection_id, route);
    pthread_mutex_unlock(&s->lock);
    long status = 0;
    visor_code code = call(s, method, path, body, len, out, &status, err);
    if (code != VISOR_ERR_NOT_FOUND || status != 404 || attempt > 0) return code;
    visor_error again;
    if (create_all(s, &again) != VISOR_OK) {
      if (err) *err = again;
      return again.code;
    }
  }
}

/* ---- metadata ------------------------------------------------------------------------ */

static char *label_key(const char *label) {
  char *key = NULL;
  if (asprintf(&key, LABEL_PREFIX "%s", label) < 0) return NULL;
  return key;
}

/* The flat metadata object of meta; keys of `old` (the record's current metadata, may be
 * NULL) that meta does not set become null, which makes Chroma drop them. */
static json_t *flat_meta(const visor_vector_meta *meta, json_t *old) {
  json_t *out = json_object();
  if (!out) return NULL;
  int failed = 0;
  if (meta) {
    if (meta->product_id)
      failed |= json_object_set_new(out, "product_id", json_string(meta->product_id));
    failed |=
        json_object_set_new(out, "category", json_string(meta->category ? meta->category : ""));
    if (meta->model) failed |= json_object_set_new(out, "model", json_string(meta->model));
    if (meta->has_price) failed |= json_object_set_new(out, "price", json_real(meta->price));
    for (size_t i = 0; i < meta->label_count && !failed; i++) {
      char *key = label_key(meta->labels[i]);
      failed |= !key || json_object_set_new(out, key, json_true());
      free(key);
      const char *eq = strchr(meta->labels[i], '=');
      char *has = NULL;
      if (eq &&
          asprintf(&has, LABEL_KEY_PREFIX "%.*s", (int)(eq - meta->labels[i]), meta->labels[i]) < 0)
        has = NULL;
      failed |= !has || json_object_set_new(out, has, json_true());
      free(has);
    }
  }
  const char *key;
  json_t *value;
  json_object_foreach(old, key, value) {
    if (!json_object_get(out, key)) failed |= json_object_set_new(out, key, json_null());
  }
  if (failed) {
    json_decref(out);
    return NULL;
  }
  return out;
}

/* The current metadata of ids: an object id -> metadata object (ids not there are absent). */
static visor_code fetch_metadata(chroma_store *s, json_t *ids, json_t **out, visor_error *err) {
  *out = NULL;
  json_t *body = json_pack("{sOs[s]}", "ids", ids, "include", "metadatas");
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (!text) return visor_error_set(err, VISOR_ERR_NOMEM, "chroma %s: out of memory", s->url);
  json_t *answer = NULL;
  visor_code code = record_call(s, "get", text, strlen(text), "POST", &answer, err);
  free(text);
  if (code != VISOR_OK) return code;
  json_t *got_ids = json_object_get(answer, "ids");
  json_t *metas = json_object_get(answer, "metadatas");
  json_t *map = json_object();
  size_t i;
  json_t *id;
  json_array_foreach(got_ids, i, id) {
    json_t *m = json_array_get(metas, i);
    if (json_is_string(id))
      json_object_set(map, json_string_value(id), json_is_object(m) ? m : json_null());
  }
  json_decref(answer);
  *out = map;
  return map ? VISOR_OK : visor_error_set(err, VISOR_ERR_NOMEM, "chroma: out of memory");
}

/* ---- vectors ------------------------------------------------------------------------- */

static void append_vector(visor_strbuf *buf, const float *v, size_t dim) {
  visor_strbuf_append(buf, "[", 1);
  for (size_t i = 0; i < dim; i++) {
    char num[32];
    int n = snprintf(num, sizeof num, i ? ",%.9g" : "%.9g", (double)v[i]);
    visor_strbuf_append(buf, num, (size_t)n);
  }
  visor_strbuf_append(buf, "]", 1);
}

/* v as base64 of its little-endian float32 bytes, in quotes (Chroma's packed form). */
static void append_vector_base64(visor_strbuf *buf, const float *v, size_t dim) {
  static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const unsigned char *p = (const unsigned char *)v;
  size_t n = dim * sizeof *v;
  char chunk[4 * 64 + 1];
  size_t used = 0;
  visor_strbuf_append(buf, "\"", 1);
  for (size_t i = 0; i < n; i += 3) {
    uint32_t x = (uint32_t)p[i] << 16;
    if (i + 1 < n) x |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < n) x |= p[i + 2];
    chunk[used++] = digits[(x >> 18) & 63];
    chunk[used++] = digits[(x >> 12) & 63];
    chunk[used++] = i + 1 < n ? digits[(x >> 6) & 63] : '=';
    chunk[used++] = i + 2 < n ? digits[x & 63] : '=';
    if (used == sizeof chunk - 1) {
      visor_strbuf_append(buf, chunk, used);
      used = 0;
    }
  }
  visor_strbuf_append(buf, chunk, used);
  visor_strbuf_append(buf, "\"", 1);
}

static void append_json(visor_strbuf *buf, const json_t *value, int *failed) {
  char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!text) {
    *failed = 1;
    return;
  }
  visor_strbuf_append(buf, text, strlen(text));
  free(text);
}

/* One upsert request for entries [from, to): reads their current keys, then upserts. */
static visor_code upsert_chunk(chroma_store *s, size_t from, size_t to, const char *const *ids,
                               const float *ready, const visor_vector_meta *metas,
                               visor_error *err) {
  size_t dim = s->base.dim;
  json_t *id_array = json_array();
  for (size_t i = from; i < to && id_array; i++)
    if (json_array_append_new(id_array, json_string(ids[i])) != 0) {
      json_decref(id_array);
      id_array = NULL;
    }
  if (!id_array) return visor_error_set(err, VISOR_ERR_NOMEM, "chroma upsert: out of memory");
  json_t *old = NULL;
  visor_code code = fetch_metadata(s, id_array, &old, err);
  if (code != VISOR_OK) {
    json_decref(id_array);
    return code;
  }
  json_t *meta_array = json_array();
  int failed = !meta_array;
  for (size_t i = from; i < to && !failed; i++) {
    json_t *m = flat_meta(metas ? &metas[i] : NULL, json_object_get(old, ids[i]));
    failed = !m || json_array_append_new(meta_array, m) != 0;
  }
  visor_strbuf buf;
  visor_strbuf_init(&buf);
  visor_strbuf_append(&buf, "{\"ids\":", 7);
  append_json(&buf, id_array, &failed);
  visor_strbuf_append(&buf, ",\"metadatas\":", 13);
  if (!failed) append_json(&buf, meta_array, &failed);
  visor_strbuf_append(&buf, ",\"embeddings\":[", 15);
  for (size_t i = from; i < to; i++) {
    if (i > from) visor_strbuf_append(&buf, ",", 1);
    if (s->base64)
      append_vector_base64(&buf, ready + i * dim, dim);
    else
      append_vector(&buf, ready + i * dim, dim);
  }
  visor_strbuf_append(&buf, "]}", 2);
  json_decref(id_array);
  json_decref(meta_array);
  json_decref(old);
  size_t len = buf.len;
  char *body = visor_strbuf_take(&buf);
  if (failed || !body) {
    free(body);
    return visor_error_set(err, VISOR_ERR_NOMEM, "chroma upsert: out of memory");
  }
  json_t *answer = NULL;
  code = record_call(s, "upsert", body, len, "POST", &answer, err);
  json_decref(answer);
  free(body);
  return code;
}

static visor_code chroma_upsert_batch(visor_vector_store *store, size_t n, const char *const *ids,
                                      const float *vectors, const visor_vector_meta *metas,
                                      visor_error *err) {
  chroma_store *s = (chroma_store *)store;
  if (n == 0) return VISOR_OK;
  if (!ids || !vectors)
    return visor_error_set(err, VISOR_ERR_INVALID, "upsert batch: ids and vectors must be given");
  size_t dim = store->dim;
  float *ready = malloc(n * dim * sizeof *ready);
  json_t *seen = json_object();
  if (!ready || !seen) {
    free(ready);
    json_decref(seen);
    return visor_error_set(err, VISOR_ERR_NOMEM, "upsert batch of %zu: out of memory", n);
  }
  visor_code code = VISOR_OK;
  for (size_t i = 0; i < n && code == VISOR_OK; i++) {
    if ((code = visor_vector_id_check("upsert", ids[i], err)) != VISOR_OK) break;
    if ((code = visor_vector_meta_check(metas ? &metas[i] : NULL, err)) == VISOR_OK)
      code = visor_vector_prepare(s->params.metric, s->base.dim, "upsert", vectors + i * dim,
                                  ready + i * dim, err);
    if (code != VISOR_OK) {
      visor_error_wrap(err, "upsert %s", ids[i]);
    } else if (json_object_get(seen, ids[i])) {
      code = visor_error_set(err, VISOR_ERR_INVALID, "upsert batch: id '%s' appears twice", ids[i]);
    } else if (json_object_set_new(seen, ids[i], json_true()) != 0) {
      code = visor_error_set(err, VISOR_ERR_NOMEM, "upsert batch: out of memory");
    }
  }
  json_decref(seen);
  for (size_t from = 0; from < n && code == VISOR_OK; from += s->batch) {
    size_t to = from + s->batch < n ? from + s->batch : n;
    code = upsert_chunk(s, from, to, ids, ready, metas, err);
  }
  free(ready);
  return code;
}

static visor_code chroma_upsert(visor_vector_store *store, const char *id, const float *vector,
                                const visor_vector_meta *meta, visor_error *err) {
  visor_code code = visor_vector_id_check("upsert", id, err);
  if (code != VISOR_OK) return code;
  return chroma_upsert_batch(store, 1, &id, vector, meta, err);
}

static visor_code chroma_remove(visor_vector_store *store, const char *id, visor_error *err) {
  chroma_store *s = (chroma_store *)store;
  visor_code code = visor_vector_id_check("remove", id, err);
  if (code != VISOR_OK) return code;
  json_t *body = json_pack("{s[s]}", "ids", id);
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (!text) return visor_error_set(err, VISOR_ERR_NOMEM, "chroma remove: out of memory");
  json_t *answer = NULL;
  code = record_call(s, "delete", text, strlen(text), "POST", &answer, err);
  json_decref(answer);
  free(text);
  return code;
}

static visor_code chroma_set_meta(visor_vector_store *store, const char *id,
                                  const visor_vector_meta *meta, visor_error *err) {
  chroma_store *s = (chroma_store *)store;
  visor_code code = visor_vector_id_check("set_meta", id, err);
  if (code != VISOR_OK) return code;
  if ((code = visor_vector_meta_check(meta, err)) != VISOR_OK)
    return visor_error_wrap(err, "set_meta %s", id);
  json_t *ids = json_pack("[s]", id);
  if (!ids) return visor_error_set(err, VISOR_ERR_NOMEM, "chroma set_meta: out of memory");
  json_t *old = NULL;
  code = fetch_metadata(s, ids, &old, err);
  json_t *current = json_object_get(old, id);
  if (code == VISOR_OK && !current)
    code = visor_error_set(err, VISOR_ERR_NOT_FOUND, "set_meta: no vector with id '%s'", id);
  json_t *flat = code == VISOR_OK ? flat_meta(meta, current) : NULL;
  if (code == VISOR_OK && !flat)
    code = visor_error_set(err, VISOR_ERR_NOMEM, "chroma set_meta: out of memory");
  json_decref(old);
  if (code != VISOR_OK) {
    json_decref(ids);
    return code;
  }
  json_t *body = json_pack("{sos[o]}", "ids", ids, "metadatas", flat);
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (!text) return visor_error_set(err, VISOR_ERR_NOMEM, "chroma set_meta: out of memory");
  json_t *answer = NULL;
  code = record_call(s, "update", text, strlen(text), "POST", &answer, err);
  json_decref(answer);
  free(text);
  return code;
}

/* ---- search -------------------------------------------------------------------------- */

/* {"key": {"op": value}} (steals value). */
static json_t *cond(const char *key, const char *op, json_t *value) {
  json_t *inner = json_object();
  json_t *out = json_object();
  if (!inner || !out || !value || json_object_set_new(inner, op, value) != 0 ||
      json_object_set_new(out, key, inner) != 0) {
    json_decref(out);
    return NULL;
  }
  return out;
}

/* {"$and"/"$or": items} (steals items); one item stands alone; none: a match-nothing or
 * match-everything stand-in is the caller's business. */
static json_t *join(const char *op, json_t *items) {
  if (!items) return NULL;
  if (json_array_size(items) == 1) {
    json_t *only = json_incref(json_array_get(items, 0));
    json_decref(items);
    return only;
  }
  json_t *out = json_object();
  if (!out || json_object_set_new(out, op, items) != 0) {
    json_decref(out);
    return NULL;
  }
  return out;
}

static int push(json_t *items, json_t *item) {
  return item && json_array_append_new(items, item) == 0 ? 0 : -1;
}

/* A condition no record meets (a key no record has). */
static json_t *never(void) {
  return cond("visor.never", "$eq", json_true());
}

/* The record has a price: Chroma has no "exists", but a number is < 0 or >= 0. */
static json_t *has_price(void) {
  json_t *items = json_array();
  if (!items || push(items, cond("price", "$lt", json_real(0))) ||
      push(items, cond("price", "$gte", json_real(0)))) {
    json_decref(items);
    return NULL;
  }
  return join("$or", items);
}

static const char *chroma_op(visor_filter_op op) {
  static const char *const ops[] = {"$eq", "$ne", "$lt", "$lte", "$gt", "$gte"};
  return ops[op];
}

/* The key a comparison's value tests: "category", or "label.KEY=VALUE". */
static char *leaf_key(const visor_filter_node *n, const char *value) {
  char *key = NULL;
  if (n->field == VISOR_FILTER_CATEGORY) return strdup("category");
  if (asprintf(&key, LABEL_PREFIX "%s=%s", n->label_key, value) < 0) return NULL;
  return key;
}

/* One comparison, true exactly where the three-valued comparison (negated when `negate`) is
 * true. */
static json_t *where_leaf(const visor_filter_node *n, int negate) {
  int positive = (n->kind == VISOR_FILTER_IN ? !n->negated : n->op == VISOR_FILTER_EQ) != negate;
  json_t *items = json_array();
  if (!items) return NULL;
  int failed = 0;
  if (n->field == VISOR_FILTER_PRICE) {
    if (n->kind == VISOR_FILTER_COMPARE) {
      visor_filter_op op = negate ? visor_filter_op_negate(n->op) : n->op;
      failed |= push(items, cond("price", chroma_op(op), json_real(n->values[0].number)));
      if (op == VISOR_FILTER_NE) failed |= push(items, has_price());
    } else {
      json_t *values = json_array();
      for (size_t i = 0; values && i < n->value_count; i++)
        failed |= json_array_append_new(values, json_real(n->values[i].number));
      failed |= push(items, cond("price", positive ? "$in" : "$nin", values));
      if (!positive) failed |= push(items, has_price());
    }
    return failed ? (json_decref(items), NULL) : join("$and", items);
  }
  /* Strings: category (one key, "" when none) or labels (one boolean key per value). */
  int category = n->field == VISOR_FILTER_CATEGORY;
  json_t *values = json_array();
  json_t *any = positive ? json_array() : items; /* positive: any value; negative: none of them */
  if (!values || !any) failed = 1;
  for (size_t i = 0; !failed && i < n->value_count; i++) {
    const char *value = n->values[i].text;
    if (category) {
      if (*value) failed |= json_array_append_new(values, json_string(value));
      continue;
    }
    char *key = leaf_key(n, value);
    failed |= !key || push(any, cond(key, positive ? "$eq" : "$ne", json_true()));
    free(key);
  }
  if (!failed && category && json_array_size(values))
    failed |= push(positive ? any : items,
                   cond("category", positive ? "$in" : "$nin", json_incref(values)));
  json_decref(values);
  if (failed) {
    if (any != items) json_decref(any);
    json_decref(items);
    return NULL;
  }
  if (positive) {
    json_decref(items);
    return json_array_size(any) ? join("$or", any) : (json_decref(any), never());
  }
  /* negative: the field must be there, and be none of the values */
  char *has = NULL;
  if (category) {
    failed |= push(items, cond("category", "$ne", json_string("")));
  } else if (asprintf(&has, LABEL_KEY_PREFIX "%s", n->label_key) >= 0) {
    failed |= push(items, cond(has, "$eq", json_true()));
    free(has);
  } else {
    failed = 1;
  }
  if (failed) {
    json_decref(items);
    return NULL;
  }
  return join("$and", items);
}

/* The `where` of an expression node, with NOT pushed down (De Morgan; exact in three-valued
 * logic, where NOT (a AND b) = NOT a OR NOT b and NOT (x < 1) = x >= 1). */
static json_t *where_expr(const visor_filter_node *n, int negate) {
  if (n->kind == VISOR_FILTER_NOT) return where_expr(n->children[0], !negate);
  if (n->kind == VISOR_FILTER_AND || n->kind == VISOR_FILTER_OR) {
    int all = (n->kind == VISOR_FILTER_AND) != negate;
    json_t *items = json_array();
    for (size_t i = 0; items && i < n->child_count; i++)
      if (push(items, where_expr(n->children[i], negate)) != 0) {
        json_decref(items);
        return NULL;
      }
    return join(all ? "$and" : "$or", items);
  }
  return where_leaf(n, negate);
}

/* The `where` of filter, or NULL (*none set) when it constrains nothing. */
static json_t *build_where(const visor_vector_filter *f, int *none) {
  *none = 1;
  if (!f) return NULL;
  json_t *conds = json_array();
  if (!conds) return NULL;
  int failed = 0;
  if (f->category_count == 1 && f->categories) {
    failed |= json_array_append_new(
        conds, json_pack("{s{ss}}", "category", "$eq", f->categories[0] ? f->categories[0] : ""));
  } else if (f->category_count > 1 && f->categories) {
    json_t *in = json_array();
    for (size_t i = 0; i < f->category_count && in; i++)
      failed |= json_array_append_new(in, json_string(f->categories[i] ? f->categories[i] : ""));
    failed |= !in || json_array_append_new(conds, json_pack("{s{so}}", "category", "$in", in));
  }
  for (size_t i = 0; f->labels && i < f->label_count && !failed; i++) {
    char *key = label_key(f->labels[i] ? f->labels[i] : "");
    failed |= !key || json_array_append_new(conds, json_pack("{s{sb}}", key, "$eq", 1));
    free(key);
  }
  if (f->model && !failed)
    failed |= json_array_append_new(conds, json_pack("{s{ss}}", "model", "$eq", f->model));
  if (f->expr && f->expr->root && !failed) failed |= push(conds, where_expr(f->expr->root, 0));
  if (failed) {
    json_decref(conds);
    *none = 0;
    return NULL;
  }
  size_t n = json_array_size(conds);
  if (n == 0) {
    json_decref(conds);
    return NULL;
  }
  *none = 0;
  if (n == 1) {
    json_t *only = json_incref(json_array_get(conds, 0));
    json_decref(conds);
    return only;
  }
  return json_pack("{so}", "$and", conds);
}

static void copy_field(char *dst, size_t cap, const char *src) {
  size_t n = src ? strnlen(src, cap - 1) : 0;
  if (n) memcpy(dst, src, n);
  dst[n] = '\0';
}

static visor_code chroma_search(visor_vector_store *store, const float *query, size_t k,
                                const visor_vector_filter *filter, visor_vector_hit *hits,
                                size_t *count, visor_error *err) {
  chroma_store *s = (chroma_store *)store;
  if (count) *count = 0;
  if (!count || (k && !hits))
    return visor_error_set(err, VISOR_ERR_INVALID, "search: hits and count must not be NULL");
  if (k == 0) return VISOR_OK;
  if (k > K_MAX) return visor_error_set(err, VISOR_ERR_INVALID, "search: k %zu > %d", k, K_MAX);
  float *q = malloc(store->dim * sizeof *q);
  if (!q) return visor_error_set(err, VISOR_ERR_NOMEM, "search: out of memory");
  visor_code code = visor_vector_prepare(s->params.metric, s->base.dim, "query", query, q, err);
  if (code != VISOR_OK) {
    free(q);
    return code;
  }
  int none = 0;
  json_t *where = build_where(filter, &none);
  if (!where && !none) {
    free(q);
    return visor_error_set(err, VISOR_ERR_NOMEM, "search: out of memory");
  }
  visor_strbuf buf;
  visor_strbuf_init(&buf);
  int failed = 0;
  visor_strbuf_appendf(&buf, "{\"n_results\":%zu,\"include\":[\"metadatas\",\"distances\"]", k);
  if (where) {
    visor_strbuf_append(&buf, ",\"where\":", 9);
    append_json(&buf, where, &failed);
    json_decref(where);
  }
  visor_strbuf_append(&buf, ",\"query_embeddings\":[", 21);
  append_vector(&buf, q, store->dim);
  visor_strbuf_append(&buf, "]}", 2);
  free(q);
  size_t len = buf.len;
  char *body = visor_strbuf_take(&buf);
  if (failed || !body) {
    free(body);
    return visor_error_set(err, VISOR_ERR_NOMEM, "search: out of memory");
  }
  json_t *answer = NULL;
  code = record_call(s, "query", body, len, "POST", &answer, err);
  free(body);
  if (code != VISOR_OK) return visor_error_wrap(err, "search");
  json_t *ids = json_array_get(json_object_get(answer, "ids"), 0);
  json_t *metas = json_array_get(json_object_get(answer, "metadatas"), 0);
  json_t *dists = json_array_get(json_object_get(answer, "distances"), 0);
  size_t n = 0;
  for (size_t i = 0; i < json_array_size(ids) && n < k; i++) {
    const char *id = json_string_value(json_array_get(ids, i));
    json_t *d = json_array_get(dists, i);
    if (!id || !json_is_number(d)) continue;
    copy_field(hits[n].id, sizeof hits[n].id, id);
    copy_field(hits[n].product_id, sizeof hits[n].product_id,
               json_string_value(json_object_get(json_array_get(metas, i), "product_id")));
    hits[n].distance = (float)json_number_value(d);
    n++;
  }
  json_decref(answer);
  *count = n;
  return VISOR_OK;
}

/* The get route with include embeddings: Chroma answers them as arrays of numbers. */
static visor_code chroma_get(visor_vector_store *store, const char *id, float *out,
                             visor_error *err) {
  chroma_store *s = (chroma_store *)store;
  visor_code code = visor_vector_id_check("get", id, err);
  if (code != VISOR_OK) return code;
  if (!out) return visor_error_set(err, VISOR_ERR_INVALID, "get %s: out must not be NULL", id);
  json_t *body = json_pack("{s[s]s[s]}", "ids", id, "include", "embeddings");
  char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
  json_decref(body);
  if (!text) return visor_error_set(err, VISOR_ERR_NOMEM, "chroma get %s: out of memory", id);
  json_t *answer = NULL;
  code = record_call(s, "get", text, strlen(text), "POST", &answer, err);
  free(text);
  if (code != VISOR_OK) return visor_error_wrap(err, "get %s", id);
  json_t *ids = json_object_get(answer, "ids");
  json_t *vector = json_array_get(json_object_get(answer, "embeddings"), 0);
  if (json_array_size(ids) == 0)
    code = visor_error_set(err, VISOR_ERR_NOT_FOUND, "get: no vector with id '%s'", id);
  else if (json_array_size(vector) != store->dim)
    code = visor_error_set(err, VISOR_ERR_UNAVAILABLE,
                           "chroma %s: get %s answered %zu numbers, expected %zu", s->url, id,
                           json_array_size(vector), store->dim);
  for (size_t i = 0; code == VISOR_OK && i < store->dim; i++) {
    json_t *x = json_array_get(vector, i);
    if (!json_is_number(x))
      code = visor_error_set(err, VISOR_ERR_UNAVAILABLE,
                             "chroma %s: get %s: component %zu is not a number", s->url, id, i);
    else
      out[i] = (float)json_number_value(x);
  }
  json_decref(answer);
  return code;
}

static size_t chroma_count(visor_vector_store *store) {
  chroma_store *s = (chroma_store *)store;
  json_t *answer = NULL;
  visor_error ignored;
  if (record_call(s, "count", NULL, 0, "GET", &answer, &ignored) != VISOR_OK) return 0;
  size_t n = json_is_integer(answer) && json_integer_value(answer) > 0
                 ? (size_t)json_integer_value(answer)
                 : 0;
  json_decref(answer);
  return n;
}

#define LIST_PAGE 1000

/* Pages through the collection with the get route (limit / offset, metadatas only). */
static visor_code chroma_list(visor_vector_store *store, visor_vector_list_fn fn, void *ctx,
                              visor_error *err) {
  chroma_store *s = (chroma_store *)store;
  for (size_t offset = 0;; offset += LIST_PAGE) {
    char body[160];
    int len =
        snprintf(body, sizeof body, "{\"limit\":%d,\"offset\":%zu,\"include\":[\"metadatas\"]}",
                 LIST_PAGE, offset);
    json_t *answer = NULL;
    visor_code code = record_call(s, "get", body, (size_t)len, "POST", &answer, err);
    if (code != VISOR_OK) return code;
    json_t *ids = json_object_get(answer, "ids");
    json_t *metas = json_object_get(answer, "metadatas");
    size_t count = json_array_size(ids), i;
    int stop = 0;
    for (i = 0; i < count && !stop; i++) {
      const char *product =
          json_string_value(json_object_get(json_array_get(metas, i), "product_id"));
      stop = fn(ctx, json_string_value(json_array_get(ids, i)), product ? product : "");
    }
    json_decref(answer);
    if (stop || count < LIST_PAGE) return VISOR_OK;
  }
}

static void chroma_close(visor_vector_store *store) {
  if (!store) return;
  chroma_store *s = (chroma_store *)store;
  for (size_t i = 0; i < s->pooled; i++)
    curl_easy_cleanup(s->pool[i]);
  pthread_mutex_destroy(&s->lock);
  free(s);
}

static const visor_vector_ops chroma_ops = {
    .upsert = chroma_upsert,
    .remove = chroma_remove,
    .upsert_batch = chroma_upsert_batch,
    .set_meta = chroma_set_meta,
    .get = chroma_get,
    .search = chroma_search,
    .count = chroma_count,
    .list = chroma_list,
    .close = chroma_close,
};

/* ---- URL ----------------------------------------------------------------------------- */

static int parse_long(const char *v, long min, long max, long *out) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || end == v || *end || x < min || x > max) return -1;
  *out = x;
  return 0;
}

static visor_code parse_options(chroma_store *s, const char *query, visor_error *err) {
  if (!query || !*query) return VISOR_OK;
  char *copy = strdup(query);
  if (!copy) return visor_error_set(err, VISOR_ERR_NOMEM, "parsing URL query: out of memory");
  visor_code rc = VISOR_OK;
  char *save = NULL;
  for (char *kv = strtok_r(copy, "&", &save); kv && rc == VISOR_OK;
       kv = strtok_r(NULL, "&", &save)) {
    char *eq = strchr(kv, '=');
    if (!eq) {
      rc = visor_error_set(err, VISOR_ERR_INVALID, "URL option '%s' has no value", kv);
      break;
    }
    *eq = '\0';
    const char *key = kv, *value = eq + 1;
    long v = 0;
    int bad = 0;
    if (strcmp(key, "metric") == 0)
      bad = visor_metric_parse(value, &s->params.metric);
    else if (strcmp(key, "m") == 0 || strcmp(key, "M") == 0)
      bad = parse_long(value, 2, 256, &v) || !(s->params.m = (int)v);
    else if (strcmp(key, "ef_construction") == 0)
      bad = parse_long(value, 1, 100000, &v) || !(s->params.ef_construction = (int)v);
    else if (strcmp(key, "ef_search") == 0)
      bad = parse_long(value, 1, 100000, &v) || !(s->params.ef_search = (int)v);
    else if (strcmp(key, "timeout_ms") == 0)
      bad = parse_long(value, 1, 3600000, &s->timeout_ms);
    else if (strcmp(key, "connect_timeout_ms") == 0)
      bad = parse_long(value, 1, 600000, &s->connect_timeout_ms);
    else if (strcmp(key, "batch") == 0)
      bad = parse_long(value, 1, 100000, &v) || !(s->batch = (size_t)v);
    else
      rc = visor_error_set(err, VISOR_ERR_INVALID,
                           "unknown chroma URL option '%s' (metric, m, ef_construction, ef_search, "
                           "timeout_ms, connect_timeout_ms, batch)",
                           key);
    if (bad)
      rc = visor_error_set(err, VISOR_ERR_INVALID, "chroma URL option %s='%s' is out of range", key,
                           value);
  }
  free(copy);
  return rc;
}

/* Tenant, database and collection names: Chroma's rules (3 to 127 characters from
 * [A-Za-z0-9._-], starting and ending with a letter or digit, no ".."). */
static visor_code check_name(const char *what, const char *name, visor_error *err) {
  size_t n = name ? strlen(name) : 0;
  int ok = n >= 3 && n <= 127;
  for (size_t i = 0; ok && i < n; i++) {
    char c = name[i];
    int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    ok = alnum || ((c == '.' || c == '_' || c == '-') && i > 0 && i + 1 < n);
    if (ok && c == '.' && name[i + 1] == '.') ok = 0;
  }
  if (!ok)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "%s name '%s' must be 3 to 127 characters from [A-Za-z0-9._-], "
                           "starting and ending with a letter or digit (Chroma's rule)",
                           what, name ? name : "(null)");
  return VISOR_OK;
}

/* chroma://host[:port]/TENANT/DATABASE[?options] */
static visor_code parse_url(chroma_store *s, const char *url, visor_error *err) {
  const char *rest = url + strlen("chroma://");
  const char *slash = strchr(rest, '/');
  const char *q = strchr(rest, '?');
  if (!slash || (q && q < slash))
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "chroma URL '%s' must be chroma://HOST:PORT/TENANT/DATABASE", url);
  size_t host_len = (size_t)(slash - rest);
  if (host_len == 0 || host_len > 255)
    return visor_error_set(err, VISOR_ERR_INVALID, "chroma URL '%s' has no host", url);
  char host[256];
  memcpy(host, rest, host_len);
  host[host_len] = '\0';
  char *colon = strrchr(host, ':');
  long port = DEFAULT_PORT;
  if (colon && !strchr(colon, ']')) {
    *colon = '\0';
    if (parse_long(colon + 1, 1, 65535, &port) != 0)
      return visor_error_set(err, VISOR_ERR_INVALID, "chroma URL '%s' has a bad port", url);
  }
  if (!*host) return visor_error_set(err, VISOR_ERR_INVALID, "chroma URL '%s' has no host", url);
  const char *path = slash + 1;
  size_t path_len = q ? (size_t)(q - path) : strlen(path);
  char tmp[300];
  if (path_len >= sizeof tmp)
    return visor_error_set(err, VISOR_ERR_INVALID, "chroma URL '%s' is too long", url);
  memcpy(tmp, path, path_len);
  tmp[path_len] = '\0';
  if (path_len && tmp[path_len - 1] == '/') tmp[path_len - 1] = '\0';
  char *second = strchr(tmp, '/');
  if (!second || strchr(second + 1, '/'))
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "chroma URL '%s' must name TENANT/DATABASE after the host", url);
  *second = '\0';
  visor_code code;
  if ((code = check_name("tenant", tmp, err)) != VISOR_OK ||
      (code = check_name("database", second + 1, err)) != VISOR_OK)
    return code;
  memcpy(s->tenant, tmp, strlen(tmp) + 1); /* check_name: at most 127 characters */
  memcpy(s->database, second + 1, strlen(second + 1) + 1);
  snprintf(s->origin, sizeof s->origin, "http://%s:%ld", host, port);
  snprintf(s->db_path, sizeof s->db_path, "/api/v2/tenants/%s/databases/%s", s->tenant,
           s->database);
  return parse_options(s, q ? q + 1 : NULL, err);
}

visor_vector_store *visor_chroma_store_open(const char *url, const char *collection, size_t dim,
                                            const visor_vector_params *params, visor_error *err) {
  pthread_once(&curl_once, init_curl);
  if (curl_init_code != CURLE_OK) {
    visor_error_set(err, VISOR_ERR_INTERNAL, "curl_global_init failed");
    return NULL;
  }
  if (dim == 0 || dim > DIM_MAX) {
    visor_error_set(err, VISOR_ERR_INVALID, "dimension %zu must be in [1, %d]", dim, DIM_MAX);
    return NULL;
  }
  if (check_name("collection", collection, err) != VISOR_OK) return NULL;
  chroma_store *s = calloc(1, sizeof *s);
  if (!s) {
    visor_error_set(err, VISOR_ERR_NOMEM, "opening chroma store: out of memory");
    return NULL;
  }
  s->base.ops = &chroma_ops;
  s->base.dim = dim;
  if (params)
    s->params = *params;
  else
    visor_vector_params_default(&s->params);
  s->timeout_ms = DEFAULT_TIMEOUT_MS;
  s->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
  s->batch = DEFAULT_BATCH;
  snprintf(s->url, sizeof s->url, "%s", url);
  snprintf(s->collection, sizeof s->collection, "%s", collection);
  pthread_mutex_init(&s->lock, NULL);
  if (parse_url(s, url, err) != VISOR_OK || create_all(s, err) != VISOR_OK) {
    chroma_close(&s->base);
    return NULL;
  }
  check_features(s);
  return &s->base;
}
