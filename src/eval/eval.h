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
#include "tune/fusion.h"

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
  /* --tune: before indexing, fit a catalogue projection (src/tune) on the train photos
   * and the iconic images of the fitted products (never a test photo), fusion weights
   * chosen on a split inside them; searches then use the fused ranking. */
  int tune;
  /* The unseen-products report (with tune): fit on every second product only, query
   * the test photos of the others against the whole catalogue, raw cosine alongside. */
  int unseen;
  const char *embedding_cache; /* file of the fit photos' embeddings (NULL = none) */
  /* --feedback: the selected test photos split in two by a hash of their file name; one
   * half is confirmed by an "admin" as references of their true products (and their wrong
   * top-1 rejected) through the feedback service, the other half is measured before and
   * after (src/eval/feedback.c). */
  int feedback;
} visor_eval_options;

#define VISOR_EVAL_FEEDBACK_SWEEP 6

/* What --feedback measured: the held-out half's metrics before any feedback, with only
 * the rejects, with only the confirms, and with both. */
typedef struct visor_eval_feedback_report {
  size_t confirm_queries, held_out; /* the two halves */
  size_t confirmed, rejected;
  visor_eval_metrics before, after_reject, after_confirm, after_both;
  double analyze_seconds, confirm_seconds, reject_seconds;
  /* The same with other demotion thresholds (pipeline settings' negative_threshold). */
  size_t sweep_count;
  float sweep_thresholds[VISOR_EVAL_FEEDBACK_SWEEP];
  visor_eval_metrics sweep_reject[VISOR_EVAL_FEEDBACK_SWEEP], sweep_both[VISOR_EVAL_FEEDBACK_SWEEP];
} visor_eval_feedback_report;

#define VISOR_EVAL_CONFUSIONS 8

/* A most-confused pair: queries of class truth whose first product was class predicted. */
typedef struct visor_eval_confusion {
  int truth, predicted; /* indexes into dataset->classes */
  size_t count;
} visor_eval_confusion;

typedef struct visor_eval_report {
  visor_eval_catalogue catalogue;
  size_t products, images, failed_images, vectors;
  double index_seconds;
  size_t queries;
  double search_seconds;
  visor_eval_metrics metrics;
  int tuned, unseen;
  visor_eval_metrics raw_metrics; /* unseen report: the same queries by raw cosine */
  size_t fit_samples, fit_classes;
  double embed_seconds, fit_seconds;
  visor_fusion_choice fusion;
  visor_eval_confusion confusions[VISOR_EVAL_CONFUSIONS]; /* by count, then class */
  size_t confusion_count;
  const visor_eval_dataset *dataset; /* for the class names of the confusions */
  int feedback;
  visor_eval_feedback_report feedback_report;
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
