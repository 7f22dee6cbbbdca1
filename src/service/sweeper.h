/* sweeper.h: the orphan sweeper. A crash (kill -9) can leave objects no row owns (an
 * upload's images/<id>/original written before its rows, the crops of an interrupted
 * index attempt) and temp data of cut-off writes (the file store's .tmp files, S3's
 * incomplete multipart uploads). The sweeper removes both once they are older than a
 * grace period, so work in progress (young) is never touched. What an orphan is comes
 * from owners.h, as for `visor check`. Processes with workers (visor serve, visor worker)
 * run it at start and then every --sweep-seconds. */
#ifndef VISOR_SERVICE_SWEEPER_H
#define VISOR_SERVICE_SWEEPER_H

#include <stddef.h>
#include <stdint.h>

#include "app/app.h"

typedef struct visor_sweep_report {
  size_t objects;      /* catalogue objects listed */
  size_t orphans;      /* objects no row owns that were old enough: removed */
  size_t young;        /* objects younger than the grace period (owned or not): kept */
  size_t temp_removed; /* temp files / incomplete uploads removed */
} visor_sweep_report;

/* One sweep with grace_ms; adds what it removed to the visor_sweeper_removed_total
 * counter (label what="object" or "temp"). A removal that fails is retried next time. */
visor_code visor_sweep_once(visor_app *app, int64_t grace_ms, visor_sweep_report *report,
                            visor_error *err);

typedef struct visor_sweeper visor_sweeper;

/* A thread that sweeps at once and then every period_s (0: only once); logs what it
 * removed and what failed. NULL with err when the thread cannot start. */
visor_sweeper *visor_sweeper_start(visor_app *app, double period_s, double grace_s,
                                   visor_error *err);
/* Stops the thread (waits for a sweep in progress); NULL is fine. */
void visor_sweeper_stop(visor_sweeper *sweeper);

#endif
