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

import random
import time

from limits.storage import RedisStorage, Storage
from sqlalchemy import case, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from storage.tables import rate_limits

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

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self.clock()
        ended = rate_limits.c.expires_at <= now
        statement = self._insert().values(key=key, hits=amount, expires_at=now + expiry)
        statement = statement.on_conflict_do_update(
            index_elements=[rate_limits.c.key],
            set_={"hits": case((ended, amount), else_=rate_limits.c.hits + amount),
                  "expires_at": case((ended, now + expiry), else_=rate_limits.c.expires_at)},
        ).returning(rate_limits.c.hits)
        with self.engine.begin() as conn:
            hits = conn.execute(statement).scalar_one()
            if random.random() < SWEEP_CHANCE:
                conn.execute(delete(rate_limits).where(rate_limits.c.expires_at <= now))
        return hits

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


class RedisRateLimitStorage(RedisStorage):
    """``limits``' Redis storage, with the clock web.rate_limits reads for Retry-After (the
    window's reset time it answers is on the wall clock, as Redis's expiry is)."""

    def __init__(self, url: str, clock=time.time):
        super().__init__(url, key_prefix="datainsight:limits", socket_timeout=5, socket_connect_timeout=5)
        self.clock = clock


def counter_storage(engine, redis_url: str | None = None) -> Storage:
    """Where rate-limit counters live: Redis when configured, else the metadata database."""
    if redis_url:
        return RedisRateLimitStorage(redis_url)
    return DatabaseRateLimitStorage(engine)
