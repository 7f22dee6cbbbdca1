/* api_client.c: the REST calls of `visor import` (see api_client.h). */
#include "import/api_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/clock.h"
#include "core/strbuf.h"

visor_code visor_api_client_init(visor_api_client *client, const char *base_url,
                                 double retry_seconds, visor_error *err) {
  memset(client, 0, sizeof *client);
  client->curl = curl_easy_init();
  if (!client->curl) return visor_error_set(err, VISOR_ERR_NOMEM, "cannot start libcurl");
  client->base_url = base_url;
  client->retry_seconds = retry_seconds;
  return VISOR_OK;
}

void visor_api_client_close(visor_api_client *client) {
  if (client->curl) curl_easy_cleanup(client->curl);
  client->curl = NULL;
}

static size_t collect(char *data, size_t size, size_t count, void *ctx) {
  visor_strbuf_append(ctx, data, size * count);
  return size * count;
}

typedef struct call_headers {
  double retry_after;
} call_headers;

static size_t read_header(char *data, size_t size, size_t count, void *ctx) {
  call_headers *headers = ctx;
  size_t len = size * count;
  if (len > 12 && strncasecmp(data, "Retry-After:", 12) == 0)
    headers->retry_after = strtod(data + 12, NULL);
  return len;
}

static void sleep_seconds(double seconds) {
  struct timespec pause = {.tv_sec = (time_t)seconds,
                           .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9)};
  nanosleep(&pause, NULL);
}

static void add_image_part(curl_mime *form, const visor_image_bytes *image) {
  curl_mimepart *part = curl_mime_addpart(form);
  curl_mime_name(part, "images");
  curl_mime_data(part, image->data, image->len);
  curl_mime_filename(part, image->filename);
  curl_mime_type(part, "application/octet-stream");
}

static void add_text_part(curl_mime *form, const char *name, const char *value) {
  curl_mimepart *part = curl_mime_addpart(form);
  curl_mime_name(part, name);
  curl_mime_data(part, value, CURL_ZERO_TERMINATED);
}

/* A multipart form: the product fields as text parts (labels as JSON text, a price as a
 * JSON number) when fields is not NULL, and the image as the file part "images". */
typedef struct form_spec {
  const json_t *fields;
  const visor_image_bytes *image;
} form_spec;

/* A new form for each attempt: a form a refused attempt has read part of is not sent again. */
static curl_mime *build_form(CURL *curl, const form_spec *spec) {
  curl_mime *form = curl_mime_init(curl);
  const char *key;
  json_t *value;
  json_object_foreach((json_t *)spec->fields, key, value) {
    if (json_is_string(value)) {
      add_text_part(form, key, json_string_value(value));
    } else if (!json_is_null(value)) {
      char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
      if (text) add_text_part(form, key, text);
      free(text);
    }
  }
  if (spec->image) add_image_part(form, spec->image);
  return form;
}

/* One call: method on path, with a mime form or a JSON body (or neither). Retries what is
 * worth retrying; *answer receives the parsed JSON of a 2xx answer. */
static visor_code call(visor_api_client *client, const char *method, const char *path,
                       const form_spec *form_spec, const json_t *json_body, json_t **answer,
                       visor_error *err) {
  char url[2048];
  snprintf(url, sizeof url, "%s%s", client->base_url, path);
  char *body_text = json_body ? json_dumps(json_body, JSON_COMPACT) : NULL;
  int64_t deadline = visor_now_ms() + (int64_t)(client->retry_seconds * 1000);
  double backoff = 0.2;
  visor_code code = VISOR_OK;
  if (answer) *answer = NULL;
  for (;;) {
    CURL *curl = client->curl;
    visor_strbuf response;
    visor_strbuf_init(&response);
    call_headers headers = {0};
    struct curl_slist *list = NULL;
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &response);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, read_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &headers);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_mime *form = form_spec ? build_form(curl, form_spec) : NULL;
    if (form) curl_easy_setopt(curl, CURLOPT_MIMEPOST, form);
    if (body_text) {
      list = curl_slist_append(list, "Content-Type: application/json");
      curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body_text);
    }
    if (client->authorization) list = curl_slist_append(list, client->authorization);
    list = curl_slist_append(list, "Expect:");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(list);
    curl_mime_free(form);
    long status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    client->status = rc == CURLE_OK ? status : 0;
    char *text = visor_strbuf_take(&response);
    json_t *parsed = text && *text ? json_loads(text, 0, NULL) : NULL;
    /* A POST is repeated only when the server cannot have acted on it. */
    int idempotent = strcmp(method, "GET") == 0;
    int retry = status == 429 || status == 503 || rc == CURLE_COULDNT_CONNECT ||
                (idempotent && (rc != CURLE_OK || status == 502));
    if (retry && visor_now_ms() < deadline) {
      double wait = headers.retry_after > 0 ? headers.retry_after : backoff;
      if (wait > 30) wait = 30;
      backoff = backoff * 2 > 5 ? 5 : backoff * 2;
      free(text);
      json_decref(parsed);
      sleep_seconds(wait);
      continue;
    }
    if (rc != CURLE_OK) {
      code = visor_error_set(err, VISOR_ERR_UNAVAILABLE, "cannot reach %s: %s", client->base_url,
                             curl_easy_strerror(rc));
    } else if (status < 200 || status >= 300) {
      const char *message =
          json_string_value(json_object_get(json_object_get(parsed, "error"), "message"));
      visor_code kind = status == 409   ? VISOR_ERR_CONFLICT
                        : status == 404 ? VISOR_ERR_NOT_FOUND
                        : status < 500  ? VISOR_ERR_INVALID
                                        : VISOR_ERR_UNAVAILABLE;
      code = visor_error_set(err, kind, "%s %s: HTTP %ld: %.300s", method, path, status,
                             message ? message
                             : text  ? text
                                     : "");
    } else if (answer) {
      *answer = parsed;
      parsed = NULL;
    }
    free(text);
    json_decref(parsed);
    break;
  }
  free(body_text);
  return code;
}

visor_code visor_api_call_json(visor_api_client *client, const char *method, const char *path,
                               const json_t *body, json_t **answer, visor_error *err) {
  return call(client, method, path, NULL, body, answer, err);
}

static char *escaped(visor_api_client *client, const char *text) {
  char *value = curl_easy_escape(client->curl, text, 0);
  char *copy = value ? strdup(value) : NULL;
  curl_free(value);
  return copy;
}

visor_code visor_api_find_product(visor_api_client *client, const char *sku, char id[40],
                                  visor_error *err) {
  id[0] = '\0';
  char *value = escaped(client, sku);
  if (!value) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  char path[300];
  snprintf(path, sizeof path, "/api/v1/products?sku=%s", value);
  free(value);
  json_t *page = NULL;
  visor_code code = call(client, "GET", path, NULL, NULL, &page, err);
  json_t *first = json_array_get(json_object_get(page, "items"), 0);
  const char *found = json_string_value(json_object_get(first, "id"));
  /* A server without ?sku= answers a plain listing: only an exact match counts. */
  if (code == VISOR_OK && found &&
      strcmp(json_string_value(json_object_get(first, "sku")) ?: "", sku) == 0)
    snprintf(id, 40, "%s", found);
  json_decref(page);
  return code;
}

visor_code visor_api_product_images(visor_api_client *client, const char *id, json_t **images,
                                    visor_error *err) {
  char path[128];
  snprintf(path, sizeof path, "/api/v1/products/%s", id);
  json_t *product = NULL;
  visor_code code = call(client, "GET", path, NULL, NULL, &product, err);
  *images = code == VISOR_OK ? json_incref(json_object_get(product, "images")) : NULL;
  if (code == VISOR_OK && !*images) *images = json_array();
  json_decref(product);
  return code;
}

visor_code visor_api_images_with_digest(visor_api_client *client, const char *sha256,
                                        json_t **images, visor_error *err) {
  char path[160];
  snprintf(path, sizeof path, "/api/v1/images?sha256=%s", sha256);
  json_t *page = NULL;
  visor_code code = call(client, "GET", path, NULL, NULL, &page, err);
  *images = code == VISOR_OK ? json_incref(json_object_get(page, "items")) : NULL;
  if (code == VISOR_OK && !*images) *images = json_array();
  json_decref(page);
  return code;
}

visor_code visor_api_create_product(visor_api_client *client, const json_t *fields,
                                    const visor_image_bytes *image, char id[40], json_t **answer,
                                    visor_error *err) {
  id[0] = '\0';
  json_t *created = NULL;
  form_spec spec = {.fields = fields, .image = image};
  visor_code code = image ? call(client, "POST", "/api/v1/products", &spec, NULL, &created, err)
                          : call(client, "POST", "/api/v1/products", NULL, fields, &created, err);
  const char *created_id = json_string_value(json_object_get(created, "id"));
  if (code == VISOR_OK && !created_id)
    code = visor_error_set(err, VISOR_ERR_INTERNAL, "POST /api/v1/products answered no id");
  if (code == VISOR_OK) snprintf(id, 40, "%s", created_id);
  if (answer)
    *answer = created;
  else
    json_decref(created);
  return code;
}

visor_code visor_api_add_image(visor_api_client *client, const char *id,
                               const visor_image_bytes *image, json_t **answer, visor_error *err) {
  char path[128];
  snprintf(path, sizeof path, "/api/v1/products/%s/images", id);
  form_spec spec = {.image = image};
  json_t *added = NULL;
  visor_code code = call(client, "POST", path, &spec, NULL, &added, err);
  if (answer)
    *answer =
        code == VISOR_OK ? json_incref(json_array_get(json_object_get(added, "images"), 0)) : NULL;
  json_decref(added);
  return code;
}
