#!/usr/bin/env bash
# cluster.sh: a local cluster for development and tests, on 127.0.0.1 only.
#   up [--visor]   installs what is missing and starts every test server this checkout has a
#                  script for (scripts/servers/*.sh: PostgreSQL, Redis, S3, Chroma); with
#                  --visor also `visor ml`, `visor api` and two `visor worker` over them
#                  (built in ./build), ports VISOR_CLUSTER_API_PORT (58080) and up.
#   down           stops the Visor processes, then the servers.
#   status         says what is up.
#   urls           prints NAME=URL for each server that is up.
# State lives in ${VISOR_CLUSTER_DIR:-./.cluster}. Servers are started as children of their
# scripts and stopped by their own stop commands.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export VISOR_CLUSTER_DIR="${VISOR_CLUSTER_DIR:-$REPO/.cluster}"
SERVERS=(postgres redis s3 chroma)
VISOR_BIN="${VISOR_BIN:-$REPO/build/src/cli/visor}"
API_PORT="${VISOR_CLUSTER_API_PORT:-58080}"
RUN="$VISOR_CLUSTER_DIR/visor"

log() { echo "cluster.sh: $*" >&2; }
have() { [[ -x "$REPO/scripts/servers/$1.sh" ]]; }
server() { "$REPO/scripts/servers/$1.sh" "${@:2}"; }

url_of() { server "$1" url; } # NAME: the server's URL for Visor

visor_env() { # the backend URLs of the cluster's Visor processes
  echo "VISOR_METADATA=$(url_of postgres)"
  have redis && echo "VISOR_QUEUE=$(url_of redis)"
  if have s3; then
    echo "VISOR_OBJECTS=$(url_of s3)"
    server s3 env 2>/dev/null || true
  else
    echo "VISOR_OBJECTS=file://$RUN/blobs"
  fi
  if have chroma; then echo "VISOR_VECTORS=$(url_of chroma)"; else echo "VISOR_VECTORS=hnsw://$RUN/vectors"; fi
  echo "VISOR_ML=http://127.0.0.1:$((API_PORT + 10))"
  echo "VISOR_MODELS=${VISOR_MODELS:-${VISOR_SHARED_DIR:-$REPO/../shared}/models}"
  echo "VISOR_DATA_DIR=$RUN/data"
}

start_visor() { # NAME ARGS...: starts one Visor process in the background, waits for /healthz
  local name=$1 port=$2
  shift 2
  mkdir -p "$RUN"
  (set -a && eval "$(visor_env)" && exec "$VISOR_BIN" "$@" --port "$port" --host 127.0.0.1) \
    >"$RUN/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
  for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null || break
    sleep 0.1
  done
  log "$name did not come up; its log:"
  tail -20 "$RUN/$name.log" >&2
  return 1
}

stop_visor() {
  for pidfile in "$RUN"/*.pid; do
    [[ -f "$pidfile" ]] || continue
    local pid
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

case "${1:-}" in
up)
  for name in "${SERVERS[@]}"; do
    have "$name" || continue
    log "starting $name"
    server "$name" up >/dev/null
  done
  if [[ "${2:-}" == "--visor" ]]; then
    [[ -x "$VISOR_BIN" ]] || { log "build Visor first (make build)"; exit 1; }
    (set -a && eval "$(visor_env)" && "$VISOR_BIN" migrate) >&2
    start_visor ml $((API_PORT + 10)) ml
    start_visor api "$API_PORT" api
    workers=1
    have chroma && workers=2 # hnsw:// belongs to one process; two need a shared vector server
    for i in $(seq 1 "$workers"); do start_visor "worker$i" $((API_PORT + 20 + i)) worker --concurrency 2; done
    echo "Visor cluster: http://127.0.0.1:$API_PORT/ (ml :$((API_PORT + 10)), $workers worker(s))"
  fi
  ;;
down)
  stop_visor
  for name in "${SERVERS[@]}"; do have "$name" && server "$name" down >/dev/null 2>&1 || true; done
  ;;
status)
  for name in "${SERVERS[@]}"; do
    have "$name" || continue
    if server "$name" status >/dev/null 2>&1; then echo "$name: up ($(url_of "$name"))"; else echo "$name: down"; fi
  done
  for pidfile in "$RUN"/*.pid; do
    [[ -f "$pidfile" ]] || continue
    n=$(basename "$pidfile" .pid)
    if kill -0 "$(cat "$pidfile")" 2>/dev/null; then echo "visor $n: up"; else echo "visor $n: down"; fi
  done
  ;;
urls)
  for name in "${SERVERS[@]}"; do
    have "$name" && server "$name" status >/dev/null 2>&1 && echo "$name=$(url_of "$name")"
  done
  ;;
*)
  echo "usage: scripts/cluster.sh up [--visor] | down | status | urls" >&2
  exit 2
  ;;
esac
