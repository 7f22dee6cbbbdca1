/* app.h: the composition root: the configuration and the opened backends of one process
 * (metadata, objects, queue, the outbox relay, and when asked, ML and vectors), shared by
 * the API routes, the pipelines, the worker and the CLI. Nothing here knows HTTP. */
#ifndef VISOR_APP_APP_H
#define VISOR_APP_APP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "blob/blob.h"
#include "core/config.h"
#include "jobs/outbox.h"
#include "jobs/worker.h"
#include "ml/ml.h"
#include "queue/queue.h"
#include "store/db.h"
#include "vector/vector.h"

enum {
  VISOR_APP_ML = 1 << 0,      /* open the ML backend */
  VISOR_APP_VECTORS = 1 << 1, /* open the vector store (needs the embedder's dimension) */
};

/* What to do about the metadata schema at open. */
typedef enum visor_app_schema {
  VISOR_APP_MIGRATE,       /* migrate to the latest version (visor serve, eval, tests) */
  VISOR_APP_REQUIRE_LATEST /* refuse an older schema: run `visor migrate` (api, worker) */
} visor_app_schema;

typedef struct visor_app visor_app;

/* How a region vector written outside the index task reaches the served catalogue
 * projection (pipeline/tuned.c sets it with app->tuned; service/region_vectors.c is the
 * one caller): its projected vectors in the current (and a building) version follow the
 * raw one, and a new embedding is also kept as the region's raw embedding. meta is the raw
 * vector's (its model is replaced per version). */
typedef struct visor_projected_ops {
  /* set_meta on the projected vectors; one missing there is projected again from the kept
   * raw embedding of image_id (NULL: left missing). */
  visor_code (*set_meta)(visor_app *app, const char *image_id, const char *vector_id,
                         const visor_vector_meta *meta, visor_error *err);
  visor_code (*remove)(visor_app *app, const char *vector_id, visor_error *err);
  /* A region's new raw embedding: kept in image_id's raw-embedding blob and projected. */
  visor_code (*write)(visor_app *app, const char *image_id, const char *vector_id,
                      const float *embedding, size_t dim, const visor_vector_meta *meta,
                      visor_error *err);
} visor_projected_ops;

struct visor_app {
  const visor_config *config;
  visor_db *db;
  visor_blob_store *blobs;
  visor_queue *queue;
  visor_outbox_relay *relay;   /* publishes committed jobs to the queue */
  visor_worker_pool *workers;  /* NULL when this process runs no workers */
  visor_ml *ml;                /* with VISOR_APP_ML */
  visor_model_info embedder;   /* the ML backend's embedder */
  char embedder_model[260];    /* "name@version", recorded with every vector */
  visor_vector_store *vectors; /* with VISOR_APP_VECTORS: the embedder's collection */
  struct visor_tuned *tuned;   /* the served catalogue projection (pipeline/tuned.h), or NULL */
  void (*tuned_close)(struct visor_app *app); /* frees tuned (set with it); at close */
  const visor_projected_ops *projected;       /* set with tuned, else NULL */
  /* Embeds an image's whole-image region as the index task does (set by the pipelines; NULL:
   * the image's box alone). *embedding: malloc'd, embedder.dim floats. */
  visor_code (*embed_whole_image)(struct visor_app *app, const void *image, size_t len,
                                  float **embedding, visor_error *err);
  pthread_mutex_t events_lock; /* visor_app_signal / visor_app_wait_signal, workers */
  pthread_cond_t events;
  uint64_t event_count;
  void (*signal_hook)(void *ctx); /* also told of every visor_app_signal (under events_lock) */
  void *signal_hook_ctx;
  size_t max_upload_bytes;
  size_t max_pixels;
  int job_attempts;
};

/* Checks that every backend URL of config names a backend this build has (each
 * dispatcher says which it accepts). */
visor_code visor_app_check_urls(const visor_config *config, visor_error *err);

/* Opens the backends named by config (creating the data folder for embedded ones), checks
 * or migrates the schema, and starts the outbox relay. */
visor_code visor_app_open(visor_app *app, const visor_config *config, unsigned parts,
                          visor_app_schema schema, visor_error *err);
void visor_app_close(visor_app *app);

/* The worker pool settings of config (concurrency, lease). */
visor_worker_config visor_app_worker_config(const visor_config *config);
/* Makes this process's worker pool (app->workers) with settings (NULL: from the config);
 * the caller registers handlers and starts it. A pool made before is stopped and freed. */
visor_code visor_app_create_workers(visor_app *app, const visor_worker_config *settings,
                                    visor_error *err);

/* After a transaction that created jobs (jobs/job_state.h) committed: publishes them to
 * the queue now (what fails is published by the relay later) and wakes this process's
 * idle workers. */
void visor_app_jobs_committed(visor_app *app);
/* Wakes every thread in visor_app_wait_signal (e.g. a search finished in this process). */
void visor_app_signal(visor_app *app);
/* Sets (or with NULL clears) what visor_app_signal also calls, e.g. visor_http_wake for the
 * HTTP server's parked waits. Clear it before freeing what ctx points to. */
void visor_app_set_signal_hook(visor_app *app, void (*hook)(void *ctx), void *ctx);
/* Waits until the next visor_app_signal or timeout_ms, whichever comes first. */
void visor_app_wait_signal(visor_app *app, int64_t timeout_ms);

void visor_app_collection_name(const char *model, char *out, size_t size);

#endif
