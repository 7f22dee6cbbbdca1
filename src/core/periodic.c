/* periodic.c: the periodic background thread (see periodic.h). */
#include "core/periodic.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct visor_periodic {
  int64_t interval_ms;
  visor_periodic_fn fn;
  void *ctx;
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  int kicked, stopping;
};

static void *periodic_main(void *arg) {
  visor_periodic *p = arg;
  pthread_mutex_lock(&p->lock);
  while (!p->stopping) {
    p->kicked = 0;
    pthread_mutex_unlock(&p->lock);
    p->fn(p->ctx);
    pthread_mutex_lock(&p->lock);
    if (p->interval_ms <= 0) break;
    if (p->stopping || p->kicked) continue;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    int64_t ns = deadline.tv_nsec + (p->interval_ms % 1000) * 1000000;
    deadline.tv_sec += p->interval_ms / 1000 + ns / 1000000000;
    deadline.tv_nsec = ns % 1000000000;
    while (!p->stopping && !p->kicked &&
           pthread_cond_timedwait(&p->wake, &p->lock, &deadline) == 0) {
    }
  }
  pthread_mutex_unlock(&p->lock);
  return NULL;
}

visor_periodic *visor_periodic_start(const char *what, int64_t interval_ms, visor_periodic_fn fn,
                                     void *ctx, visor_error *err) {
  visor_periodic *p = calloc(1, sizeof *p);
  if (!p) {
    visor_error_set(err, VISOR_ERR_NOMEM, "no memory for the %s thread", what);
    return NULL;
  }
  p->interval_ms = interval_ms;
  p->fn = fn;
  p->ctx = ctx;
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->wake, NULL);
  if (pthread_create(&p->thread, NULL, periodic_main, p) != 0) {
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
    visor_error_set(err, VISOR_ERR_INTERNAL, "cannot start the %s thread", what);
    return NULL;
  }
  return p;
}

void visor_periodic_kick(visor_periodic *p) {
  if (!p) return;
  pthread_mutex_lock(&p->lock);
  p->kicked = 1;
  pthread_cond_signal(&p->wake);
  pthread_mutex_unlock(&p->lock);
}

void visor_periodic_stop(visor_periodic *p) {
  if (!p) return;
  pthread_mutex_lock(&p->lock);
  p->stopping = 1;
  pthread_cond_signal(&p->wake);
  pthread_mutex_unlock(&p->lock);
  pthread_join(p->thread, NULL);
  pthread_cond_destroy(&p->wake);
  pthread_mutex_destroy(&p->lock);
  free(p);
}
