/* jobs.c: the job records repository (see jobs.h). */
#include "store/jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "store/row_json.h"

static const char *const job_json_columns[] = {"payload", NULL};

#define JOB_COLUMNS                                                                                \
  "id, kind, status, subject_id, payload, attempts, max_attempts, error, progress,"                \
  " created_at, updated_at, started_at, finished_at"

visor_code visor_job_insert(visor_db_conn *conn, const char *id, const char *kind,
                            const char *subject_id, const char *payload, int max_attempts,
                            visor_error *err) {
  int64_t now = visor_now_ms();
  visor_db_value params[] = {VISOR_DB_S(id),           VISOR_DB_S(kind),
                             VISOR_DB_S(subject_id),   VISOR_DB_S(payload ? payload : "{}"),
                             VISOR_DB_I(max_attempts), VISOR_DB_I(now),
                             VISOR_DB_I(now)};
  return visor_db_exec(conn,
                       "INSERT INTO jobs(id, kind, status, subject_id, payload, max_attempts,"
                       " created_at, updated_at) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)",
                       params, 7, NULL, NULL, err);
}

visor_code visor_job_get(visor_db_conn *conn, const char *id, json_t **job, visor_error *err) {
  return visor_select_by_id(conn, "SELECT " JOB_COLUMNS " FROM jobs WHERE id = ?", id, "job",
                            job_json_columns, job, err);
}

visor_code visor_job_list(visor_db_conn *conn, const char *status, const char *kind,
                          const char *subject_id, int64_t limit, int64_t offset, json_t **jobs,
                          int64_t *total, visor_error *err) {
  const char *where = " WHERE (? IS NULL OR status = ?) AND (? IS NULL OR kind = ?)"
                      " AND (? IS NULL OR subject_id = ?)";
  visor_db_value params[] = {VISOR_DB_S(status), VISOR_DB_S(status),     VISOR_DB_S(kind),
                             VISOR_DB_S(kind),   VISOR_DB_S(subject_id), VISOR_DB_S(subject_id),
                             VISOR_DB_I(limit),  VISOR_DB_I(offset)};
  char sql[512];
  snprintf(sql, sizeof sql, "SELECT COUNT(*) AS n FROM jobs%s", where);
  visor_db_rows rows;
  visor_code code = visor_db_exec(conn, sql, params, 6, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  *total = visor_db_int(&rows, 0, "n");
  visor_db_rows_free(&rows);
  snprintf(sql, sizeof sql,
           "SELECT " JOB_COLUMNS " FROM jobs%s ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
           where);
  code = visor_db_exec(conn, sql, params, 8, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  *jobs = visor_rows_to_json(&rows, job_json_columns);
  visor_db_rows_free(&rows);
  return VISOR_OK;
}

/* Runs an UPDATE of one job; *applied says whether a row changed. */
static visor_code update_job(visor_db_conn *conn, const char *sql, visor_db_value *params,
                             size_t count, int *applied, visor_error *err) {
  int64_t changes = 0;
  visor_code code = visor_db_exec(conn, sql, params, count, NULL, &changes, err);
  if (applied) *applied = changes > 0;
  return code;
}

visor_code visor_job_mark_running(visor_db_conn *conn, const char *id, int *attempt,
                                  int *max_attempts, int *applied, visor_error *err) {
  int64_t now = visor_now_ms();
  visor_db_value params[] = {VISOR_DB_I(now), VISOR_DB_I(now), VISOR_DB_S(id)};
  visor_db_rows rows;
  visor_code code = visor_db_exec(conn,
                                  "UPDATE jobs SET status = 'running', attempts = attempts + 1,"
                                  " updated_at = ?, started_at = COALESCE(started_at, ?),"
                                  " progress = 0 WHERE id = ? AND status IN ('queued', 'running')"
                                  " RETURNING attempts, max_attempts",
                                  params, 3, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  *applied = rows.row_count == 1;
  if (*applied) {
    *attempt = (int)visor_db_int(&rows, 0, "attempts");
    *max_attempts = (int)visor_db_int(&rows, 0, "max_attempts");
  }
  visor_db_rows_free(&rows);
  return VISOR_OK;
}

visor_code visor_job_count_finished(visor_db_conn *conn, const char *kind, int64_t *finished,
                                    int64_t *failed, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(kind)};
  visor_db_rows rows;
  visor_code code = visor_db_exec(
      conn,
      "SELECT SUM(CASE WHEN status IN ('done', 'failed') THEN 1 ELSE 0 END) AS finished,"
      " SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed FROM jobs WHERE kind = ?",
      params, 1, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  *finished = visor_db_int(&rows, 0, "finished");
  *failed = visor_db_int(&rows, 0, "failed");
  visor_db_rows_free(&rows);
  return VISOR_OK;
}

visor_code visor_job_set_client(visor_db_conn *conn, const char *id, const char *client,
                                visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(client), VISOR_DB_S(id)};
  return visor_db_exec(conn, "UPDATE jobs SET client = ? WHERE id = ?", params, 2, NULL, NULL, err);
}

visor_code visor_job_count_active_for_client(visor_db_conn *conn, const char *client,
                                             int64_t *count, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(client)};
  visor_db_rows rows;
  visor_code code =
      visor_db_exec(conn,
                    "SELECT COUNT(*) AS active FROM jobs WHERE client = ?"
                    " AND status IN ('queued', 'running') AND kind IN ('index', 'search')",
                    params, 1, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  *count = visor_db_int(&rows, 0, "active");
  visor_db_rows_free(&rows);
  return VISOR_OK;
}

visor_code visor_job_mark_done(visor_db_conn *conn, const char *id, visor_error *err) {
  int64_t now = visor_now_ms();
  visor_db_value params[] = {VISOR_DB_I(now), VISOR_DB_I(now), VISOR_DB_S(id)};
  return update_job(conn,
                    "UPDATE jobs SET status = 'done', progress = 1, error = NULL, updated_at = ?,"
                    " finished_at = ? WHERE id = ? AND status <> 'cancelled'",
                    params, 3, NULL, err);
}

visor_code visor_job_mark_retrying(visor_db_conn *conn, const char *id, const char *error,
                                   visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(error), VISOR_DB_I(visor_now_ms()), VISOR_DB_S(id)};
  return update_job(conn,
                    "UPDATE jobs SET status = 'queued', error = ?, updated_at = ?"
                    " WHERE id = ? AND status <> 'cancelled'",
                    params, 3, NULL, err);
}

visor_code visor_job_mark_failed(visor_db_conn *conn, const char *id, const char *error,
                                 visor_error *err) {
  int64_t now = visor_now_ms();
  visor_db_value params[] = {VISOR_DB_S(error), VISOR_DB_I(now), VISOR_DB_I(now), VISOR_DB_S(id)};
  return update_job(conn,
                    "UPDATE jobs SET status = 'failed', error = ?, updated_at = ?, finished_at = ?"
                    " WHERE id = ? AND status <> 'cancelled'",
                    params, 4, NULL, err);
}

visor_code visor_job_set_progress(visor_db_conn *conn, const char *id, double progress,
                                  visor_error *err) {
  visor_db_value params[] = {VISOR_DB_D(progress), VISOR_DB_I(visor_now_ms()), VISOR_DB_S(id)};
  return update_job(
      conn, "UPDATE jobs SET progress = ?, updated_at = ? WHERE id = ? AND status = 'running'",
      params, 3, NULL, err);
}

visor_code visor_job_cancel(visor_db_conn *conn, const char *id, int *applied, visor_error *err) {
  int64_t now = visor_now_ms();
  visor_db_value params[] = {VISOR_DB_I(now), VISOR_DB_I(now), VISOR_DB_S(id)};
  return update_job(conn,
                    "UPDATE jobs SET status = 'cancelled', updated_at = ?, finished_at = ?"
                    " WHERE id = ? AND status IN ('queued', 'running')",
                    params, 3, applied, err);
}

visor_code visor_job_requeue(visor_db_conn *conn, const char *id, int *applied, visor_error *err) {
  visor_db_value params[] = {VISOR_DB_I(visor_now_ms()), VISOR_DB_S(id)};
  return update_job(conn,
                    "UPDATE jobs SET status = 'queued', attempts = 0, error = NULL, progress = 0,"
                    " updated_at = ?, started_at = NULL, finished_at = NULL"
                    " WHERE id = ? AND status IN ('failed', 'cancelled')",
                    params, 2, applied, err);
}

visor_code visor_job_status(visor_db_conn *conn, const char *id, char status[16],
                            visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(id)};
  visor_db_rows rows;
  visor_code code =
      visor_db_exec(conn, "SELECT status FROM jobs WHERE id = ?", params, 1, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  const char *value = visor_db_text(&rows, 0, "status");
  if (!value)
    code = visor_error_set(err, VISOR_ERR_NOT_FOUND, "job %s not found", id);
  else
    snprintf(status, 16, "%s", value);
  visor_db_rows_free(&rows);
  return code;
}

visor_code visor_job_set_result(visor_db_conn *conn, const char *id, const char *result,
                                visor_error *err) {
  visor_db_value params[] = {VISOR_DB_S(result), VISOR_DB_I(visor_now_ms()), VISOR_DB_S(id)};
  return update_job(
      conn, "UPDATE jobs SET result = ?, updated_at = ? WHERE id = ? AND status = 'running'",
      params, 3, NULL, err);
}

visor_code visor_job_outcome(visor_db_conn *conn, const char *id, char status[16], char **result,
                             char **error, visor_error *err) {
  *result = *error = NULL;
  visor_db_value params[] = {VISOR_DB_S(id)};
  visor_db_rows rows;
  visor_code code = visor_db_exec(conn, "SELECT status, result, error FROM jobs WHERE id = ?",
                                  params, 1, &rows, NULL, err);
  if (code != VISOR_OK) return code;
  const char *value = visor_db_text(&rows, 0, "status");
  const char *result_text = visor_db_text(&rows, 0, "result");
  const char *error_text = visor_db_text(&rows, 0, "error");
  if (!value) {
    code = visor_error_set(err, VISOR_ERR_NOT_FOUND, "job %s not found", id);
  } else {
    snprintf(status, 16, "%s", value);
    if ((result_text && !(*result = strdup(result_text))) ||
        (error_text && !(*error = strdup(error_text)))) {
      free(*result);
      *result = NULL;
      code = visor_error_set(err, VISOR_ERR_NOMEM, "job %s: no memory for its outcome", id);
    }
  }
  visor_db_rows_free(&rows);
  return code;
}
