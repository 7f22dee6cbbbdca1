/* fusion.c: calibrated mixing of raw and projected similarities, and the choice of its
 * weights on a split inside the fit data (see fusion.h). */
#include "tune/fusion.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRID_STEPS 10       /* seen weight 0, 0.1, ... 1 */
#define UNSEEN_GRID_STEPS 5 /* unseen weight 0, 0.1, ... 0.5 */
#define OFFSET_STEPS 8      /* unseen offset 0, 0.25, ... 2 (standard deviations) */

typedef struct list_stats {
  double mean, std, low;
} list_stats;

static list_stats stats_of(const visor_fusion_candidate *candidates, size_t count, int projected) {
  double sum = 0, squares = 0, low = INFINITY;
  size_t present = 0;
  for (size_t i = 0; i < count; i++) {
    float value = projected ? candidates[i].projected : candidates[i].raw;
    if (isnan(value)) continue;
    sum += value;
    squares += (double)value * value;
    if (value < low) low = value;
    present++;
  }
  list_stats stats = {0, 1, 0};
  if (present == 0) return stats;
  stats.mean = sum / (double)present;
  double variance = squares / (double)present - stats.mean * stats.mean;
  stats.std = variance > 1e-12 ? sqrt(variance) : 1e-6;
  stats.low = low;
  return stats;
}

void visor_fusion_scores(float seen_weight, float unseen_weight, float unseen_offset,
                         const visor_fusion_candidate *candidates, size_t count, float *scores) {
  list_stats raw = stats_of(candidates, count, 0), projected = stats_of(candidates, count, 1);
  for (size_t i = 0; i < count; i++) {
    double r = isnan(candidates[i].raw) ? raw.low : candidates[i].raw;
    double p = isnan(candidates[i].projected) ? projected.low : candidates[i].projected;
    double w = candidates[i].seen ? seen_weight : unseen_weight;
    double z = (1 - w) * (r - raw.mean) / raw.std + w * (p - projected.mean) / projected.std;
    if (!candidates[i].seen) z += unseen_offset;
    scores[i] = (float)(raw.mean + raw.std * z);
  }
}

/* The split's similarities: for each query, to every reference, in both spaces. */
typedef struct split {
  size_t queries, refs;
  int *query_class, *ref_class, *class_seen;
  float *raw, *projected; /* queries x refs */
} split;

static void split_free(split *s) {
  free(s->query_class);
  free(s->ref_class);
  free(s->class_seen);
  free(s->raw);
  free(s->projected);
}

static double dot(const float *a, const float *b, size_t dim) {
  double sum = 0;
  for (size_t j = 0; j < dim; j++)
    sum += (double)a[j] * b[j];
  return sum;
}

/* Rank (0-based) of the query's class among classes by their best reference's score. */
static size_t rank_of_class(const split *s, size_t q, const float *scores, size_t class_count,
                            float *best) {
  for (size_t c = 0; c < class_count; c++)
    best[c] = -INFINITY;
  for (size_t r = 0; r < s->refs; r++)
    if (scores[r] > best[s->ref_class[r]]) best[s->ref_class[r]] = scores[r];
  float target = best[s->query_class[q]];
  size_t rank = 0;
  for (size_t c = 0; c < class_count; c++)
    if (best[c] > target || (best[c] == target && (int)c < s->query_class[q])) rank++;
  return rank;
}

typedef struct grid_point {
  double seen_top1, unseen_top1, unseen_top5;
} grid_point;

static grid_point evaluate(const split *s, size_t class_count, float seen_weight,
                           float unseen_weight, float unseen_offset,
                           visor_fusion_candidate *candidates, float *scores, float *best,
                           size_t *seen_queries, size_t *unseen_queries) {
  size_t seen_hits = 0, unseen_hits = 0, unseen_hits5 = 0, seen_count = 0, unseen_count = 0;
  for (size_t q = 0; q < s->queries; q++) {
    for (size_t r = 0; r < s->refs; r++)
      candidates[r] = (visor_fusion_candidate){.raw = s->raw[q * s->refs + r],
                                               .projected = s->projected[q * s->refs + r],
                                               .seen = s->class_seen[s->ref_class[r]]};
    visor_fusion_scores(seen_weight, unseen_weight, unseen_offset, candidates, s->refs, scores);
    size_t rank = rank_of_class(s, q, scores, class_count, best);
    if (s->class_seen[s->query_class[q]]) {
      seen_count++;
      seen_hits += rank == 0;
    } else {
      unseen_count++;
      unseen_hits += rank == 0;
      unseen_hits5 += rank < 5;
    }
  }
  *seen_queries = seen_count;
  *unseen_queries = unseen_count;
  return (grid_point){seen_count ? (double)seen_hits / seen_count : 0,
                      unseen_count ? (double)unseen_hits / unseen_count : 0,
                      unseen_count ? (double)unseen_hits5 / unseen_count : 0};
}

/* Splits the classes into a fitted and an unseen half, the hard way a shop meets: a new
 * product is most often a variant of one it has (another flavour, another apple). Each
 * class is paired with its most similar unpaired class (raw cosine of their first
 * references), one of each pair on each side, so every unseen class has a look-alike the
 * projection was fitted on. Large catalogues (the pairing is quadratic) alternate. */
#define MAX_PAIRED_CLASSES 4000
static void assign_halves(const float *samples, const int *labels, const int *reference, size_t n,
                          size_t dim, size_t class_count, int *seen) {
  const float **first = calloc(class_count, sizeof *first);
  int *paired = calloc(class_count, sizeof *paired);
  for (size_t c = 0; c < class_count; c++)
    seen[c] = c % 2 == 0;
  if (!first || !paired || class_count > MAX_PAIRED_CLASSES) {
    free(first);
    free(paired);
    return;
  }
  for (size_t i = 0; i < n; i++)
    if (reference[i] && !first[labels[i]]) first[labels[i]] = samples + i * dim;
  for (size_t c = 0; c < class_count; c++) {
    if (paired[c] || !first[c]) continue;
    size_t mate = class_count;
    double best = -2;
    for (size_t o = c + 1; o < class_count; o++) {
      if (paired[o] || !first[o]) continue;
      double sim = dot(first[c], first[o], dim);
      if (sim > best) best = sim, mate = o;
    }
    paired[c] = 1;
    seen[c] = 1;
    if (mate < class_count) {
      paired[mate] = 1;
      seen[mate] = 0;
    }
  }
  free(first);
  free(paired);
}

/* Fits on the seen half and fills s's similarities. */
static visor_code build_split(const float *samples, const int *labels, const int *reference,
                              size_t n, size_t dim, size_t class_count,
                              const visor_projection_fit_options *options, split *s,
                              visor_error *err) {
  memset(s, 0, sizeof *s);
  float *fit = malloc(n * dim * sizeof *fit);
  int *fit_labels = malloc(n * sizeof *fit_labels), *ordinal = calloc(class_count, sizeof *ordinal);
  int *fit_index = malloc(class_count * sizeof *fit_index);
  char(*names)[24] = calloc(class_count, sizeof *names);
  const char **name_ptrs = calloc(class_count, sizeof *name_ptrs);
  s->query_class = malloc(n * sizeof *s->query_class);
  s->ref_class = malloc(n * sizeof *s->ref_class);
  s->class_seen = calloc(class_count, sizeof *s->class_seen);
  float *projected = malloc(n * dim * sizeof *projected);
  size_t *query_rows = malloc(n * sizeof *query_rows), *ref_rows = malloc(n * sizeof *ref_rows);
  visor_projection projection = {0};
  visor_code code = VISOR_OK;
  if (!fit || !fit_labels || !ordinal || !fit_index || !names || !name_ptrs || !s->query_class ||
      !s->ref_class || !s->class_seen || !projected || !query_rows || !ref_rows)
    code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory choosing fusion weights");
  size_t fit_n = 0, fit_classes = 0;
  if (code == VISOR_OK)
    assign_halves(samples, labels, reference, n, dim, class_count, s->class_seen);
  for (size_t c = 0; code == VISOR_OK && c < class_count; c++) {
    fit_index[c] = s->class_seen[c] ? (int)fit_classes : -1;
    if (s->class_seen[c]) {
      snprintf(names[fit_classes], sizeof names[fit_classes], "c%zu", c);
      name_ptrs[fit_classes] = names[fit_classes];
      fit_classes++;
    }
  }
  for (size_t i = 0; code == VISOR_OK && i < n; i++) {
    int c = labels[i];
    int is_query = !reference[i] && ordinal[c]++ % 2 == 1;
    if (reference[i]) {
      s->ref_class[s->refs] = c;
      ref_rows[s->refs++] = i;
    }
    if (is_query) {
      s->query_class[s->queries] = c;
      query_rows[s->queries++] = i;
    }
    if (s->class_seen[c] && !is_query) {
      memcpy(fit + fit_n * dim, samples + i * dim, dim * sizeof *fit);
      fit_labels[fit_n++] = fit_index[c];
    }
  }
  if (code == VISOR_OK && (s->refs == 0 || s->queries == 0))
    code = visor_error_set(err, VISOR_ERR_INVALID,
                           "choosing fusion weights needs references and other samples "
                           "(%zu references, %zu queries)",
                           s->refs, s->queries);
  if (code == VISOR_OK)
    code = visor_projection_fit(fit, fit_labels, fit_n, dim, name_ptrs, fit_classes, options,
                                &projection, err);
  size_t out_dim = projection.out_dim;
  for (size_t i = 0; code == VISOR_OK && i < n; i++)
    code = visor_projection_apply(&projection, samples + i * dim, projected + i * out_dim, err);
  if (code == VISOR_OK) {
    s->raw = malloc(s->queries * s->refs * sizeof *s->raw);
    s->projected = malloc(s->queries * s->refs * sizeof *s->projected);
    if (!s->raw || !s->projected) code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  }
  for (size_t q = 0; code == VISOR_OK && q < s->queries; q++)
    for (size_t r = 0; r < s->refs; r++) {
      size_t qi = query_rows[q], ri = ref_rows[r];
      s->raw[q * s->refs + r] = (float)dot(samples + qi * dim, samples + ri * dim, dim);
      s->projected[q * s->refs + r] =
          (float)dot(projected + qi * out_dim, projected + ri * out_dim, out_dim);
    }
  visor_projection_free(&projection);
  free(fit);
  free(fit_labels);
  free(ordinal);
  free(fit_index);
  free(names);
  free(name_ptrs);
  free(projected);
  free(query_rows);
  free(ref_rows);
  if (code != VISOR_OK) split_free(s);
  return code;
}

visor_code visor_fusion_choose(const float *samples, const int *labels, const int *reference,
                               size_t n, size_t dim, size_t class_count,
                               const visor_projection_fit_options *options,
                               visor_fusion_choice *choice, visor_error *err) {
  memset(choice, 0, sizeof *choice);
  split s;
  visor_code code = build_split(samples, labels, reference, n, dim, class_count, options, &s, err);
  if (code != VISOR_OK) return visor_error_wrap(err, "choosing fusion weights");
  visor_fusion_candidate *candidates = malloc(s.refs * sizeof *candidates);
  float *scores = malloc(s.refs * sizeof *scores), *best = malloc(class_count * sizeof *best);
  if (!candidates || !scores || !best) {
    code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  } else {
    grid_point raw = evaluate(&s, class_count, 0, 0, 0, candidates, scores, best,
                              &choice->seen_queries, &choice->unseen_queries);
    grid_point projected_only = evaluate(&s, class_count, 1, 1, 0, candidates, scores, best,
                                         &choice->seen_queries, &choice->unseen_queries);
    /* A setting should beat raw cosine on the unseen queries by one standard error. */
    size_t m = choice->unseen_queries ? choice->unseen_queries : 1;
    double margin1 = sqrt(raw.unseen_top1 * (1 - raw.unseen_top1) / (double)m);
    double margin5 = sqrt(raw.unseen_top5 * (1 - raw.unseen_top5) / (double)m);
    /* First with the margin; if no setting clears it, without (raw cosine, weights 0,
     * always qualifies then). */
    double best_total = -1;
    for (int tier = 0; tier < 2 && best_total < 0; tier++) {
      double need1 = raw.unseen_top1 + (tier == 0 ? margin1 : 0);
      double need5 = raw.unseen_top5 + (tier == 0 ? margin5 : 0);
      for (int i = 0; i <= GRID_STEPS; i++)
        for (int j = 0; j <= UNSEEN_GRID_STEPS; j++)
          for (int o = 0; o <= OFFSET_STEPS; o++) {
            float seen_weight = (float)i / GRID_STEPS, unseen_weight = (float)j / GRID_STEPS;
            float offset = 0.25f * (float)o;
            grid_point point =
                evaluate(&s, class_count, seen_weight, unseen_weight, offset, candidates, scores,
                         best, &choice->seen_queries, &choice->unseen_queries);
            if (point.unseen_top1 < need1 - 1e-9 || point.unseen_top5 < need5 - 1e-9) continue;
            double total = point.seen_top1 + point.unseen_top1;
            if (total > best_total + 1e-9) {
              best_total = total;
              choice->seen_weight = seen_weight;
              choice->unseen_weight = unseen_weight;
              choice->unseen_offset = offset;
              choice->seen_top1 = point.seen_top1;
              choice->unseen_top1 = point.unseen_top1;
              choice->unseen_top5 = point.unseen_top5;
            }
          }
    }
    choice->raw_seen_top1 = raw.seen_top1;
    choice->raw_unseen_top1 = raw.unseen_top1;
    choice->raw_unseen_top5 = raw.unseen_top5;
    choice->projected_seen_top1 = projected_only.seen_top1;
    choice->projected_unseen_top1 = projected_only.unseen_top1;
  }
  free(candidates);
  free(scores);
  free(best);
  split_free(&s);
  return code;
}
