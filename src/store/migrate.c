/* migrate.c: applies the migrations of migrations.c in order, recording each in
 * schema_migrations, one transaction per version. On PostgreSQL a session advisory lock is
 * held meanwhile, so two processes migrating at once take turns (SQLite's BEGIN IMMEDIATE
 * already serialises them). */
#include "store/migrate.h"

#include <string.h>

#include "core/clock.h"

#define MIGRATION_LOCK_KEY "7364912001" /* any constant; the same in every Visor process */

static int is_postgres(visor_db_conn *conn) {
  return strcmp(conn->db->dialect, "postgres") == 0;
}

static visor_code lock_migrations(visor_db_conn *conn, visor_error *err) {
  if (!is_postgres(conn)) return VISOR_OK;
  visor_code code = visor_db_exec(conn, "SELECT pg_advisory_lock(" MIGRATION_LOCK_KEY ")", NULL, 0,
                                  NULL, NULL, err);
  if (code != VISOR_OK) visor_error_wrap(err, "taking the migration lock");
  return code;
}

static void unlock_migrations(visor_db_conn *conn) {
  if (is_postgres(conn))
    visor_db_exec(conn, "SELECT pg_advisory_unlock(" MIGRATION_LOCK_KEY ")", NULL, 0, NULL, NULL,
                  NULL);
}

static visor_code ensure_table(visor_db_conn *conn, visor_error *err) {
  return conn->db->ops->exec_script(conn,
                                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                    " version BIGINT PRIMARY KEY, name TEXT NOT NULL,"
                                    " applied_at BIGINT NOT NULL)",
                                    err);
}

static visor_code read_version(visor_db_conn *conn, int64_t *version, visor_error *err) {
  visor_db_rows rows;
  visor_code code = visor_db_exec(conn, "SELECT MAX(version) AS v FROM schema_migrations", NULL, 0,
                                  &rows, NULL, err);
  if (code != VISOR_OK) return code;
  *version = visor_db_int(&rows, 0, "v");
  visor_db_rows_free(&rows);
  return VISOR_OK;
}

int64_t visor_latest_schema_version(void) {
  return visor_migrations[visor_migration_count - 1].version;
}

visor_code visor_schema_version(visor_db *db, int64_t *version, visor_error *err) {
  visor_db_conn *conn = visor_db_acquire(db, err);
  if (!conn) return visor_db_acquire_failed(err);
  visor_code code = lock_migrations(conn, err); /* CREATE TABLE IF NOT EXISTS races on PG */
  if (code == VISOR_OK) {
    code = ensure_table(conn, err);
    if (code == VISOR_OK) code = read_version(conn, version, err);
    unlock_migrations(conn);
  }
  visor_db_release(conn);
  return code;
}

visor_code visor_migrate(visor_db *db, int *applied, visor_error *err) {
  if (applied) *applied = 0;
  visor_db_conn *conn = visor_db_acquire(db, err);
  if (!conn) return visor_db_acquire_failed(err);
  visor_code code = lock_migrations(conn, err);
  if (code != VISOR_OK) {
    visor_db_release(conn);
    return code;
  }
  code = ensure_table(conn, err);
  for (size_t i = 0; code == VISOR_OK && i < visor_migration_count; i++) {
    const visor_migration *migration = &visor_migrations[i];
    code = visor_db_begin(conn, err);
    if (code != VISOR_OK) break;
    int64_t current = 0;
    code = read_version(conn, &current,
                        err); /* re-read inside the lock: another process may have migrated */
    if (code == VISOR_OK && migration->version > current) {
      code = conn->db->ops->exec_script(conn, migration->sql, err);
      visor_db_value params[] = {VISOR_DB_I(migration->version), VISOR_DB_S(migration->name),
                                 VISOR_DB_I(visor_now_ms())};
      if (code == VISOR_OK)
        code = visor_db_exec(
            conn, "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)",
            params, 3, NULL, NULL, err);
      if (code == VISOR_OK && applied) (*applied)++;
      if (code != VISOR_OK)
        visor_error_wrap(err, "migration %lld (%s)", (long long)migration->version,
                         migration->name);
    }
    if (code == VISOR_OK)
      code = visor_db_commit(conn, err);
    else
      visor_db_rollback(conn);
  }
  unlock_migrations(conn);
  visor_db_release(conn);
  return code;
}
