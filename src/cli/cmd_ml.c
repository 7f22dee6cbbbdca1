/* cmd_ml.c: `visor ml`: the ML inference service of the distributed design. Loads the
 * models in process (ml_local), serves /v1/analyze, /v1/detect, /v1/embed, /v1/label,
 * /v1/models, health and metrics (ml_server.c) with dynamic batching of region crops
 * (ml_batch, ml_batch_wait_ms), and stops cleanly on SIGINT or SIGTERM: stop accepting,
 * finish in-flight requests, then stop the batchers and unload the models. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/log.h"
#include "http/http.h"
#include "ml/ml.h"
#include "ml/ml_local.h"
#include "ml/ml_server.h"

#define SHUTDOWN_GRACE_MS 10000

int visor_cmd_ml(int argc, char **argv) {
  visor_config config;
  int done = visor_cli_load_config("ml", argc, argv, &config);
  if (done >= 0) return done;

  visor_cli_block_stop_signals(); /* before any thread starts: the main thread waits for them */

  visor_error err = {0};
  int status = 0;
  visor_ml *ml = NULL;
  visor_ml_service *service = NULL;
  visor_http_server *server = NULL;
  visor_ml_config ml_config = {.url = "local",
                               .models_dir = config.models_dir,
                               .manifest = config.model_manifest,
                               .intra_op_threads = (int)config.ml_threads,
                               .max_pixels = (size_t)config.max_pixels};
  ml = visor_ml_local_open(&ml_config, &err);
  if (!ml) goto fail;
  visor_ml_service_config service_config = {.max_batch = (size_t)config.ml_batch,
                                            .batch_wait_ms = (int)config.ml_batch_wait_ms,
                                            .max_body = (size_t)config.max_upload_mb * 1024 * 1024};
  service = visor_ml_service_new(ml, &service_config, &err);
  if (!service) goto fail;
  visor_http_config http = visor_cli_http_config(&config);
  server = visor_http_server_new(&http, &err);
  if (!server || visor_ml_service_register(service, server, &err) != VISOR_OK ||
      visor_http_start(server, &err) != VISOR_OK)
    goto fail;
  const char *shown_host = visor_cli_shown_host(&config);
  visor_model_info embedder, detector, labeller;
  visor_ml_local_models(ml, &embedder, &detector, &labeller);
  visor_log_info("visor ml listening on http://%s:%d/ (detector %s, embedder %s dim %zu, "
                 "labeller %s; batches of up to %ld crops, %ld ms wait)",
                 shown_host, visor_http_port(server), detector.name[0] ? detector.name : "none",
                 embedder.name, embedder.dim, labeller.name[0] ? labeller.name : "none",
                 config.ml_batch, config.ml_batch_wait_ms);
  printf("Visor ML is running: http://%s:%d/\n", shown_host, visor_http_port(server));
  fflush(stdout);

  visor_log_info("received %s: stopping", visor_cli_wait_for_stop());
  visor_http_stop(server, SHUTDOWN_GRACE_MS);
  visor_log_info("stopped cleanly");
  goto cleanup;
fail:
  fprintf(stderr, "visor ml: %s\n", err.message);
  status = visor_cli_exit_code(&err);
cleanup:
  visor_http_server_free(server);
  visor_ml_service_free(service);
  if (ml) ml->ops->close(ml);
  visor_config_free(&config);
  return status;
}
