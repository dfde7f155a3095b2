#!/usr/bin/env bash
# Installs and starts a throw-away PostgreSQL server for canopy-sql's tests.
# Debian's `postgresql` package; a data directory under /tmp owned by `postgres`; listening on
# 127.0.0.1 on a free port (no Unix socket in a shared place). Creates a non-superuser login
# role `canopy_test` (CREATEDB, so each test can make its own database) and appends
#   CANOPY_TEST_PG_URL=postgres://canopy_test:…@127.0.0.1:PORT/canopy_test
#   CANOPY_TEST_PG_ADMIN_URL=postgres://postgres:…@127.0.0.1:PORT/postgres
# to .tools/test.env. Idempotent: when the server is already up it is reused.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
mkdir -p "$root/.tools"

find_bin() {
  local bin
  for bin in /usr/lib/postgresql/*/bin; do
    if [ -x "$bin/pg_ctl" ]; then
      echo "$bin"
    fi
  done | sort -V | tail -n 1
}

pgbin="$(find_bin)"
if [ -z "$pgbin" ]; then
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y --no-install-recommends postgresql >/dev/null 2>&1; then
    apt-get update
    apt-get install -y --no-install-recommends postgresql
  fi
  pgbin="$(find_bin)"
fi
if [ -z "$pgbin" ]; then
  echo "postgres.sh: PostgreSQL did not install (no /usr/lib/postgresql/*/bin/pg_ctl)" >&2
  exit 1
fi

# One server per checkout, so two clones on one machine do not share a cluster.
key="$(printf '%s' "$root" | sha256sum | cut -c1-12)"
base="/tmp/canopy-pg-$key"
data="$base/data"
port_file="$base/port"
admin_password="canopy_admin_pw"
test_password="canopy_test_pw"

as_postgres() {
  if command -v runuser >/dev/null 2>&1; then
    runuser -u postgres -- "$@"
  else
    su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
  fi
}

running() {
  [ -f "$port_file" ] && as_postgres "$pgbin/pg_ctl" -D "$data" status >/dev/null 2>&1 &&
    "$pgbin/pg_isready" -q -h 127.0.0.1 -p "$(cat "$port_file")"
}

if ! running; then
  if [ -f "$data/postmaster.pid" ]; then
    as_postgres "$pgbin/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$base"
  mkdir -p "$base"
  chown postgres:postgres "$base"
  chmod 700 "$base"
  pwfile="$base/pw"
  printf '%s\n' "$admin_password" >"$pwfile"
  chown postgres:postgres "$pwfile"
  as_postgres "$pgbin/initdb" -D "$data" -U postgres --pwfile="$pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$pwfile"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  echo "$port" >"$port_file"
  as_postgres "$pgbin/pg_ctl" -D "$data" -l "$base/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$base -c max_connections=200 -c fsync=off" \
    start >/dev/null
  psql_admin() { as_postgres "$pgbin/psql" -h "$base" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
  psql_admin -c "CREATE ROLE canopy_test LOGIN CREATEDB PASSWORD '$test_password'"
  psql_admin -c "CREATE DATABASE canopy_test OWNER canopy_test"
fi

port="$(cat "$port_file")"
"$pgbin/pg_isready" -h 127.0.0.1 -p "$port"
{
  echo "CANOPY_TEST_PG_URL=postgres://canopy_test:$test_password@127.0.0.1:$port/canopy_test"
  echo "CANOPY_TEST_PG_ADMIN_URL=postgres://postgres:$admin_password@127.0.0.1:$port/postgres"
} >>"$root/.tools/test.env"
