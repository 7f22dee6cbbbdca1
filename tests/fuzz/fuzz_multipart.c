/* fuzz_multipart.c: libFuzzer harness for multipart/form-data bodies (src/http/multipart.c
 * over libmicrohttpd's post processor): begin, feed in chunks of a fuzzed size, end, hand
 * the parts over, then release them as a route handler would. The sink keeps file parts in
 * memory and checks the server's ownership rules: every handle opened is finished or
 * aborted exactly once, and none is left at the end.
 *
 * The post processor reads the request's Content-Type through
 * MHD_lookup_connection_value_n; this file defines that function (it interposes on
 * libmicrohttpd's, which the library itself calls through its PLT) so no real connection
 * is needed. Input: byte 0 picks the chunk size, then the boundary up to the first '\n'
 * (at most 70 bytes), then the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/http_internal.h"

static char content_type[128];
static char fake_connection[4096]; /* never dereferenced by the code under test */

enum MHD_Result MHD_lookup_connection_value_n(struct MHD_Connection *connection,
                                              enum MHD_ValueKind kind, const char *key,
                                              size_t key_size, const char **value_ptr,
                                              size_t *value_size_ptr) {
  (void)connection;
  (void)key_size;
  if (kind != MHD_HEADER_KIND || strcasecmp(key, MHD_HTTP_HEADER_CONTENT_TYPE) != 0) return MHD_NO;
  if (value_ptr) *value_ptr = content_type;
  if (value_size_ptr) *value_size_ptr = strlen(content_type);
  return MHD_YES;
}

typedef struct mem_part {
  size_t size;
  int finished;
} mem_part;

static long open_handles;

static void *sink_open(void *ctx, const char *field, const char *filename,
                       const char *content_type_, visor_error *err) {
  (void)ctx;
  (void)err;
  if (!field || !filename || !content_type_) abort();
  mem_part *part = calloc(1, sizeof *part);
  if (part) open_handles++;
  return part;
}

static visor_code sink_write(void *ctx, void *handle, const void *data, size_t len,
                             visor_error *err) {
  (void)ctx;
  mem_part *part = handle;
  if (part->finished) abort(); /* written after finish */
  if (part->size + len > 1u << 20)
    return visor_error_set(err, VISOR_ERR_TOO_LARGE, "part over %d bytes", 1 << 20);
  volatile const unsigned char *bytes = data; /* ASan checks the whole chunk is readable */
  if (len) (void)bytes[0], (void)bytes[len - 1];
  part->size += len;
  return VISOR_OK;
}

static visor_code sink_finish(void *ctx, void *handle, visor_error *err) {
  (void)ctx;
  (void)err;
  mem_part *part = handle;
  if (part->finished) abort(); /* finished twice */
  part->finished = 1;
  return VISOR_OK;
}

static void sink_abort(void *ctx, void *handle) {
  (void)ctx;
  if (!handle) abort();
  free(handle);
  open_handles--;
}

static const visor_upload_sink sink = {sink_open, sink_write, sink_finish, sink_abort};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  static const size_t chunk_sizes[] = {1, 2, 3, 7, 16, 64, 500, 4096, 65536, SIZE_MAX};
  size_t chunk = chunk_sizes[data[0] % (sizeof chunk_sizes / sizeof chunk_sizes[0])];
  data++;
  size--;
  const uint8_t *newline = memchr(data, '\n', size < 71 ? size : 71);
  if (!newline) return 0;
  size_t boundary_len = (size_t)(newline - data);
  if (memchr(data, '\0', boundary_len)) return 0;
  snprintf(content_type, sizeof content_type, "multipart/form-data; boundary=%.*s",
           (int)boundary_len, (const char *)data);
  const char *body = (const char *)newline + 1;
  size_t body_len = size - boundary_len - 1;

  visor_route route = {0};
  route.sink = &sink;
  visor_http_request *req = calloc(1, sizeof *req);
  req->connection = (struct MHD_Connection *)fake_connection;
  req->route = &route;
  req->res.status = 500;
  int failed = visor_http_multipart_begin(req) < 0;
  for (size_t off = 0; !failed && off < body_len;) {
    size_t n = body_len - off < chunk ? body_len - off : chunk;
    failed = visor_http_multipart_feed(req, body + off, n) < 0;
    off += n;
  }
  if (!failed) failed = visor_http_multipart_end(req) < 0;
  if (!failed) failed = visor_http_multipart_hand_over(req) < 0;
  if (!failed) {
    /* The handler's side: read every field and upload, then release the handles. */
    const char *const *names, *const *values;
    size_t nfields = visor_http_form_fields(req, &names, &values);
    for (size_t i = 0; i < nfields; i++)
      if (!names[i] || !values[i] || visor_http_form_field(req, names[i]) == NULL) abort();
    visor_http_upload *uploads;
    size_t nuploads = visor_http_uploads(req, &uploads);
    for (size_t i = 0; i < nuploads; i++) {
      mem_part *part = uploads[i].handle;
      if (!part || !part->finished || part->size != uploads[i].size ||
          strlen(uploads[i].sha256) != 64)
        abort();
      sink_abort(NULL, part);
    }
  }
  visor_http_request_free(req);
  if (open_handles != 0) abort(); /* a part handle leaked or was freed twice */
  return 0;
}
