/* multipart.c: multipart/form-data bodies through the framing parser (multipart_parser.c). Text
 * fields are buffered (each at most VISOR_HTTP_MAX_FIELD_BYTES); file parts stream into the
 * route's upload sink as they arrive (open, write, finish) with a running SHA-256. Until the
 * route handler runs the server owns every part handle; on any failure (bad multipart, a
 * sink error, the size limit, the client going away) every handle it still owns is
 * aborted, so nothing is left behind. Parts always arrive one after another, so the part
 * being filled is the last one. */
#include "http/http_internal.h"

#include <stdlib.h>
#include <string.h>

static visor_http_part *current_part(visor_http_request *req) {
  return req->nparts ? &req->parts[req->nparts - 1] : NULL;
}

static enum MHD_Result fail(visor_http_request *req, visor_code code, const char *fmt,
                            const char *arg) {
  if (!req->part_failed) visor_error_set(&req->part_error, code, fmt, arg);
  req->part_failed = 1;
  return MHD_NO;
}

static enum MHD_Result finish_part(visor_http_request *req, visor_http_part *part) {
  if (!part->filename || part->state != VISOR_PART_OPEN) return MHD_YES;
  const visor_route *route = req->route;
  visor_error err = {0};
  visor_sha256_final_hex(&part->sha, part->sha256);
  if (route->sink->finish(route->sink_ctx, part->handle, &err) != VISOR_OK) {
    route->sink->abort(route->sink_ctx, part->handle);
    part->state = VISOR_PART_RELEASED;
    part->handle = NULL;
    req->part_error = err;
    if (req->part_error.code == VISOR_OK) req->part_error.code = VISOR_ERR_IO;
    req->part_failed = 1;
    return MHD_NO;
  }
  part->state = VISOR_PART_FINISHED;
  return MHD_YES;
}

/* Some clients send the file's full path; only its last component is kept. */
static const char *base_name(const char *filename) {
  const char *slash = strrchr(filename, '/'), *backslash = strrchr(filename, '\\');
  if (backslash > slash) slash = backslash;
  return slash && slash[1] ? slash + 1 : filename;
}

static enum MHD_Result start_part(visor_http_request *req, const char *key, const char *filename,
                                  const char *content_type) {
  if (req->nparts >= VISOR_HTTP_MAX_PARTS)
    return fail(req, VISOR_ERR_TOO_LARGE, "the multipart body has more than %s parts", "256");
  if (req->nparts == req->parts_cap) {
    size_t capacity = req->parts_cap ? req->parts_cap * 2 : 8;
    visor_http_part *parts = realloc(req->parts, capacity * sizeof *parts);
    if (!parts) return fail(req, VISOR_ERR_NOMEM, "out of memory reading part %s", key);
    req->parts = parts;
    req->parts_cap = capacity;
  }
  visor_http_part *part = &req->parts[req->nparts];
  memset(part, 0, sizeof *part);
  part->state = VISOR_PART_RELEASED;
  part->field = strdup(key ? key : "");
  part->filename = filename ? strdup(base_name(filename)) : NULL;
  part->content_type = strdup(content_type ? content_type : "application/octet-stream");
  if (!filename) part->value = strdup("");
  req->nparts++; /* from here on the request frees the part's strings */
  if (!part->field || !part->content_type || (filename && !part->filename) ||
      (!filename && !part->value))
    return fail(req, VISOR_ERR_NOMEM, "out of memory reading part %s", key ? key : "");
  if (!filename) return MHD_YES;
  visor_sha256_init(&part->sha);
  visor_error err = {0};
  const visor_route *route = req->route;
  part->handle =
      route->sink->open(route->sink_ctx, part->field, part->filename, part->content_type, &err);
  if (!part->handle) {
    req->part_error = err;
    if (req->part_error.code == VISOR_OK) req->part_error.code = VISOR_ERR_IO;
    req->part_failed = 1;
    return MHD_NO;
  }
  part->state = VISOR_PART_OPEN;
  return MHD_YES;
}

static int on_begin(void *ctx, const char *name, const char *filename, const char *content_type) {
  visor_http_request *req = ctx;
  if (req->part_failed) return -1;
  return start_part(req, name, filename, content_type) == MHD_YES ? 0 : -1;
}

static int on_end(void *ctx) {
  visor_http_request *req = ctx;
  visor_http_part *part = current_part(req);
  if (req->part_failed || !part) return -1;
  return finish_part(req, part) == MHD_YES ? 0 : -1;
}

static int on_data(void *ctx, const char *data, size_t size) {
  visor_http_request *req = ctx;
  visor_http_part *part = current_part(req);
  if (req->part_failed || !part) return -1;
  if (!part->filename) {
    if (part->size + size > VISOR_HTTP_MAX_FIELD_BYTES) {
      fail(req, VISOR_ERR_TOO_LARGE, "form field %s is over 65536 bytes", part->field);
      return -1;
    }
    char *value = realloc(part->value, part->size + size + 1);
    if (!value) {
      fail(req, VISOR_ERR_NOMEM, "out of memory reading field %s", part->field);
      return -1;
    }
    memcpy(value + part->size, data, size);
    value[part->size + size] = '\0';
    part->value = value;
    part->size += size;
    return 0;
  }
  visor_sha256_update(&part->sha, data, size);
  part->size += size;
  visor_error err = {0};
  const visor_route *route = req->route;
  if (route->sink->write(route->sink_ctx, part->handle, data, size, &err) != VISOR_OK) {
    req->part_error = err;
    if (req->part_error.code == VISOR_OK) req->part_error.code = VISOR_ERR_IO;
    req->part_failed = 1;
    return -1;
  }
  return 0;
}

static const visor_multipart_callbacks part_callbacks = {on_begin, on_data, on_end};

static void respond_part_failure(visor_http_request *req) {
  if (req->part_failed)
    visor_http_respond_visor_error(&req->res, &req->part_error);
  else
    visor_http_respond_error(&req->res, 400, "invalid_argument",
                             "malformed multipart/form-data body");
}

int visor_http_multipart_begin(visor_http_request *req) {
  req->multipart = 1;
  char boundary[80];
  const char *type =
      MHD_lookup_connection_value(req->connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
  if (visor_multipart_boundary(type, boundary, sizeof boundary) < 0) {
    visor_http_respond_error(&req->res, 400, "invalid_argument",
                             "multipart/form-data needs a boundary parameter of 1 to 70 "
                             "characters");
    return -1;
  }
  req->post = visor_multipart_parser_new(boundary, &part_callbacks, req);
  if (!req->post) {
    visor_http_respond_error(&req->res, 500, "out_of_memory", "out of memory reading the form");
    return -1;
  }
  return 0;
}

int visor_http_multipart_feed(visor_http_request *req, const char *data, size_t len) {
  if (visor_multipart_parser_feed(req->post, data, len) == 0 && !req->part_failed) return 0;
  respond_part_failure(req);
  visor_http_multipart_abort(req);
  return -1;
}

int visor_http_multipart_end(visor_http_request *req) {
  enum MHD_Result complete = MHD_YES;
  if (req->post) {
    complete = visor_multipart_parser_done(req->post) ? MHD_YES : MHD_NO;
    visor_multipart_parser_free(req->post);
    req->post = NULL;
  }
  visor_http_part *part = current_part(req);
  if (complete == MHD_YES && !req->part_failed && part) finish_part(req, part);
  if (complete == MHD_YES && !req->part_failed) return 0;
  respond_part_failure(req);
  visor_http_multipart_abort(req);
  return -1;
}

void visor_http_multipart_abort(visor_http_request *req) {
  visor_multipart_parser_free(req->post); /* calls nothing back */
  req->post = NULL;
  for (size_t i = 0; i < req->nparts; i++) {
    visor_http_part *part = &req->parts[i];
    if (part->state == VISOR_PART_RELEASED) continue;
    req->route->sink->abort(req->route->sink_ctx, part->handle);
    part->handle = NULL;
    part->state = VISOR_PART_RELEASED;
  }
}

int visor_http_multipart_hand_over(visor_http_request *req) {
  size_t nfiles = 0, nfields = 0;
  for (size_t i = 0; i < req->nparts; i++) {
    if (req->parts[i].filename)
      nfiles++;
    else
      nfields++;
  }
  req->uploads = nfiles ? calloc(nfiles, sizeof *req->uploads) : NULL;
  req->field_names = nfields ? calloc(nfields, sizeof *req->field_names) : NULL;
  req->field_values = nfields ? calloc(nfields, sizeof *req->field_values) : NULL;
  if ((nfiles && !req->uploads) || (nfields && (!req->field_names || !req->field_values))) {
    visor_http_respond_error(&req->res, 500, "out_of_memory", "out of memory reading the form");
    visor_http_multipart_abort(req);
    return -1;
  }
  for (size_t i = 0; i < req->nparts; i++) {
    visor_http_part *part = &req->parts[i];
    if (!part->filename) {
      req->field_names[req->nfields] = part->field;
      req->field_values[req->nfields] = part->value;
      req->nfields++;
      continue;
    }
    visor_http_upload *upload = &req->uploads[req->nuploads++];
    upload->field = part->field;
    upload->filename = part->filename;
    upload->content_type = part->content_type;
    upload->size = part->size;
    memcpy(upload->sha256, part->sha256, sizeof upload->sha256);
    upload->handle = part->handle;
    part->state = VISOR_PART_RELEASED; /* the handler owns it now */
  }
  return 0;
}

const char *visor_http_form_field(const visor_http_request *req, const char *name) {
  if (!name) return NULL;
  for (size_t i = req->nfields; i > 0; i--)
    if (strcmp(req->field_names[i - 1], name) == 0) return req->field_values[i - 1];
  return NULL;
}

size_t visor_http_form_fields(const visor_http_request *req, const char *const **names,
                              const char *const **values) {
  if (names) *names = req->field_names;
  if (values) *values = req->field_values;
  return req->nfields;
}

size_t visor_http_uploads(visor_http_request *req, visor_http_upload **uploads) {
  if (uploads) *uploads = req->uploads;
  return req->nuploads;
}
