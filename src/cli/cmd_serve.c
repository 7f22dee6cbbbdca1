/* cmd_serve.c: the server subcommands. `visor serve`: API + web app + workers +
 * in-process ML, embedded backends by default, migrating the schema by itself.
 * `visor api`: API + web app only (workers run elsewhere). `visor worker`: the pipeline
 * workers only, with /healthz, /readyz and /metrics on their own port. api and worker
 * refuse an outdated schema (run `visor migrate`). All stop cleanly on SIGINT or SIGTERM:
 * stop accepting, finish in-flight requests, let workers finish their task. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "cli/commands.h"
#include "cli/demo_loader.h"
#include "core/log.h"
#include "pipeline/pipeline.h"
#include "service/sweeper.h"

#define SHUTDOWN_GRACE_MS 10000

typedef enum server_role { ROLE_SERVE, ROLE_API, ROLE_WORKER } server_role;

static int run_server(const char *command, int argc, char **argv, server_role role) {
  visor_config config;
  int done = visor_cli_load_config(command, argc, argv, &config);
  if (done >= 0) return done;

  visor_cli_block_stop_signals(); /* before any thread starts: the main thread waits for them */

  visor_error err = {0};
  visor_app app;
  int status = 0;
  visor_http_server *server = NULL;
  visor_sweeper *sweeper = NULL;
  visor_demo_loader *demo = NULL;
  int with_workers = role != ROLE_API && config.workers > 0;
  if (role == ROLE_WORKER && config.workers <= 0) {
    fprintf(stderr, "visor worker: --concurrency must be at least 1\n");
    visor_config_free(&config);
    return 2;
  }
  if (with_workers && visor_pipeline_check_kinds(config.kinds, &err) != VISOR_OK) {
    fprintf(stderr, "visor %s: invalid configuration: %s\n", command, err.message);
    visor_config_free(&config);
    return 2;
  }
  unsigned parts = with_workers ? VISOR_PIPELINE_APP_PARTS : 0;
  visor_app_schema schema = role == ROLE_SERVE ? VISOR_APP_MIGRATE : VISOR_APP_REQUIRE_LATEST;
  if (visor_app_open(&app, &config, parts, schema, &err) != VISOR_OK) {
    fprintf(stderr, "visor %s: %s\n", command, err.message);
    visor_config_free(&config);
    return visor_cli_exit_code(&err);
  }
  visor_http_config http = visor_cli_http_config(&config);
  server = visor_http_server_new(&http, &err);
  if (!server) goto fail;
  visor_code code = role == ROLE_WORKER ? visor_api_register_probes(server, &app, &err)
                                        : visor_api_register(server, &app, &err);
  if (code != VISOR_OK) goto fail;
  if (with_workers) {
    if (visor_app_create_workers(&app, NULL, &err) != VISOR_OK ||
        visor_pipeline_register(&app, app.workers, &err) != VISOR_OK ||
        visor_worker_pool_start(app.workers, &err) != VISOR_OK)
      goto fail;
    /* orphans of crashes: at start, then every --sweep-seconds */
    if (!(sweeper =
              visor_sweeper_start(&app, config.sweep_seconds, config.sweep_grace_seconds, &err)))
      goto fail;
  }
  if (visor_http_start(server, &err) != VISOR_OK) goto fail;
  const char *shown_host = visor_cli_shown_host(&config);
  visor_log_info("visor %s listening on http://%s:%d/ (data in %s)", command, shown_host,
                 visor_http_port(server), config.data_dir);
  if (role == ROLE_WORKER)
    printf("Visor worker is running (%ld threads, kinds %s): http://%s:%d/healthz\n",
           config.workers, config.kinds, shown_host, visor_http_port(server));
  else
    printf("Visor is running: http://%s:%d/\n", shown_host, visor_http_port(server));
  fflush(stdout);
  if (role == ROLE_SERVE && config.demo_dir && *config.demo_dir &&
      !(demo = visor_demo_start(config.demo_dir, visor_http_port(server), &err)))
    visor_log(VISOR_LOG_WARN, "%s", err.message); /* the server runs on without the demo */

  visor_log_info("received %s: stopping", visor_cli_wait_for_stop());
  visor_demo_stop(demo); /* no new product; the one in flight finishes */
  demo = NULL;
  visor_http_stop(server, SHUTDOWN_GRACE_MS);
  visor_worker_pool_stop(app.workers);
  visor_sweeper_stop(sweeper);
  sweeper = NULL;
  visor_log_info("stopped cleanly");
  goto cleanup;
fail:
  fprintf(stderr, "visor %s: %s\n", command, err.message);
  status = visor_cli_exit_code(&err);
cleanup:
  visor_sweeper_stop(sweeper);
  visor_api_unregister(server, &app);
  visor_http_server_free(server);
  visor_app_close(&app);
  visor_config_free(&config);
  return status;
}

int visor_cmd_serve(int argc, char **argv) {
  return run_server("serve", argc, argv, ROLE_SERVE);
}

int visor_cmd_api(int argc, char **argv) {
  return run_server("api", argc, argv, ROLE_API);
}

int visor_cmd_worker(int argc, char **argv) {
  return run_server("worker", argc, argv, ROLE_WORKER);
}
