/* negatives.c: demoting products for queries close to their negative references (see
 * negatives.h). */
#include "pipeline/negatives.h"

#include <stdlib.h>
#include <string.h>

#include "ml/wire.h"
#include "pipeline/settings.h"
#include "store/feedback.h"

typedef struct negative_scan {
  const float *query;
  size_t dim;
  const char *const *product_ids;
  size_t count;
  float *best;     /* per product_ids entry: max similarity (-2 = none) */
  int *used;       /* negatives compared per entry */
  visor_code code; /* first decode failure */
  visor_error *err;
} negative_scan;

static void add_negative(void *ctx, const char *product_id, const char *embedding) {
  negative_scan *scan = ctx;
  if (!product_id || !embedding || scan->code != VISOR_OK) return;
  float similarity = 0;
  int computed = 0;
  for (size_t i = 0; i < scan->count; i++) {
    if (strcmp(scan->product_ids[i], product_id) != 0) continue;
    if (scan->used[i] >= VISOR_NEGATIVES_PER_PRODUCT) return; /* rows come newest first */
    if (!computed) {
      void *bytes = NULL;
      size_t len = 0;
      if (visor_base64_decode(embedding, strlen(embedding), &bytes, &len, scan->err) != VISOR_OK) {
        scan->code = scan->err->code;
        return;
      }
      if (len == scan->dim * sizeof(float)) {
        const float *vector = bytes;
        for (size_t d = 0; d < scan->dim; d++)
          similarity += scan->query[d] * vector[d];
      }
      free(bytes);
      if (len != scan->dim * sizeof(float)) return; /* another dimension: not comparable */
      computed = 1;
    }
    scan->used[i]++;
    if (similarity > scan->best[i]) scan->best[i] = similarity;
  }
}

visor_code visor_negative_penalties(visor_app *app, visor_db_conn *conn, const float *query,
                                    const char *const *product_ids, size_t count, float *penalties,
                                    visor_error *err) {
  for (size_t i = 0; i < count; i++)
    penalties[i] = 0;
  if (count == 0 || !query || !app->vectors) return VISOR_OK;
  negative_scan scan = {.query = query,
                        .dim = app->vectors->dim,
                        .product_ids = product_ids,
                        .count = count,
                        .best = malloc(count * sizeof(float)),
                        .used = calloc(count, sizeof(int)),
                        .err = err};
  if (!scan.best || !scan.used) {
    free(scan.best);
    free(scan.used);
    return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory scoring %zu negatives", count);
  }
  for (size_t i = 0; i < count; i++)
    scan.best[i] = -2;
  visor_code code = visor_negatives_of_products(conn, app->embedder_model, product_ids, count,
                                                add_negative, &scan, err);
  if (code == VISOR_OK) code = scan.code;
  const visor_pipeline_settings *settings = visor_pipeline_settings_get();
  float threshold = settings->negative_threshold, penalty = settings->negative_penalty;
  for (size_t i = 0; code == VISOR_OK && threshold < 1 && i < count; i++)
    if (scan.best[i] > threshold)
      penalties[i] = penalty * (scan.best[i] - threshold) / (1 - threshold);
  free(scan.best);
  free(scan.used);
  return code;
}
