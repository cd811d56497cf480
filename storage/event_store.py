"""Where a site's events live (issue 13, point 6): Parquet files partitioned by site and
day, written so that an acknowledged event is on disk and a crash leaves nothing half made.

    <data dir>/events/site=<id>/day=<YYYY-MM-DD>/
        i-<ns>-<host>-<pid>-<n>.parquet   inbox: one per write, fsynced before the 202
        c-<ns>-<uuid>.parquet             compacted: the day's events sorted by time, with
                                          session ids, and in its footer the names of the
                                          files it replaces ("covers")
        s-<ns>-<uuid>.parquet             the compacted file's sessions, one row each
                                          (analytics.site_stats.session_summary_sql)

**Writing.** ``append`` hands rows to one writer thread per process, which writes
everything pending as one inbox file per (site, day) (temp file, fsync, rename, fsync of
the directory) and only then lets the callers answer: a group commit, so fifty clients
posting at once cost one fsync, not fifty.

**Reading.** A partition's visible files are all its files minus those a compacted file
covers. A day with inbox files is read with its session ids computed by a window over
that day (the compacted file's ids are made by the same SQL), so the newest events are in
the stats at once; a day that was compacted is read as it is, which keeps a month of 10
million events a plain scan. The session reports (overview, time series, sources,
devices) read a compacted day's summary instead of its events: about a fifth of the rows,
already grouped.

**Compacting.** One process at a time per site (a claim in the database, so several
processes and machines on a shared volume agree) rewrites a day's visible files as one
compacted file listing what it covers, renames it into place, and deletes the covered
files a minute later (a reader that listed them just before still finds them). A crash
at any step leaves either the old files or the new one visible, never both.

Sessions: a visitor's events with gaps under 30 minutes. Visitor ids of browsers change
each day (storage.collect), so a session never spans two days' partitions.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import queue
import shutil
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analytics.site_stats import SUMMARY_COLUMNS, session_summary_sql
from storage.duck import connect, literal

log = logging.getLogger(__name__)

SESSION_GAP_MINUTES = 30
COVER_GRACE_SECONDS = 60.0  # covered files stay this long for readers that listed them
WRITE_WAIT_SECONDS = 15.0
STATE_SECONDS = 1.0  # how long a process trusts its listing of a site's files  # a request is not acknowledged if its events are not on disk by then

EVENT_SCHEMA = pa.schema([
    ("ts", pa.timestamp("us")),
    ("type", pa.string()),
    ("name", pa.string()),
    ("url", pa.string()),
    ("hostname", pa.string()),
    ("path", pa.string()),
    ("title", pa.string()),
    ("referrer", pa.string()),
    ("referrer_host", pa.string()),
    ("utm_source", pa.string()),
    ("utm_medium", pa.string()),
    ("utm_campaign", pa.string()),
    ("utm_content", pa.string()),
    ("utm_term", pa.string()),
    ("visitor_id", pa.int64()),
    ("session_id", pa.int64()),
    ("user_id", pa.string()),
    ("browser", pa.string()),
    ("browser_version", pa.string()),
    ("os", pa.string()),
    ("device", pa.string()),
    ("props", pa.string()),
])
EVENT_COLUMNS = [f.name for f in EVENT_SCHEMA]
_STORED = ", ".join(c for c in EVENT_COLUMNS if c != "session_id")
_DUCK_TYPES = {pa.timestamp("us"): "TIMESTAMP", pa.string(): "VARCHAR", pa.int64(): "BIGINT"}

# The session of each event: a running count of 30-minute gaps per visitor, hashed with
# the visitor into one BIGINT. The compactor stores it; a day not yet compacted gets it here.
SESSION_SQL = f"""
    SELECT {_STORED}, (hash(visitor_id, strftime(ts, '%Y-%m-%d'), session_number) >> 1)::BIGINT AS session_id
    FROM (
        SELECT *, sum(starts) OVER (PARTITION BY visitor_id ORDER BY ts ROWS UNBOUNDED PRECEDING) AS session_number
        FROM (
            SELECT *, CASE WHEN ts - lag(ts) OVER (PARTITION BY visitor_id ORDER BY ts)
                              < INTERVAL {SESSION_GAP_MINUTES} MINUTE THEN 0 ELSE 1 END AS starts
            FROM {{source}}
        )
    )
"""
_EMPTY_SQL = "SELECT " + ", ".join(f"CAST(NULL AS {_DUCK_TYPES[f.type]}) AS {f.name}" for f in EVENT_SCHEMA) \
             + " WHERE false"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def day_of(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%d")


def rows_table(rows: list[tuple]) -> pa.Table:
    """An EVENT_SCHEMA table of row tuples in EVENT_COLUMNS' order."""
    columns = list(zip(*rows))
    return pa.Table.from_arrays([pa.array(column, type=field.type) for column, field in zip(columns, EVENT_SCHEMA)],
                                schema=EVENT_SCHEMA)


def _tables_by_site(batch: list) -> dict[int, list[pa.Table]]:
    """The waiting requests' parts as tables per site: every request's rows of a site in
    one conversion. A request whose rows cannot be converted (a bug, since collect makes
    them) fails alone: converted once more request by request, it gets the error, and the
    other requests are written."""
    tables: dict[int, list[pa.Table]] = {}
    rows: dict[int, list[tuple]] = {}
    for pending in batch:
        for site_id, part in pending.parts:
            if isinstance(part, pa.Table):
                tables.setdefault(site_id, []).append(part)
            else:
                rows.setdefault(site_id, []).extend(part)
    try:
        for site_id, site_rows in rows.items():
            tables.setdefault(site_id, []).append(rows_table(site_rows))
        return tables
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        log.exception("converting %d event requests at once failed; converting them one by one", len(batch))
    tables = {}
    for pending in list(batch):
        try:
            mine = [(site_id, part if isinstance(part, pa.Table) else rows_table(part))
                    for site_id, part in pending.parts]
        except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
            pending.error = exc
            batch.remove(pending)
            pending.done.set()
            continue
        for site_id, table in mine:
            tables.setdefault(site_id, []).append(table)
    return tables


@dataclass
class _Pending:
    """One request's rows, per site: written together or not at all."""
    parts: list  # [(site_id, table)]
    done: threading.Event
    error: BaseException | None = None
    taken: bool = False  # the writer has it: from then on the caller waits for the outcome
    cancelled: bool = False  # the caller gave up first: the writer skips it


class EventStore:
    def __init__(self, data_dir: Path):
        self.root = Path(data_dir) / "events"
        self.root.mkdir(parents=True, exist_ok=True)
        self._queue: queue.Queue[_Pending] = queue.Queue()
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()
        self._take_lock = threading.Lock()  # the writer taking a request vs its caller giving up
        self._states: dict[tuple, tuple[float, str]] = {}  # (site, first, last) -> (when, state)
        self._states_lock = threading.Lock()
        self._name_prefix = f"{socket.gethostname()[:40].replace('-', '_')}-{os.getpid()}"
        self._counter = 0
        # Day folders whose entries in their parents this process fsynced: a folder another
        # write made (here or in another process) may not be durable yet, so each process
        # fsyncs a folder's parents once, the first time it writes there.
        self._durable_folders: set[Path] = set()
        self._covers: dict[str, frozenset[str]] = {}  # compacted file path -> names it covers (immutable files)
        self._covers_lock = threading.Lock()
        self.written: set[tuple[int, str]] = set()  # (site, day) this process wrote to, for the compactor
        self._written_lock = threading.Lock()

    # --- paths ------------------------------------------------------------------------

    def site_dir(self, site_id: int) -> Path:
        return self.root / f"site={int(site_id)}"

    def day_dir(self, site_id: int, day: str) -> Path:
        return self.site_dir(site_id) / f"day={day}"

    def days(self, site_id: int) -> list[str]:
        base = self.site_dir(site_id)
        try:
            names = os.listdir(base)
        except FileNotFoundError:
            return []
        return sorted(n[4:] for n in names if n.startswith("day="))

    # --- writing ----------------------------------------------------------------------

    def append(self, site_id: int, table: pa.Table) -> None:
        self.append_many([(site_id, table)])

    def append_many(self, parts: list[tuple[int, pa.Table | list[tuple]]]) -> None:
        """Returns once the rows (EVENT_SCHEMA, session_id null) of every part are fsynced
        in inbox files; raises if they could not be, in which case none of them was
        written (TimeoutError: the writer never took them, and never will). A part is an
        Arrow table, or a list of row tuples in EVENT_COLUMNS' order: the writer makes one
        table of every waiting request's rows (one conversion instead of one a request)."""
        parts = [(int(site_id), rows) for site_id, rows in parts if len(rows)]
        if not parts:
            return
        pending = _Pending(parts, threading.Event())
        self._ensure_writer()
        self._queue.put(pending)
        if not pending.done.wait(WRITE_WAIT_SECONDS):
            with self._take_lock:
                if not pending.taken:
                    pending.cancelled = True
                    raise TimeoutError("the events could not be written in time")
            pending.done.wait()  # being written: its outcome is what the caller answers
        if pending.error is not None:
            raise pending.error

    def _ensure_writer(self) -> None:
        with self._writer_lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(target=self._write_loop, name="datainsight-event-writer", daemon=True)
                self._writer.start()

    def _write_loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:  # everything that arrived meanwhile goes in the same files
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            with self._take_lock:
                batch = [p for p in batch if not p.cancelled]
                for pending in batch:
                    pending.taken = True
            if not batch:
                continue
            try:
                self._write_batch(batch)
            except BaseException as exc:  # nothing was renamed into place: none is acknowledged
                log.exception("writing %d event requests failed", len(batch))
                for pending in batch:
                    pending.error = exc
            for pending in batch:
                pending.done.set()

    def _write_batch(self, batch: list[_Pending]) -> None:
        """Every file is written and fsynced under a temp name first; only then are they
        renamed into place. A failure before the renames leaves nothing visible."""
        by_site = _tables_by_site(batch)
        renames: list[tuple[Path, Path]] = []
        new_folders: set[Path] = set()
        try:
            for site_id, tables in by_site.items():
                # Not sorted: compaction sorts, and readers order by time themselves.
                table = pa.concat_tables(tables)
                for day, part in _by_day(table):
                    folder = self.day_dir(site_id, day)
                    folder.mkdir(parents=True, exist_ok=True)
                    if folder not in self._durable_folders:  # made now, or by a write that may have failed
                        new_folders.add(folder)
                    self._counter += 1
                    name = f"i-{time.time_ns()}-{self._name_prefix}-{self._counter}.parquet"
                    tmp = folder / f".tmp-{name}"
                    renames.append((tmp, folder / name))
                    # Uncompressed: an inbox file lives seconds, until compaction rewrites
                    # its day compressed; zstd cost more CPU than the bytes it saved.
                    pq.write_table(part, tmp, compression="none")
                    with open(tmp, "rb+") as handle:
                        os.fsync(handle.fileno())
        except BaseException:
            for tmp, _ in renames:
                tmp.unlink(missing_ok=True)
            raise
        for tmp, final in renames:
            os.rename(tmp, final)
        folders = {final.parent for _, final in renames}
        # The renames need their folder fsynced; a folder made just now needs its own entry
        # (and its site folder's) fsynced too, or a crash could lose the folder with the file.
        for folder in folders | {f.parent for f in new_folders} | {f.parent.parent for f in new_folders}:
            _fsync_dir(folder)
        if len(self._durable_folders) > 100_000:
            self._durable_folders.clear()
        self._durable_folders.update(new_folders)
        with self._written_lock:
            self.written.update((int(f.parent.name[5:]), f.name[4:]) for f in folders)
        with self._states_lock:
            for key in [k for k in self._states if k[0] in by_site]:
                del self._states[key]

    # --- reading ----------------------------------------------------------------------

    def covered_by(self, path: Path) -> frozenset[str]:
        key = str(path)
        with self._covers_lock:
            known = self._covers.get(key)
        if known is not None:
            return known
        try:
            meta = pq.read_metadata(path).metadata or {}
        except FileNotFoundError:  # swept meanwhile: it covers nothing any more (not remembered)
            return frozenset()
        # Any other failure is raised, never taken as "covers nothing": that would show a
        # compacted file beside the files it holds, and count their events twice.
        names = frozenset(json.loads(meta.get(b"covers", b"[]").decode()))
        with self._covers_lock:
            if len(self._covers) > 20000:
                self._covers.clear()
            self._covers[key] = names
        return names

    def visible(self, site_id: int, day: str) -> tuple[list[Path], bool]:
        """(files to read, whether any is an inbox file) of one day partition."""
        folder = self.day_dir(site_id, day)
        try:
            names = [n for n in os.listdir(folder) if n.endswith(".parquet") and n[:2] in ("i-", "c-")]
        except FileNotFoundError:
            return [], False
        covered: set[str] = set()
        for name in names:
            if name.startswith("c-"):
                covered |= self.covered_by(folder / name)
        shown = sorted(n for n in names if n not in covered)
        return [folder / n for n in shown], any(n.startswith("i-") for n in shown)

    def relation_sql(self, site_id: int, first_day: str | None = None, last_day: str | None = None) -> str:
        """A DuckDB relation of the site's events (EVENT_COLUMNS) on the days from
        ``first_day`` to ``last_day`` (inclusive, 'YYYY-MM-DD'; None: open), as a
        parenthesised subquery."""
        return self.relations(site_id, first_day, last_day)[0]

    def relations(self, site_id: int, first_day: str | None = None, last_day: str | None = None,
                  summarized=lambda day: False) -> tuple[str, str | None]:
        """(the events relation, the sessions relation or None): the days for which
        ``summarized(day)`` is true and that have a session summary (compacted, nothing
        written since) are left out of the events and read as their sessions
        (analytics.site_stats.SUMMARY_COLUMNS) instead."""
        sealed: list[Path] = []
        summaries: list[Path] = []
        parts: list[str] = []
        for day in self.days(site_id):
            if (first_day and day < first_day) or (last_day and day > last_day):
                continue
            files, fresh = self.visible(site_id, day)
            if not files:
                continue
            if not fresh and len(files) == 1 and summarized(day):
                summary = summary_path(files[0])
                if summary.exists():
                    summaries.append(summary)
                    continue
            if fresh:
                source = _read(files, with_session=False)
                # SESSION_SQL puts session_id last; UNION ALL matches by position.
                parts.append(f"SELECT {', '.join(EVENT_COLUMNS)} FROM ({SESSION_SQL.format(source=source)})")
            else:
                sealed.extend(files)
        if sealed:
            parts.insert(0, f"SELECT {', '.join(EVENT_COLUMNS)} FROM {_read(sealed, with_session=True)}")
        sessions = None
        if summaries:
            listed = ", ".join(literal(str(f)) for f in summaries)
            sessions = f"(SELECT {', '.join(SUMMARY_COLUMNS)} FROM read_parquet([{listed}]))"
        if not parts:
            return f"({_EMPTY_SQL})", sessions
        return "(" + " UNION ALL ".join(f"({p})" if len(parts) > 1 else p for p in parts) + ")", sessions

    def state(self, site_id: int, first_day: str | None = None, last_day: str | None = None) -> str:
        """What the site's visible files (of those days) are: a cache key that changes with
        every write. Remembered a second (forgotten at once when this process writes), so a
        page of reports lists the folders once."""
        key = (int(site_id), first_day, last_day)
        now = time.monotonic()
        with self._states_lock:
            known = self._states.get(key)
        if known is not None and now - known[0] < STATE_SECONDS:
            return known[1]
        stamp = []
        for day in self.days(site_id):
            if (first_day and day < first_day) or (last_day and day > last_day):
                continue
            files, _ = self.visible(site_id, day)
            stamp.append((day, [f.name for f in files]))
        state = json.dumps(stamp)
        with self._states_lock:
            if len(self._states) > 4096:
                self._states.clear()
            self._states[key] = (now, state)
        return state

    def stored_bytes(self, site_id: int) -> int:
        total = 0
        for day in self.days(site_id):
            for path in self.visible(site_id, day)[0]:
                for stored in (path, summary_path(path)) if path.name.startswith("c-") else (path,):
                    try:
                        total += stored.stat().st_size
                    except FileNotFoundError:
                        pass
        return total

    # --- compacting and retention ---------------------------------------------------------

    def needs_compaction(self, site_id: int, day: str, min_age: float = 0.0) -> bool:
        files, fresh = self.visible(site_id, day)
        if not files:
            return False
        if len(files) > 1 or fresh:
            if min_age <= 0:
                return True
            newest_age = min(_age(f) for f in files)
            return newest_age >= min_age or len(files) > 50
        return False

    def has_leftovers(self, site_id: int, day: str) -> bool:
        """Whether the partition holds files no reader needs (covered files and their
        summaries, or temp files)."""
        try:
            names = [n for n in os.listdir(self.day_dir(site_id, day)) if not n.startswith(".drop-")]
        except FileNotFoundError:
            return False
        shown = self.visible(site_id, day)[0]
        needed = len(shown) + sum(1 for f in shown if summary_path(f).name in names)
        return len(names) > needed

    def needs_summary(self, site_id: int, day: str) -> bool:
        files, fresh = self.visible(site_id, day)
        return not fresh and len(files) == 1 and not summary_path(files[0]).exists()

    def summarize(self, site_id: int, day: str, tmp_dir: Path) -> bool:
        """Write the session summary of a compacted day that has none (one compacted before
        summaries existed). Returns whether one was written."""
        files, fresh = self.visible(site_id, day)
        if fresh or len(files) != 1 or summary_path(files[0]).exists():
            return False
        target = summary_path(files[0])
        tmp = target.with_name(f".tmp-{target.name}")
        con = connect(tmp_dir, threads=1)
        try:
            write_summary(con, files[0], tmp)
        except (FileNotFoundError, duckdb.IOException):  # compacted again meanwhile: the new file has its own
            tmp.unlink(missing_ok=True)
            return False
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            con.close()
        os.rename(tmp, target)
        _fsync_dir(target.parent)
        return True

    def compact(self, site_id: int, day: str, tmp_dir: Path, still_claimed=lambda: True) -> int:
        """Rewrite one day's visible files as one compacted file; the caller holds the
        site's claim, and ``still_claimed()`` is asked just before the rename (a claim that
        ran out may be another process's now). Returns the rows written (0: nothing done)."""
        files, fresh = self.visible(site_id, day)
        if not files or (len(files) == 1 and not fresh):
            return 0
        folder = self.day_dir(site_id, day)
        name = f"c-{time.time_ns()}-{uuid.uuid4().hex[:12]}.parquet"
        tmp = folder / f".tmp-{name}"
        # What it replaces, and what those replaced: a compacted file read here is deleted
        # with its inputs, so its own list must live on in this one.
        names = {f.name for f in files}
        for f in files:
            if f.name.startswith("c-"):
                names |= self.covered_by(f)
        covers = json.dumps(sorted(names))
        con = connect(tmp_dir, threads=1)
        try:
            source = _read(files, with_session=False)
            con.execute(f"COPY ({SESSION_SQL.format(source=source)} ORDER BY ts) TO {literal(str(tmp))} "
                        f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880, "
                        f"KV_METADATA {{covers: {literal(covers)}}})")
            rows = con.execute(f"SELECT count(*) FROM read_parquet({literal(str(tmp))})").fetchone()[0]
            summary_tmp = folder / f".tmp-{summary_path(folder / name).name}"
            write_summary(con, tmp, summary_tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            (folder / f".tmp-{summary_path(folder / name).name}").unlink(missing_ok=True)
            raise
        finally:
            con.close()
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        if not still_claimed():
            tmp.unlink(missing_ok=True)
            summary_tmp.unlink(missing_ok=True)
            return 0
        # The summary first: a compacted file in place always has its summary (one left
        # without its compacted file by a crash is swept).
        os.rename(summary_tmp, summary_path(folder / name))
        os.rename(tmp, folder / name)
        _fsync_dir(folder)
        with self._states_lock:
            for key in [k for k in self._states if k[0] == int(site_id)]:
                del self._states[key]
        return rows

    def sweep_covered(self, site_id: int, day: str, grace: float = COVER_GRACE_SECONDS) -> int:
        """Delete files a compacted file covers once it is ``grace`` seconds old, and temp
        files an interrupted write left. Returns the files deleted."""
        folder = self.day_dir(site_id, day)
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            return 0
        deleted = 0
        for name in names:
            path = folder / name
            if name.startswith(".tmp-") and _age(path) > 3600:
                path.unlink(missing_ok=True)
                deleted += 1
        visible, _ = self.visible(site_id, day)
        shown = {p.name for p in visible}
        for name in names:  # a summary whose compacted file never arrived (a crash between the renames)
            if name.startswith("s-") and "c-" + name[2:] not in names and _age(folder / name) >= grace:
                (folder / name).unlink(missing_ok=True)
                deleted += 1
        for name in names:
            if not name.startswith("c-") or name not in shown or _age(folder / name) < grace:
                continue
            for old in self.covered_by(folder / name):
                if old in shown:  # never delete what is still read
                    continue
                # A covered compacted file's summary goes with it, after the same grace
                # (a reader that listed the one may read the other).
                for path in (folder / old, summary_path(folder / old)) if old.startswith("c-") else (folder / old,):
                    try:
                        path.unlink()
                        deleted += 1
                    except FileNotFoundError:
                        pass
                with self._covers_lock:
                    self._covers.pop(str(folder / old), None)
        if deleted:
            _fsync_dir(folder)
        return deleted

    def drop_days_before(self, site_id: int, first_kept: str) -> int:
        """Delete whole day partitions older than ``first_kept`` (retention). A partition is
        renamed away first, so it disappears from readers at once and entirely."""
        dropped = 0
        for day in self.days(site_id):
            if day >= first_kept:
                continue
            folder = self.day_dir(site_id, day)
            trash = folder.parent / f".drop-{day}-{uuid.uuid4().hex[:8]}"
            try:
                os.rename(folder, trash)
            except FileNotFoundError:
                continue
            shutil.rmtree(trash, ignore_errors=True)
            dropped += 1
        if dropped:
            _fsync_dir(self.site_dir(site_id))
            self._forget_state(site_id)
        return dropped

    def _forget_state(self, site_id: int) -> None:
        with self._states_lock:
            for key in [k for k in self._states if k[0] == int(site_id)]:
                del self._states[key]
        site_dir = self.site_dir(site_id)
        self._durable_folders = {f for f in self._durable_folders if f.parent != site_dir}

    def site_ids(self) -> list[int]:
        """The sites that have a folder (a deleted site's late writes may leave one)."""
        try:
            names = os.listdir(self.root)
        except FileNotFoundError:
            return []
        return [int(n[5:]) for n in names if n.startswith("site=") and n[5:].isdigit()]

    def delete_site(self, site_id: int) -> None:
        self._forget_state(site_id)
        folder = self.site_dir(site_id)
        if folder.exists():
            trash = self.root / f".drop-site-{int(site_id)}-{uuid.uuid4().hex[:8]}"
            os.rename(folder, trash)
            shutil.rmtree(trash, ignore_errors=True)


def _by_day(table: pa.Table):
    """(day, its rows) of an events table; one day (the usual case) without a filter."""
    bounds = pc.min_max(table["ts"])
    first, last = bounds["min"].as_py(), bounds["max"].as_py()
    if first.date() == last.date():
        yield day_of(first), table
        return
    days = pc.strftime(table["ts"], format="%Y-%m-%d")
    for day in pc.unique(days).to_pylist():
        yield day, table.filter(pc.equal(days, day))


def summary_path(compacted: Path) -> Path:
    """Where a compacted file's session summary is: ``c-<x>.parquet`` -> ``s-<x>.parquet``."""
    return compacted.with_name("s-" + compacted.name[2:])


def write_summary(con, compacted: Path, target: Path) -> None:
    """The sessions of a compacted file (its session ids made), fsynced at ``target``."""
    source = f"read_parquet({literal(str(compacted))})"
    con.execute(f"COPY ({session_summary_sql(source)}) TO {literal(str(target))} "
                f"(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)")
    with open(target, "rb+") as handle:
        os.fsync(handle.fileno())


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _read(files: list[Path], with_session: bool) -> str:
    listed = ", ".join(literal(str(f)) for f in files)
    columns = ", ".join(EVENT_COLUMNS if with_session else [c for c in EVENT_COLUMNS if c != "session_id"])
    return f"(SELECT {columns} FROM read_parquet([{listed}]))"


def empty_table() -> pa.Table:
    return EVENT_SCHEMA.empty_table()

