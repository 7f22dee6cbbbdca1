/* ranking.c: per-region k-NN, best crop per product, top k per region and overall (see
 * ranking.h). The overall ranking scores a product by its best crop's similarity to the
 * whole query image: the detector's crops of a query are often parts of the product or
 * other things in the shot, and letting them vote lowered accuracy (docs/EVALUATION.md).
 * Which query regions vote, their weight and how a product's crops combine come from the
 * pipeline settings (settings.h); the query is analyzed by visor_analyze_query. */
#include "pipeline/ranking.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/negatives.h"
#include "pipeline/settings.h"
#include "pipeline/tuned.h"
#include "pipeline/views.h"
#include "store/regions.h"

#define HITS_PER_RESULT 8
#define MAX_HITS 512 /* for the first page; later pages may fetch what their offset adds */

typedef struct product_score {
  char product_id[64];
  char region_id[64];
  float score;
  float sum; /* of the best `hits` crop similarities */
  int hits;
  int query_ordinal;
} product_score;

static int by_score_desc(const void *a, const void *b) {
  float x = ((const product_score *)a)->score, y = ((const product_score *)b)->score;
  return x < y   ? 1
         : x > y ? -1
         : strcmp(((const product_score *)a)->product_id, ((const product_score *)b)->product_id)
             ?: strcmp(((const product_score *)a)->region_id, ((const product_score *)b)->region_id);
}

/* Adds one crop hit to its product's entry in scores[*count]: the best crop, and the sum
 * and number of its best top_n similarities (hits come closest first). */
static void add_hit(product_score *scores, size_t *count, const char *product_id,
                    const char *region_id, float similarity, int top_n) {
  for (size_t i = 0; i < *count; i++) {
    if (strcmp(scores[i].product_id, product_id) == 0) {
      if (scores[i].hits < top_n) {
        scores[i].sum += similarity;
        scores[i].hits++;
      }
      return;
    }
  }
  product_score *entry = &scores[(*count)++];
  snprintf(entry->product_id, sizeof entry->product_id, "%s", product_id);
  snprintf(entry->region_id, sizeof entry->region_id, "%s", region_id);
  entry->sum = similarity;
  entry->hits = 1;
}

/* Keeps the best score per product (per crop when by_crop) in scores[*count]. */
static void merge_best(product_score *scores, size_t *count, const product_score *candidate,
                       int by_crop) {
  for (size_t i = 0; i < *count; i++) {
    if (by_crop ? strcmp(scores[i].region_id, candidate->region_id) == 0
                : strcmp(scores[i].product_id, candidate->product_id) == 0) {
      if (candidate->score > scores[i].score) scores[i] = *candidate;
      return;
    }
  }
  scores[(*count)++] = *candidate;
}

/* Lowers the score of candidates with a negative reference close to the query region
 * (pipeline/negatives.h); products without negatives keep theirs. */
static visor_code demote_rejected(visor_app *app, visor_db_conn *conn, const float *query,
                                  product_score *scores, size_t count, visor_error *err) {
  if (count == 0) return VISOR_OK;
  const char **ids = calloc(count, sizeof *ids);
  float *penalties = calloc(count, sizeof *penalties);
  visor_code code = VISOR_OK;
  if (!ids || !penalties)
    code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory demoting %zu products", count);
  for (size_t i = 0; code == VISOR_OK && i < count; i++)
    ids[i] = scores[i].product_id;
  if (code == VISOR_OK)
    code = visor_negative_penalties(app, conn, query, ids, count, penalties, err);
  for (size_t i = 0; code == VISOR_OK && i < count; i++)
    scores[i].score -= penalties[i];
  free(ids);
  free(penalties);
  return code;
}

/* The first `want` candidates of each ranked list, checked against the metadata once for
 * all of them: a crop or product deleted since it was indexed is skipped (its vector may
 * still be in the index until its removal reaches the vector store). */
typedef struct candidate_list {
  product_score *scores; /* sorted, best first */
  size_t count;
  int ordinal;
} candidate_list;

typedef struct live_ids {
  const char **ids; /* sorted, unique */
  int *live;
  size_t count;
} live_ids;

static int by_id(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static visor_code check_live(visor_db_conn *conn, const candidate_list *lists, size_t list_count,
                             size_t want, live_ids *out, visor_error *err) {
  size_t total = 0;
  for (size_t l = 0; l < list_count; l++)
    total += lists[l].count < want ? lists[l].count : want;
  out->ids = calloc(total + 1, sizeof *out->ids);
  out->live = calloc(total + 1, sizeof *out->live);
  out->count = 0;
  if (!out->ids || !out->live)
    return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory ranking %zu results", total);
  for (size_t l = 0; l < list_count; l++)
    for (size_t i = 0; i < lists[l].count && i < want; i++)
      out->ids[out->count++] = lists[l].scores[i].region_id;
  qsort(out->ids, out->count, sizeof *out->ids, by_id);
  size_t unique = 0;
  for (size_t i = 0; i < out->count; i++)
    if (unique == 0 || strcmp(out->ids[unique - 1], out->ids[i]) != 0)
      out->ids[unique++] = out->ids[i];
  out->count = unique;
  return visor_regions_live(conn, out->ids, out->count, out->live, err);
}

static int is_live(const live_ids *live, const char *region_id) {
  const char **found = bsearch(&region_id, live->ids, live->count, sizeof *live->ids, by_id);
  return found && live->live[found - live->ids];
}

/* Appends up to k entries of a list after the first `offset` as results of its ordinal,
 * skipping dead ones. Ranks count from the top, so the page after offset starts at
 * offset + 1. */
static void append_results(visor_ranking *ranking, const candidate_list *list, size_t want,
                           const live_ids *live, int k, int offset) {
  int rank = 0;
  for (size_t i = 0; i < list->count && i < want && rank < offset + k; i++) {
    const product_score *entry = &list->scores[i];
    if (!is_live(live, entry->region_id)) continue;
    if (rank < offset) {
      rank++;
      continue;
    }
    visor_ranked_id *ranked = &ranking->ids[ranking->result_count];
    memcpy(ranked->product_id, entry->product_id, sizeof ranked->product_id);
    memcpy(ranked->region_id, entry->region_id, sizeof ranked->region_id);
    ranking->results[ranking->result_count++] =
        (visor_search_result_record){.ordinal = list->ordinal,
                                     .rank = ++rank,
                                     .product_id = ranked->product_id,
                                     .region_id = ranked->region_id,
                                     .score = entry->score,
                                     .query_ordinal = entry->query_ordinal};
  }
}

visor_code visor_analyze_query(visor_app *app, const void *image, size_t len,
                               visor_analysis *analysis, visor_error *err) {
  const visor_pipeline_settings *settings = visor_pipeline_settings_get();
  return visor_views_analyze(app->ml, image, len, &settings->query, settings->query_views,
                             settings->query_view_count, 1, analysis, err);
}

visor_code visor_analyze_query_box(visor_app *app, const void *image, size_t len, int width,
                                   int height, visor_box box, visor_analysis *analysis,
                                   visor_error *err) {
  memset(analysis, 0, sizeof *analysis);
  const visor_pipeline_settings *settings = visor_pipeline_settings_get();
  size_t count = 1 + settings->query_view_count;
  visor_region *views = calloc(count, sizeof *views);
  analysis->regions = calloc(1, sizeof *analysis->regions);
  if (!views || !analysis->regions) {
    free(views);
    free(analysis->regions);
    analysis->regions = NULL;
    return visor_error_set(err, VISOR_ERR_NOMEM, "no memory for the region of a search");
  }
  views[0].box = box;
  for (size_t v = 1; v < count; v++) { /* the query views, of the box instead of the image */
    float scale = settings->query_views[v - 1] > 0 && settings->query_views[v - 1] <= 1
                      ? settings->query_views[v - 1]
                      : 1;
    views[v].box = (visor_box){box.x + box.w * (1 - scale) / 2, box.y + box.h * (1 - scale) / 2,
                               box.w * scale, box.h * scale};
  }
  visor_code code = app->ml->ops->embed_boxes(app->ml, image, len, views, count, err);
  if (code == VISOR_OK) {
    size_t dim = app->vectors->dim;
    double norm = 0;
    for (size_t d = 0; d < dim; d++) {
      float sum = 0;
      for (size_t v = 0; v < count; v++)
        sum += views[v].embedding[d];
      views[0].embedding[d] = sum;
      norm += (double)sum * sum;
    }
    float inverse = norm > 0 ? (float)(1.0 / sqrt(norm)) : 0;
    for (size_t d = 0; d < dim; d++)
      views[0].embedding[d] *= inverse;
    analysis->regions[0] = views[0];
    analysis->regions[0].box = box;
    analysis->regions[0].detector.name[0] = '\0';
    analysis->region_count = 1;
    analysis->dim = dim;
    analysis->width = width;
    analysis->height = height;
    views[0].embedding = NULL; /* now the analysis's */
  }
  for (size_t v = 0; v < count; v++)
    free(views[v].embedding);
  free(views);
  if (code != VISOR_OK) visor_analysis_free(analysis);
  return code;
}

visor_code visor_rank_products(visor_app *app, const visor_analysis *analysis,
                               const visor_vector_filter *filter, int k, visor_ranking *ranking,
                               visor_error *err) {
  visor_tuned_version *version = visor_tuned_acquire(app);
  visor_code code = visor_rank_products_with(app, version, analysis, filter, k, ranking, err);
  visor_tuned_release(app, version);
  return code;
}

static visor_code rank_page(visor_app *app, const visor_tuned_version *version,
                            const visor_analysis *analysis, const visor_vector_filter *filter,
                            int k, int offset, int raw_crops, visor_ranking *ranking,
                            visor_error *err);

visor_code visor_rank_products_with(visor_app *app, const visor_tuned_version *version,
                                    const visor_analysis *analysis,
                                    const visor_vector_filter *filter, int k,
                                    visor_ranking *ranking, visor_error *err) {
  return rank_page(app, version, analysis, filter, k, 0, 0, ranking, err);
}

visor_code visor_rank_page(visor_app *app, const visor_analysis *analysis,
                           const visor_vector_filter *filter, int k, int offset, int raw_crops,
                           visor_ranking *ranking, visor_error *err) {
  visor_tuned_version *version = visor_tuned_acquire(app);
  visor_code code = rank_page(app, version, analysis, filter, k, offset, raw_crops, ranking, err);
  visor_tuned_release(app, version);
  return code;
}

static visor_code rank_page(visor_app *app, const visor_tuned_version *version,
                            const visor_analysis *analysis, const visor_vector_filter *filter,
                            int k, int offset, int raw_crops, visor_ranking *ranking,
                            visor_error *err) {
  memset(ranking, 0, sizeof *ranking);
  const visor_pipeline_settings *settings = visor_pipeline_settings_get();
  int top_n = settings->product_top_n > 0 ? settings->product_top_n : 1;
  size_t hit_limit = (size_t)(k + offset) * (raw_crops ? 2 : HITS_PER_RESULT);
  if (hit_limit < 64) hit_limit = 64;
  size_t max_hits = MAX_HITS + (size_t)offset * HITS_PER_RESULT;
  if (hit_limit > max_hits) hit_limit = max_hits;
  size_t want = (size_t)(k + offset) * 4; /* candidates per list checked for liveness */
  size_t regions = analysis->region_count;
  ranking->regions = calloc(regions ? regions : 1, sizeof *ranking->regions);
  ranking->results = calloc((regions + 1) * (size_t)k + 1, sizeof *ranking->results);
  ranking->ids = calloc((regions + 1) * (size_t)k + 1, sizeof *ranking->ids);
  visor_vector_hit *hits = calloc(hit_limit, sizeof *hits);
  /* each region's list (hit_limit entries each), kept until one liveness check of all */
  product_score *scores = calloc(hit_limit * (regions ? regions : 1), sizeof *scores);
  product_score *overall = calloc(hit_limit * (regions ? regions : 1), sizeof *overall);
  candidate_list *lists = calloc(regions + 1, sizeof *lists);
  live_ids live = {0};
  visor_db_conn *conn = NULL;
  visor_code code = VISOR_OK;
  if (!ranking->regions || !ranking->results || !ranking->ids || !hits || !scores || !overall ||
      !lists)
    code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory ranking %zu regions", regions);
  if (code == VISOR_OK && !(conn = visor_db_acquire(app->db, err)))
    code = visor_db_acquire_failed(err);
  size_t overall_count = 0;
  for (size_t r = 0; code == VISOR_OK && r < regions; r++) {
    const visor_region *region = &analysis->regions[r];
    ranking->regions[r] = (visor_search_region_record){
        .box = region->box,
        .whole_image = region->whole_image,
        .label = region->label_count ? region->labels[0].name : NULL,
        .label_score = region->label_count ? region->labels[0].score : 0,
        .detector_label =
            region->whole_image || !region->detector.name[0] ? NULL : region->detector.name,
        .detector_score = region->detector.score};
    ranking->region_count++;
    product_score *region_scores = scores + r * hit_limit;
    size_t hit_count = 0, score_count = 0;
    code = visor_tuned_search(app, version, region->embedding, hit_limit, filter, hits, &hit_count,
                              err);
    for (size_t h = 0; code == VISOR_OK && h < hit_count; h++) {
      if (raw_crops) { /* every crop is its own entry */
        product_score *entry = &region_scores[score_count++];
        memset(entry, 0, sizeof *entry);
        snprintf(entry->product_id, sizeof entry->product_id, "%s", hits[h].product_id);
        snprintf(entry->region_id, sizeof entry->region_id, "%s", hits[h].id);
        entry->sum = 1.0f - hits[h].distance;
      } else {
        add_hit(region_scores, &score_count, hits[h].product_id, hits[h].id,
                1.0f - hits[h].distance, top_n);
      }
    }
    if (code != VISOR_OK) break;
    /* A query of one region (a drawn box) votes alone, like a whole image. */
    int sole = regions == 1;
    float weight = region->whole_image || sole ? 1.0f : settings->detection_weight;
    for (size_t i = 0; i < score_count; i++) {
      region_scores[i].score =
          raw_crops ? region_scores[i].sum : region_scores[i].sum / (float)top_n;
      region_scores[i].query_ordinal = (int)r;
    }
    code = demote_rejected(app, conn, region->embedding, region_scores, score_count, err);
    if (code != VISOR_OK) break;
    for (size_t i = 0; i < score_count; i++) {
      product_score weighted = region_scores[i];
      weighted.score *= weight;
      if (region->whole_image || sole || settings->overall_all_regions)
        merge_best(overall, &overall_count, &weighted, raw_crops);
    }
    qsort(region_scores, score_count, sizeof *region_scores, by_score_desc);
    lists[r] = (candidate_list){region_scores, score_count, (int)r};
  }
  if (code == VISOR_OK) {
    qsort(overall, overall_count, sizeof *overall, by_score_desc);
    lists[regions] = (candidate_list){overall, overall_count, VISOR_SEARCH_OVERALL};
    code = check_live(conn, lists, regions + 1, want, &live, err);
  }
  for (size_t l = 0; code == VISOR_OK && l <= regions; l++)
    append_results(ranking, &lists[l], want, &live, k, offset);
  visor_db_release(conn);
  free(live.ids);
  free(live.live);
  free(lists);
  free(hits);
  free(scores);
  free(overall);
  if (code != VISOR_OK) visor_ranking_free(ranking);
  return code;
}

void visor_ranking_free(visor_ranking *ranking) {
  free(ranking->regions);
  free(ranking->results);
  free(ranking->ids);
  memset(ranking, 0, sizeof *ranking);
}
