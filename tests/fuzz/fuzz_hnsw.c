/* fuzz_hnsw.c: libFuzzer harness for the HNSW collection files (src/vector/hnsw_persist.c,
 * hnsw_io.c, and the graph and metadata readers behind them): the fuzzed bytes are written
 * as a log (dimension 4) or as a snapshot in a temporary folder and opened the way a
 * collection opens them. A corrupt or truncated log must open cut back to its last good
 * record (the file shrinks to exactly that, and a record appended afterwards replays);
 * a corrupt snapshot must be refused. Never a crash, a leak or an allocation the file's
 * size does not justify.
 *
 * Byte 0 picks the mode: bit 0 = snapshot (else log); bit 1 = recompute the checksums
 * first (each log record's CRC-32C, or the snapshot's trailing one), so that the fuzzer
 * reaches the decoders behind them; bit 2 = open a snapshot as an int8 index (codes fitted
 * from the first vector on), bit 3 = with its vectors mapped from the file. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vector/hnsw_io.h"
#include "vector/hnsw_persist.h"

#define DIM 4
#define LOG_HEADER_BYTES 16
#define RECORD_MAGIC 0x43455256u /* "VREC" */

static char dir[64], log_path[96], snapshot_path[96];

static void make_dir(void) {
  const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(dir, sizeof dir, "%s/visor-fuzz-hnsw-XXXXXX", base);
  if (!mkdtemp(dir)) abort();
  snprintf(log_path, sizeof log_path, "%s/log", dir);
  snprintf(snapshot_path, sizeof snapshot_path, "%s/snapshot", dir);
}

static void write_file(const char *path, const uint8_t *data, size_t size) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size)) abort();
  close(fd);
}

static void fix_log_crcs(uint8_t *data, size_t size) {
  size_t pos = LOG_HEADER_BYTES;
  while (size >= pos && size - pos >= 12) {
    uint32_t magic, len;
    memcpy(&magic, data + pos, 4);
    memcpy(&len, data + pos + 4, 4);
    if (magic != RECORD_MAGIC || size - pos - 8 < (size_t)len + 4) break;
    uint32_t crc = hnsw_crc32c(0, data + pos + 8, len);
    memcpy(data + pos + 8 + len, &crc, 4);
    pos += 8 + (size_t)len + 4;
  }
}

static volatile float vector_sum;

typedef struct replay_state {
  uint64_t records;
} replay_state;

static int on_record(void *ctx, const hnsw_record *r) {
  replay_state *state = ctx;
  if (!r->id) abort();
  if (r->type == HNSW_RECORD_UPSERT) {
    if (!r->vector || !r->meta.product_id || !r->meta.category || !r->meta.model) abort();
    for (int i = 0; i < DIM; i++)
      vector_sum += r->vector[i]; /* ASan checks the vector is readable */
    for (size_t i = 0; i < r->meta.label_count; i++)
      if (!r->meta.labels[i]) abort();
  } else if (r->type != HNSW_RECORD_REMOVE) {
    abort();
  }
  state->records++;
  return 0;
}

static void fuzz_log(void) {
  replay_state state = {0};
  hnsw_log *log = NULL;
  uint64_t last_seq = 0;
  visor_error err = {0};
  if (hnsw_log_open(log_path, DIM, 0, on_record, &state, &log, &last_seq, &err) != VISOR_OK) {
    if (log || err.message[0] == '\0') abort();
    return;
  }
  /* What is left is the header and the good records, nothing else. */
  struct stat st;
  if (stat(log_path, &st) != 0 || (uint64_t)st.st_size != hnsw_log_size(log) + LOG_HEADER_BYTES)
    abort();
  if (last_seq == UINT64_MAX) { /* no seq left to append with */
    hnsw_log_close(log);
    return;
  }
  float vector[DIM] = {1, 0, 0, 0};
  const char *labels[] = {"colour=red"};
  hnsw_record record = {HNSW_RECORD_UPSERT,
                        last_seq + 1,
                        "fuzz-appended",
                        vector,
                        {.product_id = "product",
                         .category = "shoes",
                         .labels = labels,
                         .label_count = 1,
                         .model = "model@1"}};
  if (hnsw_log_append(log, &record, &err) != VISOR_OK) abort();
  hnsw_log_close(log);
  /* Reopened, it replays the same records plus the appended one. */
  replay_state again = {0};
  uint64_t seq = 0;
  if (hnsw_log_open(log_path, DIM, 0, on_record, &again, &log, &seq, &err) != VISOR_OK) abort();
  if (again.records != state.records + 1 || seq < last_seq + 1) abort();
  hnsw_log_close(log);
}

/* quant: NULL for the float index, or an int8 open (its own read path: narrow level-0
 * lists, vectors copied or mapped). */
static void fuzz_snapshot(const hnsw_quant_options *quant) {
  hnsw_graph *graph = NULL;
  hnsw_meta *meta = NULL;
  uint64_t seq = 0;
  visor_error err = {0};
  if (hnsw_snapshot_load_with(dir, quant, &graph, &meta, &seq, &err) != VISOR_OK) {
    if (graph || meta || err.message[0] == '\0') abort();
    return;
  }
  if (hnsw_graph_count(graph) != hnsw_meta_count(meta)) abort();
  /* A loaded graph must be searchable. */
  size_t dim = hnsw_graph_dim(graph);
  float *query = calloc(dim, sizeof *query);
  hnsw_result results[4];
  if (query && dim) {
    query[0] = 1;
    (void)hnsw_graph_search(graph, query, 4, 16, NULL, results);
  }
  free(query);
  hnsw_graph_free(graph);
  hnsw_meta_free(meta);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!dir[0]) make_dir();
  if (size < 1) return 0;
  int snapshot = data[0] & 1, fix_crc = data[0] & 2;
  hnsw_quant_options int8 = {1, data[0] & 8 ? 1 : 0, 1};
  uint8_t *file = malloc(size);
  size_t file_size = size - 1;
  memcpy(file, data + 1, file_size);
  if (snapshot) {
    if (fix_crc && file_size >= 4) {
      uint32_t crc = hnsw_crc32c(0, file, file_size - 4);
      memcpy(file + file_size - 4, &crc, 4);
    }
    write_file(snapshot_path, file, file_size);
    fuzz_snapshot(data[0] & 4 ? &int8 : NULL);
  } else {
    if (fix_crc) fix_log_crcs(file, file_size);
    write_file(log_path, file, file_size);
    fuzz_log();
  }
  free(file);
  return 0;
}
