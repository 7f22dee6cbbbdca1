#!/usr/bin/env bash
# s3.sh: a throwaway S3 test server for Visor's object store tests: Ceph radosgw over a
# one-monitor, one-OSD Ceph cluster whose OSD keeps its objects in memory (memstore; saved
# to disk on a clean stop, so `restart` keeps data). radosgw checks SigV4 fully.
# Subcommands: up | down | restart | reset | status | url | env.
#   up       installs radosgw ceph-mon ceph-osd ceph-common if missing, creates the cluster
#            and the test user (first time), starts mon + osd + radosgw on 127.0.0.1, waits
#            until radosgw answers; prints the s3:// URL as the last line of stdout and the
#            key variables to export on stderr.
#   down     stops radosgw, the OSD and the monitor (in that order) and waits until gone.
#   restart  down then up, keeping data.
#   reset    down, then deletes the cluster's state (the next up creates a new one); for a
#            cluster that cannot start after an unclean stop (memstore lost its data).
#   status   exit 0 if radosgw answers.
#   url      prints the URL.
#   env      prints the test keys as NAME=VALUE lines (`export $(s3.sh env)`).
# State under "${VISOR_CLUSTER_DIR:-$REPO/.cluster}/s3/". Ports: VISOR_S3_PORT (radosgw,
# 57480), VISOR_CEPH_MON_PORT (monitor, 56789); the OSD binds in 56800-56899.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PORT="${VISOR_S3_PORT:-57480}"
MON_PORT="${VISOR_CEPH_MON_PORT:-56789}"
STATE="${VISOR_CLUSTER_DIR:-$REPO/.cluster}/s3"
CONF="$STATE/ceph.conf"
BUCKET=visor-test
ACCESS_KEY=VISORTESTACCESSKEY01
SECRET_KEY=visor-test-secret-key-0123456789abcdef
WAIT_SECONDS=90

log() { echo "s3.sh: $*" >&2; }
url() { echo "s3://$BUCKET?endpoint=http://127.0.0.1:$PORT&region=us-east-1&path_style=1"; }
ceph_cli() { timeout 20 ceph -c "$CONF" --connect-timeout 10 "$@"; }

install_if_missing() {
  if command -v radosgw >/dev/null && command -v ceph-mon >/dev/null &&
    command -v ceph-osd >/dev/null && command -v ceph >/dev/null; then
    return
  fi
  log "installing radosgw ceph-mon ceph-osd ceph-common"
  export DEBIAN_FRONTEND=noninteractive
  local pkgs=(radosgw ceph-mon ceph-osd ceph-common)
  apt-get install -y --no-install-recommends "${pkgs[@]}" >&2 ||
    { apt-get update >&2 && apt-get install -y --no-install-recommends "${pkgs[@]}" >&2; }
}

# radosgw answers an anonymous GET / with 200 (an empty bucket list).
answers() {
  curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$PORT/" 2>/dev/null | grep -q '^200$'
}

# A pid is alive while /proc has it and it is not a zombie (PID 1 here does not reap).
alive() {
  local pid="$1" state
  [[ -n "$pid" && -r "/proc/$pid/stat" ]] || return 1
  state="$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

pid_of() { cat "$STATE/run/$1.pid" 2>/dev/null || true; }
daemon_alive() { alive "$(pid_of "$1")"; }

write_conf() {
  mkdir -p "$STATE"/{mon,osd,run,log}
  cat >"$CONF" <<EOF
[global]
fsid = $(cat "$STATE/fsid")
mon host = [v2:127.0.0.1:$MON_PORT]
public addr = 127.0.0.1
ms bind ipv4 = true
ms bind ipv6 = false
ms bind port min = 56800
ms bind port max = 56899
ms mon client mode = crc
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail warn = 5
mon data avail crit = 1
osd objectstore = memstore
memstore device bytes = 1073741824
osd fast shutdown = false
run dir = $STATE/run
pid file = $STATE/run/\$name.pid
admin socket = $STATE/run/\$name.asok
log file = $STATE/log/\$name.log
mon data = $STATE/mon/\$cluster-\$id
osd data = $STATE/osd/\$cluster-\$id
keyring = $STATE/keyring
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
rgw data = $STATE/rgw
rgw enable usage log = false
rgw dynamic resharding = false
# Free deleted objects' data within seconds, not hours: the OSD keeps it in memory.
rgw gc obj min wait = 5
rgw gc processor period = 5
rgw gc processor max time = 5
EOF
}

wait_for() { # DESCRIPTION COMMAND...
  local what="$1" deadline=$((SECONDS + WAIT_SECONDS))
  shift
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS > deadline)); then
      log "$what did not come up within ${WAIT_SECONDS}s; log tail:"
      tail -n 30 "$STATE"/log/*.log >&2 2>/dev/null || true
      log "after an unclean stop the in-memory OSD may have lost its data: run '$0 reset', then up"
      exit 1
    fi
    sleep 0.2
  done
}

start_mon() {
  if [[ ! -f "$STATE/mon/ceph-a/done.visor" ]]; then
    log "creating the monitor"
    rm -rf "$STATE/mon/ceph-a"
    monmaptool --create --fsid "$(cat "$STATE/fsid")" --addv a "[v2:127.0.0.1:$MON_PORT]" \
      "$STATE/monmap" >&2
    ceph-mon -c "$CONF" --mkfs -i a --monmap "$STATE/monmap" >&2
    touch "$STATE/mon/ceph-a/done.visor"
  fi
  daemon_alive mon.a || ceph-mon -c "$CONF" -i a >&2
  wait_for "the monitor" ceph_cli mon stat
}

start_osd() {
  if [[ ! -f "$STATE/osd/ceph-0/done.visor" ]]; then
    log "creating the OSD"
    local uuid id
    uuid="$(uuidgen)"
    id="$(ceph_cli osd new "$uuid")"
    [[ "$id" == 0 ]] || { log "expected OSD id 0, got '$id'"; exit 1; }
    rm -rf "$STATE/osd/ceph-0"
    mkdir -p "$STATE/osd/ceph-0"
    ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$uuid" >&2 2>"$STATE/log/osd-mkfs.out" ||
      { cat "$STATE/log/osd-mkfs.out" >&2; exit 1; }
    touch "$STATE/osd/ceph-0/done.visor"
  fi
  daemon_alive osd.0 || ceph-osd -c "$CONF" -i 0 >&2
}

start_rgw() {
  daemon_alive client.rgw.a || radosgw -c "$CONF" -n client.rgw.a >&2
  wait_for "radosgw on 127.0.0.1:$PORT" answers
}

create_user() {
  [[ -f "$STATE/user.visor" ]] && return
  radosgw-admin -c "$CONF" user create --uid=visor-test --display-name="Visor tests" \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >/dev/null
  touch "$STATE/user.visor"
}

print_env() { printf 'VISOR_S3_ACCESS_KEY=%s\nVISOR_S3_SECRET_KEY=%s\n' "$ACCESS_KEY" "$SECRET_KEY"; }

cmd_up() {
  if answers; then
    url
    return
  fi
  install_if_missing
  local started=$SECONDS
  mkdir -p "$STATE"
  [[ -s "$STATE/fsid" ]] || uuidgen >"$STATE/fsid"
  write_conf
  for f in "$STATE"/log/*.log; do if [[ -f "$f" ]]; then mv -f "$f" "$f.old"; fi; done
  start_mon
  start_osd
  start_rgw
  create_user
  log "radosgw up on 127.0.0.1:$PORT after $((SECONDS - started))s; for the tests:"
  print_env >&2
  url
}

stop_daemon() { # NAME
  local pid
  pid="$(pid_of "$1")"
  alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 30))
  while alive "$pid"; do
    if ((SECONDS > deadline)); then
      log "$1 (pid $pid) did not stop in 30s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.1
  done
}

cmd_down() {
  stop_daemon client.rgw.a
  stop_daemon osd.0
  stop_daemon mon.a
  local deadline=$((SECONDS + 10))
  while answers; do
    ((SECONDS > deadline)) && { log "radosgw still answers on $PORT"; exit 1; }
    sleep 0.1
  done
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
restart)
  cmd_down
  cmd_up
  ;;
reset)
  cmd_down
  rm -rf "$STATE"
  log "removed $STATE"
  ;;
status) answers ;;
url) url ;;
env) print_env ;;
*)
  echo "usage: $0 up|down|restart|reset|status|url|env" >&2
  exit 2
  ;;
esac
