#!/usr/bin/env bash
# Runs every osips test the way CI does, on a fresh Debian machine as root:
#   1. installs what the tests need when it is missing (PostgreSQL, MariaDB, sipp, rtpengine, tmux, ...);
#   2. starts PostgreSQL and MariaDB on loopback, on free ports, with throw-away data directories;
#   3. runs cargo fmt --check, cargo clippy -D warnings and the whole test suite against them;
#   4. stops what it started, whatever happened.
# Usage: scripts/test.sh [extra arguments for cargo test, e.g. a test name filter]
#        scripts/test.sh --servers   start the servers only, print their URLs as shell exports, and
#                                    keep them running until interrupted (for running single tests)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
WORK=$(mktemp -d /tmp/osips-test.XXXXXX)
chmod 755 "$WORK"
log() { printf '== %s\n' "$*" >&2; }

# ---------------------------------------------------------------- packages
APT_UPDATED=
apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    log "missing packages ($*) and cannot install them (need root and apt-get)"
    return 1
  fi
  if [ -z "$APT_UPDATED" ]; then
    log "apt-get update"
    apt-get update -qq
    APT_UPDATED=1
  fi
  log "installing: $*"
  # The servers are started by this script, never by the package's init scripts.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >"$WORK/apt.log" 2>&1 \
    || { cat "$WORK/apt.log" >&2; return 1; }
}

pg_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

missing=()
[ -n "$(pg_bindir)" ] && [ -x "$(pg_bindir)/initdb" ] || missing+=(postgresql)
command -v psql >/dev/null || missing+=(postgresql-client)
command -v mariadbd >/dev/null || command -v mysqld >/dev/null || missing+=(mariadb-server)
command -v mariadb >/dev/null || command -v mysql >/dev/null || missing+=(mariadb-client)
command -v sipp >/dev/null || missing+=(sip-tester)
command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || missing+=(dnsmasq-base)
command -v tmux >/dev/null || missing+=(tmux)
[ -x /usr/bin/rtpengine ] || [ -x /usr/sbin/rtpengine ] || missing+=(rtpengine-daemon)
command -v python3 >/dev/null || missing+=(python3)
python3 -m venv --help >/dev/null 2>&1 || missing+=(python3-venv python3-pip)
if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---------------------------------------------------------------- servers
PG_PID=
MY_PID=
cleanup() {
  local rc=$?
  if [ -n "$PG_PID" ]; then
    runuser -u postgres -- "$(pg_bindir)/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || kill "$PG_PID" 2>/dev/null || true
  fi
  if [ -n "$MY_PID" ]; then
    kill "$MY_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$MY_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$MY_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT INT TERM

SECRET="osips-test-$RANDOM$RANDOM"

start_postgres() {
  local bin port
  bin=$(pg_bindir)
  port=$(free_port)
  mkdir -p "$WORK/pg" "$WORK/pgsock"
  printf '%s\n' "$SECRET" >"$WORK/pgpw"
  chown -R postgres: "$WORK/pg" "$WORK/pgsock" "$WORK/pgpw" 2>/dev/null || {
    log "no 'postgres' OS user: is the postgresql package installed?"; return 1; }
  runuser -u postgres -- "$bin/initdb" -D "$WORK/pg" -U postgres --auth=scram-sha-256 \
    --pwfile="$WORK/pgpw" -E UTF8 --locale=C.UTF-8 >"$WORK/pg-init.log" 2>&1 \
    || { cat "$WORK/pg-init.log" >&2; return 1; }
  runuser -u postgres -- "$bin/pg_ctl" -D "$WORK/pg" -l "$WORK/pgsock/pg.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$WORK/pgsock -c fsync=off -c max_connections=300" \
    start >/dev/null || { cat "$WORK/pgsock/pg.log" >&2; return 1; }
  PG_PID=$(head -n 1 "$WORK/pg/postmaster.pid")
  export OSIPS_TEST_PGSQL_URL="postgres://postgres:$SECRET@127.0.0.1:$port"
  log "PostgreSQL on 127.0.0.1:$port"
}

start_mariadb() {
  local port daemon install
  port=$(free_port)
  daemon=$(command -v mariadbd || command -v mysqld)
  install=$(command -v mariadb-install-db || command -v mysql_install_db)
  mkdir -p "$WORK/my"
  "$install" --no-defaults --datadir="$WORK/my" --user=root --auth-root-authentication-method=normal \
    --skip-test-db >"$WORK/my-init.log" 2>&1 || { cat "$WORK/my-init.log" >&2; return 1; }
  "$daemon" --no-defaults --datadir="$WORK/my" --user=root --bind-address=127.0.0.1 --port="$port" \
    --socket="$WORK/my.sock" --pid-file="$WORK/my.pid" --skip-log-bin --innodb-flush-log-at-trx-commit=0 \
    --max-connections=500 >"$WORK/my.log" 2>&1 &
  MY_PID=$!
  local client
  client=$(command -v mariadb || command -v mysql)
  for _ in $(seq 300); do
    "$client" --no-defaults -uroot --socket="$WORK/my.sock" -e 'SELECT 1' >/dev/null 2>&1 && break
    kill -0 "$MY_PID" 2>/dev/null || { cat "$WORK/my.log" >&2; return 1; }
    sleep 0.1
  done
  "$client" --no-defaults -uroot --socket="$WORK/my.sock" -e "
    ALTER USER 'root'@'localhost' IDENTIFIED BY '$SECRET';
    CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '$SECRET';
    GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
    FLUSH PRIVILEGES;" || { cat "$WORK/my.log" >&2; return 1; }
  export OSIPS_TEST_MYSQL_URL="mysql://root:$SECRET@127.0.0.1:$port"
  log "MariaDB on 127.0.0.1:$port"
}

start_postgres
start_mariadb

if [ "${1:-}" = "--servers" ]; then
  printf 'export OSIPS_TEST_PGSQL_URL=%q\nexport OSIPS_TEST_MYSQL_URL=%q\n' "$OSIPS_TEST_PGSQL_URL" "$OSIPS_TEST_MYSQL_URL"
  log "servers running; interrupt to stop them"
  while kill -0 "$PG_PID" 2>/dev/null && kill -0 "$MY_PID" 2>/dev/null; do sleep 1; done
  log "a server stopped"
  exit 1
fi

# ---------------------------------------------------------------- checks and tests
export CI="${CI:-}"
export OSIPS_REQUIRE_SERVERS=1
log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
log "cargo test"
cargo test --all-targets --locked --no-fail-fast "$@"
cargo test --doc --locked
