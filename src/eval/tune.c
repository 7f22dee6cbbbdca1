/* tune.c: the fit of `visor eval --tune`: the whole-image embeddings of the fitted
 * products' train photos and iconic images (the iconic image is one more sample of its
 * class and the class's catalogue reference; each embedded as the index task embeds a
 * whole image, its index views averaged in), read from or added to an embedding cache
 * file, the fusion weights chosen on a split inside them (tune/fusion.h), the projection
 * fitted on all of them and installed as the app's current version before indexing. Test
 * photos never enter. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/fsutil.h"
#include "eval/eval_internal.h"
#include "pipeline/settings.h"
#include "pipeline/tuned.h"
#include "pipeline/views.h"

#define MAX_IMAGE_BYTES (64u * 1024 * 1024)
#define CACHE_MAGIC "VECM"

/* The fit photos and their embeddings. */
typedef struct fit_set {
  size_t count, dim;
  const char **paths;
  int *labels, *reference;
  float *vectors;
  int *have;
  /* embedding threads */
  visor_app *app;
  pthread_mutex_t lock;
  size_t next;
  visor_error error;
} fit_set;

int visor_eval_queries_class(const visor_eval_options *options, size_t class_index) {
  return !options->unseen || class_index % 2 == 1;
}

static int fitted_class(const visor_eval_options *options, size_t class_index) {
  return !options->unseen || class_index % 2 == 0;
}

/* The index views a fit photo's embedding averages (0 scales when they are not averaged):
 * a cache made with other views is not read. */
static size_t cached_views(float scales[VISOR_PIPELINE_MAX_VIEWS]) {
  const visor_pipeline_settings *settings = visor_pipeline_settings_get();
  size_t count = settings->index_views_averaged ? settings->index_view_count : 0;
  if (count > VISOR_PIPELINE_MAX_VIEWS) count = VISOR_PIPELINE_MAX_VIEWS;
  memset(scales, 0, VISOR_PIPELINE_MAX_VIEWS * sizeof *scales);
  memcpy(scales, settings->index_views, count * sizeof *scales);
  return count;
}

/* Cache file: "VECM", u32 model length, the embedder's name@version, u32 dim, u32 view count
 * and VISOR_PIPELINE_MAX_VIEWS float scales, then entries of u32 path length, path, dim
 * floats. A cache of another model, dim or views is not read. */
static void read_cache(const char *path, fit_set *set) {
  FILE *file = path ? fopen(path, "rb") : NULL;
  if (!file) return;
  char magic[4], model[sizeof set->app->embedder_model];
  uint32_t model_len = 0, dim = 0, views = 0;
  const char *expected_model = set->app->embedder_model;
  float scales[VISOR_PIPELINE_MAX_VIEWS], expected[VISOR_PIPELINE_MAX_VIEWS];
  size_t expected_views = cached_views(expected);
  if (fread(magic, 1, 4, file) != 4 || memcmp(magic, CACHE_MAGIC, 4) != 0 ||
      fread(&model_len, sizeof model_len, 1, file) != 1 || model_len != strlen(expected_model) ||
      fread(model, 1, model_len, file) != model_len ||
      memcmp(model, expected_model, model_len) != 0 || fread(&dim, sizeof dim, 1, file) != 1 ||
      dim != set->dim || fread(&views, sizeof views, 1, file) != 1 || views != expected_views ||
      fread(scales, sizeof *scales, VISOR_PIPELINE_MAX_VIEWS, file) != VISOR_PIPELINE_MAX_VIEWS ||
      memcmp(scales, expected, sizeof scales) != 0) {
    fclose(file);
    return;
  }
  float *vector = malloc(dim * sizeof *vector);
  char name[4096];
  uint32_t len = 0;
  while (vector && fread(&len, sizeof len, 1, file) == 1 && len < sizeof name &&
         fread(name, 1, len, file) == len && fread(vector, sizeof *vector, dim, file) == dim) {
    name[len] = 0;
    for (size_t i = 0; i < set->count; i++)
      if (!set->have[i] && strcmp(set->paths[i], name) == 0) {
        memcpy(set->vectors + i * dim, vector, dim * sizeof *vector);
        set->have[i] = 1;
      }
  }
  free(vector);
  fclose(file);
}

/* Adds the embeddings the cache did not have (whole file rewritten, then renamed). */
static void write_cache(const char *path, const fit_set *set) {
  if (!path) return;
  size_t size = strlen(path) + 8;
  char *temp = malloc(size);
  if (!temp) return;
  snprintf(temp, size, "%s.tmp", path);
  FILE *file = fopen(temp, "wb");
  if (file) {
    float scales[VISOR_PIPELINE_MAX_VIEWS];
    uint32_t dim = (uint32_t)set->dim, views = (uint32_t)cached_views(scales);
    const char *model = set->app->embedder_model;
    uint32_t model_len = (uint32_t)strlen(model);
    int ok =
        fwrite(CACHE_MAGIC, 1, 4, file) == 4 &&
        fwrite(&model_len, sizeof model_len, 1, file) == 1 &&
        fwrite(model, 1, model_len, file) == model_len && fwrite(&dim, sizeof dim, 1, file) == 1 &&
        fwrite(&views, sizeof views, 1, file) == 1 &&
        fwrite(scales, sizeof *scales, VISOR_PIPELINE_MAX_VIEWS, file) == VISOR_PIPELINE_MAX_VIEWS;
    for (size_t i = 0; ok && i < set->count; i++) {
      uint32_t len = (uint32_t)strlen(set->paths[i]);
      ok = fwrite(&len, sizeof len, 1, file) == 1 && fwrite(set->paths[i], 1, len, file) == len &&
           fwrite(set->vectors + i * set->dim, sizeof(float), set->dim, file) == set->dim;
    }
    if (fclose(file) == 0 && ok) rename(temp, path);
  }
  remove(temp);
  free(temp);
}

static visor_code embed_one(visor_app *app, const char *path, float *out, size_t dim,
                            visor_error *err) {
  char *bytes = NULL;
  size_t len = 0;
  visor_code code = visor_read_file(path, MAX_IMAGE_BYTES, &bytes, &len, err);
  visor_analysis analysis = {0};
  if (code == VISOR_OK)
    code = visor_views_analyze_catalogue(app->ml, bytes, len, 1, &analysis, err);
  if (code == VISOR_OK && (analysis.region_count == 0 || analysis.dim != dim))
    code = visor_error_set(err, VISOR_ERR_INTERNAL, "no %zu-d whole-image embedding", dim);
  if (code == VISOR_OK) memcpy(out, analysis.regions[0].embedding, dim * sizeof *out);
  if (code != VISOR_OK) visor_error_wrap(err, "embedding fit photo %s", path);
  visor_analysis_free(&analysis);
  free(bytes);
  return code;
}

static void *embed_thread(void *arg) {
  fit_set *set = arg;
  for (;;) {
    pthread_mutex_lock(&set->lock);
    while (set->next < set->count && set->have[set->next])
      set->next++;
    int stop = set->error.code != VISOR_OK || set->next >= set->count;
    size_t i = set->next++;
    pthread_mutex_unlock(&set->lock);
    if (stop) break;
    visor_error err = {0};
    visor_code code =
        embed_one(set->app, set->paths[i], set->vectors + i * set->dim, set->dim, &err);
    pthread_mutex_lock(&set->lock);
    if (code == VISOR_OK)
      set->have[i] = 1;
    else if (set->error.code == VISOR_OK)
      set->error = err;
    pthread_mutex_unlock(&set->lock);
  }
  return NULL;
}

static visor_code collect(const visor_eval_dataset *dataset, const visor_eval_options *options,
                          int *class_of_fit, size_t *fit_classes, fit_set *set, visor_error *err) {
  size_t capacity = dataset->class_count + dataset->train_count;
  set->paths = calloc(capacity, sizeof *set->paths);
  set->labels = calloc(capacity, sizeof *set->labels);
  set->reference = calloc(capacity, sizeof *set->reference);
  set->have = calloc(capacity, sizeof *set->have);
  set->vectors = malloc(capacity * set->dim * sizeof *set->vectors);
  if (!set->paths || !set->labels || !set->reference || !set->have || !set->vectors)
    return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  *fit_classes = 0;
  for (size_t c = 0; c < dataset->class_count; c++) {
    class_of_fit[c] = fitted_class(options, c) ? (int)(*fit_classes)++ : -1;
    if (class_of_fit[c] < 0) continue;
    set->paths[set->count] = dataset->classes[c].iconic_path;
    set->labels[set->count] = class_of_fit[c];
    set->reference[set->count++] = 1;
  }
  for (size_t i = 0; i < dataset->train_count; i++) {
    int c = visor_eval_class_index(dataset, dataset->train[i].fine_id);
    if (c < 0 || class_of_fit[c] < 0) continue;
    set->paths[set->count] = dataset->train[i].path;
    set->labels[set->count++] = class_of_fit[c];
  }
  return VISOR_OK;
}

visor_code visor_eval_tune(visor_app *app, const visor_eval_dataset *dataset,
                           const visor_eval_product_id *product_ids,
                           const visor_eval_options *options, visor_eval_report *report,
                           visor_error *err) {
  fit_set set = {.dim = app->embedder.dim, .app = app};
  int *class_of_fit = calloc(dataset->class_count + 1, sizeof *class_of_fit);
  const char **names = calloc(dataset->class_count + 1, sizeof *names);
  size_t fit_classes = 0;
  visor_code code =
      class_of_fit && names ? VISOR_OK : visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  if (code == VISOR_OK) code = collect(dataset, options, class_of_fit, &fit_classes, &set, err);
  for (size_t c = 0; code == VISOR_OK && c < dataset->class_count; c++)
    if (class_of_fit[c] >= 0) names[class_of_fit[c]] = product_ids[c];
  double started = visor_monotonic_s();
  if (code == VISOR_OK) {
    read_cache(options->embedding_cache, &set);
    size_t missing = 0;
    for (size_t i = 0; i < set.count; i++)
      missing += !set.have[i];
    pthread_mutex_init(&set.lock, NULL);
    int threads = options->threads > 0 ? options->threads : 1;
    pthread_t ids[16];
    int started_threads = 0;
    for (int t = 0; missing && t < threads && t < 16; t++)
      if (pthread_create(&ids[t], NULL, embed_thread, &set) == 0) started_threads++;
    if (missing && started_threads == 0) embed_thread(&set);
    for (int t = 0; t < started_threads; t++)
      pthread_join(ids[t], NULL);
    pthread_mutex_destroy(&set.lock);
    if (set.error.code != VISOR_OK) {
      *err = set.error;
      code = err->code;
    } else if (missing) {
      write_cache(options->embedding_cache, &set);
    }
  }
  report->embed_seconds = visor_monotonic_s() - started;
  started = visor_monotonic_s();
  visor_projection_fit_options fit_options;
  visor_projection_fit_options_default(&fit_options);
  if (fit_options.out_dim > fit_classes - 1) fit_options.out_dim = fit_classes - 1;
  if (code == VISOR_OK) {
    visor_projection_fit_options half = fit_options;
    if (half.out_dim > fit_classes / 2 - 1) half.out_dim = fit_classes / 2 - 1;
    code = visor_fusion_choose(set.vectors, set.labels, set.reference, set.count, set.dim,
                               fit_classes, &half, &report->fusion, err);
  }
  visor_projection projection = {0};
  if (code == VISOR_OK)
    code = visor_projection_fit(set.vectors, set.labels, set.count, set.dim, names, fit_classes,
                                &fit_options, &projection, err);
  if (code == VISOR_OK) {
    snprintf(projection.model, sizeof projection.model, "%s", app->embedder_model);
    projection.version = 1;
    projection.seen_weight = report->fusion.seen_weight;
    projection.unseen_weight = report->fusion.unseen_weight;
    projection.unseen_offset = report->fusion.unseen_offset;
    if (!app->tuned) code = visor_tuned_create(app, 0, err);
  }
  if (code == VISOR_OK) code = visor_tuned_install(app, &projection, err);
  visor_projection_free(&projection);
  report->fit_seconds = visor_monotonic_s() - started;
  report->fit_samples = set.count;
  report->fit_classes = fit_classes;
  free(set.paths);
  free(set.labels);
  free(set.reference);
  free(set.have);
  free(set.vectors);
  free(class_of_fit);
  free(names);
  if (code != VISOR_OK) visor_error_wrap(err, "fitting the catalogue projection");
  return code;
}
