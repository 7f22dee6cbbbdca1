/* outbox.c: the outbox relay (see outbox.h). */
#include "jobs/outbox.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/metrics.h"
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
  if (!conn) return err ? err->code : VISOR_ERR_UNAVAILABLE;
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
  int64_t interval_ms;
  void (*on_published)(void *);
  void *ctx;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  int kicked, stopping;
};

static void *relay_main(void *arg) {
  visor_outbox_relay *relay = arg;
  pthread_mutex_lock(&relay->lock);
  while (!relay->stopping) {
    relay->kicked = 0;
    pthread_mutex_unlock(&relay->lock);
    size_t published = 0;
    visor_error err = {0};
    if (visor_outbox_relay_once(relay->db, relay->queue, &published, &err) != VISOR_OK)
      visor_log(VISOR_LOG_WARN, "outbox relay: %s (will retry)", err.message);
    if (published && relay->on_published) relay->on_published(relay->ctx);
    pthread_mutex_lock(&relay->lock);
    if (relay->stopping || relay->kicked) continue;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    int64_t ns = deadline.tv_nsec + relay->interval_ms * 1000000;
    deadline.tv_sec += ns / 1000000000;
    deadline.tv_nsec = ns % 1000000000;
    pthread_cond_timedwait(&relay->wake, &relay->lock, &deadline);
  }
  pthread_mutex_unlock(&relay->lock);
  return NULL;
}

visor_outbox_relay *visor_outbox_relay_start(visor_db *db, visor_queue *queue, int64_t interval_ms,
                                             void (*on_published)(void *), void *ctx,
                                             visor_error *err) {
  visor_outbox_relay *relay = calloc(1, sizeof *relay);
  if (!relay) {
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  relay->db = db;
  relay->queue = queue;
  relay->interval_ms = interval_ms > 0 ? interval_ms : 1000;
  relay->on_published = on_published;
  relay->ctx = ctx;
  pthread_mutex_init(&relay->lock, NULL);
  pthread_cond_init(&relay->wake, NULL);
  if (pthread_create(&relay->thread, NULL, relay_main, relay) != 0) {
    pthread_mutex_destroy(&relay->lock);
    pthread_cond_destroy(&relay->wake);
    free(relay);
    visor_error_set(err, VISOR_ERR_INTERNAL, "cannot start the outbox relay thread");
    return NULL;
  }
  return relay;
}

void visor_outbox_relay_kick(visor_outbox_relay *relay) {
  if (!relay) return;
  pthread_mutex_lock(&relay->lock);
  relay->kicked = 1;
  pthread_cond_signal(&relay->wake);
  pthread_mutex_unlock(&relay->lock);
}

void visor_outbox_relay_stop(visor_outbox_relay *relay) {
  if (!relay) return;
  pthread_mutex_lock(&relay->lock);
  relay->stopping = 1;
  pthread_cond_signal(&relay->wake);
  pthread_mutex_unlock(&relay->lock);
  pthread_join(relay->thread, NULL);
  pthread_mutex_destroy(&relay->lock);
  pthread_cond_destroy(&relay->wake);
  free(relay);
}
