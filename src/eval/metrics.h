/* metrics.h: retrieval accuracy of ranked product lists against labelled queries: top-1
 * and top-k accuracy for the fine class and the coarse class, and mAP. Each query has
 * exactly one relevant product (its fine class), so its average precision is the
 * reciprocal rank of that product in the full ranking (0 when it is not ranked), and mAP
 * is the mean reciprocal rank. */
#ifndef VISOR_EVAL_METRICS_H
#define VISOR_EVAL_METRICS_H

#include <stddef.h>

typedef struct visor_eval_metrics {
  int k; /* the second cut-off (top-k), e.g. 5 */
  size_t queries;
  size_t fine_top1, fine_topk, coarse_top1, coarse_topk;
  double reciprocal_rank_sum;
} visor_eval_metrics;

typedef struct visor_eval_scores {
  double fine_top1, fine_topk, coarse_top1, coarse_topk, map;
} visor_eval_scores;

void visor_eval_metrics_init(visor_eval_metrics *metrics, int k);
/* Adds one query of class (fine, coarse) whose ranking lists the classes of the ranked
 * products, best first (count entries). */
void visor_eval_metrics_add(visor_eval_metrics *metrics, const int *ranked_fine,
                            const int *ranked_coarse, size_t count, int fine, int coarse);
/* Adds another accumulator's counts (same k) into metrics. */
void visor_eval_metrics_merge(visor_eval_metrics *metrics, const visor_eval_metrics *other);
/* The rates (0 for no queries). */
visor_eval_scores visor_eval_metrics_scores(const visor_eval_metrics *metrics);

#endif
