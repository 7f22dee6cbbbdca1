/* test_ort_equality.c: the C path's model outputs equal ONNX Runtime's own. The C side
 * preprocesses real photos into input tensors and runs them through visor_onnx_session;
 * the same tensors go to tests/tools/ort_reference.js (onnxruntime-node, pinned in
 * tests/tools/package-lock.json); every output value must agree to 1e-5 (relative to the
 * value's size when it is above 1). Skips only when tests/tools/node_modules is missing. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "image/image.h"
#include "ml/manifest.h"
#include "ml/onnx_session.h"
#include "ml/preprocess.h"
#include "ml_test.h"

#define TOOLS_DIR VISOR_SOURCE_DIR "/tests/tools"
#define TOLERANCE 1e-5

static char models_dir[4096];
static char work_dir[] = "/tmp/visor-ort-equality-XXXXXX";

static void write_floats(const char *path, const float *data, size_t count) {
  FILE *file = fopen(path, "wb");
  assert_non_null(file);
  assert_int_equal(fwrite(data, sizeof(float), count, file), count);
  fclose(file);
}

static void compare_model(const visor_model_spec *spec, const visor_box *boxes, size_t batch) {
  visor_error err = {0};
  visor_onnx_session *session = NULL;
  if (visor_onnx_session_open(spec, 1, 1, &session, &err)) fail_msg("%s", err.message);
  if (batch > visor_onnx_session_max_batch(session)) batch = visor_onnx_session_max_batch(session);

  /* Input: real photos, preprocessed by the C path. */
  const char *photos[] = {"datasets/grocery/test/Fruit/Banana/Banana_001.jpg",
                          "datasets/grocery/test/Packages/Milk/Arla-Standard-Milk/"
                          "Arla-Standard-Milk_001.jpg",
                          "datasets/grocery/iconic-images-and-descriptions/Fruit/Lemon/"
                          "Lemon_Iconic.jpg"};
  size_t item = visor_onnx_session_input_floats(session);
  float *input = malloc(batch * item * sizeof(float));
  for (size_t b = 0; b < batch; b++) {
    char path[4096];
    size_t len = 0;
    shared_path(path, sizeof path, photos[b % 3]);
    void *data = read_whole(path, &len);
    assert_non_null(data);
    visor_rgb_image image;
    if (visor_image_decode_rgb(data, len, 0, 0, &image, NULL, &err)) fail_msg("%s", err.message);
    visor_tensor_map map;
    if (visor_preprocess(&spec->input, &image, boxes ? &boxes[b] : NULL, input + b * item, &map,
                         &err))
      fail_msg("%s", err.message);
    visor_rgb_image_free(&image);
    free(data);
  }

  const char *names[3];
  size_t count = 0;
  if (spec->detections_output[0]) names[count++] = spec->detections_output;
  if (spec->embedding_output[0]) names[count++] = spec->embedding_output;
  if (spec->logits_output[0]) names[count++] = spec->logits_output;
  float *outputs[3];
  for (size_t o = 0; o < count; o++)
    outputs[o] =
        malloc(batch * visor_onnx_session_output_floats(session, names[o]) * sizeof(float));
  if (visor_onnx_session_run(session, input, batch, names, count, outputs, &err))
    fail_msg("%s", err.message);

  /* The same tensor through ONNX Runtime directly. */
  char data_path[4200], prefix[4200], command[16384], output_list[512] = "";
  snprintf(data_path, sizeof data_path, "%s/%s.input.f32", work_dir, spec->name);
  snprintf(prefix, sizeof prefix, "%s/%s", work_dir, spec->name);
  write_floats(data_path, input, batch * item);
  for (size_t o = 0; o < count; o++) {
    strcat(output_list, o ? "," : "");
    strcat(output_list, names[o]);
  }
  int nchw = spec->input.layout == VISOR_LAYOUT_NCHW;
  snprintf(command, sizeof command,
           "node '%s/ort_reference.js' --model '%s' --input '%s' --shape %zu,%d,%d,%d "
           "--data '%s' --outputs '%s' --out '%s' --threads 1",
           TOOLS_DIR, spec->path, spec->input.name, batch, nchw ? 3 : spec->input.height,
           nchw ? spec->input.height : spec->input.width, nchw ? spec->input.width : 3, data_path,
           output_list, prefix);
  int status = system(command);
  if (status != 0) fail_msg("the reference run failed (status %d): %s", status, command);

  for (size_t o = 0; o < count; o++) {
    char path[4400];
    size_t len = 0, floats = batch * visor_onnx_session_output_floats(session, names[o]);
    snprintf(path, sizeof path, "%s.%s.f32", prefix, names[o]);
    float *reference = read_whole(path, &len);
    assert_non_null(reference);
    assert_int_equal(len, floats * sizeof(float));
    double worst = 0;
    size_t worst_at = 0;
    for (size_t i = 0; i < floats; i++) {
      double diff = fabs((double)outputs[o][i] - reference[i]) / fmax(1.0, fabs(reference[i]));
      if (!(diff <= worst)) worst = diff, worst_at = i;
    }
    printf("# %s output \"%s\": %zu values, batch %zu, worst difference %.3g at %zu\n", spec->name,
           names[o], floats, batch, worst, worst_at);
    if (!(worst <= TOLERANCE))
      fail_msg("%s output \"%s\"[%zu]: C %.9g, ONNX Runtime %.9g", spec->name, names[o], worst_at,
               outputs[o][worst_at], reference[worst_at]);
    free(reference);
    unlink(path);
    free(outputs[o]);
  }
  unlink(data_path);
  free(input);
  visor_onnx_session_close(session);
}

static void test_outputs_equal(void **state) {
  (void)state;
  if (access(TOOLS_DIR "/node_modules/onnxruntime-node", F_OK) != 0) {
    printf("# SKIP: %s/node_modules is missing: run scripts/setup.sh (npm ci in tests/tools)\n",
           TOOLS_DIR);
    skip();
  }
  visor_error err = {0};
  char path[4096];
  visor_manifest manifest;
  assert_int_equal(visor_manifest_locate(NULL, models_dir, path, sizeof path, &err), VISOR_OK);
  if (visor_manifest_load(path, models_dir, &manifest, &err)) fail_msg("%s", err.message);
  assert_non_null(mkdtemp(work_dir));
  visor_box boxes[3] = {{0, 0, 348, 348}, {40, 60, 200, 120}, {0, 0, 1e6f, 1e6f}};
  for (size_t m = 0; m < manifest.model_count; m++)
    compare_model(&manifest.models[m],
                  (manifest.models[m].tasks & VISOR_TASK_DETECTOR) ? NULL : boxes, 3);
  rmdir(work_dir);
  visor_manifest_free(&manifest);
}

int main(void) {
  shared_path(models_dir, sizeof models_dir, "models");
  visor_error err = {0};
  if (visor_image_init(&err)) return 1;
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_outputs_equal)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
