/* onnx_session.h: one ONNX model loaded in ONNX Runtime (C API), checked against its
 * manifest entry, and run on a batch of float tensors. Run is thread-safe: one session
 * serves concurrent requests. */
#ifndef VISOR_ML_ONNX_SESSION_H
#define VISOR_ML_ONNX_SESSION_H

#include <stddef.h>

#include "core/error.h"
#include "ml/manifest.h"

typedef struct visor_onnx_session visor_onnx_session;

/* Loads spec->path with intra/inter-op thread counts (0 = runtime default) and checks the
 * model's real input and the outputs the manifest names (name, float type, rank, sizes,
 * class counts against the label file); a mismatch fails with a message naming it. */
visor_code visor_onnx_session_open(const visor_model_spec *spec, int intra_op_threads,
                                   int inter_op_threads, visor_onnx_session **out,
                                   visor_error *err);
void visor_onnx_session_close(visor_onnx_session *session);

/* Largest batch one run takes: the model's fixed batch size, else the manifest's max_batch. */
size_t visor_onnx_session_max_batch(const visor_onnx_session *session);
/* Floats per batch item of the input, and of a named output (0 when not an output). */
size_t visor_onnx_session_input_floats(const visor_onnx_session *session);
size_t visor_onnx_session_output_floats(const visor_onnx_session *session, const char *name);

/* Runs batch items of input (batch * input_floats, in the manifest's layout) and copies
 * each requested output into outputs[i] (batch * output_floats(names[i]) floats, caller's). */
visor_code visor_onnx_session_run(visor_onnx_session *session, const float *input, size_t batch,
                                  const char *const *names, size_t count, float *const *outputs,
                                  visor_error *err);

#endif
