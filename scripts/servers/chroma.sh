#!/usr/bin/env bash
# chroma.sh: a ChromaDB test server on 127.0.0.1 for Visor's chroma:// vector store tests.
# Subcommands: up | down | restart | status | url.
#   up       installs the npm pin in tests/servers/chroma (npm ci, once; the native binding
#            is stripped of debug info: 418 MB -> 54 MB), starts
#            `chroma run` on 127.0.0.1:$VISOR_CHROMA_PORT (default 58000) with its data under
#            "${VISOR_CLUSTER_DIR:-$REPO/.cluster}/chroma/", waits (60 s at most) for
#            GET /api/v2/heartbeat, and prints the URL Visor uses as the last line.
#   down     stops it (SIGTERM, then SIGKILL after 20 s) and waits until the port is closed.
#   restart  down then up, keeping data.
#   status   exit 0 if the server answers the heartbeat.
#   url      prints chroma://127.0.0.1:PORT/visor_test/visor_test.
# The pin (chromadb 3.0.14, bindings 1.0.5) is the newest that runs on glibc 2.36.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PORT="${VISOR_CHROMA_PORT:-58000}"
STATE="${VISOR_CLUSTER_DIR:-$REPO/.cluster}/chroma"
PKG="$REPO/tests/servers/chroma"
CHROMA="$PKG/node_modules/.bin/chroma"
LOG="$STATE/server.log"
PIDFILE="$STATE/server.pid"
HEARTBEAT="http://127.0.0.1:$PORT/api/v2/heartbeat"

log() { echo "chroma.sh: $*" >&2; }
url() { echo "chroma://127.0.0.1:$PORT/visor_test/visor_test"; }

answers() { curl -fsS -m 2 "$HEARTBEAT" >/dev/null 2>&1; }

install_if_missing() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null || ! command -v curl >/dev/null; then
    log "installing nodejs, npm and curl"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends nodejs npm curl ca-certificates >&2 ||
      { apt-get update >&2 && apt-get install -y --no-install-recommends nodejs npm curl ca-certificates >&2; }
  fi
  if [[ ! -x "$CHROMA" ]]; then
    log "npm ci in $PKG"
    (cd "$PKG" && npm ci --no-audit --no-fund --loglevel=error >&2)
    if command -v strip >/dev/null; then
      find "$PKG/node_modules" -name '*.node' -exec strip --strip-debug {} + 2>/dev/null || true
    fi
  fi
}

cmd_up() {
  if answers; then
    url
    return
  fi
  install_if_missing
  mkdir -p "$STATE/data"
  log "starting on 127.0.0.1:$PORT (data in $STATE/data)"
  # setsid: its own session, so the server outlives this script and `down` can stop it.
  setsid "$CHROMA" run --path "$STATE/data" --host 127.0.0.1 --port "$PORT" \
    </dev/null >"$LOG" 2>&1 &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 120); do
    answers && { url; return; }
    sleep 0.5
  done
  log "server does not answer $HEARTBEAT after 60 s; log tail:"
  tail -n 30 "$LOG" >&2
  exit 1
}

# The pid of the process listening on PORT (the pidfile may be stale after a reboot).
listener_pid() {
  ss -Htlnp "sport = :$PORT" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1
}

port_open() { [[ -n "$(ss -Htln "sport = :$PORT" 2>/dev/null)" ]]; }

cmd_down() {
  local pid=""
  [[ -f "$PIDFILE" ]] && pid="$(cat "$PIDFILE")"
  local listener
  listener="$(listener_pid || true)"
  [[ -n "$listener" ]] && pid="$listener"
  if [[ -n "$pid" ]]; then kill -TERM "$pid" 2>/dev/null || true; fi
  for i in $(seq 1 40); do
    if ! port_open && ! answers; then
      rm -f "$PIDFILE"
      return 0
    fi
    if ((i == 40)) && [[ -n "$pid" ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
    sleep 0.5
  done
  sleep 1
  if port_open; then
    log "server still listens on port $PORT"
    exit 1
  fi
  rm -f "$PIDFILE"
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
*)
  echo "usage: $0 up|down|restart|status|url" >&2
  exit 2
  ;;
esac
