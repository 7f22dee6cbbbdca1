/* app.h: the application: the configuration and the opened backends of one process
 * (metadata, objects, queue, and when asked, ML and vectors), shared by the API routes,
 * the pipelines and the CLI. */
#ifndef VISOR_API_APP_H
#define VISOR_API_APP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "blob/blob.h"
#include "core/config.h"
#include "queue/queue.h"
#include "queue/worker.h"
#include "ml/ml.h"
#include "store/db.h"
#include "vector/vector.h"

enum {
  VISOR_APP_ML = 1 << 0,      /* open the ML backend */
  VISOR_APP_VECTORS = 1 << 1, /* open the vector store (needs the embedder's dimension) */
};

typedef struct visor_app {
  const visor_config *config;
  visor_db *db;
  visor_blob_store *blobs;
  visor_queue *queue;
  visor_worker_pool *workers;  /* NULL when this process runs no workers */
  visor_ml *ml;                /* with VISOR_APP_ML */
  visor_model_info embedder;   /* the ML backend's embedder */
  char embedder_model[260];    /* "name@version", recorded with every vector */
  visor_vector_store *vectors; /* with VISOR_APP_VECTORS: the embedder's collection */
  pthread_mutex_t events_lock; /* visor_app_signal / visor_app_wait_signal */
  pthread_cond_t events;
  uint64_t event_count;
  size_t max_upload_bytes;
  size_t max_pixels;
  int job_attempts;
} visor_app;

/* Opens the backends named by config (creating the data folder for embedded ones) and
 * migrates the metadata store when migrate is set. */
visor_code visor_app_open(visor_app *app, const visor_config *config, unsigned parts, int migrate,
                          visor_error *err);
void visor_app_close(visor_app *app);

/* Queues a job of kind for subject inside the caller's transaction (conn), making the
 * job id into job_id (37 bytes). */
visor_code visor_app_queue_job(visor_app *app, visor_db_conn *conn, const char *kind,
                               const char *subject_id, const char *payload, char *job_id,
                               visor_error *err);
/* Wakes every thread in visor_app_wait_signal (e.g. a search finished in this process). */
void visor_app_signal(visor_app *app);
/* Waits until the next visor_app_signal or timeout_ms, whichever comes first. */
void visor_app_wait_signal(visor_app *app, int64_t timeout_ms);

void visor_app_collection_name(const char *model, char *out, size_t size);

/* Tells this process's idle workers there is work (after the transaction committed). */
void visor_app_notify_workers(visor_app *app);

#endif
