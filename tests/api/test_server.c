/* test_server.c: starting and stopping a real in-process Visor server for tests (see
 * test_server.h). */
#include "test_server.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "core/log.h"
#include "http_client.h"
#include "pipeline/pipeline.h"

#define MAX_OPTIONS 32

void test_server_start(test_server *ts, char **options, int option_count, int with_pipelines) {
  memset(ts, 0, sizeof *ts);
  snprintf(ts->data_dir, sizeof ts->data_dir, "/tmp/visor-test-XXXXXX");
  if (!mkdtemp(ts->data_dir)) fail_msg("cannot make a temp folder");
  const char *shared = getenv("VISOR_SHARED_DIR");
  char models[1024];
  snprintf(models, sizeof models, "%s/models", shared ? shared : "../shared");
  char no_web[1100]; /* the tests never need the web app: its absence is what they see */
  snprintf(no_web, sizeof no_web, "%s/no-web-app", ts->data_dir);
  char *argv[MAX_OPTIONS + 8] = {"--data-dir",  ts->data_dir, "--models",  models,
                                 "--log-level", "warn",       "--web-dir", no_web};
  int argc = 8;
  for (int i = 0; i < option_count && i < MAX_OPTIONS; i++)
    argv[argc++] = options[i];
  int help = 0;
  visor_error err = {0};
  if (visor_config_load(&ts->config, argc, argv, &help, &err) != VISOR_OK)
    fail_msg("config: %s", err.message);
  visor_log_setup(VISOR_LOG_WARN, VISOR_LOG_PLAIN);
  if (visor_app_open(&ts->app, &ts->config, with_pipelines ? VISOR_PIPELINE_APP_PARTS : 0,
                     VISOR_APP_MIGRATE, &err) != VISOR_OK)
    fail_msg("app: %s", err.message);
  if (with_pipelines) {
    visor_worker_config workers = {.concurrency = 2, .poll_ms = 20};
    if (visor_app_create_workers(&ts->app, &workers, &err) != VISOR_OK ||
        visor_pipeline_register(&ts->app, ts->app.workers, &err) != VISOR_OK ||
        visor_worker_pool_start(ts->app.workers, &err) != VISOR_OK)
      fail_msg("workers: %s", err.message);
  }
  /* many concurrent test clients share 127.0.0.1: a per-address cap above theirs */
  visor_http_config http = {
      .host = "127.0.0.1", .port = 0, .threads = 8, .max_connections_per_ip = 256};
  ts->server = visor_http_server_new(&http, &err);
  if (!ts->server || visor_api_register(ts->server, &ts->app, &err) != VISOR_OK ||
      visor_http_start(ts->server, &err) != VISOR_OK)
    fail_msg("server: %s", err.message);
  char base[64];
  snprintf(base, sizeof base, "http://127.0.0.1:%d", visor_http_port(ts->server));
  test_http_init(base);
}

void test_server_stop(test_server *ts) {
  visor_http_stop(ts->server, 2000);
  visor_api_unregister(ts->server, &ts->app);
  visor_http_server_free(ts->server);
  visor_app_close(&ts->app);
  visor_config_free(&ts->config);
}
