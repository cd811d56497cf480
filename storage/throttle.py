"""Failed sign-in tracking, kept in the database so every worker process shares it.

Each failure makes the next answer slower; after MAX_FAILURES within WINDOW the key is
locked for LOCKOUT. Keys are the account's email and the client's address, so one
address cannot spray many accounts and many addresses cannot hammer one account; a known
device of the account (storage.users.KnownDevice) has its own key in place of the email's,
and so does an account's current password when it is changed.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from storage.database import as_utc, utcnow
from storage.errors import RateLimited
from storage.tables import login_throttle

MAX_FAILURES = {"email": 5, "ip": 30, "device": 5, "password": 5}
WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)
MAX_DELAY_SECONDS = 3.0


def delay_for(failures: int) -> float:
    """Seconds to wait before answering after ``failures`` recent failures."""
    if failures <= 0:
        return 0.0
    return min(0.25 * (2 ** (failures - 1)), MAX_DELAY_SECONDS)


def stored_key(key: str) -> str:
    """``kind:value`` as kept in the 400-character column: a long value (someone typed a
    2 KB "email") becomes its SHA-256, so it neither overflows on PostgreSQL nor collides
    with another long value by sharing a prefix."""
    if len(key) <= 200:
        return key
    kind, _, value = key.partition(":")
    return f"{kind}:sha256:{hashlib.sha256(value.encode()).hexdigest()}"


class LoginThrottle:
    def __init__(self, engine: Engine):
        self.engine = engine

    def check(self, keys: list[str], what: str = "failed sign-in attempts") -> int:
        """Raise RateLimited if any key is locked; return the most recent failures."""
        keys = [stored_key(key) for key in keys]
        now = utcnow()
        worst = 0
        with self.engine.connect() as conn:
            rows = conn.execute(select(login_throttle).where(login_throttle.c.key.in_(keys))).all()
        for row in rows:
            locked_until = as_utc(row.locked_until)
            if locked_until and locked_until > now:
                minutes = max(1, int((locked_until - now).total_seconds() // 60) + 1)
                raise RateLimited(
                    f"Too many {what}. "
                    f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
                    retry_after=int((locked_until - now).total_seconds()) + 1,
                )
            if as_utc(row.first_failure_at) > now - WINDOW:
                worst = max(worst, row.failures)
        return worst

    def record_failure(self, keys: list[str]) -> None:
        keys = [stored_key(key) for key in keys]
        now = utcnow()
        for key in keys:
            limit = MAX_FAILURES[key.split(":", 1)[0]]
            for _attempt in range(3):  # a racing worker may insert the same key first
                try:
                    with self.engine.begin() as conn:
                        row = conn.execute(
                            select(login_throttle).where(login_throttle.c.key == key)
                        ).first()
                        if row is None:
                            conn.execute(
                                insert(login_throttle).values(key=key, failures=1, first_failure_at=now)
                            )
                        else:
                            fresh = as_utc(row.first_failure_at) <= now - WINDOW
                            failures = 1 if fresh else row.failures + 1
                            values = {"failures": failures}
                            if fresh:
                                values["first_failure_at"] = now
                                values["locked_until"] = None
                            if failures >= limit:
                                values["locked_until"] = now + LOCKOUT
                            conn.execute(
                                update(login_throttle).where(login_throttle.c.key == key).values(**values)
                            )
                    break
                except IntegrityError:
                    continue

    def clear(self, keys: list[str]) -> None:
        keys = [stored_key(key) for key in keys]
        with self.engine.begin() as conn:
            conn.execute(delete(login_throttle).where(login_throttle.c.key.in_(keys)))
