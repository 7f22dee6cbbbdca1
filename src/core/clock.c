/* clock.c: wall-clock and monotonic time helpers. */
#include "core/clock.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

int64_t visor_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double visor_monotonic_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void visor_sleep_ms(int64_t ms) {
  if (ms <= 0) return;
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

void visor_format_time(int64_t unix_ms, char out[32]) {
  time_t seconds = (time_t)(unix_ms / 1000);
  struct tm tm;
  gmtime_r(&seconds, &tm);
  char base[24];
  strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, 32, "%s.%03dZ", base, (int)(unix_ms % 1000));
}
