/* feedback.c: `visor eval --feedback`: what admin feedback does to accuracy. The selected
 * test photos are split in two halves by an FNV-1a hash of their file name (deterministic,
 * independent of the order and of --queries): the "confirmed" half plays shopper queries
 * an admin judged, the "held-out" half is measured. Every photo is analyzed once (the
 * search pipeline's visor_analyze_query); then the held-out half is ranked
 * (visor_rank_products over every product) four times:
 *   before     no feedback;
 *   reject     each confirmed-half photo whose top-1 was wrong has that product rejected
 *              (visor_feedback_reject with its whole-image query embedding);
 *   confirm    the rejects undone (visor_undo_correction), each confirmed-half photo
 *              confirmed as a reference of its true product (visor_feedback_confirm with
 *              its whole-image region: the same service, transaction, audit entry and
 *              vector write as the API's);
 *   both       the same rejects applied again on top of the confirms;
 * and "reject" and "both" again with other demotion thresholds (a sweep). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/fsutil.h"
#include "eval/eval_internal.h"
#include "eval/progress.h"
#include "pipeline/ranking.h"
#include "pipeline/settings.h"
#include "service/feedback.h"

#define MAX_QUERY_BYTES (64u * 1024 * 1024)

typedef struct feedback_query {
  const visor_eval_sample *sample;
  int truth;         /* class index */
  int held_out;      /* measured (1) or confirmed (0) */
  int first;         /* class of the first product before feedback (-1 = none) */
  int whole;         /* index of the whole-image region in analysis */
  char audit_id[40]; /* the reject of this photo's wrong top-1 (or "") */
  visor_analysis analysis;
} feedback_query;

typedef struct feedback_run {
  visor_app *app;
  const visor_eval_dataset *dataset;
  const visor_eval_product_id *product_ids;
  feedback_query *queries;
  size_t count;
  int k;
  int measure_only_held_out;
  visor_eval_metrics *metrics; /* of the pass being run */
  pthread_mutex_t lock;
  size_t next, done;
  visor_error error;
  visor_progress progress;
  visor_code (*step)(struct feedback_run *run, feedback_query *q, visor_eval_metrics *metrics,
                     visor_error *err);
} feedback_run;

static unsigned fnv1a(const char *text) {
  unsigned hash = 2166136261u;
  for (; *text; text++)
    hash = (hash ^ (unsigned char)*text) * 16777619u;
  return hash;
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

static int class_of_product(const feedback_run *run, const char *product_id) {
  for (size_t i = 0; i < run->dataset->class_count; i++)
    if (strcmp(run->product_ids[i], product_id) == 0) return (int)i;
  return -1;
}

static visor_code analyze_step(feedback_run *run, feedback_query *q, visor_eval_metrics *metrics,
                               visor_error *err) {
  (void)metrics;
  char *bytes = NULL;
  size_t len = 0;
  visor_code code = visor_read_file(q->sample->path, MAX_QUERY_BYTES, &bytes, &len, err);
  if (code == VISOR_OK) code = visor_analyze_query(run->app, bytes, len, &q->analysis, err);
  q->whole = 0;
  for (size_t r = 0; code == VISOR_OK && r < q->analysis.region_count; r++)
    if (q->analysis.regions[r].whole_image) {
      q->whole = (int)r;
      break;
    }
  free(bytes);
  return code;
}

/* Ranks every product for the query; adds held-out queries to metrics; sets q->first of
 * the others (the ranking before feedback). */
static visor_code rank_step(feedback_run *run, feedback_query *q, visor_eval_metrics *metrics,
                            visor_error *err) {
  if (run->measure_only_held_out && !q->held_out) return VISOR_OK;
  size_t classes = run->dataset->class_count;
  int *fine = calloc(classes + 1, sizeof *fine), *coarse = calloc(classes + 1, sizeof *coarse);
  visor_ranking ranking = {0};
  visor_vector_filter filter = {.model = run->app->embedder_model};
  visor_code code = fine && coarse ? visor_rank_products(run->app, &q->analysis, &filter,
                                                         (int)classes, &ranking, err)
                                   : visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  size_t count = 0;
  for (size_t i = 0; code == VISOR_OK && i < ranking.result_count; i++) {
    const visor_search_result_record *result = &ranking.results[i];
    int c =
        result->ordinal == VISOR_SEARCH_OVERALL ? class_of_product(run, result->product_id) : -1;
    if (c < 0) continue;
    fine[count] = run->dataset->classes[c].fine_id;
    coarse[count] = run->dataset->classes[c].coarse_id;
    if (count++ == 0 && !q->held_out) q->first = c;
  }
  if (code == VISOR_OK && q->held_out)
    visor_eval_metrics_add(metrics, fine, coarse, count, q->sample->fine_id, q->sample->coarse_id);
  visor_ranking_free(&ranking);
  free(fine);
  free(coarse);
  return code;
}

static void *pass_thread(void *arg) {
  feedback_run *run = arg;
  visor_eval_metrics metrics;
  visor_eval_metrics_init(&metrics, run->k);
  visor_error err = {0};
  for (;;) {
    pthread_mutex_lock(&run->lock);
    int stop = run->error.code != VISOR_OK || run->next >= run->count;
    size_t index = stop ? 0 : run->next++;
    pthread_mutex_unlock(&run->lock);
    if (stop) break;
    visor_code code = run->step(run, &run->queries[index], &metrics, &err);
    pthread_mutex_lock(&run->lock);
    if (code != VISOR_OK && run->error.code == VISOR_OK) {
      run->error = err;
      visor_error_wrap(&run->error, "query %s", run->queries[index].sample->path);
    }
    visor_progress_update(&run->progress, ++run->done);
    pthread_mutex_unlock(&run->lock);
  }
  pthread_mutex_lock(&run->lock);
  if (run->metrics) visor_eval_metrics_merge(run->metrics, &metrics);
  pthread_mutex_unlock(&run->lock);
  return NULL;
}

/* Runs step over every query on threads; measured held-out queries go to metrics. */
static visor_code run_pass(feedback_run *run, int threads, FILE *progress, const char *what,
                           visor_code (*step)(feedback_run *, feedback_query *,
                                              visor_eval_metrics *, visor_error *),
                           int only_held_out, visor_eval_metrics *metrics, visor_error *err) {
  run->step = step;
  run->metrics = metrics;
  run->measure_only_held_out = only_held_out;
  run->next = run->done = 0;
  if (metrics) visor_eval_metrics_init(metrics, run->k);
  size_t total = 0;
  for (size_t i = 0; i < run->count; i++)
    total += !only_held_out || run->queries[i].held_out;
  visor_progress_start(&run->progress, progress, what, run->count);
  pthread_t ids[16];
  int started = 0;
  if (threads > 16) threads = 16;
  for (int i = 0; i < (threads > 0 ? threads : 1); i++)
    if (pthread_create(&ids[i], NULL, pass_thread, run) == 0) started++;
  for (int i = 0; i < started; i++)
    pthread_join(ids[i], NULL);
  visor_progress_finish(&run->progress, run->done);
  (void)total;
  if (run->error.code != VISOR_OK) {
    *err = run->error;
    return err->code;
  }
  if (!started) return visor_error_set(err, VISOR_ERR_INTERNAL, "cannot start query threads");
  return VISOR_OK;
}

static const visor_correction_who eval_admin = {.actor = "eval", .request_id = NULL};

/* Rejects the wrong top-1 of every confirmed-half query (its whole-image embedding). */
static visor_code reject_wrong(feedback_run *run, size_t *rejected, visor_error *err) {
  *rejected = 0;
  for (size_t i = 0; i < run->count; i++) {
    feedback_query *q = &run->queries[i];
    q->audit_id[0] = '\0';
    if (q->held_out || q->first < 0 || q->first == q->truth) continue;
    visor_feedback_query query = {.ordinal = q->whole,
                                  .embedding = q->analysis.regions[q->whole].embedding};
    visor_correction_result result;
    visor_code code = visor_feedback_reject(run->app, &eval_admin, run->product_ids[q->first],
                                            &query, &result, err);
    if (code != VISOR_OK) return visor_error_wrap(err, "reject for %s", q->sample->path);
    snprintf(q->audit_id, sizeof q->audit_id, "%s",
             json_string_value(json_object_get(result.entry, "id")) ?: "");
    visor_correction_result_free(&result);
    (*rejected)++;
  }
  return VISOR_OK;
}

static visor_code undo_rejects(feedback_run *run, visor_error *err) {
  for (size_t i = 0; i < run->count; i++) {
    feedback_query *q = &run->queries[i];
    if (!q->audit_id[0]) continue;
    visor_correction_result result;
    visor_code code = visor_undo_correction(run->app, &eval_admin, q->audit_id, &result, err);
    if (code != VISOR_OK)
      return visor_error_wrap(err, "undo of the reject for %s", q->sample->path);
    visor_correction_result_free(&result);
    q->audit_id[0] = '\0';
  }
  return VISOR_OK;
}

/* Confirms every confirmed-half query as a reference of its true product. */
static visor_code confirm_all(feedback_run *run, FILE *progress, size_t *confirmed,
                              visor_error *err) {
  *confirmed = 0;
  size_t total = 0;
  for (size_t i = 0; i < run->count; i++)
    total += !run->queries[i].held_out;
  visor_progress_start(&run->progress, progress, "confirming", total);
  visor_code code = VISOR_OK;
  for (size_t i = 0; code == VISOR_OK && i < run->count; i++) {
    feedback_query *q = &run->queries[i];
    if (q->held_out) continue;
    char *bytes = NULL;
    size_t len = 0;
    code = visor_read_file(q->sample->path, MAX_QUERY_BYTES, &bytes, &len, err);
    const visor_region *region = &q->analysis.regions[q->whole];
    visor_feedback_query query = {.ordinal = q->whole,
                                  .image = bytes,
                                  .image_len = len,
                                  .box = region->box,
                                  .whole_image = region->whole_image,
                                  .label = region->label_count ? region->labels[0].name : NULL};
    visor_correction_result result;
    if (code == VISOR_OK)
      code = visor_feedback_confirm(run->app, &eval_admin, run->product_ids[q->truth], &query,
                                    &result, err);
    if (code == VISOR_OK) visor_correction_result_free(&result);
    if (code != VISOR_OK) visor_error_wrap(err, "confirm of %s", q->sample->path);
    free(bytes);
    visor_progress_update(&run->progress, ++*confirmed);
  }
  visor_progress_finish(&run->progress, *confirmed);
  return code;
}

/* The held-out half ranked again with each sweep threshold (the settings restored after). */
static visor_code sweep(feedback_run *run, int threads, FILE *progress,
                        visor_eval_feedback_report *fb, visor_eval_metrics *into,
                        visor_error *err) {
  static const float thresholds[VISOR_EVAL_FEEDBACK_SWEEP] = {0.70f, 0.80f, 0.85f,
                                                              0.90f, 0.95f, 0.98f};
  visor_pipeline_settings saved = *visor_pipeline_settings_get(), settings = saved;
  visor_code code = VISOR_OK;
  fb->sweep_count = VISOR_EVAL_FEEDBACK_SWEEP;
  for (size_t i = 0; code == VISOR_OK && i < VISOR_EVAL_FEEDBACK_SWEEP; i++) {
    fb->sweep_thresholds[i] = thresholds[i];
    settings.negative_threshold = thresholds[i];
    visor_pipeline_settings_set(&settings);
    code = run_pass(run, threads, progress, "threshold sweep", rank_step, 1, &into[i], err);
  }
  visor_pipeline_settings_set(&saved);
  return code;
}

visor_code visor_eval_feedback(visor_app *app, const visor_eval_dataset *dataset,
                               const visor_eval_product_id *product_ids,
                               const visor_eval_options *options, visor_eval_report *report,
                               visor_error *err) {
  visor_eval_feedback_report *fb = &report->feedback_report;
  memset(fb, 0, sizeof *fb);
  size_t total = 0;
  size_t *eligible = calloc(dataset->test_count + 1, sizeof *eligible);
  if (!eligible) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  for (size_t i = 0; i < dataset->test_count; i++)
    if (visor_eval_class_index(dataset, dataset->test[i].fine_id) >= 0) eligible[total++] = i;
  size_t count =
      options->max_queries && options->max_queries < total ? options->max_queries : total;
  feedback_run run = {.app = app,
                      .dataset = dataset,
                      .product_ids = product_ids,
                      .queries = calloc(count + 1, sizeof *run.queries),
                      .count = count,
                      .k = options->k};
  if (!run.queries) {
    free(eligible);
    return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  }
  for (size_t i = 0; i < count; i++) {
    feedback_query *q = &run.queries[i];
    q->sample = &dataset->test[eligible[i * total / count]];
    q->truth = visor_eval_class_index(dataset, q->sample->fine_id);
    q->held_out = (int)(fnv1a(base_name(q->sample->path)) & 1u);
    q->first = -1;
    if (q->held_out)
      fb->held_out++;
    else
      fb->confirm_queries++;
  }
  free(eligible);
  pthread_mutex_init(&run.lock, NULL);
  int threads = options->threads;
  FILE *progress = options->progress;
  double started = visor_monotonic_s();
  visor_code code = run_pass(&run, threads, progress, "analyzing", analyze_step, 0, NULL, err);
  fb->analyze_seconds = visor_monotonic_s() - started;
  started = visor_monotonic_s();
  if (code == VISOR_OK)
    code = run_pass(&run, threads, progress, "before", rank_step, 0, &fb->before, err);
  report->search_seconds = visor_monotonic_s() - started;
  started = visor_monotonic_s();
  if (code == VISOR_OK) code = reject_wrong(&run, &fb->rejected, err);
  fb->reject_seconds = visor_monotonic_s() - started;
  if (code == VISOR_OK)
    code = run_pass(&run, threads, progress, "after reject", rank_step, 1, &fb->after_reject, err);
  if (code == VISOR_OK) code = sweep(&run, threads, progress, fb, fb->sweep_reject, err);
  if (code == VISOR_OK) code = undo_rejects(&run, err);
  started = visor_monotonic_s();
  if (code == VISOR_OK) code = confirm_all(&run, progress, &fb->confirmed, err);
  fb->confirm_seconds = visor_monotonic_s() - started;
  if (code == VISOR_OK)
    code =
        run_pass(&run, threads, progress, "after confirm", rank_step, 1, &fb->after_confirm, err);
  size_t again = 0;
  if (code == VISOR_OK) code = reject_wrong(&run, &again, err);
  if (code == VISOR_OK)
    code = run_pass(&run, threads, progress, "after both", rank_step, 1, &fb->after_both, err);
  if (code == VISOR_OK) code = sweep(&run, threads, progress, fb, fb->sweep_both, err);
  report->metrics = fb->before;
  report->queries = fb->held_out;
  for (size_t i = 0; i < count; i++)
    visor_analysis_free(&run.queries[i].analysis);
  free(run.queries);
  pthread_mutex_destroy(&run.lock);
  return code;
}
