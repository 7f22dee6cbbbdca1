/* bench_queue.c: the task queue backends side by side: `local` (a table in a SQLite
 * metadata DB) against `redis` (Streams). Two measures, printed as a table with the ratio
 * redis/local:
 *   - throughput: enqueue N tasks, then 1 or 4 threads sharing one handle lease + ack until
 *     the queue is empty (tasks/s of each phase);
 *   - crash recovery: a worker leases with visibility V and stops (kill -9: no heartbeat, no
 *     ack); a second handle gets the task: time from the first lease, median of R rounds,
 *     and the part of it beyond V (the detection delay). The second handle polls like the
 *     worker pool (a lease blocking up to 200 ms, then a 200 ms idle wait, at a random
 *     phase), or in a tight loop (a lease blocking 1 s; local: a lease every 10 ms).
 *
 *   bench_queue [--tasks N] [--visibility MS] [--rounds R] [--redis URL]
 *
 * Defaults: 5,000 tasks, V = 1,000 ms, 9 rounds, redis://127.0.0.1:56379/0 (or
 * VISOR_BENCH_REDIS_URL; start it with scripts/servers/redis.sh up). Each run uses fresh
 * keys (prefix bench-PID-n) and deletes them at the end. */
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "queue/queue.h"
#include "store/migrate.h"

#define POLL_MS 200

static const char *const bench_kind[] = {"bench"};

typedef struct drain_state {
  visor_queue *queue;
  pthread_mutex_t lock;
  int64_t done, failed;
} drain_state;

static void *drain_worker(void *arg) {
  drain_state *state = arg;
  int empty = 0;
  while (empty < 3) {
    visor_task task;
    int leased = 0;
    visor_error err = {0};
    if (state->queue->ops->lease(state->queue, bench_kind, 1, 60000, 0, &task, &leased, &err) !=
        VISOR_OK) {
      pthread_mutex_lock(&state->lock);
      state->failed++;
      pthread_mutex_unlock(&state->lock);
      visor_sleep_ms(5);
      continue;
    }
    if (!leased) {
      empty++;
      visor_sleep_ms(2);
      continue;
    }
    empty = 0;
    visor_code code = state->queue->ops->ack(state->queue, &task, &err);
    pthread_mutex_lock(&state->lock);
    if (code == VISOR_OK)
      state->done++;
    else
      state->failed++;
    pthread_mutex_unlock(&state->lock);
  }
  return NULL;
}

typedef struct throughput {
  double enqueue_per_s, drain_per_s;
} throughput;

static int measure_throughput(visor_queue *queue, int tasks, int threads, const char *tag,
                              throughput *out) {
  visor_error err = {0};
  double started = visor_monotonic_s();
  for (int i = 0; i < tasks; i++) {
    char id[64];
    snprintf(id, sizeof id, "%s-%d", tag, i);
    if (queue->ops->enqueue(queue, id, "bench", 0, &err) != VISOR_OK) {
      fprintf(stderr, "enqueue: %s\n", err.message);
      return 0;
    }
  }
  out->enqueue_per_s = tasks / (visor_monotonic_s() - started);
  drain_state state = {.queue = queue};
  pthread_mutex_init(&state.lock, NULL);
  pthread_t workers[16];
  started = visor_monotonic_s();
  for (int i = 0; i < threads; i++)
    pthread_create(&workers[i], NULL, drain_worker, &state);
  for (int i = 0; i < threads; i++)
    pthread_join(workers[i], NULL);
  out->drain_per_s = state.done / (visor_monotonic_s() - started);
  pthread_mutex_destroy(&state.lock);
  if (state.done != tasks || state.failed) {
    fprintf(stderr, "drained %lld of %d tasks, %lld failures\n", (long long)state.done, tasks,
            (long long)state.failed);
    return 0;
  }
  return 1;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Median seconds from a lease that is abandoned (its worker was killed) to the same task
 * leased by another handle. pool_loop: the survivor polls like the worker pool (a lease
 * that may block POLL_MS, then a POLL_MS idle wait), starting at a random phase; else a
 * tight loop (a lease blocking up to 1 s; local ignores the block, so it polls every 10 ms). */
static int measure_recovery(visor_queue *dead_worker, visor_queue *survivor, int64_t visibility_ms,
                            int rounds, int pool_loop, double *median_s) {
  double took[64];
  visor_error err = {0};
  unsigned seed = 12345;
  for (int r = 0; r < rounds; r++) {
    char id[32];
    snprintf(id, sizeof id, "crash-%d-%d", pool_loop, r);
    visor_task task, again;
    int leased = 0;
    if (dead_worker->ops->enqueue(dead_worker, id, "bench", 0, &err) != VISOR_OK ||
        dead_worker->ops->lease(dead_worker, bench_kind, 1, visibility_ms, 0, &task, &leased,
                                &err) != VISOR_OK ||
        !leased) {
      fprintf(stderr, "recovery setup: %s\n", err.message);
      return 0;
    }
    double started = visor_monotonic_s();
    if (pool_loop) visor_sleep_ms(rand_r(&seed) % (2 * POLL_MS));
    leased = 0;
    while (!leased && visor_monotonic_s() - started < 10 + visibility_ms / 1000.0) {
      if (survivor->ops->lease(survivor, bench_kind, 1, visibility_ms, pool_loop ? POLL_MS : 1000,
                               &again, &leased, &err) != VISOR_OK) {
        fprintf(stderr, "recovery lease: %s\n", err.message);
        return 0;
      }
      if (!leased) visor_sleep_ms(pool_loop ? POLL_MS : 10);
    }
    took[r] = visor_monotonic_s() - started;
    if (!leased || strcmp(again.id, id) != 0) {
      fprintf(stderr, "recovery: the task did not come back\n");
      return 0;
    }
    survivor->ops->ack(survivor, &again, &err);
  }
  qsort(took, (size_t)rounds, sizeof took[0], compare_double);
  *median_s = took[rounds / 2];
  return 1;
}

/* Deletes the keys a run under prefix made. */
static void redis_cleanup(const char *base_url, const char *prefix) {
  char host[256] = "127.0.0.1";
  int port = 6379, db = 0;
  sscanf(base_url, "redis://%255[^:/]:%d/%d", host, &port, &db);
  struct timeval tv = {.tv_sec = 2};
  redisContext *ctx = redisConnectWithTimeout(host, port, tv);
  if (!ctx || ctx->err) {
    if (ctx) redisFree(ctx);
    return;
  }
  redisReply *reply = redisCommand(ctx, "SELECT %d", db);
  if (reply) freeReplyObject(reply);
  static const char *const suffixes[] = {"stream:bench", "leases:bench", "tasks", "delayed",
                                         "dead",         "kinds",        "paused"};
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    reply = redisCommand(ctx, "DEL %s:%s", prefix, suffixes[i]);
    if (reply) freeReplyObject(reply);
  }
  redisFree(ctx);
}

typedef struct backend_result {
  throughput one, four;
  double recovery_pool_s, recovery_tight_s;
} backend_result;

static int run_backend(const char *name, const char *url, visor_db *db, int tasks,
                       int64_t visibility_ms, int rounds, backend_result *result) {
  visor_error err = {0};
  visor_queue *queue = visor_queue_open(url, db, &err);
  visor_queue *survivor = visor_queue_open(url, db, &err);
  if (!queue || !survivor) {
    fprintf(stderr, "open %s: %s\n", url, err.message);
    visor_queue_close(queue);
    return 0;
  }
  int ok = measure_throughput(queue, tasks, 1, "one", &result->one) &&
           measure_throughput(queue, tasks, 4, "four", &result->four) &&
           measure_recovery(queue, survivor, visibility_ms, rounds, 1, &result->recovery_pool_s) &&
           measure_recovery(queue, survivor, visibility_ms, rounds, 0, &result->recovery_tight_s);
  if (!ok) fprintf(stderr, "%s: benchmark failed\n", name);
  visor_queue_close(survivor);
  visor_queue_close(queue);
  return ok;
}

int main(int argc, char **argv) {
  int tasks = 5000, rounds = 9;
  int64_t visibility_ms = 1000;
  const char *redis_base = getenv("VISOR_BENCH_REDIS_URL");
  if (!redis_base || !*redis_base) redis_base = "redis://127.0.0.1:56379/0";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--tasks") == 0 && i + 1 < argc)
      tasks = atoi(argv[++i]);
    else if (strcmp(argv[i], "--visibility") == 0 && i + 1 < argc)
      visibility_ms = atoll(argv[++i]);
    else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
      rounds = atoi(argv[++i]);
    else if (strcmp(argv[i], "--redis") == 0 && i + 1 < argc)
      redis_base = argv[++i];
    else {
      fprintf(stderr, "usage: %s [--tasks N] [--visibility MS] [--rounds R] [--redis URL]\n",
              argv[0]);
      return 2;
    }
  }
  if (tasks < 1 || rounds < 1 || rounds > 64 || visibility_ms < 1) {
    fprintf(stderr, "bad arguments\n");
    return 2;
  }
  char temp[] = "/tmp/visor-bench-queue-XXXXXX";
  if (!mkdtemp(temp)) return 1;
  char db_url[600];
  snprintf(db_url, sizeof db_url, "sqlite://%s/visor.db", temp);
  visor_error err = {0};
  visor_db *db = visor_db_open(db_url, &err);
  if (!db || visor_migrate(db, NULL, &err) != VISOR_OK) {
    fprintf(stderr, "cannot open %s: %s\n", db_url, err.message);
    return 1;
  }
  char prefix[64], redis_url[700];
  snprintf(prefix, sizeof prefix, "bench-%ld", (long)getpid());
  snprintf(redis_url, sizeof redis_url, "%s%sprefix=%s", redis_base,
           strchr(redis_base, '?') ? "&" : "?", prefix);
  backend_result local, redis;
  int ok = run_backend("local", "local", db, tasks, visibility_ms, rounds, &local);
  ok = run_backend("redis", redis_url, NULL, tasks, visibility_ms, rounds, &redis) && ok;
  redis_cleanup(redis_base, prefix);
  visor_db_close(db);
  char command[128];
  snprintf(command, sizeof command, "rm -rf '%s'", temp);
  if (system(command) != 0) fprintf(stderr, "could not remove %s\n", temp);
  if (!ok) return 1;

  printf("queue backends: %d tasks, visibility %lld ms, %d recovery rounds\n\n", tasks,
         (long long)visibility_ms, rounds);
  printf("%-34s %12s %12s %12s\n", "measure", "local", "redis", "redis/local");
  struct {
    const char *name;
    double local, redis;
  } rows[] = {
      {"enqueue, 1 thread (tasks/s)", local.one.enqueue_per_s, redis.one.enqueue_per_s},
      {"lease+ack, 1 thread (tasks/s)", local.one.drain_per_s, redis.one.drain_per_s},
      {"lease+ack, 4 threads (tasks/s)", local.four.drain_per_s, redis.four.drain_per_s},
      {"recovery, pool loop (ms)", local.recovery_pool_s * 1000, redis.recovery_pool_s * 1000},
      {"  beyond the visibility (ms)", local.recovery_pool_s * 1000 - (double)visibility_ms,
       redis.recovery_pool_s * 1000 - (double)visibility_ms},
      {"recovery, tight loop (ms)", local.recovery_tight_s * 1000, redis.recovery_tight_s * 1000},
      {"  beyond the visibility (ms)", local.recovery_tight_s * 1000 - (double)visibility_ms,
       redis.recovery_tight_s * 1000 - (double)visibility_ms},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    printf("%-34s %12.0f %12.0f %12.2f\n", rows[i].name, rows[i].local, rows[i].redis,
           rows[i].local != 0 ? rows[i].redis / rows[i].local : 0);
  return 0;
}
