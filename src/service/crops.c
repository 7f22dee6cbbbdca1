/* crops.c: region crops on demand (see crops.h). */
#include "service/crops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "store/catalog.h"
#include "store/regions.h"

/* A cached crop is a few tens of KB; anything larger under a crop key is not one of ours. */
#define CROP_MAX_BYTES (8u * 1024u * 1024u)

void visor_crop_key(const char *image_id, const char *region_id, char *key, size_t size) {
  snprintf(key, size, "crops/%s/%s.jpg", image_id, region_id);
}

unsigned visor_crop_box_version(double x, double y, double w, double h) {
  char text[128];
  snprintf(text, sizeof text, "%.3f,%.3f,%.3f,%.3f", x, y, w, h);
  unsigned hash = 2166136261u; /* FNV-1a */
  for (const char *c = text; *c; c++)
    hash = (hash ^ (unsigned char)*c) * 16777619u;
  return hash;
}

void visor_crop_key_for_box(const char *image_id, const char *region_id, double x, double y,
                            double w, double h, char *key, size_t size) {
  snprintf(key, size, "crops/%s/%s-%08x.jpg", image_id, region_id,
           visor_crop_box_version(x, y, w, h));
}

/* What cutting a region's crop needs, read from its live rows. */
typedef struct crop_source {
  char crop_key[512];
  char *object_key; /* the image's original */
  visor_box box;
} crop_source;

static float box_value(const json_t *box, const char *name) {
  return (float)json_number_value(json_object_get(box, name));
}

static visor_code load_source(visor_app *app, const char *region_id, crop_source *source,
                              visor_error *err) {
  memset(source, 0, sizeof *source);
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  json_t *region = NULL, *image = NULL;
  visor_code code = visor_region_get(conn, region_id, &region, err);
  const char *image_id = region ? json_string_value(json_object_get(region, "image_id")) : NULL;
  if (code == VISOR_OK && !image_id)
    code = visor_error_set(err, VISOR_ERR_INTERNAL, "region %s has no image", region_id);
  if (code == VISOR_OK) code = visor_image_get(conn, image_id, &image, err);
  visor_db_release(conn);
  if (code == VISOR_OK) {
    const char *crop_key = json_string_value(json_object_get(region, "crop_object_key"));
    const char *object_key = json_string_value(json_object_get(image, "object_key"));
    const json_t *box = json_object_get(region, "box");
    source->box = (visor_box){box_value(box, "x"), box_value(box, "y"), box_value(box, "w"),
                              box_value(box, "h")};
    if (crop_key)
      snprintf(source->crop_key, sizeof source->crop_key, "%s", crop_key);
    else /* a row from before crop keys: the crop is made each time, not cached */
      source->crop_key[0] = '\0';
    if (!object_key || !(source->object_key = strdup(object_key)))
      code = visor_error_set(err, object_key ? VISOR_ERR_NOMEM : VISOR_ERR_INTERNAL,
                             "image %s of region %s: no original", image_id, region_id);
  }
  json_decref(region);
  json_decref(image);
  return code;
}

/* What became of a region while its crop was cut. */
enum { REGION_FAILED = -1, REGION_GONE = 0, REGION_SAME = 1, REGION_MOVED = 2 };

/* REGION_SAME when the region is live and its crop is still cached under crop_key,
 * REGION_MOVED when its box moved (another key), REGION_GONE when it is deleted. */
static int region_still_cut(visor_app *app, const char *region_id, const char *crop_key,
                            visor_error *err) {
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return -1;
  json_t *region = NULL;
  visor_code code = visor_region_get(conn, region_id, &region, err);
  visor_db_release(conn);
  const char *now = json_string_value(json_object_get(region, "crop_object_key"));
  int same = code == VISOR_OK && now && strcmp(now, crop_key) == 0;
  json_decref(region);
  if (code == VISOR_OK) return same ? REGION_SAME : REGION_MOVED;
  return code == VISOR_ERR_NOT_FOUND ? REGION_GONE : REGION_FAILED;
}

/* Cuts the crop of source from the original. */
static visor_code cut_crop(visor_app *app, const crop_source *source, void **bytes, size_t *len,
                           visor_error *err) {
  void *original = NULL;
  size_t original_len = 0;
  visor_image *decoded = NULL;
  visor_code code =
      visor_blob_get(app->blobs, source->object_key, 0, &original, &original_len, err);
  if (code == VISOR_OK)
    code = visor_image_load(original, original_len, app->max_pixels, VISOR_CROP_SOURCE_MAX_SIDE,
                            &decoded, err);
  if (code == VISOR_OK)
    code = visor_image_crop_encode_loaded(decoded, &source->box, VISOR_CROP_MAX_SIDE, 0, bytes, len,
                                          err);
  visor_image_free(decoded);
  free(original);
  if (code != VISOR_OK) visor_error_wrap(err, "cutting the crop from %s", source->object_key);
  return code;
}

visor_code visor_crop_get(visor_app *app, const char *region_id, void **bytes, size_t *len,
                          visor_error *err) {
  *bytes = NULL;
  *len = 0;
  crop_source source;
  visor_code code = load_source(app, region_id, &source, err);
  if (code == VISOR_OK && source.crop_key[0]) {
    visor_error missing = {0};
    code = visor_blob_get(app->blobs, source.crop_key, CROP_MAX_BYTES, bytes, len, &missing);
    if (code != VISOR_ERR_NOT_FOUND) {
      if (code != VISOR_OK && err) *err = missing;
      free(source.object_key);
      return code;
    }
    code = VISOR_OK; /* not cached yet */
  }
  if (code == VISOR_OK) code = cut_crop(app, &source, bytes, len, err);
  if (code == VISOR_OK && source.crop_key[0]) {
    /* The put is atomic and every request cuts the same bytes, so concurrent first
     * requests are safe. A delete that committed before the check below finds the crop
     * removed here; one that commits after it removes the crop itself. */
    code = visor_blob_put(app->blobs, source.crop_key, *bytes, *len, err);
    int now =
        code == VISOR_OK ? region_still_cut(app, region_id, source.crop_key, err) : REGION_SAME;
    if (now == REGION_FAILED) code = err->code;
    /* moved: these bytes are the old box's; they are answered but not left cached */
    if (now == REGION_GONE || now == REGION_MOVED)
      visor_blob_remove(app->blobs, source.crop_key, NULL);
    if (now == REGION_GONE)
      code = visor_error_set(err, VISOR_ERR_NOT_FOUND, "region %s not found", region_id);
  }
  if (code != VISOR_OK) {
    free(*bytes);
    *bytes = NULL;
    *len = 0;
  }
  free(source.object_key);
  return code;
}
