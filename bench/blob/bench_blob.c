/* bench_blob.c: upload and read throughput of an s3:// object store against a file://
 * one, for 100 KB and 5 MB objects, one thread, one run: N objects are written through the
 * streaming writer (64 KiB writes, as an upload arrives), then read back whole
 * (visor_blob_get), then removed. Prints a table with the ratio s3 / file.
 *
 *   bench_blob --s3 URL [--file DIR] [--small N] [--large N]
 *
 * URL defaults to the first s3:// URL in VISOR_TEST_BLOB_URLS; the keys come from
 * VISOR_S3_ACCESS_KEY / VISOR_S3_SECRET_KEY. Defaults: 200 small and 20 large objects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blob/blob.h"

typedef struct result {
  double upload_s;
  double read_s;
} result;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run(visor_blob_store *store, size_t size, int count, const char *tag, result *out) {
  visor_error err = {0};
  unsigned char *data = malloc(size);
  if (!data) return -1;
  for (size_t i = 0; i < size; i++)
    data[i] = (unsigned char)(i * 131 + 7);
  char key[128];
  double started = now_s();
  for (int i = 0; i < count; i++) {
    snprintf(key, sizeof key, "bench-%ld/%s/%d", (long)getpid(), tag, i);
    visor_blob_writer *writer = store->ops->open_writer(store, key, VISOR_BLOB_SYNCED, &err);
    visor_code code = writer ? VISOR_OK : err.code;
    for (size_t done = 0; code == VISOR_OK && done < size; done += 65536)
      code =
          store->ops->write(writer, data + done, size - done < 65536 ? size - done : 65536, &err);
    if (code == VISOR_OK)
      code = store->ops->commit(writer, &err);
    else if (writer)
      store->ops->abort(writer);
    if (code != VISOR_OK) {
      fprintf(stderr, "bench_blob: upload %s: %s\n", key, err.message);
      free(data);
      return -1;
    }
  }
  out->upload_s = now_s() - started;
  started = now_s();
  for (int i = 0; i < count; i++) {
    snprintf(key, sizeof key, "bench-%ld/%s/%d", (long)getpid(), tag, i);
    void *got = NULL;
    size_t len = 0;
    if (visor_blob_get(store, key, 0, &got, &len, &err) != VISOR_OK || len != size ||
        memcmp(got, data, size) != 0) {
      fprintf(stderr, "bench_blob: read %s: %s\n", key, err.message);
      free(got);
      free(data);
      return -1;
    }
    free(got);
  }
  out->read_s = now_s() - started;
  for (int i = 0; i < count; i++) {
    snprintf(key, sizeof key, "bench-%ld/%s/%d", (long)getpid(), tag, i);
    visor_blob_remove(store, key, &err);
  }
  free(data);
  return 0;
}

int main(int argc, char **argv) {
  const char *s3_url = NULL;
  char file_url[600];
  char temp[] = "/tmp/visor-bench-blob-XXXXXX";
  const char *file_dir = NULL;
  int small = 200, large = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--s3") == 0)
      s3_url = argv[i + 1];
    else if (strcmp(argv[i], "--file") == 0)
      file_dir = argv[i + 1];
    else if (strcmp(argv[i], "--small") == 0)
      small = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--large") == 0)
      large = atoi(argv[i + 1]);
  }
  static char from_env[1024];
  const char *urls = getenv("VISOR_TEST_BLOB_URLS");
  if (!s3_url && urls && strstr(urls, "s3://")) {
    const char *found = strstr(urls, "s3://");
    snprintf(from_env, sizeof from_env, "%.*s", (int)strcspn(found, " "), found);
    s3_url = from_env;
  }
  if (!s3_url || small < 1 || large < 1) {
    fprintf(stderr, "usage: bench_blob --s3 URL [--file DIR] [--small N] [--large N]\n");
    return 2;
  }
  if (!file_dir && !(file_dir = mkdtemp(temp))) return 1;
  snprintf(file_url, sizeof file_url, "file://%s", file_dir);
  const char *urls_of[2] = {file_url, s3_url};
  struct {
    const char *name;
    size_t size;
    int count;
  } sizes[2] = {{"100 KB", 100 * 1000, small}, {"5 MB", 5 * 1000 * 1000, large}};
  result results[2][2];
  for (int b = 0; b < 2; b++) {
    visor_error err = {0};
    visor_blob_store *store = visor_blob_open(urls_of[b], &err);
    if (!store) {
      fprintf(stderr, "bench_blob: cannot open %s: %s\n", urls_of[b], err.message);
      return 1;
    }
    for (int s = 0; s < 2; s++)
      if (run(store, sizes[s].size, sizes[s].count, s ? "large" : "small", &results[b][s]) != 0)
        return 1;
    visor_blob_close(store);
  }
  printf("object store throughput, one thread (file: %s; s3: %s)\n\n", file_url, s3_url);
  printf("| object | count | op | file:// MB/s | s3:// MB/s | s3 ms/object | s3 / file |\n");
  printf("|---|---:|---|---:|---:|---:|---:|\n");
  for (int s = 0; s < 2; s++)
    for (int op = 0; op < 2; op++) {
      double mb = sizes[s].size * (double)sizes[s].count / 1e6;
      double file_s = op ? results[0][s].read_s : results[0][s].upload_s;
      double s3_s = op ? results[1][s].read_s : results[1][s].upload_s;
      printf("| %s | %d | %s | %.0f | %.1f | %.1f | %.3f |\n", sizes[s].name, sizes[s].count,
             op ? "read" : "upload", mb / file_s, mb / s3_s, s3_s * 1e3 / sizes[s].count,
             file_s / s3_s);
    }
  return 0;
}
