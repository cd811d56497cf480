"""One scan per filter set instead of one per widget.

When a dashboard's filters change, each of its widgets asks for its own aggregate over
the same filtered rows: over a 10,000,000-row table, twelve widgets scanned the table
twelve times (about 150 ms of CPU each on the 2-core development machine, half the
server's CPU in the load test; docs/scaling.md). Here the first widget of a new filter set
copies the matching rows into a table of the process's DuckDB instance, and the widgets
run on that table instead of the file: a month of the table is 1/24 of it.

The widget's query is unchanged: it still applies all its filters, to rows that already
match them (the filters are row predicates: ``analytics.widgets.base.filter_sql``), so
its result is the same rows it would get from the file. Only large files, selective
filters and subsets that fit a memory budget are copied; anything else, or a copy that
fails or takes too long, runs on the file as before.

The first widget of a filter set reads the file, so a filter set asked once (a chart
in the editor, an API query) costs a scan, not a copy, which costs about twice a scan
(it reads every column). Once a file has had a filter set asked by several widgets (a
dashboard), it is remembered as a dashboard's file, and the first widget of its next
filter sets copies at once: a dashboard's new filter set then costs one copy and no scan
(measured unloaded on 10M rows: ~0.45 s of CPU instead of ~0.6 s).

Per process, like the DuckDB instance it lives in: a cache, so nothing is lost when
another process does not have it. With Redis (several web processes behind a proxy), the
twelve widgets of one filter change land on every process, and each used to copy the
same rows for itself: the copying was doubled on two processes. There the process that
takes the copy's flight (storage.redis_state) also writes it to a Parquet file in the
shared data dir, and the others wait for the flight and load that file (a few ms for a
month of the table) instead of reading the table again. Shared copies are a cache too:
they are removed SHARED_SECONDS after they were written, and with their dataset's file.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from analytics.widgets.base import Params, Schema, filter_sql
from storage.duck import literal

log = logging.getLogger(__name__)

MIN_ROWS = 1_000_000  # below this a scan costs little more than a copy
MAX_FRACTION = 0.25  # a filter keeping more of the table than this is not worth copying
BUDGET_CELLS = 20_000_000  # rows x columns kept in all subsets at once (~0.2 GB of the instance's 768 MB)
MAX_CELLS = BUDGET_CELLS // 4  # one subset
MAX_REMEMBERED = 256  # filter sets remembered, most with no copy
MAX_DASHBOARD_FILES = 64  # files remembered as read by dashboards (copied at first sight)
# Other processes load a shared copy within seconds of it being written; after that it is
# only disk. Two minutes of a busy dashboard's new filter sets are a few hundred MB at most.
SHARED_SECONDS = 120
SHARED_SUBSETS = Path("cache") / "subsets"  # under the data dir
SWEEP_SECONDS = 30  # how often a process that writes shared copies removes old ones


@dataclass
class _Subset:
    name: str
    cells: int = 0
    state: str = "seen"  # seen (asked once) -> building -> ready (-> dropped) | unusable
    users: int = 0
    built: threading.Event = field(default_factory=threading.Event)


class FilteredSubsets:
    """``use(source, rows, schema, filters)`` yields the FROM a widget runs on."""

    def __init__(self, database: Callable, time_limit: float, min_rows: int = MIN_ROWS,
                 budget_cells: int = BUDGET_CELLS, shared_dir: Path | None = None, flights=None):
        self._database = database  # the QueryService's shared instance
        # Copies shared between processes (both or neither): a folder of the shared data
        # dir and the flights of storage.redis_state that say which process copies.
        self.shared_dir = shared_dir if flights is not None else None
        self.flights = flights
        self._next_sweep = 0.0
        self.time_limit = time_limit
        self.min_rows = min_rows
        self.budget_cells = budget_cells
        self._subsets: OrderedDict[str, _Subset] = OrderedDict()  # least recently used first
        # Files a filter set of which several widgets asked for: their next filter sets
        # are copied by the first widget (least recently used first).
        self._dashboard_files: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    @contextmanager
    def use(self, source: str, rows: int, schema: list[dict], filters: list[dict],
            file: Path | None = None) -> Iterator[str]:
        """The first widget of a filter set reads the file (a filter set asked once, as in
        the chart editor, is not worth a copy); the second copies its rows, and it and
        every later one read the copy. On a file whose filter sets several widgets asked
        for before (a dashboard's), the first widget copies. Widgets that arrive while it
        is copied wait for it. ``file``: the Parquet file ``source`` reads, which names
        the copies shared with other processes."""
        if not filters or rows < self.min_rows:
            yield source
            return
        key = hashlib.sha256(json.dumps([source, filters], sort_keys=True, default=str).encode()).hexdigest()[:32]
        builder = reading = False
        shared = self._shared_path(file, key)
        # Another process's copy of these rows is as good as a dashboard's file here.
        shared_now = shared is not None and key not in self._subsets and shared.exists()
        with self._lock:
            subset = self._subsets.get(key)
            if subset is None and (shared_now or source in self._dashboard_files):
                if source in self._dashboard_files:
                    self._dashboard_files.move_to_end(source)
                subset = self._subsets[key] = _Subset(f"subset_{key}", state="building")
                builder = True
            elif subset is None:
                self._subsets[key] = _Subset(f"subset_{key}")
            else:
                self._subsets.move_to_end(key)
                reading = self._take(subset)
                builder = subset.state == "seen"
                if builder:
                    subset.state = "building"
                    self._dashboard_files[source] = None
                    self._dashboard_files.move_to_end(source)
                    while len(self._dashboard_files) > MAX_DASHBOARD_FILES:
                        self._dashboard_files.popitem(last=False)
        if subset is None:
            self._evict()
            yield source
            return
        if not reading:
            if builder:
                self._build(subset, source, rows, schema, filters, shared, file)
            else:
                subset.built.wait(self.time_limit)
            with self._lock:
                reading = self._take(subset)
        if not reading:
            yield source
            return
        try:
            yield subset.name
        finally:
            with self._lock:
                subset.users -= 1
            self._evict()

    @staticmethod
    def _take(subset: _Subset) -> bool:
        """Count one more reader of a ready subset (under the lock: eviction drops only
        subsets nobody reads, and marks them dropped)."""
        if subset.state != "ready":
            return False
        subset.users += 1
        return True

    def _build(self, subset: _Subset, source: str, rows: int, schema: list[dict], filters: list[dict],
               shared: Path | None, file: Path | None) -> None:
        """Copy the matching rows, at most as many as a subset may hold (and one more, to
        tell), under the widgets' time limit; a filter set that keeps too many is dropped
        and remembered as unusable, so it is tried once. With ``shared``: load another
        process's copy of the same rows, or wait for the one copying them, or copy them
        and write the copy there for the others."""
        state, token = "unusable", None
        cursor = self._database().cursor()
        timer = threading.Timer(self.time_limit, cursor.interrupt)
        timer.daemon = True
        try:
            if shared is not None:
                state = self._load_shared(cursor, subset, shared, len(schema))
                if state is None:
                    token = self.flights.take(f"subset:{shared.stem}", self.time_limit)
                    if token is None:  # another process copies these rows now
                        self.flights.wait(f"subset:{shared.stem}", self.time_limit)
                    # Its copy may also have ended between looking and taking the flight.
                    state = self._load_shared(cursor, subset, shared, len(schema))
            if state in (None, "unusable"):
                timer.start()
                state = self._copy(cursor, subset, source, rows, schema, filters)
                if state == "ready" and token is not None:
                    self._write_shared(cursor, subset.name, shared, file)
        except Exception:  # noqa: BLE001 - the widgets then read the file, as without subsets
            log.warning("could not copy the rows of a filter set; widgets read the file", exc_info=True)
            state = "unusable"
            self._drop(subset.name)
        finally:
            timer.cancel()
            cursor.close()
            if token is not None:
                self.flights.release(f"subset:{shared.stem}", token)
            with self._lock:
                subset.state = state
            subset.built.set()
        self._evict()

    def _copy(self, cursor, subset: _Subset, source: str, rows: int, schema: list[dict],
              filters: list[dict]) -> str:
        params = Params()
        where = filter_sql(Schema(schema), filters, params)
        most = int(min(rows * MAX_FRACTION, min(MAX_CELLS, self.budget_cells) / max(1, len(schema))))
        cursor.execute(f"CREATE TABLE {subset.name} AS SELECT * FROM {source} WHERE {where} LIMIT {most + 1}",
                       params.values)
        copied = cursor.execute(f"SELECT count(*) FROM {subset.name}").fetchone()[0]
        if copied > most:
            cursor.execute(f"DROP TABLE {subset.name}")
            return "unusable"
        subset.cells = copied * len(schema)
        return "ready"

    # --- copies shared between processes ---------------------------------------------------

    def _shared_path(self, file: Path | None, key: str) -> Path | None:
        """Where the copy of ``key``'s rows from ``file`` is shared: a folder per dataset
        file, so that deleting the file's dataset removes its copies too."""
        if self.shared_dir is None or file is None:
            return None
        return self.shared_dir / Path(file).stem / f"{key}.parquet"

    @staticmethod
    def _load_shared(cursor, subset: _Subset, shared: Path, columns: int) -> str | None:
        """Another process's copy into this process's instance: "ready", or None when there
        is none (or it went away between looking and reading)."""
        try:
            cursor.execute(f"CREATE TABLE {subset.name} AS SELECT * FROM read_parquet({literal(str(shared))})")
        except Exception:  # noqa: BLE001 - no file (or removed meanwhile): copy here
            cursor.execute(f"DROP TABLE IF EXISTS {subset.name}")
            return None
        subset.cells = cursor.execute(f"SELECT count(*) FROM {subset.name}").fetchone()[0] * columns
        return "ready"

    def _write_shared(self, cursor, table: str, shared: Path, file: Path) -> None:
        """Write the copy whole under a temporary name, then rename it: a reader sees the
        whole file or none. A failure only costs the others their own copy."""
        tmp = shared.with_name(f"{shared.stem}.{uuid.uuid4().hex}.tmp")
        try:
            shared.parent.mkdir(parents=True, exist_ok=True)
            cursor.execute(f"COPY {table} TO {literal(str(tmp))} (FORMAT parquet)")
            os.replace(tmp, shared)
            if not file.exists():  # its dataset was deleted while the rows were copied
                forget_shared_copies(self.shared_dir, file)
            self._sweep()
        except Exception:  # noqa: BLE001
            log.warning("could not share the copy of a filter set's rows", exc_info=True)
            tmp.unlink(missing_ok=True)

    def _sweep(self) -> None:
        """Remove shared copies older than SHARED_SECONDS (at most every SWEEP_SECONDS)."""
        now = time.time()
        with self._lock:
            if now < self._next_sweep:
                return
            self._next_sweep = now + SWEEP_SECONDS
        sweep_shared_copies(self.shared_dir, now - SHARED_SECONDS)

    def _evict(self) -> None:
        """Drop the least recently used subsets nobody is reading until the rest fit the
        budget, and forget the oldest that hold nothing (seen once, unusable) past
        MAX_REMEMBERED."""
        doomed = []
        with self._lock:
            total = sum(s.cells for s in self._subsets.values())
            for key, subset in list(self._subsets.items()):
                if total <= self.budget_cells and len(self._subsets) <= MAX_REMEMBERED:
                    break
                if subset.users or subset.state == "building":
                    continue
                del self._subsets[key]
                total -= subset.cells
                if subset.state == "ready":
                    subset.state = "dropped"
                    doomed.append(subset.name)
        for name in doomed:
            self._drop(name)

    def _drop(self, name: str) -> None:
        cursor = self._database().cursor()
        try:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
        finally:
            cursor.close()

    def tables(self) -> list[str]:
        """The subsets' tables now in the instance (tests)."""
        with self._lock:
            return [s.name for s in self._subsets.values() if s.state == "ready"]


def sweep_shared_copies(shared_dir: Path | None, older_than: float) -> int:
    """Remove the shared copies written before ``older_than`` (a time.time()), and the
    folders left empty. Any process may sweep at any time: a copy removed under a reader
    makes it copy the rows itself."""
    removed = 0
    try:
        folders = list(shared_dir.iterdir()) if shared_dir is not None else []
    except OSError:  # no copies yet, or the folder went away
        return removed
    for folder in folders:
        try:  # another process may sweep or delete the same folder meanwhile
            for path in list(folder.iterdir()):
                if path.stat().st_mtime < older_than:
                    path.unlink()
                    removed += 1
            folder.rmdir()  # only when empty
        except OSError:
            pass
    return removed


def forget_shared_copies(shared_dir: Path, file: Path) -> None:
    """Remove every shared copy of ``file``'s rows (its dataset was deleted)."""
    shutil.rmtree(shared_dir / Path(file).stem, ignore_errors=True)
