"""The widget query engine: access check → spec normalised against the dataset's current
schema → one aggregate SQL over the version's Parquet file → a small, capped result,
cached on disk by (dataset version, normalised spec, filters).

A new dataset version has a new file, so its results are new cache keys: nothing needs
to be invalidated by hand. Each query runs on its own DuckDB cursor with a timer that
interrupts it past the time limit, and returns at most ``row_cap`` rows.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import pickle
import re
import threading
import time
import uuid
from collections import OrderedDict
from contextlib import nullcontext
from pathlib import Path

import diskcache
import duckdb

from analytics.widgets import widget_type
from analytics.widgets.base import ROW_CAP, MissingColumn, Schema
from analytics.widgets.spec import (
    apply_dashboard_filters,
    normalize_filters,
    normalize_spec,
    spec_columns,
)
from storage.background import BackgroundResults, StillComputing
from storage.priority import INTERACTIVE
from storage.datasets import Dataset, DatasetService
from storage.duck import literal, shared_instance
from storage.errors import AnalysisError, DataInsightError, Forbidden, InvalidInput, InvalidSpec, NotFound
from storage.filtered_subsets import SHARED_SUBSETS, FilteredSubsets
from storage.metrics import metrics
from storage.principal import Principal

log = logging.getLogger(__name__)

DEFAULT_TIME_LIMIT = 15.0  # seconds per widget query
CACHE_SIZE_LIMIT = 512 * 1024 * 1024
CACHE_EXPIRE = 7 * 24 * 3600  # results of versions nobody asks for age out
MEMORY_ENTRIES = 512  # recent outputs also kept in this process, in front of the disk cache
# Part of every cache key: raise it when a change makes the same spec give other results
# or outputs, so results kept on disk (or in Redis) by the previous release are not served.
# 2: the widget cursors' time zone is UTC (it was the machine's on some cursors).
RESULTS_FORMAT = 2
# An analysis widget not computed yet (a new version) is waited for this long in a page
# request; after that the page shows it computing and polls.
ANALYSIS_WAIT = 1.5
# How long another process waits for an analysis widget that one process computes (with
# Redis) before computing it itself; a process that dies mid-way frees the key after this.
ANALYSIS_FLIGHT_SECONDS = 300


class _Recent:
    """A small in-process LRU in front of diskcache. Safe with several worker processes:
    a key names one dataset version's file and one normalised spec, so a value never
    changes; each process just remembers what it has seen. Values are kept pickled, so a
    caller that changes the dict it got back cannot change the cached one."""

    def __init__(self, size: int):
        self.size = size
        self.items: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return pickle.loads(self.items[key])
        return None

    def put(self, key, value) -> None:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        with self.lock:
            self.items[key] = data
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


class QueryTimeout(AnalysisError):
    """A widget's query ran past the time limit and was stopped."""

    code = "query_timeout"
    status = 422


class ChartFailed(DataInsightError):
    """Drawing a chart failed for a reason that is ours, not the data's or the spec's (a
    bug, a file the metadata promised): the person gets a reference to quote, the log
    keeps the reference with the dataset, the spec and the traceback."""

    code = "chart_failed"
    status = 500


def chart_failure(exc: BaseException, context: str) -> ChartFailed:
    """An unexpected failure logged with ``context``, its traceback and a reference; the
    error a person is shown quotes the reference (the dashboard's other widgets use it too)."""
    reference = uuid.uuid4().hex[:8]
    log.error("chart failed [ref %s]: %s", reference, context, exc_info=(type(exc), exc, exc.__traceback__))
    return ChartFailed(f"Something went wrong drawing this chart (reference {reference}); quote the reference "
                       "to your administrator", details={"reference": reference})


def _internal_failure(exc: BaseException, dataset: Dataset, spec: dict, step: str, sql: str | None = None):
    return chart_failure(exc, f"widget {spec.get('type')} while {step}, dataset {dataset.id} version "
                              f"{dataset.version}, spec {json.dumps(spec, sort_keys=True, default=str)}"
                              + (f", sql {sql}" if sql else ""))


def _missing_column_again(exc: MissingColumn) -> InvalidSpec:
    """A saved widget whose column a new version dropped or renamed, in words that say what to do."""
    name = exc.details.get("column")
    message = f"The column {name!r} is not in this dataset any more: edit the widget to choose another"
    if exc.details.get("similar"):
        message += f" (perhaps {exc.details['similar']!r})"
    return MissingColumn(message, details=exc.details)


class QueryService:
    def __init__(self, datasets: DatasetService, data_dir: Path, time_limit: float = DEFAULT_TIME_LIMIT,
                 row_cap: int = ROW_CAP, cache=None, flights=None):
        self.datasets = datasets
        self.dashboards = None  # set by Storage: render_shared reads the shared dashboard
        self.analyses = None  # set by Storage: analysis widgets run their analysis through it
        self.roles = None  # set by Storage: column roles decide how numbers are written
        self.live = None  # set by Storage (storage.live.LiveQueries): live datasets query their database
        self.query_sources = None  # set by Storage (storage.query_sources): live SQL datasets run their query
        self.sites = None  # set by Storage (storage.sites): a site's dataset reads its events as they arrive
        self.data_dir = Path(data_dir)
        self.time_limit = time_limit
        self.row_cap = row_cap
        # With Redis (storage.redis_state) the cache and the flights are shared by every
        # process on every machine; without it, diskcache on this machine and threading
        # Events in this process.
        self.cache = cache if cache is not None else diskcache.Cache(
            str(self.data_dir / "cache" / "queries"), size_limit=CACHE_SIZE_LIMIT,
            eviction_policy="least-recently-used")
        self.flights = flights
        self.recent = _Recent(MEMORY_ENTRIES)
        self._ranges: OrderedDict = OrderedDict()  # version file -> {integer column: (min, max)} of numeric columns
        self._ranges_lock = threading.Lock()
        self._db = None
        self._db_lock = threading.Lock()
        self._inflight: dict[str, threading.Event] = {}  # result key -> set when that query ends
        self._inflight_lock = threading.Lock()
        self.analysis_wait = ANALYSIS_WAIT
        self.background = BackgroundResults(workers=2, name="datainsight-analysis-widget")
        self.subsets = FilteredSubsets(self._database, time_limit, shared_dir=self.data_dir / SHARED_SUBSETS,
                                       flights=flights)

    def clear_cache(self) -> None:
        """Forget every cached result (tests and benchmarks; versions make it unneeded)."""
        self.recent.clear()
        self.cache.clear()

    def _cached(self, key: str):
        hit = self.recent.get(key)
        if hit is None:
            hit = self.cache.get(key)
            if hit is not None:
                self.recent.put(key, hit)
        return hit

    def _store(self, key: str, value) -> None:
        self.recent.put(key, value)
        self.cache.set(key, value, expire=CACHE_EXPIRE)

    # --- the engine ---------------------------------------------------------------------

    def _database(self) -> duckdb.DuckDBPyConnection:
        """One DuckDB instance for all widget queries (one memory limit, one Parquet
        metadata cache); each query gets its own cursor so it can be interrupted alone."""
        with self._db_lock:
            if self._db is None:
                self._db = shared_instance(self.data_dir / "tmp")
            return self._db

    def _execute(self, sql: str, params: list, source: str) -> tuple[list[str], list[list], bool]:
        cap_holder = f"${len(params) + 1}"
        wrapped = f"SELECT * FROM ({sql}) AS widget_result LIMIT {cap_holder}"
        cursor = self._database().cursor()
        timed_out = threading.Event()

        def stop():
            timed_out.set()
            cursor.interrupt()

        timer = threading.Timer(self.time_limit, stop)
        timer.daemon = True
        timer.start()
        try:
            with INTERACTIVE.running():  # background jobs (profiles) give way meanwhile
                cursor.execute(wrapped, params + [self.row_cap + 1])
                columns = [d[0] for d in cursor.description]
                rows = [list(r) for r in cursor.fetchall()]
        except duckdb.Error as exc:
            raise self._query_error(exc, source, timed_out.is_set()) from None
        finally:
            timer.cancel()
            cursor.close()
        truncated = len(rows) > self.row_cap
        return columns, rows[: self.row_cap], truncated

    def _query_error(self, exc: duckdb.Error, source: str, timed_out: bool) -> DataInsightError | duckdb.Error:
        """What a failed widget query means to a person; an error that is no fault of the
        data or the spec goes back as it is, for the caller to log with its context."""
        if timed_out or isinstance(exc, duckdb.InterruptException):
            return QueryTimeout(f"This chart took longer than {self.time_limit:g} s and was stopped: add a filter "
                                "or choose a coarser grain (months rather than days, fewer categories)")
        if isinstance(exc, duckdb.ConversionException):
            return InvalidSpec("A filter value does not fit its column (" + _clean_message(exc, source) +
                               "): change the filter's value")
        if isinstance(exc, duckdb.OutOfRangeException):
            return AnalysisError("A number in this chart is too large to compute (" + _clean_message(exc, source) +
                                 "): try an average instead of a sum, or add a filter")
        if isinstance(exc, duckdb.OutOfMemoryException):
            return AnalysisError("This chart needs more memory than the server can give it: add a filter or "
                                 "show fewer categories")
        if isinstance(exc, duckdb.IOException):
            log.error("a dataset file cannot be read: %s", exc)
            return AnalysisError("This dataset's file cannot be read on the server: upload the file again, "
                                 "or ask an administrator to restore it")
        return exc

    def _schema_with_ranges(self, dataset: Dataset) -> list[dict]:
        """The schema with exact min/max of its integer and float columns, read from the
        Parquet footer's statistics (no scan), so a distinct count can use a bitmap and a
        histogram needs one pass. A column is left without bounds unless every row group
        has statistics for it."""
        key = dataset.path
        with self._ranges_lock:
            known = self._ranges.get(key)
        if known is None:
            numeric = {c["name"]: c["type"] for c in dataset.schema if c["type"] in ("integer", "float")}
            ranges = {}
            if numeric:
                path = literal(str(self.datasets.file_path(dataset)))
                cursor = self._database().cursor()
                try:
                    rows = cursor.execute(
                        "SELECT path_in_schema, min(TRY_CAST(stats_min_value AS DOUBLE)), "
                        "max(TRY_CAST(stats_max_value AS DOUBLE)), bool_and(TRY_CAST(stats_min_value AS DOUBLE) "
                        "IS NOT NULL OR stats_null_count = row_group_num_rows), "
                        "min(TRY_CAST(stats_min_value AS BIGINT)), max(TRY_CAST(stats_max_value AS BIGINT)) "
                        f"FROM parquet_metadata({path}) GROUP BY 1").fetchall()
                    for name, low, high, complete, int_low, int_high in rows:
                        if name not in numeric or not complete or low is None or high is None:
                            continue
                        if not (math.isfinite(low) and math.isfinite(high)):
                            continue
                        if numeric[name] == "integer":
                            if int_low is not None and int_high is not None:
                                ranges[name] = (int_low, int_high)
                        else:
                            ranges[name] = (low, high)
                except duckdb.Error as exc:  # no statistics: plain distinct counts
                    log.info("no Parquet statistics for dataset %s: %s", dataset.id, exc)
                finally:
                    cursor.close()
            with self._ranges_lock:
                self._ranges[key] = ranges
                while len(self._ranges) > MEMORY_ENTRIES:
                    self._ranges.popitem(last=False)
            known = ranges
        ranges = known
        return [dict(c, min=ranges[c["name"]][0], max=ranges[c["name"]][1]) if c["name"] in ranges else c
                for c in dataset.schema]

    def _key(self, kind: str, dataset: Dataset, spec: dict) -> str:
        # The version's file path is unique (a uuid), so a re-used dataset id cannot collide.
        # Words that change no result (title, description) are left out of a query's key.
        if kind == "q":
            spec = {k: v for k, v in spec.items() if k not in ("title", "description", "dataset_id")}
        bucket = None
        live = self.live.source_for(dataset) if self.live is not None else None
        if live is not None:  # a live table changes under us: its results are kept for cache_seconds
            bucket = int(time.time() // live.cache_seconds) if live.cache_seconds > 0 else time.time()
        query_source = self.query_sources.source_for(dataset) if self.query_sources is not None else None
        if query_source is not None:  # a live SQL dataset's rows are those of the workspace's datasets now
            bucket = self.query_sources.state_of(query_source)
        site_id = self._site_of(dataset)
        if site_id is not None:  # a site's events: the files visible now (each write adds one)
            bucket = self.sites.store.state(site_id)
        raw = json.dumps([RESULTS_FORMAT, kind, dataset.id, dataset.version, dataset.path, spec, bucket],
                         sort_keys=True, default=str)
        return kind + ":" + hashlib.sha256(raw.encode()).hexdigest()

    # --- on a dataset the caller has already been given (by an access check or a share
    # token): the steps the dashboard views and the reports share with run/render ---------

    def prepare(self, dataset: Dataset, spec: dict, extra_filters, *, saved: bool = True) -> dict:
        """The widget spec checked against ``dataset``'s columns, with ``extra_filters``
        (dashboard filters, cross-filters) added to its own. ``saved``: the spec was made
        on an earlier version, so a column it names that is gone is said to be gone."""
        try:
            normalized = normalize_spec(spec, dataset.schema)
        except MissingColumn as exc:
            raise (_missing_column_again(exc) if saved else exc) from None
        if extra_filters:
            normalized["filters"] = normalized["filters"] + normalize_filters(extra_filters, Schema(dataset.schema))
        return normalized

    def result_on(self, dataset: Dataset, normalized: dict) -> dict:
        """The rows of a prepared spec: cached, or run once however many ask at a time."""
        key = self._key("q", dataset, normalized)
        hit = self._cached(key)
        if hit is not None:
            metrics().widget_queries.labels(normalized["type"], "hit").inc()
            return {**hit, "cached": True}
        with self._inflight_lock:
            running = self._inflight.get(key)
            if running is None:
                self._inflight[key] = threading.Event()
        if running is not None:
            # The same query is already running (a prefetch, or another viewer): wait for
            # its result rather than scanning the table a second time.
            running.wait(self.time_limit + 1)
            hit = self._cached(key)
            if hit is not None:
                metrics().widget_queries.labels(normalized["type"], "shared").inc()
                return {**hit, "cached": True}
            return self.result_on(dataset, normalized)  # it failed: run it here, with its error
        try:
            return self._run_once_everywhere(key, dataset, normalized)
        finally:
            with self._inflight_lock:
                self._inflight.pop(key).set()

    def _run_once_everywhere(self, key: str, dataset: Dataset, normalized: dict) -> dict:
        """With Redis: the same query asked of two processes (two web processes behind a
        proxy, a prefetch here and a viewer there) scans the table once; the other process
        waits for the flight to end and reads the shared cache. A flight that ends without
        a result (the query failed, or its process died) is run again here."""
        def shared(hit: dict) -> dict:
            metrics().widget_queries.labels(normalized["type"], "shared").inc()
            return {**hit, "cached": True}

        return self._once_everywhere(key, self.time_limit + 5, lambda: self._run_query(key, dataset, normalized),
                                     on_shared=shared)

    def _once_everywhere(self, key: str, seconds: float, compute, on_shared=lambda hit: hit):
        """``compute()`` (which stores its result under ``key``) unless another process is
        computing the same key: then wait for it, up to ``seconds``, and answer its result
        from the shared cache. Without Redis there is one process to think of: compute."""
        if self.flights is None:
            return compute()
        token = self.flights.take(key, seconds)
        if token is None:
            self.flights.wait(key, seconds)
            hit = self._cached(key)
            if hit is not None:
                return on_shared(hit)
            token = self.flights.take(key, seconds)  # None: still running elsewhere; run here rather than wait twice
        try:
            return compute()
        finally:
            if token is not None:
                self.flights.release(key, token)

    def _run_query(self, key: str, dataset: Dataset, normalized: dict) -> dict:
        wt = widget_type(normalized["type"])
        live = self.live.source_for(dataset) if self.live is not None else None
        rows_from = None  # the FROM the query reads, when it is not simply ``source``
        if live is not None:
            # A live dataset's widget runs on its database (storage.live); its file is a
            # sample, whose ranges would be wrong for the table, so none are given.
            from storage.live import STAND_IN

            source, schema = STAND_IN, dataset.schema

            def execute(sql, params, _source):
                return self.live.run(live, sql, params, self.row_cap, self.time_limit)
        elif (query_source := self.query_sources.source_for(dataset) if self.query_sources else None) is not None:
            # A live SQL dataset: the widget's query is built over a stand-in name that
            # storage.query_sources replaces with the person's query, its parameters bound.
            source, schema = self.query_sources.stand_in(), dataset.schema

            def execute(sql, params, stand_in):
                return self.query_sources.run(query_source, sql, params, normalized.get("parameters"), stand_in,
                                              self.row_cap, self.time_limit)
        elif (site_id := self._site_of(dataset)) is not None:
            # A site's dataset: its widgets read the events themselves, the newest included.
            source, schema, execute = self.sites.store.relation_sql(site_id), dataset.schema, self._execute
        else:
            file = self.datasets.file_path(dataset)
            source = f"read_parquet({literal(str(file))})"
            schema, execute = self._schema_with_ranges(dataset), self._execute
            # The rows of the filter set, copied once for the dashboard's widgets
            # (storage.filtered_subsets); the query reads them with the same filters.
            rows_from = self.subsets.use(source, dataset.rows, dataset.schema, normalized["filters"], file)
        with rows_from or nullcontext(source) as source:
            result = self._built_and_run(wt, normalized, schema, source, execute, dataset)
        if live is None or live.cache_seconds > 0:
            self._store(key, result)
        metrics().widget_queries.labels(normalized["type"], "miss").inc()
        return {**result, "cached": False}

    @staticmethod
    def _built_and_run(wt, normalized: dict, schema, source: str, execute, dataset: Dataset) -> dict:
        try:
            built = wt.query(normalized, schema, source)
        except DataInsightError:
            raise
        except Exception as exc:
            raise _internal_failure(exc, dataset, normalized, "building its query") from None
        if built is None:
            return {"columns": [], "rows": [], "truncated": False}
        started = time.perf_counter()
        try:
            columns, rows, truncated = execute(*built, source)
        except duckdb.Error as exc:  # not the data's fault nor the spec's (mapped in _query_error)
            raise _internal_failure(exc, dataset, normalized, "running its query", built[0]) from None
        seconds = time.perf_counter() - started
        log.debug("widget %s on dataset %s: %.1f ms", normalized["type"], dataset.id, seconds * 1000)
        metrics().widget_query_duration.labels(normalized["type"]).observe(seconds)
        return {"columns": columns, "rows": rows, "truncated": truncated}

    def rows_elsewhere(self, dataset: Dataset) -> bool:
        """Whether the dataset's rows are not its file's (a live table, a live SQL query:
        the file is a sample), so whatever reads every row must go through its charts' query."""
        return any(service is not None and service.source_for(dataset) is not None
                   for service in (self.live, self.query_sources)) or self._site_of(dataset) is not None

    def _site_of(self, dataset: Dataset) -> int | None:
        return self.sites.site_of_dataset(dataset) if self.sites is not None else None

    def parameters_of(self, dataset: Dataset) -> list[dict]:
        """The ``{{parameters}}`` of a live SQL dataset that dashboard filters bind (else [])."""
        return self.query_sources.parameters_of(dataset) if self.query_sources is not None else []

    def column_roles(self, dataset: Dataset) -> dict[str, str] | None:
        """{column: role} of the dataset's current version, a person's corrections
        included (storage.roles; access was checked when ``dataset`` was resolved)."""
        if self.roles is None:
            return None
        return {name: found["role"] for name, found in self.roles.roles_for(dataset).items()}

    def render_on(self, dataset: Dataset | None, normalized: dict, *, complete: bool = False) -> dict:
        """The drawn widget (figure, table or text) of a prepared spec, cached. An
        analysis widget whose analysis takes longer than self.analysis_wait seconds
        answers {"kind": "pending"} meanwhile (its result is there for the next request),
        unless ``complete`` (a report: it waits for everything)."""
        wt = widget_type(normalized["type"])
        if dataset is None:  # markdown: no data at all
            return wt.render(None, normalized)
        if normalized["type"] == "analysis":
            return self._render_analysis(dataset, normalized, None if complete else self.analysis_wait)
        context = render_context(dataset, self.column_roles(dataset))
        key = self._key("r", dataset, {**normalized, "__roles": context["roles"]} if context["roles"] else normalized)
        hit = self._cached(key)
        if hit is not None:
            return hit
        result = self.result_on(dataset, normalized)
        try:
            output = wt.render({**result, **context}, normalized)
        except DataInsightError:
            raise
        except Exception as exc:
            raise _internal_failure(exc, dataset, normalized, "drawing its result") from None
        if result["truncated"]:
            output["truncated"] = True  # the UI can say that not everything is shown
        self._store(key, output)
        return output

    def _render_analysis(self, dataset: Dataset, normalized: dict, wait: float | None) -> dict:
        """An analysis widget: its analysis run on ``dataset`` (already access-checked, or
        found by a share token) with the widget's stored params, then drawn. Filters do
        not apply (the output says so), so they are not part of the key; the analysis
        service caches the result per dataset version, so a new version recomputes, in
        the background: a forecast or a clustering of a large new version may take many
        seconds, and the rest of the dashboard does not wait for it."""
        spec = {k: v for k, v in normalized.items() if k != "filters"}
        key = self._key("r", dataset, spec)
        hit = self._cached(key)
        if hit is not None:
            return hit

        def compute() -> dict:
            output = widget_type("analysis").render(self.analyses.run_on(dataset, spec["kind"], spec["params"]), spec)
            self._store(key, output)
            return output

        # A page's poll may land on another web process: with Redis that process waits for
        # the first one's analysis (in its background thread) instead of starting it again.
        try:
            return self.background.get(key, lambda: self._once_everywhere(key, ANALYSIS_FLIGHT_SECONDS, compute), wait)
        except StillComputing:
            return {"kind": "pending", "message": "Computing this analysis on the current data; it appears here "
                                                  "when it is done."}

    # --- for a signed-in principal --------------------------------------------------------

    def run(self, principal: Principal, dataset_id, spec: dict, extra_filters=None) -> dict:
        """{"columns", "rows", "truncated", "cached"}: the widget's small result. Rows hold
        Python values (dates, decimals); the API turns them into JSON."""
        dataset = self.datasets.get(principal, dataset_id)
        return public_result(self.result_on(dataset, self.prepare(dataset, spec, extra_filters, saved=False)))

    def render(self, principal: Principal, dataset_id, spec: dict, extra_filters=None, *,
               complete: bool = False) -> dict:
        """The widget's output (figure, KPI, table or markdown); a failing query raises its
        error (InvalidSpec, QueryTimeout, AnalysisError) for the UI to show on that widget.
        ``complete``: wait for a slow analysis widget rather than answer "pending" (the API)."""
        if isinstance(spec, dict) and spec.get("type") == "markdown" and dataset_id is None:
            return self.render_on(None, normalize_spec(spec, []))
        dataset = self.datasets.get(principal, dataset_id)
        return self.render_on(dataset, self.prepare(dataset, spec, extra_filters), complete=complete)

    def render_widget(self, principal: Principal, dashboard_id, widget_id: str, extra_filters=None,
                      dashboard_filters=None) -> dict:
        """One widget of a dashboard the principal can view, with the dashboard's filter
        values (``dashboard_filters``, the dashboard filter shape) and cross-filters. For
        the API: an analysis widget is waited for, however long it takes."""
        dashboard = self.dashboards.get(principal, dashboard_id)
        widget = _find_widget(dashboard, widget_id)
        spec = widget["spec"]
        if spec["type"] == "markdown":
            return self.render_on(None, normalize_spec(spec, []))
        dataset = self.datasets.get(principal, spec["dataset_id"])
        normalized = self.prepare(dataset, spec, extra_filters)
        normalized = apply_dashboard_filters(normalized, dataset.schema, dashboard_filters, self.parameters_of(dataset))
        return self.render_on(dataset, normalized, complete=True)

    # --- for a public share link -----------------------------------------------------------

    def render_shared(self, token: str, widget_id: str, extra_filters=None, table_view: dict | None = None) -> dict:
        """One widget of a shared dashboard. The link reaches only that dashboard's own
        widget specs; ``extra_filters`` may hold the dashboard's own filters (the dashboard
        filter shape, matched by id: only the value comes from the caller) and cross-filter
        clicks (``=`` / ``is null`` / a histogram bin's ``between`` on a column the
        dashboard's widgets use). Anything else is refused. ``table_view`` may page and
        sort a table widget (page, sort, descending only; checked with the spec)."""
        dashboard, _share_principal = self.dashboards.get_shared(token)
        widget = _find_widget(dashboard, widget_id)
        spec = widget["spec"]
        if spec["type"] == "table" and table_view:
            spec = {**spec, **{k: v for k, v in table_view.items() if k in ("page", "sort", "descending")}}
        if spec["type"] == "markdown":
            return self.render_on(None, normalize_spec(spec, []))
        dataset = self.dataset_in_workspace(spec["dataset_id"], dashboard["workspace_id"])
        dashboard_values, clicks = _split_shared_filters(dashboard, extra_filters)
        normalized = self.prepare(dataset, spec, clicks)
        normalized = apply_dashboard_filters(normalized, dataset.schema, dashboard_values, self.parameters_of(dataset))
        return self.render_on(dataset, normalized)

    def dataset_in_workspace(self, dataset_id, workspace_id: int) -> Dataset:
        """The widget's dataset, found by the share token's authority (no member here):
        only when it is in the dashboard's own workspace."""
        dataset = self.datasets.in_workspace(dataset_id, workspace_id)
        if dataset is None:
            raise NotFound("This widget's dataset is no longer there")
        return dataset

    def close(self) -> None:
        self.background.shutdown()
        self.cache.close()
        with self._db_lock:
            if self._db is not None:
                # A query still running (a page's prefetch) keeps the connection busy: wait
                # for it, at most its time limit, rather than fail the shutdown.
                deadline = time.monotonic() + self.time_limit + 1
                while True:
                    try:
                        self._db.close()
                        break
                    except duckdb.Error as exc:
                        if time.monotonic() > deadline:
                            log.warning("widget queries still running at shutdown: %s", exc)
                            break
                        time.sleep(0.05)
                self._db = None


# Columns the chart queries add for their own drawing (how many categories there are, the
# total behind "Other"): the rendered output says it in words, the public result omits them.
CHART_COLUMNS = ("__n_all", "__y_all", "__n_groups", "__other")


def public_result(result: dict) -> dict:
    """A query result as the API gives it: the spec's own columns, without CHART_COLUMNS."""
    columns = result["columns"]
    keep = [i for i, c in enumerate(columns) if c not in CHART_COLUMNS]
    if len(keep) == len(columns):
        return result
    return {**result, "columns": [columns[i] for i in keep], "rows": [[r[i] for i in keep] for r in result["rows"]]}


def render_context(dataset: Dataset, roles: dict[str, str] | None = None) -> dict:
    """What a widget's render reads besides its rows: {"types": {column: type}, "roles":
    {column: role} or None}. Roles ("date_part", "identifier", "code", "measure", ...) say
    which numbers are labels (a year is written 2013, not 2,013); without them the widgets
    judge from the column's name and values."""
    return {"types": {c["name"]: c["type"] for c in dataset.schema}, "roles": dict(roles) if roles else None}


def _find_widget(dashboard: dict, widget_id) -> dict:
    for widget in dashboard["widgets"]:
        if widget["id"] == widget_id:
            return widget
    raise NotFound(f"There is no widget {widget_id!r} on this dashboard")


def _split_shared_filters(dashboard: dict, extra_filters) -> tuple[list[dict], list[dict]]:
    """(dashboard filter values, cross-filter clicks) a share-link viewer may apply."""
    if not extra_filters:
        return [], []
    if not isinstance(extra_filters, list):
        raise InvalidInput("Filters must be a list")
    defined = {f["id"]: f for f in dashboard.get("filters") or []}
    used = set()
    for widget in dashboard["widgets"]:
        used |= spec_columns(widget["spec"])
    values, clicks = [], []
    for flt in extra_filters:
        if not isinstance(flt, dict):
            raise InvalidInput("Each filter must be an object")
        if "kind" in flt or ("id" in flt and "op" not in flt):
            own = defined.get(flt.get("id"))
            if own is None:
                raise Forbidden("A shared dashboard only takes its own filters")
            values.append({**own, "value": flt.get("value")})
        else:
            # What click_filter makes: = (and is null) on a mark, between on a histogram bin.
            if flt.get("op") not in ("=", "is null", "between") or flt.get("column") not in used:
                raise Forbidden("A shared dashboard only takes its own filters and clicks on its charts")
            clicks.append(flt)
    return values, clicks


def _clean_message(exc: Exception, source: str) -> str:
    """DuckDB's message without the server's file paths or the SQL (a person can act on
    the first line; the log keeps the rest)."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    text = text.replace(source, "the dataset")
    return re.sub(r"(/[\w.\-]+)+\.parquet", "the dataset", text)[:300]
