/* pipeline.c: registers the pipelines' task handlers with a worker pool. The ML backend
 * and the vector store they need are opened with the app (VISOR_PIPELINE_APP_PARTS). */
#include "pipeline/pipeline.h"

#include <string.h>

#include "pipeline/tuned.h"
#include "pipeline/views.h"
#include "store/reindex.h"

visor_code visor_pipeline_register_index(visor_app *app, visor_worker_pool *pool, visor_error *err);
visor_code visor_pipeline_register_search(visor_app *app, visor_worker_pool *pool,
                                          visor_error *err);
visor_code visor_pipeline_register_meta(visor_app *app, visor_worker_pool *pool, visor_error *err);
visor_code visor_pipeline_register_sync(visor_app *app, visor_worker_pool *pool, visor_error *err);
visor_code visor_pipeline_register_reindex(visor_app *app, visor_worker_pool *pool,
                                           visor_error *err);
visor_code visor_pipeline_register_tune(visor_app *app, visor_worker_pool *pool, visor_error *err);

/* Whether kind is in the comma-separated list kinds. */
static int kind_listed(const char *kinds, const char *kind) {
  size_t len = strlen(kind);
  for (const char *p = kinds; p && *p;) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n == len && strncmp(p, kind, len) == 0) return 1;
    p = end ? end + 1 : NULL;
  }
  return 0;
}

visor_code visor_pipeline_check_kinds(const char *kinds, visor_error *err) {
  static const char *const known[] = {"index", "search", "meta", "sync", "reindex", "tune"};
  for (const char *p = kinds; p && *p;) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    int ok = 0;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
      ok |= strlen(known[i]) == n && strncmp(p, known[i], n) == 0;
    if (!ok)
      return visor_error_set(
          err, VISOR_ERR_INVALID,
          "kinds '%s': '%.*s' is not a task kind (index, search, meta, sync, reindex, tune)", kinds,
          (int)n, p);
    p = end ? end + 1 : NULL;
  }
  return VISOR_OK;
}

visor_code visor_pipeline_register(visor_app *app, visor_worker_pool *pool, visor_error *err) {
  if (!app->ml || !app->vectors)
    return visor_error_set(err, VISOR_ERR_INVALID,
                           "the pipelines need the ML backend and the vector store");
  const char *kinds = app->config->kinds;
  visor_code code = visor_pipeline_check_kinds(kinds, err);
  /* A whole-image region embedded again (an undone box move) is embedded as indexed. */
  app->embed_whole_image = visor_views_embed_whole_image;
  /* The catalogue projection, followed in the metadata store (unless one was installed). */
  if (code == VISOR_OK && !app->tuned) code = visor_tuned_create(app, 1, err);
  /* The pool leases kinds in the order they were registered: searches (a user waits)
   * first, then meta updates (small), then index tasks (seconds each), re-index runs, and
   * last the background refit of the catalogue projection (refit.h). */
  if (code == VISOR_OK && kind_listed(kinds, "search"))
    code = visor_pipeline_register_search(app, pool, err);
  if (code == VISOR_OK && kind_listed(kinds, "meta"))
    code = visor_pipeline_register_meta(app, pool, err);
  if (code == VISOR_OK && kind_listed(kinds, "sync"))
    code = visor_pipeline_register_sync(app, pool, err);
  if (code == VISOR_OK && kind_listed(kinds, "index"))
    code = visor_pipeline_register_index(app, pool, err);
  if (code == VISOR_OK && kind_listed(kinds, "reindex")) /* last: behind new images */
    code = visor_pipeline_register_reindex(app, pool, err);
  if (code == VISOR_OK && kind_listed(kinds, "tune")) /* the projection's refit: lowest */
    code = visor_pipeline_register_tune(app, pool, err);
  /* What the API answers about stale vectors compares with this (store/reindex.h). */
  if (code == VISOR_OK)
    code = visor_model_version_record(app->db, "embedder", app->embedder_model, err);
  return code;
}
