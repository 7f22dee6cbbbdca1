/* migrate.h: versioned schema migrations of the metadata store (`visor migrate`). */
#ifndef VISOR_STORE_MIGRATE_H
#define VISOR_STORE_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

#include "store/db.h"

typedef struct visor_migration {
  int64_t version;
  const char *name;
  const char *sql; /* statements separated by ';' */
} visor_migration;

extern const visor_migration visor_migrations[];
extern const size_t visor_migration_count;

/* Applies every migration newer than the database's version, each in its own
 * transaction. *applied (may be NULL) receives how many ran. */
visor_code visor_migrate(visor_db *db, int *applied, visor_error *err);
/* The database's schema version (0 when empty); the latest one Visor knows. */
visor_code visor_schema_version(visor_db *db, int64_t *version, visor_error *err);
int64_t visor_latest_schema_version(void);

#endif
