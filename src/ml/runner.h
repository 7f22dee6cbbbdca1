/* runner.h: how a batch of preprocessed model inputs reaches ONNX Runtime. By default a
 * caller runs its own batch on the session (visor_onnx_session_run); the `visor ml` server
 * passes a runner that queues the batch so crops of concurrent requests run together. */
#ifndef VISOR_ML_RUNNER_H
#define VISOR_ML_RUNNER_H

#include <stddef.h>

#include "core/error.h"
#include "ml/onnx_session.h"

typedef struct visor_ml_runner {
  /* Same contract as visor_onnx_session_run. */
  visor_code (*run)(void *ctx, visor_onnx_session *session, const float *input, size_t batch,
                    const char *const *names, size_t count, float *const *outputs,
                    visor_error *err);
  void *ctx;
} visor_ml_runner;

/* runner->run, or visor_onnx_session_run when runner is NULL. */
static inline visor_code visor_ml_runner_run(const visor_ml_runner *runner,
                                             visor_onnx_session *session, const float *input,
                                             size_t batch, const char *const *names, size_t count,
                                             float *const *outputs, visor_error *err) {
  if (runner && runner->run)
    return runner->run(runner->ctx, session, input, batch, names, count, outputs, err);
  return visor_onnx_session_run(session, input, batch, names, count, outputs, err);
}

#endif
