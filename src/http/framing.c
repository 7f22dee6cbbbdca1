/* framing.c: the framing of a client's request stream, before libmicrohttpd sees it. The
 * bytes are parsed with http_parser (the Node.js HTTP/1.1 parser, strict build) and
 * rewritten into a normalized stream that libmicrohttpd 0.9.75 never refuses: a request
 * head is held until it is complete and then emitted as "METHOD target HTTP/1.x", the
 * client's header lines (less Content-Length, Transfer-Encoding and the relay's own
 * header) and one Content-Length or "Transfer-Encoding: chunked" of the parser's reading;
 * a chunked body is decoded and re-chunked by Visor. On a framing error (a head over the
 * limit, a bad Content-Length, bad chunked encoding, a bad request line or header line)
 * the rest of the client's bytes are ignored and the stream ends with something Visor's
 * request handler answers with one JSON error and Connection: close: in place of a
 * request head, a request with the method VISOR_RELAY_ERROR_METHOD (a method the parser
 * refuses from clients), in a chunked body, the last chunk with an X-Visor-Relay-Error
 * trailer (a trailer no client gets through). Answers stay in request order that way,
 * after the answers to earlier pipelined requests. */
#include "http/http_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum last_callback { SEEN_NONE, SEEN_URL, SEEN_FIELD, SEEN_VALUE };

static const visor_relay_reason REASONS[] = {
    {"request_line", 400, "invalid_argument", "the request line is malformed"},
    {"method", 400, "invalid_argument", "the request method is malformed or unknown"},
    {"version", 505, "http_version_not_supported",
     "this server speaks HTTP versions 1.0 and 1.1 only"},
    {"uri_too_long", 414, "uri_too_long", "the request target is over the limit of 8192 bytes"},
    {"headers_too_large", 431, "headers_too_large",
     "the request line and headers are over the limit of 41984 bytes"},
    {"header", 400, "invalid_argument", "a header line is malformed"},
    {"content_length", 400, "invalid_argument",
     "the Content-Length header is not one decimal number below 2^64"},
    {"length_and_encoding", 400, "invalid_argument",
     "a request has both Content-Length and Transfer-Encoding, or Content-Length twice"},
    {"transfer_encoding", 501, "not_implemented",
     "the only transfer coding served is chunked, and it must be the last one"},
    {"chunked", 400, "invalid_argument",
     "the chunked body is malformed (a bad chunk size, a missing CRLF or a bad trailer)"},
    {"malformed", 400, "invalid_argument", "the request is malformed"},
    {"out_of_memory", 500, "out_of_memory", "out of memory reading the request"},
};

const visor_relay_reason *visor_relay_reason_named(const char *name) {
  for (size_t i = 0; i < sizeof REASONS / sizeof *REASONS; i++)
    if (strcmp(REASONS[i].name, name) == 0) return &REASONS[i];
  return &REASONS[sizeof REASONS / sizeof *REASONS - 2]; /* malformed */
}

/* ---- the output buffer ----------------------------------------------------------- */

static int out_reserve(visor_http_framer *f, size_t more) {
  if (f->len + more <= f->cap) return 0;
  size_t cap = f->cap ? f->cap : 4096;
  while (cap < f->len + more)
    cap *= 2;
  char *data = realloc(f->out, cap);
  if (!data) return -1;
  f->out = data;
  f->cap = cap;
  return 0;
}

static int out_put(visor_http_framer *f, const char *data, size_t len) {
  if (out_reserve(f, len) < 0) return -1;
  memcpy(f->out + f->len, data, len);
  f->len += len;
  return 0;
}

static int out_str(visor_http_framer *f, const char *text) {
  return out_put(f, text, strlen(text));
}

/* A callback's failure: the reason is kept for the error answer. */
static int refuse(visor_http_framer *f, const char *reason) {
  f->reason = reason;
  return 1;
}

static int held_over_limit(const visor_http_framer *f) {
  return f->len - f->ready > VISOR_HTTP_MAX_HEAD_BYTES;
}

/* ---- http_parser callbacks --------------------------------------------------------- */

static int on_message_begin(http_parser *parser) {
  visor_http_framer *f = parser->data;
  f->in_head = 1;
  f->last = SEEN_NONE;
  f->url_len = 0;
  f->seen_field = 0;
  f->chunked = 0;
  return 0;
}

static int end_request_line(visor_http_framer *f, http_parser *parser) {
  if (parser->http_major != 1)
    return refuse(f, parser->http_major == 0 ? "request_line" : "version");
  char version[16];
  snprintf(version, sizeof version, " HTTP/1.%d\r\n", parser->http_minor == 0 ? 0 : 1);
  return out_str(f, version) < 0 ? refuse(f, "out_of_memory") : 0;
}

static int should_drop(const visor_http_framer *f) {
  if (f->field_len > sizeof f->field) return 0;
  static const char *const dropped[] = {"content-length", "transfer-encoding",
                                        VISOR_RELAY_ERROR_TRAILER};
  for (size_t i = 0; i < sizeof dropped / sizeof *dropped; i++)
    if (f->field_len == strlen(dropped[i]) && strncasecmp(f->field, dropped[i], f->field_len) == 0)
      return 1;
  return 0;
}

/* The field name is complete: keep ": " after it, or drop the whole line. */
static int end_field(visor_http_framer *f) {
  f->drop_line = should_drop(f);
  if (f->drop_line) {
    f->len = f->line_start;
    return 0;
  }
  return out_str(f, ": ") < 0 ? refuse(f, "out_of_memory") : 0;
}

static int end_header_line(visor_http_framer *f) {
  if (f->drop_line) return 0;
  return out_str(f, "\r\n") < 0 ? refuse(f, "out_of_memory") : 0;
}

static int on_url(http_parser *parser, const char *at, size_t len) {
  visor_http_framer *f = parser->data;
  if (f->last != SEEN_URL) {
    if (out_str(f, http_method_str((enum http_method)parser->method)) < 0 || out_str(f, " ") < 0)
      return refuse(f, "out_of_memory");
    f->last = SEEN_URL;
  }
  f->url_len += len;
  if (f->url_len > VISOR_HTTP_MAX_URI_BYTES) return refuse(f, "uri_too_long");
  return out_put(f, at, len) < 0 ? refuse(f, "out_of_memory") : 0;
}

/* RFC 9110 tchar */
static int is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int on_header_field(http_parser *parser, const char *at, size_t len) {
  visor_http_framer *f = parser->data;
  if (!f->in_head) return 0; /* trailers are checked by the parser, never passed on */
  if (f->last != SEEN_FIELD) {
    int failed = f->last == SEEN_URL     ? end_request_line(f, parser)
                 : f->last == SEEN_VALUE ? end_header_line(f)
                                         : 0;
    if (failed) return failed;
    f->seen_field = 1;
    f->line_start = f->len;
    f->field_len = 0;
    f->last = SEEN_FIELD;
  }
  for (size_t i = 0; i < len; i++, f->field_len++) {
    if (!is_token_char(at[i])) return refuse(f, "header"); /* the lax parser takes a space */
    if (f->field_len < sizeof f->field) f->field[f->field_len] = at[i];
  }
  if (out_put(f, at, len) < 0) return refuse(f, "out_of_memory");
  return held_over_limit(f) ? refuse(f, "headers_too_large") : 0;
}

static int on_header_value(http_parser *parser, const char *at, size_t len) {
  visor_http_framer *f = parser->data;
  if (!f->in_head) return 0;
  if (f->last == SEEN_FIELD) {
    int failed = end_field(f);
    if (failed) return failed;
    f->last = SEEN_VALUE;
  }
  if (f->drop_line) return 0;
  if (out_put(f, at, len) < 0) return refuse(f, "out_of_memory");
  return held_over_limit(f) ? refuse(f, "headers_too_large") : 0;
}

static int on_headers_complete(http_parser *parser) {
  visor_http_framer *f = parser->data;
  int failed = 0;
  if (f->last == SEEN_URL)
    failed = end_request_line(f, parser);
  else if (f->last == SEEN_FIELD) /* "Name:" with an empty value */
    failed = end_field(f) ? 1 : end_header_line(f);
  else if (f->last == SEEN_VALUE)
    failed = end_header_line(f);
  if (failed) return -1; /* a return of 1 or 2 would mean "no body" to the parser */
  if (parser->uses_transfer_encoding && !(parser->flags & F_CHUNKED)) {
    /* the parser says so only after this callback: the head must not go out first */
    refuse(f, "transfer_encoding");
    return -1;
  }
  char framing[64] = "";
  if (parser->flags & F_CHUNKED) {
    f->chunked = 1;
    snprintf(framing, sizeof framing, "Transfer-Encoding: chunked\r\n");
  } else if (parser->flags & F_CONTENTLENGTH) {
    snprintf(framing, sizeof framing, "Content-Length: %llu\r\n",
             (unsigned long long)parser->content_length);
  }
  if (out_str(f, framing) < 0 || out_str(f, "\r\n") < 0) {
    refuse(f, "out_of_memory");
    return -1;
  }
  if (held_over_limit(f)) {
    refuse(f, "headers_too_large");
    return -1;
  }
  /* stop here: the feed checks the head's raw bytes before it lets the head go */
  f->paused_at = VISOR_FRAMER_PAUSED_HEAD;
  http_parser_pause(parser, 1);
  return 0;
}

/* The CRLF after a chunk's data: checked here, as the parser (Debian's build is not
 * strict) takes any two bytes there. 0, or -1 when a byte is wrong. */
static int check_crlf(visor_http_framer *f, const char *p, const char *end) {
  while (f->crlf_left && p < end) {
    if (*p++ != (f->crlf_left == 2 ? '\r' : '\n')) return -1;
    f->crlf_left--;
  }
  return 0;
}

static int on_body(http_parser *parser, const char *at, size_t len) {
  visor_http_framer *f = parser->data;
  if (f->chunked) {
    if (parser->content_length == 0) { /* the chunk's data ends here */
      f->crlf_left = 2;
      if (check_crlf(f, at + len, f->feed_end) < 0) return refuse(f, "chunked");
    }
    char size[24];
    snprintf(size, sizeof size, "%zx\r\n", len);
    if (out_str(f, size) < 0 || out_put(f, at, len) < 0 || out_str(f, "\r\n") < 0)
      return refuse(f, "out_of_memory");
  } else if (out_put(f, at, len) < 0) {
    return refuse(f, "out_of_memory");
  }
  f->ready = f->len;
  return 0;
}

static int on_message_complete(http_parser *parser) {
  visor_http_framer *f = parser->data;
  if (f->chunked && out_str(f, "0\r\n\r\n") < 0) return refuse(f, "out_of_memory");
  f->chunked = 0;
  f->ready = f->len;
  f->requests++;
  f->paused_at = VISOR_FRAMER_PAUSED_MESSAGE; /* the next bytes are a new head */
  http_parser_pause(parser, 1);
  return 0;
}

static const http_parser_settings SETTINGS = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- the raw bytes of a head ------------------------------------------------------- */

/* Debian's http_parser is built without HTTP_PARSER_STRICT: it takes any byte after a CR
 * as the LF, and "HTXX/1.1" as "HTTP/1.1". The raw bytes of each head are checked here:
 * every CR is followed by LF, and the request line ends in " HTTP/d.d". */
static void scan_reset(visor_http_framer *f) {
  f->raw_cr = 0;
  f->raw_in_request_line = 1;
  f->raw_tail_len = 0;
}

static const char *scan_head(visor_http_framer *f, const char *p, size_t len) {
  static const char version[] = " HTTP/";
  for (const char *end = p + len; p < end; p++) {
    char c = *p;
    if (f->raw_cr) {
      if (c != '\n') return f->raw_in_request_line ? "request_line" : "header";
      f->raw_cr = 0;
    }
    if (c == '\r') {
      f->raw_cr = 1;
    } else if (c == '\n') {
      if (f->raw_in_request_line && f->raw_tail_len) { /* (empty lines before it are skipped) */
        if (f->raw_tail_len < sizeof f->raw_tail ||
            memcmp(f->raw_tail, version, sizeof version - 1) != 0)
          return "request_line";
        f->raw_in_request_line = 0;
      }
      f->raw_tail_len = 0;
    } else if (f->raw_in_request_line) { /* the last 9 bytes: " HTTP/1.1" */
      if (f->raw_tail_len == sizeof f->raw_tail) {
        memmove(f->raw_tail, f->raw_tail + 1, sizeof f->raw_tail - 1);
        f->raw_tail_len--;
      }
      f->raw_tail[f->raw_tail_len++] = c;
    }
  }
  return NULL;
}

/* ---- errors ---------------------------------------------------------------------- */

static const char *reason_of(const visor_http_framer *f, enum http_errno error) {
  if (f->reason) return f->reason;
  int in_body = !f->in_head && f->chunked;
  switch (error) {
  case HPE_HEADER_OVERFLOW:
    if (in_body) return "chunked";
    return f->seen_field ? "headers_too_large" : "uri_too_long";
  case HPE_INVALID_METHOD:
    return "method";
  case HPE_INVALID_CONTENT_LENGTH:
    return "content_length";
  case HPE_UNEXPECTED_CONTENT_LENGTH:
    return "length_and_encoding";
  case HPE_INVALID_TRANSFER_ENCODING:
    return "transfer_encoding";
  case HPE_INVALID_CHUNK_SIZE:
    return "chunked";
  case HPE_INVALID_VERSION:
  case HPE_INVALID_URL:
    return "request_line";
  case HPE_INVALID_HEADER_TOKEN:
  case HPE_LF_EXPECTED:
  case HPE_STRICT:
  case HPE_INVALID_CONSTANT:
    if (in_body) return "chunked";
    return f->seen_field ? "header" : "request_line";
  default:
    return in_body ? "chunked" : "malformed";
  }
}

/* Ends the stream with what Visor answers as the error (see the top of the file). */
static void fail(visor_http_framer *f, const char *reason) {
  f->stopped = 1;
  f->failed = reason;
  char text[160];
  if (!f->in_head && f->chunked) /* a body is on its way: end it, marked */
    snprintf(text, sizeof text, "0\r\n%s: %s\r\n\r\n", VISOR_RELAY_ERROR_TRAILER, reason);
  else {
    f->len = f->ready; /* the head in progress is dropped */
    snprintf(text, sizeof text, "%s /%s HTTP/1.1\r\nHost: visor\r\nConnection: close\r\n\r\n",
             VISOR_RELAY_ERROR_METHOD, reason);
  }
  if (out_str(f, text) < 0) f->out_of_memory = 1;
  f->ready = f->len;
}

/* ---- API ------------------------------------------------------------------------- */

void visor_http_framer_init(visor_http_framer *f) {
  memset(f, 0, sizeof *f);
  http_parser_init(&f->parser, HTTP_REQUEST);
  f->parser.data = f;
  f->head_phase = 1;
  scan_reset(f);
}

void visor_http_framer_free(visor_http_framer *f) {
  free(f->out);
  f->out = NULL;
  f->len = f->cap = f->ready = 0;
}

void visor_http_framer_feed(visor_http_framer *f, const char *data, size_t len) {
  if (f->crlf_left) { /* the CRLF after a chunk's data began in the previous read */
    if (check_crlf(f, data, data + len) < 0) {
      fail(f, "chunked");
      return;
    }
  }
  while (len && !f->stopped) {
    f->feed_end = data + len;
    int in_head_bytes = f->head_phase;
    f->paused_at = 0;
    size_t used = http_parser_execute(&f->parser, &SETTINGS, data, len);
    enum http_errno error = HTTP_PARSER_ERRNO(&f->parser);
    if (error == HPE_CLOSED_CONNECTION) { /* bytes after a "Connection: close" request */
      f->stopped = 1;
      f->len = f->ready;
      return;
    }
    if (error != HPE_OK && error != HPE_PAUSED) {
      fail(f, reason_of(f, error));
      return;
    }
    const char *bad = in_head_bytes ? scan_head(f, data, used) : NULL;
    if (bad) {
      fail(f, bad);
      return;
    }
    if (error == HPE_PAUSED) {
      http_parser_pause(&f->parser, 0);
      if (f->paused_at == VISOR_FRAMER_PAUSED_HEAD) {
        /* the parser stopped on the byte after the head's last CR: it must be the LF */
        if (f->raw_cr && (used >= len || data[used] != '\n')) {
          fail(f, "header");
          return;
        }
        f->raw_cr = 0;
        f->in_head = 0;
        f->head_phase = 0;
        f->ready = f->len; /* the whole head goes to libmicrohttpd now */
      } else if (f->paused_at == VISOR_FRAMER_PAUSED_MESSAGE) {
        f->head_phase = 1;
        scan_reset(f);
      }
    }
    /* Upgrade or CONNECT: Visor upgrades nothing, more HTTP follows once the message is
     * complete (the flag is set from the end of its head on: a body, e.g. chunked, comes first) */
    if (f->parser.upgrade && f->paused_at == VISOR_FRAMER_PAUSED_MESSAGE) {
      http_parser_init(&f->parser, HTTP_REQUEST);
      f->parser.data = f;
    } else if (used < len && error != HPE_PAUSED) { /* it stops only on an error or a pause */
      fail(f, "malformed");
      return;
    }
    data += used;
    len -= used;
  }
}

void visor_http_framer_sent(visor_http_framer *f, size_t n) {
  if (n > f->ready) n = f->ready;
  memmove(f->out, f->out + n, f->len - n);
  f->len -= n;
  f->ready -= n;
  if (f->line_start >= n) f->line_start -= n;
}

void visor_http_framer_client_gone(visor_http_framer *f) {
  f->stopped = 1;
  f->len = f->ready; /* a half-sent head is dropped */
}
