/* catalogue.c: the catalogue service (see catalogue.h). */
#include "service/catalogue.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "core/uuid.h"
#include "jobs/job_state.h"
#include "service/region_vectors.h"
#include "store/regions.h"

visor_code visor_catalogue_store_bytes(visor_app *app, const void *bytes, size_t len,
                                       const char *filename, visor_stored_image *out,
                                       visor_error *err) {
  memset(out, 0, sizeof *out);
  visor_code code = visor_image_probe(bytes, len, app->max_pixels, &out->info, err);
  if (code == VISOR_OK)
    code = visor_image_check_decode(&out->info, VISOR_IMAGE_WORK_SIDE,
                                    (uint64_t)app->config->max_decode_pixels, err);
  if (code != VISOR_OK) return code;
  visor_uuid_new(out->id);
  snprintf(out->object_key, sizeof out->object_key, "images/%s/original", out->id);
  code = visor_blob_put(app->blobs, out->object_key, bytes, len, err);
  if (code != VISOR_OK) return code;
  gchar *digest = g_compute_checksum_for_data(G_CHECKSUM_SHA256, bytes, len);
  if (!digest) return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  snprintf(out->sha256, sizeof out->sha256, "%s", digest);
  g_free(digest);
  snprintf(out->content_type, sizeof out->content_type, "image/%s", out->info.format);
  out->record = (visor_image_record){.id = out->id,
                                     .purpose = "product",
                                     .object_key = out->object_key,
                                     .filename = filename,
                                     .content_type = out->content_type,
                                     .width = out->info.width,
                                     .height = out->info.height,
                                     .format = out->info.format,
                                     .size_bytes = (int64_t)len,
                                     .sha256 = out->sha256};
  return VISOR_OK;
}

static visor_code queue_index_job(visor_app *app, visor_db_conn *conn, const char *image_id,
                                  const char *product_id, char job_id[40], visor_error *err) {
  char payload[160];
  snprintf(payload, sizeof payload, "{\"image_id\":\"%s\",\"product_id\":\"%s\"}", image_id,
           product_id);
  return visor_jobs_create(conn, "index", image_id, payload, app->job_attempts, job_id, err);
}

visor_code visor_catalogue_add_image(visor_app *app, visor_db_conn *conn, const char *product_id,
                                     visor_image_record *image, char job_id[40], visor_error *err) {
  visor_code code = queue_index_job(app, conn, image->id, product_id, job_id, err);
  image->product_id = product_id;
  image->job_id = job_id;
  if (code == VISOR_OK) code = visor_image_insert(conn, image, err);
  return code;
}

visor_code visor_catalogue_reindex_image(visor_app *app, visor_db_conn *conn, const char *image_id,
                                         const char *product_id, char job_id[40],
                                         visor_error *err) {
  return queue_index_job(app, conn, image_id, product_id, job_id, err);
}

visor_code visor_catalogue_update_product_on(visor_app *app, visor_db_conn *conn, const char *id,
                                             const json_t *changes, char job_id[40],
                                             visor_error *err) {
  job_id[0] = '\0';
  int vectors_change = json_object_get(changes, "category") != NULL ||
                       json_object_get(changes, "labels") != NULL ||
                       json_object_get(changes, "price") != NULL;
  visor_code code = visor_product_update(conn, id, changes, err);
  if (code == VISOR_OK && vectors_change) {
    char payload[96];
    snprintf(payload, sizeof payload, "{\"product_id\":\"%s\"}", id);
    code = visor_jobs_create(conn, "meta", id, payload, app->job_attempts, job_id, err);
  }
  return code;
}

visor_code visor_catalogue_update_product(visor_app *app, const char *id, const json_t *changes,
                                          json_t **product, char job_id[40], visor_error *err) {
  *product = NULL;
  job_id[0] = '\0';
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  visor_code code = visor_db_begin(conn, err);
  if (code == VISOR_OK)
    code = visor_catalogue_update_product_on(app, conn, id, changes, job_id, err);
  if (code == VISOR_OK)
    code = visor_db_commit(conn, err);
  else
    visor_db_rollback(conn);
  if (code == VISOR_OK) code = visor_product_get(conn, id, product, err);
  visor_db_release(conn);
  if (code == VISOR_OK && job_id[0]) visor_app_jobs_committed(app);
  if (code != VISOR_OK) job_id[0] = '\0';
  return code;
}

visor_code visor_catalogue_remove_region_data(visor_app *app, const json_t *keys,
                                              visor_error *err) {
  visor_code code = VISOR_OK;
  size_t index;
  json_t *key;
  json_array_foreach(keys, index, key) {
    const char *vector_id = json_string_value(json_object_get(key, "vector_id"));
    const char *crop_key = json_string_value(json_object_get(key, "crop_key"));
    if (vector_id && app->vectors &&
        (code = visor_region_vector_remove(app, vector_id, err)) != VISOR_OK)
      return code;
    if (crop_key) visor_blob_remove(app->blobs, crop_key, NULL);
  }
  return code;
}

visor_code visor_catalogue_delete_image(visor_app *app, const char *image_id, visor_error *err) {
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  json_t *image = NULL, *keys = NULL;
  char cleanup_job[40];
  visor_code code = visor_db_begin(conn, err);
  if (code == VISOR_OK) code = visor_image_get(conn, image_id, &image, err);
  if (code == VISOR_OK) code = visor_image_soft_delete(conn, image_id, err);
  if (code == VISOR_OK) code = visor_region_keys(conn, image_id, &keys, err);
  if (code == VISOR_OK) code = visor_region_soft_delete_for_image(conn, image_id, err);
  const char *job_id = image ? json_string_value(json_object_get(image, "job_id")) : NULL;
  const char *product_id = image ? json_string_value(json_object_get(image, "product_id")) : NULL;
  int cancelled = 0;
  if (code == VISOR_OK && job_id) code = visor_jobs_cancel(conn, job_id, &cancelled, err);
  /* Without the vector store here, a worker removes the vectors: an index job of a deleted
   * image cleans up after it and writes nothing. */
  int queued_cleanup = 0;
  if (code == VISOR_OK && !app->vectors && product_id && json_array_size(keys)) {
    code = queue_index_job(app, conn, image_id, product_id, cleanup_job, err);
    queued_cleanup = code == VISOR_OK;
  }
  if (code == VISOR_OK)
    code = visor_db_commit(conn, err);
  else
    visor_db_rollback(conn);
  visor_db_release(conn);
  if (code == VISOR_OK && cancelled && job_id)
    app->queue->ops->cancel(app->queue, job_id, NULL, NULL);
  if (code == VISOR_OK && queued_cleanup) visor_app_jobs_committed(app);
  /* Vectors go now where this process has them; searches skip deleted regions anyway. */
  if (code == VISOR_OK && app->vectors) visor_catalogue_remove_region_data(app, keys, NULL);
  json_decref(keys);
  json_decref(image);
  return code;
}
