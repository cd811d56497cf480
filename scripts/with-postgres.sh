#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL server: a new cluster in a temp dir,
# listening only on 127.0.0.1 at a free port, no fsync (it is thrown away). Connections
# over TCP need the password (user postgres, password postgres): the tests of database
# connections check that a wrong one is refused. The command gets DATAINSIGHT_TEST_DATABASE_URL (an empty database
# "datainsight_test") and DATAINSIGHT_TEST_POSTGRES_ADMIN_URL (the server's "postgres"
# database, for tests that need databases of their own). The server stops and its folder
# is removed when the command ends, whatever its outcome; the command's exit code is kept.
#   scripts/with-postgres.sh .venv/bin/python -m pytest tests/storage
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "PostgreSQL's server is not installed (Debian package postgresql): run scripts/install-system-deps.sh test" >&2
  exit 1
fi

dir=$(mktemp -d /tmp/datainsight-pg.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# PostgreSQL refuses to run as root: as root, the cluster belongs to the postgres user.
as_owner() { "$@"; }
if [ "$(id -u)" -eq 0 ]; then
  chown postgres "$dir"
  as_owner() { runuser -u postgres -- "$@"; }
fi

stop() {
  as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT

echo postgres >"$dir/pwfile"
chmod 644 "$dir/pwfile"
as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 --pwfile="$dir/pwfile" \
  -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
  -o "-h 127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
  >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
PGPASSWORD=postgres "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qc "CREATE DATABASE datainsight_test" \
  >/dev/null

export DATAINSIGHT_TEST_DATABASE_URL="postgresql+psycopg://postgres:postgres@127.0.0.1:$port/datainsight_test"
export DATAINSIGHT_TEST_POSTGRES_ADMIN_URL="postgresql+psycopg://postgres:postgres@127.0.0.1:$port/postgres"
echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (thrown away afterwards)"
set +e
"$@"
status=$?
exit $status
