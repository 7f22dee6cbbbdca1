/* queue_tasks.c: the embedded queue's tables (see queue_tasks.h). */
#include "store/queue_tasks.h"

#include <stdio.h>
#include <string.h>

#define MAX_KINDS 8

visor_code visor_queue_task_add(visor_db_conn *conn, const char *id, const char *kind, int64_t now,
                                int64_t available_at, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(id), VISOR_DB_S(kind), VISOR_DB_I(available_at),
                             VISOR_DB_I(now)};
  return visor_db_exec(
      conn,
      "INSERT INTO queue_tasks(id, kind, state, attempts, available_at, created_at)"
      " VALUES (?, ?, 'ready', 0, ?, ?)"
      " ON CONFLICT(id) DO UPDATE SET state = 'ready', attempts = 0,"
      " available_at = excluded.available_at, lease_token = NULL,"
      " lease_until = NULL, last_error = NULL WHERE queue_tasks.state = 'dead'",
      params, 4, NULL, NULL, err);
}

visor_code visor_queue_task_pick(visor_db_conn *conn, const char *const *kinds, size_t kind_count,
                                 int64_t now, visor_queue_row *row, int *found, visor_error *err) {
  *found = 0;
  if (kind_count == 0 || kind_count > MAX_KINDS)
    return visor_error_set(err, VISOR_ERR_INVALID, "1 to %d kinds, got %zu", MAX_KINDS, kind_count);
  char sql[900];
  int used = snprintf(
      sql, sizeof sql,
      "SELECT id, kind, attempts FROM queue_tasks WHERE"
      " ((state = 'ready' AND available_at <= ?) OR (state = 'leased' AND lease_until <= ?))"
      " AND kind IN (");
  for (size_t i = 0; i < kind_count; i++)
    used += snprintf(sql + used, sizeof sql - (size_t)used, i ? ", ?" : "?");
  /* kinds in the caller's order (its priority), then the oldest */
  used += snprintf(sql + used, sizeof sql - (size_t)used, ") ORDER BY CASE kind");
  for (size_t i = 0; i < kind_count; i++)
    used += snprintf(sql + used, sizeof sql - (size_t)used, " WHEN ? THEN %zu", i);
  snprintf(sql + used, sizeof sql - (size_t)used, " END, available_at, id LIMIT 1%s",
           strcmp(conn->db->dialect, "postgres") == 0 ? " FOR UPDATE SKIP LOCKED" : "");
  visor_db_value params[2 + 2 * MAX_KINDS] = {VISOR_DB_I(now), VISOR_DB_I(now)};
  for (size_t i = 0; i < kind_count; i++)
    params[2 + i] = params[2 + kind_count + i] = VISOR_DB_S(kinds[i]);
  visor_db_rows rows;
  visor_code code = visor_db_exec(conn, sql, params, 2 + 2 * kind_count, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  if (rows.row_count == 1) {
    memset(row, 0, sizeof *row);
    snprintf(row->id, sizeof row->id, "%s", visor_db_text(&rows, 0, "id"));
    snprintf(row->kind, sizeof row->kind, "%s", visor_db_text(&rows, 0, "kind"));
    row->attempts = visor_db_int(&rows, 0, "attempts");
    *found = 1;
  }
  visor_db_rows_free(&rows);
  return VISOR_OK;
}

visor_code visor_queue_task_take(visor_db_conn *conn, const visor_queue_row *row, const char *token,
                                 int64_t now, int64_t lease_until, int64_t *changes,
                                 visor_error *err) {
  visor_db_value params[] = {VISOR_DB_I(row->attempts + 1),
                             VISOR_DB_S(token),
                             VISOR_DB_I(lease_until),
                             VISOR_DB_S(row->id),
                             VISOR_DB_I(row->attempts),
                             VISOR_DB_I(now),
                             VISOR_DB_I(now)};
  return visor_db_exec(
      conn,
      "UPDATE queue_tasks SET state = 'leased', attempts = ?, lease_token = ?, lease_until = ?"
      " WHERE id = ? AND attempts = ? AND ((state = 'ready' AND available_at <= ?)"
      " OR (state = 'leased' AND lease_until <= ?))",
      params, 7, NULL, changes, err);
}

visor_code visor_queue_task_extend(visor_db_conn *conn, const char *id, const char *token,
                                   int64_t lease_until, int64_t *changes, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_I(lease_until), VISOR_DB_S(id), VISOR_DB_S(token)};
  return visor_db_exec(conn,
                       "UPDATE queue_tasks SET lease_until = ? WHERE id = ? AND lease_token = ?"
                       " AND state = 'leased'",
                       params, 3, NULL, changes, err);
}

visor_code visor_queue_task_delete(visor_db_conn *conn, const char *id, const char *token,
                                   int64_t *changes, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(id), VISOR_DB_S(token)};
  return visor_db_exec(conn, "DELETE FROM queue_tasks WHERE id = ? AND lease_token = ?", params, 2,
                       NULL, changes, err);
}

visor_code visor_queue_task_release(visor_db_conn *conn, const char *id, const char *token,
                                    int64_t available_at, const char *error, int64_t *changes,
                                    visor_error *err) {
  visor_db_value params[] = {VISOR_DB_I(available_at), VISOR_DB_S(error), VISOR_DB_S(id),
                             VISOR_DB_S(token)};
  return visor_db_exec(conn,
                       "UPDATE queue_tasks SET state = 'ready', available_at = ?, last_error = ?,"
                       " lease_token = NULL, lease_until = NULL WHERE id = ? AND lease_token = ?",
                       params, 4, NULL, changes, err);
}

visor_code visor_queue_task_bury(visor_db_conn *conn, const char *id, const char *token,
                                 const char *error, int64_t *changes, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(error), VISOR_DB_S(id), VISOR_DB_S(token)};
  return visor_db_exec(conn,
                       "UPDATE queue_tasks SET state = 'dead', last_error = ?, lease_token = NULL,"
                       " lease_until = NULL WHERE id = ? AND lease_token = ?",
                       params, 3, NULL, changes, err);
}

visor_code visor_queue_task_cancel(visor_db_conn *conn, const char *id, int64_t now,
                                   int64_t *changes, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(id), VISOR_DB_I(now)};
  return visor_db_exec(conn,
                       "DELETE FROM queue_tasks WHERE id = ? AND (state <> 'leased'"
                       " OR lease_until <= ?)",
                       params, 2, NULL, changes, err);
}

visor_code visor_queue_totals_get(visor_db_conn *conn, int64_t now, visor_queue_totals *totals,
                                  visor_error *err) {
  memset(totals, 0, sizeof *totals);
  visor_db_value params[] = {VISOR_DB_I(now), VISOR_DB_I(now), VISOR_DB_I(now), VISOR_DB_I(now)};
  visor_db_rows rows;
  visor_code code = visor_db_exec(
      conn,
      "SELECT"
      " SUM(CASE WHEN (state = 'ready' AND available_at <= ?) OR (state = 'leased' AND lease_until "
      "<= ?) THEN 1 ELSE 0 END) AS ready,"
      " SUM(CASE WHEN state = 'ready' AND available_at > ? THEN 1 ELSE 0 END) AS delayed,"
      " SUM(CASE WHEN state = 'leased' AND lease_until > ? THEN 1 ELSE 0 END) AS leased,"
      " SUM(CASE WHEN state = 'dead' THEN 1 ELSE 0 END) AS dead FROM queue_tasks",
      params, 4, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  totals->ready = visor_db_int(&rows, 0, "ready");
  totals->delayed = visor_db_int(&rows, 0, "delayed");
  totals->leased = visor_db_int(&rows, 0, "leased");
  totals->dead = visor_db_int(&rows, 0, "dead");
  visor_db_rows_free(&rows);
  return VISOR_OK;
}

visor_code visor_queue_paused_get(visor_db_conn *conn, int *paused, visor_error *err) {
  visor_db_rows rows;
  *paused = 0;
  visor_code code = visor_db_exec(conn, "SELECT value FROM queue_settings WHERE name = 'paused'",
                                  NULL, 0, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  const char *value = visor_db_text(&rows, 0, "value");
  *paused = value && strcmp(value, "1") == 0;
  visor_db_rows_free(&rows);
  return VISOR_OK;
}

visor_code visor_queue_paused_set(visor_db_conn *conn, int paused, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(paused ? "1" : "0")};
  return visor_db_exec(conn,
                       "INSERT INTO queue_settings(name, value) VALUES ('paused', ?)"
                       " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                       params, 1, NULL, NULL, err);
}
