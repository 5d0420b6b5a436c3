#!/usr/bin/env bash
# Starts a PostgreSQL for the tests on loopback (Debian's package; installed when
# missing) and prints a URL of a role that may create databases. The tests make
# a fresh database per test from it. Safe to run again.
set -euo pipefail
PORT="${FOOTNOTE_TEST_POSTGRES_PORT:-5432}"
ROLE=footnote_test
PASSWORD=footnote_test

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "postgres: installing PostgreSQL from Debian" >&2
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq >&2
  $SUDO apt-get install -y -qq postgresql >&2
fi

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi
}

version="$(pg_lsclusters --no-header | awk 'NR==1 {print $1}')"
cluster="$(pg_lsclusters --no-header | awk 'NR==1 {print $2}')"
if [ -z "$version" ]; then
  echo "postgres: no cluster found (pg_lsclusters is empty)" >&2
  exit 1
fi
if ! pg_lsclusters --no-header | awk 'NR==1 {print $4}' | grep -q online; then
  echo "postgres: starting cluster $version/$cluster" >&2
  if [ "$(id -u)" = 0 ]; then pg_ctlcluster "$version" "$cluster" start; else sudo pg_ctlcluster "$version" "$cluster" start; fi
fi
for _ in $(seq 1 30); do
  as_postgres pg_isready -q -h 127.0.0.1 -p "$PORT" && break
  sleep 1
done
as_postgres psql -q -p "$PORT" -v ON_ERROR_STOP=1 <<SQL >&2
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$ROLE') THEN
    CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD';
  END IF;
END \$\$;
SELECT 'CREATE DATABASE $ROLE OWNER $ROLE' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$ROLE')\gexec
SQL
echo "postgres://$ROLE:$PASSWORD@127.0.0.1:$PORT/$ROLE"
