/* api.c: registers every route group of the API. */
#include "api/api.h"

#include "api/routes.h"

visor_code visor_api_register(visor_http_server *server, visor_app *app, visor_error *err) {
  visor_code code = visor_api_register_system(server, app, err);
  if (code == VISOR_OK) code = visor_api_register_products(server, app, err);
  if (code == VISOR_OK) code = visor_api_register_images(server, app, err);
  if (code == VISOR_OK) code = visor_api_register_jobs(server, app, err);
  if (code == VISOR_OK) code = visor_api_register_searches(server, app, err);
  if (code == VISOR_OK) code = visor_api_register_similar(server, app, err);
  if (code == VISOR_OK) code = visor_api_register_duplicates(server, app, err);
  if (code == VISOR_OK) code = visor_api_register_admin(server, app, err);
  if (code == VISOR_OK) code = visor_api_register_admin_jobs(server, app, err);
  if (code == VISOR_OK) code = visor_api_register_review(server, app, err);
  if (code == VISOR_OK) code = visor_api_register_reindex(server, app, err);
  return code;
}

void visor_api_unregister(visor_http_server *server, visor_app *app) {
  (void)server;
  if (app) visor_app_set_signal_hook(app, NULL, NULL);
}
