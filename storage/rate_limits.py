"""Rate-limit counters in the metadata database, for the ``limits`` library (issue 15,
point 3): every worker process and machine counts against the same rows.

``limits`` does the arithmetic (fixed windows, ``600/minute``) and talks to a storage
through six methods; this is that storage. One statement per hit: an upsert that starts a
new window when the old one has ended and otherwise adds to it, answering the new count
(``INSERT ... ON CONFLICT ... RETURNING``, in SQLite and PostgreSQL alike), so two
processes hitting one key at once cannot both see the old count. With Redis configured
(DATAINSIGHT_REDIS_URL, issue 14) the counters go to the ``limits`` library's own Redis
storage instead (counter_storage): an INCR per hit there, not a write to the metadata
database, and the keys expire by themselves.
"""
from __future__ import annotations

import itertools
import logging
import random
import threading
import time

from limits.storage import RedisStorage, Storage
from sqlalchemy import case, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from storage.tables import rate_limits

log = logging.getLogger(__name__)
SWEEP_CHANCE = 0.001  # about one hit in a thousand also deletes ended windows


class DatabaseRateLimitStorage(Storage):
    STORAGE_SCHEME = ["datainsight+sql"]

    def __init__(self, engine, clock=time.time):
        super().__init__()
        self.engine = engine
        self.clock = clock

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def _insert(self):
        return (postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert)(rate_limits)

    def _upsert(self, key: str, expiry: int, amount: int, now: float):
        ended = rate_limits.c.expires_at <= now
        statement = self._insert().values(key=key, hits=amount, expires_at=now + expiry)
        return statement.on_conflict_do_update(
            index_elements=[rate_limits.c.key],
            set_={"hits": case((ended, amount), else_=rate_limits.c.hits + amount),
                  "expires_at": case((ended, now + expiry), else_=rate_limits.c.expires_at)},
        ).returning(rate_limits.c.hits)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self.incr_many([(key, expiry, amount)])[key]

    def incr_many(self, items: list[tuple[str, int, int]]) -> dict[str, int]:
        """(key, expiry, amount) added in one transaction: {key: its count now}."""
        now = self.clock()
        totals = {}
        with self.engine.begin() as conn:
            for key, expiry, amount in items:
                totals[key] = conn.execute(self._upsert(key, expiry, amount, now)).scalar_one()
            if random.random() < SWEEP_CHANCE * len(items):
                conn.execute(delete(rate_limits).where(rate_limits.c.expires_at <= now))
        return totals

    def get(self, key: str) -> int:
        with self.engine.connect() as conn:
            hits = conn.execute(select(rate_limits.c.hits).where(
                rate_limits.c.key == key, rate_limits.c.expires_at > self.clock())).scalar()
        return hits or 0

    def get_expiry(self, key: str) -> float:
        with self.engine.connect() as conn:
            expires = conn.execute(select(rate_limits.c.expires_at).where(rate_limits.c.key == key)).scalar()
        return expires if expires is not None else self.clock()

    def check(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        with self.engine.begin() as conn:
            count = conn.execute(select(func.count()).select_from(rate_limits)).scalar_one()
            conn.execute(delete(rate_limits))
        return count

    def clear(self, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(rate_limits).where(rate_limits.c.key == key))


class BufferedRateLimitStorage(Storage):
    """Counts in this process, adding to a shared storage in one round a second.

    For counters hit by every request of a busy route (collection: one page view, one
    request), one upsert a request cost more than the request itself: SQLite serialises
    the writes, and collection fell to a tenth of its speed. Here a hit adds to this
    process's count at once and is answered from (the shared count last seen + what this
    process added since); a thread adds every key's new hits to the shared storage in one
    transaction each ``flush_seconds`` and reads back the totals, which bring in the other
    processes' hits. The price: between two rounds each process may let through up to a
    second of its own traffic over the limit. Hits that could not be added (the database
    away) are kept and added at the next round.
    """

    STORAGE_SCHEME = ["datainsight+buffered"]

    def __init__(self, shared: DatabaseRateLimitStorage, flush_seconds: float = 1.0, clock=time.time):
        super().__init__()
        self.shared = shared
        self.flush_seconds = flush_seconds
        self.clock = clock
        self._lock = threading.Lock()
        # key -> [shared hits last seen, hits not yet added, window end, window length]
        self._counts: dict[str, list] = {}
        self._thread: threading.Thread | None = None

    @property
    def base_exceptions(self):
        return SQLAlchemyError

    def _entry(self, key: str, expiry: int, now: float) -> list:
        entry = self._counts.get(key)
        if entry is None or entry[2] <= now:  # a new window (as this process sees it): counted from 0
            entry = self._counts[key] = [0, 0, now + expiry, expiry]
        return entry

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self.clock()
        with self._lock:
            entry = self._entry(key, expiry, now)
            entry[1] += amount
            hits = entry[0] + entry[1]
            if len(self._counts) > MAX_BUFFERED_KEYS:  # bounded memory, and O(1) a hit on average
                self._evict()
        self._ensure_flusher()
        return hits

    def get(self, key: str) -> int:
        with self._lock:
            entry = self._counts.get(key)
            if entry is None or entry[2] <= self.clock():
                return 0
            return entry[0] + entry[1]

    def get_expiry(self, key: str) -> float:
        with self._lock:
            entry = self._counts.get(key)
        return entry[2] if entry is not None else self.clock()

    def check(self) -> bool:
        return self.shared.check()

    def reset(self) -> int | None:
        with self._lock:
            self._counts.clear()
        return self.shared.reset()

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)
        self.shared.clear(key)

    def _evict(self) -> None:
        """Forget the oldest tenth of the keys (more keys than the bound: many addresses at
        once). Their hits not yet added are lost: a limit may let a little more through
        for them, which beats memory without bound or a scan of every key per hit."""
        for key in list(itertools.islice(self._counts, len(self._counts) - MAX_BUFFERED_KEYS * 9 // 10)):
            del self._counts[key]

    def _ensure_flusher(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._flush_loop, name="datainsight-rate-limits",
                                                daemon=True)
                self._thread.start()

    def _flush_loop(self) -> None:
        while True:
            time.sleep(self.flush_seconds)
            try:
                self.flush()
            except Exception:  # kept, and added at the next round
                log.exception("adding rate-limit counts to the database failed")

    def flush(self) -> None:
        """Add every key's new hits to the shared storage; read back the shared totals."""
        now = self.clock()
        with self._lock:
            work = [(key, entry[3], entry[1], entry[2]) for key, entry in self._counts.items()
                    if entry[1] and entry[2] > now]
            for key in [k for k, e in self._counts.items() if e[2] <= now]:
                del self._counts[key]  # an ended window's hits no longer count for anything
        if not work:
            return
        totals = self.shared.incr_many([(key, expiry, amount) for key, expiry, amount, _ in work])
        with self._lock:
            for key, _, amount, window_end in work:
                entry = self._counts.get(key)
                if entry is None or entry[2] != window_end:
                    continue
                entry[0] = totals[key]
                entry[1] -= amount


MAX_BUFFERED_KEYS = 100_000


class RedisRateLimitStorage(RedisStorage):
    """``limits``' Redis storage, with the clock web.rate_limits reads for Retry-After (the
    window's reset time it answers is on the wall clock, as Redis's expiry is)."""

    def __init__(self, url: str, clock=time.time):
        super().__init__(url, key_prefix="datainsight:limits", socket_timeout=5, socket_connect_timeout=5)
        self.clock = clock


def counter_storage(engine, redis_url: str | None = None, buffered: bool = False) -> Storage:
    """Where rate-limit counters live: Redis when configured, else the metadata database
    (``buffered``: counted in the process and added to it once a second, for counters hit
    by every request of a busy route; Redis takes each hit at once as cheaply)."""
    if redis_url:
        return RedisRateLimitStorage(redis_url)
    if buffered:
        return BufferedRateLimitStorage(DatabaseRateLimitStorage(engine))
    return DatabaseRateLimitStorage(engine)
