/* pipeline.h: the task handlers of the workers: the indexing pipeline ("index": image →
 * regions, crops, vectors) and the search pipeline ("search": query image → results per
 * region). visor_pipeline_register opens what they need (ML, vectors) on the app and
 * registers them with a worker pool. */
#ifndef VISOR_PIPELINE_PIPELINE_H
#define VISOR_PIPELINE_PIPELINE_H

#include "app/app.h"

/* The app parts a process that runs pipelines needs (visor_app_open's parts). */
#define VISOR_PIPELINE_APP_PARTS (VISOR_APP_ML | VISOR_APP_VECTORS)

/* Registers the handlers of the kinds in app->config->kinds ("index,search"). */
visor_code visor_pipeline_register(visor_app *app, visor_worker_pool *pool, visor_error *err);
/* VISOR_ERR_INVALID naming the first unknown kind of a comma-separated list. */
visor_code visor_pipeline_check_kinds(const char *kinds, visor_error *err);

#endif
