/* catalogue.c: building the evaluation catalogue in a fresh Visor: one product per class
 * with its images (the iconic image, and the class's train photos when asked), each
 * stored in the object store with an image row and a queued index job, exactly as the
 * API's product upload does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/fsutil.h"
#include "core/uuid.h"
#include "eval/eval_internal.h"
#include "service/catalogue.h"
#include "store/catalog.h"

#define MAX_IMAGE_BYTES (64u * 1024 * 1024)

/* Stores the image file at path for product_id and queues its index job, on conn. */
static visor_code add_image(visor_app *app, visor_db_conn *conn, const char *product_id,
                            const char *path, visor_error *err) {
  char *bytes = NULL;
  size_t len = 0;
  visor_code code = visor_read_file(path, MAX_IMAGE_BYTES, &bytes, &len, err);
  if (code != VISOR_OK) return code;
  const char *filename = strrchr(path, '/');
  visor_stored_image image;
  char job_id[40];
  code = visor_catalogue_store_bytes(app, bytes, len, filename ? filename + 1 : path, &image, err);
  if (code == VISOR_OK)
    code = visor_catalogue_add_image(app, conn, product_id, &image.record, job_id, err);
  free(bytes);
  if (code != VISOR_OK) visor_error_wrap(err, "catalogue image %s", path);
  return code;
}

/* One product with its images in one transaction. */
static visor_code add_product(visor_app *app, const visor_eval_dataset *dataset, size_t class_index,
                              visor_eval_catalogue catalogue, const char *product_id,
                              size_t *images, visor_error *err) {
  const visor_eval_class *class = &dataset->classes[class_index];
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  json_t *product =
      json_pack("{s:s, s:s, s:s, s:s}", "sku", class->name, "name", class->name, "category",
                class->coarse_name, "description", "visor eval catalogue product");
  visor_code code =
      product ? visor_db_begin(conn, err) : visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  size_t added = 0;
  if (code == VISOR_OK) code = visor_product_insert(conn, product_id, product, err);
  if (code == VISOR_OK &&
      (code = add_image(app, conn, product_id, class->iconic_path, err)) == VISOR_OK)
    added++;
  for (size_t i = 0;
       code == VISOR_OK && catalogue == VISOR_EVAL_ICONIC_TRAIN && i < dataset->train_count; i++) {
    if (dataset->train[i].fine_id != class->fine_id) continue;
    if ((code = add_image(app, conn, product_id, dataset->train[i].path, err)) == VISOR_OK) added++;
  }
  if (code == VISOR_OK)
    code = visor_db_commit(conn, err);
  else if (product)
    visor_db_rollback(conn);
  visor_db_release(conn);
  json_decref(product);
  if (code == VISOR_OK) *images += added;
  if (code == VISOR_OK) visor_app_jobs_committed(app);
  return code;
}

visor_code visor_eval_add_catalogue(visor_app *app, const visor_eval_dataset *dataset,
                                    visor_eval_catalogue catalogue,
                                    visor_eval_product_id *product_ids, size_t *images,
                                    visor_error *err) {
  *images = 0;
  visor_code code = VISOR_OK;
  for (size_t i = 0; code == VISOR_OK && i < dataset->class_count; i++) {
    visor_uuid_new(product_ids[i]);
    code = add_product(app, dataset, i, catalogue, product_ids[i], images, err);
  }
  return code;
}
