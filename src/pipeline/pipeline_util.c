/* pipeline_util.c: shared pipeline helpers (see pipeline_util.h). */
#include "pipeline/pipeline_util.h"

#include "core/uuid.h"
#include "store/jobs.h"

visor_code visor_pipeline_payload(visor_app *app, visor_job_run *run, json_t **payload,
                                  visor_error *err) {
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  json_t *job = NULL;
  visor_code code = visor_job_get(conn, visor_job_run_task(run)->id, &job, err);
  visor_db_release(conn);
  if (code != VISOR_OK) return code;
  *payload = json_incref(json_object_get(job, "payload"));
  json_decref(job);
  if (!json_is_object(*payload)) {
    json_decref(*payload);
    return visor_error_set(err, VISOR_ERR_INVALID, "job %s has no payload object",
                           visor_job_run_task(run)->id);
  }
  return VISOR_OK;
}

visor_code visor_pipeline_payload_id(const json_t *payload, const char *field, const char **id,
                                     visor_error *err) {
  *id = json_string_value(json_object_get(payload, field));
  if (!visor_uuid_valid(*id))
    return visor_error_set(err, VISOR_ERR_INVALID, "job payload has no valid '%s'", field);
  return VISOR_OK;
}

char *visor_pipeline_labels_json(const visor_region *region) {
  json_t *labels = json_array();
  for (size_t i = 0; i < region->label_count; i++)
    json_array_append_new(labels, json_pack("{s:s, s:f}", "name", region->labels[i].name, "score",
                                            (double)region->labels[i].score));
  char *text = json_dumps(labels, JSON_COMPACT);
  json_decref(labels);
  return text;
}
