/* ml_http.h: the visor_ml backend that calls a `visor ml` server over HTTP (libcurl). */
#ifndef VISOR_ML_ML_HTTP_H
#define VISOR_ML_ML_HTTP_H

#include "ml/ml.h"

/* config->url: "http://host:port[/prefix][?timeout_ms=N&connect_timeout_ms=N]". Does not
 * contact the service: a service that is down makes each call fail with
 * VISOR_ERR_UNAVAILABLE naming the URL. */
visor_ml *visor_ml_http_open(const visor_ml_config *config, visor_error *err);

#endif
