/* corrections.c: the admin corrections service (see corrections.h). Every correction is
 * an apply function that reads the subject, checks it, writes the change on the
 * transaction's connection and fills the edit (before / after for the audit entry, the
 * regions whose vectors follow); run_edit wraps it in the transaction with the audit
 * entry and the sync task, then syncs the vectors at once after the commit. */
#include "service/corrections.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/uuid.h"
#include "service/catalogue.h"
#include "service/crops.h"
#include "service/correction_edit.h"
#include "service/feedback.h"
#include "service/region_vectors.h"
#include "store/audit.h"
#include "store/catalog.h"
#include "store/edits.h"
#include "store/regions.h"

typedef visor_correction_edit edit;
typedef visor_correction_apply_fn apply_fn;

static const char *text_of(const json_t *object, const char *key) {
  return json_string_value(json_object_get(object, key));
}

static visor_code run_edit(visor_app *app, const visor_correction_who *who, apply_fn apply,
                           const void *args, visor_correction_result *out, visor_error *err) {
  memset(out, 0, sizeof *out);
  edit e = {.actor = who->actor,
            .sync = json_array(),
            .reembed = json_array(),
            .drop_objects = json_array()};
  char audit_id[VISOR_UUID_LEN + 1];
  visor_uuid_new(audit_id);
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) {
    json_decref(e.sync);
    json_decref(e.reembed);
    json_decref(e.drop_objects);
    return err->code;
  }
  visor_code code = visor_db_begin(conn, err);
  if (code == VISOR_OK) code = apply(app, conn, args, &e, err);
  if (code == VISOR_OK) {
    visor_audit_record record = {.id = audit_id,
                                 .actor = who->actor,
                                 .action = e.action,
                                 .subject_kind = e.subject_kind,
                                 .subject_id = e.subject_id,
                                 .before = e.before,
                                 .after = e.after,
                                 .request_id = who->request_id,
                                 .undo_of = e.undo_of[0] ? e.undo_of : NULL,
                                 .search_id = e.search_id[0] ? e.search_id : NULL};
    code = visor_audit_insert(conn, &record, err);
  }
  if (code == VISOR_OK && !e.queued_elsewhere)
    code =
        visor_region_vectors_queue_embed(app, conn, e.subject_id, e.sync, e.reembed, e.job_id, err);
  if (code == VISOR_OK)
    code = visor_db_commit(conn, err);
  else
    visor_db_rollback(conn);
  if (code == VISOR_OK) {
    if (e.job_id[0]) visor_app_jobs_committed(app);
    /* At once where this process has the vectors; the queued task repairs any failure. */
    visor_error sync_err = {0};
    /* A moved box is embedded by the queued task (its job_id is what a client follows). */
    if (app->vectors && json_array_size(e.reembed) == 0 &&
        visor_region_vectors_sync(app, e.sync, &sync_err) != VISOR_OK)
      visor_log_warn("correction %s: vectors follow later (task %s): %s", audit_id, e.job_id,
                     sync_err.message);
    size_t index;
    json_t *key; /* best effort: the orphan sweeper removes what is left */
    json_array_foreach(e.drop_objects, index, key)
        visor_blob_remove(app->blobs, json_string_value(key), NULL);
    snprintf(out->job_id, sizeof out->job_id, "%s", e.job_id);
    code = visor_audit_get(conn, audit_id, &out->entry, err);
  }
  visor_db_release(conn);
  json_decref(e.before);
  json_decref(e.after);
  json_decref(e.sync);
  json_decref(e.reembed);
  json_decref(e.drop_objects);
  return code;
}

visor_code visor_correction_run(visor_app *app, const visor_correction_who *who,
                                visor_correction_apply_fn apply, const void *args,
                                visor_correction_result *out, visor_error *err) {
  return run_edit(app, who, apply, args, out, err);
}

void visor_correction_result_free(visor_correction_result *result) {
  json_decref(result->entry);
  memset(result, 0, sizeof *result);
}

/* ---- regions ------------------------------------------------------------------------ */

typedef struct region_args {
  const char *region_id;
  const json_t *changes;
} region_args;

static visor_code live_region(visor_db_conn *conn, const char *id, json_t **row, visor_error *err) {
  visor_code code = visor_edit_region_row(conn, id, row, err);
  if (code == VISOR_OK && json_integer_value(json_object_get(*row, "deleted"))) {
    json_decref(*row);
    *row = NULL;
    code = visor_error_set(err, VISOR_ERR_NOT_FOUND, "region %s not found", id);
  }
  return code;
}

static double number_of(const json_t *object, const char *key) {
  return json_number_value(json_object_get(object, key));
}

/* {x, y, w, h} of a region row's box. */
static json_t *row_box(const json_t *row) {
  return json_pack("{s:f, s:f, s:f, s:f}", "x", number_of(row, "box_x"), "y",
                   number_of(row, "box_y"), "w", number_of(row, "box_w"), "h",
                   number_of(row, "box_h"));
}

static int same_box(const json_t *a, const json_t *b) {
  static const char *const parts[] = {"x", "y", "w", "h"};
  for (int i = 0; i < 4; i++)
    if (fabs(number_of(a, parts[i]) - number_of(b, parts[i])) > 1e-6) return 0;
  return 1;
}

/* {label, source, is_primary, primaries, box, whole_image} of a region row and its
 * product's primaries. */
static json_t *region_state(const json_t *row, json_t *primaries) {
  json_t *label = json_object_get(row, "label"), *source = json_object_get(row, "source");
  return json_pack("{s:O, s:O, s:b, s:o, s:o, s:b}", "label", label ? label : json_null(), "source",
                   source ? source : json_null(), "is_primary",
                   (int)json_integer_value(json_object_get(row, "is_primary")), "primaries",
                   primaries, "box", row_box(row), "whole_image",
                   (int)json_integer_value(json_object_get(row, "whole_image")));
}

/* VISOR_ERR_INVALID unless box (validated {x, y, w, h}, w and h > 0) is a finite box of at
 * least a pixel a side inside the image (a row with width and height). */
static visor_code check_box(const json_t *image, const json_t *box, visor_error *err) {
  double x = number_of(box, "x"), y = number_of(box, "y"), w = number_of(box, "w"),
         h = number_of(box, "h");
  double width = number_of(image, "width"), height = number_of(image, "height");
  if (!isfinite(x) || !isfinite(y) || !isfinite(w) || !isfinite(h))
    return visor_error_set(err, VISOR_ERR_INVALID, "box: every coordinate must be finite");
  if (w < 1 || h < 1)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "box: %gx%g is empty (at least 1x1 pixel of the original)", w, h);
  if (x < 0 || y < 0 || x + w > width || y + h > height)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "box {x %g, y %g, w %g, h %g} is outside the image (%gx%g pixels)", x, y,
                           w, h, width, height);
  return VISOR_OK;
}

/* Moves region row's box to box (checked against its image) with a new crop key, the given
 * source and whole_image flag (a moved whole-image region is one an admin drew: its vector
 * no longer stands for the whole photo); the old crop object is dropped after the commit
 * and the region embedded again. */
static visor_code move_box(visor_db_conn *conn, const json_t *row, const json_t *box,
                           const char *source, int whole_image, edit *e, visor_error *err) {
  const char *region_id = text_of(row, "id"), *image_id = text_of(row, "image_id");
  json_t *image = NULL;
  visor_code code = visor_image_get(conn, image_id, &image, err);
  if (code == VISOR_OK) code = check_box(image, box, err);
  json_decref(image);
  if (code != VISOR_OK) return code;
  double x = number_of(box, "x"), y = number_of(box, "y"), w = number_of(box, "w"),
         h = number_of(box, "h");
  char crop_key[256];
  visor_crop_key_for_box(image_id, region_id, x, y, w, h, crop_key, sizeof crop_key);
  code = visor_edit_region_set_box(conn, region_id, x, y, w, h, crop_key, source, whole_image, err);
  const char *old_key = text_of(row, "crop_key");
  if (code == VISOR_OK && old_key && strcmp(old_key, crop_key) != 0)
    json_array_append_new(e->drop_objects, json_string(old_key));
  if (code == VISOR_OK) json_array_append_new(e->reembed, json_string(region_id));
  return code;
}

static visor_code apply_region_state(visor_db_conn *conn, const char *region_id,
                                     const char *product_id, const json_t *state,
                                     visor_error *err) {
  visor_code code = visor_edit_region_set_label(
      conn, region_id, text_of(state, "label"),
      text_of(state, "source") ? text_of(state, "source") : "model", err);
  if (code == VISOR_OK)
    code = visor_edit_set_primaries(conn, product_id, json_object_get(state, "primaries"), err);
  return code;
}

static visor_code apply_region_update(visor_app *app, visor_db_conn *conn, const void *args,
                                      edit *e, visor_error *err) {
  (void)app;
  const region_args *a = args;
  json_t *row = NULL, *primaries = NULL, *after_row = NULL, *after_primaries = NULL;
  visor_code code = live_region(conn, a->region_id, &row, err);
  const char *product_id = text_of(row, "product_id");
  if (code == VISOR_OK) code = visor_edit_primary_regions(conn, product_id, &primaries, err);
  if (code == VISOR_OK) {
    e->action = "region.update";
    e->subject_kind = "region";
    snprintf(e->subject_id, sizeof e->subject_id, "%s", a->region_id);
    e->before = region_state(row, primaries);
    primaries = NULL;
    json_t *label = json_object_get(a->changes, "label");
    json_t *primary = json_object_get(a->changes, "is_primary");
    json_t *target = json_deep_copy(e->before);
    if (label) {
      json_object_set(target, "label", label);
      json_object_set_new(target, "source", json_string("admin"));
    }
    if (primary) {
      json_t *ids = json_object_get(target, "primaries");
      if (json_is_true(primary)) { /* only one primary per product: this one */
        json_array_clear(ids);
        json_array_append_new(ids, json_string(a->region_id));
      } else {
        size_t index;
        json_t *id;
        json_array_foreach(ids, index, id) if (strcmp(json_string_value(id), a->region_id) == 0) {
          json_array_remove(ids, index);
          break;
        }
      }
    }
    code = apply_region_state(conn, a->region_id, product_id, target, err);
    json_t *box = json_object_get(a->changes, "box");
    if (code == VISOR_OK && box && !same_box(box, json_object_get(e->before, "box")))
      code = move_box(conn, row, box, "admin", 0, e, err);
    json_decref(target);
  }
  if (code == VISOR_OK) code = live_region(conn, a->region_id, &after_row, err);
  if (code == VISOR_OK) code = visor_edit_primary_regions(conn, product_id, &after_primaries, err);
  if (code == VISOR_OK) {
    e->after = region_state(after_row, after_primaries);
    after_primaries = NULL;
    json_array_append_new(e->sync, json_string(a->region_id));
  }
  json_decref(after_primaries);
  json_decref(after_row);
  json_decref(primaries);
  json_decref(row);
  return code;
}

visor_code visor_correct_region(visor_app *app, const visor_correction_who *who,
                                const char *region_id, const json_t *changes,
                                visor_correction_result *out, visor_error *err) {
  region_args args = {region_id, changes};
  return run_edit(app, who, apply_region_update, &args, out, err);
}

static visor_code apply_region_delete(visor_app *app, visor_db_conn *conn, const void *args,
                                      edit *e, visor_error *err) {
  (void)app;
  const region_args *a = args;
  json_t *row = NULL;
  visor_code code = live_region(conn, a->region_id, &row, err);
  if (code == VISOR_OK) code = visor_edit_region_set_deleted(conn, a->region_id, 1, err);
  if (code == VISOR_OK) {
    e->action = "region.delete";
    e->subject_kind = "region";
    snprintf(e->subject_id, sizeof e->subject_id, "%s", a->region_id);
    json_object_del(row, "crop_key");
    json_object_del(row, "vector_id");
    e->before = row;
    row = NULL;
    e->after = json_pack("{s:b}", "deleted", 1);
    json_array_append_new(e->sync, json_string(a->region_id));
  }
  json_decref(row);
  return code;
}

visor_code visor_delete_region(visor_app *app, const visor_correction_who *who,
                               const char *region_id, visor_correction_result *out,
                               visor_error *err) {
  region_args args = {region_id, NULL};
  return run_edit(app, who, apply_region_delete, &args, out, err);
}

typedef struct create_args {
  const char *image_id;
  const json_t *fields;
} create_args;

static visor_code need_live_product(visor_db_conn *conn, const char *id, visor_error *err);

static visor_code apply_region_create(visor_app *app, visor_db_conn *conn, const void *args,
                                      edit *e, visor_error *err) {
  const create_args *a = args;
  json_t *image = NULL, *primaries = NULL, *row = NULL, *after_primaries = NULL;
  visor_code code = visor_image_get(conn, a->image_id, &image, err);
  const char *product_id = text_of(image, "product_id");
  if (code == VISOR_OK && !product_id)
    code = visor_error_set(err, VISOR_ERR_INVALID, "image %s is a query image, not a product's",
                           a->image_id);
  if (code == VISOR_OK) code = need_live_product(conn, product_id, err);
  if (code == VISOR_OK && strcmp(text_of(image, "status") ?: "", "indexed") != 0)
    code = visor_error_set(err, VISOR_ERR_CONFLICT,
                           "image %s is not indexed yet (%s): draw its boxes when it is",
                           a->image_id, text_of(image, "status") ?: "?");
  const json_t *box = json_object_get(a->fields, "box");
  if (code == VISOR_OK) code = check_box(image, box, err);
  char region_id[VISOR_UUID_LEN + 1], crop_key[256];
  visor_uuid_new(region_id);
  const char *label = text_of(a->fields, "label");
  if (code == VISOR_OK) code = visor_edit_primary_regions(conn, product_id, &primaries, err);
  if (code == VISOR_OK) {
    double x = number_of(box, "x"), y = number_of(box, "y"), w = number_of(box, "w"),
           h = number_of(box, "h");
    visor_crop_key_for_box(a->image_id, region_id, x, y, w, h, crop_key, sizeof crop_key);
    visor_region_record record = {.id = region_id,
                                  .image_id = a->image_id,
                                  .product_id = product_id,
                                  .x = x,
                                  .y = y,
                                  .w = w,
                                  .h = h,
                                  .label = label,
                                  .label_score = label ? 1.0 : 0.0,
                                  .labeller = label ? "admin" : NULL,
                                  .source = "admin",
                                  .crop_key = crop_key,
                                  .vector_id = region_id,
                                  .model = app->embedder_model};
    code = visor_region_insert(conn, &record, err);
  }
  if (code == VISOR_OK && json_is_true(json_object_get(a->fields, "is_primary"))) {
    json_t *ids = json_pack("[s]", region_id);
    code = visor_edit_set_primaries(conn, product_id, ids, err);
    json_decref(ids);
  }
  if (code == VISOR_OK) code = live_region(conn, region_id, &row, err);
  if (code == VISOR_OK) code = visor_edit_primary_regions(conn, product_id, &after_primaries, err);
  if (code == VISOR_OK) {
    e->action = "region.create";
    e->subject_kind = "region";
    snprintf(e->subject_id, sizeof e->subject_id, "%s", region_id);
    e->before = json_pack("{s:b, s:O}", "exists", 0, "primaries", primaries);
    e->after = region_state(row, after_primaries);
    after_primaries = NULL;
    json_object_set_new(e->after, "exists", json_true());
    json_object_set(e->after, "image_id", json_object_get(image, "id"));
    json_array_append_new(e->reembed, json_string(region_id));
  }
  json_decref(after_primaries);
  json_decref(row);
  json_decref(primaries);
  json_decref(image);
  return code;
}

visor_code visor_create_region(visor_app *app, const visor_correction_who *who,
                               const char *image_id, const json_t *fields,
                               visor_correction_result *out, visor_error *err) {
  create_args args = {image_id, fields};
  return run_edit(app, who, apply_region_create, &args, out, err);
}

/* ---- products and images ------------------------------------------------------------ */

typedef struct product_args {
  const char *product_id;
  const json_t *changes;
} product_args;

/* The live regions of product_id's live images. */
static visor_code product_regions(visor_db_conn *conn, const char *product_id, json_t *into,
                                  visor_error *err) {
  json_t *images = NULL, *image_ids = json_array(), *regions = NULL;
  visor_code code = visor_image_list(conn, product_id, &images, err);
  size_t index;
  json_t *image;
  json_array_foreach(code == VISOR_OK ? images : NULL, index, image)
      json_array_append(image_ids, json_object_get(image, "id"));
  if (code == VISOR_OK) code = visor_edit_regions_of_images(conn, image_ids, &regions, err);
  if (code == VISOR_OK) json_array_extend(into, regions);
  json_decref(regions);
  json_decref(image_ids);
  json_decref(images);
  return code;
}

/* Takes product id's row lock (PostgreSQL) before a read-modify-write of it. */
static visor_code lock_product(visor_db_conn *conn, const char *id, visor_error *err) {
  json_t *row = NULL;
  visor_code code = visor_edit_product_row(conn, id, &row, err);
  json_decref(row);
  return code;
}

static visor_code apply_product_update(visor_app *app, visor_db_conn *conn, const void *args,
                                       edit *e, visor_error *err) {
  const product_args *a = args;
  json_t *product = NULL;
  visor_code code = lock_product(conn, a->product_id, err);
  if (code == VISOR_OK) code = visor_product_get(conn, a->product_id, &product, err);
  if (code == VISOR_OK) {
    e->action = "product.update";
    e->subject_kind = "product";
    snprintf(e->subject_id, sizeof e->subject_id, "%s", a->product_id);
    e->before = json_object();
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)a->changes, key, value) {
      json_t *old = json_object_get(product, key);
      json_object_set(e->before, key, old ? old : json_null());
    }
    e->after = json_deep_copy(a->changes);
    code = visor_catalogue_update_product_on(app, conn, a->product_id, a->changes, e->job_id, err);
  }
  if (code == VISOR_OK) code = product_regions(conn, a->product_id, e->sync, err);
  /* Only category and labels reach the vectors: the "meta" job (if any) carries them. */
  e->queued_elsewhere = 1;
  if (code == VISOR_OK && !e->job_id[0]) json_array_clear(e->sync);
  json_decref(product);
  return code;
}

visor_code visor_correct_product(visor_app *app, const visor_correction_who *who,
                                 const char *product_id, const json_t *changes,
                                 visor_correction_result *out, visor_error *err) {
  product_args args = {product_id, changes};
  return run_edit(app, who, apply_product_update, &args, out, err);
}

/* VISOR_ERR_NOT_FOUND unless product id exists and is live. */
static visor_code need_live_product(visor_db_conn *conn, const char *id, visor_error *err) {
  json_t *row = NULL;
  visor_code code = visor_edit_product_row(conn, id, &row, err);
  if (code == VISOR_OK && json_integer_value(json_object_get(row, "deleted")))
    code = visor_error_set(err, VISOR_ERR_NOT_FOUND, "product %s not found (it is deleted)", id);
  json_decref(row);
  return code;
}

/* Moves image_ids to product_id and adds their regions to e->sync. */
static visor_code move_images(visor_db_conn *conn, const json_t *image_ids, const char *product_id,
                              edit *e, visor_error *err) {
  visor_code code = VISOR_OK;
  size_t index;
  json_t *id;
  json_array_foreach(image_ids, index, id) {
    code = visor_edit_move_image(conn, json_string_value(id), product_id, err);
    if (code != VISOR_OK) return code;
  }
  json_t *regions = NULL;
  code = visor_edit_regions_of_images(conn, image_ids, &regions, err);
  if (code == VISOR_OK) json_array_extend(e->sync, regions);
  json_decref(regions);
  return code;
}

typedef struct merge_args {
  const char *survivor_id, *from_id;
} merge_args;

static visor_code apply_merge(visor_app *app, visor_db_conn *conn, const void *args, edit *e,
                              visor_error *err) {
  (void)app;
  const merge_args *a = args;
  if (strcmp(a->survivor_id, a->from_id) == 0)
    return visor_error_set(err, VISOR_ERR_INVALID, "a product cannot be merged into itself (%s)",
                           a->survivor_id);
  visor_code code = need_live_product(conn, a->survivor_id, err);
  if (code == VISOR_OK) code = need_live_product(conn, a->from_id, err);
  json_t *images = NULL, *image_ids = json_array(), *kept = NULL, *from_primaries = NULL;
  if (code == VISOR_OK) code = visor_image_list(conn, a->from_id, &images, err);
  size_t index;
  json_t *image;
  json_array_foreach(code == VISOR_OK ? images : NULL, index, image)
      json_array_append(image_ids, json_object_get(image, "id"));
  if (code == VISOR_OK) code = visor_edit_primary_regions(conn, a->survivor_id, &kept, err);
  if (code == VISOR_OK) code = visor_edit_primary_regions(conn, a->from_id, &from_primaries, err);
  if (code == VISOR_OK) code = move_images(conn, image_ids, a->survivor_id, e, err);
  /* one primary region per product: the survivor keeps its own */
  if (code == VISOR_OK) code = visor_edit_set_primaries(conn, a->survivor_id, kept, err);
  if (code == VISOR_OK) code = visor_product_soft_delete(conn, a->from_id, err);
  if (code == VISOR_OK) {
    e->action = "product.merge";
    e->subject_kind = "product";
    snprintf(e->subject_id, sizeof e->subject_id, "%s", a->survivor_id);
    e->before = json_pack("{s:s, s:b, s:O, s:O}", "from", a->from_id, "from_deleted", 0, "images",
                          image_ids, "from_primaries", from_primaries);
    e->after =
        json_pack("{s:s, s:b, s:O}", "from", a->from_id, "from_deleted", 1, "images", image_ids);
  }
  json_decref(from_primaries);
  json_decref(kept);
  json_decref(image_ids);
  json_decref(images);
  return code;
}

visor_code visor_merge_products(visor_app *app, const visor_correction_who *who,
                                const char *survivor_id, const char *from_id,
                                visor_correction_result *out, visor_error *err) {
  merge_args args = {survivor_id, from_id};
  return run_edit(app, who, apply_merge, &args, out, err);
}

typedef struct move_args {
  const char *image_id, *product_id;
} move_args;

static visor_code apply_move(visor_app *app, visor_db_conn *conn, const void *args, edit *e,
                             visor_error *err) {
  (void)app;
  const move_args *a = args;
  json_t *image = NULL;
  visor_code code = visor_image_get(conn, a->image_id, &image, err);
  const char *from = text_of(image, "product_id");
  if (code == VISOR_OK && !from)
    code = visor_error_set(err, VISOR_ERR_INVALID, "image %s is a query image, not a product's",
                           a->image_id);
  if (code == VISOR_OK && strcmp(from, a->product_id) == 0)
    code = visor_error_set(err, VISOR_ERR_INVALID, "image %s already belongs to product %s",
                           a->image_id, a->product_id);
  if (code == VISOR_OK) code = need_live_product(conn, a->product_id, err);
  json_t *ids = json_pack("[s]", a->image_id), *kept = NULL, *from_primaries = NULL;
  if (code == VISOR_OK) code = visor_edit_primary_regions(conn, a->product_id, &kept, err);
  if (code == VISOR_OK) code = visor_edit_primary_regions(conn, from, &from_primaries, err);
  if (code == VISOR_OK) code = move_images(conn, ids, a->product_id, e, err);
  /* one primary region per product: the target keeps its own */
  if (code == VISOR_OK) code = visor_edit_set_primaries(conn, a->product_id, kept, err);
  if (code == VISOR_OK) {
    e->action = "image.move";
    e->subject_kind = "image";
    snprintf(e->subject_id, sizeof e->subject_id, "%s", a->image_id);
    e->before = json_pack("{s:s, s:O}", "product_id", from, "primaries", from_primaries);
    e->after = json_pack("{s:s}", "product_id", a->product_id);
  }
  json_decref(from_primaries);
  json_decref(kept);
  json_decref(ids);
  json_decref(image);
  return code;
}

visor_code visor_move_image(visor_app *app, const visor_correction_who *who, const char *image_id,
                            const char *product_id, visor_correction_result *out,
                            visor_error *err) {
  move_args args = {image_id, product_id};
  return run_edit(app, who, apply_move, &args, out, err);
}

/* ---- undo --------------------------------------------------------------------------- */

static visor_code changed_since(const char *audit_id, const char *what, visor_error *err) {
  return visor_error_set(err, VISOR_ERR_CONFLICT,
                         "audit entry %s cannot be undone: %s changed since", audit_id, what);
}

static visor_code undo_region_update(visor_db_conn *conn, const json_t *entry, edit *e,
                                     visor_error *err) {
  const char *region_id = text_of(entry, "subject_id");
  json_t *before = json_object_get(entry, "before"), *after = json_object_get(entry, "after");
  json_t *row = NULL, *primaries = NULL;
  visor_code code = live_region(conn, region_id, &row, err);
  if (code == VISOR_ERR_NOT_FOUND)
    code = changed_since(text_of(entry, "id"), "the region (it is deleted)", err);
  const char *product_id = text_of(row, "product_id");
  if (code == VISOR_OK) code = visor_edit_primary_regions(conn, product_id, &primaries, err);
  if (code == VISOR_OK) {
    json_t *now = region_state(row, primaries);
    primaries = NULL;
    if (!json_equal(json_object_get(now, "label"), json_object_get(after, "label")) ||
        !json_equal(json_object_get(now, "primaries"), json_object_get(after, "primaries")))
      code = changed_since(text_of(entry, "id"), "the region's label or the primary region", err);
    /* only an entry that moved the box puts it back (entries from before boxes were
     * recorded have none) */
    json_t *after_box = json_object_get(after, "box"), *before_box = json_object_get(before, "box");
    int moved = before_box && after_box && !same_box(before_box, after_box);
    if (code == VISOR_OK && moved && !same_box(json_object_get(now, "box"), after_box))
      code = changed_since(text_of(entry, "id"), "the region's box", err);
    if (code == VISOR_OK) code = apply_region_state(conn, region_id, product_id, before, err);
    if (code == VISOR_OK && moved)
      code = move_box(conn, row, before_box, text_of(before, "source") ?: "model",
                      json_is_true(json_object_get(before, "whole_image")), e, err);
    e->before = now;
    e->after = json_incref(before);
    json_array_append_new(e->sync, json_string(region_id));
  }
  json_decref(primaries);
  json_decref(row);
  return code;
}

static visor_code undo_region_create(visor_db_conn *conn, const json_t *entry, edit *e,
                                     visor_error *err) {
  const char *region_id = text_of(entry, "subject_id");
  json_t *before = json_object_get(entry, "before"), *after = json_object_get(entry, "after");
  json_t *row = NULL, *primaries = NULL;
  visor_code code = live_region(conn, region_id, &row, err);
  if (code == VISOR_ERR_NOT_FOUND)
    code = changed_since(text_of(entry, "id"), "the region (it is deleted)", err);
  const char *product_id = text_of(row, "product_id");
  if (code == VISOR_OK) code = visor_edit_primary_regions(conn, product_id, &primaries, err);
  if (code == VISOR_OK) code = visor_edit_region_set_deleted(conn, region_id, 1, err);
  /* the primary region comes back unless it was changed since */
  if (code == VISOR_OK && json_equal(primaries, json_object_get(after, "primaries")))
    code = visor_edit_set_primaries(conn, product_id, json_object_get(before, "primaries"), err);
  if (code == VISOR_OK) {
    e->before = json_pack("{s:b}", "exists", 1);
    e->after = json_pack("{s:b}", "exists", 0);
    json_array_append_new(e->sync, json_string(region_id));
  }
  json_decref(primaries);
  json_decref(row);
  return code;
}

static visor_code undo_region_delete(visor_db_conn *conn, const json_t *entry, edit *e,
                                     visor_error *err) {
  const char *region_id = text_of(entry, "subject_id");
  json_t *row = NULL, *image = NULL;
  visor_code code = visor_edit_region_row(conn, region_id, &row, err);
  if (code == VISOR_ERR_NOT_FOUND ||
      (code == VISOR_OK && !json_integer_value(json_object_get(row, "deleted"))))
    code = changed_since(text_of(entry, "id"), "the region (it was removed or restored)", err);
  if (code == VISOR_OK) code = visor_image_get(conn, text_of(row, "image_id"), &image, err);
  if (code == VISOR_ERR_NOT_FOUND)
    code = changed_since(text_of(entry, "id"), "the region's image (it is deleted)", err);
  /* a primary region restored where another region became primary since comes back as
   * a plain one: one primary per product */
  json_t *primaries = NULL;
  const char *product_id = text_of(row, "product_id");
  if (code == VISOR_OK) code = visor_edit_primary_regions(conn, product_id, &primaries, err);
  if (code == VISOR_OK) code = visor_edit_region_set_deleted(conn, region_id, 0, err);
  if (code == VISOR_OK && json_integer_value(json_object_get(row, "is_primary")) &&
      json_array_size(primaries) > 0)
    code = visor_edit_set_primaries(conn, product_id, primaries, err);
  json_decref(primaries);
  if (code == VISOR_OK) {
    e->before = json_pack("{s:b}", "deleted", 1);
    e->after = json_pack("{s:b}", "deleted", 0);
    json_array_append_new(e->sync, json_string(region_id));
  }
  json_decref(image);
  json_decref(row);
  return code;
}

static visor_code undo_product_update(visor_app *app, visor_db_conn *conn, const json_t *entry,
                                      edit *e, visor_error *err) {
  const char *product_id = text_of(entry, "subject_id");
  json_t *before = json_object_get(entry, "before"), *after = json_object_get(entry, "after");
  json_t *product = NULL;
  visor_code code = lock_product(conn, product_id, err);
  if (code == VISOR_OK) code = visor_product_get(conn, product_id, &product, err);
  if (code == VISOR_ERR_NOT_FOUND)
    code = changed_since(text_of(entry, "id"), "the product (it is deleted)", err);
  const char *key;
  json_t *value;
  json_object_foreach(code == VISOR_OK ? after : NULL, key, value) {
    json_t *now = json_object_get(product, key);
    int same = json_equal(now ? now : json_null(), value) ||
               (json_is_number(now) && json_is_number(value) &&
                json_number_value(now) == json_number_value(value));
    if (!same) {
      char what[160];
      snprintf(what, sizeof what, "the product's %s", key);
      code = changed_since(text_of(entry, "id"), what, err);
      break;
    }
  }
  if (code == VISOR_OK)
    code = visor_catalogue_update_product_on(app, conn, product_id, before, e->job_id, err);
  if (code == VISOR_OK && e->job_id[0]) code = product_regions(conn, product_id, e->sync, err);
  e->queued_elsewhere = 1;
  if (code == VISOR_OK) {
    e->before = json_incref(after);
    e->after = json_incref(before);
  }
  json_decref(product);
  return code;
}

static visor_code undo_merge(visor_db_conn *conn, const json_t *entry, edit *e, visor_error *err) {
  const char *survivor = text_of(entry, "subject_id");
  json_t *before = json_object_get(entry, "before");
  const char *from = text_of(before, "from");
  json_t *image_ids = json_object_get(before, "images");
  json_t *row = NULL;
  visor_code code = need_live_product(conn, survivor, err);
  if (code == VISOR_ERR_NOT_FOUND)
    code = changed_since(text_of(entry, "id"), "the surviving product (it is deleted)", err);
  if (code == VISOR_OK) code = visor_edit_product_row(conn, from, &row, err);
  if (code == VISOR_OK && !json_integer_value(json_object_get(row, "deleted")))
    code = changed_since(text_of(entry, "id"), "the merged product (it is live again)", err);
  size_t index;
  json_t *id;
  json_array_foreach(code == VISOR_OK ? image_ids : NULL, index, id) {
    json_t *image = NULL;
    code = visor_image_get(conn, json_string_value(id), &image, err);
    const char *owner = text_of(image, "product_id");
    if (code == VISOR_ERR_NOT_FOUND || (code == VISOR_OK && (!owner || strcmp(owner, survivor))))
      code =
          changed_since(text_of(entry, "id"), "one of the merged images (deleted or moved)", err);
    json_decref(image);
    if (code != VISOR_OK) break;
  }
  if (code == VISOR_OK) code = visor_edit_product_restore(conn, from, err);
  if (code == VISOR_OK) code = move_images(conn, image_ids, from, e, err);
  json_t *from_primaries = json_object_get(before, "from_primaries");
  if (code == VISOR_OK && from_primaries)
    code = visor_edit_set_primaries(conn, from, from_primaries, err);
  if (code == VISOR_OK) {
    e->before = json_incref(json_object_get(entry, "after"));
    e->after = json_incref(before);
  }
  json_decref(row);
  return code;
}

static visor_code undo_move(visor_db_conn *conn, const json_t *entry, edit *e, visor_error *err) {
  const char *image_id = text_of(entry, "subject_id");
  const char *back_to = text_of(json_object_get(entry, "before"), "product_id");
  const char *moved_to = text_of(json_object_get(entry, "after"), "product_id");
  json_t *image = NULL;
  visor_code code = visor_image_get(conn, image_id, &image, err);
  const char *owner = text_of(image, "product_id");
  if (code == VISOR_ERR_NOT_FOUND ||
      (code == VISOR_OK && (!owner || !moved_to || strcmp(owner, moved_to))))
    code = changed_since(text_of(entry, "id"), "the image (deleted or moved again)", err);
  if (code == VISOR_OK && back_to) code = need_live_product(conn, back_to, err);
  if (code == VISOR_ERR_NOT_FOUND)
    code = changed_since(text_of(entry, "id"), "the image's first product (it is deleted)", err);
  json_t *ids = json_pack("[s]", image_id);
  if (code == VISOR_OK) code = move_images(conn, ids, back_to, e, err);
  json_t *primaries = json_object_get(json_object_get(entry, "before"), "primaries");
  if (code == VISOR_OK && primaries) code = visor_edit_set_primaries(conn, back_to, primaries, err);
  if (code == VISOR_OK) {
    e->before = json_incref(json_object_get(entry, "after"));
    e->after = json_incref(json_object_get(entry, "before"));
  }
  json_decref(ids);
  json_decref(image);
  return code;
}

static visor_code apply_undo(visor_app *app, visor_db_conn *conn, const void *args, edit *e,
                             visor_error *err) {
  const char *audit_id = args;
  json_t *entry = NULL;
  visor_code code = visor_audit_get(conn, audit_id, &entry, err);
  if (code != VISOR_OK) return code;
  const char *action = text_of(entry, "action");
  int marked = 0;
  if (strcmp(action, "undo") == 0)
    code =
        visor_error_set(err, VISOR_ERR_CONFLICT,
                        "audit entry %s is an undo; make the correction again instead", audit_id);
  else if (strcmp(action, "reindex") == 0) /* service/reindex.c: new vectors, nothing to restore */
    code = visor_error_set(err, VISOR_ERR_CONFLICT, "audit entry %s is a re-index: not undoable",
                           audit_id);
  /* Marking first makes two concurrent undos of one entry conflict: the second waits for
   * the first's row lock and then finds it undone. */
  if (code == VISOR_OK) code = visor_audit_mark_undone(conn, audit_id, e->actor, &marked, err);
  if (code == VISOR_OK && !marked)
    code = visor_error_set(err, VISOR_ERR_CONFLICT, "audit entry %s was undone already", audit_id);
  if (code == VISOR_OK) {
    if (strcmp(action, "region.update") == 0)
      code = undo_region_update(conn, entry, e, err);
    else if (strcmp(action, "region.delete") == 0)
      code = undo_region_delete(conn, entry, e, err);
    else if (strcmp(action, "region.create") == 0)
      code = undo_region_create(conn, entry, e, err);
    else if (strcmp(action, "product.update") == 0)
      code = undo_product_update(app, conn, entry, e, err);
    else if (strcmp(action, "product.merge") == 0)
      code = undo_merge(conn, entry, e, err);
    else if (strcmp(action, "image.move") == 0)
      code = undo_move(conn, entry, e, err);
    else if (visor_feedback_is_action(action))
      code = visor_feedback_undo(app, conn, entry, e, err);
    else
      code = visor_error_set(err, VISOR_ERR_INTERNAL, "audit entry %s: unknown action %s", audit_id,
                             action);
  }
  if (code == VISOR_OK) {
    e->action = "undo";
    /* the same subject (static strings: entry is freed below) */
    const char *kind = text_of(entry, "subject_kind");
    e->subject_kind = strcmp(kind, "region") == 0    ? "region"
                      : strcmp(kind, "product") == 0 ? "product"
                                                     : "image";
    snprintf(e->subject_id, sizeof e->subject_id, "%s", text_of(entry, "subject_id"));
    snprintf(e->undo_of, sizeof e->undo_of, "%s", audit_id);
  }
  json_decref(entry);
  return code;
}

visor_code visor_undo_correction(visor_app *app, const visor_correction_who *who,
                                 const char *audit_id, visor_correction_result *out,
                                 visor_error *err) {
  return run_edit(app, who, apply_undo, audit_id, out, err);
}
