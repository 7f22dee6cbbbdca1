/* uuid.h: time-ordered UUIDs (version 7: 48-bit Unix milliseconds + random bits), used
 * for every id in Visor and for request ids; and validation of UUID strings. */
#ifndef VISOR_CORE_UUID_H
#define VISOR_CORE_UUID_H

#include <stdbool.h>

#define VISOR_UUID_LEN 36 /* characters, without the terminating NUL */

/* Writes a new lowercase UUIDv7 ("0190f6e2-....") into out (37 bytes). Thread-safe;
 * ids made by one process are strictly increasing. */
void visor_uuid_new(char out[VISOR_UUID_LEN + 1]);
/* True for the canonical 8-4-4-4-12 hex form (any version). */
bool visor_uuid_valid(const char *text);

#endif
