/* importer.c: the import run (see importer.h): a pool of threads takes products one at a
 * time; each looks its SKU up, uploads the images the product lacks (one request each,
 * so a bad image fails only its row) and counts rows; the calling thread shows progress. */
#include "import/importer.h"

#include <csv.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "import/api_client.h"
#include "import/image_source.h"

#define UPLOAD_ATTEMPTS 4

typedef struct import_run {
  const visor_catalogue_file *file;
  const visor_import_options *options;
  pthread_mutex_t lock;
  size_t next_product;
  int threads_running;
  visor_import_result *result;
  size_t failure_capacity;
} import_run;

static void add_failure(import_run *run, long line, const char *sku, const char *reason) {
  visor_import_result *result = run->result;
  if (result->failure_count == run->failure_capacity) {
    size_t capacity = run->failure_capacity ? 2 * run->failure_capacity : 64;
    visor_import_failure *grown = realloc(result->failures, capacity * sizeof *grown);
    if (!grown) return;
    result->failures = grown;
    run->failure_capacity = capacity;
  }
  result->failures[result->failure_count++] =
      (visor_import_failure){.line = line, .sku = strdup(sku ? sku : ""), .reason = strdup(reason)};
}

/* Counts a finished row (failed when reason is not NULL); takes the lock. */
static void row_done(import_run *run, const visor_import_row *row, const char *reason) {
  pthread_mutex_lock(&run->lock);
  run->result->counts.rows_done++;
  if (reason) {
    run->result->counts.errors++;
    run->result->rows_failed++;
    add_failure(run, row->line, row->sku, reason);
  }
  pthread_mutex_unlock(&run->lock);
}

static void count(import_run *run, long *counter) {
  pthread_mutex_lock(&run->lock);
  (*counter)++;
  pthread_mutex_unlock(&run->lock);
}

static int has_digest(const json_t *images, const char *sha256) {
  size_t index;
  json_t *image;
  json_array_foreach(images, index, image) {
    const char *digest = json_string_value(json_object_get(image, "sha256"));
    if (digest && strcasecmp(digest, sha256) == 0) return 1;
  }
  return 0;
}

typedef struct product_state {
  char id[40];     /* empty until the product exists on the server */
  json_t *digests; /* [{sha256}] of the images it has */
  const json_t *fields;
  int dead; /* the SKU could not be looked up: every row of the product fails */
  char dead_reason[512];
} product_state;

static void remember_digest(product_state *state, const char *sha256) {
  json_array_append_new(state->digests, json_pack("{s:s}", "sha256", sha256));
}

/* Looks the SKU up; when it exists, learns its images' digests. */
static visor_code look_up(visor_api_client *client, const char *sku, product_state *state,
                          visor_error *err) {
  visor_code code = visor_api_find_product(client, sku, state->id, err);
  json_decref(state->digests);
  state->digests = NULL;
  if (code == VISOR_OK && state->id[0])
    code = visor_api_product_images(client, state->id, &state->digests, err);
  if (!state->digests) state->digests = json_array();
  return code;
}

/* Creates the product with this image. A taken SKU (another run, or a rerun racing this
 * one) means the product exists: it is looked up again and the caller adds the image. A
 * refused create (a bad image, say) fails this image's row; the next image tries again. */
static visor_code create_with(import_run *run, visor_api_client *client, const char *sku,
                              product_state *state, const visor_image_bytes *image, int *uploaded,
                              visor_error *err) {
  *uploaded = 0;
  visor_code code = visor_api_create_product(client, state->fields, image, state->id, NULL, err);
  if (code == VISOR_OK) {
    *uploaded = 1;
    count(run, &run->result->products_created);
    remember_digest(state, image->sha256);
    return VISOR_OK;
  }
  if (code == VISOR_ERR_CONFLICT) {
    visor_error again = {0};
    if (look_up(client, sku, state, &again) == VISOR_OK && state->id[0]) return VISOR_OK;
  }
  state->id[0] = '\0';
  return code;
}

/* Uploads one image of the product (unless it is there already). */
static visor_code upload_image(import_run *run, visor_api_client *client, const char *sku,
                               product_state *state, const char *ref, visor_error *err) {
  const visor_import_options *options = run->options;
  visor_image_bytes image;
  visor_code code = visor_image_bytes_load(client->curl, run->file->dir, ref,
                                           options->max_image_bytes, &image, err);
  if (code != VISOR_OK) return code;
  if (has_digest(state->digests, image.sha256)) { /* imported before (or twice in the file) */
    count(run, &run->result->counts.images_present);
    visor_image_bytes_free(&image);
    return VISOR_OK;
  }
  if (options->skip_duplicates) {
    json_t *same = NULL;
    code = visor_api_images_with_digest(client, image.sha256, &same, err);
    size_t index;
    json_t *other;
    int duplicate = 0;
    json_array_foreach(code == VISOR_OK ? same : NULL, index, other) {
      const char *product_id = json_string_value(json_object_get(other, "product_id"));
      duplicate |= product_id && strcmp(product_id, state->id) != 0;
    }
    json_decref(same);
    if (code != VISOR_OK || duplicate) {
      if (code == VISOR_OK) count(run, &run->result->counts.duplicates_skipped);
      visor_image_bytes_free(&image);
      return code;
    }
  }
  int uploaded = 0;
  /* A connection lost during an upload leaves it unknown whether the server stored it:
   * the product is looked up again, and the upload repeated only when it is not there. */
  for (int attempt = 0;; attempt++) {
    code = VISOR_OK;
    if (!state->id[0]) code = create_with(run, client, sku, state, &image, &uploaded, err);
    if (code == VISOR_OK && !uploaded && !has_digest(state->digests, image.sha256)) {
      code = visor_api_add_image(client, state->id, &image, NULL, err);
      if (code == VISOR_OK) remember_digest(state, image.sha256);
      uploaded = code == VISOR_OK;
    }
    if (code != VISOR_ERR_UNAVAILABLE || attempt == UPLOAD_ATTEMPTS - 1) break;
    visor_error again = {0};
    if (look_up(client, sku, state, &again) != VISOR_OK) break;
    if (has_digest(state->digests, image.sha256)) { /* it was stored after all */
      code = VISOR_OK;
      uploaded = 1;
      break;
    }
  }
  if (code == VISOR_OK && !uploaded) count(run, &run->result->counts.images_present);
  if (uploaded) count(run, &run->result->counts.images_uploaded);
  visor_image_bytes_free(&image);
  return code;
}

static void import_product(import_run *run, visor_api_client *client,
                           const visor_import_product *product) {
  const visor_catalogue_file *file = run->file;
  product_state state = {.fields = file->rows[product->rows[0]].fields};
  visor_error err = {0};
  int looked_up = 0;
  for (size_t r = 0; r < product->row_count; r++) {
    const visor_import_row *row = &file->rows[product->rows[r]];
    char reason[600] = "";
    for (size_t i = 0; i < row->image_count && !reason[0]; i++) {
      if (run->options->dry_run) {
        if (visor_image_bytes_check(file->dir, row->images[i], &err) != VISOR_OK)
          snprintf(reason, sizeof reason, "%s", err.message);
        continue;
      }
      if (!looked_up) {
        if (look_up(client, product->sku, &state, &err) != VISOR_OK) {
          state.dead = 1;
          snprintf(state.dead_reason, sizeof state.dead_reason, "%s", err.message);
        }
        looked_up = 1;
      }
      if (state.dead)
        snprintf(reason, sizeof reason, "%s", state.dead_reason);
      else if (upload_image(run, client, product->sku, &state, row->images[i], &err) != VISOR_OK)
        snprintf(reason, sizeof reason, "%s", err.message);
    }
    row_done(run, row, reason[0] ? reason : NULL);
  }
  json_decref(state.digests);
}

static void *import_thread(void *arg) {
  import_run *run = arg;
  visor_api_client client;
  visor_error err = {0};
  int ready = visor_api_client_init(&client, run->options->url, run->options->retry_seconds,
                                    &err) == VISOR_OK;
  for (;;) {
    pthread_mutex_lock(&run->lock);
    size_t next = run->next_product++;
    pthread_mutex_unlock(&run->lock);
    if (next >= run->file->product_count || (run->options->stop && atomic_load(run->options->stop)))
      break;
    const visor_import_product *product = &run->file->products[next];
    if (ready) {
      import_product(run, &client, product);
    } else {
      for (size_t r = 0; r < product->row_count; r++)
        row_done(run, &run->file->rows[product->rows[r]], err.message);
    }
  }
  visor_api_client_close(&client);
  pthread_mutex_lock(&run->lock);
  run->threads_running--;
  pthread_mutex_unlock(&run->lock);
  return NULL;
}

static int by_line(const void *a, const void *b) {
  const visor_import_failure *x = a, *y = b;
  return x->line < y->line ? -1 : x->line > y->line;
}

/* The server answers at all (before any thread starts). */
static visor_code probe(const visor_import_options *options, visor_error *err) {
  visor_api_client client;
  visor_code code = visor_api_client_init(&client, options->url, 0, err);
  char id[40];
  if (code == VISOR_OK) code = visor_api_find_product(&client, "-", id, err);
  visor_api_client_close(&client);
  return code == VISOR_OK ? VISOR_OK : visor_error_wrap(err, "the Visor at %s", options->url);
}

visor_code visor_import_run(const visor_catalogue_file *file, const visor_import_options *options,
                            visor_import_result *result, visor_error *err) {
  memset(result, 0, sizeof *result);
  if (!options->dry_run) {
    visor_code code = probe(options, err);
    if (code != VISOR_OK) return code;
  }
  import_run run = {.file = file, .options = options, .result = result};
  pthread_mutex_init(&run.lock, NULL);
  result->counts.rows_total = (long)file->row_count;
  for (size_t r = 0; r < file->row_count; r++) /* rows the file check refused */
    if (file->rows[r].error) row_done(&run, &file->rows[r], file->rows[r].error);
  int thread_count = options->parallel > 0 ? options->parallel : 1;
  if ((size_t)thread_count > file->product_count) thread_count = (int)file->product_count;
  pthread_t *threads = calloc((size_t)thread_count + 1, sizeof *threads);
  visor_import_progress progress;
  if (options->progress_out)
    visor_import_progress_start(&progress, options->progress_out, options->terminal);
  int started = 0;
  for (int i = 0; threads && i < thread_count; i++) {
    pthread_mutex_lock(&run.lock);
    run.threads_running++;
    pthread_mutex_unlock(&run.lock);
    if (pthread_create(&threads[i], NULL, import_thread, &run) != 0) {
      pthread_mutex_lock(&run.lock);
      run.threads_running--;
      pthread_mutex_unlock(&run.lock);
      break;
    }
    started++;
  }
  if (started == 0) import_thread(&run); /* no threads: do it here */
  for (;;) {
    pthread_mutex_lock(&run.lock);
    int running = run.threads_running;
    visor_import_counts counts = result->counts;
    pthread_mutex_unlock(&run.lock);
    if (options->progress_out) visor_import_progress_show(&progress, &counts);
    if (running == 0) break;
    struct timespec pause = {0, options->terminal ? 100000000L : 50000000L};
    nanosleep(&pause, NULL);
  }
  for (int i = 0; i < started; i++)
    pthread_join(threads[i], NULL);
  free(threads);
  if (options->progress_out) visor_import_progress_end(&progress, &result->counts);
  pthread_mutex_destroy(&run.lock);
  if (result->failure_count)
    qsort(result->failures, result->failure_count, sizeof *result->failures, by_line);
  return VISOR_OK;
}

static void write_field(FILE *out, const char *text) {
  csv_fwrite(out, text, strlen(text));
}

visor_code visor_import_write_failures(const visor_import_result *result, const char *path,
                                       visor_error *err) {
  FILE *out = fopen(path, "w");
  if (!out) return visor_error_set(err, VISOR_ERR_INVALID, "cannot write %s", path);
  fputs("line,sku,reason\n", out);
  for (size_t i = 0; i < result->failure_count; i++) {
    fprintf(out, "%ld,", result->failures[i].line);
    write_field(out, result->failures[i].sku ? result->failures[i].sku : "");
    fputc(',', out);
    write_field(out, result->failures[i].reason ? result->failures[i].reason : "");
    fputc('\n', out);
  }
  int failed = ferror(out);
  if (fclose(out) != 0 || failed)
    return visor_error_set(err, VISOR_ERR_INVALID, "cannot write %s", path);
  return VISOR_OK;
}

void visor_import_result_free(visor_import_result *result) {
  for (size_t i = 0; i < result->failure_count; i++) {
    free(result->failures[i].sku);
    free(result->failures[i].reason);
  }
  free(result->failures);
  memset(result, 0, sizeof *result);
}
