/* bench_ml_service.c: throughput of `visor ml` with dynamic batching on and off. The service
 * runs in this process on 127.0.0.1:0 (the same code `visor ml` runs); CLIENTS threads, each
 * with the HTTP client backend (visor_ml_open("http://...")), send Grocery Store photos to
 * POST /v1/analyze back to back. Rounds alternate off / on; the table gives the median
 * round's requests/s, crops/s, latency and average batch, and on/off ratios.
 *
 *   bench_ml_service [--clients N] [--requests N] [--rounds N] [--batch N] [--wait-ms N]
 *                    [--threads N] [--max-regions N]   (VISOR_SHARED_DIR: models, photos)
 *
 * Defaults: 8 clients, 12 requests per client per round, 3 rounds, batches of 8 with a
 * 5 ms wait, 1 ONNX Runtime intra-op thread (0 = the runtime's default), every region
 * (--max-regions 1: the whole image only, one crop per request). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http.h"
#include "ml/ml.h"
#include "ml/ml_server.h"

static const char *const photos[] = {
    "test/Fruit/Banana/Banana_001.jpg",
    "test/Fruit/Apple/Granny-Smith/Granny-Smith_002.jpg",
    "test/Packages/Milk/Arla-Standard-Milk/Arla-Standard-Milk_001.jpg",
    "test/Fruit/Banana/Banana_003.jpg",
    "test/Fruit/Apple/Granny-Smith/Granny-Smith_004.jpg",
    "test/Packages/Milk/Arla-Standard-Milk/Arla-Standard-Milk_003.jpg",
    "test/Fruit/Banana/Banana_005.jpg",
    "test/Fruit/Apple/Granny-Smith/Granny-Smith_006.jpg",
};
#define PHOTOS (sizeof photos / sizeof photos[0])
#define MAX_CLIENTS 64

static void *data[PHOTOS];
static size_t lens[PHOTOS];
static int requests_per_client = 12;
static visor_analyze_options options; /* --max-regions */

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const visor_error *err) {
  fprintf(stderr, "bench_ml_service: %s: %s\n", what, err ? err->message : "");
  exit(1);
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

typedef struct client {
  visor_ml *ml;
  int index;
  double *latencies; /* requests_per_client */
  size_t crops;
  pthread_barrier_t *start;
} client;

static void *client_main(void *arg) {
  client *c = arg;
  pthread_barrier_wait(c->start);
  for (int r = 0; r < requests_per_client; r++) {
    size_t p = ((size_t)c->index * 3 + (size_t)r) % PHOTOS;
    visor_analysis a;
    visor_error err = {0};
    double t0 = now_s();
    if (c->ml->ops->analyze(c->ml, data[p], lens[p], &options, &a, &err)) die("analyze", &err);
    c->latencies[r] = now_s() - t0;
    c->crops += a.region_count;
    visor_analysis_free(&a);
  }
  return NULL;
}

typedef struct round_result {
  double requests_per_s, crops_per_s, p50_ms, p95_ms, avg_batch;
} round_result;

static round_result run_round(visor_ml *local, size_t batch, int wait_ms, int clients) {
  visor_error err = {0};
  visor_ml_service_config config = {.max_batch = batch, .batch_wait_ms = wait_ms};
  visor_ml_service *service = visor_ml_service_new(local, &config, &err);
  visor_http_config http = {.host = "127.0.0.1", .port = 0, .threads = clients + 4};
  visor_http_server *server = service ? visor_http_server_new(&http, &err) : NULL;
  if (!server || visor_ml_service_register(service, server, &err) || visor_http_start(server, &err))
    die("start the service", &err);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", visor_http_port(server));
  visor_ml_config remote = {.url = url};
  visor_ml *ml = visor_ml_open(&remote, &err);
  if (!ml) die(url, &err);
  /* warm-up: connections and the first runs */
  for (size_t p = 0; p < PHOTOS; p++) {
    visor_analysis a;
    if (ml->ops->analyze(ml, data[p], lens[p], NULL, &a, &err)) die("warm-up", &err);
    visor_analysis_free(&a);
  }
  visor_ml_service_stats before, after;
  visor_ml_service_get_stats(service, &before);
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, (unsigned)clients + 1);
  client cs[MAX_CLIENTS];
  pthread_t threads[MAX_CLIENTS];
  double *latencies = malloc((size_t)clients * (size_t)requests_per_client * sizeof(double));
  for (int i = 0; i < clients; i++) {
    cs[i] = (client){ml, i, latencies + (size_t)i * (size_t)requests_per_client, 0, &start};
    pthread_create(&threads[i], NULL, client_main, &cs[i]);
  }
  pthread_barrier_wait(&start);
  double t0 = now_s();
  size_t crops = 0;
  for (int i = 0; i < clients; i++) {
    pthread_join(threads[i], NULL);
    crops += cs[i].crops;
  }
  double elapsed = now_s() - t0;
  visor_ml_service_get_stats(service, &after);
  pthread_barrier_destroy(&start);
  size_t n = (size_t)clients * (size_t)requests_per_client;
  qsort(latencies, n, sizeof *latencies, by_value);
  round_result r = {.requests_per_s = (double)n / elapsed,
                    .crops_per_s = (double)crops / elapsed,
                    .p50_ms = latencies[n / 2] * 1e3,
                    .p95_ms = latencies[n * 95 / 100] * 1e3};
  uint64_t batches = after.batches - before.batches;
  /* without batching every request runs its own crops as one batch */
  r.avg_batch =
      batches ? (double)(after.crops - before.crops) / (double)batches : (double)crops / (double)n;
  free(latencies);
  ml->ops->close(ml);
  visor_http_stop(server, 2000);
  visor_http_server_free(server);
  visor_ml_service_free(service);
  return r;
}

static int by_rps(const void *a, const void *b) {
  double x = ((const round_result *)a)->requests_per_s,
         y = ((const round_result *)b)->requests_per_s;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  int clients = 8, rounds = 3, wait_ms = 5, threads = 1;
  size_t batch = 8;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--clients"))
      clients = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--requests"))
      requests_per_client = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--rounds"))
      rounds = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--batch"))
      batch = (size_t)atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--wait-ms"))
      wait_ms = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--threads"))
      threads = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--max-regions"))
      options.max_regions = (size_t)atoi(argv[i + 1]);
    else {
      fprintf(stderr, "bench_ml_service: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if (clients < 1 || clients > MAX_CLIENTS || rounds < 1 || rounds > 32 ||
      requests_per_client < 1) {
    fprintf(stderr, "bench_ml_service: --clients 1..%d, --rounds 1..32, --requests >= 1\n",
            MAX_CLIENTS);
    return 2;
  }
  const char *shared = getenv("VISOR_SHARED_DIR");
  if (!shared) shared = VISOR_SHARED_DEFAULT;
  char path[4096];
  for (size_t p = 0; p < PHOTOS; p++) {
    snprintf(path, sizeof path, "%s/datasets/grocery/%s", shared, photos[p]);
    FILE *file = fopen(path, "rb");
    if (!file) die(path, NULL);
    fseek(file, 0, SEEK_END);
    lens[p] = (size_t)ftell(file);
    fseek(file, 0, SEEK_SET);
    data[p] = malloc(lens[p]);
    if (fread(data[p], 1, lens[p], file) != lens[p]) die(path, NULL);
    fclose(file);
  }
  snprintf(path, sizeof path, "%s/models", shared);
  visor_ml_config config = {.url = "local", .models_dir = path, .intra_op_threads = threads};
  visor_error err = {0};
  visor_ml *local = visor_ml_open(&config, &err);
  if (!local) die("open the models", &err);

  round_result off[32], on[32];
  for (int r = 0; r < rounds; r++) {
    off[r] = run_round(local, 1, 0, clients);
    on[r] = run_round(local, batch, wait_ms, clients);
    fprintf(stderr, "round %d: off %.1f req/s, on %.1f req/s\n", r + 1, off[r].requests_per_s,
            on[r].requests_per_s);
  }
  qsort(off, (size_t)rounds, sizeof off[0], by_rps);
  qsort(on, (size_t)rounds, sizeof on[0], by_rps);
  round_result a = off[rounds / 2], b = on[rounds / 2];
  printf("visor ml, POST /v1/analyze (max_regions %zu): %d clients x %d requests, %d rounds "
         "(median), %d intra-op thread(s)\n\n",
         options.max_regions, clients, requests_per_client, rounds, threads);
  printf("| batching | requests/s | crops/s | p50 ms | p95 ms | avg batch | vs off |\n");
  printf("|---|---:|---:|---:|---:|---:|---:|\n");
  printf("| off (ml_batch=1) | %.1f | %.1f | %.0f | %.0f | %.1f | 1.00x |\n", a.requests_per_s,
         a.crops_per_s, a.p50_ms, a.p95_ms, a.avg_batch);
  printf("| on (ml_batch=%zu, wait %d ms) | %.1f | %.1f | %.0f | %.0f | %.1f | %.2fx |\n", batch,
         wait_ms, b.requests_per_s, b.crops_per_s, b.p50_ms, b.p95_ms, b.avg_batch,
         b.requests_per_s / a.requests_per_s);
  local->ops->close(local);
  for (size_t p = 0; p < PHOTOS; p++)
    free(data[p]);
  return 0;
}
