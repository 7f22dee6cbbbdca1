/* queue_redis.c: the redis://host:port/db?prefix=P queue: Redis Streams with one consumer
 * group, for workers in many processes on many machines.
 *
 * Keys (P = the URL's prefix, default "visor"; every queue on one Redis needs its own):
 *   P:stream:KIND   a stream per task kind; an entry {id: job id} is a ready task. Group
 *                   "workers" (XGROUP CREATE ... 0 MKSTREAM on first use); each handle is
 *                   one consumer, named host:pid:n. Delivered entries sit in the group's
 *                   pending list (PEL) until ack/retry/bury XACK + XDEL them.
 *   P:leases:KIND   zset: leased job id -> when its lease ends (server ms).
 *   P:delayed       zset: job id -> when it is due (retry with backoff, enqueue with delay).
 *   P:tasks         hash: job id -> JSON record {s: ready|delayed|leased|dead, k: kind,
 *                   e: its stream entry id, d: deliveries, t: lease token, x: last error}.
 *                   It makes enqueue idempotent, and cancel and the lease checks exact.
 *   P:dead          hash: job id -> "kind<TAB>error" (buried tasks).
 *   P:kinds         set of the kinds seen; P:paused exists while the queue is paused.
 * Every change is one Lua script (queue_redis_scripts.c), so it is atomic, and it reads the
 * clock with TIME on the server, so machines with skewed clocks agree on lease ends.
 *
 * Lease (one script): nothing when paused; move due delayed tasks to their streams; then,
 * kind by kind in the caller's order (its priority), an expired lease of the kind (XCLAIM
 * moves its pending entry to this consumer), else the oldest undelivered entry of its
 * stream (XREADGROUP ... >). The lease gets
 * token "deliveries:uuid"; ack/extend/retry/bury compare it with the record's, so a holder
 * whose lease was taken over answers VISOR_ERR_CONFLICT even in the same process.
 * The lease end is explicit (P:leases) rather than XAUTOCLAIM's min-idle: each lease has
 * its own visibility (a worker leasing with 60 s must still take over a task whose
 * 300 ms lease ran out), and a reclaim then happens as soon as the lease ends (crash
 * recovery takes one visibility, the worker pool's heartbeat period times 3).
 * Blocking: when nothing is leasable, the script answers when the next delayed task is
 * due or the next lease of these kinds ends, and the group's last-delivered id per stream;
 * the client then waits with XREAD BLOCK on those ids (woken by any XADD) for at most that
 * long, within block_ms, and runs the script again. BLOCK is never 0 (forever). Redis ends
 * a BLOCK on its timer tick (up to 100 ms late at hz 10), so before a known due time the
 * XREAD stops 110 ms short of it and the rest is slept here: a takeover is a few ms late,
 * not 100 (an entry added in those 110 ms waits for the next script run). Otherwise a
 * lease may return up to 100 ms after block_ms. A paused queue answers at once. Why
 * XREAD and not XREADGROUP ... BLOCK: a delivery outside the script would leave a window
 * (a crash between it and the script writing the lease end) where a pending entry has no
 * lease and is never taken over; XREAD only waits, the script delivers.
 * The heartbeat (extend) moves the lease end and resets the entry's idle time (XCLAIM
 * JUSTID), so XPENDING / XINFO CONSUMERS show live workers. Counts are exact (one script):
 * ready = XLEN - pending + expired leases + due delayed, delayed, leased, dead = HLEN.
 * close deletes this handle's consumer (and any idle for an hour) when it holds nothing.
 *
 * Connections (queue_redis_conn.c): a pool of hiredis contexts, connect timeout 1.5 s,
 * command timeout 3 s (XREAD: its block time + 2 s). open fails with VISOR_ERR_UNAVAILABLE
 * when Redis does not answer; afterwards a failed call answers VISOR_ERR_UNAVAILABLE naming
 * host:port and the next call reconnects. Scripts run by EVALSHA, and by EVAL when the
 * server lost its script cache (a restart). Durability is Redis's: use appendonly yes. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/uuid.h"
#include "queue/queue.h"
#include "queue/queue_redis.h"

#define MAX_ARGS 24
#define KEY_MAX 200
#define XREAD_MARGIN_MS 2000
#define TIMER_SLACK_MS 110 /* how late Redis may end a BLOCK (its timer runs at hz 10) */

typedef struct redis_queue {
  visor_queue base;
  visor_redis_target target;
  visor_redis_pool *pool;
  char consumer[160];
  char sha[VISOR_REDIS_SCRIPT_COUNT][48];
} redis_queue;

static atomic_int handle_counter;

/* Runs script which with ARGV = prefix, args...; on VISOR_OK *reply is the script's reply
 * (not an error). */
static visor_code run_script(redis_queue *queue, visor_redis_conn *conn, visor_redis_script which,
                             int argc, const char **args, redisReply **reply, visor_error *err) {
  const char *argv[MAX_ARGS];
  size_t lens[MAX_ARGS];
  if (argc + 4 > MAX_ARGS)
    return visor_error_set(err, VISOR_ERR_INTERNAL, "redis queue: too many script arguments");
  argv[0] = "EVALSHA";
  argv[1] = queue->sha[which];
  argv[2] = "0";
  argv[3] = queue->target.prefix;
  for (int i = 0; i < argc; i++)
    argv[4 + i] = args[i];
  for (int i = 0; i < argc + 4; i++)
    lens[i] = strlen(argv[i]);
  visor_code code = visor_redis_call(queue->pool, conn, argc + 4, argv, lens, reply, err);
  if (code == VISOR_ERR_INTERNAL && strstr(err->message, "EVALSHA: NOSCRIPT")) {
    argv[0] = "EVAL";
    argv[1] = visor_redis_scripts[which];
    lens[0] = 4;
    lens[1] = strlen(argv[1]);
    code = visor_redis_call(queue->pool, conn, argc + 4, argv, lens, reply, err);
  }
  return code;
}

/* Runs a script that answers an integer, on a pooled connection. */
static visor_code script_int(redis_queue *queue, visor_redis_script which, int argc,
                             const char **args, long long *result, visor_error *err) {
  visor_redis_conn *conn = visor_redis_acquire(queue->pool, err);
  if (!conn) return visor_db_acquire_failed(err);
  redisReply *reply;
  visor_code code = run_script(queue, conn, which, argc, args, &reply, err);
  visor_redis_release(queue->pool, conn);
  if (code != VISOR_OK) return code;
  if (reply->type == REDIS_REPLY_INTEGER)
    *result = reply->integer;
  else
    code = visor_error_set(err, VISOR_ERR_INTERNAL, "redis %s: unexpected script reply type %d",
                           visor_redis_pool_name(queue->pool), reply->type);
  freeReplyObject(reply);
  return code;
}

static visor_code check_name(const char *what, const char *value, size_t size, visor_error *err) {
  if (!value || !*value || strlen(value) >= size)
    return visor_error_set(err, VISOR_ERR_INVALID, "task %s '%s' must be 1 to %zu characters", what,
                           value ? value : "", size - 1);
  return VISOR_OK;
}

static visor_code redis_enqueue(visor_queue *base, const char *id, const char *kind,
                                int64_t delay_ms, visor_error *err) {
  visor_error scratch;
  if (!err) err = &scratch;
  visor_task probe;
  if (check_name("id", id, sizeof probe.id, err) ||
      check_name("kind", kind, sizeof probe.kind, err))
    return err->code;
  char delay[24];
  snprintf(delay, sizeof delay, "%" PRId64, delay_ms > 0 ? delay_ms : 0);
  const char *args[] = {id, kind, delay};
  long long added;
  visor_code code = script_int((redis_queue *)base, VISOR_REDIS_ENQUEUE, 3, args, &added, err);
  if (code != VISOR_OK) visor_error_wrap(err, "enqueue %s task %s", kind, id);
  return code;
}

static int copy_reply(const redisReply *reply, char *out, size_t size) {
  if (reply->type != REDIS_REPLY_STRING || reply->len >= size) return 0;
  memcpy(out, reply->str, reply->len);
  out[reply->len] = '\0';
  return 1;
}

/* Waits up to wait_ms for a new entry after ids (the script's last-delivered ids). */
static visor_code wait_for_entries(redis_queue *queue, visor_redis_conn *conn,
                                   const char *const *kinds, size_t kind_count,
                                   const redisReply *ids, long wait_ms, visor_error *err) {
  char keys[VISOR_QUEUE_MAX_KINDS][KEY_MAX];
  char block[24];
  const char *argv[4 + 2 * VISOR_QUEUE_MAX_KINDS];
  size_t lens[4 + 2 * VISOR_QUEUE_MAX_KINDS];
  int argc = 0;
  snprintf(block, sizeof block, "%ld", wait_ms);
  argv[argc++] = "XREAD";
  argv[argc++] = "BLOCK";
  argv[argc++] = block;
  argv[argc++] = "STREAMS";
  for (size_t i = 0; i < kind_count; i++) {
    snprintf(keys[i], sizeof keys[i], "%s:stream:%s", queue->target.prefix, kinds[i]);
    argv[argc++] = keys[i];
  }
  for (size_t i = 0; i < kind_count; i++) {
    if (ids->element[i]->type != REDIS_REPLY_STRING)
      return visor_error_set(err, VISOR_ERR_INTERNAL, "redis %s: bad stream id in lease reply",
                             visor_redis_pool_name(queue->pool));
    argv[argc++] = ids->element[i]->str;
  }
  for (int i = 0; i < argc; i++)
    lens[i] = strlen(argv[i]);
  visor_redis_set_timeout(conn, wait_ms + XREAD_MARGIN_MS);
  redisReply *reply;
  visor_code code = visor_redis_call(queue->pool, conn, argc, argv, lens, &reply, err);
  if (code == VISOR_OK) freeReplyObject(reply);
  if (!conn->broken) visor_redis_set_timeout(conn, VISOR_REDIS_COMMAND_MS);
  return code;
}

static visor_code redis_lease(visor_queue *base, const char *const *kinds, size_t kind_count,
                              int64_t visibility_ms, int64_t block_ms, visor_task *task,
                              int *leased, visor_error *err) {
  redis_queue *queue = (redis_queue *)base;
  visor_error scratch;
  if (!err) err = &scratch;
  *leased = 0;
  if (kind_count == 0 || kind_count > VISOR_QUEUE_MAX_KINDS)
    return visor_error_set(err, VISOR_ERR_INVALID, "lease needs 1 to %d kinds, got %zu",
                           VISOR_QUEUE_MAX_KINDS, kind_count);
  for (size_t i = 0; i < kind_count; i++)
    if (check_name("kind", kinds[i], sizeof task->kind, err)) return err->code;
  if (visibility_ms < 1) visibility_ms = 1;
  char visibility[24];
  snprintf(visibility, sizeof visibility, "%" PRId64, visibility_ms);
  visor_redis_conn *conn = visor_redis_acquire(queue->pool, err);
  if (!conn) return visor_db_acquire_failed(err);
  double started = visor_monotonic_s();
  visor_code code = VISOR_OK;
  for (;;) {
    char nonce[VISOR_UUID_LEN + 1];
    visor_uuid_new(nonce);
    const char *args[3 + VISOR_QUEUE_MAX_KINDS] = {queue->consumer, visibility, nonce};
    for (size_t i = 0; i < kind_count; i++)
      args[3 + i] = kinds[i];
    redisReply *reply;
    code = run_script(queue, conn, VISOR_REDIS_LEASE, 3 + (int)kind_count, args, &reply, err);
    if (code != VISOR_OK) break;
    const char *what = reply->type == REDIS_REPLY_ARRAY && reply->elements > 0 &&
                               reply->element[0]->type == REDIS_REPLY_STRING
                           ? reply->element[0]->str
                           : "";
    if (strcmp(what, "task") == 0 && reply->elements == 5) {
      memset(task, 0, sizeof *task);
      char deliveries[16];
      if (!copy_reply(reply->element[1], task->id, sizeof task->id) ||
          !copy_reply(reply->element[2], task->kind, sizeof task->kind) ||
          !copy_reply(reply->element[3], deliveries, sizeof deliveries) ||
          !copy_reply(reply->element[4], task->lease_token, sizeof task->lease_token))
        code = visor_error_set(err, VISOR_ERR_INTERNAL, "redis %s: bad lease reply",
                               visor_redis_pool_name(queue->pool));
      else {
        task->deliveries = atoi(deliveries);
        *leased = 1;
      }
      freeReplyObject(reply);
      break;
    }
    if (strcmp(what, "none") != 0 || reply->elements < 2 ||
        reply->element[1]->type != REDIS_REPLY_INTEGER) {
      if (strcmp(what, "paused") != 0)
        code = visor_error_set(err, VISOR_ERR_INTERNAL, "redis %s: unexpected lease reply",
                               visor_redis_pool_name(queue->pool));
      freeReplyObject(reply);
      break;
    }
    long long wake = reply->element[1]->integer;
    long remaining = (long)(block_ms - (int64_t)((visor_monotonic_s() - started) * 1000));
    if (remaining < 1) {
      freeReplyObject(reply);
      break;
    }
    /* Redis ends a BLOCK on its timer tick (every 100 ms at hz 10). When a known due time
     * (a delayed task, a lease end) falls before the block could end, the XREAD stops
     * TIMER_SLACK_MS short of it and the rest is slept here, so a takeover is not up to
     * 100 ms late; otherwise the XREAD waits the whole block, woken by any new entry. */
    int timed = wake >= 0 && wake <= remaining + TIMER_SLACK_MS;
    long wait = timed && wake < remaining ? (long)wake : remaining;
    if (reply->elements != 2 + kind_count || (timed && wait <= TIMER_SLACK_MS)) {
      visor_sleep_ms(wait > 0 ? wait : 1);
    } else {
      redisReply ids = {.elements = kind_count, .element = reply->element + 2};
      /* never BLOCK 0: that waits forever */
      long block = timed ? wait - TIMER_SLACK_MS : wait;
      code = wait_for_entries(queue, conn, kinds, kind_count, &ids, block > 0 ? block : 1, err);
    }
    freeReplyObject(reply);
    if (code != VISOR_OK) break;
  }
  visor_redis_release(queue->pool, conn);
  if (code != VISOR_OK) visor_error_wrap(err, "lease");
  return code;
}

/* Runs one of the scripts that apply only while the caller holds the lease. */
static visor_code leased_script(redis_queue *queue, visor_redis_script which, const char *what,
                                const visor_task *task, int argc, const char **args,
                                visor_error *err) {
  long long held = 0;
  visor_code code = script_int(queue, which, argc, args, &held, err);
  if (code != VISOR_OK) return visor_error_wrap(err, "%s task %s", what, task->id);
  if (!held)
    return visor_error_set(err, VISOR_ERR_CONFLICT, "task %s is no longer leased by this worker",
                           task->id);
  return VISOR_OK;
}

static visor_code redis_extend(visor_queue *base, const visor_task *task, int64_t visibility_ms,
                               visor_error *err) {
  redis_queue *queue = (redis_queue *)base;
  visor_error scratch;
  if (!err) err = &scratch;
  char visibility[24];
  snprintf(visibility, sizeof visibility, "%" PRId64, visibility_ms > 0 ? visibility_ms : 1);
  const char *args[] = {task->id, task->lease_token, visibility, queue->consumer};
  return leased_script(queue, VISOR_REDIS_EXTEND, "extend", task, 4, args, err);
}

static visor_code redis_ack(visor_queue *base, const visor_task *task, visor_error *err) {
  visor_error scratch;
  if (!err) err = &scratch;
  const char *args[] = {task->id, task->lease_token};
  return leased_script((redis_queue *)base, VISOR_REDIS_ACK, "ack", task, 2, args, err);
}

static visor_code redis_retry(visor_queue *base, const visor_task *task, int64_t delay_ms,
                              const char *error, visor_error *err) {
  visor_error scratch;
  if (!err) err = &scratch;
  char delay[24];
  snprintf(delay, sizeof delay, "%" PRId64, delay_ms > 0 ? delay_ms : 0);
  const char *args[] = {task->id, task->lease_token, delay, error ? error : ""};
  return leased_script((redis_queue *)base, VISOR_REDIS_RETRY, "retry", task, 4, args, err);
}

static visor_code redis_bury(visor_queue *base, const visor_task *task, const char *error,
                             visor_error *err) {
  visor_error scratch;
  if (!err) err = &scratch;
  const char *args[] = {task->id, task->lease_token, error ? error : ""};
  return leased_script((redis_queue *)base, VISOR_REDIS_BURY, "bury", task, 3, args, err);
}

static visor_code redis_cancel(visor_queue *base, const char *id, int *removed, visor_error *err) {
  visor_error scratch;
  if (!err) err = &scratch;
  const char *args[] = {id ? id : ""};
  long long done = 0;
  visor_code code = script_int((redis_queue *)base, VISOR_REDIS_CANCEL, 1, args, &done, err);
  if (code != VISOR_OK) visor_error_wrap(err, "cancel task %s", id ? id : "");
  if (removed) *removed = code == VISOR_OK && done == 1;
  return code;
}

static visor_code redis_set_paused(visor_queue *base, int paused, visor_error *err) {
  redis_queue *queue = (redis_queue *)base;
  visor_error scratch;
  if (!err) err = &scratch;
  char key[KEY_MAX];
  snprintf(key, sizeof key, "%s:paused", queue->target.prefix);
  const char *argv[] = {paused ? "SET" : "DEL", key, "1"};
  size_t lens[] = {strlen(argv[0]), strlen(key), 1};
  visor_redis_conn *conn = visor_redis_acquire(queue->pool, err);
  if (!conn) return visor_db_acquire_failed(err);
  redisReply *reply;
  visor_code code = visor_redis_call(queue->pool, conn, paused ? 3 : 2, argv, lens, &reply, err);
  visor_redis_release(queue->pool, conn);
  if (code == VISOR_OK) freeReplyObject(reply);
  return code;
}

static visor_code redis_counts(visor_queue *base, visor_queue_counts *counts, visor_error *err) {
  redis_queue *queue = (redis_queue *)base;
  visor_error scratch;
  if (!err) err = &scratch;
  memset(counts, 0, sizeof *counts);
  visor_redis_conn *conn = visor_redis_acquire(queue->pool, err);
  if (!conn) return visor_db_acquire_failed(err);
  redisReply *reply;
  visor_code code = run_script(queue, conn, VISOR_REDIS_COUNTS, 0, NULL, &reply, err);
  visor_redis_release(queue->pool, conn);
  if (code != VISOR_OK) return visor_error_wrap(err, "queue counts");
  int64_t values[5] = {0};
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 5)
    code = visor_error_set(err, VISOR_ERR_INTERNAL, "redis %s: unexpected counts reply",
                           visor_redis_pool_name(queue->pool));
  for (size_t i = 0; code == VISOR_OK && i < 5; i++)
    values[i] = reply->element[i]->type == REDIS_REPLY_INTEGER ? reply->element[i]->integer : 0;
  freeReplyObject(reply);
  counts->ready = values[0];
  counts->delayed = values[1];
  counts->leased = values[2];
  counts->dead = values[3];
  counts->paused = values[4] != 0;
  return code;
}

static void redis_close(visor_queue *base) {
  redis_queue *queue = (redis_queue *)base;
  const char *args[] = {queue->consumer};
  long long deleted;
  visor_error ignored;
  script_int(queue, VISOR_REDIS_FORGET_CONSUMER, 1, args, &deleted, &ignored);
  visor_redis_pool_free(queue->pool);
  free(queue);
}

static const visor_queue_ops redis_ops = {
    .enqueue = redis_enqueue,
    .lease = redis_lease,
    .extend = redis_extend,
    .ack = redis_ack,
    .retry = redis_retry,
    .bury = redis_bury,
    .cancel = redis_cancel,
    .set_paused = redis_set_paused,
    .counts = redis_counts,
    .close = redis_close,
};

/* SCRIPT LOAD of every script: checks that Redis answers and has Lua with cjson. */
static visor_code load_scripts(redis_queue *queue, visor_error *err) {
  visor_redis_conn *conn = visor_redis_acquire(queue->pool, err);
  if (!conn) return visor_db_acquire_failed(err);
  visor_code code = VISOR_OK;
  for (int i = 0; code == VISOR_OK && i < VISOR_REDIS_SCRIPT_COUNT; i++) {
    const char *argv[] = {"SCRIPT", "LOAD", visor_redis_scripts[i]};
    size_t lens[] = {6, 4, strlen(visor_redis_scripts[i])};
    redisReply *reply;
    code = visor_redis_call(queue->pool, conn, 3, argv, lens, &reply, err);
    if (code != VISOR_OK) break;
    if (!copy_reply(reply, queue->sha[i], sizeof queue->sha[i]))
      code = visor_error_set(err, VISOR_ERR_INTERNAL, "redis %s: SCRIPT LOAD gave no SHA",
                             visor_redis_pool_name(queue->pool));
    freeReplyObject(reply);
  }
  visor_redis_release(queue->pool, conn);
  return code;
}

visor_queue *visor_queue_redis_open(const char *url, visor_error *err) {
  visor_error scratch;
  if (!err) err = &scratch;
  redis_queue *queue = calloc(1, sizeof *queue);
  if (!queue) {
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  queue->base.ops = &redis_ops;
  if (visor_redis_parse_url(url, &queue->target, err) != VISOR_OK ||
      !(queue->pool = visor_redis_pool_new(&queue->target, err))) {
    free(queue);
    return NULL;
  }
  char host[64] = "host";
  gethostname(host, sizeof host - 1);
  host[sizeof host - 1] = '\0';
  snprintf(queue->consumer, sizeof queue->consumer, "%s:%ld:%d", host, (long)getpid(),
           atomic_fetch_add(&handle_counter, 1) + 1);
  if (load_scripts(queue, err) != VISOR_OK) {
    visor_error_wrap(err, "open queue %s", url);
    visor_redis_pool_free(queue->pool);
    free(queue);
    return NULL;
  }
  return &queue->base;
}
