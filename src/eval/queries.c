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
#include "pipeline/tuned.h"

#define MAX_QUERY_BYTES (64u * 1024 * 1024)

typedef struct query_run {
  visor_app *app;
  const visor_eval_dataset *dataset;
  const visor_eval_product_id *product_ids;
  size_t *selected; /* indexes into dataset->test */
  size_t selected_count;
  int k;
  int compare_raw;      /* also rank by raw cosine into raw_metrics */
  pthread_mutex_t lock; /* next, done, metrics, raw_metrics, confusion, error */
  size_t next, done;
  visor_eval_metrics metrics, raw_metrics;
  size_t *confusion; /* class_count^2: [truth][first product's class] of top-1 misses */
  visor_error error;
  visor_progress progress;
} query_run;

static int class_of_product(const query_run *run, const char *product_id) {
  for (size_t i = 0; i < run->dataset->class_count; i++)
    if (strcmp(run->product_ids[i], product_id) == 0) return (int)i;
  return -1;
}

/* Ranks every product for an analyzed test photo (with version, NULL = raw cosine) and
 * adds it to metrics; *first is the class index of the first product (-1 = none). */
static visor_code score_query(query_run *run, const visor_tuned_version *version,
                              const visor_analysis *analysis, const visor_eval_sample *sample,
                              int *fine, int *coarse, visor_eval_metrics *metrics, int *first,
                              visor_error *err) {
  visor_app *app = run->app;
  visor_ranking ranking = {0};
  visor_vector_filter filter = {.model = app->embedder_model};
  visor_code code = visor_rank_products_with(app, version, analysis, &filter,
                                             (int)run->dataset->class_count, &ranking, err);
  *first = -1;
  if (code == VISOR_OK) {
    size_t count = 0;
    for (size_t i = 0; i < ranking.result_count; i++) {
      const visor_search_result_record *result = &ranking.results[i];
      int class_index =
          result->ordinal == VISOR_SEARCH_OVERALL ? class_of_product(run, result->product_id) : -1;
      if (class_index < 0) continue;
      if (count == 0) *first = class_index;
      fine[count] = run->dataset->classes[class_index].fine_id;
      coarse[count] = run->dataset->classes[class_index].coarse_id;
      count++;
    }
    visor_eval_metrics_add(metrics, fine, coarse, count, sample->fine_id, sample->coarse_id);
  }
  visor_ranking_free(&ranking);
  return code;
}

/* Analyzes one test photo once and scores its ranking (and the raw one when asked). */
static visor_code run_query(query_run *run, const visor_eval_sample *sample, int *fine, int *coarse,
                            visor_eval_metrics *metrics, visor_eval_metrics *raw_metrics,
                            int *first, visor_error *err) {
  visor_app *app = run->app;
  char *bytes = NULL;
  size_t len = 0;
  visor_analysis analysis = {0};
  visor_code code = visor_read_file(sample->path, MAX_QUERY_BYTES, &bytes, &len, err);
  if (code == VISOR_OK) code = visor_analyze_query(app, bytes, len, &analysis, err);
  visor_tuned_version *version = visor_tuned_acquire(app);
  if (code == VISOR_OK)
    code = score_query(run, version, &analysis, sample, fine, coarse, metrics, first, err);
  visor_tuned_release(app, version);
  int raw_first = -1;
  if (code == VISOR_OK && run->compare_raw)
    code = score_query(run, NULL, &analysis, sample, fine, coarse, raw_metrics, &raw_first, err);
  if (code != VISOR_OK) visor_error_wrap(err, "query %s", sample->path);
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
    visor_eval_metrics one, raw_one;
    visor_eval_metrics_init(&one, run->k);
    visor_eval_metrics_init(&raw_one, run->k);
    const visor_eval_sample *sample = &run->dataset->test[index];
    int first = -1, truth = visor_eval_class_index(run->dataset, sample->fine_id);
    code = run_query(run, sample, fine, coarse, &one, &raw_one, &first, &err);
    pthread_mutex_lock(&run->lock);
    if (code == VISOR_OK) {
      visor_eval_metrics_merge(&run->metrics, &one);
      visor_eval_metrics_merge(&run->raw_metrics, &raw_one);
      if (truth >= 0 && first >= 0 && first != truth)
        run->confusion[(size_t)truth * classes + (size_t)first]++;
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

/* The most frequent top-1 confusions into the report. */
static void top_confusions(const query_run *run, visor_eval_report *report) {
  size_t classes = run->dataset->class_count;
  report->confusion_count = 0;
  for (size_t t = 0; t < classes; t++)
    for (size_t p = 0; p < classes; p++) {
      size_t count = run->confusion[t * classes + p];
      if (!count) continue;
      size_t at = report->confusion_count;
      while (at > 0 && report->confusions[at - 1].count < count)
        at--;
      if (at >= VISOR_EVAL_CONFUSIONS) continue;
      size_t last = report->confusion_count < VISOR_EVAL_CONFUSIONS ? report->confusion_count
                                                                    : VISOR_EVAL_CONFUSIONS - 1;
      memmove(&report->confusions[at + 1], &report->confusions[at],
              (last - at) * sizeof report->confusions[0]);
      report->confusions[at] = (visor_eval_confusion){(int)t, (int)p, count};
      if (report->confusion_count < VISOR_EVAL_CONFUSIONS) report->confusion_count++;
    }
}

visor_code visor_eval_queries(visor_app *app, const visor_eval_dataset *dataset,
                              const visor_eval_product_id *product_ids,
                              const visor_eval_options *options, visor_eval_report *report,
                              visor_error *err) {
  query_run run = {.app = app,
                   .dataset = dataset,
                   .product_ids = product_ids,
                   .k = options->k,
                   .compare_raw = options->unseen};
  visor_eval_metrics_init(&run.metrics, options->k);
  visor_eval_metrics_init(&run.raw_metrics, options->k);
  /* The test photos of the queried classes; an evenly spaced subsample of them keeps every
   * class represented. */
  size_t total = 0;
  size_t *eligible = calloc(dataset->test_count + 1, sizeof *eligible);
  run.confusion = calloc(dataset->class_count * dataset->class_count + 1, sizeof *run.confusion);
  if (!eligible || !run.confusion) {
    free(eligible);
    free(run.confusion);
    return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < dataset->test_count; i++) {
    int c = visor_eval_class_index(dataset, dataset->test[i].fine_id);
    if (c >= 0 && visor_eval_queries_class(options, (size_t)c)) eligible[total++] = i;
  }
  run.selected_count =
      options->max_queries && options->max_queries < total ? options->max_queries : total;
  run.selected = calloc(run.selected_count + 1, sizeof *run.selected);
  if (!run.selected) {
    free(eligible);
    free(run.confusion);
    return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < run.selected_count; i++)
    run.selected[i] = eligible[i * total / run.selected_count];
  free(eligible);
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
  report->search_seconds = visor_monotonic_s() - started;
  visor_code code = VISOR_OK;
  if (run.error.code != VISOR_OK) {
    *err = run.error;
    code = run.error.code;
  } else if (started_threads == 0) {
    code = visor_error_set(err, VISOR_ERR_INTERNAL, "cannot start query threads");
  }
  report->metrics = run.metrics;
  report->raw_metrics = run.raw_metrics;
  top_confusions(&run, report);
  free(run.confusion);
  pthread_mutex_destroy(&run.lock);
  free(ids);
  free(run.selected);
  return code;
}
