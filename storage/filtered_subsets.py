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
another process does not have it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from analytics.widgets.base import Params, Schema, filter_sql

log = logging.getLogger(__name__)

MIN_ROWS = 1_000_000  # below this a scan costs little more than a copy
MAX_FRACTION = 0.25  # a filter keeping more of the table than this is not worth copying
BUDGET_CELLS = 20_000_000  # rows x columns kept in all subsets at once (~0.2 GB of the instance's 768 MB)
MAX_CELLS = BUDGET_CELLS // 4  # one subset
MAX_REMEMBERED = 256  # filter sets remembered, most with no copy
MAX_DASHBOARD_FILES = 64  # files remembered as read by dashboards (copied at first sight)


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
                 budget_cells: int = BUDGET_CELLS):
        self._database = database  # the QueryService's shared instance
        self.time_limit = time_limit
        self.min_rows = min_rows
        self.budget_cells = budget_cells
        self._subsets: OrderedDict[str, _Subset] = OrderedDict()  # least recently used first
        # Files a filter set of which several widgets asked for: their next filter sets
        # are copied by the first widget (least recently used first).
        self._dashboard_files: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    @contextmanager
    def use(self, source: str, rows: int, schema: list[dict], filters: list[dict]) -> Iterator[str]:
        """The first widget of a filter set reads the file (a filter set asked once, as in
        the chart editor, is not worth a copy); the second copies its rows, and it and
        every later one read the copy. On a file whose filter sets several widgets asked
        for before (a dashboard's), the first widget copies. Widgets that arrive while it
        is copied wait for it."""
        if not filters or rows < self.min_rows:
            yield source
            return
        key = hashlib.sha256(json.dumps([source, filters], sort_keys=True, default=str).encode()).hexdigest()[:32]
        builder = reading = False
        with self._lock:
            subset = self._subsets.get(key)
            if subset is None and source in self._dashboard_files:
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
                self._build(subset, source, rows, schema, filters)
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

    def _build(self, subset: _Subset, source: str, rows: int, schema: list[dict], filters: list[dict]) -> None:
        """Copy the matching rows, at most as many as a subset may hold (and one more, to
        tell), under the widgets' time limit; a filter set that keeps too many is dropped
        and remembered as unusable, so it is tried once."""
        params = Params()
        where = filter_sql(Schema(schema), filters, params)
        most = int(min(rows * MAX_FRACTION, min(MAX_CELLS, self.budget_cells) / max(1, len(schema))))
        cursor = self._database().cursor()
        timer = threading.Timer(self.time_limit, cursor.interrupt)
        timer.daemon = True
        timer.start()
        state = "unusable"
        try:
            cursor.execute(f"CREATE TABLE {subset.name} AS SELECT * FROM {source} WHERE {where} LIMIT {most + 1}",
                           params.values)
            copied = cursor.execute(f"SELECT count(*) FROM {subset.name}").fetchone()[0]
            if copied <= most:
                subset.cells, state = copied * len(schema), "ready"
            else:
                cursor.execute(f"DROP TABLE {subset.name}")
        except Exception:  # noqa: BLE001 - the widgets then read the file, as without subsets
            log.warning("could not copy the rows of a filter set; widgets read the file", exc_info=True)
            self._drop(subset.name)
        finally:
            timer.cancel()
            cursor.close()
            with self._lock:
                subset.state = state
            subset.built.set()
        self._evict()

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
