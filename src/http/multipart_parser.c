/* multipart_parser.c: the framing of multipart/form-data (RFC 7578 / RFC 2046), streamed:
 * the boundary from the Content-Type (1 to 70 characters; libmicrohttpd's post processor
 * refuses one-character boundaries, hence this parser), the preamble, each part's headers
 * (Content-Disposition name and filename, Content-Type), its bytes up to the next
 * delimiter, and the closing delimiter. Bytes are handed to callbacks as they arrive; only
 * a possible partial delimiter (at most 73 bytes) and one part's headers are buffered. */
#define _GNU_SOURCE /* memmem */
#include "http/http_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_BOUNDARY 70
#define MAX_PART_HEADERS ((size_t)8 * 1024)
#define MAX_PADDING 256 /* transport padding after a delimiter */

struct visor_multipart_parser {
  visor_multipart_callbacks cb;
  void *ctx;
  char delimiter[MAX_BOUNDARY + 5]; /* "\r\n--" boundary */
  size_t delimiter_len;
  enum { MP_DATA, MP_AFTER_DELIMITER, MP_PADDING, MP_HEADERS, MP_END, MP_FAILED } state;
  int in_part; /* 0 in the preamble */
  char *buf;   /* unprocessed bytes */
  size_t len, cap;
  char *name, *filename, *content_type; /* of the part whose headers are read */
};

/* ---- the boundary ------------------------------------------------------------------ */

int visor_multipart_boundary(const char *content_type, char *out, size_t size) {
  if (!content_type) return -1;
  const char *p = content_type;
  while ((p = strchr(p, ';'))) {
    p++;
    while (*p == ' ' || *p == '\t')
      p++;
    if (strncasecmp(p, "boundary=", 9) != 0) continue;
    p += 9;
    size_t len = 0;
    if (*p == '"') {
      const char *end = strchr(++p, '"');
      if (!end) return -1;
      len = (size_t)(end - p);
    } else {
      len = strcspn(p, "; \t");
    }
    if (len < 1 || len > MAX_BOUNDARY || len >= size) return -1;
    memcpy(out, p, len);
    out[len] = '\0';
    return 0;
  }
  return -1;
}

visor_multipart_parser *visor_multipart_parser_new(const char *boundary,
                                                   const visor_multipart_callbacks *cb, void *ctx) {
  size_t blen = strlen(boundary);
  if (blen < 1 || blen > MAX_BOUNDARY) return NULL;
  visor_multipart_parser *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->cb = *cb;
  p->ctx = ctx;
  memcpy(p->delimiter, "\r\n--", 4);
  memcpy(p->delimiter + 4, boundary, blen);
  p->delimiter_len = blen + 4;
  p->cap = 4096;
  p->buf = malloc(p->cap);
  if (!p->buf) {
    free(p);
    return NULL;
  }
  /* the first delimiter may open the body without a CRLF before it */
  memcpy(p->buf, "\r\n", 2);
  p->len = 2;
  p->state = MP_DATA;
  return p;
}

static void clear_headers(visor_multipart_parser *p) {
  free(p->name);
  free(p->filename);
  free(p->content_type);
  p->name = p->filename = p->content_type = NULL;
}

void visor_multipart_parser_free(visor_multipart_parser *p) {
  if (!p) return;
  clear_headers(p);
  free(p->buf);
  free(p);
}

/* ---- part headers ------------------------------------------------------------------ */

/* The value of param (name, filename) in a Content-Disposition value, malloc'd. */
static char *disposition_param(const char *value, const char *param) {
  size_t plen = strlen(param);
  const char *p = value;
  while ((p = strchr(p, ';'))) {
    p++;
    while (*p == ' ' || *p == '\t')
      p++;
    if (strncasecmp(p, param, plen) != 0 || p[plen] != '=') continue;
    p += plen + 1;
    if (*p == '"') {
      p++;
      char *out = malloc(strlen(p) + 1);
      if (!out) return NULL;
      size_t n = 0;
      for (; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1] == '"') p++; /* browsers send other backslashes as they are */
        out[n++] = *p;
      }
      out[n] = '\0';
      return out;
    }
    return strndup(p, strcspn(p, "; \t"));
  }
  return NULL;
}

static int header_line(visor_multipart_parser *p, char *line) {
  char *colon = strchr(line, ':');
  if (!colon) return -1;
  *colon = '\0';
  char *value = colon + 1;
  while (*value == ' ' || *value == '\t')
    value++;
  if (strcasecmp(line, "Content-Disposition") == 0) {
    if (strncasecmp(value, "form-data", 9) != 0) return -1;
    clear_headers(p);
    p->name = disposition_param(value, "name");
    p->filename = disposition_param(value, "filename");
    if (!p->name) return -1;
  } else if (strcasecmp(line, "Content-Type") == 0) {
    free(p->content_type);
    p->content_type = strdup(value);
    if (!p->content_type) return -1;
  }
  return 0;
}

/* ---- the stream ---------------------------------------------------------------------- */

static void consume(visor_multipart_parser *p, size_t n) {
  memmove(p->buf, p->buf + n, p->len - n);
  p->len -= n;
}

static int emit(visor_multipart_parser *p, const char *data, size_t len) {
  if (!p->in_part || len == 0) return 0;
  return p->cb.data(p->ctx, data, len);
}

/* Processes what is buffered; 0, or -1 (malformed, or a callback failed). */
static int run(visor_multipart_parser *p) {
  for (;;) {
    switch (p->state) {
    case MP_DATA: {
      char *hit = memmem(p->buf, p->len, p->delimiter, p->delimiter_len);
      if (!hit) { /* keep what could be the start of a delimiter */
        size_t keep = p->delimiter_len - 1;
        if (p->len > keep) {
          if (emit(p, p->buf, p->len - keep) < 0) return -1;
          consume(p, p->len - keep);
        }
        return 0;
      }
      size_t at = (size_t)(hit - p->buf);
      if (emit(p, p->buf, at) < 0) return -1;
      if (p->in_part && p->cb.end(p->ctx) < 0) return -1;
      p->in_part = 0;
      consume(p, at + p->delimiter_len);
      p->state = MP_AFTER_DELIMITER;
      break;
    }
    case MP_AFTER_DELIMITER:
      if (p->len < 2) return 0;
      if (p->buf[0] == '-' && p->buf[1] == '-') {
        p->state = MP_END;
        p->len = 0;
        return 0;
      }
      p->state = MP_PADDING;
      break;
    case MP_PADDING: {
      char *crlf = memmem(p->buf, p->len, "\r\n", 2);
      if (!crlf) {
        if (p->len > MAX_PADDING) return -1;
        return 0;
      }
      for (char *c = p->buf; c < crlf; c++)
        if (*c != ' ' && *c != '\t') return -1;
      consume(p, (size_t)(crlf - p->buf) + 2);
      clear_headers(p);
      p->state = MP_HEADERS;
      break;
    }
    case MP_HEADERS: {
      char *crlf = memmem(p->buf, p->len, "\r\n", 2);
      if (!crlf) {
        if (p->len > MAX_PART_HEADERS) return -1;
        return 0;
      }
      size_t line_len = (size_t)(crlf - p->buf);
      if (line_len == 0) {
        consume(p, 2);
        if (!p->name) return -1; /* a part without Content-Disposition */
        if (p->cb.begin(p->ctx, p->name, p->filename, p->content_type) < 0) return -1;
        p->in_part = 1;
        /* the part's bytes end at the next "\r\n--boundary" */
        p->state = MP_DATA;
        break;
      }
      *crlf = '\0';
      if (header_line(p, p->buf) < 0) return -1;
      consume(p, line_len + 2);
      break;
    }
    case MP_END: /* the epilogue is ignored */
      p->len = 0;
      return 0;
    case MP_FAILED:
      return -1;
    }
  }
}

int visor_multipart_parser_feed(visor_multipart_parser *p, const char *data, size_t len) {
  if (p->state == MP_FAILED) return -1;
  while (len) {
    if (p->state == MP_END) return 0;
    size_t room = p->cap - p->len;
    if (room == 0) {
      size_t cap = p->cap * 2;
      if (cap > MAX_PART_HEADERS * 2 + 4096) {
        p->state = MP_FAILED;
        return -1;
      }
      char *buf = realloc(p->buf, cap);
      if (!buf) {
        p->state = MP_FAILED;
        return -1;
      }
      p->buf = buf;
      p->cap = cap;
      room = cap - p->len;
    }
    size_t n = len < room ? len : room;
    memcpy(p->buf + p->len, data, n);
    p->len += n;
    data += n;
    len -= n;
    if (run(p) < 0) {
      p->state = MP_FAILED;
      return -1;
    }
  }
  return 0;
}

int visor_multipart_parser_done(const visor_multipart_parser *p) {
  return p->state == MP_END;
}
