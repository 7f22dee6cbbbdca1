/* fuzz_url.c: libFuzzer harness for request-line parsing: the router (real API route
 * table) on an arbitrary method and raw path, percent-decoding of the path and of every
 * query name and value ('+' as space, as MHD splits them on '&' and '='), the UUID check
 * route handlers apply to path ids, the X-Request-Id check and the JSON Content-Type
 * test. Input: "METHOD PATH?QUERY\nCONTENT-TYPE\nREQUEST-ID" (missing parts are empty). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/uuid.h"
#include "http/http_internal.h"
#include "http/request_parse.h"

static const char *const routes[][2] = {
    {"GET", "/healthz"},
    {"GET", "/readyz"},
    {"GET", "/metrics"},
    {"GET", "/api/openapi.json"},
    {"POST", "/api/v1/products"},
    {"GET", "/api/v1/products"},
    {"GET", "/api/v1/products/{id}"},
    {"PATCH", "/api/v1/products/{id}"},
    {"DELETE", "/api/v1/products/{id}"},
    {"POST", "/api/v1/products/{id}/images"},
    {"GET", "/api/v1/categories"},
    {"GET", "/api/v1/images/{id}"},
    {"GET", "/api/v1/images/{id}/content"},
    {"DELETE", "/api/v1/images/{id}"},
    {"GET", "/api/v1/regions/{id}"},
    {"GET", "/api/v1/regions/{id}/crop"},
    {"GET", "/api/v1/jobs"},
    {"GET", "/api/v1/jobs/{id}"},
    {"POST", "/api/v1/jobs/{id}/retry"},
    {"POST", "/api/v1/jobs/{id}/cancel"},
    {"POST", "/api/v1/searches"},
    {"GET", "/api/v1/searches/{id}"},
    {"GET", "/api/v1/searches/{id}/image"},
    {"GET", "/api/v1/admin/queue"},
    {"POST", "/api/v1/admin/queue/pause"},
    {"POST", "/api/v1/admin/queue/resume"},
};

static void dummy_handler(visor_http_request *req, visor_http_response *res, void *ctx) {
  (void)req;
  (void)res;
  (void)ctx;
}

static visor_router router;

static void build_router(void) {
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    visor_error err = {0};
    if (visor_router_add(&router, routes[i][0], routes[i][1], dummy_handler, NULL, NULL, 1024,
                         &err) != VISOR_OK)
      abort();
  }
}

/* Splits text on '\n' into up to n NUL-terminated copies (missing ones are ""). */
static void split_lines(const char *text, size_t len, char **out, size_t n) {
  size_t start = 0;
  for (size_t i = 0; i < n; i++) {
    size_t end = start;
    while (end < len && (i == n - 1 || text[end] != '\n'))
      end++;
    size_t piece = start <= len ? end - start : 0;
    out[i] = malloc(piece + 1);
    if (piece) memcpy(out[i], text + start, piece);
    out[i][piece] = '\0';
    start = end < len ? end + 1 : len;
  }
}

static void decode_query(const char *query) {
  const char *p = query;
  while (*p) {
    size_t pair = strcspn(p, "&");
    const char *eq = memchr(p, '=', pair);
    size_t name_len = eq ? (size_t)(eq - p) : pair;
    int had_nul = 0;
    char *name = visor_http_url_decode(p, name_len, 1, &had_nul);
    char *value = eq ? visor_http_url_decode(eq + 1, pair - name_len - 1, 1, &had_nul) : NULL;
    if (!name || (eq && !value)) abort();
    if (!had_nul && strlen(name) > name_len) abort(); /* decoding never grows */
    free(name);
    free(value);
    p += pair;
    if (*p == '&') p++;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!router.count) build_router();
  char *line[3];
  split_lines((const char *)data, size, line, 3);
  char *request = line[0];
  char *space = strchr(request, ' ');
  const char *method = request, *target = "";
  if (space) {
    *space = '\0';
    target = space + 1;
  }
  char *path = strdup(target);
  char *question = strchr(path, '?');
  const char *query = "";
  if (question) {
    *question = '\0';
    query = question + 1;
  }

  int had_nul = 0;
  char *decoded = visor_http_url_decode(path, strlen(path), 0, &had_nul);
  if (!decoded) abort();
  free(decoded);

  const visor_route *route = NULL;
  char **params = NULL;
  size_t nparams = 0;
  char allow[128];
  visor_match_result match =
      visor_router_match(&router, method, path, &route, &params, &nparams, allow, sizeof allow);
  if (match == VISOR_MATCH_FOUND) {
    if (!route) abort();
    for (size_t i = 0; i < nparams; i++) {
      if (!params[i] || !params[i][0] || strchr(params[i], '/')) abort();
      (void)visor_uuid_valid(params[i]);
      free(params[i]);
    }
    free(params);
  } else if (match == VISOR_MATCH_NO_METHOD) {
    if (!memchr(allow, '\0', sizeof allow)) abort();
  }
  decode_query(query);
  (void)visor_http_is_json_type(line[1]);
  (void)visor_http_sane_request_id(line[2]);
  free(path);
  for (int i = 0; i < 3; i++)
    free(line[i]);
  return 0;
}
