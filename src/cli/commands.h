/* commands.h: the `visor` subcommands. Each takes the arguments after its name and
 * returns the process exit code: 0 success, 1 failure at run time, 2 bad usage or
 * configuration. */
#ifndef VISOR_CLI_COMMANDS_H
#define VISOR_CLI_COMMANDS_H

#include "core/config.h"
#include "http/http.h"

typedef struct visor_command {
  const char *name;
  const char *summary;
  const char *usage; /* printed by --help, before the options */
  int uses_config;   /* the options of visor_config apply */
  int (*run)(int argc, char **argv);
} visor_command;

int visor_cmd_serve(int argc, char **argv);
int visor_cmd_api(int argc, char **argv);
int visor_cmd_worker(int argc, char **argv);
int visor_cmd_check(int argc, char **argv);
int visor_cmd_sweep(int argc, char **argv);
int visor_cmd_migrate(int argc, char **argv);
int visor_cmd_version(int argc, char **argv);
int visor_cmd_search(int argc, char **argv);
int visor_cmd_ml(int argc, char **argv);
int visor_cmd_eval(int argc, char **argv);
int visor_cmd_import(int argc, char **argv);
int visor_cmd_reindex(int argc, char **argv);
int visor_cmd_tune(int argc, char **argv);

/* Loads the configuration for a subcommand; prints help or the error. Returns -1 to go
 * on, or the exit code to return. */
int visor_cli_load_config(const char *command, int argc, char **argv, visor_config *config);
/* Blocks SIGINT and SIGTERM in this thread and every thread it starts afterwards (and
 * ignores SIGPIPE); visor_cli_wait_for_stop then waits for one of them. */
void visor_cli_block_stop_signals(void);
/* Returns the name of the signal that asked to stop. */
const char *visor_cli_wait_for_stop(void);
/* The HTTP server settings of a server subcommand (serve, api, ml), from config. */
visor_http_config visor_cli_http_config(const visor_config *config);
/* The host to print in the server's URL ("localhost" for the any-address 0.0.0.0). */
const char *visor_cli_shown_host(const visor_config *config);
/* Exit code for a failure: 2 for bad input/config, 1 otherwise. */
int visor_cli_exit_code(const visor_error *err);

extern const visor_command visor_commands[];
extern const int visor_command_count;

#endif
