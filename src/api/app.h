/* app.h: the application: the configuration and the opened backends of one process
 * (metadata, objects, queue, and when asked, ML and vectors), shared by the API routes,
 * the pipelines and the CLI. */
#ifndef VISOR_API_APP_H
#define VISOR_API_APP_H

#include <stddef.h>

#include "blob/blob.h"
#include "core/config.h"
#include "queue/queue.h"
#include "queue/worker.h"
#include "store/db.h"

struct visor_ml;
struct visor_vector_store;

enum {
  VISOR_APP_ML = 1 << 0,      /* open the ML backend */
  VISOR_APP_VECTORS = 1 << 1, /* open the vector store (needs the embedder's dimension) */
};

typedef struct visor_app {
  const visor_config *config;
  visor_db *db;
  visor_blob_store *blobs;
  visor_queue *queue;
  visor_worker_pool *workers; /* NULL when this process runs no workers */
  struct visor_ml *ml;
  struct visor_vector_store *vectors;
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
/* Tells this process's idle workers there is work (after the transaction committed). */
void visor_app_notify_workers(visor_app *app);

#endif
