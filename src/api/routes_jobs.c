/* routes_jobs.c: /api/v1/jobs: list with filters, get, retry (failed or cancelled jobs),
 * cancel (queued or running jobs). */
#include <string.h>

#include "api/routes.h"
#include "core/uuid.h"
#include "jobs/job_state.h"
#include "store/jobs.h"

static int valid_status(const char *status) {
  static const char *const statuses[] = {VISOR_JOB_QUEUED, VISOR_JOB_RUNNING, VISOR_JOB_DONE,
                                         VISOR_JOB_FAILED, VISOR_JOB_CANCELLED};
  for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
    if (strcmp(status, statuses[i]) == 0) return 1;
  return 0;
}

static void list_jobs(visor_http_request *req, visor_http_response *res, void *ctx) {
  int64_t limit, offset;
  if (!visor_route_paging(req, res, 50, 500, &limit, &offset)) return;
  const char *status = visor_http_query(req, "status");
  const char *kind = visor_http_query(req, "kind");
  const char *subject = visor_http_query(req, "subject_id");
  if (status && !valid_status(status)) {
    visor_http_respond_error(
        res, 400, "invalid_argument",
        "status '%.32s' is not one of queued, running, done, failed, cancelled", status);
    return;
  }
  if (kind && strcmp(kind, "index") != 0 && strcmp(kind, "search") != 0 &&
      strcmp(kind, "meta") != 0 && strcmp(kind, "sync") != 0 && strcmp(kind, "reindex") != 0 &&
      strcmp(kind, "tune") != 0) {
    visor_http_respond_error(res, 400, "invalid_argument",
                             "kind '%.32s' is not one of index, search, meta, sync, reindex, tune",
                             kind);
    return;
  }
  if (subject && !visor_uuid_valid(subject)) {
    visor_http_respond_error(res, 400, "invalid_argument", "subject_id '%.64s' is not a valid UUID",
                             subject);
    return;
  }
  char subject_lower[VISOR_UUID_LEN + 1];
  if (subject) {
    for (int i = 0; i <= VISOR_UUID_LEN; i++)
      subject_lower[i] =
          (char)(subject[i] >= 'A' && subject[i] <= 'F' ? subject[i] - 'A' + 'a' : subject[i]);
    subject = subject_lower;
  }
  visor_db_conn *conn = visor_route_conn(ctx, res);
  if (!conn) return;
  visor_error err = {0};
  json_t *jobs = NULL;
  int64_t total = 0;
  visor_code code = visor_job_list(conn, status, kind, subject, limit, offset, &jobs, &total, &err);
  visor_db_release(conn);
  if (code != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  visor_http_respond_json(res, 200, visor_route_page(jobs, total, limit, offset));
}

static void get_job(visor_http_request *req, visor_http_response *res, void *ctx) {
  const char *id = NULL;
  visor_db_conn *conn = visor_route_id_conn(ctx, req, res, &id);
  if (!conn) return;
  visor_error err = {0};
  json_t *job = NULL;
  visor_code code = visor_job_get(conn, id, &job, &err);
  visor_db_release(conn);
  if (code != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  visor_http_respond_json(res, 200, job);
}

/* Changes a job's state (retry or cancel) and its queue task together. */
static void change_job(visor_http_request *req, visor_http_response *res, visor_app *app,
                       int retry) {
  const char *id = NULL;
  visor_db_conn *conn = visor_route_id_conn(app, req, res, &id);
  if (!conn) return;
  visor_error err = {0};
  json_t *job = NULL;
  int applied = 0;
  visor_code code = visor_db_begin(conn, &err);
  if (code == VISOR_OK) code = visor_job_get(conn, id, &job, &err);
  if (code == VISOR_OK)
    code = retry ? visor_jobs_requeue(conn, id, json_string_value(json_object_get(job, "kind")),
                                      &applied, &err)
                 : visor_jobs_cancel(conn, id, &applied, &err);
  if (code == VISOR_OK)
    code = visor_db_commit(conn, &err);
  else
    visor_db_rollback(conn);
  if (code == VISOR_OK && applied && !retry) app->queue->ops->cancel(app->queue, id, NULL, NULL);
  if (code == VISOR_OK && !applied)
    code = visor_error_set(&err, VISOR_ERR_CONFLICT, "job %s is %s: only %s jobs can be %s", id,
                           json_string_value(json_object_get(job, "status")),
                           retry ? "failed or cancelled" : "queued or running",
                           retry ? "retried" : "cancelled");
  json_decref(job);
  job = NULL;
  if (code == VISOR_OK) code = visor_job_get(conn, id, &job, &err);
  visor_db_release(conn);
  if (code != VISOR_OK) {
    visor_route_fail(res, &err);
    return;
  }
  if (retry) visor_app_jobs_committed(app);
  visor_http_respond_json(res, 200, job);
}

static void retry_job(visor_http_request *req, visor_http_response *res, void *ctx) {
  change_job(req, res, ctx, 1);
}

static void cancel_job(visor_http_request *req, visor_http_response *res, void *ctx) {
  change_job(req, res, ctx, 0);
}

visor_code visor_api_register_jobs(visor_http_server *server, visor_app *app, visor_error *err) {
  visor_code code = visor_http_route(server, "GET", "/api/v1/jobs", list_jobs, app, NULL, err);
  if (code == VISOR_OK)
    code = visor_http_route(server, "GET", "/api/v1/jobs/{id}", get_job, app, NULL, err);
  if (code == VISOR_OK)
    code = visor_http_route(server, "POST", "/api/v1/jobs/{id}/retry", retry_job, app, NULL, err);
  if (code == VISOR_OK)
    code = visor_http_route(server, "POST", "/api/v1/jobs/{id}/cancel", cancel_job, app, NULL, err);
  return code;
}
