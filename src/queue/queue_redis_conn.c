/* queue_redis_conn.c: the Redis queue's URL parser and its connection pool. hiredis
 * contexts are not thread-safe, so each call takes one from the pool (or makes one:
 * connect with a timeout, AUTH, SELECT) and gives it back; a connection that failed is
 * closed instead, and the next call makes a new one: that is the whole reconnect logic. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "queue/queue_redis.h"

#define POOL_IDLE_MAX 16

struct visor_redis_pool {
  visor_redis_target target;
  char name[300];
  pthread_mutex_t lock;
  visor_redis_conn *idle[POOL_IDLE_MAX];
  size_t idle_count;
};

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Copies [from, to) into out (size bytes), decoding %XX; 0 when it does not fit. */
static int copy_decoded(const char *from, const char *to, char *out, size_t size) {
  size_t used = 0;
  for (const char *p = from; p < to; p++) {
    char c = *p;
    if (c == '%' && p + 2 < to && hex_value(p[1]) >= 0 && hex_value(p[2]) >= 0) {
      c = (char)(hex_value(p[1]) * 16 + hex_value(p[2]));
      p += 2;
    }
    if (used + 1 >= size) return 0;
    out[used++] = c;
  }
  out[used] = '\0';
  return 1;
}

static int parse_int(const char *from, const char *to, int min, int max, int *out) {
  if (from == to || to - from > 9) return 0;
  int value = 0;
  for (const char *p = from; p < to; p++) {
    if (*p < '0' || *p > '9') return 0;
    value = value * 10 + (*p - '0');
  }
  if (value < min || value > max) return 0;
  *out = value;
  return 1;
}

visor_code visor_redis_parse_url(const char *url, visor_redis_target *target, visor_error *err) {
  static const char scheme[] = "redis://";
  memset(target, 0, sizeof *target);
  target->port = 6379;
  snprintf(target->prefix, sizeof target->prefix, "visor");
  if (!url || strncmp(url, scheme, sizeof scheme - 1) != 0)
    return visor_error_set(err, VISOR_ERR_INVALID, "queue URL '%s' does not start with redis://",
                           url ? url : "");
  const char *p = url + sizeof scheme - 1;
  const char *end = p + strcspn(p, "/?");
  const char *at = memchr(p, '@', (size_t)(end - p));
  if (at) {
    const char *colon = memchr(p, ':', (size_t)(at - p));
    const char *user_end = colon ? colon : at;
    if (!copy_decoded(p, user_end, target->user, sizeof target->user) ||
        (colon && !copy_decoded(colon + 1, at, target->password, sizeof target->password)))
      return visor_error_set(err, VISOR_ERR_INVALID, "queue URL '%s': user or password too long",
                             url);
    if (!colon) { /* redis://password@host is how some tools write a bare password */
      snprintf(target->password, sizeof target->password, "%s", target->user);
      target->user[0] = '\0';
    }
    p = at + 1;
  }
  const char *host_end;
  if (*p == '[') { /* [IPv6] */
    const char *close = memchr(p, ']', (size_t)(end - p));
    if (!close) return visor_error_set(err, VISOR_ERR_INVALID, "queue URL '%s': bad host", url);
    if (!copy_decoded(p + 1, close, target->host, sizeof target->host))
      return visor_error_set(err, VISOR_ERR_INVALID, "queue URL '%s': host too long", url);
    host_end = close + 1;
  } else {
    host_end = memchr(p, ':', (size_t)(end - p));
    if (!host_end) host_end = end;
    if (!copy_decoded(p, host_end, target->host, sizeof target->host))
      return visor_error_set(err, VISOR_ERR_INVALID, "queue URL '%s': host too long", url);
  }
  if (!target->host[0]) snprintf(target->host, sizeof target->host, "127.0.0.1");
  if (host_end < end) {
    if (*host_end != ':' || !parse_int(host_end + 1, end, 1, 65535, &target->port))
      return visor_error_set(err, VISOR_ERR_INVALID, "queue URL '%s': bad port", url);
  }
  p = end;
  if (*p == '/') {
    const char *db_end = p + 1 + strcspn(p + 1, "?");
    if (db_end > p + 1 && !parse_int(p + 1, db_end, 0, 1000000, &target->db))
      return visor_error_set(err, VISOR_ERR_INVALID, "queue URL '%s': bad database number", url);
    p = db_end;
  }
  if (*p == '?') {
    p++;
    while (*p) {
      const char *amp = p + strcspn(p, "&");
      if (strncmp(p, "prefix=", 7) == 0) {
        if (amp == p + 7 || !copy_decoded(p + 7, amp, target->prefix, sizeof target->prefix) ||
            strpbrk(target->prefix, " \t\r\n"))
          return visor_error_set(err, VISOR_ERR_INVALID,
                                 "queue URL '%s': prefix must be 1 to %zu characters, no spaces",
                                 url, sizeof target->prefix - 1);
      } else {
        return visor_error_set(err, VISOR_ERR_INVALID,
                               "queue URL '%s': unknown parameter '%.*s' (known: prefix)", url,
                               (int)(amp - p), p);
      }
      p = *amp ? amp + 1 : amp;
    }
  }
  return VISOR_OK;
}

visor_redis_pool *visor_redis_pool_new(const visor_redis_target *target, visor_error *err) {
  visor_redis_pool *pool = calloc(1, sizeof *pool);
  if (!pool) {
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  pool->target = *target;
  snprintf(pool->name, sizeof pool->name, "%s:%d", target->host, target->port);
  pthread_mutex_init(&pool->lock, NULL);
  return pool;
}

const char *visor_redis_pool_name(const visor_redis_pool *pool) {
  return pool->name;
}

static struct timeval timeval_ms(long ms) {
  struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
  return tv;
}

void visor_redis_set_timeout(visor_redis_conn *conn, long ms) {
  if (redisSetTimeout(conn->ctx, timeval_ms(ms)) != REDIS_OK) conn->broken = 1;
}

static void conn_free(visor_redis_conn *conn) {
  if (!conn) return;
  if (conn->ctx) redisFree(conn->ctx);
  free(conn);
}

visor_code visor_redis_call(visor_redis_pool *pool, visor_redis_conn *conn, int argc,
                            const char **argv, const size_t *lens, redisReply **reply,
                            visor_error *err) {
  *reply = NULL;
  redisReply *got = redisCommandArgv(conn->ctx, argc, argv, lens);
  if (!got || conn->ctx->err) {
    conn->broken = 1;
    visor_code code =
        visor_error_set(err, VISOR_ERR_UNAVAILABLE, "redis %s: %s failed: %s", pool->name, argv[0],
                        conn->ctx->err ? conn->ctx->errstr : "no reply");
    if (got) freeReplyObject(got);
    return code;
  }
  if (got->type == REDIS_REPLY_ERROR) {
    visor_code code = visor_error_set(
        err, strncmp(got->str, "LOADING", 7) == 0 ? VISOR_ERR_UNAVAILABLE : VISOR_ERR_INTERNAL,
        "redis %s: %s: %s", pool->name, argv[0], got->str);
    freeReplyObject(got);
    return code;
  }
  *reply = got;
  return VISOR_OK;
}

static visor_code simple_command(visor_redis_pool *pool, visor_redis_conn *conn, int argc,
                                 const char **argv, visor_error *err) {
  size_t lens[3];
  for (int i = 0; i < argc; i++)
    lens[i] = strlen(argv[i]);
  redisReply *reply;
  visor_code code = visor_redis_call(pool, conn, argc, argv, lens, &reply, err);
  if (code == VISOR_OK) freeReplyObject(reply);
  return code;
}

static visor_redis_conn *conn_open(visor_redis_pool *pool, visor_error *err) {
  const visor_redis_target *target = &pool->target;
  visor_redis_conn *conn = calloc(1, sizeof *conn);
  if (!conn) {
    visor_error_set(err, VISOR_ERR_NOMEM, "out of memory");
    return NULL;
  }
  conn->ctx =
      redisConnectWithTimeout(target->host, target->port, timeval_ms(VISOR_REDIS_CONNECT_MS));
  if (!conn->ctx || conn->ctx->err) {
    visor_error_set(err, VISOR_ERR_UNAVAILABLE, "cannot connect to redis %s: %s", pool->name,
                    conn->ctx ? conn->ctx->errstr : "out of memory");
    conn_free(conn);
    return NULL;
  }
  visor_redis_set_timeout(conn, VISOR_REDIS_COMMAND_MS);
  visor_code code = VISOR_OK;
  if (target->password[0]) {
    const char *auth_user[] = {"AUTH", target->user, target->password};
    const char *auth[] = {"AUTH", target->password};
    code = target->user[0] ? simple_command(pool, conn, 3, auth_user, err)
                           : simple_command(pool, conn, 2, auth, err);
  }
  if (code == VISOR_OK && target->db != 0) {
    char db[16];
    snprintf(db, sizeof db, "%d", target->db);
    const char *select[] = {"SELECT", db};
    code = simple_command(pool, conn, 2, select, err);
  }
  if (code != VISOR_OK) {
    if (err && err->code == VISOR_ERR_INTERNAL) err->code = VISOR_ERR_INVALID; /* bad password */
    conn_free(conn);
    return NULL;
  }
  return conn;
}

/* Whether an idle connection was closed by the server: Redis sends nothing unasked, so
 * anything readable (EOF, a reset) means it is gone. */
static int conn_closed(const visor_redis_conn *conn) {
  struct pollfd fd = {.fd = conn->ctx->fd, .events = POLLIN};
  int ready;
  do {
    ready = poll(&fd, 1, 0);
  } while (ready < 0 && errno == EINTR);
  return ready != 0;
}

visor_redis_conn *visor_redis_acquire(visor_redis_pool *pool, visor_error *err) {
  for (;;) {
    visor_redis_conn *conn = NULL;
    pthread_mutex_lock(&pool->lock);
    if (pool->idle_count) conn = pool->idle[--pool->idle_count];
    pthread_mutex_unlock(&pool->lock);
    if (!conn) return conn_open(pool, err);
    if (!conn_closed(conn)) return conn;
    conn_free(conn);
  }
}

void visor_redis_release(visor_redis_pool *pool, visor_redis_conn *conn) {
  if (!conn) return;
  if (!conn->broken) {
    pthread_mutex_lock(&pool->lock);
    if (pool->idle_count < POOL_IDLE_MAX) {
      pool->idle[pool->idle_count++] = conn;
      conn = NULL;
    }
    pthread_mutex_unlock(&pool->lock);
  }
  conn_free(conn);
}

void visor_redis_pool_free(visor_redis_pool *pool) {
  if (!pool) return;
  for (size_t i = 0; i < pool->idle_count; i++)
    conn_free(pool->idle[i]);
  pthread_mutex_destroy(&pool->lock);
  free(pool);
}
