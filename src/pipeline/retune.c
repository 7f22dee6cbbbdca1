/* retune.c: a refit and re-projection from the kept raw embeddings (see retune.h). */
#include "pipeline/retune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "pipeline/product_meta.h"
#include "pipeline/tuned.h"
#include "store/projections.h"

#define PROJECT_BATCH 256

void visor_retune_options_default(visor_retune_options *options) {
  visor_projection_fit_options_default(&options->fit);
  options->keep_previous = 0;
  options->follower_wait_ms = 2 * VISOR_TUNED_REFRESH_MS;
}

/* Every indexed image's live regions with their raw embeddings. */
typedef struct catalogue_regions {
  size_t count, dim;
  char (*ids)[40];
  char (*labels)[260]; /* the region's own label ("" when none) */
  char (*products)[64];
  size_t *image; /* index of the image (in indexed-image order) */
  int *first_of_image;
  float *vectors;
} catalogue_regions;

static void regions_free(catalogue_regions *r) {
  free(r->ids);
  free(r->labels);
  free(r->products);
  free(r->image);
  free(r->first_of_image);
  free(r->vectors);
  memset(r, 0, sizeof *r);
}

/* A live region: its id (the sort key) and its label. */
typedef struct live_region {
  char id[40];
  char label[260];
} live_region;

static int compare_id(const void *a, const void *b) {
  return strcmp(((const live_region *)a)->id, ((const live_region *)b)->id);
}

static visor_code append_image(catalogue_regions *r, size_t *capacity,
                               const visor_raw_embeddings *raw, const char *product_id,
                               size_t image, const live_region *live, size_t live_count,
                               visor_error *err) {
  for (size_t i = 0; i < raw->count; i++) {
    live_region key;
    snprintf(key.id, sizeof key.id, "%s", raw->ids[i]);
    const live_region *region = bsearch(&key, live, live_count, sizeof *live, compare_id);
    if (!region) continue;
    if (r->count == *capacity) {
      size_t grown = *capacity ? *capacity * 2 : 1024;
      void *ids = realloc(r->ids, grown * sizeof *r->ids);
      if (ids) r->ids = ids;
      void *labels = realloc(r->labels, grown * sizeof *r->labels);
      if (labels) r->labels = labels;
      void *products = realloc(r->products, grown * sizeof *r->products);
      if (products) r->products = products;
      void *images = realloc(r->image, grown * sizeof *r->image);
      if (images) r->image = images;
      void *first = realloc(r->first_of_image, grown * sizeof *r->first_of_image);
      if (first) r->first_of_image = first;
      void *vectors = realloc(r->vectors, grown * r->dim * sizeof *r->vectors);
      if (vectors) r->vectors = vectors;
      if (!ids || !labels || !products || !images || !first || !vectors)
        return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory for %zu regions", grown);
      *capacity = grown;
    }
    memcpy(r->ids[r->count], raw->ids[i], sizeof r->ids[0]);
    memcpy(r->labels[r->count], region->label, sizeof r->labels[0]);
    snprintf(r->products[r->count], sizeof r->products[0], "%s", product_id);
    r->image[r->count] = image;
    r->first_of_image[r->count] = i == 0;
    memcpy(r->vectors + r->count * r->dim, raw->vectors + i * r->dim, r->dim * sizeof(float));
    r->count++;
  }
  return VISOR_OK;
}

/* The live regions, sorted by id here (the database's collation need not be strcmp's). */
static visor_code load_live(visor_db_conn *conn, live_region **out, size_t *count,
                            visor_error *err) {
  visor_db_rows live = {0};
  *out = NULL;
  *count = 0;
  visor_code code = visor_projection_live_regions(conn, &live, err);
  live_region *ids = code == VISOR_OK ? calloc(live.row_count + 1, sizeof *ids) : NULL;
  if (code == VISOR_OK && !ids) code = visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  for (size_t i = 0; code == VISOR_OK && i < live.row_count; i++) {
    const char *id = visor_db_text(&live, i, "id"), *label = visor_db_text(&live, i, "label");
    snprintf(ids[i].id, sizeof ids[i].id, "%s", id ? id : "");
    snprintf(ids[i].label, sizeof ids[i].label, "%s", label ? label : "");
  }
  if (code == VISOR_OK) {
    qsort(ids, live.row_count, sizeof *ids, compare_id);
    *out = ids;
    *count = live.row_count;
  } else {
    free(ids);
  }
  visor_db_rows_free(&live);
  return code;
}

static visor_code load_regions(visor_app *app, catalogue_regions *r, visor_db_rows *images,
                               visor_error *err) {
  memset(r, 0, sizeof *r);
  r->dim = app->embedder.dim;
  live_region *ids = NULL;
  size_t live_count = 0;
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  visor_code code = visor_projection_indexed_images(conn, images, err);
  if (code == VISOR_OK) code = load_live(conn, &ids, &live_count, err);
  visor_db_release(conn);
  size_t capacity = 0;
  for (size_t i = 0; code == VISOR_OK && i < images->row_count; i++) {
    const char *image_id = visor_db_text(images, i, "image_id");
    visor_raw_embeddings raw = {0};
    code = visor_raw_embeddings_load(app, image_id, &raw, err);
    if (code == VISOR_ERR_NOT_FOUND) { /* indexed before embeddings were kept: re-index it */
      code = VISOR_OK;
      continue;
    }
    if (code == VISOR_OK && raw.dim != r->dim)
      code = visor_error_set(err, VISOR_ERR_INVALID, "image %s: %zu-d raw embeddings, not %zu",
                             image_id, raw.dim, r->dim);
    if (code == VISOR_OK)
      code = append_image(r, &capacity, &raw, visor_db_text(images, i, "product_id"), i, ids,
                          live_count, err);
    visor_raw_embeddings_free(&raw);
  }
  free(ids);
  return code;
}

/* The fit set: regions of products with >= 2 images that have regions. */
typedef struct fit_input {
  size_t n, classes;
  float *samples;
  int *labels, *reference;
  const char **names;
  size_t images;
} fit_input;

static visor_code build_fit(const catalogue_regions *r, fit_input *fit, visor_error *err) {
  memset(fit, 0, sizeof *fit);
  fit->samples = malloc((r->count + 1) * r->dim * sizeof *fit->samples);
  fit->labels = malloc((r->count + 1) * sizeof *fit->labels);
  fit->reference = calloc(r->count + 1, sizeof *fit->reference);
  fit->names = calloc(r->count + 1, sizeof *fit->names);
  if (!fit->samples || !fit->labels || !fit->reference || !fit->names)
    return visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
  /* Regions come grouped by product, then image (the query's order). */
  for (size_t start = 0; start < r->count;) {
    size_t end = start, images = 0;
    while (end < r->count && strcmp(r->products[end], r->products[start]) == 0) {
      if (end == start || r->image[end] != r->image[end - 1]) images++;
      end++;
    }
    if (images >= 2) {
      int label = (int)fit->classes;
      fit->names[fit->classes++] = r->products[start];
      fit->images += images;
      for (size_t i = start; i < end; i++) {
        memcpy(fit->samples + fit->n * r->dim, r->vectors + i * r->dim, r->dim * sizeof(float));
        fit->labels[fit->n] = label;
        fit->reference[fit->n] = i == start; /* first image's whole-image region */
        fit->n++;
      }
    }
    start = end;
  }
  if (fit->classes < 2)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "a projection needs at least 2 products with 2 or more indexed "
                           "images (%zu have)",
                           fit->classes);
  return VISOR_OK;
}

static void fit_free(fit_input *fit) {
  free(fit->samples);
  free(fit->labels);
  free(fit->reference);
  free(fit->names);
  memset(fit, 0, sizeof *fit);
}

/* Writes a batch and frees its region metadata; a heartbeat tells other processes the
 * build is alive (store/projections.h). */
static visor_code flush_batch(visor_app *app, visor_tuned_version *version, size_t *n,
                              const char **ids, const float *vectors, visor_vector_meta *metas,
                              visor_region_meta *region_metas, size_t *written, visor_error *err) {
  visor_code code =
      *n ? visor_vector_upsert_batch(version->store, *n, ids, vectors, metas, err) : VISOR_OK;
  if (code == VISOR_OK) *written += *n;
  for (size_t i = 0; i < *n; i++)
    visor_region_meta_free(&region_metas[i]);
  *n = 0;
  visor_db_conn *conn = code == VISOR_OK ? visor_db_acquire(app->db, NULL) : NULL;
  if (conn) {
    visor_projection_heartbeat(conn, version->projection.version, NULL);
    visor_db_release(conn);
  }
  return code;
}

/* Writes every region's projected vector into version (the building one), with the
 * metadata the index task gives it (the product's, and the region's own label). */
static visor_code project_all(visor_app *app, visor_tuned_version *version,
                              const catalogue_regions *r, size_t *written, visor_error *err) {
  size_t out_dim = version->projection.out_dim;
  float *vectors = malloc(PROJECT_BATCH * out_dim * sizeof *vectors);
  const char **ids = malloc(PROJECT_BATCH * sizeof *ids);
  visor_vector_meta *metas = malloc(PROJECT_BATCH * sizeof *metas);
  visor_region_meta *region_metas = calloc(PROJECT_BATCH, sizeof *region_metas);
  visor_product_meta meta = {0};
  const char *meta_product = NULL;
  visor_code code = vectors && ids && metas && region_metas
                        ? VISOR_OK
                        : visor_error_set(err, VISOR_ERR_NOMEM, "oom");
  size_t n = 0;
  *written = 0;
  for (size_t i = 0; code == VISOR_OK && i < r->count; i++) {
    if (!meta_product || strcmp(meta_product, r->products[i]) != 0) {
      /* A batch borrows meta's strings: flush before loading the next product's. */
      code = flush_batch(app, version, &n, ids, vectors, metas, region_metas, written, err);
      visor_product_meta_free(&meta);
      meta_product = r->products[i];
      if (code == VISOR_OK) code = visor_product_meta_load(app, meta_product, &meta, err);
      if (code == VISOR_ERR_NOT_FOUND) code = VISOR_OK; /* deleted meanwhile */
    }
    if (code == VISOR_OK)
      code = visor_projection_apply(&version->projection, r->vectors + i * r->dim,
                                    vectors + n * out_dim, err);
    if (code == VISOR_OK)
      code =
          visor_region_meta_make(app, r->products[i], &meta, r->labels[i], &region_metas[n], err);
    if (code != VISOR_OK) break;
    ids[n] = r->ids[i];
    metas[n] = region_metas[n].meta;
    metas[n].model = version->model;
    if (++n == PROJECT_BATCH)
      code = flush_batch(app, version, &n, ids, vectors, metas, region_metas, written, err);
  }
  if (code == VISOR_OK)
    code = flush_batch(app, version, &n, ids, vectors, metas, region_metas, written, err);
  for (size_t i = 0; region_metas && i < n; i++)
    visor_region_meta_free(&region_metas[i]);
  visor_product_meta_free(&meta);
  free(vectors);
  free(ids);
  free(metas);
  free(region_metas);
  return code;
}

/* Removes from version the vectors of snapshot regions that are no longer live (deleted
 * while the re-projection wrote them: the delete may have run before it wrote them). */
static visor_code remove_gone(visor_app *app, visor_tuned_version *version,
                              const catalogue_regions *snapshot, visor_error *err) {
  live_region *live = NULL;
  size_t live_count = 0;
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  if (!conn) return visor_db_acquire_failed(err);
  visor_code code = load_live(conn, &live, &live_count, err);
  visor_db_release(conn);
  for (size_t i = 0; code == VISOR_OK && i < snapshot->count; i++) {
    live_region key;
    snprintf(key.id, sizeof key.id, "%s", snapshot->ids[i]);
    if (!bsearch(&key, live, live_count, sizeof *live, compare_id))
      version->store->ops->remove(version->store, snapshot->ids[i], NULL);
  }
  free(live);
  return code;
}

/* The ids of a collection (removed after the listing: a backend's list may hold a lock
 * its remove needs). */
typedef struct drop_ctx {
  char (*ids)[64];
  size_t count, capacity;
} drop_ctx;

static int collect_one(void *ctx, const char *id, const char *product_id) {
  (void)product_id;
  drop_ctx *drop = ctx;
  if (drop->count == drop->capacity) {
    size_t grown = drop->capacity ? drop->capacity * 2 : 1024;
    void *ids = realloc(drop->ids, grown * sizeof *drop->ids);
    if (!ids) return 1;
    drop->ids = ids;
    drop->capacity = grown;
  }
  snprintf(drop->ids[drop->count++], sizeof drop->ids[0], "%s", id);
  return 0;
}

static void empty_store(visor_vector_store *store) {
  drop_ctx drop = {0};
  store->ops->list(store, collect_one, &drop, NULL);
  for (size_t i = 0; i < drop.count; i++)
    store->ops->remove(store, drop.ids[i], NULL);
  free(drop.ids);
}

/* Empties the previous version's collection (its folder or Chroma collection stays):
 * through served, this process's version object when it is that version (an hnsw://
 * folder opens once per process), else opened here. */
static void drop_version(visor_app *app, int64_t version, visor_tuned_version *served) {
  if (served && served->projection.version == version) {
    empty_store(served->store);
    return;
  }
  char model[VISOR_PROJECTION_MODEL_MAX + 32], collection[sizeof model];
  visor_tuned_model_name(app->embedder_model, version, model, sizeof model);
  visor_app_collection_name(model, collection, sizeof collection);
  visor_error err = {0};
  int64_t dim = 0;
  visor_db_conn *conn = visor_db_acquire(app->db, &err);
  if (!conn) return;
  visor_code code = visor_projection_dim(conn, version, &dim, &err);
  visor_db_release(conn);
  visor_vector_store *store =
      code == VISOR_OK && dim > 0
          ? visor_vector_open(app->config->vector_url, collection, (size_t)dim, NULL, &err)
          : NULL;
  if (!store) return;
  empty_store(store);
  store->ops->close(store);
}

visor_code visor_retune(visor_app *app, const visor_retune_options *options,
                        visor_retune_report *report, visor_error *err) {
  memset(report, 0, sizeof *report);
  visor_retune_options defaults;
  visor_retune_options_default(&defaults);
  if (!options) options = &defaults;
  if (!app->tuned) return visor_error_set(err, VISOR_ERR_INTERNAL, "no projection state");
  double started = visor_monotonic_s();
  catalogue_regions regions = {0};
  visor_db_rows images = {0};
  fit_input fit = {0};
  visor_projection projection = {0};
  void *artefact = NULL;
  size_t artefact_len = 0;
  char key[VISOR_PROJECTION_MODEL_MAX + 64] = "";
  /* The count the automatic refit compares with (refit.h), taken before the fit reads. */
  int64_t labelled = 0;
  visor_db_conn *conn = visor_db_acquire(app->db, err);
  visor_code code =
      conn ? visor_projection_labelled_images(conn, &labelled, err) : visor_db_acquire_failed(err);
  visor_db_release(conn);
  conn = NULL;
  if (code == VISOR_OK) code = load_regions(app, &regions, &images, err);
  if (code == VISOR_OK) code = build_fit(&regions, &fit, err);
  visor_projection_fit_options fit_options = options->fit;
  if (code == VISOR_OK && fit_options.out_dim > fit.classes - 1)
    fit_options.out_dim = fit.classes - 1;
  if (code == VISOR_OK) {
    visor_projection_fit_options half = fit_options;
    size_t half_classes = (fit.classes + 1) / 2;
    if (half.out_dim > half_classes - 1) half.out_dim = half_classes > 1 ? half_classes - 1 : 1;
    if (visor_fusion_choose(fit.samples, fit.labels, fit.reference, fit.n, regions.dim, fit.classes,
                            &half, &report->fusion, NULL) != VISOR_OK)
      report->fusion = (visor_fusion_choice){.seen_weight = 1, .unseen_weight = 0};
  }
  if (code == VISOR_OK)
    code = visor_projection_fit(fit.samples, fit.labels, fit.n, regions.dim, fit.names, fit.classes,
                                &fit_options, &projection, err);
  if (code == VISOR_OK && !(conn = visor_db_acquire(app->db, err)))
    code = visor_db_acquire_failed(err);
  if (code == VISOR_OK) code = visor_projection_next_version(conn, &report->version, err);
  if (code == VISOR_OK) {
    snprintf(projection.model, sizeof projection.model, "%s", app->embedder_model);
    projection.version = report->version;
    projection.seen_weight = report->fusion.seen_weight;
    projection.unseen_weight = report->fusion.unseen_weight;
    projection.unseen_offset = report->fusion.unseen_offset;
    char collection[VISOR_PROJECTION_MODEL_MAX];
    visor_app_collection_name(app->embedder_model, collection, sizeof collection);
    snprintf(key, sizeof key, "projections/%s/v%lld.bin", collection, (long long)report->version);
    code = visor_projection_serialize(&projection, &artefact, &artefact_len, err);
  }
  if (code == VISOR_OK) code = visor_blob_put(app->blobs, key, artefact, artefact_len, err);
  if (code == VISOR_OK) {
    visor_projection_record record = {.version = report->version,
                                      .model = app->embedder_model,
                                      .object_key = key,
                                      .dim = (int64_t)projection.out_dim,
                                      .classes = (int64_t)fit.classes,
                                      .samples = (int64_t)fit.n,
                                      .labelled_images = labelled};
    code = visor_projection_insert(conn, &record, err);
  }
  visor_db_release(conn);
  conn = NULL;
  report->fit_seconds = visor_monotonic_s() - started;
  report->products = fit.classes;
  report->fit_images = fit.images;
  report->fit_samples = fit.n;
  int inserted = code == VISOR_OK;
  fit_free(&fit);
  regions_free(&regions);
  visor_db_rows_free(&images);
  /* The new version is built while the old one serves; index tasks and corrections also
   * write into it, in every process once it has seen the building row (within 2 refresh
   * intervals): the regions to project are read after that, so none falls between. */
  started = visor_monotonic_s();
  if (code == VISOR_OK) code = visor_tuned_set_building(app, &projection, err);
  visor_tuned_version *building = NULL;
  if (code == VISOR_OK && !(building = visor_tuned_acquire_building(app)))
    code = visor_error_set(err, VISOR_ERR_INTERNAL, "the version being built is missing");
  if (code == VISOR_OK && options->follower_wait_ms > 0) {
    struct timespec pause = {options->follower_wait_ms / 1000,
                             (options->follower_wait_ms % 1000) * 1000000L};
    nanosleep(&pause, NULL);
  }
  if (code == VISOR_OK) code = load_regions(app, &regions, &images, err);
  if (code == VISOR_OK)
    code = project_all(app, building, &regions, &report->projected_vectors, err);
  if (code == VISOR_OK) code = remove_gone(app, building, &regions, err);
  visor_tuned_release(app, building);
  int64_t previous = 0;
  visor_tuned_version *served = visor_tuned_acquire(app); /* the version being replaced */
  if (code == VISOR_OK && !(conn = visor_db_acquire(app->db, err)))
    code = visor_db_acquire_failed(err);
  if (code == VISOR_OK && (code = visor_db_begin(conn, err)) == VISOR_OK) {
    code = visor_projection_make_current(conn, report->version, &previous, err);
    if (code == VISOR_OK)
      code = visor_db_commit(conn, err);
    else
      visor_db_rollback(conn);
  }
  if (code != VISOR_OK && inserted && (conn || (conn = visor_db_acquire(app->db, NULL))))
    visor_projection_set_failed(conn, report->version, NULL);
  visor_db_release(conn);
  if (code == VISOR_OK) code = visor_tuned_refresh(app, err);
  report->previous_version = previous;
  report->project_seconds = visor_monotonic_s() - started;
  if (code == VISOR_OK && previous && !options->keep_previous) {
    /* Other processes switch at their next refresh; then the old vectors go. */
    struct timespec pause = {2 * VISOR_TUNED_REFRESH_MS / 1000, 0};
    nanosleep(&pause, NULL);
    drop_version(app, previous, served);
  }
  visor_tuned_release(app, served);
  if (code != VISOR_OK && inserted) visor_tuned_clear_building(app, report->version);
  free(artefact);
  visor_projection_free(&projection);
  fit_free(&fit);
  regions_free(&regions);
  visor_db_rows_free(&images);
  return code;
}
