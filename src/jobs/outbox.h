/* outbox.h: the outbox relay. Jobs are written with an outbox entry in the same metadata
 * transaction as the rows they are for (job_state.h); the relay publishes each entry to
 * the queue backend, then deletes it. A crash between commit and publish leaves the entry,
 * and the next relay pass (in any process) publishes it; a crash between publish and
 * delete publishes it twice, which is harmless: enqueue is idempotent by job id and the
 * workers drop tasks whose job is finished. */
#ifndef VISOR_JOBS_OUTBOX_H
#define VISOR_JOBS_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "queue/queue.h"
#include "store/db.h"

/* Publishes pending entries (up to a few batches); *published (may be NULL) counts them.
 * Stops at the first error: what is left is published by a later pass. */
visor_code visor_outbox_relay_once(visor_db *db, visor_queue *queue, size_t *published,
                                   visor_error *err);

typedef struct visor_outbox_relay visor_outbox_relay;

/* A thread that relays every interval_ms and whenever kicked; on_published(ctx) runs
 * after a pass that published something (e.g. to wake this process's workers). */
visor_outbox_relay *visor_outbox_relay_start(visor_db *db, visor_queue *queue, int64_t interval_ms,
                                             void (*on_published)(void *), void *ctx,
                                             visor_error *err);
void visor_outbox_relay_kick(visor_outbox_relay *relay);
/* Stops and joins the thread, then frees the relay (NULL is fine). */
void visor_outbox_relay_stop(visor_outbox_relay *relay);

#endif
