/* onnx_session.c: the ONNX Runtime C API wrapper: one process-wide OrtEnv (its log goes
 * nowhere: failures come back as OrtStatus), session options with thread counts, loading,
 * checking the manifest against the model's real inputs and outputs, and batched runs. */
#include "ml/onnx_session.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <onnxruntime_c_api.h>

#define MAX_OUTPUTS 8

typedef struct output_info {
  char name[VISOR_MANIFEST_TENSOR_NAME_MAX];
  size_t floats; /* per batch item */
} output_info;

struct visor_onnx_session {
  OrtSession *session;
  const visor_model_spec *spec;
  size_t max_batch;
  size_t input_floats;
  int64_t input_shape[4]; /* with batch 1 */
  output_info outputs[MAX_OUTPUTS];
  size_t output_count;
};

static const OrtApi *ort;
static OrtEnv *ort_env;
static OrtMemoryInfo *ort_cpu;
static OrtAllocator *ort_allocator;
static char ort_init_error[256];
static pthread_once_t ort_once = PTHREAD_ONCE_INIT;

static void drop_log(void *param, OrtLoggingLevel severity, const char *category, const char *logid,
                     const char *code_location, const char *message) {
  (void)param, (void)severity, (void)category, (void)logid, (void)code_location, (void)message;
}

static void start_ort(void) {
  const OrtApiBase *base = OrtGetApiBase();
  ort = base ? base->GetApi(ORT_API_VERSION) : NULL;
  if (!ort) {
    snprintf(ort_init_error, sizeof ort_init_error,
             "ONNX Runtime %s does not provide C API version %d",
             base ? base->GetVersionString() : "?", ORT_API_VERSION);
    return;
  }
  OrtStatus *status =
      ort->CreateEnvWithCustomLogger(drop_log, NULL, ORT_LOGGING_LEVEL_ERROR, "visor", &ort_env);
  if (!status) status = ort->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &ort_cpu);
  if (!status) status = ort->GetAllocatorWithDefaultOptions(&ort_allocator);
  if (status) {
    snprintf(ort_init_error, sizeof ort_init_error, "ONNX Runtime start-up failed: %s",
             ort->GetErrorMessage(status));
    ort->ReleaseStatus(status);
    ort = NULL;
  }
}

/* Turns a failed OrtStatus into err (and releases it). */
static visor_code ort_failed(OrtStatus *status, visor_error *err, visor_code code, const char *what,
                             const char *model) {
  visor_code result =
      visor_error_set(err, code, "%s %s: %s", what, model, ort->GetErrorMessage(status));
  ort->ReleaseStatus(status);
  return result;
}

/* Shape and element type of a session input or output. */
static visor_code io_shape(visor_onnx_session *s, int is_input, size_t index, int64_t *dims,
                           size_t *rank, ONNXTensorElementDataType *type, visor_error *err) {
  OrtTypeInfo *info = NULL;
  const OrtTensorTypeAndShapeInfo *tensor = NULL;
  OrtStatus *status = is_input ? ort->SessionGetInputTypeInfo(s->session, index, &info)
                               : ort->SessionGetOutputTypeInfo(s->session, index, &info);
  if (!status) status = ort->CastTypeInfoToTensorInfo(info, &tensor);
  if (!status && !tensor) {
    ort->ReleaseTypeInfo(info);
    return visor_error_set(err, VISOR_ERR_INVALID, "model %s: %s %zu is not a tensor",
                           s->spec->name, is_input ? "input" : "output", index);
  }
  if (!status) status = ort->GetTensorElementType(tensor, type);
  if (!status) status = ort->GetDimensionsCount(tensor, rank);
  if (!status && *rank > 8) {
    ort->ReleaseTypeInfo(info);
    return visor_error_set(err, VISOR_ERR_INVALID, "model %s: tensor rank %zu is over 8",
                           s->spec->name, *rank);
  }
  if (!status) status = ort->GetDimensions(tensor, dims, *rank);
  if (info) ort->ReleaseTypeInfo(info);
  if (status)
    return ort_failed(status, err, VISOR_ERR_INVALID, "cannot read the shapes of", s->spec->name);
  return VISOR_OK;
}

static void shape_text(const int64_t *dims, size_t rank, char *out, size_t size) {
  size_t n = (size_t)snprintf(out, size, "[");
  for (size_t i = 0; i < rank && n < size; i++)
    n += (size_t)snprintf(out + n, size - n, "%s%lld", i ? "," : "", (long long)dims[i]);
  if (n < size) snprintf(out + n, size - n, "]");
}

/* Finds name among the model's inputs or outputs; on failure lists the real names. */
static visor_code find_io(visor_onnx_session *s, int is_input, const char *name, const char *field,
                          size_t *index, visor_error *err) {
  size_t count = 0;
  OrtStatus *status = is_input ? ort->SessionGetInputCount(s->session, &count)
                               : ort->SessionGetOutputCount(s->session, &count);
  if (status)
    return ort_failed(status, err, VISOR_ERR_INVALID, "cannot list the tensors of", s->spec->name);
  char names[256] = "";
  for (size_t i = 0; i < count; i++) {
    char *real = NULL;
    status = is_input ? ort->SessionGetInputName(s->session, i, ort_allocator, &real)
                      : ort->SessionGetOutputName(s->session, i, ort_allocator, &real);
    if (status)
      return ort_failed(status, err, VISOR_ERR_INVALID, "cannot name the tensors of",
                        s->spec->name);
    int same = strcmp(real, name) == 0;
    size_t used = strlen(names);
    snprintf(names + used, sizeof names - used, "%s\"%s\"", i ? ", " : "", real);
    OrtStatus *freed = ort->AllocatorFree(ort_allocator, real);
    if (freed) ort->ReleaseStatus(freed);
    if (same) {
      *index = i;
      return VISOR_OK;
    }
  }
  return visor_error_set(
      err, VISOR_ERR_INVALID, "model %s (%s): manifest %s \"%s\" is not one of the model's %s: %s",
      s->spec->name, s->spec->path, field, name, is_input ? "inputs" : "outputs", names);
}

static visor_code check_input(visor_onnx_session *s, visor_error *err) {
  const visor_model_input *in = &s->spec->input;
  size_t count = 0, index = 0, rank = 0;
  OrtStatus *status = ort->SessionGetInputCount(s->session, &count);
  if (status)
    return ort_failed(status, err, VISOR_ERR_INVALID, "cannot list the inputs of", s->spec->name);
  visor_code code = find_io(s, 1, in->name, "input.name", &index, err);
  if (code) return code;
  if (count != 1)
    return visor_error_set(
        err, VISOR_ERR_INVALID,
        "model %s has %zu inputs: Visor feeds models with exactly one image input", s->spec->name,
        count);
  int64_t dims[8];
  ONNXTensorElementDataType type;
  if ((code = io_shape(s, 1, index, dims, &rank, &type, err))) return code;
  char shape[128];
  shape_text(dims, rank, shape, sizeof shape);
  if (type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "model %s: input \"%s\" has element type %d, Visor feeds float32",
                           s->spec->name, in->name, (int)type);
  if (rank != 4)
    return visor_error_set(
        err, VISOR_ERR_INVALID, "model %s: input \"%s\" has shape %s, expected 4 dimensions (%s)",
        s->spec->name, in->name, shape, in->layout == VISOR_LAYOUT_NCHW ? "NCHW" : "NHWC");
  int nchw = in->layout == VISOR_LAYOUT_NCHW;
  int64_t want[4] = {-1, nchw ? 3 : in->height, nchw ? in->height : in->width,
                     nchw ? in->width : 3};
  const char *axis[4] = {"batch", nchw ? "channels" : "height", nchw ? "height" : "width",
                         nchw ? "width" : "channels"};
  for (int i = 1; i < 4; i++)
    if (dims[i] > 0 && dims[i] != want[i])
      return visor_error_set(err, VISOR_ERR_INVALID,
                             "model %s: input \"%s\" has shape %s but the manifest says %s %dx%d "
                             "(%s %lld, manifest %lld)",
                             s->spec->name, in->name, shape, nchw ? "NCHW" : "NHWC", in->width,
                             in->height, axis[i], (long long)dims[i], (long long)want[i]);
  if (dims[0] > 1)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "model %s: input \"%s\" has a fixed batch of %lld: export it with "
                           "batch 1 or a dynamic batch axis",
                           s->spec->name, in->name, (long long)dims[0]);
  s->max_batch = dims[0] == 1 ? 1 : s->spec->max_batch;
  s->input_floats = (size_t)in->width * (size_t)in->height * 3;
  s->input_shape[0] = 1;
  for (int i = 1; i < 4; i++)
    s->input_shape[i] = want[i];
  return VISOR_OK;
}

/* Checks a named output and records its floats per item. kind says what it must be. */
static visor_code check_output(visor_onnx_session *s, const char *name, const char *field,
                               visor_error *err) {
  const visor_model_spec *spec = s->spec;
  size_t index = 0, rank = 0;
  visor_code code = find_io(s, 0, name, field, &index, err);
  if (code) return code;
  int64_t dims[8];
  ONNXTensorElementDataType type;
  if ((code = io_shape(s, 0, index, dims, &rank, &type, err))) return code;
  char shape[128];
  shape_text(dims, rank, shape, sizeof shape);
  if (type != ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "model %s: output \"%s\" (%s) has element type %d, expected float32",
                           spec->name, name, field, (int)type);
  if (rank < 2)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "model %s: output \"%s\" (%s) has shape %s, expected a batch axis "
                           "and values",
                           spec->name, name, field, shape);
  size_t floats = 1;
  for (size_t i = 1; i < rank; i++) {
    if (dims[i] <= 0)
      return visor_error_set(err, VISOR_ERR_INVALID,
                             "model %s: output \"%s\" has shape %s: only the batch axis may be "
                             "dynamic",
                             spec->name, name, shape);
    floats *= (size_t)dims[i];
  }
  if (strcmp(field, "outputs.detections.name") == 0) {
    size_t rows = 0;
    for (size_t i = 0; i < spec->stride_count; i++)
      rows += (size_t)(spec->input.width / spec->strides[i]) *
              (size_t)(spec->input.height / spec->strides[i]);
    size_t columns = 5 + spec->label_count;
    if (rank != 3 || (size_t)dims[1] != rows || (size_t)dims[2] != columns)
      return visor_error_set(err, VISOR_ERR_INVALID,
                             "model %s: detections output \"%s\" has shape %s, but a yolox head "
                             "on %dx%d with %zu strides and %zu labels (%s) gives [1,%zu,%zu]",
                             spec->name, name, shape, spec->input.width, spec->input.height,
                             spec->stride_count, spec->label_count, spec->labels_path, rows,
                             columns);
  } else if (strcmp(field, "outputs.logits.name") == 0) {
    if (floats != spec->label_count)
      return visor_error_set(err, VISOR_ERR_INVALID,
                             "model %s: logits output \"%s\" has shape %s (%zu classes) but the "
                             "label file %s has %zu labels",
                             spec->name, name, shape, floats, spec->labels_path, spec->label_count);
  } else {
    for (size_t i = 2; i < rank; i++)
      if (dims[i] != 1)
        return visor_error_set(err, VISOR_ERR_INVALID,
                               "model %s: embedding output \"%s\" has shape %s, expected "
                               "[batch, dim] (trailing 1s allowed)",
                               spec->name, name, shape);
  }
  if (s->output_count == MAX_OUTPUTS)
    return visor_error_set(err, VISOR_ERR_INVALID, "model %s: too many outputs", spec->name);
  output_info *out = &s->outputs[s->output_count++];
  snprintf(out->name, sizeof out->name, "%s", name);
  out->floats = floats;
  return VISOR_OK;
}

visor_code visor_onnx_session_open(const visor_model_spec *spec, int intra_op_threads,
                                   int inter_op_threads, visor_onnx_session **out,
                                   visor_error *err) {
  *out = NULL;
  pthread_once(&ort_once, start_ort);
  if (!ort) return visor_error_set(err, VISOR_ERR_INTERNAL, "%s", ort_init_error);
  visor_onnx_session *s = calloc(1, sizeof *s);
  if (!s) return visor_error_set(err, VISOR_ERR_NOMEM, "no memory for a session");
  s->spec = spec;

  OrtSessionOptions *options = NULL;
  OrtStatus *status = ort->CreateSessionOptions(&options);
  if (!status && intra_op_threads > 0)
    status = ort->SetIntraOpNumThreads(options, intra_op_threads);
  if (!status && inter_op_threads > 0)
    status = ort->SetInterOpNumThreads(options, inter_op_threads);
  if (!status) status = ort->SetSessionGraphOptimizationLevel(options, ORT_ENABLE_ALL);
  if (!status) status = ort->CreateSession(ort_env, spec->path, options, &s->session);
  if (options) ort->ReleaseSessionOptions(options);
  visor_code code = VISOR_OK;
  if (status) {
    code = ort_failed(status, err, VISOR_ERR_INVALID, "cannot load the model", spec->path);
    goto fail;
  }
  if ((code = check_input(s, err))) goto fail;
  if (spec->detections_output[0] && (spec->tasks & VISOR_TASK_DETECTOR) &&
      (code = check_output(s, spec->detections_output, "outputs.detections.name", err)))
    goto fail;
  if (spec->embedding_output[0] &&
      (code = check_output(s, spec->embedding_output, "outputs.embedding.name", err)))
    goto fail;
  if (spec->logits_output[0] && spec->label_count &&
      (code = check_output(s, spec->logits_output, "outputs.logits.name", err)))
    goto fail;
  *out = s;
  return VISOR_OK;
fail:
  visor_onnx_session_close(s);
  return code;
}

void visor_onnx_session_close(visor_onnx_session *session) {
  if (!session) return;
  if (session->session) ort->ReleaseSession(session->session);
  free(session);
}

size_t visor_onnx_session_max_batch(const visor_onnx_session *session) {
  return session->max_batch;
}

size_t visor_onnx_session_input_floats(const visor_onnx_session *session) {
  return session->input_floats;
}

size_t visor_onnx_session_output_floats(const visor_onnx_session *session, const char *name) {
  for (size_t i = 0; i < session->output_count; i++)
    if (strcmp(session->outputs[i].name, name) == 0) return session->outputs[i].floats;
  return 0;
}

visor_code visor_onnx_session_run(visor_onnx_session *session, const float *input, size_t batch,
                                  const char *const *names, size_t count, float *const *outputs,
                                  visor_error *err) {
  const visor_model_spec *spec = session->spec;
  if (batch == 0 || batch > session->max_batch)
    return visor_error_set(err, VISOR_ERR_INVALID, "model %s: batch %zu is not in [1, %zu]",
                           spec->name, batch, session->max_batch);
  if (count == 0 || count > MAX_OUTPUTS)
    return visor_error_set(err, VISOR_ERR_INVALID, "model %s: %zu outputs requested", spec->name,
                           count);
  size_t floats[MAX_OUTPUTS];
  for (size_t i = 0; i < count; i++) {
    floats[i] = visor_onnx_session_output_floats(session, names[i]);
    if (!floats[i])
      return visor_error_set(err, VISOR_ERR_INVALID, "model %s: \"%s\" is not a checked output",
                             spec->name, names[i]);
  }
  int64_t shape[4];
  memcpy(shape, session->input_shape, sizeof shape);
  shape[0] = (int64_t)batch;
  OrtValue *input_value = NULL;
  OrtValue *output_values[MAX_OUTPUTS] = {0};
  const char *input_names[1] = {spec->input.name};
  visor_code code = VISOR_OK;
  OrtStatus *status = ort->CreateTensorWithDataAsOrtValue(
      ort_cpu, (void *)input, batch * session->input_floats * sizeof(float), shape, 4,
      ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &input_value);
  if (!status)
    status = ort->Run(session->session, NULL, input_names, (const OrtValue *const *)&input_value, 1,
                      names, count, output_values);
  if (status) {
    code = ort_failed(status, err, VISOR_ERR_INTERNAL, "inference failed in model", spec->name);
    goto done;
  }
  for (size_t i = 0; i < count; i++) {
    OrtTensorTypeAndShapeInfo *info = NULL;
    size_t elements = 0;
    float *data = NULL;
    status = ort->GetTensorTypeAndShape(output_values[i], &info);
    if (!status) status = ort->GetTensorShapeElementCount(info, &elements);
    if (info) ort->ReleaseTensorTypeAndShapeInfo(info);
    if (!status) status = ort->GetTensorMutableData(output_values[i], (void **)&data);
    if (status) {
      code = ort_failed(status, err, VISOR_ERR_INTERNAL, "cannot read the output of", spec->name);
      goto done;
    }
    if (elements != batch * floats[i]) {
      code = visor_error_set(err, VISOR_ERR_INTERNAL,
                             "model %s: output \"%s\" has %zu values for batch %zu, expected %zu",
                             spec->name, names[i], elements, batch, batch * floats[i]);
      goto done;
    }
    memcpy(outputs[i], data, elements * sizeof(float));
  }
done:
  for (size_t i = 0; i < count; i++)
    if (output_values[i]) ort->ReleaseValue(output_values[i]);
  if (input_value) ort->ReleaseValue(input_value);
  return code;
}
