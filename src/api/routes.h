/* routes.h: the route groups of the API, each registered by its own file. */
#ifndef VISOR_API_ROUTES_H
#define VISOR_API_ROUTES_H

#include "app/app.h"
#include "api/route_util.h"
#include "http/http.h"

visor_code visor_api_register_products(visor_http_server *server, visor_app *app, visor_error *err);
visor_code visor_api_register_images(visor_http_server *server, visor_app *app, visor_error *err);
visor_code visor_api_register_jobs(visor_http_server *server, visor_app *app, visor_error *err);
visor_code visor_api_register_searches(visor_http_server *server, visor_app *app, visor_error *err);
visor_code visor_api_register_similar(visor_http_server *server, visor_app *app, visor_error *err);
visor_code visor_api_register_duplicates(visor_http_server *server, visor_app *app,
                                         visor_error *err);
visor_code visor_api_register_admin(visor_http_server *server, visor_app *app, visor_error *err);
visor_code visor_api_register_admin_jobs(visor_http_server *server, visor_app *app,
                                         visor_error *err);
visor_code visor_api_register_review(visor_http_server *server, visor_app *app, visor_error *err);
visor_code visor_api_register_reindex(visor_http_server *server, visor_app *app, visor_error *err);
visor_code visor_api_register_system(visor_http_server *server, visor_app *app, visor_error *err);

/* Adds images (each with its job and regions) to a product object. */
visor_code visor_api_product_details(visor_app *app, visor_db_conn *conn, json_t *product,
                                     visor_error *err);
/* Adds "job" (status, progress, error) and "regions" to an image object. */
visor_code visor_api_image_details(visor_app *app, visor_db_conn *conn, json_t *image,
                                   visor_error *err);
/* Streams the object under key with content_type, or responds 404. */
void visor_api_send_object(visor_app *app, visor_http_response *res, const char *key,
                           const char *content_type);

#endif
