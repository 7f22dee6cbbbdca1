/* router.c: route patterns with {param} segments, and matching a request path against
 * them. A path matches a pattern when it has the same number of '/'-separated segments,
 * every literal segment is equal (after percent-decoding) and every {param} segment is
 * non-empty. When several patterns match, the most specific wins: the one whose first
 * literal-versus-parameter difference is a literal ("/products/search" beats
 * "/products/{id}"). A path some pattern matches under other methods gives 405 + Allow;
 * none gives 404. HEAD is served by the GET route when no HEAD route exists. */
#include "http/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void route_free(visor_route *route) {
  for (size_t i = 0; i < route->nsegments; i++)
    free(route->segments[i]);
  free(route->segments);
  free(route->is_param);
  free(route->method);
  free(route->pattern);
}

void visor_router_free(visor_router *router) {
  for (size_t i = 0; i < router->count; i++)
    route_free(&router->routes[i]);
  free(router->routes);
  memset(router, 0, sizeof *router);
}

static int valid_param_name(const char *name, size_t len) {
  if (len == 0) return 0;
  for (size_t i = 0; i < len; i++) {
    char c = name[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return 0;
  }
  return 1;
}

visor_code visor_router_add(visor_router *router, const char *method, const char *pattern,
                            visor_http_handler handler, void *ctx,
                            const visor_route_options *options, size_t default_max_body,
                            visor_error *err) {
  if (!method || !*method || !pattern || pattern[0] != '/' || !handler)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "route needs a method, a pattern starting with '/' and a handler "
                           "(got method=%s pattern=%s)",
                           method ? method : "(null)", pattern ? pattern : "(null)");
  visor_route route = {0};
  route.method = strdup(method);
  route.pattern = strdup(pattern);
  size_t nsegments = 1;
  for (const char *p = pattern + 1; *p; p++)
    nsegments += *p == '/';
  route.segments = calloc(nsegments, sizeof *route.segments);
  route.is_param = calloc(nsegments, 1);
  if (!route.method || !route.pattern || !route.segments || !route.is_param) goto nomem;
  const char *start = pattern + 1;
  for (size_t i = 0; i < nsegments; i++) {
    const char *end = strchr(start, '/');
    size_t len = end ? (size_t)(end - start) : strlen(start);
    route.nsegments = i + 1;
    if (len >= 2 && start[0] == '{' && start[len - 1] == '}') {
      if (!valid_param_name(start + 1, len - 2)) {
        route_free(&route);
        return visor_error_set(err, VISOR_ERR_INVALID, "route %s: bad parameter name in %.*s",
                               pattern, (int)len, start);
      }
      for (size_t j = 0; j < i; j++)
        if (route.is_param[j] && strlen(route.segments[j]) == len - 2 &&
            memcmp(route.segments[j], start + 1, len - 2) == 0) {
          route_free(&route);
          return visor_error_set(err, VISOR_ERR_INVALID, "route %s: parameter %.*s repeats",
                                 pattern, (int)len, start);
        }
      route.is_param[i] = 1;
      route.segments[i] = strndup(start + 1, len - 2);
    } else {
      if (memchr(start, '{', len) || memchr(start, '}', len)) {
        route_free(&route);
        return visor_error_set(err, VISOR_ERR_INVALID,
                               "route %s: a parameter must be a whole segment ({name})", pattern);
      }
      route.segments[i] = strndup(start, len);
    }
    if (!route.segments[i]) goto nomem;
    start = end ? end + 1 : start + len;
  }
  for (size_t i = 0; i < router->count; i++)
    if (strcmp(router->routes[i].method, method) == 0 &&
        strcmp(router->routes[i].pattern, pattern) == 0) {
      route_free(&route);
      return visor_error_set(err, VISOR_ERR_CONFLICT, "route %s %s is already registered", method,
                             pattern);
    }
  route.handler = handler;
  route.ctx = ctx;
  route.max_body = options && options->max_body ? options->max_body : default_max_body;
  route.sink = options ? options->sink : NULL;
  route.sink_ctx = options ? options->sink_ctx : NULL;
  route.no_rate_limit = options ? options->no_rate_limit : 0;
  if (router->count == router->capacity) {
    size_t capacity = router->capacity ? router->capacity * 2 : 16;
    visor_route *routes = realloc(router->routes, capacity * sizeof *routes);
    if (!routes) goto nomem;
    router->routes = routes;
    router->capacity = capacity;
  }
  router->routes[router->count++] = route;
  return VISOR_OK;
nomem:
  route_free(&route);
  return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory adding route %s %s", method, pattern);
}

/* The request path split and decoded once. */
typedef struct path_segments {
  char **decoded;
  unsigned char *has_slash; /* decoded text contains '/' (from %2F) */
  size_t count;
} path_segments;

static void segments_free(path_segments *segs) {
  for (size_t i = 0; i < segs->count; i++)
    free(segs->decoded[i]);
  free(segs->decoded);
  free(segs->has_slash);
}

static visor_match_result split_path(const char *raw_path, path_segments *segs) {
  memset(segs, 0, sizeof *segs);
  if (raw_path[0] != '/') return VISOR_MATCH_NO_PATH;
  size_t count = 1;
  for (const char *p = raw_path + 1; *p; p++)
    count += *p == '/';
  segs->decoded = calloc(count, sizeof *segs->decoded);
  segs->has_slash = calloc(count, 1);
  if (!segs->decoded || !segs->has_slash) return VISOR_MATCH_NO_MEMORY;
  const char *start = raw_path + 1;
  for (size_t i = 0; i < count; i++) {
    const char *end = strchr(start, '/');
    size_t len = end ? (size_t)(end - start) : strlen(start);
    int had_nul = 0;
    segs->decoded[i] = visor_http_url_decode(start, len, 0, &had_nul);
    segs->count = i + 1;
    if (!segs->decoded[i]) return VISOR_MATCH_NO_MEMORY;
    if (had_nul) return VISOR_MATCH_BAD_PATH;
    segs->has_slash[i] = strchr(segs->decoded[i], '/') != NULL;
    start = end ? end + 1 : start + len;
  }
  return VISOR_MATCH_FOUND;
}

/* 1 if route matches the segments; *bad set when a parameter would hold a '/'. */
static int route_matches(const visor_route *route, const path_segments *segs, int *bad) {
  if (route->nsegments != segs->count) return 0;
  int slash_in_param = 0;
  for (size_t i = 0; i < segs->count; i++) {
    if (route->is_param[i]) {
      if (segs->decoded[i][0] == '\0') return 0;
      if (segs->has_slash[i]) slash_in_param = 1;
    } else if (strcmp(route->segments[i], segs->decoded[i]) != 0) {
      return 0;
    }
  }
  if (slash_in_param) *bad = 1;
  return !slash_in_param;
}

/* > 0 if a is more specific than b. */
static int compare_specificity(const visor_route *a, const visor_route *b) {
  for (size_t i = 0; i < a->nsegments; i++)
    if (a->is_param[i] != b->is_param[i]) return a->is_param[i] ? -1 : 1;
  return 0;
}

static void allow_add(char *allow, size_t size, const char *method) {
  /* skip duplicates */
  size_t mlen = strlen(method);
  for (const char *p = allow; *p;) {
    const char *end = strstr(p, ", ");
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len == mlen && memcmp(p, method, len) == 0) return;
    if (!end) break;
    p = end + 2;
  }
  size_t used = strlen(allow);
  snprintf(allow + used, size - used, "%s%s", used ? ", " : "", method);
}

visor_match_result visor_router_match(const visor_router *router, const char *method,
                                      const char *raw_path, const visor_route **route_out,
                                      char ***param_values, size_t *nparams, char *allow,
                                      size_t allow_size) {
  *route_out = NULL;
  *param_values = NULL;
  *nparams = 0;
  if (allow_size) allow[0] = '\0';
  path_segments segs;
  visor_match_result result = split_path(raw_path, &segs);
  if (result != VISOR_MATCH_FOUND) {
    segments_free(&segs);
    return result;
  }
  const visor_route *best = NULL, *best_get = NULL;
  int any_path = 0, bad = 0;
  for (size_t i = 0; i < router->count; i++) {
    const visor_route *route = &router->routes[i];
    if (!route_matches(route, &segs, &bad)) continue;
    any_path = 1;
    if (strcmp(route->method, method) == 0) {
      if (!best || compare_specificity(route, best) > 0) best = route;
    } else if (strcmp(method, "HEAD") == 0 && strcmp(route->method, "GET") == 0) {
      if (!best_get || compare_specificity(route, best_get) > 0) best_get = route;
    }
  }
  if (!best) best = best_get;
  if (!best) {
    if (any_path) {
      for (size_t i = 0; i < router->count; i++) {
        const visor_route *route = &router->routes[i];
        int ignored = 0;
        if (!route_matches(route, &segs, &ignored)) continue;
        allow_add(allow, allow_size, route->method);
        if (strcmp(route->method, "GET") == 0) allow_add(allow, allow_size, "HEAD");
      }
      result = VISOR_MATCH_NO_METHOD;
    } else {
      result = bad ? VISOR_MATCH_BAD_PATH : VISOR_MATCH_NO_PATH;
    }
    segments_free(&segs);
    return result;
  }
  size_t count = 0;
  for (size_t i = 0; i < best->nsegments; i++)
    count += best->is_param[i];
  char **values = count ? calloc(count, sizeof *values) : NULL;
  if (count && !values) {
    segments_free(&segs);
    return VISOR_MATCH_NO_MEMORY;
  }
  size_t n = 0;
  for (size_t i = 0; i < best->nsegments; i++)
    if (best->is_param[i]) {
      values[n++] = segs.decoded[i]; /* moved out of segs */
      segs.decoded[i] = NULL;
    }
  segments_free(&segs);
  *route_out = best;
  *param_values = values;
  *nparams = count;
  return VISOR_MATCH_FOUND;
}
