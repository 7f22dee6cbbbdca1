/* hnsw_io.c: CRC-32C (SSE4.2 instruction when the CPU has it, table otherwise) and the
 * checksumming buffered reader/writer used by snapshots and the log. */
#include "vector/hnsw_io.h"

#include <sys/stat.h>

#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define VISOR_HAVE_CRC_INSN 1
#endif

static uint32_t crc_table[256];
static atomic_int crc_state; /* 0 = not ready, 1 = table, 2 = instruction */

static void crc_init(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    crc_table[i] = c;
  }
  int state = 1;
#ifdef VISOR_HAVE_CRC_INSN
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse4.2")) state = 2;
#endif
  atomic_store(&crc_state, state);
}

#ifdef VISOR_HAVE_CRC_INSN
__attribute__((target("sse4.2"))) static uint32_t crc_insn(uint32_t crc, const unsigned char *p,
                                                           size_t n) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = (uint32_t)c;
  while (n--)
    c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}
#endif

uint32_t hnsw_crc32c(uint32_t crc, const void *data, size_t size) {
  int state = atomic_load(&crc_state);
  if (state == 0) {
    crc_init(); /* idempotent: racing threads compute the same table */
    state = atomic_load(&crc_state);
  }
  const unsigned char *p = data;
  crc = ~crc;
#ifdef VISOR_HAVE_CRC_INSN
  if (state == 2) return ~crc_insn(crc, p, size);
#endif
  while (size--)
    crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

void hnsw_write(hnsw_writer *w, const void *data, size_t size) {
  if (w->failed || size == 0) return;
  if (fwrite(data, 1, size, w->file) != size) {
    w->failed = 1;
    return;
  }
  w->crc = hnsw_crc32c(w->crc, data, size);
}

void hnsw_write_u32(hnsw_writer *w, uint32_t v) {
  hnsw_write(w, &v, sizeof v);
}

void hnsw_write_u64(hnsw_writer *w, uint64_t v) {
  hnsw_write(w, &v, sizeof v);
}

void hnsw_write_str(hnsw_writer *w, const char *s) {
  size_t len = s ? strlen(s) : 0;
  if (len > UINT16_MAX) {
    w->failed = 1;
    return;
  }
  uint16_t len16 = (uint16_t)len;
  hnsw_write(w, &len16, sizeof len16);
  hnsw_write(w, s, len);
}

void hnsw_read(hnsw_reader *r, void *data, size_t size) {
  if (r->failed) {
    memset(data, 0, size);
    return;
  }
  if (size == 0) return;
  if (fread(data, 1, size, r->file) != size) {
    r->failed = 1;
    memset(data, 0, size);
    return;
  }
  r->crc = hnsw_crc32c(r->crc, data, size);
}

uint32_t hnsw_read_u32(hnsw_reader *r) {
  uint32_t v;
  hnsw_read(r, &v, sizeof v);
  return v;
}

uint64_t hnsw_read_u64(hnsw_reader *r) {
  uint64_t v;
  hnsw_read(r, &v, sizeof v);
  return v;
}

int hnsw_read_fits(hnsw_reader *r, uint64_t bytes) {
  struct stat st;
  long pos = r->failed ? -1 : ftell(r->file);
  if (pos < 0 || fstat(fileno(r->file), &st) != 0 || st.st_size < pos) return 0;
  return bytes <= (uint64_t)st.st_size - (uint64_t)pos;
}

size_t hnsw_read_str(hnsw_reader *r, char *buf, size_t cap) {
  uint16_t len;
  hnsw_read(r, &len, sizeof len);
  if (r->failed || (size_t)len + 1 > cap) {
    r->failed = 1;
    if (cap) buf[0] = '\0';
    return 0;
  }
  hnsw_read(r, buf, len);
  buf[len] = '\0';
  return len;
}
