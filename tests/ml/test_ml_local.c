/* test_ml_local.c: the in-process ML backend on Grocery Store photos: bananas and apples
 * are detected, a carton photo still gets its whole-image region, the labeller knows the
 * iconic fruit, embeddings are unit vectors, stable under resize + re-encode and closer
 * within a class than across classes; bad images fail cleanly; concurrent calls agree. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <vips/vips.h>

#include "ml/ml.h"
#include "ml_test.h"

static visor_ml *ml;
static size_t dim;

static int open_ml(void **state) {
  (void)state;
  char models[4096];
  shared_path(models, sizeof models, "models");
  visor_ml_config config = {.url = "local", .models_dir = models, .intra_op_threads = 2};
  visor_error err = {0};
  ml = visor_ml_open(&config, &err);
  if (!ml) {
    fprintf(stderr, "visor_ml_open: %s\n", err.message);
    return -1;
  }
  visor_model_info info;
  if (ml->ops->embedder_info(ml, &info, &err)) return -1;
  dim = info.dim;
  return 0;
}

static int close_ml(void **state) {
  (void)state;
  ml->ops->close(ml);
  return 0;
}

static void *read_photo(const char *relative, size_t *len) {
  char path[4096];
  shared_path(path, sizeof path, relative);
  void *data = read_whole(path, len);
  if (!data) fail_msg("cannot read %s", path);
  return data;
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The first n photos (sorted by name) of datasets/grocery/test/<folder>, as relative paths
 * in out[i] (size 512 each); returns how many. */
static int first_photos(const char *folder, int n, char out[][512]) {
  char dir_path[4096];
  char relative[512];
  snprintf(relative, sizeof relative, "datasets/grocery/test/%s", folder);
  shared_path(dir_path, sizeof dir_path, relative);
  DIR *dir = opendir(dir_path);
  if (!dir) fail_msg("cannot list %s", dir_path);
  char *names[256];
  int count = 0;
  struct dirent *entry;
  while ((entry = readdir(dir)) && count < 256)
    if (strstr(entry->d_name, ".jpg")) names[count++] = strdup(entry->d_name);
  closedir(dir);
  qsort(names, (size_t)count, sizeof names[0], by_name);
  int taken = count < n ? count : n;
  for (int i = 0; i < taken; i++)
    if (snprintf(out[i], 512, "%s/%s", relative, names[i]) >= 512) fail_msg("path too long");
  for (int i = 0; i < count; i++)
    free(names[i]);
  return taken;
}

static void analyze_photo(const char *relative, const visor_analyze_options *options,
                          visor_analysis *out) {
  size_t len;
  void *data = read_photo(relative, &len);
  visor_error err = {0};
  if (ml->ops->analyze(ml, data, len, options, out, &err))
    fail_msg("analyze %s: %s", relative, err.message);
  free(data);
}

static int has_detection(const visor_analysis *a, const char *name) {
  for (size_t i = 1; i < a->region_count; i++)
    if (strcmp(a->regions[i].detector.name, name) == 0) return 1;
  return 0;
}

static void expect_detects(const char *folder, const char *name, int needed) {
  char paths[6][512];
  int found = 0, total = first_photos(folder, 6, paths);
  for (int n = 0; n < total; n++) {
    visor_analysis a;
    analyze_photo(paths[n], NULL, &a);
    assert_true(a.regions[0].whole_image);
    for (size_t i = 1; i < a.region_count; i++) {
      const visor_box *b = &a.regions[i].box;
      assert_false(a.regions[i].whole_image);
      assert_true(b->x >= 0 && b->y >= 0 && b->w >= 8 && b->h >= 8);
      assert_true(b->x + b->w <= a.width + 0.5f && b->y + b->h <= a.height + 0.5f);
      assert_true(a.regions[i].detector.score >= 0.3f);
      if (i > 1) assert_true(a.regions[i].detector.score <= a.regions[i - 1].detector.score);
    }
    found += has_detection(&a, name);
    visor_analysis_free(&a);
  }
  if (found < needed)
    fail_msg("%s found in %d of %d %s photos, expected %d", name, found, total, folder, needed);
}

static void test_detects_bananas(void **state) {
  (void)state;
  expect_detects("Fruit/Banana", "banana", 4);
}

static void test_detects_apples(void **state) {
  (void)state;
  expect_detects("Fruit/Apple/Granny-Smith", "apple", 4);
}

static void test_carton_whole_image(void **state) {
  (void)state;
  visor_analysis a;
  char carton[1][512];
  assert_int_equal(first_photos("Packages/Juice/Tropicana-Apple-Juice", 1, carton), 1);
  analyze_photo(carton[0], NULL, &a);
  assert_true(a.region_count >= 1);
  const visor_region *whole = &a.regions[0];
  assert_true(whole->whole_image);
  assert_true(whole->box.x == 0 && whole->box.y == 0);
  assert_true(whole->box.w == (float)a.width && whole->box.h == (float)a.height);
  assert_string_equal(whole->detector.name, "");
  assert_int_equal(whole->label_count, 5);
  assert_non_null(whole->embedding);
  /* MobileNetV2's 1280 features, then the shipped manifest's 12x3x3 colour histogram at
   * weight 0.3: the two parts' lengths are 1 : 0.3 in the unit-length whole. */
  assert_int_equal(a.dim, 1280 + 108);
  double model_part = 0, colour_part = 0;
  for (size_t i = 0; i < a.dim; i++)
    *(i < 1280 ? &model_part : &colour_part) += (double)whole->embedding[i] * whole->embedding[i];
  assert_float_equal(sqrt(colour_part / model_part), 0.3, 1e-4);
  assert_float_equal(model_part + colour_part, 1.0, 1e-4);
  assert_non_null(strstr(a.embedder.version, "+hsv12x3x3@0.3"));
  assert_string_equal(a.format, "jpeg");
  assert_string_equal(a.embedder.name, "mobilenetv2-12-int8-embed");
  assert_string_equal(a.detector.name, "yolox_nano");
  assert_true(strlen(a.embedder.version) > 0);
  visor_analysis_free(&a);
}

static void expect_top5(const char *relative, const char *label) {
  visor_analyze_options options = {.max_regions = 1};
  visor_analysis a;
  analyze_photo(relative, &options, &a);
  assert_int_equal(a.region_count, 1);
  int found = 0;
  for (size_t i = 0; i < a.regions[0].label_count; i++) {
    if (strcmp(a.regions[0].labels[i].name, label) == 0) found = 1;
    if (i) assert_true(a.regions[0].labels[i].score <= a.regions[0].labels[i - 1].score);
  }
  if (!found)
    fail_msg("%s: \"%s\" not in the top 5 (top 1 \"%s\" %.2f)", relative, label,
             a.regions[0].labels[0].name, a.regions[0].labels[0].score);
  visor_analysis_free(&a);
}

static void test_labeller_iconic(void **state) {
  (void)state;
  expect_top5("datasets/grocery/iconic-images-and-descriptions/Fruit/Apple/Granny-Smith/"
              "Granny-Smith_Iconic.jpg",
              "Granny Smith");
  expect_top5("datasets/grocery/iconic-images-and-descriptions/Fruit/Banana/Banana_Iconic.jpg",
              "banana");
  expect_top5("datasets/grocery/iconic-images-and-descriptions/Fruit/Lemon/Lemon_Iconic.jpg",
              "lemon");
}

static void test_unit_norm(void **state) {
  (void)state;
  visor_analysis a;
  analyze_photo("datasets/grocery/test/Fruit/Banana/Banana_001.jpg", NULL, &a);
  assert_true(a.region_count >= 2);
  for (size_t r = 0; r < a.region_count; r++) {
    double sum = 0;
    for (size_t i = 0; i < a.dim; i++) {
      assert_true(isfinite(a.regions[r].embedding[i]));
      sum += (double)a.regions[r].embedding[i] * a.regions[r].embedding[i];
    }
    assert_true(fabs(sqrt(sum) - 1.0) < 1e-4);
  }
  visor_analysis_free(&a);
}

/* Whole-image embedding of an encoded image (caller frees). */
static float *embed_whole(const void *data, size_t len) {
  visor_analyze_options options = {.max_regions = 1};
  visor_analysis a;
  visor_error err = {0};
  if (ml->ops->analyze(ml, data, len, &options, &a, &err)) fail_msg("analyze: %s", err.message);
  float *vector = a.regions[0].embedding;
  a.regions[0].embedding = NULL;
  visor_analysis_free(&a);
  return vector;
}

static void test_resize_reencode_stable(void **state) {
  (void)state;
  const char *photos[] = {"datasets/grocery/test/Fruit/Banana/Banana_003.jpg",
                          "datasets/grocery/test/Packages/Milk/Arla-Standard-Milk/"
                          "Arla-Standard-Milk_003.jpg"};
  for (size_t p = 0; p < 2; p++) {
    size_t len;
    void *data = read_photo(photos[p], &len);
    VipsImage *image = vips_image_new_from_buffer(data, len, "", NULL), *smaller = NULL;
    assert_non_null(image);
    assert_int_equal(vips_resize(image, &smaller, 0.6, NULL), 0);
    void *jpeg = NULL, *webp = NULL;
    size_t jpeg_len, webp_len;
    assert_int_equal(vips_jpegsave_buffer(smaller, &jpeg, &jpeg_len, "Q", 85, NULL), 0);
    assert_int_equal(vips_webpsave_buffer(image, &webp, &webp_len, "Q", 80, NULL), 0);
    float *original = embed_whole(data, len), *resized = embed_whole(jpeg, jpeg_len),
          *recoded = embed_whole(webp, webp_len);
    float c1 = cosine(original, resized, dim), c2 = cosine(original, recoded, dim);
    printf("# %s: cosine resized x0.6 + JPEG Q85 %.3f, WebP Q80 %.3f\n", photos[p], c1, c2);
    if (c1 <= 0.95f || c2 <= 0.95f)
      fail_msg("%s: cosine resized %.3f, re-encoded %.3f (want > 0.95)", photos[p], c1, c2);
    free(original), free(resized), free(recoded);
    g_free(jpeg), g_free(webp);
    g_object_unref(smaller);
    g_object_unref(image);
    free(data);
  }
}

static void test_same_class_closer(void **state) {
  (void)state;
  const char *classes[] = {"Fruit/Banana", "Fruit/Apple/Granny-Smith",
                           "Packages/Milk/Arla-Standard-Milk", "Vegetables/Pepper/Red-Bell-Pepper"};
  enum { CLASSES = 4, PER_CLASS = 4 };
  float *vectors[CLASSES][PER_CLASS];
  for (int c = 0; c < CLASSES; c++) {
    char paths[PER_CLASS][512];
    assert_int_equal(first_photos(classes[c], PER_CLASS, paths), PER_CLASS);
    for (int i = 0; i < PER_CLASS; i++) {
      size_t len;
      void *data = read_photo(paths[i], &len);
      vectors[c][i] = embed_whole(data, len);
      free(data);
    }
  }
  double same = 0, different = 0;
  int same_n = 0, different_n = 0;
  for (int c = 0; c < CLASSES; c++)
    for (int i = 0; i < PER_CLASS; i++)
      for (int d = 0; d < CLASSES; d++)
        for (int j = 0; j < PER_CLASS; j++) {
          if (c == d && j <= i) continue;
          float s = cosine(vectors[c][i], vectors[d][j], dim);
          if (c == d)
            same += s, same_n++;
          else if (d > c)
            different += s, different_n++;
        }
  same /= same_n;
  different /= different_n;
  if (!(same > different + 0.05))
    fail_msg("mean cosine same class %.3f, different classes %.3f", same, different);
  for (int c = 0; c < CLASSES; c++)
    for (int i = 0; i < PER_CLASS; i++)
      free(vectors[c][i]);
}

static void test_embed_boxes(void **state) {
  (void)state;
  size_t len;
  void *data = read_photo("datasets/grocery/test/Fruit/Banana/Banana_001.jpg", &len);
  visor_analysis a;
  visor_error err = {0};
  assert_int_equal(ml->ops->analyze(ml, data, len, NULL, &a, &err), VISOR_OK);
  visor_region regions[3];
  memset(regions, 0, sizeof regions);
  regions[0].box = a.regions[0].box;
  regions[1].box = a.regions[1].box;
  regions[2].box = (visor_box){300, 300, 500, 500}; /* partly outside: clamped */
  assert_int_equal(ml->ops->embed_boxes(ml, data, len, regions, 3, &err), VISOR_OK);
  assert_true(cosine(regions[0].embedding, a.regions[0].embedding, dim) > 0.999f);
  assert_true(cosine(regions[1].embedding, a.regions[1].embedding, dim) > 0.999f);
  assert_string_equal(regions[0].labels[0].name, a.regions[0].labels[0].name);
  assert_int_equal(regions[2].label_count, 5);
  for (int i = 0; i < 3; i++)
    free(regions[i].embedding);
  visor_region outside = {.box = {1000, 10, 20, 20}};
  assert_int_equal(ml->ops->embed_boxes(ml, data, len, &outside, 1, &err), VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "box 0"));
  visor_region empty = {.box = {10, 10, 0, 20}};
  assert_int_equal(ml->ops->embed_boxes(ml, data, len, &empty, 1, &err), VISOR_ERR_INVALID);
  visor_analysis_free(&a);
  free(data);
}

/* Views asked of analyze come last, centred, named "view", embedded as embed_boxes embeds
 * the same boxes, and leave the other regions as they were. */
static void test_views(void **state) {
  (void)state;
  size_t len;
  void *data = read_photo("datasets/grocery/test/Fruit/Banana/Banana_001.jpg", &len);
  visor_error err = {0};
  visor_analysis plain, viewed;
  assert_int_equal(ml->ops->analyze(ml, data, len, NULL, &plain, &err), VISOR_OK);
  visor_analyze_options options = {.views = {0.8f, 0.5f}, .view_count = 2};
  assert_int_equal(ml->ops->analyze(ml, data, len, &options, &viewed, &err), VISOR_OK);
  assert_int_equal(viewed.region_count, plain.region_count + 2);
  for (size_t i = 0; i < plain.region_count; i++)
    assert_true(cosine(viewed.regions[i].embedding, plain.regions[i].embedding, dim) > 0.9999f);
  visor_region boxes[2];
  memset(boxes, 0, sizeof boxes);
  for (size_t v = 0; v < 2; v++) {
    const visor_region *view = &viewed.regions[plain.region_count + v];
    float fraction = options.views[v];
    assert_string_equal(view->detector.name, "view");
    assert_false(view->whole_image);
    assert_float_equal(view->box.w, viewed.width * fraction, 0.01);
    assert_float_equal(view->box.x, (viewed.width - view->box.w) / 2, 0.01);
    assert_float_equal(view->box.h, viewed.height * fraction, 0.01);
    assert_int_equal(view->label_count, 5);
    boxes[v].box = view->box;
  }
  assert_int_equal(ml->ops->embed_boxes(ml, data, len, boxes, 2, &err), VISOR_OK);
  for (size_t v = 0; v < 2; v++) {
    assert_true(cosine(boxes[v].embedding, viewed.regions[plain.region_count + v].embedding, dim) >
                0.999f);
    free(boxes[v].embedding);
  }
  visor_analysis_free(&plain);
  visor_analysis_free(&viewed);
  free(data);
}

/* A PNG of width x height made with libvips (malloc'd). */
static void *tiny_png(int width, int height, size_t *len) {
  VipsImage *black = NULL, *coloured = NULL;
  double offset[3] = {200, 120, 40};
  double gain[3] = {1, 1, 1};
  assert_int_equal(vips_black(&black, width, height, "bands", 3, NULL), 0);
  assert_int_equal(vips_linear(black, &coloured, gain, offset, 3, "uchar", TRUE, NULL), 0);
  void *png = NULL;
  assert_int_equal(vips_pngsave_buffer(coloured, &png, len, NULL), 0);
  g_object_unref(coloured);
  g_object_unref(black);
  void *copy = malloc(*len);
  memcpy(copy, png, *len);
  g_free(png);
  return copy;
}

/* 1x1, 1xN and Nx1 images analyze and embed their centred views (the search pipeline's
 * 80 % view of a 1-pixel side is thinner than a pixel: issue 12, finding 3). */
static void test_one_pixel_sides(void **state) {
  (void)state;
  const int sizes[][2] = {{1, 1}, {1, 37}, {37, 1}, {1, 2000}, {2000, 1}, {2, 2}};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    int width = sizes[s][0], height = sizes[s][1];
    size_t len;
    void *data = tiny_png(width, height, &len);
    visor_analysis a;
    visor_error err = {0};
    assert_int_equal(ml->ops->analyze(ml, data, len, NULL, &a, &err), VISOR_OK);
    assert_true(a.region_count >= 1);
    assert_int_equal(a.width, width);
    assert_int_equal(a.height, height);
    const float scales[] = {0.8f, 0.5f, 0.01f};
    visor_region views[3];
    memset(views, 0, sizeof views);
    for (int v = 0; v < 3; v++) {
      float w = (float)width * scales[v], h = (float)height * scales[v];
      views[v].box = (visor_box){((float)width - w) / 2, ((float)height - h) / 2, w, h};
    }
    visor_code code = ml->ops->embed_boxes(ml, data, len, views, 3, &err);
    if (code) fail_msg("%dx%d: %s", width, height, err.message);
    for (int v = 0; v < 3; v++) {
      assert_non_null(views[v].embedding);
      double norm = 0;
      for (size_t d = 0; d < dim; d++)
        norm += (double)views[v].embedding[d] * views[v].embedding[d];
      assert_true(fabs(norm - 1) < 1e-3);
      free(views[v].embedding);
    }
    /* a box that misses the image is still refused */
    visor_region outside = {.box = {(float)width + 1, 0, 1, 1}};
    assert_int_equal(ml->ops->embed_boxes(ml, data, len, &outside, 1, &err), VISOR_ERR_INVALID);
    visor_analysis_free(&a);
    free(data);
  }
}

static void test_bad_images(void **state) {
  (void)state;
  visor_analysis a;
  visor_error err = {0};
  assert_int_equal(ml->ops->analyze(ml, "", 0, NULL, &a, &err), VISOR_ERR_INVALID);
  assert_int_equal(a.region_count, 0);
  const char text[] = "definitely not a photo of a banana";
  assert_int_equal(ml->ops->analyze(ml, text, sizeof text, NULL, &a, &err), VISOR_ERR_UNSUPPORTED);
  size_t len;
  void *data = read_photo("datasets/grocery/test/Fruit/Banana/Banana_001.jpg", &len);
  visor_code code = ml->ops->analyze(ml, data, len / 3, NULL, &a, &err);
  assert_int_equal(code, VISOR_ERR_INVALID);
  assert_non_null(strstr(err.message, "jpeg"));
  /* skip_embeddings: labels and boxes, no vectors */
  visor_analyze_options options = {.skip_embeddings = 1, .min_score = 0.5f};
  assert_int_equal(ml->ops->analyze(ml, data, len, &options, &a, &err), VISOR_OK);
  for (size_t i = 0; i < a.region_count; i++) {
    assert_null(a.regions[i].embedding);
    assert_int_equal(a.regions[i].label_count, 5);
    if (i) assert_true(a.regions[i].detector.score >= 0.5f);
  }
  visor_analysis_free(&a);
  free(data);
}

static void test_open_errors(void **state) {
  (void)state;
  visor_error err = {0};
  /* an http:// URL opens the client of `visor ml` without contacting it (test_ml_http) */
  visor_ml_config config = {.url = "http://ml.example:8081"};
  visor_ml *remote = visor_ml_open(&config, &err);
  assert_non_null(remote);
  remote->ops->close(remote);
  config.url = "http://";
  assert_null(visor_ml_open(&config, &err));
  assert_int_equal(err.code, VISOR_ERR_INVALID);
  config.url = "grpc://x";
  assert_null(visor_ml_open(&config, &err));
  assert_non_null(strstr(err.message, "grpc://x"));
  config.url = "local";
  config.manifest = "/nonexistent/models.json";
  assert_null(visor_ml_open(&config, &err));
  assert_int_equal(err.code, VISOR_ERR_NOT_FOUND);
  assert_non_null(strstr(err.message, "/nonexistent/models.json"));
  config.manifest = NULL;
  config.models_dir = "/nonexistent-models";
  assert_null(visor_ml_open(&config, &err));
  assert_non_null(strstr(err.message, "/nonexistent-models/yolox_nano.onnx"));
}

typedef struct worker {
  const void *data;
  size_t len;
  visor_analysis analysis;
  visor_code code;
} worker;

static void *analyze_in_thread(void *arg) {
  worker *w = arg;
  visor_error err = {0};
  for (int i = 0; i < 3 && !w->code; i++) {
    if (i) visor_analysis_free(&w->analysis);
    w->code = ml->ops->analyze(ml, w->data, w->len, NULL, &w->analysis, &err);
  }
  return NULL;
}

static void test_concurrent(void **state) {
  (void)state;
  size_t len;
  void *data =
      read_photo("datasets/grocery/test/Fruit/Apple/Granny-Smith/Granny-Smith_002.jpg", &len);
  worker workers[3] = {{data, len, {0}, 0}, {data, len, {0}, 0}, {data, len, {0}, 0}};
  pthread_t threads[3];
  for (int i = 0; i < 3; i++)
    pthread_create(&threads[i], NULL, analyze_in_thread, &workers[i]);
  for (int i = 0; i < 3; i++)
    pthread_join(threads[i], NULL);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(workers[i].code, VISOR_OK);
    assert_int_equal(workers[i].analysis.region_count, workers[0].analysis.region_count);
    for (size_t r = 0; r < workers[i].analysis.region_count; r++)
      assert_true(cosine(workers[i].analysis.regions[r].embedding,
                         workers[0].analysis.regions[r].embedding, dim) > 0.9999f);
  }
  for (int i = 0; i < 3; i++)
    visor_analysis_free(&workers[i].analysis);
  free(data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_detects_bananas),
      cmocka_unit_test(test_detects_apples),
      cmocka_unit_test(test_carton_whole_image),
      cmocka_unit_test(test_labeller_iconic),
      cmocka_unit_test(test_unit_norm),
      cmocka_unit_test(test_resize_reencode_stable),
      cmocka_unit_test(test_same_class_closer),
      cmocka_unit_test(test_embed_boxes),
      cmocka_unit_test(test_bad_images),
      cmocka_unit_test(test_open_errors),
      cmocka_unit_test(test_concurrent),
      cmocka_unit_test(test_one_pixel_sides),
      cmocka_unit_test(test_views),
  };
  return cmocka_run_group_tests(tests, open_ml, close_ml);
}
