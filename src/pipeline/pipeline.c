/* pipeline.c: registers the pipelines' task handlers with a worker pool. */
#include "pipeline/pipeline.h"

visor_code visor_pipeline_register(visor_app *app, visor_worker_pool *pool, visor_error *err) {
  (void)app, (void)pool, (void)err;
  return VISOR_OK;
}

void visor_pipeline_close(visor_app *app) {
  (void)app;
}
