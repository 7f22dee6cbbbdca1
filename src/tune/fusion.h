/* fusion.h: the fused ranking of a projected catalogue. A candidate (a catalogue vector)
 * has a raw-cosine similarity to the query and a similarity in the projected space; each
 * list of similarities is calibrated (z-scored over the query's candidates) and the two
 * are mixed with the projection's weight for products the fit saw (seen_weight) or did
 * not see (unseen_weight), so a product added after the fit competes on raw similarity
 * instead of being out-scored by fitted products' tighter clusters. The weights are
 * chosen by visor_fusion_choose on a split inside the fit data. */
#ifndef VISOR_TUNE_FUSION_H
#define VISOR_TUNE_FUSION_H

#include <stddef.h>

#include "tune/projection.h"

typedef struct visor_fusion_candidate {
  float raw;       /* raw cosine similarity; NAN when the raw search did not return it */
  float projected; /* projected similarity; NAN when the projected search did not */
  int seen;        /* the candidate's product was in the fit */
} visor_fusion_candidate;

/* scores[i] = the fused score of candidate i, on the scale of the raw similarities (mean
 * + std * mix of z-scores, plus unseen_offset for an unseen candidate). A missing
 * similarity counts as the lowest of its list. */
void visor_fusion_scores(float seen_weight, float unseen_weight, float unseen_offset,
                         const visor_fusion_candidate *candidates, size_t count, float *scores);

/* What the split inside the fit data measured for the chosen weights. */
typedef struct visor_fusion_choice {
  float seen_weight, unseen_weight, unseen_offset;
  size_t seen_queries, unseen_queries;
  double seen_top1, unseen_top1, unseen_top5;             /* with the chosen weights */
  double raw_seen_top1, raw_unseen_top1, raw_unseen_top5; /* raw cosine */
  double projected_seen_top1, projected_unseen_top1;      /* projection only (weights 1, 1) */
} visor_fusion_choice;

/* Chooses the fusion weights on a split inside the samples (n rows of dim, labels as for
 * visor_projection_fit; reference[i] marks a class's catalogue sample, e.g. its iconic
 * image, at least one per class). Classes alternate into a fitted half and an unseen half;
 * a projection is fitted on the fitted half's references and every second of its other
 * samples; the remaining non-reference samples of both halves are queries against a
 * catalogue of every class's references. Of the weights and offsets (a grid) whose unseen
 * top-1 and top-5 beat raw cosine's by at least one standard error of the split (so the
 * gain is not noise of the split), the best seen + unseen top-1 wins; when none does, the
 * best of those at least level with raw cosine (raw cosine itself is one). */
visor_code visor_fusion_choose(const float *samples, const int *labels, const int *reference,
                               size_t n, size_t dim, size_t class_count,
                               const visor_projection_fit_options *options,
                               visor_fusion_choice *choice, visor_error *err);

#endif
