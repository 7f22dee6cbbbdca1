/* retune.h: fitting a new catalogue projection from the shop's own photos and
 * re-projecting the index without rerunning a model (`visor tune`, and the automatic
 * refit). Fits on the kept raw embeddings (tuned.h) of the live regions of every product
 * with at least 2 indexed images (each product's first image's whole-image region is its
 * catalogue reference for the split that chooses the fusion weights), stores the artefact
 * in the blob store and a "building" row, writes every live region's projected vector
 * into the new version's collection (index tasks meanwhile write into it too), then
 * makes it current in one transaction, and finally empties the previous version's
 * collection after every process has had time to switch (2 refresh intervals). Searches
 * serve the old version until the switch: no product is unsearchable at any time. */
#ifndef VISOR_PIPELINE_RETUNE_H
#define VISOR_PIPELINE_RETUNE_H

#include "app/app.h"
#include "tune/fusion.h"
#include "tune/projection.h"

typedef struct visor_retune_options {
  visor_projection_fit_options fit; /* out_dim is capped at classes - 1 */
  int keep_previous;                /* 1: leave the previous version's vectors in place */
  long follower_wait_ms; /* after the building row, before reading the regions to project:
                          * how long other processes take to write into it too (default 2
                          * refresh intervals; 0 for a single process) */
} visor_retune_options;

typedef struct visor_retune_report {
  int64_t version, previous_version;
  size_t products, fit_images, fit_samples, projected_vectors;
  visor_fusion_choice fusion;
  double fit_seconds, project_seconds;
} visor_retune_report;

void visor_retune_options_default(visor_retune_options *options);

/* Needs app opened with ML info and vectors and app->tuned (visor_tuned_create with
 * follow_db). VISOR_ERR_INVALID when fewer than 2 products have 2 images,
 * VISOR_ERR_CONFLICT when another version is being built (never two at once). The
 * projections row records how many labelled images (store/projections.h) there were when
 * it read them, which the automatic refit (refit.h) counts from. */
visor_code visor_retune(visor_app *app, const visor_retune_options *options,
                        visor_retune_report *report, visor_error *err);

#endif
