/* indexer.c: indexing the evaluation catalogue through the real indexing pipeline: an
 * in-process worker pool with the registered pipeline handlers works off the queued
 * index jobs while this thread watches the job records and draws a progress bar. */
#include <time.h>

#include "core/clock.h"
#include "eval/eval_internal.h"
#include "eval/progress.h"
#include "pipeline/pipeline.h"
#include "jobs/job_state.h"

#define POLL_MS 100

visor_code visor_eval_index(visor_app *app, int threads, size_t jobs, FILE *progress_out,
                            size_t *failed, double *seconds, visor_error *err) {
  double started = visor_monotonic_s();
  visor_worker_config config = {
      .concurrency = threads, .backoff_base_ms = 100, .backoff_max_ms = 2000, .poll_ms = 50};
  visor_code code = visor_app_create_workers(app, &config, err);
  if (code == VISOR_OK) code = visor_pipeline_register(app, app->workers, err);
  if (code == VISOR_OK) code = visor_worker_pool_start(app->workers, err);
  visor_progress progress;
  visor_progress_start(&progress, progress_out, "indexing", jobs);
  size_t finished = 0;
  *failed = 0;
  while (code == VISOR_OK) {
    int64_t done = 0, bad = 0;
    code = visor_jobs_count_finished(app->db, "index", &done, &bad, err);
    finished = (size_t)done;
    *failed = (size_t)bad;
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
