/* pipeline_util.h: what the pipelines share: read a job's payload, a region's labels. */
#ifndef VISOR_PIPELINE_PIPELINE_UTIL_H
#define VISOR_PIPELINE_PIPELINE_UTIL_H

#include <jansson.h>

#include "app/app.h"
#include "jobs/worker.h"
#include "ml/ml.h"

/* The job's payload object (caller decrefs). */
visor_code visor_pipeline_payload(visor_app *app, visor_job_run *run, json_t **payload,
                                  visor_error *err);
/* A string field of the payload that must be a UUID. */
visor_code visor_pipeline_payload_id(const json_t *payload, const char *field, const char **id,
                                     visor_error *err);

/* A region's labels as the region row keeps them: [{"name","score"}...] (caller frees). */
char *visor_pipeline_labels_json(const visor_region *region);

#endif
