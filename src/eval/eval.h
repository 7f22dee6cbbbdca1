/* eval.h: `visor eval`: measures retrieval accuracy on a labelled dataset. For one
 * catalogue (the iconic image of each class, or iconic + train photos) it builds a fresh
 * Visor in a temporary data folder with embedded backends, indexes the catalogue through
 * the real indexing pipeline (product + image rows, queued index jobs, an in-process
 * worker pool), runs the test photos through the search pipeline's ranking, and reports
 * top-1 / top-k accuracy (fine and coarse class), mAP and throughput. */
#ifndef VISOR_EVAL_EVAL_H
#define VISOR_EVAL_EVAL_H

#include <stdio.h>

#include "core/config.h"
#include "eval/dataset.h"
#include "eval/metrics.h"

typedef enum visor_eval_catalogue {
  VISOR_EVAL_ICONIC,       /* one image per product: the class's iconic image */
  VISOR_EVAL_ICONIC_TRAIN, /* the iconic image and the class's train photos */
} visor_eval_catalogue;

const char *visor_eval_catalogue_name(visor_eval_catalogue catalogue);

typedef struct visor_eval_options {
  visor_eval_catalogue catalogue;
  size_t max_queries; /* 0 = every test photo; else that many, evenly spaced */
  int k;              /* top-k cut-off (default 5) */
  int threads;        /* query threads and index workers (0 = config workers, at least 1) */
  FILE *progress;     /* progress bars go here (NULL = none) */
} visor_eval_options;

typedef struct visor_eval_report {
  visor_eval_catalogue catalogue;
  size_t products, images, failed_images, vectors;
  double index_seconds;
  size_t queries;
  double search_seconds;
  visor_eval_metrics metrics;
} visor_eval_report;

/* Runs one catalogue. config gives the ML backend, models, threads and limits; its data
 * folder and backend URLs are replaced by a fresh temporary folder (removed afterwards;
 * under $TMPDIR, else /tmp). */
visor_code visor_eval_run(const visor_config *config, const visor_eval_dataset *dataset,
                          const visor_eval_options *options, visor_eval_report *report,
                          visor_error *err);

/* The results of the runs as a table (text) or as one JSON document. */
void visor_eval_print_table(FILE *out, const visor_eval_report *reports, size_t count, int k);
void visor_eval_print_json(FILE *out, const char *dataset_dir, const visor_eval_report *reports,
                           size_t count, int k);

#endif
