"""What several web processes and workers share through Redis when DATAINSIGHT_REDIS_URL
is set (issue 14, point 2): the query result cache, the "one computation per key" flights
and, in storage.rate_limits, the rate-limit counters. Without the URL none of this is used:
results go to diskcache on the local disk, flights are threading Events in one process and
rate limits are counted in the metadata database, as before.

Why Redis for these and not the database: they are hot (every widget request reads the
cache; every API call counts a hit), they may be lost at any time without harm (a lost
result is computed again, a lost counter starts a fresh window), and they expire on their
own. Job status stays in the database: it must outlive a Redis restart.

Cached values are pickled (results hold dates, decimals and figure dicts that JSON would
change) and signed with HMAC-SHA256 under the app's secret key: whoever can write to Redis
must not be able to make a web process unpickle a value of their choosing."""
from __future__ import annotations

import hashlib
import hmac
import logging
import pickle
import threading
import time
import uuid

import redis

log = logging.getLogger(__name__)

PREFIX = "datainsight:"
# A widget's result is small by construction (capped rows, aggregated in SQL); one larger
# than this is a sign of a bug and is not worth Redis memory: it is computed again.
MAX_VALUE_BYTES = 4 * 1024 * 1024
# How often a waiter looks whether another process's computation ended: soon at first
# (most flights are a copy or a query of a few hundred ms), then every 50 ms at most.
FIRST_POLL_SECONDS = 0.005
POLL_SECONDS = 0.05

_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def client(url: str) -> redis.Redis:
    """One client (and connection pool) per URL in this process. Only connections live
    here, no state: redis-py's pool notices a fork and opens new connections in the child."""
    with _clients_lock:
        found = _clients.get(url)
        if found is None:
            found = _clients[url] = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5,
                                                         health_check_interval=30)
        return found


class RedisResultCache:
    """The query result cache, shared by every process: the same get/set/clear/close as the
    diskcache.Cache it replaces in storage.queries. A Redis error is logged and reads as a
    miss: the widget is computed here instead of failing."""

    def __init__(self, conn: redis.Redis, secret_key: str, namespace: str = "result"):
        if not secret_key:
            raise ValueError("a shared secret key signs the cached results (DATAINSIGHT_SECRET_KEY)")
        self.conn = conn
        self.key = hashlib.sha256(b"datainsight-result-cache:" + secret_key.encode()).digest()
        self.prefix = f"{PREFIX}{namespace}:"

    def _sign(self, data: bytes) -> bytes:
        return hmac.new(self.key, data, hashlib.sha256).digest()

    def get(self, key: str):
        try:
            raw = self.conn.get(self.prefix + key)
        except redis.RedisError as exc:
            log.warning("result cache read failed (%s); computing instead", type(exc).__name__)
            return None
        if raw is None or len(raw) < 32:
            return None
        signature, data = raw[:32], raw[32:]
        if not hmac.compare_digest(signature, self._sign(data)):
            log.error("result cache entry %s has a bad signature; ignored", key[:80])
            return None
        return pickle.loads(data)

    def set(self, key: str, value, expire: float | None = None) -> bool:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        if len(data) > MAX_VALUE_BYTES:
            return False
        try:
            self.conn.set(self.prefix + key, self._sign(data) + data, ex=int(expire) if expire else None)
        except redis.RedisError as exc:
            log.warning("result cache write failed (%s)", type(exc).__name__)
            return False
        return True

    def clear(self) -> int:
        """Forget every cached result (tests and benchmarks), in batches of SCAN."""
        removed, batch = 0, []
        for name in self.conn.scan_iter(match=self.prefix + "*", count=1000):
            batch.append(name)
            if len(batch) >= 1000:
                removed += self.conn.delete(*batch)
                batch = []
        if batch:
            removed += self.conn.delete(*batch)
        return removed

    def close(self) -> None:
        """The client is the process's (client()); nothing of this cache's own to close."""


class RedisFlights:
    """One computation per key across processes: the process that takes a key's flight
    (SET NX with an expiry, so a process that dies mid-way frees it by itself) computes;
    the others wait for the flight to end and read the result from the shared cache."""

    def __init__(self, conn: redis.Redis, namespace: str = "flight"):
        self.conn = conn
        self.prefix = f"{PREFIX}{namespace}:"

    def take(self, key: str, seconds: float) -> str | None:
        """A token if this process now computes ``key`` (for at most ``seconds``), None
        if another process does. A Redis error counts as taken here: compute, do not hang."""
        token = uuid.uuid4().hex
        try:
            won = self.conn.set(self.prefix + key, token, nx=True, px=max(1, int(seconds * 1000)))
        except redis.RedisError as exc:
            log.warning("flight for a query could not be taken (%s); computing here", type(exc).__name__)
            return token
        return token if won else None

    _RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

    def release(self, key: str, token: str) -> None:
        """End this process's flight, and only its own: one that expired and was taken by
        another process stays with that process."""
        try:
            self.conn.eval(self._RELEASE, 1, self.prefix + key, token)
        except redis.RedisError as exc:
            log.warning("flight for a query could not be released (%s); it expires by itself", type(exc).__name__)

    def wait(self, key: str, timeout: float) -> bool:
        """Wait until another process's flight of ``key`` ends; False after ``timeout``."""
        deadline = time.monotonic() + timeout
        pause = FIRST_POLL_SECONDS
        while time.monotonic() < deadline:
            try:
                if not self.conn.exists(self.prefix + key):
                    return True
            except redis.RedisError:
                return True  # the caller reads the cache, then computes
            time.sleep(pause)
            pause = min(pause * 2, POLL_SECONDS)
        return False
