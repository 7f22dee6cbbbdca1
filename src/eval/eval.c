/* eval.c: one evaluation run (see eval.h): a fresh Visor in a temporary data folder,
 * the catalogue added and indexed through the indexing pipeline, the test photos ranked,
 * and the folder removed. */
#define _GNU_SOURCE /* nftw's FTW_DEPTH / FTW_PHYS */
#include "eval/eval.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/eval_internal.h"
#include "pipeline/pipeline.h"
#include "pipeline/tuned.h"

const char *visor_eval_catalogue_name(visor_eval_catalogue catalogue) {
  return catalogue == VISOR_EVAL_ICONIC_TRAIN ? "iconic+train" : "iconic";
}

visor_code visor_eval_make_temp_dir(char **path, visor_error *err) {
  const char *base = getenv("TMPDIR");
  if (!base || !*base) base = "/tmp";
  size_t size = strlen(base) + 32;
  *path = malloc(size);
  if (!*path) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  snprintf(*path, size, "%s/visor-eval-XXXXXX", base);
  if (!mkdtemp(*path)) {
    visor_code code =
        visor_error_set(err, VISOR_ERR_IO, "cannot make a folder in %s: %s", base, strerror(errno));
    free(*path);
    *path = NULL;
    return code;
  }
  return VISOR_OK;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  remove(path);
  return 0;
}

void visor_eval_remove_tree(const char *path) {
  nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The caller's configuration with every embedded backend in data_dir. */
typedef struct eval_config {
  visor_config config;
  char *metadata, *objects, *vectors;
} eval_config;

static visor_code make_config(const visor_config *base, char *data_dir, eval_config *out,
                              visor_error *err) {
  memset(out, 0, sizeof *out);
  out->config = *base;
  size_t size = strlen(data_dir) + 32;
  out->metadata = malloc(size);
  out->objects = malloc(size);
  out->vectors = malloc(size);
  if (!out->metadata || !out->objects || !out->vectors)
    return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  snprintf(out->metadata, size, "sqlite://%s/visor.db", data_dir);
  snprintf(out->objects, size, "file://%s/blobs", data_dir);
  snprintf(out->vectors, size, "hnsw://%s/vectors", data_dir);
  out->config.data_dir = data_dir;
  out->config.metadata_url = out->metadata;
  out->config.blob_url = out->objects;
  out->config.vector_url = out->vectors;
  out->config.queue_url = "local";
  out->config.job_attempts = 2;
  return VISOR_OK;
}

static void free_config(eval_config *config) {
  free(config->metadata);
  free(config->objects);
  free(config->vectors);
}

visor_code visor_eval_run(const visor_config *config, const visor_eval_dataset *dataset,
                          const visor_eval_options *options, visor_eval_report *report,
                          visor_error *err) {
  memset(report, 0, sizeof *report);
  report->catalogue = options->catalogue;
  report->tuned = options->tune;
  report->unseen = options->tune && options->unseen;
  report->dataset = dataset;
  report->feedback = options->feedback;
  visor_eval_metrics_init(&report->metrics, options->k);
  visor_eval_options run_options = *options;
  if (run_options.threads <= 0)
    run_options.threads = config->workers > 0 ? (int)config->workers : 1;
  char *data_dir = NULL;
  eval_config eval = {0};
  visor_app app;
  int app_open = 0;
  visor_eval_product_id *product_ids = calloc(dataset->class_count, sizeof *product_ids);
  visor_code code = product_ids ? VISOR_OK : visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  if (code == VISOR_OK) code = visor_eval_make_temp_dir(&data_dir, err);
  if (code == VISOR_OK) code = make_config(config, data_dir, &eval, err);
  if (code == VISOR_OK && (code = visor_app_open(&app, &eval.config, VISOR_PIPELINE_APP_PARTS,
                                                 VISOR_APP_MIGRATE, err)) == VISOR_OK)
    app_open = 1;
  if (code == VISOR_OK)
    code = visor_eval_add_catalogue(&app, dataset, options->catalogue, product_ids, &report->images,
                                    err);
  if (code == VISOR_OK && options->tune)
    code = visor_eval_tune(&app, dataset, (const visor_eval_product_id *)product_ids, &run_options,
                           report, err);
  if (code == VISOR_OK)
    code = visor_eval_index(&app, run_options.threads, report->images, options->progress,
                            &report->failed_images, &report->index_seconds, err);
  if (code == VISOR_OK) {
    report->products = dataset->class_count;
    report->vectors = app.vectors->ops->count(app.vectors);
    code = options->feedback
               ? visor_eval_feedback(&app, dataset, (const visor_eval_product_id *)product_ids,
                                     &run_options, report, err)
               : visor_eval_queries(&app, dataset, (const visor_eval_product_id *)product_ids,
                                    &run_options, report, err);
    report->queries = report->metrics.queries;
  }
  if (code != VISOR_OK)
    visor_error_wrap(err, "catalogue %s", visor_eval_catalogue_name(options->catalogue));
  if (app_open) {
    visor_tuned_destroy(&app);
    visor_app_close(&app);
  }
  if (data_dir) visor_eval_remove_tree(data_dir);
  free_config(&eval);
  free(data_dir);
  free(product_ids);
  return code;
}
