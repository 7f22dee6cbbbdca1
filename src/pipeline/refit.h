/* refit.h: the automatic refit of the catalogue projection (--refit-after N). After each
 * index task, the labelled images (indexed images of live products with 2 or more, the
 * rule `visor tune` fits by) are counted; once N more than the current version was fitted
 * with, one "tune" job is queued for that version (its payload {"after_version":N} is
 * unique among tune jobs: two processes that see the count at once queue it once). The
 * "tune" task, leased after every other kind, refits from the kept raw embeddings without
 * a model (retune.h); the old version serves until the new one is complete. Without a
 * current projection nothing is refitted: the first fit is `visor tune`'s. */
#ifndef VISOR_PIPELINE_REFIT_H
#define VISOR_PIPELINE_REFIT_H

#include "app/app.h"

/* Queues the refit when it is due (nothing when app->config->refit_after is 0, when there
 * is no current projection, or when its refit is queued already). *queued (may be NULL)
 * says whether this call queued it. */
visor_code visor_refit_check(visor_app *app, int *queued, visor_error *err);

#endif
