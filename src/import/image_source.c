/* image_source.c: reading image references (see image_source.h). */
#include "import/image_source.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static int is_http(const char *ref) {
  return strncasecmp(ref, "http://", 7) == 0 || strncasecmp(ref, "https://", 8) == 0;
}

/* The local path of ref (a malloc'd string): file:// URLs decoded, relative paths joined
 * to dir. */
static char *local_path(const char *dir, const char *ref) {
  if (strncasecmp(ref, "file://", 7) == 0) {
    const char *path = ref + 7;
    if (strncasecmp(path, "localhost/", 10) == 0) path += 9;
    int len = 0;
    char *decoded = curl_easy_unescape(NULL, path, 0, &len);
    char *copy = decoded ? strndup(decoded, (size_t)len) : NULL;
    curl_free(decoded);
    return copy;
  }
  if (ref[0] == '/' || !dir) return strdup(ref);
  size_t size = strlen(dir) + strlen(ref) + 2;
  char *joined = malloc(size);
  if (joined) snprintf(joined, size, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", ref);
  return joined;
}

static void set_filename(visor_image_bytes *out, const char *ref) {
  const char *end = ref + strcspn(ref, "?#");
  const char *start = end;
  while (start > ref && start[-1] != '/')
    start--;
  snprintf(out->filename, sizeof out->filename, "%.*s", (int)(end - start), start);
  if (!out->filename[0]) snprintf(out->filename, sizeof out->filename, "image");
}

typedef struct download {
  visor_image_bytes *out;
  size_t max;
  int too_large;
} download;

static size_t collect(char *data, size_t size, size_t count, void *ctx) {
  download *d = ctx;
  size_t n = size * count;
  if (d->out->len + n > d->max) {
    d->too_large = 1;
    return 0;
  }
  char *grown = realloc(d->out->data, d->out->len + n);
  if (!grown) return 0;
  memcpy(grown + d->out->len, data, n);
  d->out->data = grown;
  d->out->len += n;
  return n;
}

static visor_code fetch_url(CURL *curl, const char *url, size_t max_bytes, visor_image_bytes *out,
                            visor_error *err) {
  download d = {.out = out, .max = max_bytes};
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &d);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  if (d.too_large)
    return visor_error_set(err, VISOR_ERR_INVALID, "image %.200s is larger than %zu bytes", url,
                           max_bytes);
  if (rc != CURLE_OK)
    return visor_error_set(err, VISOR_ERR_INVALID, "cannot download image %.200s: %s", url,
                           curl_easy_strerror(rc));
  if (status != 200)
    return visor_error_set(err, VISOR_ERR_INVALID, "cannot download image %.200s: HTTP %ld", url,
                           status);
  return VISOR_OK;
}

static visor_code read_file(const char *path, const char *ref, size_t max_bytes,
                            visor_image_bytes *out, visor_error *err) {
  FILE *in = fopen(path, "rb");
  if (!in)
    return visor_error_set(err, VISOR_ERR_INVALID, "cannot read image %.200s: %s", ref,
                           strerror(errno));
  struct stat info;
  visor_code code = VISOR_OK;
  if (fstat(fileno(in), &info) != 0 || !S_ISREG(info.st_mode))
    code = visor_error_set(err, VISOR_ERR_INVALID, "cannot read image %.200s: not a file", ref);
  else if ((size_t)info.st_size > max_bytes)
    code = visor_error_set(err, VISOR_ERR_INVALID, "image %.200s is larger than %zu bytes", ref,
                           max_bytes);
  else if (!(out->data = malloc(info.st_size ? (size_t)info.st_size : 1)))
    code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  else if ((out->len = fread(out->data, 1, (size_t)info.st_size, in)) != (size_t)info.st_size)
    code = visor_error_set(err, VISOR_ERR_INVALID, "cannot read image %.200s: short read", ref);
  fclose(in);
  return code;
}

visor_code visor_image_bytes_load(CURL *curl, const char *dir, const char *ref, size_t max_bytes,
                                  visor_image_bytes *out, visor_error *err) {
  memset(out, 0, sizeof *out);
  set_filename(out, ref);
  visor_code code;
  if (is_http(ref)) {
    code = fetch_url(curl, ref, max_bytes, out, err);
  } else {
    char *path = local_path(dir, ref);
    code = path ? read_file(path, ref, max_bytes, out, err)
                : visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    free(path);
  }
  if (code == VISOR_OK && out->len == 0)
    code = visor_error_set(err, VISOR_ERR_INVALID, "image %.200s is empty", ref);
  if (code == VISOR_OK) {
    gchar *digest = g_compute_checksum_for_data(G_CHECKSUM_SHA256, out->data, out->len);
    if (digest) snprintf(out->sha256, sizeof out->sha256, "%s", digest);
    g_free(digest);
    if (!out->sha256[0]) code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  }
  if (code != VISOR_OK) visor_image_bytes_free(out);
  return code;
}

/* The signatures of the formats the server reads (libvips decides for real at upload). */
static int looks_like_image(const unsigned char *head) {
  return (head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) ||
         memcmp(head, "\x89PNG", 4) == 0 || memcmp(head, "GIF8", 4) == 0 ||
         (memcmp(head, "RIFF", 4) == 0 && memcmp(head + 8, "WEBP", 4) == 0) ||
         memcmp(head, "II*\0", 4) == 0 || memcmp(head, "MM\0*", 4) == 0 ||
         memcmp(head + 4, "ftyp", 4) == 0;
}

visor_code visor_image_bytes_check(const char *dir, const char *ref, visor_error *err) {
  if (is_http(ref)) return VISOR_OK;
  char *path = local_path(dir, ref);
  if (!path) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  FILE *in = fopen(path, "rb");
  struct stat info;
  visor_code code = VISOR_OK;
  if (!in)
    code = visor_error_set(err, VISOR_ERR_INVALID, "cannot read image %.200s: %s", ref,
                           strerror(errno));
  else if (fstat(fileno(in), &info) != 0 || !S_ISREG(info.st_mode) || info.st_size == 0)
    code = visor_error_set(err, VISOR_ERR_INVALID, "cannot read image %.200s: not a non-empty file",
                           ref);
  unsigned char head[12] = {0};
  if (code == VISOR_OK && (fread(head, 1, sizeof head, in) < 4 || !looks_like_image(head)))
    code = visor_error_set(err, VISOR_ERR_INVALID,
                           "image %.200s is not a JPEG, PNG, WebP, GIF, TIFF or HEIF file", ref);
  if (in) fclose(in);
  free(path);
  return code;
}

void visor_image_bytes_free(visor_image_bytes *image) {
  free(image->data);
  image->data = NULL;
  image->len = 0;
}
