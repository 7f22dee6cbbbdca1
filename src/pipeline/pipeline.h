/* pipeline.h: the task handlers of the workers: the indexing pipeline ("index": image →
 * regions, crops, vectors) and the search pipeline ("search": query image → results per
 * region). visor_pipeline_register opens what they need (ML, vectors) on the app and
 * registers them with a worker pool. */
#ifndef VISOR_PIPELINE_PIPELINE_H
#define VISOR_PIPELINE_PIPELINE_H

#include "api/app.h"

/* The app parts a process that runs pipelines needs (visor_app_open's parts). */
#define VISOR_PIPELINE_APP_PARTS (VISOR_APP_ML | VISOR_APP_VECTORS)

visor_code visor_pipeline_register(visor_app *app, visor_worker_pool *pool, visor_error *err);

#endif
