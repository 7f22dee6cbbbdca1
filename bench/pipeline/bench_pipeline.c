/* bench_pipeline.c: the pipelines end to end in a `visor serve`-like process (embedded
 * backends, in-process workers and ML, the REST API on 127.0.0.1:0) against the models alone.
 *
 * (a) Indexing throughput: N Grocery Store train photos are uploaded one product each with
 *     POST /api/v1/products (one client), then queue -> workers -> analyze -> regions ->
 *     vectors (crops are made on first request, not here); images/s from the first upload to the
 * last index job done, against the same photos through ml->ops->analyze alone (with the index views
 * the pipeline settings ask for) on as many threads as there are workers. Ratio goal: >= 0.9. (b)
 * Search latency: POST /api/v1/searches?wait=30 with test photos from 1 and from 8 concurrent
 * clients (one thread and one curl handle each), p50 / p99, against the time of analyzing one query
 * alone (visor_analyze_query, as the search task does); with 1 client each search follows the
 * models' run of the same photo, and the goal (<= 1.1) is the median of the per-query ratios.
 *
 *   bench_pipeline [--images 200] [--workers 2] [--ml-threads 1] [--rounds 3]
 *                  [--searches 96] [--clients 8] [--http-threads 16]
 *                  (VISOR_SHARED_DIR: models and datasets/grocery)
 *
 * Every loop is bounded; the data folder is a fresh $TMPDIR/visor-bench-pipeline-XXXXXX
 * (TMPDIR defaults to /tmp; e.g. /dev/shm shows what the disk's syncs cost), removed at the
 * end. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "api/api.h"
#include "core/clock.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "pipeline/pipeline.h"
#include "pipeline/ranking.h"
#include "pipeline/settings.h"
#include "pipeline/views.h"
#include "service/crops.h"

#define MAX_PHOTOS 4096
#define WARMUP_IMAGES 4
#define MAX_CLIENTS 64

typedef struct photo {
  char path[1024];
  void *data;
  size_t len;
} photo;

typedef struct options {
  int images, workers, ml_threads, rounds, searches, clients, http_threads;
} options;

static options opt = {.images = 200,
                      .workers = 2,
                      .ml_threads = 1,
                      .rounds = 3,
                      .searches = 96,
                      .clients = 8,
                      .http_threads = 16};
static visor_app app;
static char base_url[64];

static void die(const char *what, const visor_error *err) {
  fprintf(stderr, "bench_pipeline: %s: %s\n", what, err ? err->message : "failed");
  exit(1);
}

static double now_s(void) {
  return visor_monotonic_s();
}

/* CPU seconds used by this process (every thread: HTTP, workers, libvips, the clients). */
static double cpu_s(void) {
  struct rusage use;
  getrusage(RUSAGE_SELF, &use);
  return use.ru_utime.tv_sec + use.ru_stime.tv_sec +
         (use.ru_utime.tv_usec + use.ru_stime.tv_usec) * 1e-6;
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Nearest-rank percentile (p in 0..100) of n values (sorted in place). */
static double percentile(double *values, int n, double p) {
  qsort(values, (size_t)n, sizeof *values, by_value);
  int rank = (int)ceil(p / 100.0 * n);
  if (rank < 1) rank = 1;
  return values[rank - 1];
}

static double median(double *values, int n) {
  return percentile(values, n, 50);
}

/* ---- photos ------------------------------------------------------------------------ */

/* Every stride-th line of a grocery list file (train.txt / test.txt) so that count photos
 * spread over all classes; the files are read into memory. */
static int load_photos(const char *grocery, const char *list_name, int count, photo *out) {
  char path[1200];
  snprintf(path, sizeof path, "%s/%s", grocery, list_name);
  FILE *list = fopen(path, "r");
  if (!list) {
    perror(path);
    exit(1);
  }
  char line[1200];
  int total = 0;
  while (fgets(line, sizeof line, list))
    total++;
  rewind(list);
  double stride = count < total ? (double)total / count : 1.0;
  int index = 0, taken = 0;
  double next = 0;
  while (taken < count && fgets(line, sizeof line, list)) {
    if (index++ < (int)next) continue;
    next += stride;
    char relative[600];
    if (sscanf(line, "%599[^,],", relative) != 1) continue;
    photo *p = &out[taken];
    snprintf(p->path, sizeof p->path, "%s/%s", grocery, relative);
    visor_error err = {0};
    if (visor_read_file(p->path, 64 << 20, (char **)&p->data, &p->len, &err) != VISOR_OK)
      die("read photo", &err);
    taken++;
  }
  fclose(list);
  return taken;
}

/* ---- HTTP -------------------------------------------------------------------------- */

typedef struct body {
  char *text;
  size_t len;
} body;

static size_t on_body(char *data, size_t size, size_t count, void *ctx) {
  body *b = ctx;
  size_t len = size * count;
  char *grown = realloc(b->text, b->len + len + 1);
  if (!grown) return 0;
  b->text = grown;
  memcpy(b->text + b->len, data, len);
  b->len += len;
  b->text[b->len] = '\0';
  return len;
}

typedef struct field {
  const char *name, *value; /* text field, or */
  const photo *file;        /* an image part */
} field;

/* POSTs a multipart form on curl (reused: keep-alive); returns the status, *out the parsed
 * JSON body (caller decrefs; may be NULL). */
static long post_form(CURL *curl, const char *path, const field *fields, size_t count,
                      json_t **out) {
  char url[256];
  snprintf(url, sizeof url, "%s%s", base_url, path);
  curl_mime *mime = curl_mime_init(curl);
  for (size_t i = 0; i < count; i++) {
    curl_mimepart *part = curl_mime_addpart(mime);
    curl_mime_name(part, fields[i].name);
    if (fields[i].file) {
      curl_mime_data(part, fields[i].file->data, fields[i].file->len);
      curl_mime_filename(part, "photo.jpg");
      curl_mime_type(part, "image/jpeg");
    } else {
      curl_mime_data(part, fields[i].value, CURL_ZERO_TERMINATED);
    }
  }
  struct curl_slist *headers = curl_slist_append(NULL, "Expect:");
  body b = {0};
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_MIMEPOST, mime);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 120L);
  long status = 0;
  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK)
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  else
    fprintf(stderr, "POST %s: %s\n", path, curl_easy_strerror(rc));
  if (out) *out = b.text ? json_loads(b.text, 0, NULL) : NULL;
  if (status >= 300) fprintf(stderr, "POST %s: %ld %s\n", path, status, b.text ? b.text : "");
  curl_easy_setopt(curl, CURLOPT_MIMEPOST, NULL);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
  curl_slist_free_all(headers);
  curl_mime_free(mime);
  free(b.text);
  return status;
}

/* ---- the server -------------------------------------------------------------------- */

static visor_config config;
static visor_http_server *server;
static char data_dir[960];

static void start_server(const char *shared) {
  const char *tmp = getenv("TMPDIR");
  snprintf(data_dir, sizeof data_dir, "%s/visor-bench-pipeline-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(data_dir)) {
    perror("mkdtemp");
    exit(1);
  }
  char models[1100], workers[16], ml_threads[16], http_threads[16];
  snprintf(models, sizeof models, "%s/models", shared);
  snprintf(workers, sizeof workers, "%d", opt.workers);
  snprintf(ml_threads, sizeof ml_threads, "%d", opt.ml_threads);
  snprintf(http_threads, sizeof http_threads, "%d", opt.http_threads);
  char *argv[] = {"--data-dir",   data_dir, "--models",       models,
                  "--workers",    workers,  "--ml-threads",   ml_threads,
                  "--log-level",  "warn",   "--http-threads", http_threads,
                  "--rate-limit", "0",      "--client-jobs",  "0"};
  int help = 0;
  visor_error err = {0};
  if (visor_config_load(&config, (int)(sizeof argv / sizeof argv[0]), argv, &help, &err) !=
      VISOR_OK)
    die("config", &err);
  visor_log_setup(VISOR_LOG_WARN, VISOR_LOG_PLAIN);
  if (visor_app_open(&app, &config, VISOR_PIPELINE_APP_PARTS, VISOR_APP_MIGRATE, &err) != VISOR_OK)
    die("app", &err);
  /* As `visor serve` does (cmd_serve.c). */
  visor_http_config http = {.host = "127.0.0.1",
                            .port = 0,
                            .threads = (int)config.http_threads,
                            .default_max_body = 1024 * 1024,
                            .rate_limit_per_s = 0,
                            .access_log = 1};
  server = visor_http_server_new(&http, &err);
  if (!server || visor_api_register(server, &app, &err) != VISOR_OK) die("server", &err);
  visor_worker_config workers_config = {.concurrency = (int)config.workers};
  app.workers = visor_worker_pool_new(app.db, app.queue, &workers_config, &err);
  if (!app.workers || visor_pipeline_register(&app, app.workers, &err) != VISOR_OK ||
      visor_worker_pool_start(app.workers, &err) != VISOR_OK)
    die("workers", &err);
  if (visor_http_start(server, &err) != VISOR_OK) die("http start", &err);
  snprintf(base_url, sizeof base_url, "http://127.0.0.1:%d", visor_http_port(server));
}

static void stop_server(void) {
  visor_http_stop(server, 5000);
  visor_worker_pool_stop(app.workers);
  visor_http_server_free(server);
  visor_app_close(&app);
  visor_config_free(&config);
  char command[1100];
  snprintf(command, sizeof command, "rm -rf '%s'", data_dir);
  if (system(command) != 0) fprintf(stderr, "could not remove %s\n", data_dir);
}

/* ---- indexing ---------------------------------------------------------------------- */

typedef struct index_stats {
  int64_t jobs, failed;
  int64_t first_created_ms, last_finished_ms;
  int64_t busy_ms;  /* sum over jobs of finished - started: time in the index task */
  int64_t queue_ms; /* sum over jobs of started - created: time waiting in the queue */
} index_stats;

static int64_t pending_index_jobs(void) {
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(app.db, &err);
  if (!conn) die("db", &err);
  visor_db_rows rows = {0};
  if (visor_db_exec(conn,
                    "SELECT COUNT(*) AS n FROM jobs WHERE kind = 'index' AND status IN "
                    "('queued', 'running')",
                    NULL, 0, &rows, NULL, &err) != VISOR_OK)
    die("count jobs", &err);
  int64_t n = visor_db_int(&rows, 0, "n");
  visor_db_rows_free(&rows);
  visor_db_release(conn);
  return n;
}

static index_stats job_stats(const char *kind, int64_t since_ms) {
  visor_error err = {0};
  visor_db_conn *conn = visor_db_acquire(app.db, &err);
  if (!conn) die("db", &err);
  visor_db_rows rows = {0};
  visor_db_value params[] = {VISOR_DB_S(kind), VISOR_DB_I(since_ms)};
  if (visor_db_exec(conn,
                    "SELECT COUNT(*) AS n, SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS "
                    "failed, MIN(created_at) AS c0, MAX(finished_at) AS f1, "
                    "SUM(finished_at - started_at) AS busy, SUM(started_at - created_at) AS "
                    "queued FROM jobs WHERE kind = ? AND created_at >= ?",
                    params, 2, &rows, NULL, &err) != VISOR_OK)
    die("job stats", &err);
  index_stats s = {.jobs = visor_db_int(&rows, 0, "n"),
                   .failed = visor_db_int(&rows, 0, "failed"),
                   .first_created_ms = visor_db_int(&rows, 0, "c0"),
                   .last_finished_ms = visor_db_int(&rows, 0, "f1"),
                   .busy_ms = visor_db_int(&rows, 0, "busy"),
                   .queue_ms = visor_db_int(&rows, 0, "queued")};
  visor_db_rows_free(&rows);
  visor_db_release(conn);
  return s;
}

static void wait_index_idle(int timeout_s) {
  double deadline = now_s() + timeout_s;
  while (pending_index_jobs() > 0) {
    if (now_s() > deadline) {
      fprintf(stderr, "bench_pipeline: index jobs still pending after %d s\n", timeout_s);
      exit(1);
    }
    visor_sleep_ms(10);
  }
}

typedef struct pipeline_round {
  double images_per_s;
  double upload_s; /* client: first upload sent to last upload answered */
  double task_ms;  /* mean time inside the index task per image */
  double queue_ms; /* mean time from upload commit to task start */
  double wall_s;
  double cpu_ms; /* process CPU per image, first upload to last job done */
} pipeline_round;

/* Uploads photos as one product each (sku unique per round), then waits until every index
 * job is done. Time: first upload sent (wall clock) to the last job's finished_at. */
static pipeline_round run_pipeline(const photo *photos, int count, int round) {
  wait_index_idle(600);
  CURL *curl = curl_easy_init();
  int64_t start_ms = visor_now_ms();
  double start = now_s(), cpu0 = cpu_s();
  for (int i = 0; i < count; i++) {
    char sku[64], name[64];
    snprintf(sku, sizeof sku, "BENCH-%d-%d", round, i);
    snprintf(name, sizeof name, "Bench product %d", i);
    field fields[] = {{.name = "sku", .value = sku},
                      {.name = "name", .value = name},
                      {.name = "category", .value = "bench"},
                      {.name = "images", .file = &photos[i]}};
    long status = post_form(curl, "/api/v1/products", fields, 4, NULL);
    if (status != 201) {
      fprintf(stderr, "bench_pipeline: upload %d answered %ld\n", i, status);
      exit(1);
    }
  }
  double uploaded = now_s();
  curl_easy_cleanup(curl);
  wait_index_idle(600);
  double cpu_used = cpu_s() - cpu0;
  index_stats s = job_stats("index", start_ms);
  if (s.jobs != count || s.failed) {
    fprintf(stderr, "bench_pipeline: %lld index jobs, %lld failed (expected %d, 0)\n",
            (long long)s.jobs, (long long)s.failed, count);
    exit(1);
  }
  pipeline_round r = {.upload_s = uploaded - start,
                      .wall_s = (double)(s.last_finished_ms - start_ms) / 1000.0,
                      .task_ms = (double)s.busy_ms / count,
                      .queue_ms = (double)s.queue_ms / count,
                      .cpu_ms = cpu_used * 1000.0 / count};
  r.images_per_s = count / r.wall_s;
  return r;
}

/* The model-only bound: the same photos through analyze (+ index views) on opt.workers
 * threads pulling from one counter. */
typedef struct model_work {
  const photo *photos;
  int count;
  int query; /* 1: visor_analyze_query (search), 0: index analysis */
  atomic_int next;
  double *latency_ms; /* per photo, when not NULL */
} model_work;

static void analyze_one(const photo *p, int query) {
  visor_error err = {0};
  visor_analysis analysis = {0};
  const visor_pipeline_settings *settings = visor_pipeline_settings_get();
  visor_code code;
  if (query) {
    code = visor_analyze_query(&app, p->data, p->len, &analysis, &err);
  } else {
    visor_analyze_options options =
        visor_views_options(&settings->index, settings->index_views, settings->index_view_count);
    code = app.ml->ops->analyze(app.ml, p->data, p->len, &options, &analysis, &err);
  }
  if (code != VISOR_OK) die(p->path, &err);
  visor_analysis_free(&analysis);
}

static void *model_thread(void *arg) {
  model_work *work = arg;
  for (int i; (i = atomic_fetch_add(&work->next, 1)) < work->count;) {
    double t0 = now_s();
    analyze_one(&work->photos[i], work->query);
    if (work->latency_ms) work->latency_ms[i] = (now_s() - t0) * 1000.0;
  }
  return NULL;
}

/* Runs the photos through the models on threads threads; returns the wall time in s. */
static double run_models(const photo *photos, int count, int threads, int query,
                         double *latency_ms) {
  model_work work = {.photos = photos, .count = count, .query = query, .latency_ms = latency_ms};
  atomic_init(&work.next, 0);
  pthread_t ids[MAX_CLIENTS];
  double start = now_s();
  for (int t = 0; t < threads; t++)
    pthread_create(&ids[t], NULL, model_thread, &work);
  for (int t = 0; t < threads; t++)
    pthread_join(ids[t], NULL);
  return now_s() - start;
}

/* ---- where an index task's time goes ------------------------------------------------ */

typedef struct breakdown {
  double analyze_ms, vectors_ms, crops_ms, blobs_ms, regions;
} breakdown;

/* The index task's steps one at a time on this thread, per photo: the models (analyze with
 * the index views) and the vectors (one upsert_batch, as the task writes them, into a
 * scratch collection of the same store type); the metadata writes are what remains of the
 * task's time. Also what the crops cost when each is requested once, outside the task
 * (service/crops.c: decode the original shrunk to VISOR_CROP_SOURCE_MAX_SIDE, cut and encode
 * one JPEG, store it). */
static breakdown measure_breakdown(const photo *photos, int count) {
  breakdown b = {0};
  visor_error err = {0};
  char url[1100];
  snprintf(url, sizeof url, "hnsw://%s/bench-scratch-vectors", data_dir);
  visor_vector_store *scratch = visor_vector_open(url, "scratch", app.embedder.dim, NULL, &err);
  if (!scratch) die("scratch vectors", &err);
  const visor_pipeline_settings *settings = visor_pipeline_settings_get();
  visor_analyze_options options =
      visor_views_options(&settings->index, settings->index_views, settings->index_view_count);
  for (int i = 0; i < count; i++) {
    const photo *p = &photos[i];
    visor_analysis analysis = {0};
    double t0 = now_s();
    if (app.ml->ops->analyze(app.ml, p->data, p->len, &options, &analysis, &err) != VISOR_OK)
      die(p->path, &err);
    double t1 = now_s();
    size_t n = analysis.region_count, dim = analysis.dim;
    char(*ids)[64] = calloc(n, sizeof *ids);
    const char **id_list = calloc(n, sizeof *id_list);
    float *vectors = calloc(n * dim, sizeof *vectors);
    visor_vector_meta *metas = calloc(n, sizeof *metas);
    for (size_t r = 0; r < n; r++) {
      snprintf(ids[r], sizeof ids[r], "b-%d-%zu", i, r);
      id_list[r] = ids[r];
      memcpy(vectors + r * dim, analysis.regions[r].embedding, dim * sizeof *vectors);
      metas[r] = (visor_vector_meta){.product_id = ids[r], .category = "bench", .model = "bench"};
    }
    if (visor_vector_upsert_batch(scratch, n, id_list, vectors, metas, &err) != VISOR_OK)
      die("vectors", &err);
    double t2 = now_s();
    double put_s = 0;
    char key[128];
    for (size_t r = 0; r < n; r++) {
      visor_image *decoded = NULL;
      void *crop = NULL;
      size_t crop_len = 0;
      if (visor_image_load(p->data, p->len, app.max_pixels, VISOR_CROP_SOURCE_MAX_SIDE, &decoded,
                           &err) != VISOR_OK ||
          visor_image_crop_encode_loaded(decoded, &analysis.regions[r].box, VISOR_CROP_MAX_SIDE, 0,
                                         &crop, &crop_len, &err) != VISOR_OK)
        die("crop", &err);
      visor_image_free(decoded);
      double put0 = now_s();
      snprintf(key, sizeof key, "bench-breakdown/%d/%zu.jpg", i, r);
      if (visor_blob_put(app.blobs, key, crop, crop_len, &err) != VISOR_OK) die("blob", &err);
      put_s += now_s() - put0;
      free(crop);
    }
    double t3 = now_s();
    for (size_t r = 0; r < n; r++) {
      snprintf(key, sizeof key, "bench-breakdown/%d/%zu.jpg", i, r);
      visor_blob_remove(app.blobs, key, NULL);
    }
    free(ids);
    free(id_list);
    free(vectors);
    free(metas);
    b.analyze_ms += (t1 - t0) * 1000;
    b.vectors_ms += (t2 - t1) * 1000;
    b.crops_ms += (t3 - t2 - put_s) * 1000;
    b.blobs_ms += put_s * 1000;
    b.regions += (double)n;
    visor_analysis_free(&analysis);
  }
  scratch->ops->close(scratch);
  b.analyze_ms /= count;
  b.vectors_ms /= count;
  b.crops_ms /= count;
  b.blobs_ms /= count;
  b.regions /= count;
  return b;
}

/* ---- search ------------------------------------------------------------------------ */

typedef struct search_client {
  const photo *photos;
  int photo_count, first, requests;
  double *latency_ms; /* requests values */
  int failures;
  CURL *curl; /* the client's connection: NULL = one of its own for this call */
} search_client;

static void *search_thread(void *arg) {
  search_client *c = arg;
  CURL *curl = c->curl ? c->curl : curl_easy_init();
  for (int i = 0; i < c->requests; i++) {
    const photo *p = &c->photos[(c->first + i) % c->photo_count];
    field fields[] = {{.name = "image", .file = p}, {.name = "k", .value = "10"}};
    json_t *answer = NULL;
    double t0 = now_s();
    long status = post_form(curl, "/api/v1/searches?wait=30", fields, 2, &answer);
    c->latency_ms[i] = (now_s() - t0) * 1000.0;
    const char *state = json_string_value(json_object_get(answer, "status"));
    if (status != 200 || !state || strcmp(state, "done") != 0) c->failures++;
    json_decref(answer);
  }
  if (curl != c->curl) curl_easy_cleanup(curl);
  return NULL;
}

typedef struct search_result {
  double p50, p99, per_s;
  double queue_ms, task_ms; /* means over the search jobs: waiting for a worker, in the task */
  int requests, failures;
} search_result;

static search_result run_searches(const photo *photos, int photo_count, int clients, int total) {
  search_client c[MAX_CLIENTS];
  pthread_t ids[MAX_CLIENTS];
  int each = total / clients;
  double *all = calloc((size_t)(each * clients), sizeof *all);
  int64_t start_ms = visor_now_ms();
  double start = now_s();
  for (int i = 0; i < clients; i++) {
    c[i] = (search_client){.photos = photos,
                           .photo_count = photo_count,
                           .first = i * each,
                           .requests = each,
                           .latency_ms = all + i * each};
    pthread_create(&ids[i], NULL, search_thread, &c[i]);
  }
  search_result r = {.requests = each * clients};
  for (int i = 0; i < clients; i++) {
    pthread_join(ids[i], NULL);
    r.failures += c[i].failures;
  }
  r.per_s = r.requests / (now_s() - start);
  index_stats jobs = job_stats("search", start_ms);
  r.queue_ms = jobs.jobs ? (double)jobs.queue_ms / jobs.jobs : 0;
  r.task_ms = jobs.jobs ? (double)jobs.busy_ms / jobs.jobs : 0;
  r.p50 = percentile(all, r.requests, 50);
  r.p99 = percentile(all, r.requests, 99);
  free(all);
  return r;
}

/* One client, paired: for each query photo, the models alone on this thread (a first
 * untimed run, then the timed one) and right after it the same photo searched through the
 * API, so that the two times of a query are taken moments apart, in the same machine state.
 * model_ms and search_ms (total values each) get the two times of each query. */
static search_result run_paired_single(const photo *photos, int photo_count, int total,
                                       double *model_ms, double *search_ms) {
  search_client c = {
      .photos = photos, .photo_count = photo_count, .requests = 1, .curl = curl_easy_init()};
  int64_t start_ms = visor_now_ms();
  double busy_s = 0;
  for (int i = 0; i < total; i++) {
    const photo *p = &photos[i % photo_count];
    analyze_one(p, 1);
    double t0 = now_s();
    analyze_one(p, 1);
    model_ms[i] = (now_s() - t0) * 1000.0;
    c.first = i;
    c.latency_ms = search_ms + i;
    double t1 = now_s();
    search_thread(&c);
    busy_s += now_s() - t1;
  }
  curl_easy_cleanup(c.curl);
  search_result r = {.requests = total, .failures = c.failures, .per_s = total / busy_s};
  index_stats jobs = job_stats("search", start_ms);
  r.queue_ms = jobs.jobs ? (double)jobs.queue_ms / jobs.jobs : 0;
  r.task_ms = jobs.jobs ? (double)jobs.busy_ms / jobs.jobs : 0;
  double *sorted = calloc((size_t)total, sizeof *sorted);
  memcpy(sorted, search_ms, (size_t)total * sizeof *sorted);
  r.p50 = percentile(sorted, total, 50);
  r.p99 = percentile(sorted, total, 99);
  free(sorted);
  return r;
}

/* The median over n queries of search time / models' time of that query. */
static double median_paired_ratio(int n, const double *search_ms, const double *model_ms) {
  double *ratios = calloc((size_t)n, sizeof *ratios);
  for (int i = 0; i < n; i++)
    ratios[i] = model_ms[i] > 0 ? search_ms[i] / model_ms[i] : 0;
  double m = median(ratios, n);
  free(ratios);
  return m;
}

/* ---- main -------------------------------------------------------------------------- */

static void parse_args(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (i + 1 >= argc) {
      fprintf(stderr, "%s needs a value (see the comment at the top of bench_pipeline.c)\n", a);
      exit(2);
    }
    int v = atoi(argv[++i]);
    if (!strcmp(a, "--images"))
      opt.images = v;
    else if (!strcmp(a, "--workers"))
      opt.workers = v;
    else if (!strcmp(a, "--ml-threads"))
      opt.ml_threads = v;
    else if (!strcmp(a, "--rounds"))
      opt.rounds = v;
    else if (!strcmp(a, "--searches"))
      opt.searches = v;
    else if (!strcmp(a, "--clients"))
      opt.clients = v;
    else if (!strcmp(a, "--http-threads"))
      opt.http_threads = v;
    else {
      fprintf(stderr, "unknown option %s (see the comment at the top of bench_pipeline.c)\n", a);
      exit(2);
    }
  }
  if (opt.images < 1 || opt.images > MAX_PHOTOS || opt.workers < 1 || opt.workers > MAX_CLIENTS ||
      opt.ml_threads < 0 || opt.rounds < 1 || opt.rounds > 50 || opt.clients < 1 ||
      opt.clients > MAX_CLIENTS || opt.searches < opt.clients || opt.searches > 100000) {
    fprintf(stderr, "bench_pipeline: an option is out of range\n");
    exit(2);
  }
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  const char *shared = getenv("VISOR_SHARED_DIR");
  if (!shared) shared = VISOR_SHARED_DEFAULT;
  char grocery[1100];
  snprintf(grocery, sizeof grocery, "%s/datasets/grocery", shared);
  curl_global_init(CURL_GLOBAL_DEFAULT);

  static photo train[MAX_PHOTOS], queries[MAX_PHOTOS];
  int train_count = load_photos(grocery, "train.txt", opt.images + WARMUP_IMAGES, train);
  int query_count = load_photos(grocery, "test.txt", opt.searches, queries);
  if (train_count < opt.images + WARMUP_IMAGES) {
    fprintf(stderr, "bench_pipeline: only %d train photos\n", train_count);
    return 1;
  }
  const photo *warmup = train + opt.images;
  start_server(shared);
  fprintf(stderr, "server on %s, data in %s; %d train photos, %d query photos\n", base_url,
          data_dir, opt.images, query_count);

  /* Warm-up: sessions, allocators, the vector collection, one search. */
  run_models(warmup, WARMUP_IMAGES, opt.workers, 0, NULL);
  run_pipeline(warmup, WARMUP_IMAGES, -1);
  run_searches(queries, query_count, 1, 2);

  /* (a) indexing: rounds alternate the models alone and the pipeline. */
  double model_rate[50], pipe_rate[50], ratio[50], upload_s[50], task_ms[50], queue_ms[50],
      model_ms[50], pipe_cpu[50], model_cpu[50], cpu_ratio[50];
  for (int r = 0; r < opt.rounds; r++) {
    double cpu0 = cpu_s();
    double model_s = run_models(train, opt.images, opt.workers, 0, NULL);
    model_cpu[r] = (cpu_s() - cpu0) * 1000.0 / opt.images;
    model_rate[r] = opt.images / model_s;
    model_ms[r] = model_s * 1000.0 * opt.workers / opt.images; /* thread-ms per image */
    pipeline_round p = run_pipeline(train, opt.images, r);
    pipe_rate[r] = p.images_per_s;
    ratio[r] = pipe_rate[r] / model_rate[r];
    pipe_cpu[r] = p.cpu_ms;
    cpu_ratio[r] = model_cpu[r] / pipe_cpu[r];
    upload_s[r] = p.upload_s;
    task_ms[r] = p.task_ms;
    queue_ms[r] = p.queue_ms;
    fprintf(stderr,
            "round %d: models %.1f images/s, pipeline %.1f images/s (ratio %.3f); uploads took "
            "%.2f s, index task %.1f ms/image (models %.1f thread-ms/image), queue wait %.0f "
            "ms/image; CPU %.1f vs %.1f ms/image\n",
            r + 1, model_rate[r], pipe_rate[r], ratio[r], p.upload_s, p.task_ms, model_ms[r],
            p.queue_ms, p.cpu_ms, model_cpu[r]);
  }

  int breakdown_count = opt.images < 50 ? opt.images : 50;
  breakdown b = measure_breakdown(train, breakdown_count);

  /* (b) search: the models alone for one query (1 thread, each query photo once, twice),
   * and on opt.workers threads (the throughput bound of 8 clients). */
  double *one_ms = calloc((size_t)opt.searches, sizeof *one_ms);
  double *single_ms = calloc((size_t)opt.searches, sizeof *single_ms);
  search_result single = run_paired_single(queries, query_count, opt.searches, one_ms, single_ms);
  double paired_ratio = median_paired_ratio(opt.searches, single_ms, one_ms);
  double model_query_p99 = percentile(one_ms, opt.searches, 99);
  double model_query_ms = median(one_ms, opt.searches);
  double model_query_rate = query_count / run_models(queries, query_count, opt.workers, 1, NULL);
  search_result many = run_searches(queries, query_count, opt.clients, opt.searches);
  free(one_ms);
  free(single_ms);

  double med_model = median(model_rate, opt.rounds), med_pipe = median(pipe_rate, opt.rounds);
  double med_ratio = median(ratio, opt.rounds);
  printf("\nPipelines: %d Grocery Store train photos indexed per round (median of %d rounds), "
         "%d searches per client count over %d test photos; %d workers, %d ML intra-op "
         "thread(s) each, %d HTTP threads\n\n",
         opt.images, opt.rounds, opt.searches, query_count, opt.workers, opt.ml_threads,
         opt.http_threads);
  printf("| measure | workers | ml threads | pipeline | models alone | ratio | goal |\n");
  printf("|---|---:|---:|---:|---:|---:|---|\n");
  printf("| indexing, images/s | %d | %d | %.1f | %.1f | %.3f | >= 0.9 |\n", opt.workers,
         opt.ml_threads, med_pipe, med_model, med_ratio);
  printf("| indexing, CPU ms/image (models / pipeline) | %d | %d | %.1f | %.1f | %.3f | |\n",
         opt.workers, opt.ml_threads, median(pipe_cpu, opt.rounds), median(model_cpu, opt.rounds),
         median(cpu_ratio, opt.rounds));
  printf("| search p50 ms, 1 client | %d | %d | %.1f | %.1f | %.2f | |\n", opt.workers,
         opt.ml_threads, single.p50, model_query_ms, single.p50 / model_query_ms);
  printf("| search, 1 client: median of each query's time / its models' time | %d | %d | | | "
         "%.2f | <= 1.1 |\n",
         opt.workers, opt.ml_threads, paired_ratio);
  printf("| search p99 ms, 1 client | %d | %d | %.1f | %.1f | %.2f | |\n", opt.workers,
         opt.ml_threads, single.p99, model_query_p99, single.p99 / model_query_p99);
  printf("| search p50 ms, %d clients | %d | %d | %.1f | %.1f | %.2f | |\n", opt.clients,
         opt.workers, opt.ml_threads, many.p50, model_query_ms, many.p50 / model_query_ms);
  printf("| search p99 ms, %d clients | %d | %d | %.1f | %.1f | %.2f | |\n", opt.clients,
         opt.workers, opt.ml_threads, many.p99, model_query_p99, many.p99 / model_query_p99);
  double queue_bound_ms = opt.clients / model_query_rate * 1000.0;
  printf("| search p50 ms, %d clients, vs queueing bound | %d | %d | %.1f | %.1f | %.2f | |\n",
         opt.clients, opt.workers, opt.ml_threads, many.p50, queue_bound_ms,
         many.p50 / queue_bound_ms);
  printf("| searches/s, %d clients | %d | %d | %.1f | %.1f | %.3f | >= 0.95 |\n", opt.clients,
         opt.workers, opt.ml_threads, many.per_s, model_query_rate, many.per_s / model_query_rate);
  printf(
      "\nModels alone: indexing = ml analyze (+ index views) on %d threads; one query = "
      "visor_analyze_query on 1 thread, p50 and p99 over the query photos, each timed just before "
      "the same photo's search (1 client); queueing bound = "
      "%d clients / query throughput of the models on %d threads (%.1f/s).\n",
      opt.workers, opt.clients, opt.workers, model_query_rate);
  printf("Indexing breakdown (medians): uploads took %.2f s of the %.2f s; index task %.1f "
         "ms/image vs models %.1f thread-ms/image; queue wait %.0f ms/image.\n",
         median(upload_s, opt.rounds), opt.images / med_pipe, median(task_ms, opt.rounds),
         median(model_ms, opt.rounds), median(queue_ms, opt.rounds));
  printf("Search jobs (means): 1 client: %.1f ms queued, %.1f ms in the task; %d clients: "
         "%.1f ms queued, %.1f ms in the task.\n",
         single.queue_ms, single.task_ms, opt.clients, many.queue_ms, many.task_ms);
  printf("Index task steps one at a time (1 thread, %d photos, %.1f regions/photo), ms/photo: "
         "models %.1f, vectors (one batch) %.1f; non-model / model = %.2f. Crops on first "
         "request (not in the task): cutting %.1f and storing %.1f ms/photo if every region's "
         "crop is asked for once.\n",
         breakdown_count, b.regions, b.analyze_ms, b.vectors_ms, b.vectors_ms / b.analyze_ms,
         b.crops_ms, b.blobs_ms);
  if (single.failures || many.failures)
    printf("Failed searches: %d (1 client), %d (%d clients)\n", single.failures, many.failures,
           opt.clients);

  stop_server();
  for (int i = 0; i < train_count; i++)
    free(train[i].data);
  for (int i = 0; i < query_count; i++)
    free(queries[i].data);
  curl_global_cleanup();
  return single.failures || many.failures ? 1 : 0;
}
