"""Engine creation and schema migrations for the metadata store.

The URL decides the engine: SQLite by default, PostgreSQL when the operator says so.
Nothing outside this module knows which one it is talking to.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import time
from datetime import datetime, timezone
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, exc, text
from sqlalchemy.engine import Engine

from storage.errors import InvalidInput, NotFound

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_PG_MIGRATION_LOCK = 724_311_001  # any constant; names the advisory lock

# Row ids are INTEGER columns: 32-bit on PostgreSQL. An id past this names nothing.
MAX_ROW_ID = 2**31 - 1


def row_id(value, what: str) -> int:
    """``value`` as a row id, or NotFound naming ``what`` ("dataset", "connection"...) when
    it is not a whole number an INTEGER column can hold (the database is not asked)."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise NotFound(f"There is no {what} {value!r}") from None
    if not 1 <= number <= MAX_ROW_ID:
        raise NotFound(f"There is no {what} {number}")
    return number


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


def _contains_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_contains_nul(v) for v in value)
    return False


def _refuse_nul_text(_conn, _cursor, _statement, parameters, _context, _executemany) -> None:
    """PostgreSQL cannot store NUL in text and its driver raised DataError (a 500) for an
    id of ``%00`` in a URL; SQLite stored it. Whatever route a value took, it is refused
    here, on both databases alike, as the person's input."""
    if _contains_nul(parameters):
        raise InvalidInput("Text may not contain the NUL character (\\0)")


def make_engine(url: str) -> Engine:
    engine = _make_engine(url)
    event.listen(engine, "before_cursor_execute", _refuse_nul_text)
    return engine


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            # WAL lets readers go on while one writer commits; foreign keys are off by
            # default in SQLite and we rely on them for cascades.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    engine = create_engine(url, future=True, pool_size=PG_POOL_SIZE, max_overflow=PG_POOL_OVERFLOW)
    event.listen(engine, "checkin", _note_checkin)
    event.listen(engine, "checkout", _ping_if_idle)
    return engine


# A web process runs 8 request threads, and a dashboard's page draws 4 widgets at once on
# each: with SQLAlchemy's default 5 kept connections, the rest were opened and closed
# again for every burst (a new PostgreSQL backend each time).
PG_POOL_SIZE = 10
PG_POOL_OVERFLOW = 10
# A connection back in the pool within this long is trusted; one idle longer is pinged
# before use. pool_pre_ping pinged on every checkout: a round trip of its own before each
# query, a sixth of the web process's time in the cluster load test.
PING_AFTER_IDLE_SECONDS = 10.0


def _note_checkin(_dbapi_connection, record) -> None:
    record.info["checked_in"] = time.monotonic()


def _ping_if_idle(dbapi_connection, record, _proxy) -> None:
    """A connection that sat idle may have been closed by the server (a restart, an idle
    timeout): ping it, and if it is gone let the pool open another (DisconnectionError
    makes the pool retry). A connection that dies while in use fails its statement, and
    SQLAlchemy then replaces every connection of the pool older than the failure."""
    checked_in = record.info.get("checked_in")
    if checked_in is None or time.monotonic() - checked_in < PING_AFTER_IDLE_SECONDS:
        return  # just opened (never checked in), or used moments ago
    try:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
        finally:
            cursor.close()
        if not dbapi_connection.autocommit:
            dbapi_connection.rollback()  # the ping's implicit transaction
    except Exception as error:  # noqa: BLE001 - whatever the driver raised, this connection is done
        raise exc.DisconnectionError(f"a pooled connection was closed while idle ({type(error).__name__})") from error


def read_only(engine: Engine) -> Engine:
    """The same pool, for reads outside any transaction (``with read_only(e).connect()``;
    never a write). On PostgreSQL such a connection is in autocommit: a read is one round
    trip instead of three (BEGIN, the query, ROLLBACK), which under load each waited for
    the GIL again. SQLite's BEGIN costs nothing, so its engine is returned as it is."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def head_revision() -> str:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def lock_in_transaction(conn, name: str) -> None:
    """Serialise, until they commit, the transactions that take the lock ``name``: a
    read-then-write (count, then decide) must not interleave with another process's.
    PostgreSQL: a transaction-level advisory lock. SQLite: the transaction's first write
    locks the whole database until commit already, so write before reading."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": name})


@contextlib.contextmanager
def _migration_lock(engine: Engine, lock_dir: Path | None):
    """Several workers may start at once; only one may migrate at a time."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                conn.commit()
        return
    if lock_dir is None:
        yield
        return
    lock_dir.mkdir(parents=True, exist_ok=True)
    with open(lock_dir / ".migrate.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def migrate(engine: Engine, revision: str = "head", lock_dir: Path | None = None) -> None:
    """Bring the metadata store to ``revision``; a no-op when it is there already."""
    with _migration_lock(engine, lock_dir):
        before = current_revision(engine)
        command.upgrade(alembic_config(engine), revision)
        after = current_revision(engine)
        if before != after:
            log.info("metadata store migrated from %s to %s", before or "empty", after)
