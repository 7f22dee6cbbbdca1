#!/usr/bin/env bash
# postgres.sh: a throwaway PostgreSQL 15 test server on 127.0.0.1 for Visor's metadata tests.
# Subcommands: up | down | restart | status | url | newdb NAME.
#   up       installs postgresql-15 + libpq-dev if missing, creates the cluster (first time),
#            starts it on 127.0.0.1:$VISOR_PG_PORT and creates database `visor`; prints its URL.
#   down     stops it (fast shutdown) and waits until it is gone.
#   restart  down then up, keeping data.
#   newdb N  drops and recreates an empty database N and prints its URL (tests need empty ones).
#   freeze / thaw  SIGSTOP / SIGCONT the server's processes (a server that stops answering,
#            for the outage test; the port stays open).
# initdb refuses root, so the server runs as the `postgres` user on a data dir and socket dir
# it owns, under "${VISOR_CLUSTER_DIR:-$REPO/.cluster}/postgres/". fsync=off: tests only.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PORT="${VISOR_PG_PORT:-55432}"
STATE="${VISOR_CLUSTER_DIR:-$REPO/.cluster}/postgres"
BIN=/usr/lib/postgresql/15/bin
PGUSER_OS=postgres

log() { echo "postgres.sh: $*" >&2; }
as_pg() { runuser -u "$PGUSER_OS" -- "$@"; }
url_for() { echo "postgres://postgres@127.0.0.1:$PORT/$1"; }

install_if_missing() {
  if [[ -x "$BIN/initdb" && -x "$BIN/pg_ctl" ]] && command -v psql >/dev/null &&
    [[ -f /usr/include/postgresql/libpq-fe.h ]]; then
    return
  fi
  log "installing postgresql-15 and libpq-dev"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends postgresql-15 libpq-dev >&2 ||
    { apt-get update >&2 && apt-get install -y --no-install-recommends postgresql-15 libpq-dev >&2; }
}

# The state folder must be reachable by the postgres user; if a parent is not traversable
# (e.g. a 0700 home), fall back to /tmp/visor-cluster-pg-PORT.
choose_state() {
  mkdir -p "$STATE"
  if ! runuser -u "$PGUSER_OS" -- test -x "$STATE" 2>/dev/null; then
    STATE="/tmp/visor-cluster-pg-$PORT"
    log "the cluster folder is not reachable by user postgres; using $STATE"
    mkdir -p "$STATE"
  fi
  chown "$PGUSER_OS:" "$STATE"
  chmod 0755 "$STATE"
  DATA="$STATE/data"
  SOCK="$STATE/socket"
  LOG="$STATE/server.log"
}

answers() {
  as_pg "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" -t 2 2>/dev/null
}

psql_admin() {
  PGOPTIONS="-c client_min_messages=warning" as_pg psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d postgres "$@"
}

create_db() { # NAME [drop-first]
  local name="$1"
  [[ "$name" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { log "bad database name '$name'"; exit 2; }
  if [[ "${2:-}" == drop ]]; then
    psql_admin -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >&2
  fi
  if [[ -z "$(psql_admin -tA -c "SELECT 1 FROM pg_database WHERE datname = '$name'")" ]]; then
    psql_admin -c "CREATE DATABASE \"$name\"" >&2
  fi
}

cmd_up() {
  install_if_missing
  choose_state
  if answers; then
    create_db visor
    url_for visor
    return
  fi
  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    log "initdb in $DATA"
    rm -rf "$DATA"
    mkdir -p "$DATA"
    chown "$PGUSER_OS:" "$DATA"
    as_pg "$BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --no-locale >"$STATE/initdb.log" 2>&1 ||
      { tail -n 20 "$STATE/initdb.log" >&2; exit 1; }
  fi
  mkdir -p "$SOCK"
  chown "$PGUSER_OS:" "$SOCK"
  touch "$LOG"
  chown "$PGUSER_OS:" "$LOG"
  log "starting on 127.0.0.1:$PORT"
  if ! as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
    -o "-p $PORT -k $SOCK -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >&2; then
    tail -n 30 "$LOG" >&2
    exit 1
  fi
  for _ in $(seq 1 60); do
    answers && break
    sleep 1
  done
  answers || { log "server does not answer after 60 s"; tail -n 30 "$LOG" >&2; exit 1; }
  create_db visor
  url_for visor
}

cmd_down() {
  choose_state
  if [[ -f "$DATA/PG_VERSION" ]] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >&2 || true
  fi
  for _ in $(seq 1 30); do
    answers || return 0
    sleep 1
  done
  log "server still answers on port $PORT after 30 s"
  exit 1
}

# The postmaster and its children (backends, background workers).
server_pids() {
  local pid
  pid="$(head -n 1 "$DATA/postmaster.pid" 2>/dev/null || true)"
  [[ -n "$pid" ]] || { log "no postmaster.pid in $DATA"; exit 1; }
  echo "$pid"
  pgrep -P "$pid" || true
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
restart)
  cmd_down
  cmd_up
  ;;
status) choose_state >/dev/null 2>&1; answers ;;
url) url_for visor ;;
newdb)
  [[ -n "${2:-}" ]] || { echo "usage: $0 newdb NAME" >&2; exit 2; }
  choose_state
  answers || { log "server is not up (run: $0 up)"; exit 1; }
  create_db "$2" drop
  url_for "$2"
  ;;
freeze)
  choose_state
  # shellcheck disable=SC2046
  kill -STOP $(server_pids)
  ;;
thaw)
  choose_state
  # shellcheck disable=SC2046
  kill -CONT $(server_pids)
  ;;
*)
  echo "usage: $0 up|down|restart|status|url|newdb NAME|freeze|thaw" >&2
  exit 2
  ;;
esac
