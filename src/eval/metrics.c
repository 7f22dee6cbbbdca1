/* metrics.c: top-k accuracy and mAP over ranked lists (see metrics.h). */
#include "eval/metrics.h"

#include <string.h>

void visor_eval_metrics_init(visor_eval_metrics *metrics, int k) {
  memset(metrics, 0, sizeof *metrics);
  metrics->k = k > 0 ? k : 1;
}

void visor_eval_metrics_add(visor_eval_metrics *metrics, const int *ranked_fine,
                            const int *ranked_coarse, size_t count, int fine, int coarse) {
  size_t k = (size_t)metrics->k;
  size_t fine_rank = 0, coarse_rank = 0; /* 1-based; 0 = not found */
  for (size_t i = 0; i < count && (!fine_rank || !coarse_rank); i++) {
    if (!fine_rank && ranked_fine[i] == fine) fine_rank = i + 1;
    if (!coarse_rank && ranked_coarse[i] == coarse) coarse_rank = i + 1;
  }
  metrics->queries++;
  metrics->fine_top1 += fine_rank == 1;
  metrics->fine_topk += fine_rank && fine_rank <= k;
  metrics->coarse_top1 += coarse_rank == 1;
  metrics->coarse_topk += coarse_rank && coarse_rank <= k;
  if (fine_rank) metrics->reciprocal_rank_sum += 1.0 / (double)fine_rank;
}

void visor_eval_metrics_merge(visor_eval_metrics *metrics, const visor_eval_metrics *other) {
  metrics->queries += other->queries;
  metrics->fine_top1 += other->fine_top1;
  metrics->fine_topk += other->fine_topk;
  metrics->coarse_top1 += other->coarse_top1;
  metrics->coarse_topk += other->coarse_topk;
  metrics->reciprocal_rank_sum += other->reciprocal_rank_sum;
}

visor_eval_scores visor_eval_metrics_scores(const visor_eval_metrics *metrics) {
  visor_eval_scores scores = {0};
  if (!metrics->queries) return scores;
  double n = (double)metrics->queries;
  scores.fine_top1 = (double)metrics->fine_top1 / n;
  scores.fine_topk = (double)metrics->fine_topk / n;
  scores.coarse_top1 = (double)metrics->coarse_top1 / n;
  scores.coarse_topk = (double)metrics->coarse_topk / n;
  scores.map = metrics->reciprocal_rank_sum / n;
  return scores;
}
