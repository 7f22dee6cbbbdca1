/* routes_images.c: /api/v1/images/{id}: metadata (with its job and regions), the original
 * bytes, soft delete (its vectors leave the index); /api/v1/regions/{id}: a region and its
 * crop (made on first request). */
#include <stdlib.h>
#include <string.h>

#include "api/routes.h"
#include "service/catalogue.h"
#include "service/crops.h"
#include "store/catalog.h"
#include "store/jobs.h"
#include "store/regions.h"

visor_code visor_api_image_details(visor_app *app, visor_db_conn *conn, json_t *image,
                                   visor_error *err) {
  (void)app;
  json_t *regions = NULL;
  visor_code listed =
      visor_region_list(conn, json_string_value(json_object_get(image, "id")), &regions, err);
  if (listed != VISOR_OK) return listed;
  visor_api_set_region_crop_urls(regions);
  json_object_set_new(image, "regions", regions);
  const char *job_id = json_string_value(json_object_get(image, "job_id"));
  if (job_id) {
    json_t *job = NULL;
    visor_code code = visor_job_get(conn, job_id, &job, err);
    if (code == VISOR_OK) {
      json_t *summary = json_pack(
          "{s:O, s:O, s:O, s:O, s:O}", "id", json_object_get(job, "id"), "status",
          json_object_get(job, "status"), "progress", json_object_get(job, "progress"), "attempts",
          json_object_get(job, "attempts"), "error", json_object_get(job, "error"));
      json_object_set_new(image, "job", summary);
      json_decref(job);
    } else if (code != VISOR_ERR_NOT_FOUND) {
      return code;
    }
  }
  return VISOR_OK;
}

typedef struct object_stream {
  visor_blob_store *blobs;
  visor_blob_reader *reader;
} object_stream;

static long read_object(void *ctx, uint64_t offset, char *buf, size_t max) {
  object_stream *stream = ctx;
  return stream->blobs->ops->read_at(stream->reader, offset, buf, max);
}

static void close_object(void *ctx) {
  object_stream *stream = ctx;
  stream->blobs->ops->close_reader(stream->reader);
  free(stream);
}

void visor_api_send_object(visor_app *app, visor_http_response *res, const char *key,
                           const char *content_type) {
  visor_error err = {0};
  uint64_t size = 0;
  object_stream *stream = malloc(sizeof *stream);
  if (!stream) {
    visor_http_respond_error(res, 500, "out_of_memory", "out of memory");
    return;
  }
  stream->blobs = app->blobs;
  stream->reader = app->blobs->ops->open_reader(app->blobs, key, &size, &err);
  if (!stream->reader) {
    free(stream);
    visor_route_fail(res, &err);
    return;
  }
  visor_http_set_header(res, "Cache-Control", "public, max-age=86400, immutable");
  visor_http_respond_stream(res, 200, content_type, size, read_object, stream, close_object);
}

static const char *format_content_type(const char *format) {
  static const struct {
    const char *format, *type;
  } types[] = {{"jpeg", "image/jpeg"},
               {"png", "image/png"},
               {"webp", "image/webp"},
               {"gif", "image/gif"},
               {"tiff", "image/tiff"}};
  for (size_t i = 0; format && i < sizeof types / sizeof types[0]; i++)
    if (strcmp(types[i].format, format) == 0) return types[i].type;
  return "application/octet-stream";
}

static json_t *load_image(visor_app *app, visor_http_request *req, visor_http_response *res,
                          int details) {
  const char *id = NULL;
  visor_db_conn *conn = visor_route_id_conn(app, req, res, &id);
  if (!conn) return NULL;
  visor_error err = {0};
  json_t *image = NULL;
  visor_code code = visor_image_get(conn, id, &image, &err);
  if (code == VISOR_OK && details) code = visor_api_image_details(app, conn, image, &err);
  visor_db_release(conn);
  if (code != VISOR_OK) {
    json_decref(image);
    visor_route_fail(res, &err);
    return NULL;
  }
  return image;
}

static void get_image(visor_http_request *req, visor_http_response *res, void *ctx) {
  json_t *image = load_image(ctx, req, res, 1);
  if (image) visor_http_respond_json(res, 200, image);
}

static void get_image_content(visor_http_request *req, visor_http_response *res, void *ctx) {
  json_t *image = load_image(ctx, req, res, 0);
  if (!image) return;
  visor_api_send_object(ctx, res, json_string_value(json_object_get(image, "object_key")),
                        format_content_type(json_string_value(json_object_get(image, "format"))));
  json_decref(image);
}

static void delete_image(visor_http_request *req, visor_http_response *res, void *ctx) {
  visor_app *app = ctx;
  const char *id = visor_route_id(req, res, "id");
  if (!id) return;
  visor_error err = {0};
  if (visor_catalogue_delete_image(app, id, &err) != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  visor_http_respond_bytes(res, 204, "application/json", NULL, 0);
}

static json_t *load_region(visor_app *app, visor_http_request *req, visor_http_response *res) {
  const char *id = NULL;
  visor_db_conn *conn = visor_route_id_conn(app, req, res, &id);
  if (!conn) return NULL;
  visor_error err = {0};
  json_t *region = NULL;
  visor_code code = visor_region_get(conn, id, &region, &err);
  visor_db_release(conn);
  if (code != VISOR_OK) {
    visor_route_fail(res, &err);
    return NULL;
  }
  json_object_del(region, "crop_object_key");
  visor_api_set_region_crop_url(region);
  return region;
}

static void get_region(visor_http_request *req, visor_http_response *res, void *ctx) {
  json_t *region = load_region(ctx, req, res);
  if (region) visor_http_respond_json(res, 200, region);
}

/* Made on the first request and cached (service/crops.h). */
static void get_region_crop(visor_http_request *req, visor_http_response *res, void *ctx) {
  const char *id = visor_route_id(req, res, "id");
  if (!id) return;
  visor_error err = {0};
  void *crop = NULL;
  size_t len = 0;
  if (visor_crop_get(ctx, id, &crop, &len, &err) != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  visor_http_set_header(res, "Cache-Control", "public, max-age=86400, immutable");
  visor_http_respond_bytes(res, 200, "image/jpeg", crop, len);
}

visor_code visor_api_register_images(visor_http_server *server, visor_app *app, visor_error *err) {
  visor_code code =
      visor_http_route(server, "GET", "/api/v1/images/{id}", get_image, app, NULL, err);
  if (code == VISOR_OK)
    code = visor_http_route(server, "GET", "/api/v1/images/{id}/content", get_image_content, app,
                            NULL, err);
  if (code == VISOR_OK)
    code = visor_http_route(server, "DELETE", "/api/v1/images/{id}", delete_image, app, NULL, err);
  if (code == VISOR_OK)
    code = visor_http_route(server, "GET", "/api/v1/regions/{id}", get_region, app, NULL, err);
  if (code == VISOR_OK)
    code = visor_http_route(server, "GET", "/api/v1/regions/{id}/crop", get_region_crop, app, NULL,
                            err);
  return code;
}
