/* job_state.h: the one module that writes job records (status, attempts, progress, error)
 * and their outbox entries. The API creates, cancels and re-queues jobs inside its own
 * metadata transactions; workers move them through running → done / queued again /
 * failed. The queue backend never sees the jobs table and this module never sees the
 * queue: the outbox relay (outbox.h) carries tasks across. */
#ifndef VISOR_JOBS_JOB_STATE_H
#define VISOR_JOBS_JOB_STATE_H

#include <stdint.h>

#include "store/db.h"

/* Inserts a queued job of kind for subject_id (payload may be NULL) and its outbox entry,
 * inside the caller's transaction on conn; job_id receives the new id (37 bytes). */
visor_code visor_jobs_create(visor_db_conn *conn, const char *kind, const char *subject_id,
                             const char *payload, int max_attempts, char job_id[40],
                             visor_error *err);
/* Cancels a queued or running job and drops its unsent outbox entry, on conn;
 * *applied says whether it was cancelled. */
visor_code visor_jobs_cancel(visor_db_conn *conn, const char *job_id, int *applied,
                             visor_error *err);
/* A failed or cancelled job of kind back to queued with attempts 0, with a new outbox
 * entry, on conn; *applied says whether it was. A retried index job's failed image goes
 * back to pending (no index_error) in the same transaction. */
visor_code visor_jobs_requeue(visor_db_conn *conn, const char *job_id, const char *kind,
                              int *applied, visor_error *err);

/* Tags a job made on conn with the client (IP address) that asked for it. */
visor_code visor_jobs_set_client(visor_db_conn *conn, const char *job_id, const char *client,
                                 visor_error *err);
/* How many index and search jobs of client are queued or running. */
visor_code visor_jobs_count_for_client(visor_db *db, const char *client, int64_t *count,
                                       visor_error *err);

/* What a worker learns when it starts a leased task. */
typedef struct visor_job_start {
  int runnable;     /* 0: cancelled, finished or gone: drop the task */
  int attempt;      /* this attempt, 1-based (a lease that ran out counted one too) */
  int max_attempts; /* the job's limit */
} visor_job_start;

visor_code visor_jobs_start(visor_db *db, const char *job_id, visor_job_start *start,
                            visor_error *err);
visor_code visor_jobs_done(visor_db *db, const char *job_id, visor_error *err);
/* A failed attempt that will be tried again (status queued, error kept). */
visor_code visor_jobs_will_retry(visor_db *db, const char *job_id, const char *error,
                                 visor_error *err);
/* Failed for good; an index job's image becomes failed with the error (one transaction). */
visor_code visor_jobs_failed(visor_db *db, const char *job_id, const char *error, visor_error *err);
/* A running job's result for whoever waits on it (JSON text), and reading it back with the
 * job's status and error (see visor_job_outcome in store/jobs.h). */
visor_code visor_jobs_set_result(visor_db *db, const char *job_id, const char *result,
                                 visor_error *err);
visor_code visor_jobs_outcome(visor_db *db, const char *job_id, char status[16], char **result,
                              char **error, visor_error *err);
visor_code visor_jobs_progress(visor_db *db, const char *job_id, double progress, visor_error *err);
/* 1 when the job was cancelled, 0 when not, -1 when the store cannot say. */
int visor_jobs_cancelled(visor_db *db, const char *job_id);
/* How many jobs of kind are finished (done or failed), and how many failed. */
visor_code visor_jobs_count_finished(visor_db *db, const char *kind, int64_t *finished,
                                     int64_t *failed, visor_error *err);

#endif
