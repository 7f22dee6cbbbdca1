/* clock.h: wall-clock and monotonic time helpers. */
#ifndef VISOR_CORE_CLOCK_H
#define VISOR_CORE_CLOCK_H

#include <stdint.h>

int64_t visor_now_ms(void);     /* Unix time in milliseconds */
double visor_monotonic_s(void); /* monotonic seconds, for durations */
void visor_sleep_ms(int64_t ms);
/* Formats Unix ms as RFC 3339 UTC ("2026-11-24T07:04:31.123Z") into out (32 bytes). */
void visor_format_time(int64_t unix_ms, char out[32]);

#endif
