/* outbox.c: the outbox relay (see outbox.h). */
#include "jobs/outbox.h"

#include <stdlib.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/periodic.h"
#include "store/outbox.h"

#define RELAY_BATCH 64
#define RELAY_MAX_BATCHES 16

static visor_code publish_batch(visor_db_conn *conn, visor_queue *queue, size_t *published,
                                size_t *seen, visor_error *err) {
  visor_outbox_entry entries[RELAY_BATCH];
  visor_code code = visor_outbox_pending(conn, entries, RELAY_BATCH, seen, err);
  int64_t now = visor_now_ms();
  for (size_t i = 0; code == VISOR_OK && i < *seen; i++) {
    int64_t delay = entries[i].available_at > now ? entries[i].available_at - now : 0;
    code = queue->ops->enqueue(queue, entries[i].job_id, entries[i].kind, delay, err);
    if (code == VISOR_OK) code = visor_outbox_delete(conn, entries[i].job_id, err);
    if (code == VISOR_OK) (*published)++;
  }
  return code;
}

visor_code visor_outbox_relay_once(visor_db *db, visor_queue *queue, size_t *published,
                                   visor_error *err) {
  size_t count = 0;
  visor_db_conn *conn = visor_db_acquire(db, err);
  if (!conn) return visor_db_acquire_failed(err);
  visor_code code = VISOR_OK;
  for (int batch = 0; code == VISOR_OK && batch < RELAY_MAX_BATCHES; batch++) {
    size_t seen = 0;
    code = publish_batch(conn, queue, &count, &seen, err);
    if (seen < RELAY_BATCH) break;
  }
  visor_db_release(conn);
  if (count)
    visor_metrics_counter_add("visor_outbox_published_total",
                              "Tasks published from the job outbox to the queue", NULL,
                              (double)count);
  if (published) *published = count;
  return code;
}

struct visor_outbox_relay {
  visor_db *db;
  visor_queue *queue;
  void (*on_published)(void *);
  void *ctx;
  visor_periodic *thread;
};

static void relay_pass(void *arg) {
  visor_outbox_relay *relay = arg;
  size_t published = 0;
  visor_error err = {0};
  if (visor_outbox_relay_once(relay->db, relay->queue, &published, &err) != VISOR_OK)
    visor_log(VISOR_LOG_WARN, "outbox relay: %s (will retry)", err.message);
  if (published && relay->on_published) relay->on_published(relay->ctx);
}

visor_outbox_relay *visor_outbox_relay_start(visor_db *db, visor_queue *queue, int64_t interval_ms,
                                             void (*on_published)(void *), void *ctx,
                                             visor_error *err) {
  visor_outbox_relay *relay = calloc(1, sizeof *relay);
  if (!relay) {
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  *relay = (visor_outbox_relay){db, queue, on_published, ctx, NULL};
  relay->thread = visor_periodic_start("outbox relay", interval_ms > 0 ? interval_ms : 1000,
                                       relay_pass, relay, err);
  if (!relay->thread) {
    free(relay);
    return NULL;
  }
  return relay;
}

void visor_outbox_relay_kick(visor_outbox_relay *relay) {
  if (relay) visor_periodic_kick(relay->thread);
}

void visor_outbox_relay_stop(visor_outbox_relay *relay) {
  if (!relay) return;
  visor_periodic_stop(relay->thread);
  free(relay);
}
