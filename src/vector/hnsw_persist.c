/* hnsw_persist.c: the log and snapshot files of an HNSW collection.
 *
 * log:      header "VISORLOG" u32 version u32 dim, then records:
 *           u32 magic "VREC" | u32 body length | body | u32 CRC-32C of body
 *           body = u64 seq | u8 type | str id [| u32 dim | floats | str product | str category
 *                  | str model | u32 n | n x str label]     (str = u16 length + bytes)
 *           Replay stops at the first record that is short or fails its checksum, and the
 *           file is cut there: only a torn last append can cause that.
 * snapshot: "VISORSNP" u32 version u64 seq | graph section | meta section | u32 CRC-32C of
 *           everything before it. Written to snapshot.tmp, fsync'ed, renamed over snapshot. */
#define _GNU_SOURCE
#include "vector/hnsw_persist.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vector/hnsw_io.h"

#define LOG_MAGIC "VISORLOG"
#define LOG_VERSION 1u
#define LOG_HEADER_BYTES 16
#define RECORD_MAGIC 0x43455256u /* "VREC" */
#define RECORD_MAX_BODY (256u << 20)
#define SNAPSHOT_MAGIC "VISORSNP"
#define SNAPSHOT_VERSION 1u

struct hnsw_log {
  int fd;
  char *path;
  size_t dim;
  uint64_t size; /* file size, header included */
  char *buf;     /* encoding buffer */
  size_t buf_capacity;
};

int hnsw_fsync_dir(const char *dir) {
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

static int write_all(int fd, const void *data, size_t size) {
  const char *p = data;
  while (size) {
    ssize_t n = write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    size -= (size_t)n;
  }
  return 0;
}

/* ---- record encoding ---- */

typedef struct enc {
  char *p;
  size_t size, capacity;
  int failed;
} enc;

static void enc_put(enc *e, const void *data, size_t size) {
  if (e->failed || size == 0) return;
  if (e->size + size > e->capacity) {
    size_t cap = e->capacity ? e->capacity : 4096;
    while (cap < e->size + size)
      cap *= 2;
    char *p = realloc(e->p, cap);
    if (!p) {
      e->failed = 1;
      return;
    }
    e->p = p;
    e->capacity = cap;
  }
  memcpy(e->p + e->size, data, size);
  e->size += size;
}

static void enc_str(enc *e, const char *s) {
  size_t len = s ? strlen(s) : 0;
  if (len > UINT16_MAX) {
    e->failed = 1;
    return;
  }
  uint16_t len16 = (uint16_t)len;
  enc_put(e, &len16, 2);
  enc_put(e, s, len);
}

typedef struct dec {
  const unsigned char *p;
  size_t size, pos;
  int failed;
  char *arena; /* NUL-terminated copies of the strings */
  size_t arena_used;
} dec;

static void dec_get(dec *d, void *out, size_t size) {
  if (d->failed || d->size - d->pos < size) {
    d->failed = 1;
    memset(out, 0, size);
    return;
  }
  memcpy(out, d->p + d->pos, size);
  d->pos += size;
}

static const char *dec_str(dec *d) {
  uint16_t len;
  dec_get(d, &len, 2);
  if (d->failed || d->size - d->pos < len) {
    d->failed = 1;
    return "";
  }
  char *s = d->arena + d->arena_used;
  memcpy(s, d->p + d->pos, len);
  s[len] = '\0';
  d->arena_used += (size_t)len + 1;
  d->pos += len;
  return s;
}

/* Decodes one record body. Strings point into d->arena (at least 2x body size); labels is
 * malloc'd into *labels. 0, or -1 when the body is malformed. */
static int decode_body(dec *d, size_t dim, hnsw_record *r, const char ***labels, float **vector) {
  uint8_t type;
  dec_get(d, &r->seq, 8);
  dec_get(d, &type, 1);
  r->type = (hnsw_record_type)type;
  r->id = dec_str(d);
  r->vector = NULL;
  memset(&r->meta, 0, sizeof r->meta);
  if (d->failed) return -1;
  if (type == HNSW_RECORD_REMOVE) return d->pos == d->size ? 0 : -1;
  if (type != HNSW_RECORD_UPSERT) return -1;
  uint32_t rdim;
  dec_get(d, &rdim, 4);
  if (d->failed || rdim != dim || d->size - d->pos < (size_t)dim * 4) return -1;
  *vector = malloc(dim * sizeof(float));
  if (!*vector) return -1;
  dec_get(d, *vector, dim * sizeof(float));
  r->vector = *vector;
  r->meta.product_id = dec_str(d);
  r->meta.category = dec_str(d);
  r->meta.model = dec_str(d);
  uint32_t n;
  dec_get(d, &n, 4);
  if (d->failed || n > d->size - d->pos) return -1;
  *labels = malloc((n ? n : 1) * sizeof **labels);
  if (!*labels) return -1;
  for (uint32_t i = 0; i < n; i++)
    (*labels)[i] = dec_str(d);
  r->meta.labels = *labels;
  r->meta.label_count = n;
  return d->failed || d->pos != d->size ? -1 : 0;
}

/* ---- the log ---- */

static visor_code read_file(const char *path, int fd, unsigned char **data, size_t *size,
                            visor_error *err) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    return visor_error_set(err, VISOR_ERR_IO, "stat %s: %s", path, strerror(errno));
  *size = (size_t)st.st_size;
  *data = malloc(*size ? *size : 1);
  if (!*data) return visor_error_set(err, VISOR_ERR_NOMEM, "reading %s: out of memory", path);
  size_t got = 0;
  while (got < *size) {
    ssize_t n = pread(fd, *data + got, *size - got, (off_t)got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      free(*data);
      return visor_error_set(err, VISOR_ERR_IO, "read %s: %s", path,
                             n < 0 ? strerror(errno) : "short read");
    }
    got += (size_t)n;
  }
  return VISOR_OK;
}

static visor_code write_header(hnsw_log *log, visor_error *err) {
  unsigned char header[LOG_HEADER_BYTES];
  memcpy(header, LOG_MAGIC, 8);
  uint32_t version = LOG_VERSION, dim = (uint32_t)log->dim;
  memcpy(header + 8, &version, 4);
  memcpy(header + 12, &dim, 4);
  if (ftruncate(log->fd, 0) != 0 || pwrite(log->fd, header, sizeof header, 0) != sizeof header ||
      fdatasync(log->fd) != 0 || lseek(log->fd, LOG_HEADER_BYTES, SEEK_SET) < 0)
    return visor_error_set(err, VISOR_ERR_IO, "write %s: %s", log->path, strerror(errno));
  log->size = LOG_HEADER_BYTES;
  return VISOR_OK;
}

visor_code hnsw_log_open(const char *path, size_t dim, uint64_t after_seq, hnsw_replay_fn replay,
                         void *ctx, hnsw_log **out, uint64_t *last_seq, visor_error *err) {
  *out = NULL;
  *last_seq = after_seq;
  hnsw_log *log = calloc(1, sizeof *log);
  if (!log || !(log->path = strdup(path))) {
    free(log);
    return visor_error_set(err, VISOR_ERR_NOMEM, "opening %s: out of memory", path);
  }
  log->dim = dim;
  log->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (log->fd < 0) {
    visor_error_set(err, VISOR_ERR_IO, "open %s: %s", path, strerror(errno));
    hnsw_log_close(log);
    return err ? err->code : VISOR_ERR_IO;
  }
  unsigned char *data = NULL;
  size_t size = 0;
  visor_code rc = read_file(path, log->fd, &data, &size, err);
  if (rc != VISOR_OK) {
    hnsw_log_close(log);
    return rc;
  }
  if (size < LOG_HEADER_BYTES) {
    /* New, or torn while writing its header (nothing was acknowledged yet). */
    free(data);
    rc = write_header(log, err);
    if (rc != VISOR_OK) {
      hnsw_log_close(log);
      return rc;
    }
    *out = log;
    return VISOR_OK;
  }
  uint32_t version, file_dim;
  memcpy(&version, data + 8, 4);
  memcpy(&file_dim, data + 12, 4);
  if (memcmp(data, LOG_MAGIC, 8) != 0 || version != LOG_VERSION || file_dim != dim) {
    free(data);
    hnsw_log_close(log);
    return visor_error_set(err, VISOR_ERR_IO,
                           "%s is not a vector log of dimension %zu (bad header)", path, dim);
  }
  size_t pos = LOG_HEADER_BYTES;
  char *arena = NULL;
  size_t arena_capacity = 0;
  while (size - pos >= 12) {
    uint32_t magic, len, crc;
    memcpy(&magic, data + pos, 4);
    memcpy(&len, data + pos + 4, 4);
    if (magic != RECORD_MAGIC || len > RECORD_MAX_BODY || size - pos - 8 < (size_t)len + 4) break;
    const unsigned char *body = data + pos + 8;
    memcpy(&crc, body + len, 4);
    if (hnsw_crc32c(0, body, len) != crc) break;
    if (arena_capacity < 2 * (size_t)len + 16) {
      free(arena);
      arena_capacity = 2 * (size_t)len + 16;
      arena = malloc(arena_capacity);
      if (!arena) {
        rc = visor_error_set(err, VISOR_ERR_NOMEM, "replaying %s: out of memory", path);
        break;
      }
    }
    dec d = {body, len, 0, 0, arena, 0};
    hnsw_record r;
    const char **labels = NULL;
    float *vector = NULL;
    int bad = decode_body(&d, dim, &r, &labels, &vector);
    if (bad) {
      free(labels);
      free(vector);
      break; /* checksummed but malformed: treat as the end */
    }
    if (r.seq > after_seq && replay(ctx, &r) != 0)
      rc = visor_error_set(err, VISOR_ERR_NOMEM, "replaying %s: applying record %llu failed", path,
                           (unsigned long long)r.seq);
    if (r.seq > *last_seq) *last_seq = r.seq;
    free(labels);
    free(vector);
    if (rc != VISOR_OK) break;
    pos += 8 + (size_t)len + 4;
  }
  free(arena);
  free(data);
  if (rc != VISOR_OK) {
    hnsw_log_close(log);
    return rc;
  }
  if (pos != size) {
    /* Cut off the torn tail so new records follow the last good one. */
    if (ftruncate(log->fd, (off_t)pos) != 0 || fdatasync(log->fd) != 0) {
      visor_error_set(err, VISOR_ERR_IO, "truncate %s: %s", path, strerror(errno));
      hnsw_log_close(log);
      return VISOR_ERR_IO;
    }
  }
  if (lseek(log->fd, (off_t)pos, SEEK_SET) < 0) {
    visor_error_set(err, VISOR_ERR_IO, "seek %s: %s", path, strerror(errno));
    hnsw_log_close(log);
    return VISOR_ERR_IO;
  }
  log->size = pos;
  *out = log;
  return VISOR_OK;
}

/* Encodes r at the end of e (framed: magic, length, body, crc32c). */
static void encode_record(const hnsw_log *log, enc *e, const hnsw_record *r) {
  size_t start = e->size;
  uint32_t magic = RECORD_MAGIC, len = 0;
  enc_put(e, &magic, 4);
  enc_put(e, &len, 4);
  uint8_t type = (uint8_t)r->type;
  enc_put(e, &r->seq, 8);
  enc_put(e, &type, 1);
  enc_str(e, r->id);
  if (r->type == HNSW_RECORD_UPSERT) {
    uint32_t dim = (uint32_t)log->dim;
    enc_put(e, &dim, 4);
    enc_put(e, r->vector, log->dim * sizeof(float));
    enc_str(e, r->meta.product_id);
    enc_str(e, r->meta.category);
    enc_str(e, r->meta.model);
    /* A price travels as one more, reserved label (hnsw_meta.h): the format stays as it was. */
    char price[HNSW_META_PRICE_LABEL_MAX];
    int has_price = hnsw_meta_price_label(&r->meta, price, sizeof price);
    uint32_t n = (uint32_t)r->meta.label_count;
    uint32_t written = n + (has_price ? 1 : 0);
    enc_put(e, &written, 4);
    for (uint32_t i = 0; i < n; i++)
      enc_str(e, r->meta.labels[i]);
    if (has_price) enc_str(e, price);
  }
  uint32_t crc = e->failed ? 0 : hnsw_crc32c(0, e->p + start + 8, e->size - start - 8);
  enc_put(e, &crc, 4);
  if (e->failed) return;
  len = (uint32_t)(e->size - start - 12);
  memcpy(e->p + start + 4, &len, 4);
}

visor_code hnsw_log_append_batch(hnsw_log *log, const hnsw_record *records, size_t n,
                                 visor_error *err) {
  enc e = {log->buf, 0, log->buf_capacity, 0};
  for (size_t i = 0; i < n && !e.failed; i++)
    encode_record(log, &e, &records[i]);
  log->buf = e.p;
  log->buf_capacity = e.capacity;
  if (e.failed) return visor_error_set(err, VISOR_ERR_NOMEM, "encoding log record: out of memory");
  if (write_all(log->fd, e.p, e.size) != 0 || fdatasync(log->fd) != 0) {
    int saved = errno;
    /* Drop whatever part reached the file: the caller is told the write failed. */
    if (ftruncate(log->fd, (off_t)log->size) == 0) (void)lseek(log->fd, (off_t)log->size, SEEK_SET);
    return visor_error_set(err, VISOR_ERR_IO, "append to %s: %s", log->path, strerror(saved));
  }
  log->size += e.size;
  return VISOR_OK;
}

visor_code hnsw_log_append(hnsw_log *log, const hnsw_record *r, visor_error *err) {
  return hnsw_log_append_batch(log, r, 1, err);
}

uint64_t hnsw_log_size(const hnsw_log *log) {
  return log->size - LOG_HEADER_BYTES;
}

visor_code hnsw_log_reset(hnsw_log *log, visor_error *err) {
  if (ftruncate(log->fd, LOG_HEADER_BYTES) != 0 || fdatasync(log->fd) != 0 ||
      lseek(log->fd, LOG_HEADER_BYTES, SEEK_SET) < 0)
    return visor_error_set(err, VISOR_ERR_IO, "truncate %s: %s", log->path, strerror(errno));
  log->size = LOG_HEADER_BYTES;
  return VISOR_OK;
}

void hnsw_log_close(hnsw_log *log) {
  if (!log) return;
  if (log->fd >= 0) close(log->fd);
  free(log->path);
  free(log->buf);
  free(log);
}

/* ---- snapshots ---- */

visor_code hnsw_snapshot_save(const char *dir, const hnsw_graph *graph, const hnsw_meta *meta,
                              uint64_t seq, visor_error *err) {
  return hnsw_snapshot_save_at(dir, graph, meta, seq, NULL, err);
}

visor_code hnsw_snapshot_save_at(const char *dir, const hnsw_graph *graph, const hnsw_meta *meta,
                                 uint64_t seq, uint64_t *data_offset, visor_error *err) {
  char tmp[PATH_MAX], final[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s/snapshot.tmp", dir) >= (int)sizeof tmp ||
      snprintf(final, sizeof final, "%s/snapshot", dir) >= (int)sizeof final)
    return visor_error_set(err, VISOR_ERR_INVALID, "path %s is too long", dir);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
  if (!f) {
    int saved = errno;
    if (fd >= 0) close(fd);
    return visor_error_set(err, VISOR_ERR_IO, "create %s: %s", tmp, strerror(saved));
  }
  setvbuf(f, NULL, _IOFBF, 1 << 20);
  hnsw_writer w = {f, 0, 0};
  hnsw_write(&w, SNAPSHOT_MAGIC, 8);
  hnsw_write_u32(&w, SNAPSHOT_VERSION);
  hnsw_write_u64(&w, seq);
  hnsw_graph_write_at(graph, &w, data_offset);
  hnsw_meta_write(meta, &w);
  uint32_t crc = w.crc;
  hnsw_write_u32(&w, crc);
  int failed = w.failed || fflush(f) != 0 || fsync(fileno(f)) != 0;
  int saved = errno;
  if (fclose(f) != 0 && !failed) {
    failed = 1;
    saved = errno;
  }
  if (failed || rename(tmp, final) != 0 || hnsw_fsync_dir(dir) != 0) {
    if (!failed) saved = errno;
    unlink(tmp);
    return visor_error_set(err, VISOR_ERR_IO, "write snapshot %s: %s", final, strerror(saved));
  }
  return VISOR_OK;
}

visor_code hnsw_snapshot_load(const char *dir, hnsw_graph **graph, hnsw_meta **meta, uint64_t *seq,
                              visor_error *err) {
  return hnsw_snapshot_load_with(dir, NULL, graph, meta, seq, err);
}

visor_code hnsw_snapshot_load_with(const char *dir, const hnsw_quant_options *quant,
                                   hnsw_graph **graph, hnsw_meta **meta, uint64_t *seq,
                                   visor_error *err) {
  *graph = NULL;
  *meta = NULL;
  char path[PATH_MAX];
  if (snprintf(path, sizeof path, "%s/snapshot", dir) >= (int)sizeof path)
    return visor_error_set(err, VISOR_ERR_INVALID, "path %s is too long", dir);
  FILE *f = fopen(path, "rbe");
  if (!f) {
    if (errno == ENOENT) return visor_error_set(err, VISOR_ERR_NOT_FOUND, "no %s", path);
    return visor_error_set(err, VISOR_ERR_IO, "open %s: %s", path, strerror(errno));
  }
  setvbuf(f, NULL, _IOFBF, 1 << 20);
  hnsw_reader r = {f, 0, 0};
  char magic[8];
  hnsw_read(&r, magic, 8);
  uint32_t version = hnsw_read_u32(&r);
  *seq = hnsw_read_u64(&r);
  if (r.failed || memcmp(magic, SNAPSHOT_MAGIC, 8) != 0 || version != SNAPSHOT_VERSION) {
    fclose(f);
    return visor_error_set(err, VISOR_ERR_IO, "%s is not a Visor HNSW snapshot (version %u)", path,
                           SNAPSHOT_VERSION);
  }
  hnsw_graph *g = hnsw_graph_read_with(&r, quant, fileno(f));
  hnsw_meta *m = g ? hnsw_meta_read(&r) : NULL;
  uint32_t expected = r.crc;
  uint32_t crc = hnsw_read_u32(&r);
  int trailing = fgetc(f) != EOF;
  fclose(f);
  if (!g || !m || r.failed || crc != expected || trailing ||
      hnsw_meta_count(m) != hnsw_graph_count(g)) {
    hnsw_graph_free(g);
    hnsw_meta_free(m);
    return visor_error_set(err, VISOR_ERR_IO, "snapshot %s is corrupt (checksum or structure)",
                           path);
  }
  *graph = g;
  *meta = m;
  return VISOR_OK;
}
