/* fuzz_framing.c: libFuzzer harness for the request framing in front of libmicrohttpd
 * (src/http/framing.c). The input is a client's byte stream; its first byte picks the
 * sizes of the reads it arrives in (1 to 64 bytes, or all at once). Checks: no crash or
 * leak; what the framing lets go to libmicrohttpd is itself a well-formed request stream
 * (a second parser takes it without an error, up to the error request the framing puts
 * in place of a malformed head); after an error the stream ends with that request or with
 * the marked last chunk; the held part never passes the head limit by much. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"

static int on_nothing(http_parser *parser) {
  (void)parser;
  return 0;
}

static const http_parser_settings CHECK = {.on_message_complete = on_nothing};

static void check_output(const char *out, size_t len, int failed) {
  size_t clean = len;
  const char *marker = NULL;
  for (size_t i = 0; failed && i + sizeof VISOR_RELAY_ERROR_METHOD <= len; i++)
    if (memcmp(out + i, VISOR_RELAY_ERROR_METHOD " /", sizeof VISOR_RELAY_ERROR_METHOD) == 0)
      marker = out + i; /* the last one: a body before it may hold anything */
  if (marker) clean = (size_t)(marker - out);
  http_parser parser;
  http_parser_init(&parser, HTTP_REQUEST);
  for (size_t at = 0; at < clean;) {
    size_t used = http_parser_execute(&parser, &CHECK, out + at, clean - at);
    if (HTTP_PARSER_ERRNO(&parser) != HPE_OK) abort();
    at += used;
    if (at < clean && !parser.upgrade) abort();
    if (parser.upgrade) http_parser_init(&parser, HTTP_REQUEST); /* as the framing does */
  }
  if (failed && len < 4) abort();
  if (failed && memcmp(out + len - 4, "\r\n\r\n", 4) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  size_t piece = data[0] % 65; /* 0 = all at once */
  data++;
  size--;
  visor_http_framer f;
  visor_http_framer_init(&f);
  char *sent = NULL;
  size_t sent_len = 0;
  for (size_t at = 0; at < size && !f.stopped;) {
    size_t n = piece && size - at > piece ? piece : size - at;
    visor_http_framer_feed(&f, (const char *)data + at, n);
    at += n;
    if (f.len - f.ready > VISOR_HTTP_MAX_HEAD_BYTES + 256) abort();
    if (f.ready) { /* what the relay would write to libmicrohttpd */
      char *more = realloc(sent, sent_len + f.ready);
      if (!more) abort();
      sent = more;
      memcpy(sent + sent_len, f.out, f.ready);
      sent_len += f.ready;
      visor_http_framer_sent(&f, f.ready);
    }
  }
  check_output(sent, sent_len, f.failed != NULL);
  free(sent);
  visor_http_framer_free(&f);
  return 0;
}
