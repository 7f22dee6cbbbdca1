/* demo_loader.c: the --demo catalogue loader of `visor serve` (see demo_loader.h). */
#include "cli/demo_loader.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/log.h"
#include "import/grocery.h"
#include "import/importer.h"

struct visor_demo_loader {
  visor_catalogue_file file;
  char url[64];
  atomic_int stop;
  pthread_t thread;
};

static void *run_demo(void *arg) {
  visor_demo_loader *loader = arg;
  visor_import_options options = {.url = loader->url,
                                  .parallel = 2,
                                  .retry_seconds = 30,
                                  .max_image_bytes = 64u << 20,
                                  .stop = &loader->stop};
  visor_import_result result;
  visor_error err = {0};
  visor_log_info("demo: importing %zu Grocery Store products", loader->file.product_count);
  if (visor_import_run(&loader->file, &options, &result, &err) != VISOR_OK) {
    visor_log(VISOR_LOG_WARN, "demo: import failed: %s", err.message);
    return NULL;
  }
  for (size_t i = 0; i < result.failure_count && i < 5; i++)
    visor_log(VISOR_LOG_WARN, "demo: line %ld (sku %s): %s", result.failures[i].line,
              result.failures[i].sku, result.failures[i].reason);
  visor_log_info("demo: %ld products created, %ld images uploaded, %ld already there, %ld failed",
                 result.products_created, result.counts.images_uploaded,
                 result.counts.images_present, result.rows_failed);
  visor_import_result_free(&result);
  return NULL;
}

visor_demo_loader *visor_demo_start(const char *dataset_dir, int port, visor_error *err) {
  visor_demo_loader *loader = calloc(1, sizeof *loader);
  if (!loader) {
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  if (visor_grocery_catalogue(dataset_dir, &loader->file, err) != VISOR_OK) {
    visor_error_wrap(err, "--demo");
    free(loader);
    return NULL;
  }
  snprintf(loader->url, sizeof loader->url, "http://127.0.0.1:%d", port);
  atomic_init(&loader->stop, 0);
  if (pthread_create(&loader->thread, NULL, run_demo, loader) != 0) {
    visor_catalogue_file_free(&loader->file);
    free(loader);
    visor_error_set(err, VISOR_ERR_INTERNAL, "--demo: cannot start a thread");
    return NULL;
  }
  return loader;
}

void visor_demo_stop(visor_demo_loader *loader) {
  if (!loader) return;
  atomic_store(&loader->stop, 1);
  pthread_join(loader->thread, NULL);
  visor_catalogue_file_free(&loader->file);
  free(loader);
}
