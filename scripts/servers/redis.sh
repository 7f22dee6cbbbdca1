#!/usr/bin/env bash
# redis.sh: a throwaway Redis 7 test server on 127.0.0.1 for Visor's queue tests.
# Subcommands: up | down | restart | status | url | flush.
#   up       installs redis-server (and libhiredis-dev) if missing, starts the server on
#            127.0.0.1:$VISOR_REDIS_PORT (default 56379) and prints its URL (last line).
#   down     SHUTDOWN (the AOF is written first) and waits until the port is closed.
#   restart  down then up, keeping data: the append-only file (appendfsync always) brings
#            the queue back, as the restart drills in the tests expect.
#   status   exit 0 when it answers PING.
#   url      prints redis://127.0.0.1:PORT/0 (tests add ?prefix=UNIQUE for an empty queue).
#   flush    FLUSHALL (every key of every db).
# State (AOF, pid file, log) under "${VISOR_CLUSTER_DIR:-$REPO/.cluster}/redis/".
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PORT="${VISOR_REDIS_PORT:-56379}"
STATE="${VISOR_CLUSTER_DIR:-$REPO/.cluster}/redis"

log() { echo "redis.sh: $*" >&2; }
url() { echo "redis://127.0.0.1:$PORT/0"; }
cli() { redis-cli -h 127.0.0.1 -p "$PORT" "$@"; }
answers() { [[ "$(cli ping 2>/dev/null)" == PONG ]]; }

install_if_missing() {
  if command -v redis-server >/dev/null && command -v redis-cli >/dev/null &&
    [[ -f /usr/include/hiredis/hiredis.h ]]; then
    return
  fi
  log "installing redis-server and libhiredis-dev"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends redis-server redis-tools libhiredis-dev >&2 ||
    { apt-get update >&2 &&
      apt-get install -y --no-install-recommends redis-server redis-tools libhiredis-dev >&2; }
}

cmd_up() {
  install_if_missing
  if answers; then
    url
    return
  fi
  mkdir -p "$STATE"
  log "starting redis-server on 127.0.0.1:$PORT (data in $STATE)"
  redis-server --port "$PORT" --bind 127.0.0.1 --dir "$STATE" --save '' \
    --appendonly yes --appendfsync always --daemonize yes \
    --pidfile "$STATE/redis.pid" --logfile "$STATE/redis.log" >&2
  for _ in $(seq 1 600); do # 60 s: a long AOF takes a while to load
    if answers; then
      url
      return
    fi
    sleep 0.1
  done
  log "redis-server did not answer within 60 s; log tail:"
  tail -n 30 "$STATE/redis.log" >&2 || true
  exit 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; }

cmd_down() {
  if ! port_open; then
    return
  fi
  cli shutdown >/dev/null 2>&1 || true
  for _ in $(seq 1 300); do # 30 s
    if ! port_open; then
      return
    fi
    sleep 0.1
  done
  log "redis-server on port $PORT did not stop within 30 s"
  exit 1
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  restart)
    cmd_down
    cmd_up
    ;;
  status) answers ;;
  url) url ;;
  flush)
    answers || { log "not running on port $PORT"; exit 1; }
    cli flushall >/dev/null
    ;;
  *)
    echo "usage: $0 up|down|restart|status|url|flush" >&2
    exit 2
    ;;
esac
