/* blob.h: the object store interface: bytes under keys like "images/<id>/original".
 * Backends: file:// (blob_file.c: atomic temp file + fsync + rename) and s3:// (blob_s3.c:
 * any S3 with SigV4; single PUT or multipart upload). Keys are validated the same way by
 * every backend (visor_blob_key_valid). */
#ifndef VISOR_BLOB_BLOB_H
#define VISOR_BLOB_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

#define VISOR_BLOB_KEY_MAX 512
#define VISOR_BLOB_SEGMENT_MAX 255 /* a file name's limit on Linux */

typedef struct visor_blob_store visor_blob_store;
typedef struct visor_blob_writer visor_blob_writer;
typedef struct visor_blob_reader visor_blob_reader;

/* Called by list for each object with its size and when it was last written (Unix ms: the
 * file's mtime, S3's LastModified; 0 when unknown): return 0 to go on, non-zero to stop. */
typedef int (*visor_blob_list_fn)(void *ctx, const char *key, uint64_t size, int64_t modified_ms);

/* How durable a committed object is. SYNCED: on stable storage when commit returns.
 * UNSYNCED: atomic for readers and kept through a process crash, but a power failure may
 * lose it (file:// skips its fsyncs; S3 stores the same either way) - for objects whose loss
 * fails one request, like a search's query photo, never for catalogue data. */
typedef enum visor_blob_durability { VISOR_BLOB_SYNCED, VISOR_BLOB_UNSYNCED } visor_blob_durability;

typedef struct visor_blob_ops {
  /* Streaming write: nothing is visible under key until commit succeeds; abort (or a
   * failed commit) leaves nothing behind. commit and abort free the writer. */
  visor_blob_writer *(*open_writer)(visor_blob_store *store, const char *key,
                                    visor_blob_durability durability, visor_error *err);
  visor_code (*write)(visor_blob_writer *writer, const void *data, size_t len, visor_error *err);
  visor_code (*commit)(visor_blob_writer *writer, visor_error *err);
  void (*abort)(visor_blob_writer *writer);
  /* Streaming read by offset. */
  visor_blob_reader *(*open_reader)(visor_blob_store *store, const char *key, uint64_t *size,
                                    visor_error *err);
  long (*read_at)(visor_blob_reader *reader, uint64_t offset, void *buf, size_t max);
  void (*close_reader)(visor_blob_reader *reader);
  visor_code (*remove)(visor_blob_store *store, const char *key,
                       visor_error *err); /* missing is OK */
  visor_code (*exists)(visor_blob_store *store, const char *key, int *exists, visor_error *err);
  /* Every object whose key starts with prefix ("" = all; "images/" = under images/), in no
   * particular order; for cleanup and orphan checks. Keys that are not valid are skipped. */
  visor_code (*list)(visor_blob_store *store, const char *prefix, visor_blob_list_fn fn, void *ctx,
                     visor_error *err);
  /* Removes what interrupted writes left behind before older_than_ms (Unix ms): the file
   * store's temp files, S3's incomplete multipart uploads; *removed counts them. */
  visor_code (*sweep_temp)(visor_blob_store *store, int64_t older_than_ms, size_t *removed,
                           visor_error *err);
  void (*close)(visor_blob_store *store);
} visor_blob_ops;

struct visor_blob_store {
  const visor_blob_ops *ops;
};

/* "file:///abs/dir" or "file://relative/dir", or
 * "s3://BUCKET?endpoint=http://host:port&region=us-east-1&path_style=1" (docs/CONFIGURATION.md). */
visor_blob_store *visor_blob_open(const char *url, visor_error *err);
void visor_blob_close(visor_blob_store *store);
/* Whether this build has a backend for url; fills err with the accepted forms if not. */
int visor_blob_url_supported(const char *url, visor_error *err);

/* 1-512 characters of [A-Za-z0-9._-/], no empty, "." or ".." segment, no segment over 255
 * characters, no leading '/'. */
int visor_blob_key_valid(const char *key);
/* A list prefix: "", a valid key, or a valid key followed by one '/'. */
int visor_blob_prefix_valid(const char *prefix);

/* Whole-object helpers over the ops. get returns a malloc'd buffer (caller frees);
 * max_len bounds what it will read (0 = no bound; larger → VISOR_ERR_TOO_LARGE). */
visor_code visor_blob_put(visor_blob_store *store, const char *key, const void *data, size_t len,
                          visor_error *err);
visor_code visor_blob_get(visor_blob_store *store, const char *key, size_t max_len, void **data,
                          size_t *len, visor_error *err);
visor_code visor_blob_remove(visor_blob_store *store, const char *key, visor_error *err);
visor_code visor_blob_list(visor_blob_store *store, const char *prefix, visor_blob_list_fn fn,
                           void *ctx, visor_error *err);
visor_code visor_blob_sweep_temp(visor_blob_store *store, int64_t older_than_ms, size_t *removed,
                                 visor_error *err);

#endif
