/* app.c: opening and closing the application's backends (see app.h). */
#include "api/app.h"

#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "core/uuid.h"
#include "store/jobs.h"
#include "store/migrate.h"

visor_code visor_app_open(visor_app *app, const visor_config *config, unsigned parts, int migrate,
                          visor_error *err) {
  (void)parts;
  memset(app, 0, sizeof *app);
  app->config = config;
  app->max_upload_bytes = (size_t)config->max_upload_mb * 1024 * 1024;
  app->max_pixels = (size_t)config->max_pixels;
  app->job_attempts = (int)config->job_attempts;
  visor_code code = visor_mkdirs(config->data_dir, err);
  if (code != VISOR_OK) return visor_error_wrap(err, "data folder");
  app->db = visor_db_open(config->metadata_url, err);
  if (!app->db) goto fail;
  if (migrate && (code = visor_migrate(app->db, NULL, err)) != VISOR_OK) goto fail;
  int64_t version = 0;
  if ((code = visor_schema_version(app->db, &version, err)) != VISOR_OK) goto fail;
  if (version < visor_latest_schema_version()) {
    code = visor_error_set(err, VISOR_ERR_UNAVAILABLE,
                           "the metadata store is at schema version %lld, Visor needs %lld: run `visor migrate`",
                           (long long)version, (long long)visor_latest_schema_version());
    goto fail;
  }
  app->blobs = visor_blob_open(config->blob_url, err);
  if (!app->blobs) goto fail;
  app->queue = visor_queue_open(config->queue_url, app->db, err);
  if (!app->queue) goto fail;
  return VISOR_OK;
fail:
  visor_app_close(app);
  return err->code ? err->code : VISOR_ERR_INTERNAL;
}

void visor_app_close(visor_app *app) {
  if (app->workers) visor_worker_pool_free(app->workers);
  visor_queue_close(app->queue);
  visor_blob_close(app->blobs);
  visor_db_close(app->db);
  app->workers = NULL;
  app->queue = NULL;
  app->blobs = NULL;
  app->db = NULL;
}

visor_code visor_app_queue_job(visor_app *app, visor_db_conn *conn, const char *kind,
                               const char *subject_id, const char *payload, char *job_id,
                               visor_error *err) {
  visor_uuid_new(job_id);
  visor_code code = visor_job_insert(conn, job_id, kind, subject_id, payload, app->job_attempts, err);
  if (code == VISOR_OK) code = app->queue->ops->enqueue(app->queue, conn, job_id, kind, 0, err);
  return code;
}

void visor_app_notify_workers(visor_app *app) {
  visor_worker_pool_wake(app->workers);
}
