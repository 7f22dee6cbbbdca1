/* app.c: opening and closing the application's backends (see app.h). */
#include "app/app.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "core/fsutil.h"
#include "image/image.h"
#include "ml/ml.h"
#include "vector/vector.h"
#include "store/migrate.h"

/* The vector collection of an embedder: "name@version" with characters outside
 * [A-Za-z0-9._-] replaced, so a model change starts a new collection (a re-index). */
void visor_app_collection_name(const char *model, char *out, size_t size) {
  size_t i = 0;
  for (; model[i] && i + 1 < size; i++) {
    char c = model[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-';
    out[i] = ok ? c : '_';
  }
  out[i] = '\0';
}

static visor_code open_ml_and_vectors(visor_app *app, const visor_config *config, unsigned parts,
                                      visor_error *err) {
  visor_code code = visor_image_init(err);
  if (code != VISOR_OK) return code;
  visor_ml_config ml = {.url = config->ml_url,
                        .models_dir = config->models_dir,
                        .manifest = config->model_manifest,
                        .intra_op_threads = (int)config->ml_threads,
                        .max_pixels = (size_t)config->max_pixels};
  app->ml = visor_ml_open(&ml, err);
  if (!app->ml) return visor_error_wrap(err, "ML backend %s", config->ml_url);
  code = app->ml->ops->embedder_info(app->ml, &app->embedder, err);
  if (code != VISOR_OK) return code;
  snprintf(app->embedder_model, sizeof app->embedder_model, "%s@%s", app->embedder.name,
           app->embedder.version);
  if (!(parts & VISOR_APP_VECTORS)) return VISOR_OK;
  char collection[160];
  visor_app_collection_name(app->embedder_model, collection, sizeof collection);
  app->vectors = visor_vector_open(config->vector_url, collection, app->embedder.dim, NULL, err);
  if (!app->vectors) return visor_error_wrap(err, "vector store %s", config->vector_url);
  return VISOR_OK;
}

visor_code visor_app_check_urls(const visor_config *config, visor_error *err) {
  if (!visor_db_url_supported(config->metadata_url, err) ||
      !visor_queue_url_supported(config->queue_url, err) ||
      !visor_blob_url_supported(config->blob_url, err) ||
      !visor_vector_url_supported(config->vector_url, err) ||
      !visor_ml_url_supported(config->ml_url, err))
    return err->code;
  return VISOR_OK;
}

static void wake_workers(void *ctx) {
  visor_app *app = ctx;
  pthread_mutex_lock(&app->events_lock);
  visor_worker_pool_wake(app->workers);
  pthread_mutex_unlock(&app->events_lock);
}

static visor_code check_schema(visor_app *app, visor_app_schema schema, visor_error *err) {
  visor_code code = VISOR_OK;
  if (schema == VISOR_APP_MIGRATE && (code = visor_migrate(app->db, NULL, err)) != VISOR_OK)
    return code;
  int64_t version = 0;
  if ((code = visor_schema_version(app->db, &version, err)) != VISOR_OK) return code;
  if (version < visor_latest_schema_version())
    return visor_error_set(
        err, VISOR_ERR_UNAVAILABLE,
        "the metadata store is at schema version %lld, Visor needs %lld: run `visor migrate`",
        (long long)version, (long long)visor_latest_schema_version());
  return VISOR_OK;
}

visor_code visor_app_open(visor_app *app, const visor_config *config, unsigned parts,
                          visor_app_schema schema, visor_error *err) {
  memset(app, 0, sizeof *app);
  pthread_mutex_init(&app->events_lock, NULL);
  pthread_cond_init(&app->events, NULL);
  app->config = config;
  app->max_upload_bytes = (size_t)config->max_upload_mb * 1024 * 1024;
  app->max_pixels = (size_t)config->max_pixels;
  app->job_attempts = (int)config->job_attempts;
  visor_code code = visor_app_check_urls(config, err);
  if (code != VISOR_OK) return code;
  code = visor_mkdirs(config->data_dir, err);
  if (code != VISOR_OK) return visor_error_wrap(err, "data folder");
  app->db = visor_db_open(config->metadata_url, err);
  if (!app->db) goto fail;
  if (check_schema(app, schema, err) != VISOR_OK) goto fail;
  app->blobs = visor_blob_open(config->blob_url, err);
  if (!app->blobs) goto fail;
  app->queue = visor_queue_open(config->queue_url, app->db, err);
  if (!app->queue) goto fail;
  if ((parts & (VISOR_APP_ML | VISOR_APP_VECTORS)) &&
      open_ml_and_vectors(app, config, parts, err) != VISOR_OK)
    goto fail;
  app->relay =
      visor_outbox_relay_start(app->db, app->queue, config->relay_ms, wake_workers, app, err);
  if (!app->relay) goto fail;
  return VISOR_OK;
fail:
  visor_app_close(app);
  return err->code ? err->code : VISOR_ERR_INTERNAL;
}

void visor_app_close(visor_app *app) {
  visor_outbox_relay_stop(app->relay);
  app->relay = NULL;
  if (app->workers) visor_worker_pool_free(app->workers);
  if (app->tuned_close) app->tuned_close(app);
  app->tuned_close = NULL;
  if (app->vectors) app->vectors->ops->close(app->vectors);
  if (app->ml) app->ml->ops->close(app->ml);
  app->vectors = NULL;
  app->ml = NULL;
  visor_queue_close(app->queue);
  visor_blob_close(app->blobs);
  visor_db_close(app->db);
  app->workers = NULL;
  app->queue = NULL;
  app->blobs = NULL;
  app->db = NULL;
}

visor_worker_config visor_app_worker_config(const visor_config *config) {
  return (visor_worker_config){.concurrency = (int)config->workers,
                               .visibility_ms = (int64_t)(config->lease_seconds * 1000)};
}

visor_code visor_app_create_workers(visor_app *app, const visor_worker_config *settings,
                                    visor_error *err) {
  visor_worker_config workers = settings ? *settings : visor_app_worker_config(app->config);
  visor_worker_pool *pool = visor_worker_pool_new(app->db, app->queue, &workers, err);
  if (!pool) return err->code;
  pthread_mutex_lock(&app->events_lock);
  visor_worker_pool *previous = app->workers;
  app->workers = pool;
  pthread_mutex_unlock(&app->events_lock);
  visor_worker_pool_free(previous); /* e.g. an earlier visor_eval_index's, stopped */
  return VISOR_OK;
}

void visor_app_jobs_committed(visor_app *app) {
  visor_error err = {0};
  if (visor_outbox_relay_once(app->db, app->queue, NULL, &err) != VISOR_OK)
    visor_outbox_relay_kick(app->relay); /* the relay thread tries again */
  wake_workers(app);
}

void visor_app_signal(visor_app *app) {
  pthread_mutex_lock(&app->events_lock);
  app->event_count++;
  pthread_cond_broadcast(&app->events);
  if (app->signal_hook) app->signal_hook(app->signal_hook_ctx);
  pthread_mutex_unlock(&app->events_lock);
}

void visor_app_set_signal_hook(visor_app *app, void (*hook)(void *ctx), void *ctx) {
  pthread_mutex_lock(&app->events_lock);
  app->signal_hook = hook;
  app->signal_hook_ctx = ctx;
  pthread_mutex_unlock(&app->events_lock);
}

void visor_app_wait_signal(visor_app *app, int64_t timeout_ms) {
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  int64_t ns = deadline.tv_nsec + timeout_ms * 1000000;
  deadline.tv_sec += ns / 1000000000;
  deadline.tv_nsec = ns % 1000000000;
  pthread_mutex_lock(&app->events_lock);
  uint64_t seen = app->event_count;
  while (app->event_count == seen)
    if (pthread_cond_timedwait(&app->events, &app->events_lock, &deadline) != 0) break;
  pthread_mutex_unlock(&app->events_lock);
}
