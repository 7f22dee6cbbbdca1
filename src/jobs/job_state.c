/* job_state.c: job records and their outbox entries (see job_state.h), over the jobs and
 * outbox repositories of store/. */
#include "jobs/job_state.h"

#include <string.h>

#include "core/clock.h"
#include "core/uuid.h"
#include "store/catalog.h"
#include "store/jobs.h"
#include "store/outbox.h"

visor_code visor_jobs_create(visor_db_conn *conn, const char *kind, const char *subject_id,
                             const char *payload, int max_attempts, char job_id[40],
                             visor_error *err) {
  visor_uuid_new(job_id);
  visor_code code = visor_job_insert(conn, job_id, kind, subject_id, payload, max_attempts, err);
  if (code == VISOR_OK) code = visor_outbox_insert(conn, job_id, kind, visor_now_ms(), err);
  return code;
}

visor_code visor_jobs_cancel(visor_db_conn *conn, const char *job_id, int *applied,
                             visor_error *err) {
  visor_code code = visor_job_cancel(conn, job_id, applied, err);
  if (code == VISOR_OK && *applied) code = visor_outbox_delete(conn, job_id, err);
  return code;
}

visor_code visor_jobs_requeue(visor_db_conn *conn, const char *job_id, const char *kind,
                              int *applied, visor_error *err) {
  visor_code code = visor_job_requeue(conn, job_id, applied, err);
  if (code == VISOR_OK && *applied)
    code = visor_outbox_insert(conn, job_id, kind, visor_now_ms(), err);
  if (code == VISOR_OK && *applied && strcmp(kind, "index") == 0)
    code = visor_image_index_retried(conn, job_id, err);
  return code;
}

/* Runs fn on a connection of db. */
#define WITH_CONN(db, err, call)                                                                   \
  do {                                                                                             \
    visor_db_conn *conn = visor_db_acquire(db, err);                                               \
    if (!conn) return (err) ? (err)->code : VISOR_ERR_UNAVAILABLE;                                 \
    visor_code code_ = (call);                                                                     \
    visor_db_release(conn);                                                                        \
    return code_;                                                                                  \
  } while (0)

visor_code visor_jobs_start(visor_db *db, const char *job_id, visor_job_start *start,
                            visor_error *err) {
  memset(start, 0, sizeof *start);
  WITH_CONN(db, err,
            visor_job_mark_running(conn, job_id, &start->attempt, &start->max_attempts,
                                   &start->runnable, err));
}

visor_code visor_jobs_done(visor_db *db, const char *job_id, visor_error *err) {
  WITH_CONN(db, err, visor_job_mark_done(conn, job_id, err));
}

visor_code visor_jobs_set_result(visor_db *db, const char *job_id, const char *result,
                                 visor_error *err) {
  WITH_CONN(db, err, visor_job_set_result(conn, job_id, result, err));
}

visor_code visor_jobs_outcome(visor_db *db, const char *job_id, char status[16], char **result,
                              char **error, visor_error *err) {
  WITH_CONN(db, err, visor_job_outcome(conn, job_id, status, result, error, err));
}

visor_code visor_jobs_will_retry(visor_db *db, const char *job_id, const char *error,
                                 visor_error *err) {
  WITH_CONN(db, err, visor_job_mark_retrying(conn, job_id, error, err));
}

/* The job failed and, for an index job, its image with it: one transaction. */
static visor_code mark_failed(visor_db_conn *conn, const char *job_id, const char *error,
                              visor_error *err) {
  visor_code code = visor_db_begin(conn, err);
  if (code != VISOR_OK) return code;
  code = visor_job_mark_failed(conn, job_id, error, err);
  if (code == VISOR_OK) code = visor_image_index_failed(conn, job_id, error, err);
  if (code == VISOR_OK) return visor_db_commit(conn, err);
  visor_db_rollback(conn);
  return code;
}

visor_code visor_jobs_failed(visor_db *db, const char *job_id, const char *error,
                             visor_error *err) {
  WITH_CONN(db, err, mark_failed(conn, job_id, error, err));
}

visor_code visor_jobs_progress(visor_db *db, const char *job_id, double progress,
                               visor_error *err) {
  WITH_CONN(db, err, visor_job_set_progress(conn, job_id, progress, err));
}

visor_code visor_jobs_count_finished(visor_db *db, const char *kind, int64_t *finished,
                                     int64_t *failed, visor_error *err) {
  WITH_CONN(db, err, visor_job_count_finished(conn, kind, finished, failed, err));
}

int visor_jobs_cancelled(visor_db *db, const char *job_id) {
  visor_db_conn *conn = visor_db_acquire(db, NULL);
  if (!conn) return -1;
  char status[16] = "";
  int cancelled = -1;
  if (visor_job_status(conn, job_id, status, NULL) == VISOR_OK)
    cancelled = strcmp(status, VISOR_JOB_CANCELLED) == 0;
  visor_db_release(conn);
  return cancelled;
}

visor_code visor_jobs_set_client(visor_db_conn *conn, const char *job_id, const char *client,
                                 visor_error *err) {
  return visor_job_set_client(conn, job_id, client, err);
}

visor_code visor_jobs_count_for_client(visor_db *db, const char *client, int64_t *count,
                                       visor_error *err) {
  WITH_CONN(db, err, visor_job_count_active_for_client(conn, client, count, err));
}
