#!/usr/bin/env bash
# Starts a PostgreSQL for the tests on loopback (Debian's package; installed when
# missing) and prints a URL of a role that may create databases. The tests make
# a fresh database per test from it. Safe to run again.
#
# Callers capture stdout as the URL, so the URL is the only thing written there:
# apt, dpkg and pg_ctlcluster print progress on stdout, and all of that work runs
# with stdout sent to stderr. (Not through a saved descriptor: the server daemon
# would inherit it and the caller's `$(...)` would wait for it forever.)
set -euo pipefail
PORT="${FOOTNOTE_TEST_POSTGRES_PORT:-5432}"
ROLE=footnote_test
PASSWORD=footnote_test

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

start_postgres() {
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "postgres: installing PostgreSQL from Debian"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
  fi

  local version cluster
  version="$(pg_lsclusters --no-header | awk 'NR==1 {print $1}')"
  cluster="$(pg_lsclusters --no-header | awk 'NR==1 {print $2}')"
  if [ -z "$version" ]; then
    echo "postgres: no cluster found (pg_lsclusters is empty)"
    return 1
  fi
  if ! pg_lsclusters --no-header | awk 'NR==1 {print $4}' | grep -q online; then
    echo "postgres: starting cluster $version/$cluster"
    as_root pg_ctlcluster "$version" "$cluster" start
  fi
  local ready=""
  for _ in $(seq 1 30); do
    if as_postgres pg_isready -q -h 127.0.0.1 -p "$PORT"; then ready=1; break; fi
    sleep 1
  done
  if [ -z "$ready" ]; then
    echo "postgres: the server on 127.0.0.1:$PORT did not become ready in 30 s"
    return 1
  fi
  as_postgres psql -q -p "$PORT" -v ON_ERROR_STOP=1 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE $ROLE OWNER $ROLE' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$ROLE')\gexec
SQL
}

start_postgres >&2
echo "postgres://$ROLE:$PASSWORD@127.0.0.1:$PORT/$ROLE"
