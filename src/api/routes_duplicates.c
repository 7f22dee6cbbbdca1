/* routes_duplicates.c: duplicate images across products: GET /api/v1/products/{id}/duplicates
 * (the pairs one product is in), GET /api/v1/duplicates (every pair, paged, for the admin's
 * review), and GET /api/v1/images?sha256= (which products already hold a picture with
 * these bytes: how `visor import` skips exact duplicates before uploading). */
#include <ctype.h>
#include <string.h>

#include "api/routes.h"
#include "store/catalog.h"
#include "store/duplicates.h"

static void product_duplicates(visor_http_request *req, visor_http_response *res, void *ctx) {
  const char *id = NULL;
  visor_db_conn *conn = visor_route_id_conn(ctx, req, res, &id);
  if (!conn) return;
  visor_error err = {0};
  json_t *product = NULL, *items = NULL;
  visor_code code = visor_product_get(conn, id, &product, &err);
  if (code == VISOR_OK) code = visor_duplicates_of_product(conn, id, &items, &err);
  visor_db_release(conn);
  json_decref(product);
  if (code != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  visor_http_respond_json(
      res, 200,
      json_pack("{s:o, s:I}", "items", items, "total", (json_int_t)json_array_size(items)));
}

static void list_duplicates(visor_http_request *req, visor_http_response *res, void *ctx) {
  int64_t limit = 0, offset = 0;
  if (!visor_route_paging(req, res, 50, 200, &limit, &offset)) return;
  const char *kind = visor_http_query(req, "kind");
  if (kind && strcmp(kind, "exact") != 0 && strcmp(kind, "near") != 0) {
    visor_http_respond_error(res, 400, "invalid_argument",
                             "query parameter 'kind' must be exact or near");
    return;
  }
  visor_db_conn *conn = visor_route_conn(ctx, res);
  if (!conn) return;
  visor_error err = {0};
  json_t *items = NULL;
  int64_t total = 0;
  visor_code code = visor_duplicates_list(conn, kind, limit, offset, &items, &total, &err);
  visor_db_release(conn);
  if (code != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  visor_http_respond_json(res, 200, visor_route_page(items, total, limit, offset));
}

static int is_sha256_hex(const char *text) {
  if (!text || strlen(text) != 64) return 0;
  for (const char *c = text; *c; c++)
    if (!isxdigit((unsigned char)*c)) return 0;
  return 1;
}

static void images_by_digest(visor_http_request *req, visor_http_response *res, void *ctx) {
  const char *sha256 = visor_http_query(req, "sha256");
  if (!is_sha256_hex(sha256)) {
    visor_http_respond_error(res, 400, "invalid_argument",
                             "query parameter 'sha256' must be 64 hexadecimal digits");
    return;
  }
  char lower[65];
  for (size_t i = 0; i < 65; i++)
    lower[i] = (char)tolower((unsigned char)sha256[i]);
  visor_db_conn *conn = visor_route_conn(ctx, res);
  if (!conn) return;
  visor_error err = {0};
  json_t *items = NULL;
  visor_code code = visor_images_with_sha256(conn, lower, NULL, &items, &err);
  visor_db_release(conn);
  if (code != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  visor_http_respond_json(
      res, 200,
      json_pack("{s:o, s:I}", "items", items, "total", (json_int_t)json_array_size(items)));
}

visor_code visor_api_register_duplicates(visor_http_server *server, visor_app *app,
                                         visor_error *err) {
  visor_code code = visor_http_route(server, "GET", "/api/v1/products/{id}/duplicates",
                                     product_duplicates, app, NULL, err);
  if (code == VISOR_OK)
    code = visor_http_route(server, "GET", "/api/v1/duplicates", list_duplicates, app, NULL, err);
  if (code == VISOR_OK)
    code = visor_http_route(server, "GET", "/api/v1/images", images_by_digest, app, NULL, err);
  return code;
}
