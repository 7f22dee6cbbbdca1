/* uploads.c: the image upload sink and upload checks (see uploads.h). */
#include "api/uploads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/uuid.h"

typedef struct upload_part {
  char image_id[40];
  char key[128];
  visor_blob_writer *writer; /* NULL once committed */
  visor_blob_store *blobs;
} upload_part;

static void *open_part(visor_app *app, visor_blob_durability durability, visor_error *err) {
  upload_part *part = calloc(1, sizeof *part);
  if (!part) {
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  visor_uuid_new(part->image_id);
  snprintf(part->key, sizeof part->key, "images/%s/original", part->image_id);
  part->blobs = app->blobs;
  part->writer = app->blobs->ops->open_writer(app->blobs, part->key, durability, err);
  if (!part->writer) {
    free(part);
    return NULL;
  }
  return part;
}

static void *sink_open(void *ctx, const char *field, const char *filename, const char *content_type,
                       visor_error *err) {
  (void)field, (void)filename, (void)content_type;
  return open_part(ctx, VISOR_BLOB_SYNCED, err);
}

/* A search's query photo: losing it to a power failure fails that one search (blob.h). */
static void *query_sink_open(void *ctx, const char *field, const char *filename,
                             const char *content_type, visor_error *err) {
  (void)field, (void)filename, (void)content_type;
  return open_part(ctx, VISOR_BLOB_UNSYNCED, err);
}

static visor_code sink_write(void *ctx, void *handle, const void *data, size_t len,
                             visor_error *err) {
  (void)ctx;
  upload_part *part = handle;
  return part->blobs->ops->write(part->writer, data, len, err);
}

static visor_code sink_finish(void *ctx, void *handle, visor_error *err) {
  (void)ctx;
  upload_part *part = handle;
  visor_blob_writer *writer = part->writer;
  part->writer = NULL; /* commit frees it, whatever the outcome */
  return part->blobs->ops->commit(writer, err);
}

static void sink_abort(void *ctx, void *handle) {
  (void)ctx;
  upload_part *part = handle;
  if (!part) return;
  if (part->writer)
    part->blobs->ops->abort(part->writer);
  else
    part->blobs->ops->remove(part->blobs, part->key, NULL);
  free(part);
}

const visor_upload_sink visor_image_upload_sink = {
    .open = sink_open, .write = sink_write, .finish = sink_finish, .abort = sink_abort};

const visor_upload_sink visor_query_upload_sink = {
    .open = query_sink_open, .write = sink_write, .finish = sink_finish, .abort = sink_abort};

const char *visor_upload_image_id(const void *handle) {
  return ((const upload_part *)handle)->image_id;
}

const char *visor_upload_object_key(const void *handle) {
  return ((const upload_part *)handle)->key;
}

visor_code visor_uploads_check(visor_app *app, visor_http_upload *uploads, size_t count,
                               visor_uploaded_image *out, visor_error *err) {
  for (size_t i = 0; i < count; i++) {
    visor_http_upload *upload = &uploads[i];
    const char *name = upload->filename && *upload->filename ? upload->filename : upload->field;
    if (strcmp(upload->field, "images") != 0 && strcmp(upload->field, "image") != 0)
      return visor_error_set(err, VISOR_ERR_INVALID, "file field '%.64s' is not 'images'",
                             upload->field);
    if (upload->size == 0)
      return visor_error_set(err, VISOR_ERR_INVALID, "file '%.100s' is empty", name);
    void *data = NULL;
    size_t len = 0;
    visor_code code = visor_blob_get(app->blobs, visor_upload_object_key(upload->handle),
                                     app->max_upload_bytes, &data, &len, err);
    if (code != VISOR_OK) return code;
    visor_uploaded_image *image = &out[i];
    memset(image, 0, sizeof *image);
    code = visor_image_probe(data, len, app->max_pixels, &image->info, err);
    free(data);
    if (code == VISOR_OK) /* what a worker will decode, checked before anything else */
      code = visor_image_check_decode(&image->info, VISOR_IMAGE_WORK_SIDE,
                                      (uint64_t)app->config->max_decode_pixels, err);
    if (code != VISOR_OK) return visor_error_wrap(err, "file '%.100s'", name);
    snprintf(image->id, sizeof image->id, "%s", visor_upload_image_id(upload->handle));
    snprintf(image->key, sizeof image->key, "%s", visor_upload_object_key(upload->handle));
    image->size = upload->size;
    image->filename = upload->filename;
    image->content_type = upload->content_type;
    image->sha256 = upload->sha256;
  }
  return VISOR_OK;
}

void visor_uploads_release(visor_http_upload *uploads, size_t count) {
  for (size_t i = 0; i < count; i++) {
    free(uploads[i].handle);
    uploads[i].handle = NULL;
  }
}

void visor_uploads_discard(visor_app *app, visor_http_upload *uploads, size_t count) {
  for (size_t i = 0; i < count; i++)
    if (uploads[i].handle) sink_abort(app, uploads[i].handle);
  for (size_t i = 0; i < count; i++)
    uploads[i].handle = NULL;
}
