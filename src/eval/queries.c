/* queries.c: running the labelled test photos as queries through the search pipeline's
 * analysis and ranking (ml analyze with the pipeline's query settings, then
 * visor_rank_products over every product) on a few threads, and scoring the overall
 * product ranking of each against its class. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/fsutil.h"
#include "eval/eval_internal.h"
#include "eval/progress.h"
#include "pipeline/ranking.h"

#define MAX_QUERY_BYTES (64u * 1024 * 1024)

typedef struct query_run {
  visor_app *app;
  const visor_eval_dataset *dataset;
  const visor_eval_product_id *product_ids;
  size_t *selected; /* indexes into dataset->test */
  size_t selected_count;
  int k;
  pthread_mutex_t lock; /* next, done, metrics, error */
  size_t next, done;
  visor_eval_metrics metrics;
  visor_error error;
  visor_progress progress;
} query_run;

static int class_of_product(const query_run *run, const char *product_id) {
  for (size_t i = 0; i < run->dataset->class_count; i++)
    if (strcmp(run->product_ids[i], product_id) == 0) return (int)i;
  return -1;
}

/* Ranks every product for one test photo and adds it to metrics. */
static visor_code run_query(query_run *run, const visor_eval_sample *sample, int *fine, int *coarse,
                            visor_eval_metrics *metrics, visor_error *err) {
  visor_app *app = run->app;
  char *bytes = NULL;
  size_t len = 0;
  visor_analysis analysis = {0};
  visor_ranking ranking = {0};
  visor_code code = visor_read_file(sample->path, MAX_QUERY_BYTES, &bytes, &len, err);
  if (code == VISOR_OK) code = visor_analyze_query(app, bytes, len, &analysis, err);
  if (code == VISOR_OK) {
    visor_vector_filter filter = {.model = app->embedder_model};
    code =
        visor_rank_products(app, &analysis, &filter, (int)run->dataset->class_count, &ranking, err);
  }
  if (code == VISOR_OK) {
    size_t count = 0;
    for (size_t i = 0; i < ranking.result_count; i++) {
      const visor_search_result_record *result = &ranking.results[i];
      int class_index =
          result->ordinal == VISOR_SEARCH_OVERALL ? class_of_product(run, result->product_id) : -1;
      if (class_index < 0) continue;
      fine[count] = run->dataset->classes[class_index].fine_id;
      coarse[count] = run->dataset->classes[class_index].coarse_id;
      count++;
    }
    visor_eval_metrics_add(metrics, fine, coarse, count, sample->fine_id, sample->coarse_id);
  } else {
    visor_error_wrap(err, "query %s", sample->path);
  }
  visor_ranking_free(&ranking);
  visor_analysis_free(&analysis);
  free(bytes);
  return code;
}

static void *query_thread(void *arg) {
  query_run *run = arg;
  size_t classes = run->dataset->class_count;
  int *fine = calloc(classes + 1, sizeof *fine), *coarse = calloc(classes + 1, sizeof *coarse);
  visor_eval_metrics metrics;
  visor_eval_metrics_init(&metrics, run->k);
  visor_error err = {0};
  visor_code code =
      fine && coarse ? VISOR_OK : visor_error_set(&err, VISOR_ERR_NOMEM, "out of memory");
  for (;;) {
    pthread_mutex_lock(&run->lock);
    int stop = code != VISOR_OK || run->error.code != VISOR_OK || run->next >= run->selected_count;
    size_t index = stop ? 0 : run->selected[run->next++];
    pthread_mutex_unlock(&run->lock);
    if (stop) break;
    visor_eval_metrics one;
    visor_eval_metrics_init(&one, run->k);
    code = run_query(run, &run->dataset->test[index], fine, coarse, &one, &err);
    pthread_mutex_lock(&run->lock);
    if (code == VISOR_OK) {
      visor_eval_metrics_merge(&run->metrics, &one);
      visor_progress_update(&run->progress, ++run->done);
    }
    pthread_mutex_unlock(&run->lock);
  }
  pthread_mutex_lock(&run->lock);
  if (code != VISOR_OK && run->error.code == VISOR_OK) run->error = err;
  pthread_mutex_unlock(&run->lock);
  free(fine);
  free(coarse);
  return NULL;
}

visor_code visor_eval_queries(visor_app *app, const visor_eval_dataset *dataset,
                              const visor_eval_product_id *product_ids,
                              const visor_eval_options *options, visor_eval_metrics *metrics,
                              double *seconds, visor_error *err) {
  query_run run = {.app = app, .dataset = dataset, .product_ids = product_ids, .k = options->k};
  visor_eval_metrics_init(&run.metrics, options->k);
  /* An evenly spaced subsample keeps every class represented. */
  size_t total = dataset->test_count;
  run.selected_count =
      options->max_queries && options->max_queries < total ? options->max_queries : total;
  run.selected = calloc(run.selected_count, sizeof *run.selected);
  if (!run.selected) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < run.selected_count; i++)
    run.selected[i] = i * total / run.selected_count;
  pthread_mutex_init(&run.lock, NULL);
  int threads = options->threads > 0 ? options->threads : 1;
  pthread_t *ids = calloc((size_t)threads, sizeof *ids);
  int started_threads = 0;
  double started = visor_monotonic_s();
  visor_progress_start(&run.progress, options->progress, "searching", run.selected_count);
  for (int i = 0; ids && i < threads; i++)
    if (pthread_create(&ids[i], NULL, query_thread, &run) == 0) started_threads++;
  for (int i = 0; i < started_threads; i++)
    pthread_join(ids[i], NULL);
  visor_progress_finish(&run.progress, run.done);
  *seconds = visor_monotonic_s() - started;
  visor_code code = VISOR_OK;
  if (run.error.code != VISOR_OK) {
    *err = run.error;
    code = run.error.code;
  } else if (started_threads == 0) {
    code = visor_error_set(err, VISOR_ERR_INTERNAL, "cannot start query threads");
  }
  *metrics = run.metrics;
  pthread_mutex_destroy(&run.lock);
  free(ids);
  free(run.selected);
  return code;
}
