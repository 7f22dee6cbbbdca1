/* uploads.h: image uploads: the multipart sink that streams each file part straight into
 * the object store under images/<new id>/original, and the checks that an uploaded part
 * is an image within the limits. */
#ifndef VISOR_API_UPLOADS_H
#define VISOR_API_UPLOADS_H

#include "app/app.h"
#include "http/http.h"
#include "image/image.h"

extern const visor_upload_sink visor_image_upload_sink; /* sink ctx: visor_app* */
/* The same for a search's query photo, stored VISOR_BLOB_UNSYNCED (blob.h). */
extern const visor_upload_sink visor_query_upload_sink;

typedef struct visor_uploaded_image {
  char id[40];
  char key[128];
  visor_image_info info;
  size_t size;
  const char *filename, *content_type, *sha256; /* borrowed from the request */
} visor_uploaded_image;

/* The image id and object key of a finished upload handle. */
const char *visor_upload_image_id(const void *handle);
const char *visor_upload_object_key(const void *handle);
/* Checks each upload (field name "images" or "image", an image libvips reads, within the
 * pixel limit) and fills out[count]. VISOR_ERR_UNSUPPORTED / TOO_LARGE / INVALID name the
 * file. */
visor_code visor_uploads_check(visor_app *app, visor_http_upload *uploads, size_t count,
                               visor_uploaded_image *out, visor_error *err);
/* Frees the handles; discard also removes the stored objects (the request failed). */
void visor_uploads_release(visor_http_upload *uploads, size_t count);
void visor_uploads_discard(visor_app *app, visor_http_upload *uploads, size_t count);

#endif
