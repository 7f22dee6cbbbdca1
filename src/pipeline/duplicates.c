/* duplicates.c: near-duplicate detection at indexing time (see duplicates.h). */
#include "pipeline/duplicates.h"

#include <string.h>

#include "core/log.h"
#include "store/catalog.h"
#include "store/duplicates.h"
#include "store/regions.h"

/* Neighbours of the whole-image vector looked at: the image's own regions and other
 * products' crops come first among them too. */
#define DUPLICATE_CANDIDATES 64

/* Records every other product's image with the same bytes as an exact duplicate. */
static visor_code record_exact(visor_db_conn *conn, const char *image_id, const char *product_id,
                               const char *sha256, visor_error *err) {
  json_t *same = NULL;
  visor_code code = visor_images_with_sha256(conn, sha256, product_id, &same, err);
  size_t index;
  json_t *other;
  json_array_foreach(code == VISOR_OK ? same : NULL, index, other) {
    code = visor_duplicate_upsert(
        conn, image_id, product_id, json_string_value(json_object_get(other, "image_id")),
        json_string_value(json_object_get(other, "product_id")), "exact", 1.0, err);
    if (code != VISOR_OK) break;
  }
  json_decref(same);
  return code;
}

/* A neighbour: the whole-image region of a live image of another product, near enough. */
static visor_code record_near(visor_app *app, visor_db_conn *conn, const char *image_id,
                              const char *product_id, const char *sha256,
                              const visor_vector_hit *hit, visor_error *err) {
  double score = 1.0 - hit->distance;
  visor_log_debug("duplicates: image %s neighbour %s of product %s at cosine %.4f", image_id,
                  hit->id, hit->product_id, score);
  if (score < app->config->duplicate_threshold || strcmp(hit->product_id, product_id) == 0)
    return VISOR_OK;
  json_t *region = NULL, *image = NULL;
  visor_code code = visor_region_get(conn, hit->id, &region, err);
  if (code == VISOR_ERR_NOT_FOUND) { /* a deleted region still in the index */
    json_decref(region);
    return VISOR_OK;
  }
  const char *other_image = json_string_value(json_object_get(region, "image_id"));
  if (code == VISOR_OK && json_is_true(json_object_get(region, "whole_image")) && other_image) {
    code = visor_image_get(conn, other_image, &image, err);
    if (code == VISOR_OK) {
      const char *other_sha = json_string_value(json_object_get(image, "sha256"));
      int exact = other_sha && sha256 && strcmp(other_sha, sha256) == 0;
      code = visor_duplicate_upsert(conn, image_id, product_id, other_image, hit->product_id,
                                    exact ? "exact" : "near", exact ? 1.0 : score, err);
    } else if (code == VISOR_ERR_NOT_FOUND) {
      code = VISOR_OK;
    }
  }
  json_decref(image);
  json_decref(region);
  return code;
}

visor_code visor_pipeline_record_duplicates(visor_app *app, const char *image_id,
                                            const char *product_id, const visor_analysis *analysis,
                                            visor_error *err) {
  const float *whole = NULL;
  for (size_t i = 0; i < analysis->region_count && !whole; i++)
    if (analysis->regions[i].whole_image) whole = analysis->regions[i].embedding;
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  json_t *image = NULL;
  visor_code code = visor_image_get(conn, image_id, &image, err);
  const char *sha256 = json_string_value(json_object_get(image, "sha256"));
  if (code == VISOR_OK && sha256) code = record_exact(conn, image_id, product_id, sha256, err);
  if (code == VISOR_OK && whole && app->vectors && app->config->duplicate_threshold <= 1.0) {
    visor_vector_hit hits[DUPLICATE_CANDIDATES];
    size_t count = 0;
    visor_vector_filter filter = {.model = app->embedder_model};
    code = app->vectors->ops->search(app->vectors, whole, DUPLICATE_CANDIDATES, &filter, hits,
                                     &count, err);
    for (size_t i = 0; code == VISOR_OK && i < count; i++)
      code = record_near(app, conn, image_id, product_id, sha256, &hits[i], err);
  }
  json_decref(image);
  visor_db_release(conn);
  return code;
}

void visor_pipeline_note_duplicates(visor_app *app, const char *image_id, const char *product_id,
                                    const visor_analysis *analysis) {
  visor_error err = {0};
  if (visor_pipeline_record_duplicates(app, image_id, product_id, analysis, &err) != VISOR_OK)
    visor_log(VISOR_LOG_WARN, "duplicates of image %s not recorded: %s", image_id, err.message);
}
