/* bench_ml.c: per model of the manifest, latency at batch 1 and throughput at batch 8:
 * end to end (JPEG decode + preprocess + inference + postprocess), preprocessing alone and
 * inference alone through the C path, beside ONNX Runtime run directly on the same model and
 * input tensor (tests/tools/ort_reference.js on onnxruntime-node). Prints a table with the
 * ratios C inference / runtime alone and preprocessing / inference.
 *
 *   bench_ml [--iterations N] [--rounds N] [--threads N]   (VISOR_SHARED_DIR: models, photos)
 *
 * Defaults: 40 calls per round, 5 rounds, 1 intra-op thread (on a small shared machine one
 * thread gives repeatable numbers; with 2 the worker thread waits on the other core). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "image/image.h"
#include "ml/detector.h"
#include "ml/embedder.h"
#include "ml/labeller.h"
#include "ml/manifest.h"
#include "ml/ml_local.h"
#include "ml/onnx_session.h"
#include "ml/preprocess.h"

#define BATCH 8

static const char *const photos[BATCH] = {
    "test/Fruit/Banana/Banana_001.jpg",
    "test/Fruit/Apple/Granny-Smith/Granny-Smith_002.jpg",
    "test/Packages/Milk/Arla-Standard-Milk/Arla-Standard-Milk_001.jpg",
    "test/Fruit/Banana/Banana_003.jpg",
    "test/Fruit/Apple/Granny-Smith/Granny-Smith_004.jpg",
    "test/Packages/Milk/Arla-Standard-Milk/Arla-Standard-Milk_003.jpg",
    "test/Fruit/Banana/Banana_005.jpg",
    "test/Fruit/Apple/Granny-Smith/Granny-Smith_006.jpg",
};

typedef struct encoded {
  void *data;
  size_t len;
} encoded;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *values, int n) {
  qsort(values, (size_t)n, sizeof *values, by_value);
  return values[n / 2];
}

static void die(const char *what, const visor_error *err) {
  fprintf(stderr, "bench_ml: %s: %s\n", what, err ? err->message : "");
  exit(1);
}

/* What one timed call does. */
typedef enum step { STEP_DECODE, STEP_PREPROCESS, STEP_INFERENCE, STEP_END_TO_END } step;

typedef struct model_bench {
  const visor_model_spec *spec;
  visor_onnx_session *session;
  encoded *images;
  visor_rgb_image decoded[BATCH]; /* decoded once, for preprocessing alone */
  float *tensor;                  /* BATCH items, preprocessed once, for inference alone */
  float *outputs[3];
  const char *names[3];
  size_t output_count;
} model_bench;

/* One call of a step on batch images; returns its time in ms. */
static double run_step(model_bench *b, step what, size_t batch) {
  visor_error err = {0};
  size_t item = visor_onnx_session_input_floats(b->session);
  double start = now_ms();
  if (what == STEP_INFERENCE) {
    if (b->spec->tasks & VISOR_TASK_DETECTOR) {
      for (size_t i = 0; i < batch; i++) /* fixed batch 1 */
        if (visor_onnx_session_run(b->session, b->tensor + i * item, 1, b->names, b->output_count,
                                   b->outputs, &err))
          die("run", &err);
    } else if (visor_onnx_session_run(b->session, b->tensor, batch, b->names, b->output_count,
                                      b->outputs, &err)) {
      die("run", &err);
    }
    return now_ms() - start;
  }
  float *tensor = malloc(batch * item * sizeof(float));
  visor_rgb_image images[BATCH];
  if (what == STEP_PREPROCESS) {
    for (size_t i = 0; i < batch; i++) {
      visor_tensor_map map;
      if (visor_preprocess(&b->spec->input, &b->decoded[i], NULL, tensor + i * item, &map, &err))
        die("preprocess", &err);
    }
    free(tensor);
    return now_ms() - start;
  }
  for (size_t i = 0; i < batch; i++) {
    float scale;
    if (visor_image_decode_rgb(b->images[i].data, b->images[i].len, 0, VISOR_ML_DECODE_MAX_SIDE,
                               &images[i], &scale, &err))
      die("decode", &err);
  }
  if (what == STEP_END_TO_END) {
    if (b->spec->tasks & VISOR_TASK_DETECTOR) {
      visor_detect_params params = visor_detect_defaults(b->spec);
      for (size_t i = 0; i < batch; i++) {
        visor_detection *detections;
        size_t count;
        if (visor_detector_detect(b->session, b->spec, &images[i], &params, &detections, &count,
                                  &err))
          die("detect", &err);
        free(detections);
      }
    } else {
      /* whole-image regions of batch images: one batched run per max_batch; embedding +
       * labels, as analyze does for the regions of one image */
      size_t dim = visor_embedder_dim(b->session, b->spec), classes = b->spec->label_count;
      float *embeddings = malloc(batch * dim * sizeof(float));
      float *logits = classes ? malloc(batch * classes * sizeof(float)) : NULL;
      size_t at = 0;
      for (size_t i = 0; i < batch; i++) {
        visor_tensor_map map;
        if (visor_preprocess(&b->spec->input, &images[i], NULL, tensor + i * item, &map, &err))
          die("preprocess", &err);
      }
      const char *names[2] = {b->spec->embedding_output, b->spec->logits_output};
      float *outputs[2] = {embeddings, logits};
      if (visor_onnx_session_run(b->session, tensor, batch, names, logits ? 2 : 1, outputs, &err))
        die("run", &err);
      for (size_t i = 0; i < batch; i++) {
        visor_l2_normalize(embeddings + i * dim, dim);
        visor_label labels[VISOR_ML_MAX_LABELS];
        if (logits)
          at += visor_labeller_top_k(logits + i * classes, classes, b->spec->softmax,
                                     b->spec->labels, b->spec->top_k, labels);
      }
      (void)at;
      free(embeddings);
      free(logits);
    }
  }
  double elapsed = now_ms() - start;
  for (size_t i = 0; i < batch; i++)
    visor_rgb_image_free(&images[i]);
  free(tensor);
  return elapsed;
}

static double time_step(model_bench *b, step what, size_t batch, int iterations) {
  double *times = malloc((size_t)iterations * sizeof *times);
  for (int i = 0; i < 3; i++)
    run_step(b, what, batch); /* warm-up */
  for (int i = 0; i < iterations; i++)
    times[i] = run_step(b, what, batch);
  double result = median(times, iterations);
  free(times);
  return result;
}

/* ONNX Runtime directly (node): median ms of one run on the same tensor. */
static double time_reference(model_bench *b, size_t batch, int iterations, int threads) {
  const visor_model_spec *spec = b->spec;
  size_t item = visor_onnx_session_input_floats(b->session);
  char path[] = "/tmp/visor-bench-ml-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) die("mkstemp", NULL);
  FILE *file = fdopen(fd, "wb");
  size_t feed = (spec->tasks & VISOR_TASK_DETECTOR) ? 1 : batch;
  fwrite(b->tensor, sizeof(float), feed * item, file);
  fclose(file);
  char outputs[512] = "", command[8192];
  for (size_t o = 0; o < b->output_count; o++) {
    strcat(outputs, o ? "," : "");
    strcat(outputs, b->names[o]);
  }
  int nchw = spec->input.layout == VISOR_LAYOUT_NCHW;
  snprintf(command, sizeof command,
           "node '%s/tests/tools/ort_reference.js' --model '%s' --input '%s' --shape "
           "%zu,%d,%d,%d --data '%s' --outputs '%s' --threads %d --bench %d",
           VISOR_SOURCE_DIR, spec->path, spec->input.name, feed, nchw ? 3 : spec->input.height,
           nchw ? spec->input.height : spec->input.width, nchw ? spec->input.width : 3, path,
           outputs, threads, iterations);
  FILE *pipe = popen(command, "r");
  char line[1024] = "";
  double ms = NAN;
  if (pipe && fgets(line, sizeof line, pipe)) {
    const char *at = strstr(line, "\"median_ms\":");
    if (at) ms = atof(at + 12);
  }
  if (pipe) pclose(pipe);
  unlink(path);
  /* the detector takes one image per run: batch images = batch runs */
  return (spec->tasks & VISOR_TASK_DETECTOR) ? ms * batch : ms;
}

int main(int argc, char **argv) {
  int iterations = 40, threads = 1, rounds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--iterations") == 0)
      iterations = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--threads") == 0)
      threads = atoi(argv[i + 1]);
  }
  if (iterations < 1) iterations = 1;
  if (rounds < 1) rounds = 1;
  const char *shared = getenv("VISOR_SHARED_DIR");
  if (!shared) shared = VISOR_SHARED_DEFAULT;
  char models_dir[4096], manifest_path[4096];
  snprintf(models_dir, sizeof models_dir, "%s/models", shared);
  visor_error err = {0};
  visor_manifest manifest;
  if (visor_image_init(&err)) die("libvips", &err);
  if (visor_manifest_locate(NULL, models_dir, manifest_path, sizeof manifest_path, &err) ||
      visor_manifest_load(manifest_path, models_dir, &manifest, &err))
    die("manifest", &err);

  encoded images[BATCH];
  for (int i = 0; i < BATCH; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/datasets/grocery/%s", shared, photos[i]);
    FILE *file = fopen(path, "rb");
    if (!file) die(path, NULL);
    fseek(file, 0, SEEK_END);
    images[i].len = (size_t)ftell(file);
    fseek(file, 0, SEEK_SET);
    images[i].data = malloc(images[i].len);
    if (fread(images[i].data, 1, images[i].len, file) != images[i].len) die(path, NULL);
    fclose(file);
  }

  printf("ML inference: %d intra-op thread(s); per cell the best of %d rounds, each the median "
         "of %d calls (batch 8: %d); photos 348x348 JPEG\n\n",
         threads, rounds, iterations, (iterations + 3) / 4);
  printf("| model | batch | end to end ms | decode ms | preprocess ms | C inference ms | ONNX "
         "Runtime alone ms | C inference / runtime | end to end / (runtime + decode + "
         "preprocess) | preprocess / inference | images/s end to end |\n");
  printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (size_t m = 0; m < manifest.model_count; m++) {
    model_bench b = {.spec = &manifest.models[m], .images = images};
    if (visor_onnx_session_open(b.spec, threads, 1, &b.session, &err)) die("session", &err);
    size_t item = visor_onnx_session_input_floats(b.session);
    b.tensor = malloc(BATCH * item * sizeof(float));
    for (int i = 0; i < BATCH; i++) {
      visor_rgb_image image;
      visor_tensor_map map;
      float scale;
      if (visor_image_decode_rgb(images[i].data, images[i].len, 0, VISOR_ML_DECODE_MAX_SIDE, &image,
                                 &scale, &err) ||
          visor_preprocess(&b.spec->input, &image, NULL, b.tensor + i * item, &map, &err))
        die("preprocess", &err);
      b.decoded[i] = image;
    }
    if (b.spec->detections_output[0]) b.names[b.output_count++] = b.spec->detections_output;
    if (b.spec->embedding_output[0]) b.names[b.output_count++] = b.spec->embedding_output;
    if (b.spec->logits_output[0]) b.names[b.output_count++] = b.spec->logits_output;
    for (size_t o = 0; o < b.output_count; o++)
      b.outputs[o] =
          malloc(BATCH * visor_onnx_session_output_floats(b.session, b.names[o]) * sizeof(float));

    size_t batches[2] = {1, BATCH};
    for (int k = 0; k < 2; k++) {
      size_t batch = batches[k];
      int n = batch == 1 ? iterations : (iterations + 3) / 4;
      /* Rounds interleave the four measurements so that load from other processes hits
       * them alike; each keeps its best round (median of n calls). */
      double e2e = INFINITY, decode = INFINITY, pre = INFINITY, inference = INFINITY,
             reference = INFINITY;
      for (int round = 0; round < rounds; round++) {
        e2e = fmin(e2e, time_step(&b, STEP_END_TO_END, batch, n));
        decode = fmin(decode, time_step(&b, STEP_DECODE, batch, n));
        pre = fmin(pre, time_step(&b, STEP_PREPROCESS, batch, n));
        inference = fmin(inference, time_step(&b, STEP_INFERENCE, batch, n));
        reference = fmin(reference, time_reference(&b, batch, n, threads));
      }
      printf("| %s | %zu%s | %.2f | %.2f | %.2f | %.2f | %.2f | %.3f | %.3f | %.2f | %.1f |\n",
             b.spec->name, batch,
             (b.spec->tasks & VISOR_TASK_DETECTOR) && batch > 1 ? " (8x1)" : "", e2e, decode, pre,
             inference, reference, inference / reference, e2e / (reference + decode + pre),
             pre / inference, 1000.0 * batch / e2e);
      fflush(stdout);
    }
    for (size_t o = 0; o < b.output_count; o++)
      free(b.outputs[o]);
    free(b.tensor);
    visor_onnx_session_close(b.session);
  }
  printf("\nC inference / runtime: the C wrapper's cost over ONNX Runtime itself on the same "
         "tensor.\nend to end / (runtime + decode + preprocess): what the C path adds around "
         "the parts (postprocess, copies).\n");
  for (int i = 0; i < BATCH; i++)
    free(images[i].data);
  visor_manifest_free(&manifest);
  return 0;
}
