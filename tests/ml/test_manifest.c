/* test_manifest.c: models.json validation: the shipped manifest loads; a missing field, a
 * bad value, an unknown field, a wrong input name, a wrong input size and a label file that
 * does not match the model each fail with a message naming the problem; a colour descriptor
 * is read with its bins and weight and marks the version. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "ml/manifest.h"
#include "ml/onnx_session.h"
#include "ml_test.h"

static char models_dir[4096];

/* A one-model manifest around the mobilenet entry, with a piece of it replaced. */
static const char *const embedder_template =
    "{\"format\": 1, \"models\": [{\"name\": \"m\", \"version\": \"1\", "
    "\"file\": \"mobilenetv2-12-int8-embed.onnx\", \"tasks\": [\"embedder\", \"classifier\"], "
    "\"input\": {\"name\": \"%s\", \"width\": %d, \"height\": 224, \"layout\": \"NCHW\", "
    "\"color\": \"RGB\", \"scale\": 0.0039215686, \"mean\": [0.485, 0.456, 0.406], "
    "\"std\": [0.229, 0.224, 0.225], \"resize\": \"center_crop\", \"short_side\": 256%s}, "
    "\"outputs\": {\"embedding\": {\"name\": \"%s\"}, \"logits\": {\"name\": \"output\"}}, "
    "\"labels\": \"%s\"}]}";

static visor_code parse_embedder(const char *input_name, int width, const char *extra,
                                 const char *embedding, const char *labels, visor_manifest *m,
                                 visor_error *err) {
  char json[2048];
  snprintf(json, sizeof json, embedder_template, input_name, width, extra, embedding, labels);
  return visor_manifest_parse(json, "test.json", models_dir, m, err);
}

static void expect_parse_error(const char *json, const char *fragment) {
  visor_manifest m;
  visor_error err = {0};
  visor_code code = visor_manifest_parse(json, "test.json", models_dir, &m, &err);
  if (code == VISOR_OK) fail_msg("manifest parsed, expected an error with \"%s\"", fragment);
  if (!strstr(err.message, fragment))
    fail_msg("error \"%s\" does not name \"%s\"", err.message, fragment);
}

static void test_shipped_manifest(void **state) {
  (void)state;
  visor_manifest m;
  visor_error err = {0};
  char path[4096];
  assert_int_equal(visor_manifest_locate(NULL, models_dir, path, sizeof path, &err), VISOR_OK);
  assert_non_null(strstr(path, "models/models.json")); /* shared/models has none: the repo's */
  if (visor_manifest_load(path, models_dir, &m, &err)) fail_msg("%s", err.message);
  assert_int_equal(m.model_count, 2);
  const visor_model_spec *detector = visor_manifest_model(&m, VISOR_TASK_DETECTOR);
  const visor_model_spec *embedder = visor_manifest_model(&m, VISOR_TASK_EMBEDDER);
  assert_ptr_equal(embedder, visor_manifest_model(&m, VISOR_TASK_CLASSIFIER));
  assert_string_equal(detector->input.name, "images");
  assert_int_equal(detector->input.colour, VISOR_COLOUR_BGR);
  assert_int_equal(detector->input.resize, VISOR_RESIZE_LETTERBOX);
  assert_true(detector->input.fill == 114.0f);
  assert_int_equal(detector->label_count, 80);
  assert_string_equal(detector->labels[46], "banana");
  assert_int_equal(embedder->label_count, 1000);
  assert_int_equal(embedder->input.short_side, 256);
  assert_true(fabsf(embedder->input.std[2] - 0.225f) < 1e-6f);
  visor_manifest_free(&m);
}

static void test_field_errors(void **state) {
  (void)state;
  expect_parse_error("{\"format\": 1", "line 1");
  expect_parse_error("{\"models\": []}", "format");
  expect_parse_error("{\"format\": 1, \"models\": []}", "models");
  expect_parse_error("{\"format\": 1, \"models\": [{\"version\": \"1\"}]}", "models[0].name");
  expect_parse_error("{\"format\": 1, \"models\": [{\"name\": \"x\", \"version\": \"1\", "
                     "\"file\": \"yolox_nano.onnx\"}]}",
                     "models[0].tasks");
  expect_parse_error("{\"format\": 1, \"models\": [{\"name\": \"x\", \"version\": \"1\", "
                     "\"file\": \"yolox_nano.onnx\", \"tasks\": [\"segmenter\"]}]}",
                     "models[0].tasks");
  expect_parse_error("{\"format\": 1, \"modles\": []}", "modles: unknown field");

  visor_manifest m;
  visor_error err = {0};
  /* the template itself is valid */
  if (parse_embedder("input", 224, "", "embedding", "imagenet_classes.txt", &m, &err))
    fail_msg("%s", err.message);
  visor_manifest_free(&m);
  assert_int_equal(parse_embedder("input", 224, ", \"layout\": \"CHW\"", "embedding",
                                  "imagenet_classes.txt", &m, &err),
                   VISOR_ERR_INVALID); /* duplicate key: jansson keeps the last */
  assert_non_null(strstr(err.message, "models[0].input.layout"));
  assert_non_null(strstr(err.message, "NCHW"));
  assert_int_equal(parse_embedder("input", -3, "", "embedding", "imagenet_classes.txt", &m, &err),
                   VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "models[0].input.width"));
  assert_int_equal(parse_embedder("input", 224, ", \"colour\": \"RGB\"", "embedding",
                                  "imagenet_classes.txt", &m, &err),
                   VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "models[0].input.colour: unknown field"));
  assert_int_equal(parse_embedder("input", 224, ", \"short_side\": 100", "embedding",
                                  "imagenet_classes.txt", &m, &err),
                   VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "short_side"));
  assert_int_equal(parse_embedder("input", 224, "", "embedding", "no-such-labels.txt", &m, &err),
                   VISOR_ERR_NOT_FOUND);
  assert_non_null(strstr(err.message, "no-such-labels.txt"));
}

/* The template with a colour_histogram object in outputs.embedding ("name" is given twice:
 * jansson keeps the last). */
static visor_code parse_colour(const char *colour, visor_manifest *m, visor_error *err) {
  char embedding[512];
  snprintf(embedding, sizeof embedding,
           "embedding\", \"colour_histogram\": %s, \"name\": \"embedding", colour);
  return parse_embedder("input", 224, "", embedding, "imagenet_classes.txt", m, err);
}

static void test_colour_histogram(void **state) {
  (void)state;
  visor_manifest m;
  visor_error err = {0};
  if (parse_colour("{\"hue\": 12, \"saturation\": 3, \"value\": 3, \"weight\": 0.3}", &m, &err))
    fail_msg("%s", err.message);
  const visor_model_spec *spec = visor_manifest_model(&m, VISOR_TASK_EMBEDDER);
  assert_int_equal(spec->colour.hue, 12);
  assert_int_equal(visor_colour_dim(&spec->colour), 108);
  assert_float_equal(spec->colour_weight, 0.3f, 1e-6f);
  assert_string_equal(spec->version, "1+hsv12x3x3@0.3"); /* vectors of either never mix */
  visor_manifest_free(&m);
  /* Without one there is no colour part and the version is the manifest's. */
  if (parse_embedder("input", 224, "", "embedding", "imagenet_classes.txt", &m, &err))
    fail_msg("%s", err.message);
  spec = visor_manifest_model(&m, VISOR_TASK_EMBEDDER);
  assert_int_equal(visor_colour_dim(&spec->colour), 0);
  assert_string_equal(spec->version, "1");
  visor_manifest_free(&m);

  assert_int_equal(
      parse_colour("{\"hue\": 0, \"saturation\": 3, \"value\": 3, \"weight\": 1}", &m, &err),
      VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "embedding.colour_histogram.hue"));
  assert_int_equal(parse_colour("{\"hue\": 8, \"saturation\": 3, \"value\": 3}", &m, &err),
                   VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "colour_histogram.weight"));
  assert_int_equal(
      parse_colour("{\"hue\": 8, \"saturation\": 3, \"value\": 3, \"weight\": 1, \"bins\": 2}", &m,
                   &err),
      VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "bins: unknown field"));
  assert_int_equal(parse_colour("[8, 3, 3]", &m, &err), VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "colour_histogram"));
}

static void test_model_mismatch(void **state) {
  (void)state;
  struct {
    const char *input;
    int width;
    const char *embedding, *labels, *fragment;
  } cases[] = {
      {"pixels", 224, "embedding", "imagenet_classes.txt",
       "\"pixels\" is not one of the model's inputs: \"input\""},
      {"input", 200, "embedding", "imagenet_classes.txt", "width 224, manifest 200"},
      {"input", 224, "features", "imagenet_classes.txt",
       "\"features\" is not one of the model's outputs"},
      {"input", 224, "embedding", "coco_classes.txt", "(1000 classes) but the label file"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    visor_manifest m;
    visor_error err = {0};
    if (parse_embedder(cases[i].input, cases[i].width, "", cases[i].embedding, cases[i].labels, &m,
                       &err))
      fail_msg("case %zu: %s", i, err.message);
    visor_onnx_session *session = NULL;
    visor_code code = visor_onnx_session_open(&m.models[0], 1, 1, &session, &err);
    assert_int_equal(code, VISOR_ERR_INVALID);
    assert_null(session);
    if (!strstr(err.message, cases[i].fragment))
      fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err.message, cases[i].fragment);
    visor_manifest_free(&m);
  }
  /* A detector whose label file has the wrong class count. */
  visor_manifest m;
  visor_error err = {0};
  const char *json =
      "{\"format\": 1, \"models\": [{\"name\": \"d\", \"version\": \"1\", \"file\": "
      "\"yolox_nano.onnx\", \"tasks\": [\"detector\", \"embedder\"], \"input\": {\"name\": "
      "\"images\", \"width\": 416, \"height\": 416, \"layout\": \"NCHW\", \"color\": \"BGR\", "
      "\"scale\": 1, \"resize\": \"letterbox\", \"fill\": 114}, \"outputs\": {\"detections\": "
      "{\"name\": \"output\", \"format\": \"yolox\"}, \"embedding\": {\"name\": \"output\"}}, "
      "\"labels\": \"imagenet_classes.txt\"}]}";
  if (visor_manifest_parse(json, "d.json", models_dir, &m, &err)) fail_msg("%s", err.message);
  visor_onnx_session *session = NULL;
  assert_int_equal(visor_onnx_session_open(&m.models[0], 1, 1, &session, &err), VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "[1,3549,1005]"));
  visor_manifest_free(&m);
}

int main(void) {
  shared_path(models_dir, sizeof models_dir, "models");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shipped_manifest),
      cmocka_unit_test(test_field_errors),
      cmocka_unit_test(test_colour_histogram),
      cmocka_unit_test(test_model_mismatch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
