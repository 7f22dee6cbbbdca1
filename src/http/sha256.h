/* sha256.h: a small streaming SHA-256 (FIPS 180-4), used to fingerprint uploaded parts as
 * they stream through the server. */
#ifndef VISOR_HTTP_SHA256_H
#define VISOR_HTTP_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct visor_sha256 {
  uint32_t state[8];
  uint64_t length; /* bytes hashed so far */
  unsigned char block[64];
  size_t used; /* bytes waiting in block */
} visor_sha256;

void visor_sha256_init(visor_sha256 *ctx);
void visor_sha256_update(visor_sha256 *ctx, const void *data, size_t len);
/* Writes the digest as 64 lowercase hex characters and a NUL. */
void visor_sha256_final_hex(visor_sha256 *ctx, char hex[65]);

#endif
