/* region_vectors.c: region vectors that follow the rows (see region_vectors.h). */
#include "service/region_vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/job_state.h"
#include "ml/ml.h"
#include "service/crops.h"
#include "store/edits.h"
#include "store/regions.h"

/* The vector metadata a live region's vector carries: its product's category, labels
 * ("key=value") and price, and "region_label=LABEL" for its own label. labels receives malloc'd
 * strings the caller frees with free_labels. */
static visor_vector_meta region_meta(visor_app *app, const json_t *state, char ***labels,
                                     size_t *count) {
  json_t *object = json_object_get(state, "labels");
  const char *region_label = json_string_value(json_object_get(state, "label"));
  *labels = calloc(json_object_size(object) + 2, sizeof **labels);
  *count = 0;
  const char *key;
  json_t *value;
  json_object_foreach(*labels ? object : NULL, key, value) {
    size_t size = strlen(key) + strlen(json_string_value(value) ?: "") + 2;
    char *label = malloc(size);
    if (!label) break;
    snprintf(label, size, "%s=%s", key, json_string_value(value) ?: "");
    (*labels)[(*count)++] = label;
  }
  if (*labels && region_label && *region_label) { /* as the index task writes it */
    size_t size = strlen(VISOR_REGION_LABEL_KEY) + strlen(region_label) + 2;
    char *label = malloc(size);
    if (label) {
      snprintf(label, size, "%s=%s", VISOR_REGION_LABEL_KEY, region_label);
      (*labels)[(*count)++] = label;
    }
  }
  return (visor_vector_meta){.product_id = json_string_value(json_object_get(state, "product_id")),
                             .category =
                                 json_string_value(json_object_get(state, "category")) ?: "",
                             .labels = (const char *const *)*labels,
                             .label_count = *count,
                             .model = app->embedder_model,
                             .price = json_number_value(json_object_get(state, "price")),
                             .has_price = json_is_number(json_object_get(state, "price"))};
}

static void free_labels(char **labels, size_t count) {
  for (size_t i = 0; i < count; i++)
    free(labels[i]);
  free(labels);
}

visor_code visor_region_vector_set_meta(visor_app *app, const char *image_id, const char *vector_id,
                                        const visor_vector_meta *meta, visor_error *err) {
  visor_code code = app->vectors->ops->set_meta(app->vectors, vector_id, meta, err);
  if (code == VISOR_OK && app->projected)
    code = app->projected->set_meta(app, image_id, vector_id, meta, err);
  return code;
}

visor_code visor_region_vector_remove(visor_app *app, const char *vector_id, visor_error *err) {
  visor_code code = app->vectors->ops->remove(app->vectors, vector_id, err);
  if (code == VISOR_ERR_NOT_FOUND) code = VISOR_OK;
  if (code == VISOR_OK && app->projected) code = app->projected->remove(app, vector_id, err);
  return code;
}

visor_code visor_region_vector_write(visor_app *app, const char *image_id, const char *vector_id,
                                     const float *embedding, const visor_vector_meta *meta,
                                     visor_error *err) {
  visor_code code = app->vectors->ops->upsert(app->vectors, vector_id, embedding, meta, err);
  if (code == VISOR_OK && app->projected && image_id)
    code = app->projected->write(app, image_id, vector_id, embedding, app->vectors->dim, meta, err);
  return code;
}

/* Embeds the region's box of the original again (a whole-image region as the index task
 * embeds it) and writes its vector (its crop is cut on demand: service/crops.h). */
static visor_code embed_again(visor_app *app, const json_t *state, const visor_vector_meta *meta,
                              visor_error *err) {
  if (!app->ml)
    return visor_error_set(err, VISOR_ERR_UNAVAILABLE,
                           "region %s needs embedding again: this process has no ML backend",
                           json_string_value(json_object_get(state, "id")));
  const char *image_key = json_string_value(json_object_get(state, "image_key"));
  const char *vector_id = json_string_value(json_object_get(state, "vector_id"));
  void *bytes = NULL;
  size_t len = 0;
  visor_region region = {.box = {.x = (float)json_number_value(json_object_get(state, "box_x")),
                                 .y = (float)json_number_value(json_object_get(state, "box_y")),
                                 .w = (float)json_number_value(json_object_get(state, "box_w")),
                                 .h = (float)json_number_value(json_object_get(state, "box_h"))}};
  visor_code code = visor_blob_get(app->blobs, image_key, 0, &bytes, &len, err);
  int whole_image = json_integer_value(json_object_get(state, "whole_image")) != 0;
  if (code == VISOR_OK && whole_image && app->embed_whole_image)
    code = app->embed_whole_image(app, bytes, len, &region.embedding, err);
  else if (code == VISOR_OK)
    code = app->ml->ops->embed_boxes(app->ml, bytes, len, &region, 1, err);
  if (code == VISOR_OK && region.embedding)
    code = visor_region_vector_write(app, json_string_value(json_object_get(state, "image_id")),
                                     vector_id, region.embedding, meta, err);
  free(region.embedding);
  free(bytes);
  return code;
}

/* The region's row with its image and product; *state = NULL when there is no row. */
static visor_code read_state(visor_app *app, const char *region_id, json_t **state,
                             visor_error *err) {
  *state = NULL;
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  visor_code code = visor_edit_region_vector_state(conn, region_id, state, err);
  visor_db_release(conn);
  return code == VISOR_ERR_NOT_FOUND ? VISOR_OK : code;
}

/* What a vector write depends on: whether the region is live, and its product and label. */
static json_t *state_key(const json_t *state) {
  if (!state) return json_null();
  return json_pack("{s:I, s:I, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O}", "region_deleted",
                   json_integer_value(json_object_get(state, "region_deleted")), "image_deleted",
                   json_integer_value(json_object_get(state, "image_deleted")), "product_id",
                   json_object_get(state, "product_id") ?: json_null(), "label",
                   json_object_get(state, "label") ?: json_null(), "category",
                   json_object_get(state, "category") ?: json_null(), "labels",
                   json_object_get(state, "labels") ?: json_null(), "box_x",
                   json_object_get(state, "box_x") ?: json_null(), "box_y",
                   json_object_get(state, "box_y") ?: json_null(), "box_w",
                   json_object_get(state, "box_w") ?: json_null(), "box_h",
                   json_object_get(state, "box_h") ?: json_null());
}

static visor_code sync_state(visor_app *app, const json_t *state, int embed, visor_error *err);

/* Writes what the row says, then reads it again: a correction committed meanwhile (whose own
 * sync may have run before this write) makes it write again, so the last write follows the
 * last commit. embed: the live region's vector is embedded again from its box. */
static visor_code sync_one(visor_app *app, const char *region_id, int embed, visor_error *err) {
  json_t *state = NULL;
  visor_code code = read_state(app, region_id, &state, err);
  for (int round = 0; code == VISOR_OK && state && round < 4; round++) {
    code = sync_state(app, state, embed, err);
    json_t *again = NULL;
    if (code == VISOR_OK) code = read_state(app, region_id, &again, err);
    json_t *before = state_key(state), *after = state_key(again);
    int same = json_equal(before, after);
    json_decref(before);
    json_decref(after);
    json_decref(state);
    state = again;
    if (same) break;
  }
  json_decref(state);
  return code;
}

/* Embeds a live region again from its box and cuts its crop again (cached for the next
 * request: service/crops.h). */
static visor_code embed_box_again(visor_app *app, const json_t *state,
                                  const visor_vector_meta *meta, visor_error *err) {
  if (!json_string_value(json_object_get(state, "vector_id"))) return VISOR_OK;
  visor_code code = embed_again(app, state, meta, err);
  void *crop = NULL;
  size_t len = 0;
  if (code == VISOR_OK)
    code = visor_crop_get(app, json_string_value(json_object_get(state, "id")), &crop, &len, err);
  if (code == VISOR_ERR_NOT_FOUND) code = VISOR_OK; /* deleted meanwhile: the next round sees it */
  free(crop);
  return code;
}

static visor_code sync_state(visor_app *app, const json_t *state, int embed, visor_error *err) {
  visor_code code = VISOR_OK;
  const char *vector_id = json_string_value(json_object_get(state, "vector_id"));
  /* A deleted product's vectors stay, as after DELETE /products/{id} (searches skip it). */
  int live = !json_integer_value(json_object_get(state, "region_deleted")) &&
             !json_integer_value(json_object_get(state, "image_deleted"));
  if (!vector_id) {
    code = VISOR_OK; /* its index task has not written it yet; that task will */
  } else if (!live) {
    code = visor_region_vector_remove(app, vector_id, err);
    const char *crop_key = json_string_value(json_object_get(state, "crop_key"));
    if (code == VISOR_OK && crop_key &&
        json_integer_value(json_object_get(state, "region_deleted")))
      visor_blob_remove(app->blobs, crop_key, NULL);
  } else {
    char **labels = NULL;
    size_t count = 0;
    visor_vector_meta meta = region_meta(app, state, &labels, &count);
    if (!labels) {
      code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    } else {
      if (embed) {
        code = embed_box_again(app, state, &meta, err);
      } else {
        code = visor_region_vector_set_meta(
            app, json_string_value(json_object_get(state, "image_id")), vector_id, &meta, err);
        if (code == VISOR_ERR_NOT_FOUND) code = embed_again(app, state, &meta, err);
      }
    }
    free_labels(labels, count);
  }
  return code;
}

static visor_code sync_all(visor_app *app, const json_t *region_ids, int embed, visor_error *err) {
  if (!app->vectors)
    return visor_error_set(err, VISOR_ERR_UNAVAILABLE, "this process has no vector store");
  size_t index;
  json_t *id;
  json_array_foreach(region_ids, index, id) {
    const char *region_id = json_string_value(id);
    visor_code code = region_id ? sync_one(app, region_id, embed, err) : VISOR_OK;
    if (code != VISOR_OK) return code;
  }
  return VISOR_OK;
}

visor_code visor_region_vectors_sync(visor_app *app, const json_t *region_ids, visor_error *err) {
  return sync_all(app, region_ids, 0, err);
}

visor_code visor_region_vectors_reembed(visor_app *app, const json_t *region_ids,
                                        visor_error *err) {
  return sync_all(app, region_ids, 1, err);
}

visor_code visor_region_vectors_queue(visor_app *app, visor_db_conn *conn, const char *subject_id,
                                      const json_t *region_ids, char job_id[40], visor_error *err) {
  return visor_region_vectors_queue_embed(app, conn, subject_id, region_ids, NULL, job_id, err);
}

visor_code visor_region_vectors_queue_embed(visor_app *app, visor_db_conn *conn,
                                            const char *subject_id, const json_t *region_ids,
                                            const json_t *reembed_ids, char job_id[40],
                                            visor_error *err) {
  job_id[0] = '\0';
  if (json_array_size(region_ids) == 0 && json_array_size(reembed_ids) == 0) return VISOR_OK;
  json_t *payload = json_pack("{s:O}", "region_ids", region_ids);
  if (payload && json_array_size(reembed_ids))
    json_object_set(payload, "reembed_ids", (json_t *)reembed_ids);
  char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
  json_decref(payload);
  if (!text) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  visor_code code =
      visor_jobs_create(conn, "sync", subject_id, text, app->job_attempts, job_id, err);
  free(text);
  return code;
}
