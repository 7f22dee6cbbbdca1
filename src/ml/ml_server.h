/* ml_server.h: the routes of `visor ml`, the ML inference service: analyze / detect /
 * embed / label over HTTP on top of an in-process backend (ml_local), with dynamic
 * batching of region crops across concurrent requests. The wire format is in
 * docs/MODELS.md ("visor ml"); ml_http.c is its client. */
#ifndef VISOR_ML_ML_SERVER_H
#define VISOR_ML_ML_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "http/http.h"
#include "ml/ml.h"

typedef struct visor_ml_service_config {
  size_t max_batch;  /* crops per batched inference run (config ml_batch); <= 1: no batching,
                        each request runs its own inference */
  int batch_wait_ms; /* longest wait for a batch to fill (config ml_batch_wait_ms) */
  size_t max_body;   /* largest image body in bytes (0 = 25 MiB) */
  int runners;       /* threads running batches side by side (0 = one per online CPU, 1..16) */
} visor_ml_service_config;

typedef struct visor_ml_service visor_ml_service;

typedef struct visor_ml_service_stats {
  uint64_t batches; /* batched inference runs */
  uint64_t crops;   /* crops they ran */
  uint64_t largest; /* largest batch */
} visor_ml_service_stats;

/* local must be an in-process backend (visor_ml_local_open); the caller keeps owning it and
 * closes it after visor_ml_service_free. */
visor_ml_service *visor_ml_service_new(visor_ml *local, const visor_ml_service_config *config,
                                       visor_error *err);
/* POST /v1/analyze, /v1/detect, /v1/embed, /v1/label; GET /v1/models, /healthz, /readyz,
 * /metrics. */
visor_code visor_ml_service_register(visor_ml_service *service, visor_http_server *server,
                                     visor_error *err);
void visor_ml_service_get_stats(visor_ml_service *service, visor_ml_service_stats *stats);
/* After the HTTP server has stopped (no request may be running). */
void visor_ml_service_free(visor_ml_service *service);

#endif
