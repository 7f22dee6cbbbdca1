/* sync.c: the "sync" task: after an admin correction (src/service/corrections.c) it brings
 * the vectors of the regions the correction touched in line with the rows (set_meta,
 * remove, or embed again: src/service/region_vectors.c; a moved or drawn box is embedded
 * again and its crop cut again). The correction already tried
 * once right after its commit; this task is what makes a failure there recoverable. */
#include "pipeline/pipeline.h"
#include "pipeline/pipeline_util.h"
#include "service/region_vectors.h"

static visor_code run_sync(void *ctx, visor_job_run *run, visor_error *err) {
  visor_app *app = ctx;
  json_t *payload = NULL;
  visor_code code = visor_pipeline_payload(app, run, &payload, err);
  json_t *region_ids = json_object_get(payload, "region_ids");
  if (code == VISOR_OK && !json_is_array(region_ids))
    code = visor_error_set(err, VISOR_ERR_INVALID, "sync task: payload has no region_ids array");
  json_t *reembed_ids = json_object_get(payload, "reembed_ids"); /* boxes an admin moved */
  if (code == VISOR_OK && reembed_ids && !json_is_array(reembed_ids))
    code = visor_error_set(err, VISOR_ERR_INVALID, "sync task: reembed_ids is not an array");
  if (code == VISOR_OK && reembed_ids) code = visor_region_vectors_reembed(app, reembed_ids, err);
  if (code == VISOR_OK) code = visor_region_vectors_sync(app, region_ids, err);
  json_decref(payload);
  return code;
}

visor_code visor_pipeline_register_sync(visor_app *app, visor_worker_pool *pool, visor_error *err) {
  return visor_worker_pool_register(pool, "sync", run_sync, app, err);
}
