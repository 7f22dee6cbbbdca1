/* api.h: the REST API: routes under /api/v1 over the application's backends, plus
 * /healthz, /readyz, /metrics, /api/openapi.json and the web app at /. */
#ifndef VISOR_API_API_H
#define VISOR_API_API_H

#include "app/app.h"
#include "http/http.h"

visor_code visor_api_register(visor_http_server *server, visor_app *app, visor_error *err);
/* Undoes what visor_api_register tied to app (the hook that wakes parked waits): call it
 * before freeing the server. */
void visor_api_unregister(visor_http_server *server, visor_app *app);
/* Only /healthz, /readyz and /metrics (what `visor worker` serves). */
visor_code visor_api_register_probes(visor_http_server *server, visor_app *app, visor_error *err);

#endif
