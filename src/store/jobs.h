/* jobs.h: job records: what a task is for (kind, subject), its status (queued, running,
 * done, failed, cancelled), attempts, progress and error. The API shows them; workers
 * keep them in step with the queue. */
#ifndef VISOR_STORE_JOBS_H
#define VISOR_STORE_JOBS_H

#include <jansson.h>
#include <stdint.h>

#include "store/db.h"

#define VISOR_JOB_QUEUED "queued"
#define VISOR_JOB_RUNNING "running"
#define VISOR_JOB_DONE "done"
#define VISOR_JOB_FAILED "failed"
#define VISOR_JOB_CANCELLED "cancelled"

/* Inserts a queued job; id is caller-made (visor_uuid_new). payload may be NULL. */
visor_code visor_job_insert(visor_db_conn *conn, const char *id, const char *kind,
                            const char *subject_id, const char *payload, int max_attempts,
                            visor_error *err);
/* The job as a JSON object (id, kind, status, subject_id, attempts, max_attempts, error,
 * progress, created_at, ...); VISOR_ERR_NOT_FOUND if there is none. Caller decrefs. */
visor_code visor_job_get(visor_db_conn *conn, const char *id, json_t **job, visor_error *err);
/* Lists jobs newest first, filtered by status and kind (NULL = any). */
visor_code visor_job_list(visor_db_conn *conn, const char *status, const char *kind,
                          const char *subject_id, int64_t limit, int64_t offset, json_t **jobs,
                          int64_t *total, visor_error *err);
/* Status changes made by workers (through jobs/job_state.h). Each only applies while the
 * job is not cancelled; *applied (may be NULL) says whether it did. mark_running counts
 * one more attempt and gives it (1-based) with max_attempts; it applies only to a queued
 * or running job (a running one was left by a worker that stopped). */
visor_code visor_job_mark_running(visor_db_conn *conn, const char *id, int *attempt,
                                  int *max_attempts, int *applied, visor_error *err);
/* How many jobs of kind are finished (done or failed), and how many of them failed. */
visor_code visor_job_count_finished(visor_db_conn *conn, const char *kind, int64_t *finished,
                                    int64_t *failed, visor_error *err);
/* Records which client (an IP address) asked for the job, for the per-client cap. */
visor_code visor_job_set_client(visor_db_conn *conn, const char *id, const char *client,
                                visor_error *err);
/* How many index and search jobs of client are queued or running. */
visor_code visor_job_count_active_for_client(visor_db_conn *conn, const char *client,
                                             int64_t *count, visor_error *err);
visor_code visor_job_mark_done(visor_db_conn *conn, const char *id, visor_error *err);
visor_code visor_job_mark_retrying(visor_db_conn *conn, const char *id, const char *error,
                                   visor_error *err);
visor_code visor_job_mark_failed(visor_db_conn *conn, const char *id, const char *error,
                                 visor_error *err);
visor_code visor_job_set_progress(visor_db_conn *conn, const char *id, double progress,
                                  visor_error *err);
/* Sets status cancelled unless done/failed/cancelled; *applied says whether it did. */
visor_code visor_job_cancel(visor_db_conn *conn, const char *id, int *applied, visor_error *err);
/* Back to queued with attempts 0 (API retry); only for failed or cancelled jobs. */
visor_code visor_job_requeue(visor_db_conn *conn, const char *id, int *applied, visor_error *err);
visor_code visor_job_status(visor_db_conn *conn, const char *id, char status[16], visor_error *err);
/* The result a running job leaves for whoever waits on it (JSON text, e.g. a similar-products
 * ranking), and reading it back with the status and error: *result and *error are NULL when
 * there is none, and the caller frees them. */
visor_code visor_job_set_result(visor_db_conn *conn, const char *id, const char *result,
                                visor_error *err);
visor_code visor_job_outcome(visor_db_conn *conn, const char *id, char status[16], char **result,
                             char **error, visor_error *err);

#endif
