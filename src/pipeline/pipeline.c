/* pipeline.c: registers the pipelines' task handlers with a worker pool. The ML backend
 * and the vector store they need are opened with the app (VISOR_PIPELINE_APP_PARTS). */
#include "pipeline/pipeline.h"

visor_code visor_pipeline_register_index(visor_app *app, visor_worker_pool *pool, visor_error *err);
visor_code visor_pipeline_register_search(visor_app *app, visor_worker_pool *pool,
                                          visor_error *err);

visor_code visor_pipeline_register(visor_app *app, visor_worker_pool *pool, visor_error *err) {
  if (!app->ml || !app->vectors)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "the pipelines need the ML backend and the vector store");
  visor_code code = visor_pipeline_register_index(app, pool, err);
  if (code == VISOR_OK) code = visor_pipeline_register_search(app, pool, err);
  return code;
}
