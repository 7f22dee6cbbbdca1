/* refit.c: the automatic refit: the check after an index task and the "tune" task (see
 * refit.h). */
#include "pipeline/refit.h"

#include <stdio.h>

#include "core/log.h"
#include "jobs/job_state.h"
#include "pipeline/pipeline.h"
#include "pipeline/pipeline_util.h"
#include "pipeline/retune.h"
#include "pipeline/tuned.h"
#include "store/projections.h"

visor_code visor_refit_check(visor_app *app, int *queued, visor_error *err) {
  visor_error ignored = {0};
  if (!err) err = &ignored; /* the index task checks without an error to fill */
  if (queued) *queued = 0;
  if (app->config->refit_after <= 0) return VISOR_OK;
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  int64_t version = 0, fitted = 0, labelled = 0;
  visor_code code = visor_projection_current_fit(conn, app->embedder_model, &version, &fitted, err);
  if (code == VISOR_OK) code = visor_projection_labelled_images(conn, &labelled, err);
  int due = code == VISOR_OK && labelled - fitted >= app->config->refit_after;
  char payload[96], job_id[40] = "";
  snprintf(payload, sizeof payload, "{\"after_version\":%lld}", (long long)version);
  if (due && (code = visor_db_begin(conn, err)) == VISOR_OK) {
    code = visor_jobs_create(conn, "tune", NULL, payload, app->job_attempts, job_id, err);
    if (code == VISOR_OK) code = visor_db_commit(conn, err);
    if (code != VISOR_OK) visor_db_rollback(conn);
  }
  visor_db_release(conn);
  if (code == VISOR_ERR_NOT_FOUND || code == VISOR_ERR_CONFLICT) /* none, or queued already */
    return VISOR_OK;
  if (code == VISOR_OK && job_id[0]) {
    visor_log_info("projection v%lld: %lld labelled images since its fit (refit after %ld):"
                   " refit queued as job %s",
                   (long long)version, (long long)(labelled - fitted), app->config->refit_after,
                   job_id);
    if (queued) *queued = 1;
    visor_app_jobs_committed(app);
  }
  return code;
}

/* The "tune" task: refits unless the version it replaces is no longer current (a refit or
 * `visor tune` ran meanwhile: done). Keeps the current version's dimension. */
static visor_code run_tune(void *ctx, visor_job_run *run, visor_error *err) {
  visor_app *app = ctx;
  json_t *payload = NULL;
  visor_code code = visor_pipeline_payload(app, run, &payload, err);
  json_int_t after = json_integer_value(json_object_get(payload, "after_version"));
  json_decref(payload);
  if (code != VISOR_OK) return code;
  if (after <= 0)
    return visor_error_set(err, VISOR_ERR_INVALID, "tune task: payload has no after_version");
  if (!app->tuned) return visor_error_set(err, VISOR_ERR_INTERNAL, "no projection state");
  code = visor_tuned_refresh(app, err);
  visor_tuned_version *current = code == VISOR_OK ? visor_tuned_acquire(app) : NULL;
  if (code != VISOR_OK) return code;
  if (!current || current->projection.version != after) {
    visor_tuned_release(app, current);
    return VISOR_OK;
  }
  visor_retune_options options;
  visor_retune_options_default(&options);
  options.fit.out_dim = current->projection.out_dim;
  visor_tuned_release(app, current);
  visor_retune_report report;
  visor_job_run_progress(run, 0.1);
  code = visor_retune(app, &options, &report, err);
  /* Another build runs (`visor tune`, or a retry of a refit whose process died): later. */
  if (code == VISOR_ERR_CONFLICT) code = VISOR_ERR_UNAVAILABLE;
  if (code == VISOR_OK)
    visor_log_info("projection v%lld replaced v%lld: fitted on %zu products (%zu images) in"
                   " %.1f s, %zu vectors re-projected in %.1f s",
                   (long long)report.version, (long long)report.previous_version, report.products,
                   report.fit_images, report.fit_seconds, report.projected_vectors,
                   report.project_seconds);
  return code;
}

visor_code visor_pipeline_register_tune(visor_app *app, visor_worker_pool *pool, visor_error *err) {
  return visor_worker_pool_register(pool, "tune", run_tune, app, err);
}
