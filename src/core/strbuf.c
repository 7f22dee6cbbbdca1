/* strbuf.c: a growable NUL-terminated string buffer. */
#include "core/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void visor_strbuf_init(visor_strbuf *buf) {
  memset(buf, 0, sizeof *buf);
}

static int reserve(visor_strbuf *buf, size_t extra) {
  if (buf->failed) return 0;
  if (buf->len + extra + 1 <= buf->capacity) return 1;
  size_t capacity = buf->capacity ? buf->capacity : 256;
  while (capacity < buf->len + extra + 1)
    capacity *= 2;
  char *grown = realloc(buf->data, capacity);
  if (!grown) {
    buf->failed = 1;
    return 0;
  }
  buf->data = grown;
  buf->capacity = capacity;
  return 1;
}

void visor_strbuf_append(visor_strbuf *buf, const char *text, size_t len) {
  if (!reserve(buf, len)) return;
  memcpy(buf->data + buf->len, text, len);
  buf->len += len;
  buf->data[buf->len] = '\0';
}

void visor_strbuf_appendf(visor_strbuf *buf, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  va_list copy;
  va_copy(copy, ap);
  int needed = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  if (needed >= 0 && reserve(buf, (size_t)needed)) {
    vsnprintf(buf->data + buf->len, (size_t)needed + 1, fmt, ap);
    buf->len += (size_t)needed;
  }
  va_end(ap);
}

char *visor_strbuf_take(visor_strbuf *buf) {
  char *data = NULL;
  if (!buf->failed) {
    if (!buf->data) reserve(buf, 0);
    if (buf->data) buf->data[buf->len] = '\0';
    data = buf->data;
  } else {
    free(buf->data);
  }
  visor_strbuf_init(buf);
  return data;
}

void visor_strbuf_free(visor_strbuf *buf) {
  free(buf->data);
  visor_strbuf_init(buf);
}
