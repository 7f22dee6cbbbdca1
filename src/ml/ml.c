/* ml.c: visor_ml_open: picks the ML backend from its URL ("local" = in-process ONNX
 * Runtime; "http://host:port" = a `visor ml` server through ml_http.c). */
#include "ml/ml.h"

#include <string.h>

#include "ml/ml_http.h"
#include "ml/ml_local.h"

int visor_ml_url_supported(const char *url, visor_error *err) {
  if (!url || !*url || strcmp(url, "local") == 0 || strncmp(url, "http://", 7) == 0 ||
      strncmp(url, "https://", 8) == 0)
    return 1;
  visor_error_set(err, VISOR_ERR_INVALID,
                  "ML backend URL \"%s\" is not \"local\" or http://host:port", url);
  return 0;
}

visor_ml *visor_ml_open(const visor_ml_config *config, visor_error *err) {
  if (!config) {
    visor_error_set(err, VISOR_ERR_INVALID, "ML backend: no configuration");
    return NULL;
  }
  const char *url = config->url && *config->url ? config->url : "local";
  if (strcmp(url, "local") == 0) return visor_ml_local_open(config, err);
  if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
    return visor_ml_http_open(config, err);
  visor_error_set(err, VISOR_ERR_INVALID,
                  "ML backend URL \"%s\" is not \"local\" or http://host:port", url);
  return NULL;
}
