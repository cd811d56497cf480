#!/usr/bin/env bash
# Runs a command beside a throwaway MariaDB server (Debian's mariadb-server): a new data
# directory in a temp dir, listening only on 127.0.0.1 at a free port. The command gets
# DATAINSIGHT_TEST_MYSQL_URL, an account that may create databases of its own
# ("mysql://test:test@127.0.0.1:<port>/"), for the tests of MySQL connections (issue 16).
# The server stops and its folder is removed when the command ends, whatever its
# outcome; the command's exit code is kept.
#   scripts/with-mariadb.sh .venv/bin/python -m pytest tests/connections
set -euo pipefail

if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
  echo "MariaDB's server is not installed (Debian package mariadb-server): run scripts/install-system-deps.sh test" >&2
  exit 1
fi
server=$(command -v mariadbd || echo /usr/sbin/mariadbd)

dir=$(mktemp -d /tmp/datainsight-mariadb.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# mariadbd will not run as root: as root, the data belongs to the mysql user.
owner=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
  owner=mysql
  chown "$owner" "$dir"
fi

pid=""
stop() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap stop EXIT

mariadb-install-db --no-defaults --user="$owner" --datadir="$dir/data" --auth-root-authentication-method=socket \
  --skip-test-db >"$dir/install.log" 2>&1 || { cat "$dir/install.log" >&2; exit 1; }
"$server" --no-defaults --user="$owner" --datadir="$dir/data" --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" \
  --bind-address=127.0.0.1 --port="$port" --skip-name-resolve --innodb-flush-log-at-trx-commit=0 \
  --innodb-buffer-pool-size=256M --log-error="$dir/server.log" &
pid=$!
for _ in $(seq 1 120); do
  if mariadb --no-defaults -S "$dir/mysqld.sock" -u root -e "SELECT 1" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$dir/server.log" >&2; exit 1; fi
  sleep 0.5
done
mariadb --no-defaults -S "$dir/mysqld.sock" -u root -e \
  "CREATE USER 'test'@'127.0.0.1' IDENTIFIED BY 'test'; GRANT ALL ON *.* TO 'test'@'127.0.0.1' WITH GRANT OPTION;" \
  || { cat "$dir/server.log" >&2; exit 1; }

export DATAINSIGHT_TEST_MYSQL_URL="mysql://test:test@127.0.0.1:$port/"
echo "MariaDB $("$server" --version | awk '{print $3}') on 127.0.0.1:$port (thrown away afterwards)"
set +e
"$@"
status=$?
exit $status
