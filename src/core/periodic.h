/* periodic.h: a background thread that runs one function at once, then every interval
 * and whenever kicked, until stopped: the outbox relay and the orphan sweeper. */
#ifndef VISOR_CORE_PERIODIC_H
#define VISOR_CORE_PERIODIC_H

#include <stdint.h>

#include "core/error.h"

typedef struct visor_periodic visor_periodic;
typedef void (*visor_periodic_fn)(void *ctx);

/* Starts the thread; interval_ms <= 0 runs fn once only. what names it in errors. */
visor_periodic *visor_periodic_start(const char *what, int64_t interval_ms, visor_periodic_fn fn,
                                     void *ctx, visor_error *err);
/* Runs fn again as soon as the run in progress (if any) ends. */
void visor_periodic_kick(visor_periodic *periodic);
/* Waits for a run in progress, stops the thread and frees it (NULL is fine). */
void visor_periodic_stop(visor_periodic *periodic);

#endif
