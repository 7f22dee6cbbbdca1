/* batcher.h: dynamic batching in front of one ONNX Runtime session. Callers (the `visor ml`
 * request threads) hand in their preprocessed crops and block; one runner thread collects
 * crops from every waiting caller until it has max_batch of them or the oldest has waited
 * max_wait_ms, runs them as one batch, and gives each caller its own rows back. Several
 * runner threads may take batches from the one queue, so batches run side by side on
 * machines with more cores than one run uses. */
#ifndef VISOR_ML_BATCHER_H
#define VISOR_ML_BATCHER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "ml/onnx_session.h"

#define VISOR_BATCHER_MAX_RUNNERS 16

typedef struct visor_batcher visor_batcher;

typedef struct visor_batcher_stats {
  uint64_t batches; /* inference runs */
  uint64_t items;   /* crops run */
  uint64_t largest; /* largest batch run */
} visor_batcher_stats;

/* names: every output a caller may ask for (each run computes all of them). max_batch is
 * capped by the session's own largest batch. runners: threads running batches (1..16).
 * The name strings must outlive the batcher. */
visor_batcher *visor_batcher_new(visor_onnx_session *session, const char *const *names,
                                 size_t name_count, size_t max_batch, int max_wait_ms, int runners,
                                 const char *label, visor_error *err);
/* Same contract as visor_onnx_session_run; blocks until every item has run. Outputs not
 * in the batcher's names fail with VISOR_ERR_INVALID. Thread-safe. */
visor_code visor_batcher_run(visor_batcher *batcher, const float *input, size_t batch,
                             const char *const *names, size_t count, float *const *outputs,
                             visor_error *err);
visor_onnx_session *visor_batcher_session(const visor_batcher *batcher);
void visor_batcher_get_stats(visor_batcher *batcher, visor_batcher_stats *stats);
/* Runs what is queued, stops the runner thread and frees. No caller may be inside run. */
void visor_batcher_free(visor_batcher *batcher);

#endif
