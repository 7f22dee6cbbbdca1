/* http_client.c: the libcurl test client (see http_client.h). */
#include "http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char base[256];

void test_http_init(const char *base_url) {
  snprintf(base, sizeof base, "%s", base_url);
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_body(char *data, size_t size, size_t count, void *ctx) {
  test_response *res = ctx;
  size_t len = size * count;
  char *grown = realloc(res->body, res->len + len + 1);
  if (!grown) return 0;
  res->body = grown;
  memcpy(res->body + res->len, data, len);
  res->len += len;
  res->body[res->len] = '\0';
  return len;
}

static size_t on_header(char *data, size_t size, size_t count, void *ctx) {
  test_response *res = ctx;
  size_t len = size * count, used = strlen(res->headers);
  if (used + len < sizeof res->headers) {
    memcpy(res->headers + used, data, len);
    res->headers[used + len] = '\0';
  }
  return len;
}

static test_response perform(CURL *curl, const char *method, const char *path,
                             struct curl_slist *headers) {
  test_response res = {0};
  char url[1024];
  snprintf(url, sizeof url, "%s%s", base, path);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  if (strcmp(method, "HEAD") == 0) curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &res);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &res);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK)
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &res.status);
  else
    fprintf(stderr, "curl %s %s: %s\n", method, path, curl_easy_strerror(rc));
  if (res.body) res.json = json_loads(res.body, JSON_DECODE_ANY, NULL);
  return res;
}

test_response test_request(const char *method, const char *path, const char *content_type,
                           const char *body, size_t len) {
  CURL *curl = curl_easy_init();
  struct curl_slist *headers = NULL;
  if (content_type) {
    char header[256];
    snprintf(header, sizeof header, "Content-Type: %s", content_type);
    headers = curl_slist_append(headers, header);
  }
  headers = curl_slist_append(headers, "Expect:");
  if (body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  }
  test_response res = perform(curl, method, path, headers);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return res;
}

test_response test_request_headers(const char *method, const char *path, const char *const *extra,
                                   const char *body) {
  CURL *curl = curl_easy_init();
  struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
  for (size_t i = 0; extra && extra[i]; i++)
    headers = curl_slist_append(headers, extra[i]);
  if (body) {
    headers = curl_slist_append(headers, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
  }
  test_response res = perform(curl, method, path, headers);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return res;
}

test_response test_get(const char *path) {
  return test_request("GET", path, NULL, NULL, 0);
}

test_response test_post_json(const char *path, const char *json_text) {
  return test_request("POST", path, "application/json", json_text, strlen(json_text));
}

test_response test_multipart(const char *method, const char *path, const test_part *parts,
                             size_t count) {
  CURL *curl = curl_easy_init();
  curl_mime *mime = curl_mime_init(curl);
  for (size_t i = 0; i < count; i++) {
    curl_mimepart *part = curl_mime_addpart(mime);
    curl_mime_name(part, parts[i].name);
    if (parts[i].file)
      curl_mime_filedata(part, parts[i].file);
    else if (parts[i].data) {
      curl_mime_data(part, parts[i].data, parts[i].data_len);
      curl_mime_filename(part, parts[i].filename ? parts[i].filename : "upload.bin");
    } else
      curl_mime_data(part, parts[i].value, CURL_ZERO_TERMINATED);
  }
  curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
  struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
  test_response res = perform(curl, method, path, headers);
  curl_slist_free_all(headers);
  curl_mime_free(mime);
  curl_easy_cleanup(curl);
  return res;
}

void test_response_free(test_response *res) {
  free(res->body);
  json_decref(res->json);
  memset(res, 0, sizeof *res);
}

const char *test_error_code(const test_response *res) {
  const char *code =
      json_string_value(json_object_get(json_object_get(res->json, "error"), "code"));
  return code ? code : "";
}

const char *test_error_message(const test_response *res) {
  const char *message =
      json_string_value(json_object_get(json_object_get(res->json, "error"), "message"));
  return message ? message : "";
}
