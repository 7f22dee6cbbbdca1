/* queue_redis_scripts.c: the Lua scripts of the Redis queue. Every change that touches
 * more than one key is one script, so it is atomic (and one MULTI/EXEC in the AOF). The
 * clock is the server's (TIME), so workers on machines whose clocks differ agree on when
 * a lease ends. The keys (P = the URL's prefix) and the task record are described at the
 * top of queue_redis.c. All scripts take ARGV[1] = P and no KEYS (a single Redis, not a
 * cluster). */
#include "queue/queue_redis.h"

#define PRELUDE                                                                                    \
  "local P, G = ARGV[1], 'workers'\n"                                                              \
  "local TASKS, DELAYED, DEAD, KINDS = P..':tasks', P..':delayed', P..':dead', P..':kinds'\n"      \
  "local function now_ms()\n"                                                                      \
  "  local t = redis.call('TIME')\n"                                                               \
  "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"                           \
  "end\n"                                                                                          \
  "local function stream(kind) return P..':stream:'..kind end\n"                                   \
  "local function leases(kind) return P..':leases:'..kind end\n"                                   \
  "local function load(id)\n"                                                                      \
  "  local v = redis.call('HGET', TASKS, id)\n"                                                    \
  "  if v then return cjson.decode(v) end\n"                                                       \
  "  return nil\n"                                                                                 \
  "end\n"                                                                                          \
  "local function save(id, r) redis.call('HSET', TASKS, id, cjson.encode(r)) end\n"                \
  "local function ensure(kind)\n"                                                                  \
  "  local s = stream(kind)\n"                                                                     \
  "  if redis.call('EXISTS', s) == 0 then\n"                                                       \
  "    redis.call('XGROUP', 'CREATE', s, G, '0', 'MKSTREAM')\n"                                    \
  "    redis.call('SADD', KINDS, kind)\n"                                                          \
  "  end\n"                                                                                        \
  "  return s\n"                                                                                   \
  "end\n"                                                                                          \
  "local function push(id, r)\n" /* ready: a new stream entry */                                   \
  "  r.s, r.t = 'ready', ''\n"                                                                     \
  "  r.e = redis.call('XADD', ensure(r.k), '*', 'id', id)\n"                                       \
  "  save(id, r)\n"                                                                                \
  "end\n"                                                                                          \
  "local function hold(id, r, due)\n" /* delayed until due */                                      \
  "  r.s, r.e, r.t = 'delayed', '', ''\n"                                                          \
  "  redis.call('ZADD', DELAYED, due, id)\n"                                                       \
  "  save(id, r)\n"                                                                                \
  "end\n"                                                                                          \
  "local function drop(id, r)\n" /* out of its stream and its lease */                             \
  "  if r.e ~= '' then\n"                                                                          \
  "    redis.call('XACK', stream(r.k), G, r.e)\n"                                                  \
  "    redis.call('XDEL', stream(r.k), r.e)\n"                                                     \
  "  end\n"                                                                                        \
  "  redis.call('ZREM', leases(r.k), id)\n"                                                        \
  "end\n"                                                                                          \
  "local function holds(r, token) return r ~= nil and r.s == 'leased' and r.t == token end\n"

/* ARGV: P, id, kind, delay_ms → 1 added (or revived), 0 already there. */
static const char enqueue_script[] =
    PRELUDE "local id, kind, delay = ARGV[2], ARGV[3], tonumber(ARGV[4])\n"
            "local r = load(id)\n"
            "if r and r.s ~= 'dead' then return 0 end\n"
            "redis.call('HDEL', DEAD, id)\n"
            "ensure(kind)\n"
            "r = {k = kind, d = 0, s = '', e = '', t = '', x = ''}\n"
            "if delay > 0 then hold(id, r, now_ms() + delay) else push(id, r) end\n"
            "return 1\n";

/* ARGV: P, consumer, visibility_ms, nonce, kind... → {'paused'} | {'task', id, kind,
 * deliveries, token} | {'none', wake_ms, last-delivered id per kind}: wake_ms is when a
 * delayed task is due or a lease of these kinds ends (-1: nothing), and the ids are where a
 * blocking XREAD waits for new entries. Order: the kinds in the caller's order (its
 * priority); within a kind, an expired lease first (its owner stopped heartbeating), then
 * the oldest undelivered entry of its stream. */
static const char lease_script[] = PRELUDE
    "local consumer, vis, nonce = ARGV[2], tonumber(ARGV[3]), ARGV[4]\n"
    "if redis.call('EXISTS', P..':paused') == 1 then return {'paused'} end\n"
    "local now = now_ms()\n"
    "for _, id in ipairs(redis.call('ZRANGEBYSCORE', DELAYED, '-inf', now, 'LIMIT', 0, 100)) do\n"
    "  redis.call('ZREM', DELAYED, id)\n"
    "  local r = load(id)\n"
    "  if r and r.s == 'delayed' then push(id, r) end\n"
    "end\n"
    "local kinds = {}\n"
    "for i = 5, #ARGV do kinds[#kinds + 1] = ARGV[i] end\n"
    "local function grant(id, r)\n"
    "  r.s, r.d = 'leased', r.d + 1\n"
    "  r.t = r.d..':'..nonce\n"
    "  redis.call('ZADD', leases(r.k), now + vis, id)\n"
    "  save(id, r)\n"
    "  return {'task', id, r.k, tostring(r.d), r.t}\n"
    "end\n"
    "local function expired(kind, s)\n"
    "  for _ = 1, 16 do\n"
    "    local ids = redis.call('ZRANGEBYSCORE', leases(kind), '-inf', now, 'LIMIT', 0, 1)\n"
    "    if #ids == 0 then return nil end\n"
    "    local id = ids[1]\n"
    "    redis.call('ZREM', leases(kind), id)\n"
    "    local r = load(id)\n"
    "    if r and r.s == 'leased' and r.k == kind then\n"
    /* XCLAIM moves the pending entry to this consumer and counts a delivery */
    "      if #redis.call('XCLAIM', s, G, consumer, 0, r.e) > 0 then return grant(id, r) end\n"
    "      push(id, r)\n" /* its entry was lost: a new one */
    "    end\n"
    "  end\n"
    "  return nil\n"
    "end\n"
    "local function last_delivered(s)\n"
    "  for _, g in ipairs(redis.call('XINFO', 'GROUPS', s)) do\n"
    "    local name, last\n"
    "    for i = 1, #g, 2 do\n"
    "      if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then last = "
    "g[i + 1] end\n"
    "    end\n"
    "    if name == G then return last end\n"
    "  end\n"
    "  redis.call('XGROUP', 'CREATE', s, G, '0')\n"
    "  return '0-0'\n"
    "end\n"
    "local function ready(kind, s)\n"
    "  for _ = 1, 16 do\n"
    "    local e = redis.call('XRANGE', s, '('..last_delivered(s), '+', 'COUNT', 1)\n"
    "    if #e == 0 then return nil end\n"
    "    local got = redis.call('XREADGROUP', 'GROUP', G, consumer, 'COUNT', 1, 'STREAMS', s, "
    "'>')\n"
    "    local entry = got[1][2][1]\n"
    "    local id = entry[2][2]\n"
    "    local r = load(id)\n"
    "    if r and r.s == 'ready' and r.e == entry[1] and r.k == kind then return grant(id, r) "
    "end\n"
    "    redis.call('XACK', s, G, entry[1])\n" /* an entry no task points at: drop it */
    "    redis.call('XDEL', s, entry[1])\n"
    "  end\n"
    "  return nil\n"
    "end\n"
    "local lasts = {}\n"
    "for i, kind in ipairs(kinds) do\n"
    "  local s = ensure(kind)\n"
    "  local t = expired(kind, s) or ready(kind, s)\n"
    "  if t then return t end\n"
    "  lasts[i] = last_delivered(s)\n"
    "end\n"
    "local wake = -1\n"
    "local function sooner(score)\n"
    "  if score then\n"
    "    local d = math.max(0, tonumber(score) - now)\n"
    "    if wake < 0 or d < wake then wake = d end\n"
    "  end\n"
    "end\n"
    "sooner(redis.call('ZRANGE', DELAYED, 0, 0, 'WITHSCORES')[2])\n"
    "for _, kind in ipairs(kinds) do\n"
    "  sooner(redis.call('ZRANGE', leases(kind), 0, 0, 'WITHSCORES')[2])\n"
    "end\n"
    "local reply = {'none', wake}\n"
    "for i = 1, #kinds do reply[#reply + 1] = lasts[i] end\n"
    "return reply\n";

/* ARGV: P, id, token, visibility_ms, consumer → 1, or 0 when the lease is not held. The
 * XCLAIM (no delivery counted) resets the entry's idle time, so XPENDING shows the time
 * since the last heartbeat. */
static const char extend_script[] =
    PRELUDE "local id, token, vis, consumer = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]\n"
            "local r = load(id)\n"
            "if not holds(r, token) then return 0 end\n"
            "redis.call('ZADD', leases(r.k), now_ms() + vis, id)\n"
            "redis.call('XCLAIM', stream(r.k), G, consumer, 0, r.e, 'JUSTID')\n"
            "return 1\n";

/* ARGV: P, id, token → 1 | 0 (not held). */
static const char ack_script[] = PRELUDE "local id, token = ARGV[2], ARGV[3]\n"
                                         "local r = load(id)\n"
                                         "if not holds(r, token) then return 0 end\n"
                                         "drop(id, r)\n"
                                         "redis.call('HDEL', TASKS, id)\n"
                                         "return 1\n";

/* ARGV: P, id, token, delay_ms, error → 1 | 0 (not held). */
static const char retry_script[] =
    PRELUDE "local id, token, delay = ARGV[2], ARGV[3], tonumber(ARGV[4])\n"
            "local r = load(id)\n"
            "if not holds(r, token) then return 0 end\n"
            "drop(id, r)\n"
            "r.x = ARGV[5]\n"
            "if delay > 0 then hold(id, r, now_ms() + delay) else push(id, r) end\n"
            "return 1\n";

/* ARGV: P, id, token, error → 1 | 0 (not held). */
static const char bury_script[] = PRELUDE "local id, token = ARGV[2], ARGV[3]\n"
                                          "local r = load(id)\n"
                                          "if not holds(r, token) then return 0 end\n"
                                          "drop(id, r)\n"
                                          "r.s, r.e, r.t, r.x = 'dead', '', '', ARGV[4]\n"
                                          "save(id, r)\n"
                                          "redis.call('HSET', DEAD, id, r.k..'\\t'..ARGV[4])\n"
                                          "return 1\n";

/* ARGV: P, id → 1 removed | 0 (unknown, or leased and the lease still runs). */
static const char cancel_script[] =
    PRELUDE "local id = ARGV[2]\n"
            "local r = load(id)\n"
            "if not r then return 0 end\n"
            "if r.s == 'leased' then\n"
            "  local ends = redis.call('ZSCORE', leases(r.k), id)\n"
            "  if ends and tonumber(ends) > now_ms() then return 0 end\n"
            "end\n"
            "drop(id, r)\n"
            "redis.call('ZREM', DELAYED, id)\n"
            "redis.call('HDEL', DEAD, id)\n"
            "redis.call('HDEL', TASKS, id)\n"
            "return 1\n";

/* ARGV: P → {ready, delayed, leased, dead, paused}, exact at one instant: ready = entries
 * not delivered + leases that ran out + delayed tasks already due. */
static const char counts_script[] = PRELUDE
    "local now = now_ms()\n"
    "local ready, leased = 0, 0\n"
    "for _, kind in ipairs(redis.call('SMEMBERS', KINDS)) do\n"
    "  local s = stream(kind)\n"
    "  local pending = redis.call('XPENDING', s, G)[1]\n"
    "  ready = ready + redis.call('XLEN', s) - pending + redis.call('ZCOUNT', leases(kind), "
    "'-inf', now)\n"
    "  leased = leased + redis.call('ZCOUNT', leases(kind), '('..now, '+inf')\n"
    "end\n"
    "ready = ready + redis.call('ZCOUNT', DELAYED, '-inf', now)\n"
    "return {ready, redis.call('ZCOUNT', DELAYED, '('..now, '+inf'), leased, "
    "redis.call('HLEN', DEAD), redis.call('EXISTS', P..':paused')}\n";

/* ARGV: P, consumer → number of consumers deleted: this one and any other idle for an
 * hour, when they hold no pending entry (DELCONSUMER would drop those). */
static const char forget_consumer_script[] =
    PRELUDE "local deleted = 0\n"
            "for _, kind in ipairs(redis.call('SMEMBERS', KINDS)) do\n"
            "  local s = stream(kind)\n"
            "  for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', s, G)) do\n"
            "    local name, pending, idle\n"
            "    for i = 1, #c, 2 do\n"
            "      if c[i] == 'name' then name = c[i + 1] elseif c[i] == 'pending' then pending = "
            "c[i + 1]\n"
            "      elseif c[i] == 'idle' then idle = c[i + 1] end\n"
            "    end\n"
            "    if pending == 0 and (name == ARGV[2] or idle > 3600000) then\n"
            "      redis.call('XGROUP', 'DELCONSUMER', s, G, name)\n"
            "      deleted = deleted + 1\n"
            "    end\n"
            "  end\n"
            "end\n"
            "return deleted\n";

const char *const visor_redis_scripts[VISOR_REDIS_SCRIPT_COUNT] = {
    [VISOR_REDIS_ENQUEUE] = enqueue_script,
    [VISOR_REDIS_LEASE] = lease_script,
    [VISOR_REDIS_EXTEND] = extend_script,
    [VISOR_REDIS_ACK] = ack_script,
    [VISOR_REDIS_RETRY] = retry_script,
    [VISOR_REDIS_BURY] = bury_script,
    [VISOR_REDIS_CANCEL] = cancel_script,
    [VISOR_REDIS_COUNTS] = counts_script,
    [VISOR_REDIS_FORGET_CONSUMER] = forget_consumer_script,
};
