#!/usr/bin/env bash
# Runs a command beside a throwaway Redis server (Debian package redis-server): listening
# only on 127.0.0.1 at a free port, in a temp dir, with no persistence (no RDB, no AOF).
# The command gets DATAINSIGHT_TEST_REDIS_URL. The server stops and its folder is removed
# when the command ends, whatever its outcome; the command's exit code is kept.
#   scripts/with-redis.sh .venv/bin/python -m pytest tests/cluster
set -euo pipefail

server=$(command -v redis-server || true)
if [ -z "$server" ]; then
  echo "Redis's server is not installed (Debian package redis-server): run scripts/install-system-deps.sh test" >&2
  exit 1
fi

dir=$(mktemp -d /tmp/datainsight-redis.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

stop() {
  # Read the pid once: Redis removes its pid file as it exits.
  local pid
  pid=$(cat "$dir/redis.pid" 2>/dev/null || true)
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$dir"
}
trap stop EXIT

"$server" --bind 127.0.0.1 --port "$port" --dir "$dir" --save "" --appendonly no --daemonize yes \
  --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --protected-mode yes
for _ in $(seq 100); do
  if redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then break; fi
  sleep 0.1
done
redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 || { cat "$dir/redis.log" >&2; exit 1; }

export DATAINSIGHT_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
echo "Redis $("$server" --version | awk '{print $3}') on 127.0.0.1:$port (thrown away afterwards)"
set +e
"$@"
status=$?
exit $status
