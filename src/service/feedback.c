/* feedback.c: confirm or reject a search match (see feedback.h). */
#include "service/feedback.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/uuid.h"
#include "ml/wire.h"
#include "service/catalogue.h"
#include "service/crops.h"
#include "store/edits.h"
#include "store/feedback.h"
#include "store/regions.h"
#include "store/searches.h"

#define MAX_QUERY_IMAGE_BYTES (64u * 1024 * 1024)

static const char *text_of(const json_t *object, const char *key) {
  return json_string_value(json_object_get(object, key));
}

static visor_code need_live_product(visor_db_conn *conn, const char *id, visor_error *err) {
  json_t *row = NULL;
  visor_code code = visor_edit_product_row(conn, id, &row, err);
  if (code == VISOR_OK && json_integer_value(json_object_get(row, "deleted")))
    code = visor_error_set(err, VISOR_ERR_NOT_FOUND, "product %s not found", id);
  json_decref(row);
  return code;
}

/* {search_id, region} of the query, for the audit entry. */
static json_t *query_origin(const visor_feedback_query *query) {
  return json_pack("{s:s?, s:i}", "search_id", query->search_id, "region", query->ordinal);
}

/* The audit entry names the search it answers: the search leaves the review queue until
 * the feedback is undone. */
static void answer_search(visor_correction_edit *e, const visor_feedback_query *query) {
  if (query->search_id) snprintf(e->search_id, sizeof e->search_id, "%s", query->search_id);
}

/* ---- confirm ------------------------------------------------------------------------ */

typedef struct confirm_args {
  const char *product_id;
  const visor_feedback_query *query;
  visor_stored_image *stored;
} confirm_args;

static visor_code apply_confirm(visor_app *app, visor_db_conn *conn, const void *args,
                                visor_correction_edit *e, visor_error *err) {
  const confirm_args *a = args;
  const visor_feedback_query *q = a->query;
  visor_code code = need_live_product(conn, a->product_id, err);
  char region_id[VISOR_UUID_LEN + 1], crop_key[160];
  visor_uuid_new(region_id);
  visor_crop_key(a->stored->id, region_id, crop_key, sizeof crop_key);
  visor_image_record image = a->stored->record;
  image.product_id = a->product_id;
  if (code == VISOR_OK) code = visor_image_insert(conn, &image, err);
  if (code == VISOR_OK) code = visor_image_mark_indexed(conn, image.id, err);
  visor_region_record region = {.id = region_id,
                                .image_id = image.id,
                                .product_id = a->product_id,
                                .x = q->box.x,
                                .y = q->box.y,
                                .w = q->box.w,
                                .h = q->box.h,
                                .whole_image = q->whole_image,
                                .label = q->label,
                                .source = "admin",
                                .crop_key = crop_key,
                                .vector_id = region_id,
                                .model = app->embedder_model};
  if (code == VISOR_OK) code = visor_region_insert(conn, &region, err);
  if (code == VISOR_OK) {
    e->action = "match.confirm";
    e->subject_kind = "product";
    snprintf(e->subject_id, sizeof e->subject_id, "%s", a->product_id);
    answer_search(e, q);
    e->before = query_origin(q);
    e->after = query_origin(q);
    json_object_set_new(e->after, "image_id", json_string(image.id));
    json_object_set_new(e->after, "region_id", json_string(region_id));
    json_object_set_new(e->after, "box",
                        json_pack("{s:f, s:f, s:f, s:f}", "x", q->box.x, "y", q->box.y, "w",
                                  q->box.w, "h", q->box.h));
    json_array_append_new(e->sync, json_string(region_id));
  }
  return code;
}

visor_code visor_feedback_confirm(visor_app *app, const visor_correction_who *who,
                                  const char *product_id, const visor_feedback_query *query,
                                  visor_correction_result *out, visor_error *err) {
  memset(out, 0, sizeof *out);
  if (!query->image || query->box.w <= 0 || query->box.h <= 0)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "confirming a match needs the query photo and a"
                           " box of positive size");
  visor_stored_image stored;
  visor_code code =
      visor_catalogue_store_bytes(app, query->image, query->image_len, "feedback", &stored, err);
  if (code != VISOR_OK) return code;
  confirm_args args = {product_id, query, &stored};
  code = visor_correction_run(app, who, apply_confirm, &args, out, err);
  if (code != VISOR_OK) visor_blob_remove(app->blobs, stored.object_key, NULL);
  return code;
}

/* ---- reject ------------------------------------------------------------------------- */

typedef struct reject_args {
  const char *product_id;
  const visor_feedback_query *query;
  const char *embedding; /* base64 */
} reject_args;

static visor_code apply_reject(visor_app *app, visor_db_conn *conn, const void *args,
                               visor_correction_edit *e, visor_error *err) {
  const reject_args *a = args;
  visor_code code = need_live_product(conn, a->product_id, err);
  char negative_id[VISOR_UUID_LEN + 1];
  visor_uuid_new(negative_id);
  visor_negative_record record = {.id = negative_id,
                                  .product_id = a->product_id,
                                  .search_id = a->query->search_id,
                                  .query_ordinal = a->query->ordinal,
                                  .model = app->embedder_model,
                                  .embedding = a->embedding};
  if (code == VISOR_OK) code = visor_negative_insert(conn, &record, err);
  if (code == VISOR_OK) {
    e->action = "match.reject";
    e->subject_kind = "product";
    snprintf(e->subject_id, sizeof e->subject_id, "%s", a->product_id);
    answer_search(e, a->query);
    e->before = query_origin(a->query);
    e->after = query_origin(a->query);
    json_object_set_new(e->after, "negative_id", json_string(negative_id));
  }
  return code;
}

visor_code visor_feedback_reject(visor_app *app, const visor_correction_who *who,
                                 const char *product_id, const visor_feedback_query *query,
                                 visor_correction_result *out, visor_error *err) {
  memset(out, 0, sizeof *out);
  if (!query->embedding || !app->vectors)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "rejecting a match needs the query region's embedding");
  char *embedding = visor_base64_encode(query->embedding, app->vectors->dim * sizeof(float));
  if (!embedding) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  reject_args args = {product_id, query, embedding};
  visor_code code = visor_correction_run(app, who, apply_reject, &args, out, err);
  free(embedding);
  return code;
}

/* ---- on a stored search ------------------------------------------------------------- */

/* The search row and its region `ordinal`, checked: the search exists and is done, the
 * region and the product exist. */
static visor_code load_query(visor_app *app, const char *search_id, int ordinal,
                             const char *product_id, json_t **search, json_t **region,
                             visor_error *err) {
  *search = *region = NULL;
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  visor_code code = visor_search_load(conn, search_id, search, err);
  const char *status = text_of(*search, "status");
  if (code == VISOR_OK && (!status || strcmp(status, "done") != 0))
    code = visor_error_set(err, VISOR_ERR_CONFLICT, "search %s is %s, not done: nothing to judge",
                           search_id, status ? status : "unknown");
  if (code == VISOR_OK) code = visor_feedback_search_region(conn, search_id, ordinal, region, err);
  if (code == VISOR_OK) code = need_live_product(conn, product_id, err);
  visor_db_release(conn);
  return code;
}

visor_code visor_feedback_on_search(visor_app *app, const visor_correction_who *who,
                                    const char *search_id, int ordinal, const char *product_id,
                                    const char *verdict, visor_correction_result *out,
                                    visor_error *err) {
  memset(out, 0, sizeof *out);
  int confirm = verdict && strcmp(verdict, "confirm") == 0;
  if (!confirm && !(verdict && strcmp(verdict, "reject") == 0))
    return visor_error_set(err, VISOR_ERR_INVALID, "verdict '%.20s' is not confirm or reject",
                           verdict ? verdict : "");
  json_t *search = NULL, *region = NULL;
  visor_code code = load_query(app, search_id, ordinal, product_id, &search, &region, err);
  visor_feedback_query query = {.search_id = search_id,
                                .ordinal = ordinal,
                                .box = {(float)json_number_value(json_object_get(region, "box_x")),
                                        (float)json_number_value(json_object_get(region, "box_y")),
                                        (float)json_number_value(json_object_get(region, "box_w")),
                                        (float)json_number_value(json_object_get(region, "box_h"))},
                                .whole_image =
                                    (int)json_integer_value(json_object_get(region, "whole_image")),
                                .label = text_of(region, "label")};
  void *bytes = NULL;
  size_t len = 0;
  if (code == VISOR_OK && confirm) {
    code = visor_blob_get(app->blobs, text_of(search, "object_key"), MAX_QUERY_IMAGE_BYTES, &bytes,
                          &len, err);
    query.image = bytes;
    query.image_len = len;
    if (code == VISOR_OK) code = visor_feedback_confirm(app, who, product_id, &query, out, err);
  } else if (code == VISOR_OK) {
    const char *text = text_of(region, "embedding");
    if (!text)
      code = visor_error_set(err, VISOR_ERR_CONFLICT,
                             "search %s kept no query embedding (made before they were kept):"
                             " search again to reject a match",
                             search_id);
    if (code == VISOR_OK) code = visor_base64_decode(text, strlen(text), &bytes, &len, err);
    if (code == VISOR_OK && (!app->vectors || len != app->vectors->dim * sizeof(float)))
      code = visor_error_set(err, VISOR_ERR_CONFLICT,
                             "search %s's query embedding has %zu dimensions, not the index's",
                             search_id, len / sizeof(float));
    query.embedding = bytes;
    if (code == VISOR_OK) code = visor_feedback_reject(app, who, product_id, &query, out, err);
  }
  free(bytes);
  json_decref(region);
  json_decref(search);
  return code;
}

/* ---- undo --------------------------------------------------------------------------- */

int visor_feedback_is_action(const char *action) {
  return strcmp(action, "match.confirm") == 0 || strcmp(action, "match.reject") == 0;
}

static visor_code changed_since(const json_t *entry, const char *what, visor_error *err) {
  return visor_error_set(err, VISOR_ERR_CONFLICT,
                         "audit entry %s cannot be undone: %s changed since", text_of(entry, "id"),
                         what);
}

visor_code visor_feedback_undo(visor_app *app, visor_db_conn *conn, const json_t *entry,
                               visor_correction_edit *e, visor_error *err) {
  (void)app;
  json_t *after = json_object_get(entry, "after");
  visor_code code;
  if (strcmp(text_of(entry, "action"), "match.reject") == 0) {
    code = visor_negative_set_deleted(conn, text_of(after, "negative_id"), 1, err);
    if (code == VISOR_ERR_CONFLICT) code = changed_since(entry, "the negative reference", err);
  } else { /* match.confirm: the reference region, its image and (by the sync) its vector go */
    const char *region_id = text_of(after, "region_id"), *image_id = text_of(after, "image_id");
    json_t *row = NULL;
    code = region_id && image_id
               ? visor_edit_region_row(conn, region_id, &row, err)
               : visor_error_set(err, VISOR_ERR_INTERNAL,
                                 "audit entry %s names no reference region", text_of(entry, "id"));
    if (code == VISOR_ERR_NOT_FOUND ||
        (code == VISOR_OK && json_integer_value(json_object_get(row, "deleted"))))
      code = changed_since(entry, "the reference region (it is deleted)", err);
    json_decref(row);
    if (code == VISOR_OK) code = visor_edit_region_set_deleted(conn, region_id, 1, err);
    if (code == VISOR_OK) code = visor_region_soft_delete_for_image(conn, image_id, err);
    if (code == VISOR_OK) code = visor_image_soft_delete(conn, image_id, err);
    if (code == VISOR_ERR_NOT_FOUND)
      code = changed_since(entry, "the reference image (it is deleted)", err);
    if (code == VISOR_OK) json_array_append_new(e->sync, json_string(region_id));
  }
  if (code == VISOR_OK) {
    e->before = json_incref(after);
    e->after = json_pack("{s:b}", "undone", 1);
  }
  return code;
}
