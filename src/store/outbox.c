/* outbox.c: the job outbox repository (see outbox.h). */
#include "store/outbox.h"

#include <stdio.h>

#include "core/clock.h"

visor_code visor_outbox_insert(visor_db_conn *conn, const char *job_id, const char *kind,
                               int64_t available_at, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(job_id), VISOR_DB_S(kind), VISOR_DB_I(available_at),
                             VISOR_DB_I(visor_now_ms())};
  return visor_db_exec(conn,
                       "INSERT INTO job_outbox(job_id, kind, available_at, created_at)"
                       " VALUES (?, ?, ?, ?) ON CONFLICT(job_id) DO UPDATE SET"
                       " available_at = excluded.available_at",
                       params, 4, NULL, NULL, err);
}

visor_code visor_outbox_pending(visor_db_conn *conn, visor_outbox_entry *entries, size_t max,
                                size_t *count, visor_error *err) {
  *count = 0;
  visor_db_value params[] = {VISOR_DB_I((int64_t)max)};
  visor_db_rows rows;
  visor_code code = visor_db_exec(conn,
                                  "SELECT job_id, kind, available_at FROM job_outbox"
                                  " ORDER BY created_at, job_id LIMIT ?",
                                  params, 1, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  for (size_t i = 0; i < rows.row_count && i < max; i++) {
    snprintf(entries[i].job_id, sizeof entries[i].job_id, "%s", visor_db_text(&rows, i, "job_id"));
    snprintf(entries[i].kind, sizeof entries[i].kind, "%s", visor_db_text(&rows, i, "kind"));
    entries[i].available_at = visor_db_int(&rows, i, "available_at");
    (*count)++;
  }
  visor_db_rows_free(&rows);
  return VISOR_OK;
}

visor_code visor_outbox_delete(visor_db_conn *conn, const char *job_id, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(job_id)};
  return visor_db_exec(conn, "DELETE FROM job_outbox WHERE job_id = ?", params, 1, NULL, NULL, err);
}
