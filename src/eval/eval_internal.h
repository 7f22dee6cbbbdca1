/* eval_internal.h: the steps of one evaluation run, shared by the files of src/eval. */
#ifndef VISOR_EVAL_EVAL_INTERNAL_H
#define VISOR_EVAL_EVAL_INTERNAL_H

#include "app/app.h"
#include "eval/eval.h"

typedef char visor_eval_product_id[40];

/* Inserts one product per class (product_ids[i] for dataset->classes[i]) and its images
 * (stored in the object store, one queued index job each); *images is their number. */
visor_code visor_eval_add_catalogue(visor_app *app, const visor_eval_dataset *dataset,
                                    visor_eval_catalogue catalogue,
                                    visor_eval_product_id *product_ids, size_t *images,
                                    visor_error *err);
/* Runs an in-process worker pool with the pipelines until no index job is queued or
 * running; *failed counts the failed ones. */
visor_code visor_eval_index(visor_app *app, int threads, size_t jobs, FILE *progress,
                            size_t *failed, double *seconds, visor_error *err);
/* Ranks the catalogue's products for the (subsampled) test photos and adds them to metrics. */
visor_code visor_eval_queries(visor_app *app, const visor_eval_dataset *dataset,
                              const visor_eval_product_id *product_ids,
                              const visor_eval_options *options, visor_eval_report *report,
                              visor_error *err);

/* --feedback: the measurement of confirm / reject feedback (eval.h) into
 * report->feedback_report; report->metrics is the held-out half before feedback. */
visor_code visor_eval_feedback(visor_app *app, const visor_eval_dataset *dataset,
                               const visor_eval_product_id *product_ids,
                               const visor_eval_options *options, visor_eval_report *report,
                               visor_error *err);
/* --tune: embeds the fit photos (whole image; through options->embedding_cache), chooses
 * the fusion weights, fits the projection (classes named by product id) and installs it
 * in app as the current version. Fills the report's fit fields. */
visor_code visor_eval_tune(visor_app *app, const visor_eval_dataset *dataset,
                           const visor_eval_product_id *product_ids,
                           const visor_eval_options *options, visor_eval_report *report,
                           visor_error *err);
/* Whether test photos of class index c are queries of this run. */
int visor_eval_queries_class(const visor_eval_options *options, size_t class_index);

/* A new empty folder under $TMPDIR (else /tmp); *path is malloc'd. */
visor_code visor_eval_make_temp_dir(char **path, visor_error *err);
/* Removes a folder and everything in it (best effort). */
void visor_eval_remove_tree(const char *path);

#endif
