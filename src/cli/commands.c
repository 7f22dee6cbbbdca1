/* commands.c: the table of subcommands and what they share: loading the configuration
 * (with --help) and mapping errors to exit codes. */
#include "cli/commands.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "core/log.h"

const visor_command visor_commands[] = {
    {"serve", "run everything in one process with embedded backends (API, workers, ML, web app)",
     "Usage: visor serve [OPTIONS]\n", 1, visor_cmd_serve},
    {"api", "run the HTTP API (and the web app) only; workers run elsewhere",
     "Usage: visor api [OPTIONS]\n", 1, visor_cmd_api},
    {"worker",
     "run pipeline workers (index, search) over the configured queue and backends; serves "
     "/healthz, /readyz and /metrics on --port",
     "Usage: visor worker [--concurrency N] [--kinds index,search] [OPTIONS]\n", 1,
     visor_cmd_worker},
    {"ml", "run the ML inference service (detect, label, embed over HTTP, with dynamic batching)",
     "Usage: visor ml [OPTIONS]\n", 1, visor_cmd_ml},
    {"check",
     "check that every object and vector is owned by a row and every region has its vector "
     "(exit 1 when not)",
     "Usage: visor check [--json] [OPTIONS]\n", 1, visor_cmd_check},
    {"sweep",
     "remove objects no row owns and temp files older than --sweep-grace-seconds (once; "
     "serve and worker also sweep on their own)",
     "Usage: visor sweep [--sweep-grace-seconds S] [OPTIONS]\n", 1, visor_cmd_sweep},
    {"migrate", "create or upgrade the metadata store's schema", "Usage: visor migrate [OPTIONS]\n",
     1, visor_cmd_migrate},
    {"search", "search a running Visor by photo and print the best products per object",
     "Usage: visor search IMAGE [OPTIONS]\n", 0, visor_cmd_search},
    {"import",
     "bulk-import products from a CSV or JSON Lines file into a running Visor (resumable, with "
     "a progress bar)",
     "Usage: visor import FILE [OPTIONS]\n", 0, visor_cmd_import},
    {"reindex",
     "re-run the current models on one product's, one category's, the stale or all images of a "
     "running Visor and replace their vectors (admin token; with a progress bar)",
     "Usage: visor reindex (--product ID | --category C | --stale | --all) [OPTIONS]\n", 0,
     visor_cmd_reindex},
    {"eval", "measure retrieval accuracy on a labelled dataset (top-1/top-5, mAP, throughput)",
     "Usage: visor eval DATASET_DIR [--catalogue iconic|iconic+train|both] [--queries N|all]\n"
     "                  [--k K] [--json] [OPTIONS]\n",
     1, visor_cmd_eval},
    {"tune",
     "fit a catalogue projection from products with 2+ images and re-project the index "
     "(no model is run; the old version serves until the new one is complete)",
     "Usage: visor tune [--dim N] [--shrinkage A] [--keep-previous] [OPTIONS]\n", 1,
     visor_cmd_tune},
    {"version", "print the version", "Usage: visor version\n", 0, visor_cmd_version},
};
const int visor_command_count = sizeof visor_commands / sizeof visor_commands[0];

int visor_cli_exit_code(const visor_error *err) {
  return err->code == VISOR_ERR_INVALID ? 2 : 1;
}

int visor_cli_load_config(const char *command, int argc, char **argv, visor_config *config) {
  const visor_command *spec = NULL;
  for (int i = 0; i < visor_command_count; i++)
    if (strcmp(visor_commands[i].name, command) == 0) spec = &visor_commands[i];
  int help = 0;
  visor_error err = {0};
  if (visor_config_load(config, argc, argv, &help, &err) != VISOR_OK) {
    fprintf(stderr, "visor %s: invalid configuration: %s\n", command, err.message);
    return 2;
  }
  if (help) {
    printf("%s\n%s\n\n", spec ? spec->summary : command, spec ? spec->usage : "");
    visor_config_print_help(stdout);
    visor_config_free(config);
    return 0;
  }
  if (visor_app_check_urls(config, &err) != VISOR_OK) {
    fprintf(stderr, "visor %s: invalid configuration: %s\n", command, err.message);
    visor_config_free(config);
    return 2;
  }
  visor_log_setup((visor_log_level)visor_log_level_parse(config->log_level),
                  strcmp(config->log_format, "json") == 0 ? VISOR_LOG_JSON : VISOR_LOG_PLAIN);
  return -1;
}

static sigset_t stop_signals(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

void visor_cli_block_stop_signals(void) {
  sigset_t set = stop_signals();
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);
}

const char *visor_cli_wait_for_stop(void) {
  sigset_t set = stop_signals();
  int signal_number = 0;
  sigwait(&set, &signal_number);
  return signal_number == SIGINT ? "SIGINT" : "SIGTERM";
}

visor_http_config visor_cli_http_config(const visor_config *config) {
  return (visor_http_config){
      .host = config->host,
      .port = (int)config->port,
      .threads = (int)config->http_threads,
      .default_max_body = 1024 * 1024,
      .rate_limit_per_s = config->rate_limit,
      .rate_limit_burst = (int)config->rate_burst,
      .access_log = 1,
      .max_connections = (int)config->http_max_connections,
      /* 0 = no cap here; the server's 0 means its default */
      .max_connections_per_ip = config->http_max_per_ip ? (int)config->http_max_per_ip : -1,
      .header_timeout_s = config->http_header_timeout > 0 ? config->http_header_timeout : -1,
      .body_timeout_s = config->http_body_timeout > 0 ? config->http_body_timeout : -1};
}

const char *visor_cli_shown_host(const visor_config *config) {
  return strcmp(config->host, "0.0.0.0") == 0 ? "localhost" : config->host;
}

int visor_cmd_version(int argc, char **argv) {
  (void)argc, (void)argv;
  printf("visor %s\n", VISOR_VERSION);
  return 0;
}
