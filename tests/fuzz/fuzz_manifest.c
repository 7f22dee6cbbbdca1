/* fuzz_manifest.c: libFuzzer harness for the model manifest loader (src/ml/manifest.c):
 * any bytes as models.json text through visor_manifest_parse, with a models folder (made
 * once in a temporary directory) holding empty stand-ins for the repo's model files and
 * label files of 80 and 1000 lines, so a manifest close to the real one gets past the
 * file checks into task selection. An accepted manifest must be consistent: an embedder
 * chosen, task indexes in range and serving their task, labels loaded. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ml/manifest.h"

static char models_dir[64];

static void write_file(const char *name, int lines) {
  char path[128];
  snprintf(path, sizeof path, "%s/%s", models_dir, name);
  FILE *f = fopen(path, "w");
  if (!f) abort();
  for (int i = 0; i < lines; i++)
    fprintf(f, "class_%d\n", i);
  fclose(f);
}

static void make_models_dir(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(models_dir, sizeof models_dir, "%s/visor-fuzz-models-XXXXXX", tmp ? tmp : "/tmp");
  if (!mkdtemp(models_dir)) abort();
  write_file("yolox_nano.onnx", 0);
  write_file("mobilenetv2-12-int8-embed.onnx", 0);
  write_file("coco_classes.txt", 80);
  write_file("imagenet_classes.txt", 1000);
}

static void check_task(const visor_manifest *m, int index, visor_model_task task) {
  if (index < -1 || index >= (int)m->model_count) abort();
  const visor_model_spec *spec = visor_manifest_model(m, task);
  if ((index < 0) != (spec == NULL)) abort();
  if (spec && !(spec->tasks & task)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!models_dir[0]) make_models_dir();
  char *text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = '\0';
  visor_manifest manifest;
  visor_error err = {0};
  if (visor_manifest_parse(text, "fuzz.json", models_dir, &manifest, &err) == VISOR_OK) {
    if (manifest.embedder < 0 || manifest.model_count == 0) abort();
    check_task(&manifest, manifest.detector, VISOR_TASK_DETECTOR);
    check_task(&manifest, manifest.embedder, VISOR_TASK_EMBEDDER);
    check_task(&manifest, manifest.classifier, VISOR_TASK_CLASSIFIER);
    for (size_t i = 0; i < manifest.model_count; i++) {
      const visor_model_spec *spec = &manifest.models[i];
      for (size_t j = 0; j < spec->label_count; j++)
        if (!spec->labels[j]) abort();
    }
    visor_manifest_free(&manifest);
  } else if (err.message[0] == '\0') {
    abort();
  }
  free(text);
  return 0;
}
