#!/usr/bin/env bash
# Start or stop the real services Homeostat's tests talk to, on loopback, installing what is
# missing: the tansu Kafka-API broker (:9092), PostgreSQL (:5432), InfluxDB 1.x (:8086).
#
#   scripts/services.sh up      install what is missing, start, wait until each answers
#   scripts/services.sh down    stop what `up` started (a PostgreSQL that was already running stays)
#   scripts/services.sh status  one line per service
#
# State (pids, logs, data) lives in $HOMEOSTAT_SERVICES_DIR (default /tmp/homeostat-services).
set -euo pipefail

STATE="${HOMEOSTAT_SERVICES_DIR:-/tmp/homeostat-services}"
TANSU_VERSION=0.6.0
mkdir -p "$STATE"

log() { printf '[services] %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  if [ ! -f "$STATE/.apt-updated" ]; then
    as_root apt-get update -q >/dev/null && touch "$STATE/.apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -q "$@" >/dev/null
}

wait_for() { # name, seconds, command...
  local name=$1 secs=$2; shift 2
  for _ in $(seq 1 $((secs * 5))); do
    if "$@" >/dev/null 2>&1; then log "$name is up"; return 0; fi
    sleep 0.2
  done
  log "$name did not come up in ${secs}s; its log:"; tail -n 30 "$STATE/$name.log" >&2 2>/dev/null || true
  return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

tansu_bin() {
  if command -v tansu >/dev/null 2>&1; then command -v tansu; return; fi
  if [ -x "${CARGO_HOME:-$HOME/.cargo}/bin/tansu" ]; then echo "${CARGO_HOME:-$HOME/.cargo}/bin/tansu"; return; fi
  return 1
}

up_tansu() {
  if port_open 9092; then log "a broker already listens on :9092"; return; fi
  local bin
  if ! bin=$(tansu_bin); then
    log "installing tansu $TANSU_VERSION from crates.io (compiles once, about 20 minutes)"
    cargo install --locked tansu --version "$TANSU_VERSION" --features dynostore,libsql >"$STATE/tansu-install.log" 2>&1 \
      || { tail -n 40 "$STATE/tansu-install.log" >&2; exit 1; }
    bin=$(tansu_bin)
  fi
  # memory:// storage: each `up` starts from empty topics.
  # exec: the recorded pid is the broker's own, so `down` stops it.
  (cd "$STATE" && exec "$bin" broker \
      --listener-url tcp://127.0.0.1:9092 \
      --advertised-listener-url tcp://127.0.0.1:9092 \
      --storage-engine memory://tansu/ >"$STATE/tansu.log" 2>&1) &
  echo $! >"$STATE/tansu.pid"
  wait_for tansu 60 port_open 9092
}

pg_ready() { pg_isready -h 127.0.0.1 -p 5432 -q; }

up_postgres() {
  if ! command -v pg_isready >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    log "installing PostgreSQL (Debian package)"
    apt_install postgresql
  fi
  if ! pg_ready; then
    log "starting PostgreSQL"
    local v; v=$(ls /etc/postgresql | sort -V | tail -n1)
    as_root pg_ctlcluster --skip-systemctl-redirect "$v" main start
    touch "$STATE/postgres.started"
    wait_for postgres 60 pg_ready
  else
    log "PostgreSQL is up"
  fi
  # Trust auth on loopback (as on these machines); the default config uses a homeostat database.
  psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='homeostat'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE homeostat" >/dev/null
}

influx_ping() { curl -sf -o /dev/null "http://127.0.0.1:8086/ping"; }

up_influx() {
  if influx_ping; then log "InfluxDB already answers on :8086"; return; fi
  if ! command -v influxd >/dev/null 2>&1; then
    log "installing InfluxDB 1.x (Debian package influxdb)"
    apt_install influxdb
  fi
  command -v curl >/dev/null 2>&1 || apt_install curl
  mkdir -p "$STATE/influxdb"
  cat >"$STATE/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:8088"
[meta]
  dir = "$STATE/influxdb/meta"
[data]
  dir = "$STATE/influxdb/data"
  wal-dir = "$STATE/influxdb/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:8086"
  log-enabled = false
CONF
  influxd -config "$STATE/influxdb.conf" >"$STATE/influxdb.log" 2>&1 &
  echo $! >"$STATE/influxdb.pid"
  wait_for influxdb 60 influx_ping
}

vm_ping() { curl -sf -o /dev/null "http://127.0.0.1:8428/health"; }

vm_bin() {
  for b in victoria-metrics /usr/bin/victoria-metrics /usr/sbin/victoria-metrics; do
    if command -v "$b" >/dev/null 2>&1; then command -v "$b"; return; fi
  done
  return 1
}

up_victoria() {
  if vm_ping; then log "VictoriaMetrics already answers on :8428"; return; fi
  local bin
  if ! bin=$(vm_bin); then
    log "installing VictoriaMetrics (Debian package victoria-metrics)"
    apt_install victoria-metrics
    bin=$(vm_bin)
  fi
  mkdir -p "$STATE/victoria"
  "$bin" -httpListenAddr 127.0.0.1:8428 -storageDataPath "$STATE/victoria" -retentionPeriod 1 \
    >"$STATE/victoria.log" 2>&1 &
  echo $! >"$STATE/victoria.pid"
  wait_for victoria 60 vm_ping
}

# HAProxy and Alertmanager are only installed here: tests start their own instances with their
# own configuration.
ensure_haproxy() {
  if [ -x /usr/sbin/haproxy ] || command -v haproxy >/dev/null 2>&1; then return; fi
  log "installing HAProxy (Debian package haproxy)"
  apt_install haproxy
}

ensure_alertmanager() {
  if [ -x /usr/bin/prometheus-alertmanager ] || command -v alertmanager >/dev/null 2>&1; then return; fi
  log "installing Alertmanager (Debian package prometheus-alertmanager)"
  apt_install prometheus-alertmanager
  # The package may start its own instance on :9093; tests use their own.
}

stop_pid() {
  local f="$STATE/$1.pid"
  [ -f "$f" ] || return 0
  local pid; pid=$(cat "$f")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    log "stopped $1"
  fi
  rm -f "$f"
}

case "${1:-}" in
  up)
    up_postgres
    up_influx
    up_victoria
    ensure_haproxy
    ensure_alertmanager
    up_tansu
    ;;
  down)
    stop_pid tansu
    stop_pid influxdb
    stop_pid victoria
    rm -rf "$STATE/influxdb" "$STATE/victoria"
    if [ -f "$STATE/postgres.started" ]; then
      v=$(ls /etc/postgresql | sort -V | tail -n1)
      as_root pg_ctlcluster --skip-systemctl-redirect "$v" main stop || true
      rm -f "$STATE/postgres.started"
    fi
    ;;
  status)
    port_open 9092 && echo "kafka-api (tansu) :9092 up" || echo "kafka-api (tansu) :9092 down"
    pg_ready && echo "postgresql :5432 up" || echo "postgresql :5432 down"
    influx_ping && echo "influxdb :8086 up" || echo "influxdb :8086 down"
    vm_ping && echo "victoria-metrics :8428 up" || echo "victoria-metrics :8428 down"
    ;;
  *)
    sed -n '2,10p' "$0"; exit 2 ;;
esac
