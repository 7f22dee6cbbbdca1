/* make_embeddings.c: writes N real embeddings made by Visor's embedder (the manifest's
 * embedder run by the in-process ML backend, as the pipelines embed regions) to an .fvecs
 * file, for bench_vector's real-data case (bench_vector --fvecs FILE). The vectors: every
 * Grocery Store photo (train, test and the iconic images) whole, then random views of them
 * until N: a random crop (30 to 100 % of the area, aspect 3:4 to 4:3) of the photo, mirrored
 * or not, at full size or scaled down to 35 to 90 %. The vectors are written in a seeded
 * random order, so the last ones (bench_vector's queries) are a sample of the whole set.
 *
 *   make_embeddings OUT.fvecs [--n 100000] [--threads 2] [--ml-threads 1] [--seed 1]
 *                   (VISOR_SHARED_DIR: models and datasets/grocery)
 *
 * .fvecs: per vector an int32 dim, then dim float32 (little-endian). The same seed gives the
 * same file. Write it to /tmp, not into the repository (100000 x 1280-d is 512 MB). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/fsutil.h"
#include "image/image.h"
#include "ml/embedder.h"
#include "ml/manifest.h"
#include "ml/ml_local.h"

#define VARIANTS 4 /* {as is, mirrored} x {full size, scaled down} */

typedef struct source {
  char path[1200];
} source;

static struct {
  source *sources;
  size_t source_count;
  size_t n, dim;
  uint64_t seed;
  uint32_t *position; /* logical vector -> position in the file */
  int fd;
  visor_onnx_session *session;
  const visor_model_spec *spec;
  atomic_size_t next, done;
  double start;
} job;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t splitmix(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

static double uniform(uint64_t *state) {
  return ((splitmix(state) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static void add_source(const char *grocery, const char *relative, size_t *capacity) {
  if (job.source_count == *capacity) {
    *capacity = *capacity ? *capacity * 2 : 1024;
    job.sources = realloc(job.sources, *capacity * sizeof *job.sources);
    if (!job.sources) exit(1);
  }
  snprintf(job.sources[job.source_count++].path, sizeof job.sources[0].path, "%s/%s", grocery,
           relative[0] == '/' ? relative + 1 : relative);
}

/* train.txt and test.txt: "path, fine, coarse"; classes.csv: the iconic image is column 5. */
static void list_sources(const char *grocery) {
  size_t capacity = 0;
  const char *lists[] = {"train.txt", "test.txt"};
  char path[1200], line[2048];
  for (int l = 0; l < 2; l++) {
    snprintf(path, sizeof path, "%s/%s", grocery, lists[l]);
    FILE *f = fopen(path, "r");
    if (!f) {
      perror(path);
      exit(1);
    }
    char relative[1024];
    while (fgets(line, sizeof line, f))
      if (sscanf(line, "%1023[^,],", relative) == 1) add_source(grocery, relative, &capacity);
    fclose(f);
  }
  snprintf(path, sizeof path, "%s/classes.csv", grocery);
  FILE *f = fopen(path, "r");
  if (!f) {
    perror(path);
    exit(1);
  }
  if (!fgets(line, sizeof line, f)) exit(1); /* header */
  while (fgets(line, sizeof line, f)) {
    char *save = NULL, *field = strtok_r(line, ",\n", &save);
    for (int column = 0; field && column < 4; column++)
      field = strtok_r(NULL, ",\n", &save);
    if (field) add_source(grocery, field, &capacity);
  }
  fclose(f);
}

static void mirror(const visor_rgb_image *in, visor_rgb_image *out) {
  out->width = in->width;
  out->height = in->height;
  out->pixels = malloc((size_t)in->width * in->height * 3);
  if (!out->pixels) exit(1);
  for (int y = 0; y < in->height; y++) {
    const uint8_t *row = in->pixels + (size_t)y * in->width * 3;
    uint8_t *dst = out->pixels + (size_t)y * in->width * 3;
    for (int x = 0; x < in->width; x++)
      memcpy(dst + 3 * x, row + 3 * (in->width - 1 - x), 3);
  }
}

static void write_vector(size_t logical, const float *embedding) {
  size_t record = 4 + 4 * job.dim;
  uint8_t *buffer = malloc(record);
  if (!buffer) exit(1);
  int32_t dim = (int32_t)job.dim;
  memcpy(buffer, &dim, 4);
  memcpy(buffer + 4, embedding, 4 * job.dim);
  off_t at = (off_t)job.position[logical] * (off_t)record;
  if (pwrite(job.fd, buffer, record, at) != (ssize_t)record) {
    perror("pwrite");
    exit(1);
  }
  free(buffer);
}

static void embed(const visor_rgb_image *image, const visor_box *boxes, size_t count,
                  const size_t *logical, const char *path) {
  float *embeddings = malloc(count * job.dim * sizeof(float));
  if (!embeddings) exit(1);
  visor_error err = {0};
  if (visor_embedder_run(job.session, job.spec, image, boxes, count, embeddings, NULL, &err) !=
      VISOR_OK) {
    fprintf(stderr, "make_embeddings: %s: %s\n", path, err.message);
    exit(1);
  }
  for (size_t i = 0; i < count; i++)
    write_vector(logical[i], embeddings + i * job.dim);
  free(embeddings);
}

/* Source s: its whole-image vector (logical s) and its views (logical first.. first+count). */
static void make_source(size_t s, size_t first, size_t count) {
  const char *path = job.sources[s].path;
  char *data = NULL;
  size_t len = 0;
  visor_error err = {0};
  visor_rgb_image image = {0};
  float scale = 1;
  if (visor_read_file(path, 64 << 20, &data, &len, &err) != VISOR_OK ||
      visor_image_decode_rgb(data, len, 0, VISOR_ML_DECODE_MAX_SIDE, &image, &scale, &err) !=
          VISOR_OK) {
    fprintf(stderr, "make_embeddings: %s: %s\n", path, err.message);
    exit(1);
  }
  free(data);
  if (s < job.n) embed(&image, NULL, 1, &s, path);
  if (count == 0) {
    visor_rgb_image_free(&image);
    return;
  }
  uint64_t rng = job.seed * 0x100000001B3ULL + s;
  splitmix(&rng);
  visor_rgb_image variants[VARIANTS] = {image};
  mirror(&image, &variants[1]);
  double shrink = 0.35 + 0.55 * uniform(&rng);
  for (int v = 2; v < VARIANTS; v++) {
    int w = (int)(image.width * shrink), h = (int)(image.height * shrink);
    if (w < 16) w = 16;
    if (h < 16) h = 16;
    if (visor_rgb_image_resize(&variants[v - 2], NULL, w, h, &variants[v], &err) != VISOR_OK) {
      fprintf(stderr, "make_embeddings: %s: %s\n", path, err.message);
      exit(1);
    }
  }
  visor_box *boxes = malloc(count * sizeof *boxes);
  size_t *logical = malloc(count * sizeof *logical);
  if (!boxes || !logical) exit(1);
  for (int v = 0; v < VARIANTS; v++) {
    size_t m = 0;
    double width = variants[v].width, height = variants[v].height;
    for (size_t k = (size_t)v; k < count; k += VARIANTS) {
      double area = 0.3 + 0.7 * uniform(&rng), aspect = 0.75 + (4.0 / 3 - 0.75) * uniform(&rng);
      double w = width * sqrt(area * aspect), h = height * sqrt(area / aspect);
      if (w > width) w = width;
      if (h > height) h = height;
      boxes[m] = (visor_box){.x = (float)(uniform(&rng) * (width - w)),
                             .y = (float)(uniform(&rng) * (height - h)),
                             .w = (float)w,
                             .h = (float)h};
      logical[m++] = first + k;
    }
    if (m) embed(&variants[v], boxes, m, logical, path);
  }
  free(boxes);
  free(logical);
  for (int v = 1; v < VARIANTS; v++)
    visor_rgb_image_free(&variants[v]);
  visor_rgb_image_free(&image);
}

static void *worker(void *arg) {
  (void)arg;
  size_t m = job.source_count, views = job.n > m ? job.n - m : 0;
  size_t each = views / m, extra = views % m;
  for (size_t s; (s = atomic_fetch_add(&job.next, 1)) < m && s < job.n;) {
    size_t count = each + (s < extra), first = m + s * each + (s < extra ? s : extra);
    make_source(s, first, count);
    size_t done = atomic_fetch_add(&job.done, 1) + 1;
    if (done % 250 == 0)
      fprintf(stderr, "%zu / %zu photos, %.0f s\n", done, m < job.n ? m : job.n,
              now_s() - job.start);
  }
  return NULL;
}

int main(int argc, char **argv) {
  const char *out = NULL;
  long n = 100000, threads = 2, ml_threads = 1, seed = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (a[0] != '-') {
      out = a;
      continue;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, "%s needs a value\n", a);
      return 2;
    }
    long v = atol(argv[++i]);
    if (!strcmp(a, "--n"))
      n = v;
    else if (!strcmp(a, "--threads"))
      threads = v;
    else if (!strcmp(a, "--ml-threads"))
      ml_threads = v;
    else if (!strcmp(a, "--seed"))
      seed = v;
    else {
      fprintf(stderr, "unknown option %s (see the comment at the top of make_embeddings.c)\n", a);
      return 2;
    }
  }
  if (!out || n < 1 || n > 100000000 || threads < 1 || threads > 64 || ml_threads < 0) {
    fprintf(stderr, "usage: make_embeddings OUT.fvecs [--n 100000] [--threads 2] "
                    "[--ml-threads 1] [--seed 1]\n");
    return 2;
  }
  const uint16_t one = 1;
  if (*(const uint8_t *)&one != 1) {
    fprintf(stderr, "make_embeddings: writes little-endian .fvecs; this CPU is big-endian\n");
    return 1;
  }
  const char *shared = getenv("VISOR_SHARED_DIR");
  if (!shared) shared = VISOR_SHARED_DEFAULT;
  char grocery[1100], models[1100];
  snprintf(grocery, sizeof grocery, "%s/datasets/grocery", shared);
  snprintf(models, sizeof models, "%s/models", shared);
  list_sources(grocery);

  visor_error err = {0};
  if (visor_image_init(&err) != VISOR_OK) {
    fprintf(stderr, "make_embeddings: %s\n", err.message);
    return 1;
  }
  visor_ml_config config = {
      .url = "local", .models_dir = models, .intra_op_threads = (int)ml_threads};
  visor_ml *ml = visor_ml_local_open(&config, &err);
  if (!ml) {
    fprintf(stderr, "make_embeddings: ML: %s\n", err.message);
    return 1;
  }
  job.spec = visor_manifest_model(visor_ml_local_manifest(ml), VISOR_TASK_EMBEDDER);
  visor_ml_crop_session sessions[2];
  size_t session_count = visor_ml_local_crop_sessions(ml, sessions, 2);
  if (!job.spec || session_count == 0) {
    fprintf(stderr, "make_embeddings: the manifest has no embedder\n");
    return 1;
  }
  job.session = sessions[0].session; /* the embedder's session comes first */
  job.dim = visor_embedder_dim(job.session, job.spec);
  job.n = (size_t)n;
  job.seed = (uint64_t)seed;
  job.position = malloc(job.n * sizeof *job.position);
  if (!job.position) return 1;
  for (size_t i = 0; i < job.n; i++)
    job.position[i] = (uint32_t)i;
  uint64_t rng = (uint64_t)seed;
  for (size_t i = job.n - 1; i > 0; i--) { /* Fisher-Yates */
    size_t j = (size_t)(splitmix(&rng) % (i + 1));
    uint32_t t = job.position[i];
    job.position[i] = job.position[j];
    job.position[j] = t;
  }
  job.fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (job.fd < 0) {
    perror(out);
    return 1;
  }
  fprintf(stderr, "%zu photos, %zu vectors of %zu-d from %s@%s, %ld threads -> %s\n",
          job.source_count, job.n, job.dim, job.spec->name, job.spec->version, threads, out);
  job.start = now_s();
  pthread_t ids[64];
  for (long t = 0; t < threads; t++)
    pthread_create(&ids[t], NULL, worker, NULL);
  for (long t = 0; t < threads; t++)
    pthread_join(ids[t], NULL);
  if (fsync(job.fd) != 0 || close(job.fd) != 0) {
    perror(out);
    return 1;
  }
  double seconds = now_s() - job.start;
  fprintf(stderr, "wrote %zu x %zu-d to %s in %.0f s (%.0f vectors/s)\n", job.n, job.dim, out,
          seconds, job.n / seconds);
  free(job.position);
  free(job.sources);
  ml->ops->close(ml);
  return 0;
}
