/* meta.c: the "meta" task: after a product's category, labels or price changed, rewrites the
 * metadata of every vector of its live regions (set_meta keeps the vectors), raw and
 * projected (service/region_vectors.h), so search filters follow the change. Idempotent: it writes
 * what the product says now. A vector not there yet (its index task is between writing the region
 * rows and the vectors) is left to that task, which re-reads the product after writing them. */
#include "pipeline/pipeline.h"
#include "pipeline/pipeline_util.h"
#include "pipeline/product_meta.h"
#include "service/region_vectors.h"
#include "store/regions.h"

static visor_code rewrite_meta(void *ctx, visor_job_run *run, visor_error *err) {
  visor_app *app = ctx;
  json_t *payload = NULL, *regions = NULL;
  const char *product_id = NULL;
  visor_product_meta meta = {0};
  visor_code code = visor_pipeline_payload(app, run, &payload, err);
  if (code == VISOR_OK) code = visor_pipeline_payload_id(payload, "product_id", &product_id, err);
  if (code == VISOR_OK) code = visor_product_meta_load(app, product_id, &meta, err);
  if (code == VISOR_ERR_NOT_FOUND) { /* deleted: its results are hidden anyway */
    json_decref(payload);
    return VISOR_OK;
  }
  visor_db_conn *conn = code == VISOR_OK ? visor_db_acquire(app->db, err) : NULL;
  if (code == VISOR_OK && !conn) code = visor_db_acquire_failed(err);
  if (conn) {
    code = visor_region_vectors_of_product(conn, product_id, &regions, err);
    visor_db_release(conn);
  }
  size_t index, total = json_array_size(regions);
  json_t *region;
  json_array_foreach(code == VISOR_OK ? regions : NULL, index, region) {
    const char *vector_id = json_string_value(json_object_get(region, "vector_id"));
    visor_region_meta vector_meta;
    code = visor_region_meta_make(app, product_id, &meta,
                                  json_string_value(json_object_get(region, "label")), &vector_meta,
                                  err);
    if (code == VISOR_OK)
      code =
          visor_region_vector_set_meta(app, json_string_value(json_object_get(region, "image_id")),
                                       vector_id, &vector_meta.meta, err);
    visor_region_meta_free(&vector_meta);
    if (code == VISOR_ERR_NOT_FOUND) code = VISOR_OK;
    if (code != VISOR_OK) break;
    if (index % 16 == 15) visor_job_run_progress(run, (double)(index + 1) / (double)total);
  }
  json_decref(regions);
  json_decref(payload);
  visor_product_meta_free(&meta);
  return code;
}

visor_code visor_pipeline_register_meta(visor_app *app, visor_worker_pool *pool, visor_error *err) {
  return visor_worker_pool_register(pool, "meta", rewrite_meta, app, err);
}
