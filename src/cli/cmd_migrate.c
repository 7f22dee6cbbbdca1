/* cmd_migrate.c: `visor migrate`: applies pending schema migrations to the metadata store. */
#include <stdio.h>

#include "cli/commands.h"
#include "store/migrate.h"

int visor_cmd_migrate(int argc, char **argv) {
  visor_config config;
  int done = visor_cli_load_config("migrate", argc, argv, &config);
  if (done >= 0) return done;
  visor_error err = {0};
  int applied = 0, status = 0;
  int64_t version = 0;
  visor_db *db = visor_db_open(config.metadata_url, &err);
  if (!db || visor_migrate(db, &applied, &err) != VISOR_OK ||
      visor_schema_version(db, &version, &err) != VISOR_OK) {
    fprintf(stderr, "visor migrate: %s\n", err.message);
    status = visor_cli_exit_code(&err);
  } else {
    printf("metadata store %s: applied %d migration(s), schema version %lld\n", config.metadata_url,
           applied, (long long)version);
  }
  visor_db_close(db);
  visor_config_free(&config);
  return status;
}
