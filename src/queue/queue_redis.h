/* queue_redis.h: internals shared by the files of the Redis queue backend: its URL,
 * its connection pool (queue_redis_conn.c) and its Lua scripts (queue_redis_scripts.c).
 * Only queue_redis*.c include it; the rest of Visor sees queue.h. */
#ifndef VISOR_QUEUE_QUEUE_REDIS_H
#define VISOR_QUEUE_QUEUE_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "core/error.h"

/* redis://[[user]:password@]host[:port][/db][?prefix=P] */
typedef struct visor_redis_target {
  char host[256];
  int port;
  int db;
  char user[128];
  char password[256];
  char prefix[128]; /* every key starts with "PREFIX:" */
} visor_redis_target;

visor_code visor_redis_parse_url(const char *url, visor_redis_target *target, visor_error *err);

/* One connection, used by one thread at a time. broken is set by visor_redis_call when the
 * connection failed (I/O error, timeout, protocol error): release then drops it. */
typedef struct visor_redis_conn {
  redisContext *ctx;
  int broken;
} visor_redis_conn;

typedef struct visor_redis_pool visor_redis_pool;

visor_redis_pool *visor_redis_pool_new(const visor_redis_target *target, visor_error *err);
/* An idle connection whose server closed it (a restart) is dropped here, so a call after
 * Redis comes back does not fail once per stale connection. A new connection connects
 * within VISOR_REDIS_CONNECT_MS and answers VISOR_ERR_UNAVAILABLE when Redis is down. */
visor_redis_conn *visor_redis_acquire(visor_redis_pool *pool, visor_error *err);
void visor_redis_release(visor_redis_pool *pool, visor_redis_conn *conn);
void visor_redis_pool_free(visor_redis_pool *pool);
/* "host:port" for messages. */
const char *visor_redis_pool_name(const visor_redis_pool *pool);

#define VISOR_REDIS_CONNECT_MS 1500
#define VISOR_REDIS_COMMAND_MS 3000

/* Sets how long the next replies may take (a blocking read needs its block time more). */
void visor_redis_set_timeout(visor_redis_conn *conn, long ms);
/* Runs one command. A server error reply gives VISOR_ERR_INTERNAL with its text (the
 * reply is freed); a failed connection gives VISOR_ERR_UNAVAILABLE and marks it broken.
 * On VISOR_OK the caller frees *reply with freeReplyObject. */
visor_code visor_redis_call(visor_redis_pool *pool, visor_redis_conn *conn, int argc,
                            const char **argv, const size_t *lens, redisReply **reply,
                            visor_error *err);

/* The Lua scripts, run with EVALSHA (EVAL when the server lost its script cache). Each
 * takes no KEYS and ARGV[1] = prefix; see queue_redis_scripts.c for the rest. */
typedef enum visor_redis_script {
  VISOR_REDIS_ENQUEUE,
  VISOR_REDIS_LEASE,
  VISOR_REDIS_EXTEND,
  VISOR_REDIS_ACK,
  VISOR_REDIS_RETRY,
  VISOR_REDIS_BURY,
  VISOR_REDIS_CANCEL,
  VISOR_REDIS_COUNTS,
  VISOR_REDIS_FORGET_CONSUMER,
  VISOR_REDIS_SCRIPT_COUNT
} visor_redis_script;

extern const char *const visor_redis_scripts[VISOR_REDIS_SCRIPT_COUNT];

#endif
