/* cmd_migrate.c: `visor migrate`: applies pending schema migrations to the metadata store. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "store/migrate.h"

/* url without the password of its user part ("postgres://u:secret@h/db" → "postgres://u@h/db"). */
static void without_password(const char *url, char *out, size_t size) {
  const char *scheme = strstr(url, "://");
  const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
  const char *colon = scheme ? strchr(scheme + 3, ':') : NULL;
  if (!at || !colon || colon > at) {
    snprintf(out, size, "%s", url);
    return;
  }
  snprintf(out, size, "%.*s%s", (int)(colon - url), url, at);
}

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
    char shown[1024];
    without_password(config.metadata_url, shown, sizeof shown);
    printf("metadata store %s: applied %d migration(s), schema version %lld\n", shown, applied,
           (long long)version);
  }
  visor_db_close(db);
  visor_config_free(&config);
  return status;
}
