/* url.c: percent-decoding of path segments and query strings. The server turns off
 * libmicrohttpd's own unescaping so that "%2F" inside a path parameter stays
 * distinguishable from a real "/" until the path is split into segments. */
#include "http/http_internal.h"

#include <stdlib.h>
#include <string.h>

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char *visor_http_url_decode(const char *text, size_t len, int plus_is_space, int *had_nul) {
  char *out = malloc(len + 1);
  if (!out) return NULL;
  size_t n = 0;
  *had_nul = 0;
  for (size_t i = 0; i < len; i++) {
    char c = text[i];
    if (c == '%' && i + 2 < len && hex_value(text[i + 1]) >= 0 && hex_value(text[i + 2]) >= 0) {
      c = (char)(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
      if (c == '\0') *had_nul = 1;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    } else if (c == '\0') {
      *had_nul = 1;
    }
    out[n++] = c;
  }
  out[n] = '\0';
  return out;
}
