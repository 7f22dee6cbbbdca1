/* uuid.c: UUIDv7 generation (48-bit Unix ms, then a per-process counter seeded randomly
 * so ids are strictly increasing within a process) and UUID validation. */
#include "core/uuid.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>

#include "core/clock.h"

static pthread_mutex_t uuid_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t last_ms;
static uint64_t sequence; /* 12 bits rand_a + 62 bits rand_b form a 74-bit counter */

void visor_uuid_new(char out[VISOR_UUID_LEN + 1]) {
  uint8_t random_bytes[10];
  if (getrandom(random_bytes, sizeof random_bytes, 0) != (ssize_t)sizeof random_bytes) {
    uint64_t fallback = (uint64_t)visor_monotonic_s() * 2654435761u;
    for (size_t i = 0; i < sizeof random_bytes; i++)
      random_bytes[i] = (uint8_t)(fallback >> (i % 8));
  }
  pthread_mutex_lock(&uuid_lock);
  int64_t now = visor_now_ms();
  uint16_t rand_a;
  uint64_t rand_b;
  if (now > last_ms) {
    last_ms = now;
    /* Fresh random counter, top bit clear so increments rarely overflow. */
    sequence = ((uint64_t)(random_bytes[0] & 0x07) << 56) | ((uint64_t)random_bytes[1] << 48) |
               ((uint64_t)random_bytes[2] << 40) | ((uint64_t)random_bytes[3] << 32) |
               ((uint64_t)random_bytes[4] << 24) | ((uint64_t)random_bytes[5] << 16) |
               ((uint64_t)random_bytes[6] << 8) | random_bytes[7];
  } else {
    sequence++;
    if (sequence >> 60) { /* counter exhausted in this ms: borrow the next one */
      last_ms++;
      sequence = 0;
    }
  }
  now = last_ms;
  rand_a = (uint16_t)((sequence >> 48) & 0x0fff);
  rand_b = ((sequence & 0xffffffffffffULL) << 14) | ((uint64_t)random_bytes[8] << 6) |
           (random_bytes[9] & 0x3f);
  pthread_mutex_unlock(&uuid_lock);

  uint8_t bytes[16];
  for (int i = 0; i < 6; i++)
    bytes[i] = (uint8_t)((uint64_t)now >> (40 - 8 * i));
  bytes[6] = (uint8_t)(0x70 | (rand_a >> 8));
  bytes[7] = (uint8_t)(rand_a & 0xff);
  bytes[8] = (uint8_t)(0x80 | ((rand_b >> 56) & 0x3f));
  for (int i = 9; i < 16; i++)
    bytes[i] = (uint8_t)(rand_b >> (8 * (15 - i)));
  snprintf(out, VISOR_UUID_LEN + 1,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", bytes[0],
           bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9],
           bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]);
}

bool visor_uuid_valid(const char *text) {
  if (!text) return false;
  for (int i = 0; i < VISOR_UUID_LEN; i++) {
    char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!isxdigit((unsigned char)c)) {
      return false;
    }
  }
  return text[VISOR_UUID_LEN] == '\0';
}
