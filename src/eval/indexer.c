/* indexer.c: indexing the evaluation catalogue through the real indexing pipeline: an
 * in-process worker pool with the registered pipeline handlers works off the queued
 * index jobs while this thread watches the job records and draws a progress bar. */
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "eval/eval_internal.h"
#include "eval/progress.h"
#include "pipeline/pipeline.h"
#include "store/jobs.h"

#define POLL_MS 100

/* Counts index jobs that are finished (done or failed) and failed. */
static visor_code count_jobs(visor_app *app, size_t *finished, size_t *failed, visor_error *err) {
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return err->code;
  visor_db_rows rows;
  visor_code code = visor_db_exec(
      conn, "SELECT status, COUNT(*) AS n FROM jobs WHERE kind = 'index' GROUP BY status", NULL, 0,
      &rows, NULL, err);
  visor_db_release(conn);
  if (code != VISOR_OK) return code;
  *finished = *failed = 0;
  for (size_t i = 0; i < rows.row_count; i++) {
    const char *status = visor_db_text(&rows, i, "status");
    size_t n = (size_t)visor_db_int(&rows, i, "n");
    if (status && (strcmp(status, VISOR_JOB_DONE) == 0 || strcmp(status, VISOR_JOB_FAILED) == 0))
      *finished += n;
    if (status && strcmp(status, VISOR_JOB_FAILED) == 0) *failed += n;
  }
  visor_db_rows_free(&rows);
  return VISOR_OK;
}

visor_code visor_eval_index(visor_app *app, int threads, size_t jobs, FILE *progress_out,
                            size_t *failed, double *seconds, visor_error *err) {
  double started = visor_monotonic_s();
  visor_worker_config config = {
      .concurrency = threads, .backoff_base_ms = 100, .backoff_max_ms = 2000, .poll_ms = 50};
  app->workers = visor_worker_pool_new(app->db, app->queue, &config, err);
  if (!app->workers) return err->code;
  visor_code code = visor_pipeline_register(app, app->workers, err);
  if (code == VISOR_OK) code = visor_worker_pool_start(app->workers, err);
  visor_progress progress;
  visor_progress_start(&progress, progress_out, "indexing", jobs);
  size_t finished = 0;
  *failed = 0;
  while (code == VISOR_OK) {
    code = count_jobs(app, &finished, failed, err);
    if (code != VISOR_OK || finished >= jobs) break;
    visor_progress_update(&progress, finished);
    struct timespec pause = {0, POLL_MS * 1000000L};
    nanosleep(&pause, NULL);
  }
  visor_progress_finish(&progress, finished);
  visor_worker_pool_stop(app->workers);
  *seconds = visor_monotonic_s() - started;
  return code;
}
