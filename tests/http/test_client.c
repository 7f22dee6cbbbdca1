/* test_client.c: the libcurl client of the HTTP server tests (see test_client.h). */
#include "test_client.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static size_t on_body(char *data, size_t size, size_t n, void *cls) {
  test_response *res = cls;
  size_t len = size * n;
  char *body = realloc(res->body, res->len + len + 1);
  if (!body) return 0;
  memcpy(body + res->len, data, len);
  res->len += len;
  body[res->len] = '\0';
  res->body = body;
  return len;
}

static void copy_value(char *out, size_t size, const char *line, size_t len, size_t name_len) {
  const char *value = line + name_len;
  size_t vlen = len - name_len;
  while (vlen && (*value == ' ' || *value == '\t'))
    value++, vlen--;
  while (vlen && (value[vlen - 1] == '\r' || value[vlen - 1] == '\n'))
    vlen--;
  if (vlen >= size) vlen = size - 1;
  memcpy(out, value, vlen);
  out[vlen] = '\0';
}

static size_t on_header(char *line, size_t size, size_t n, void *cls) {
  test_response *res = cls;
  size_t len = size * n;
  struct {
    const char *name;
    char *out;
    size_t size;
  } wanted[] = {{"X-Request-Id:", res->request_id, sizeof res->request_id},
                {"Allow:", res->allow, sizeof res->allow},
                {"Retry-After:", res->retry_after, sizeof res->retry_after},
                {"Content-Type:", res->content_type, sizeof res->content_type},
                {"Connection:", res->connection, sizeof res->connection}};
  for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
    size_t name_len = strlen(wanted[i].name);
    if (len >= name_len && strncasecmp(line, wanted[i].name, name_len) == 0)
      copy_value(wanted[i].out, wanted[i].size, line, len, name_len);
  }
  return len;
}

void test_perform(CURL *curl, test_response *out) {
  memset(out, 0, sizeof *out);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, out);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 20L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  out->code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out->status);
  if (!out->body) out->body = calloc(1, 1);
}

void test_request(const char *method, const char *url, const char *const *headers, const char *body,
                  size_t len, test_response *out) {
  CURL *curl = curl_easy_init();
  struct curl_slist *list = NULL;
  for (size_t i = 0; headers && headers[i]; i++)
    list = curl_slist_append(list, headers[i]);
  list = curl_slist_append(list, "Expect:");
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  if (strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (body) {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  } else if (strcmp(method, "GET") != 0) {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  }
  test_perform(curl, out);
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
}

void test_response_free(test_response *res) {
  free(res->body);
  res->body = NULL;
}
