/* hnsw_persist.h: durability of an HNSW collection: an append-only log of upserts and
 * removes (each record checksummed and fdatasync'ed before the caller is told OK) and a
 * snapshot of the whole index (graph + metadata), after which the log is emptied. */
#ifndef VISOR_VECTOR_HNSW_PERSIST_H
#define VISOR_VECTOR_HNSW_PERSIST_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "vector/hnsw_graph.h"
#include "vector/hnsw_meta.h"
#include "vector/vector.h"

typedef enum hnsw_record_type {
  HNSW_RECORD_UPSERT = 1,
  HNSW_RECORD_REMOVE = 2,
} hnsw_record_type;

typedef struct hnsw_record {
  hnsw_record_type type;
  uint64_t seq; /* strictly increasing over the life of the collection */
  const char *id;
  const float *vector; /* upsert only: dim floats */
  visor_vector_meta meta;
} hnsw_record;

typedef struct hnsw_log hnsw_log;

/* Returns 0 to go on, non-zero to stop the replay with an error. */
typedef int (*hnsw_replay_fn)(void *ctx, const hnsw_record *record);

/* Opens (creating) the log at path for vectors of dim, replays each valid record with
 * seq > after_seq, and cuts off a torn or corrupt tail (a crash mid-append). *last_seq is
 * the highest seq seen (or after_seq). */
visor_code hnsw_log_open(const char *path, size_t dim, uint64_t after_seq, hnsw_replay_fn replay,
                         void *ctx, hnsw_log **out, uint64_t *last_seq, visor_error *err);
/* Appends record and waits until it is on disk (fdatasync). */
visor_code hnsw_log_append(hnsw_log *log, const hnsw_record *record, visor_error *err);
/* Appends n records with one write and one fdatasync (a crash may keep a prefix of them). */
visor_code hnsw_log_append_batch(hnsw_log *log, const hnsw_record *records, size_t n,
                                 visor_error *err);
/* Bytes of records in the log. */
uint64_t hnsw_log_size(const hnsw_log *log);
/* Empties the log (after a snapshot holds everything in it). */
visor_code hnsw_log_reset(hnsw_log *log, visor_error *err);
void hnsw_log_close(hnsw_log *log);

/* Writes dir/snapshot atomically (temporary file, fsync, rename, fsync of dir). */
visor_code hnsw_snapshot_save(const char *dir, const hnsw_graph *graph, const hnsw_meta *meta,
                              uint64_t seq, visor_error *err);
/* Loads dir/snapshot. VISOR_ERR_NOT_FOUND when there is none. */
visor_code hnsw_snapshot_load(const char *dir, hnsw_graph **graph, hnsw_meta **meta, uint64_t *seq,
                              visor_error *err);
/* The same with a quantized graph (quant may be NULL), and save reporting where the graph's
 * level-0 block starts in the file (for hnsw_graph_map_snapshot). */
visor_code hnsw_snapshot_load_with(const char *dir, const hnsw_quant_options *quant,
                                   hnsw_graph **graph, hnsw_meta **meta, uint64_t *seq,
                                   visor_error *err);
visor_code hnsw_snapshot_save_at(const char *dir, const hnsw_graph *graph, const hnsw_meta *meta,
                                 uint64_t seq, uint64_t *data_offset, visor_error *err);

/* fsync of a directory (after creating or renaming an entry in it). */
int hnsw_fsync_dir(const char *dir);

#endif
