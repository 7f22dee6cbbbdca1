/* image_source.h: the bytes of one image reference of a catalogue file: a local path
 * (relative to the file's folder), a file:// URL or an http(s):// URL, with its sha256. */
#ifndef VISOR_IMPORT_IMAGE_SOURCE_H
#define VISOR_IMPORT_IMAGE_SOURCE_H

#include <curl/curl.h>
#include <stddef.h>

#include "core/error.h"

typedef struct visor_image_bytes {
  void *data;
  size_t len;
  char sha256[65];    /* lower-case hex */
  char filename[256]; /* the last path segment, for the upload */
} visor_image_bytes;

/* Reads ref (downloading with curl, an easy handle the caller owns, for http(s)). At most
 * max_bytes; VISOR_ERR_INVALID naming ref when it cannot be read. */
visor_code visor_image_bytes_load(CURL *curl, const char *dir, const char *ref, size_t max_bytes,
                                  visor_image_bytes *out, visor_error *err);
/* Only checks that a local file exists, is readable and starts like an image (for
 * --dry-run); URLs pass. */
visor_code visor_image_bytes_check(const char *dir, const char *ref, visor_error *err);
void visor_image_bytes_free(visor_image_bytes *image);

#endif
