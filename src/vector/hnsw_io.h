/* hnsw_io.h: checksummed binary reading and writing shared by the snapshot and the log:
 * CRC-32C, and a buffered writer/reader that checksum everything they pass through. Values
 * are stored in host byte order (the files are not meant to move between architectures). */
#ifndef VISOR_VECTOR_HNSW_IO_H
#define VISOR_VECTOR_HNSW_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

uint32_t hnsw_crc32c(uint32_t crc, const void *data, size_t size);

typedef struct hnsw_writer {
  FILE *file;
  uint32_t crc;
  int failed; /* sticky: set by the first failed write */
} hnsw_writer;

void hnsw_write(hnsw_writer *w, const void *data, size_t size);
void hnsw_write_u32(hnsw_writer *w, uint32_t v);
void hnsw_write_u64(hnsw_writer *w, uint64_t v);
/* A string as u16 length + bytes; NULL is written as the empty string. */
void hnsw_write_str(hnsw_writer *w, const char *s);

typedef struct hnsw_reader {
  FILE *file;
  uint32_t crc;
  int failed; /* sticky: short read or bad value */
} hnsw_reader;

void hnsw_read(hnsw_reader *r, void *data, size_t size);
uint32_t hnsw_read_u32(hnsw_reader *r);
uint64_t hnsw_read_u64(hnsw_reader *r);
/* 1 when the file still holds at least bytes unread bytes: a count read from a file must
 * pass this before it sizes an allocation, so a small corrupt file cannot ask for gigabytes. */
int hnsw_read_fits(hnsw_reader *r, uint64_t bytes);
/* Reads a string written by hnsw_write_str into buf (capacity cap, NUL-terminated). A string
 * longer than cap - 1 marks the reader failed. Returns the length. */
size_t hnsw_read_str(hnsw_reader *r, char *buf, size_t cap);

#endif
