"""Datasets copied from a connected database (issue 16, point 2).

``create`` copies a table (or the result of one SELECT) into a new dataset as a
background job; ``refresh`` makes a new version of it the same way, by hand or on its
``refresh`` setting:
- ``"manual"``;
- ``{"every": N, "unit": "minutes" | "hours"}`` (at least every 5 minutes);
- ``{"daily": "HH:MM", "timezone": "Europe/Paris"}``.

The rows stream from the database in Arrow batches (read ahead by a thread while the
previous ones are written) straight into the dataset's final Parquet form: the column
types are the database's, never sniffed from the values, so the file is written once as
the import would have written it (ingest.DatasetFileWriter), then committed like every
dataset file (the Parquet checks, fsync, rename, one metadata transaction). A failed
refresh keeps the previous version and records why.

``incremental_column`` (a timestamp, date or increasing number) appends only the rows
whose value is greater than the largest one already copied. Rows changed in place, or
added later with a value not above that, are not seen: a full refresh (``"full": true``)
brings them.

Exactly once with several workers: the scheduler claims a due refresh by moving
``next_refresh_at`` with ``WHERE next_refresh_at = <the value it read>``; a refresh runs
only after claiming ``running_job`` (``WHERE running_job IS NULL``), so a manual refresh
and a scheduled one never copy at the same time. Refreshes run as the person who made the
dataset; one whose owner lost edit access, or whose connection was deleted, stops and
says so.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import re
import threading
import uuid
from contextlib import closing
from typing import Iterator

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import insert, or_, select, update

from analytics.columns import unique_names
from analytics.sql_parameters import parameters_in
from storage import ingest
from storage.audit import NO_AUDIT
from storage.connectors import (SAMPLE_ROWS, SAMPLE_SQL, SYNC_TIMEOUT, one_select, open_source, quote_table,
                                without_settings)
from storage.database import as_utc, utcnow
from storage.dataset_sources import SAMPLED_SOURCES
from storage.errors import Conflict, DataInsightError, Forbidden, IngestError, InvalidInput, NotFound
from storage.datasets import clean_dataset_name as clean_name
from storage.jobs import JobCancelled, Reporter
from storage.live import DEFAULT_CACHE_SECONDS, check_live_names
from storage.principal import Principal, Role
from storage.query_sources import sample_note as query_sample_note
from storage.reports import check_timezone
from storage.schedules import next_run
from storage.tables import dataset_syncs
from storage.tables import jobs as jobs_table
from storage.tables import datasets as datasets_table

log = logging.getLogger(__name__)

PAYLOAD_KEYS = {"name", "table", "sql", "refresh", "incremental_column", "description", "mode", "cache_seconds"}
MAX_CACHE_SECONDS = 86_400
LIVE_KINDS = ("postgresql", "mysql")  # where the widget queries translate (storage.live)
MIN_EVERY_MINUTES = 5
MAX_EVERY = 10_000
STALE_REFRESH = dt.timedelta(hours=2)  # a refresh "running" longer than this was cut off
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_ORDERED = ("integer", "float", "date", "timestamp")


class SyncStopped(Exception):
    """The dataset cannot be refreshed any more (connection deleted, owner without access)."""


# --- the refresh setting -----------------------------------------------------------------------


def check_refresh(value):
    """The refresh setting, checked: "manual", {"every", "unit"} or {"daily", "timezone"}."""
    if value is None or value == "manual":
        return "manual"
    if value == "hourly":
        return {"every": 1, "unit": "hours"}
    if value == "daily":
        return {"daily": "00:00", "timezone": "UTC"}
    if not isinstance(value, dict):
        raise InvalidInput('refresh is "manual", {"every": 15, "unit": "minutes"} or '
                           '{"daily": "06:00", "timezone": "Europe/Paris"}', details={"field": "refresh"})
    if "every" in value:
        every, unit = value.get("every"), value.get("unit", "hours")
        if unit not in ("minutes", "hours"):
            raise InvalidInput("refresh.unit is minutes or hours", details={"field": "refresh"})
        if isinstance(every, bool) or not isinstance(every, int) or not 1 <= every <= MAX_EVERY or \
                (unit == "minutes" and every < MIN_EVERY_MINUTES):
            raise InvalidInput(f"refresh.every is a whole number of {unit}, at least "
                               f"{MIN_EVERY_MINUTES if unit == 'minutes' else 1}", details={"field": "refresh"})
        if set(value) - {"every", "unit"}:
            raise InvalidInput("A refresh every N minutes or hours has only every and unit",
                               details={"field": "refresh"})
        return {"every": every, "unit": unit}
    if "daily" in value:
        at = value.get("daily")
        if not isinstance(at, str) or not _TIME.match(at):
            raise InvalidInput("refresh.daily is a time on a 24-hour clock, such as 06:00",
                               details={"field": "refresh"})
        if set(value) - {"daily", "timezone"}:
            raise InvalidInput("A daily refresh has only daily and timezone", details={"field": "refresh"})
        return {"daily": at, "timezone": check_timezone(value.get("timezone") or "UTC")}
    raise InvalidInput('refresh is "manual", {"every": 15, "unit": "minutes"} or '
                       '{"daily": "06:00", "timezone": "Europe/Paris"}', details={"field": "refresh"})


def next_refresh(refresh, after: dt.datetime) -> dt.datetime | None:
    if refresh == "manual":
        return None
    if "every" in refresh:
        return after + dt.timedelta(**{refresh["unit"]: refresh["every"]})
    return next_run("daily", [], refresh["daily"], refresh["timezone"], after)


def describe_refresh(refresh) -> str:
    if refresh == "manual":
        return "By hand"
    if "every" in refresh:
        every, unit = refresh["every"], refresh["unit"]
        return f"Every {unit[:-1]}" if every == 1 else f"Every {every} {unit}"
    return f"Daily at {refresh['daily']} {refresh['timezone']}"


def _sample_of(query: str, kind: str) -> str:
    return SAMPLE_SQL[kind].format(query=query, rows=SAMPLE_ROWS)


def _sample_note(rows: int) -> str:
    return (f"Live: charts query the whole table on the database; profiles, analyses and the rows shown here use a "
            f"random sample of {rows:,} rows drawn by the database")


def check_plain_names(plans: list[ingest.ColumnPlan], names: list[str]) -> None:
    """A live SQL dataset's charts name its columns as its sample was imported, and run on
    the query's own result: the two must be the same names (the import trims names, makes
    repeated ones unique as DuckDB does, and spreads nested values into columns)."""
    kept = [p.name for p in plans]
    if kept != list(names):
        differ = [f"{a!r} would be {b!r}" for a, b in zip(names, kept) if a != b][:3]
        raise InvalidInput("Name each column of a live query plainly, with AS: no spaces at the ends, "
                           "no nested values (" + ("; ".join(differ) or f"{len(names)} columns would be {len(kept)}")
                           + ")", details={"field": "sql"})


def _types(columns) -> list[pa.DataType]:
    return [pa.string() if c.arrow is None else c.arrow for c in columns]


def logical_of(arrow_type: pa.DataType) -> str:
    """The app's column type for a column the database typed."""
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "float"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_timestamp(arrow_type):
        return "timestamp"
    return "text"


def _final_plans(columns) -> list[ingest.ColumnPlan] | None:
    """The import's plan for a copy of these columns: named as inspecting the raw file
    would name them, each keeping the type the database gave. None when a type has to go
    through the import (see ingest.exact_arrow_cast; not the case for the connectors'
    types today)."""
    types = _types(columns)
    names = unique_names([c.name for c in columns])  # as ingest.inspect names a file's columns
    plans = [ingest.ColumnPlan(c.name, name, logical_of(arrow)) for c, name, arrow in zip(columns, names, types)]
    if not all(ingest.exact_arrow_cast(arrow, plan.type) for plan, arrow in zip(plans, types)):
        return None
    infos = [ingest.ColumnInfo(p.source, p.name, p.type) for p in plans]
    return ingest.validate_plan(ingest.Inspection("parquet", None, infos, []), plans)


class _RawFile:
    """The rows as the database typed them, for the import to read (see _final_plans)."""

    def __init__(self, path, schema: pa.Schema):
        self._writer = pq.ParquetWriter(path, schema)

    def write(self, batch: pa.RecordBatch) -> None:
        self._writer.write_batch(batch)

    def close(self) -> None:
        self._writer.close()  # nothing written in final form: the import will make it

    def abort(self) -> None:
        self._writer.close()


READ_AHEAD_BATCHES = 2


def _read_ahead(batches: Iterator[pa.RecordBatch], depth: int = READ_AHEAD_BATCHES) -> Iterator[pa.RecordBatch]:
    """``batches``, read by a thread of their own while the caller writes the ones before.
    Decoding the database's rows (ADBC, in C) and encoding Parquet both release the GIL,
    so on two cores the copy takes about the longer of the two rather than their sum. At
    most ``depth`` batches wait in between, so memory stays bounded. When the caller stops
    early (an error while writing, a cancelled job) the thread is told to stop and waited
    for: the source's generator is closed in the thread that read it, and the connection is
    never closed under a read."""
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def hand(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        try:
            for batch in batches:
                if not hand(("batch", batch)):
                    return
            hand(("end", None))
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            hand(("error", exc))
        finally:
            close = getattr(batches, "close", None)
            if close is not None:
                close()

    reader = threading.Thread(target=read, name="sync-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            kind, item = handoff.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield item
    finally:
        stop.set()
        reader.join()


class SyncService:
    audit = NO_AUDIT  # Storage gives it the real AuditLog

    def __init__(self, engine, workspaces, datasets, connections, jobs, users, clock=utcnow):
        self.engine = engine
        self.workspaces = workspaces
        self.datasets = datasets
        self.connections = connections
        self.jobs = jobs
        self.users = users
        self.clock = clock
        self.sql_editor = None  # storage.sql_editor.SqlEditorService, set by Storage

    # --- what a sync is -----------------------------------------------------------------------

    def _clean(self, payload, kind: str) -> dict:
        if not isinstance(payload, dict):
            raise InvalidInput("A synced dataset must be a JSON object")
        unknown = sorted(set(payload) - PAYLOAD_KEYS)
        if unknown:
            raise InvalidInput(f"Unknown field {unknown[0]!r}; a synced dataset has "
                               f"{', '.join(sorted(PAYLOAD_KEYS))}", details={"field": unknown[0]})
        mode = payload.get("mode") or "sync"
        if mode not in ("sync", "live"):
            raise InvalidInput('mode is "sync" (a copy, refreshed on its setting) or "live" (charts query the '
                               "database itself)", details={"field": "mode"})
        cache_seconds = payload.get("cache_seconds")
        if mode == "live":
            if kind not in LIVE_KINDS:
                raise InvalidInput("Live datasets run their charts on PostgreSQL; copy this MySQL table instead "
                                   "(mode \"sync\", refreshed as often as every 5 minutes)", details={"field": "mode"})
            if payload.get("table") is None:
                raise InvalidInput("A live dataset reads a table or a view: name it in table", details={"field": "table"})
            if check_refresh(payload.get("refresh")) != "manual" or payload.get("incremental_column") is not None:
                raise InvalidInput("A live dataset is always current: it has no refresh or incremental column",
                                   details={"field": "refresh"})
            if cache_seconds is None:
                cache_seconds = DEFAULT_CACHE_SECONDS
            if isinstance(cache_seconds, bool) or not isinstance(cache_seconds, int) or \
                    not 0 <= cache_seconds <= MAX_CACHE_SECONDS:
                raise InvalidInput(f"cache_seconds is how long a chart's result is reused: 0 to {MAX_CACHE_SECONDS:,}",
                                   details={"field": "cache_seconds"})
        elif cache_seconds is not None:
            raise InvalidInput("cache_seconds is for live datasets (mode \"live\")", details={"field": "cache_seconds"})
        name = payload.get("name")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
            raise InvalidInput("Give the dataset a name of 1 to 200 characters", details={"field": "name"})
        table, sql = payload.get("table"), payload.get("sql")
        if (table is None) == (sql is None):
            raise InvalidInput("Say what to copy: a table (\"table\": \"public.orders\") or a query (\"sql\"), "
                               "not both", details={"field": "table"})
        if table is not None:
            query = f"SELECT * FROM {quote_table(table, kind)}"
        else:
            if not isinstance(sql, str) or len(sql) > 100_000:
                raise InvalidInput("sql is one SELECT of at most 100,000 characters", details={"field": "sql"})
            one_select(sql, kind)
            query = sql.strip().rstrip(";").strip()
        incremental = payload.get("incremental_column")
        if incremental is not None and (not isinstance(incremental, str) or not incremental.strip()
                                        or len(incremental) > 200):
            raise InvalidInput("incremental_column names a column of the table", details={"field": "incremental_column"})
        description = payload.get("description") or ""
        if not isinstance(description, str):
            raise InvalidInput("description must be text", details={"field": "description"})
        return {"name": name.strip(), "mode": mode, "cache_seconds": cache_seconds,
                "table": table.strip() if table else None, "sql": sql, "query": query,
                "refresh": check_refresh(payload.get("refresh")), "incremental_column": incremental,
                "description": description[:2000]}

    # --- making one ---------------------------------------------------------------------------

    def create(self, principal: Principal, connection_id, payload) -> dict:
        """Starts copying; 202-style {"job_id", "status_url"}. The job's result is the dataset.
        The copy is the job kind "sync_create" (storage/job_kinds.py): JSON params, so that
        it runs on a Celery worker as well as in this process."""
        target, row = self.connections.target(principal, connection_id, Role.EDITOR)
        values = self._clean(payload, target.kind)
        job_id = self.jobs.start(principal, "sync", row.workspace_id, {"connection_id": row.id, "values": values},
                                 message="Waiting to copy", task="sync_create")
        return {"job_id": job_id, "status_url": f"/api/v1/jobs/{job_id}"}

    def create_job(self, principal: Principal, params: dict, report: Reporter) -> dict:
        """The job: the first copy of a new synced (or live) dataset. The connection is
        looked up and the person's right to it checked again where the job runs.

        Run again after its worker died, it starts over unless the dataset it made is whole:
        a dataset committed without its sync row (the checkpoint names it) is deleted first,
        so a redelivery never leaves two datasets for one request."""
        target, row = self.connections.target(principal, int(params["connection_id"]), Role.EDITOR)
        values = params["values"]
        made = report.checkpointed().get("dataset_id")
        if made is not None:
            done = self._finished_copy(principal, int(made))
            if done is not None:
                return done
        try:
            return self._first_copy(principal, target, row.workspace_id, row.id, values, report)
        except JobCancelled:
            raise
        except DataInsightError as exc:  # editors copy without seeing where the connection points
            raise type(exc)(without_settings(exc.message, target), details=exc.details) from None

    def _finished_copy(self, principal: Principal, dataset_id: int) -> dict | None:
        """For a run delivered again: the result if the earlier run's dataset is whole (it
        has its sync row), else None after deleting what the earlier run left."""
        with self.engine.connect() as conn:
            sync = conn.execute(select(dataset_syncs).where(dataset_syncs.c.dataset_id == dataset_id)).first()
        try:
            dataset = self.datasets.get(principal, dataset_id)
        except NotFound:
            return None
        if sync is not None:
            return {"dataset": dataset.public_dict(), "rows": sync.last_rows,
                    "notes": json.loads(sync.notes_json or "[]")}
        self.datasets.delete(principal, dataset_id)
        return None

    def _first_copy(self, principal: Principal, target, workspace_id: int, connection_id: int, values: dict,
                    report: Reporter) -> dict:
        live = values["mode"] == "live"
        report(0.02, f"Connecting to {target.label}", force=True)
        query = _sample_of(values["query"], target.kind) if live else values["query"]
        path, rows, notes, columns, written = self._copy(target, query, values["incremental_column"], None, report)
        try:
            report(0.9, f"Importing {rows:,} rows", force=True)
            dataset = self._import_new(principal, workspace_id, path, values, _types(columns), written)
        finally:
            path.unlink(missing_ok=True)
        report.checkpoint({"dataset_id": dataset.id})
        if live:
            try:
                check_live_names(dataset.schema, [c.name for c in columns])
            except DataInsightError:
                self.datasets.delete(principal, dataset.id)
                raise
            notes = notes + [_sample_note(rows)]
        now = self.clock()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(dataset_syncs).values(
                    dataset_id=dataset.id, source="live" if live else "connection",
                    cache_seconds=values["cache_seconds"], connection_id=connection_id, source_table=values["table"],
                    source_sql=values["sql"], refresh_json=json.dumps(values["refresh"]),
                    incremental_column=values["incremental_column"], owner_id=principal.user_id,
                    next_refresh_at=next_refresh(values["refresh"], now), last_refresh_at=now, last_status="ok",
                    last_rows=rows, notes_json=json.dumps(notes), created_at=now))
        except BaseException:
            self.datasets.delete(principal, dataset.id)
            raise
        self.audit.record(principal, "dataset.synced", target_type="dataset", target_id=dataset.id,
                          target_name=dataset.name, workspace_id=workspace_id, connection_id=connection_id,
                          rows=rows)
        return {"dataset": dataset.public_dict(), "rows": rows, "notes": notes}

    def _copy(self, target, query: str, incremental: str | None, after, report: Reporter):
        """Stream the rows into a temp Parquet file: (path, rows, notes, columns, written).
        ``written`` (ingest.Written) says the file is in its final form already; None that
        it holds the rows as the database typed them, for the import."""
        path = self.datasets.tmp_dir / f"sync-{uuid.uuid4().hex}.parquet"
        rows = 0
        try:
            with open_source(target, SYNC_TIMEOUT) as source:
                columns = source.columns(query)
                if incremental is not None:
                    found = next((c for c in columns if c.name == incremental), None)
                    if found is None:
                        raise InvalidInput(f"There is no column {incremental!r} to copy new rows by; the columns are "
                                           f"{', '.join(c.name for c in columns[:30])}",
                                           details={"field": "incremental_column"})
                    if found.arrow is None or logical_of(found.arrow) not in _ORDERED:
                        raise InvalidInput(f"{incremental} ({found.db_type}) cannot tell new rows from old: choose a "
                                           "timestamp, a date or an increasing number",
                                           details={"field": "incremental_column"})
                plans = _final_plans(columns)
                if plans is not None:
                    writer = ingest.DatasetFileWriter(path, plans, _types(columns))
                else:
                    writer = _RawFile(path, pa.schema([pa.field(c.name, t) for c, t in zip(columns, _types(columns))]))
                report(0.05, "Copying rows", force=True)
                # closing(): the read-ahead thread has stopped before the file is closed
                # and before the connection is, whatever ends the loop.
                try:
                    with closing(_read_ahead(source.batches(query, columns, incremental if after is not None else None,
                                                            after))) as batches:
                        for batch in batches:
                            writer.write(batch)
                            rows += batch.num_rows
                            report(min(0.85, 0.05 + 0.8 * rows / (rows + 1_000_000)), f"{rows:,} rows copied")
                            report.check()
                except BaseException:
                    writer.abort()
                    raise
                written = writer.close()
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path, rows, [c.note for c in columns if c.note], columns, written

    def _plans(self, path, types: list[pa.DataType], allow_empty: bool = False) \
            -> tuple[ingest.Inspection, list[ingest.ColumnPlan]]:
        """The import's plan for a file we wrote: each column keeps the type it was given."""
        inspection = self.datasets.inspect_file(path, "copy.parquet", allow_empty=allow_empty)
        plans = [ingest.ColumnPlan(info.source, info.name, logical_of(arrow))
                 for info, arrow in zip(inspection.columns, types)]
        return inspection, plans

    def _import_new(self, principal, workspace_id, path, values, types: list[pa.DataType],
                    written: ingest.Written | None = None, allow_empty: bool = False, names: list[str] | None = None):
        """A new dataset from the file at ``path``: committed as it is when ``written`` (a
        copy in its final form), else imported with each column keeping its type (``names``:
        the names the columns must keep, a live SQL dataset's)."""
        description = values["description"] or self._describe_source(values)
        try:
            if written is not None:
                if written.rows == 0:
                    raise InvalidInput("The source has no rows yet: a dataset needs at least one")
                return self.datasets.create_from_file(principal, workspace_id, path, "copy.parquet",
                                                      name=values["name"], description=description, written=written)
            inspection, plans = self._plans(path, types, allow_empty)
            if names is not None:
                check_plain_names(plans, names)
            return self.datasets.create_from_file(
                principal, workspace_id, path, "copy.parquet", name=values["name"], plans=plans,
                inspection=inspection, user_typed={p.source for p in plans}, description=description)
        except IngestError as exc:
            if "no rows" in exc.message:
                raise InvalidInput("The source has no rows yet: a dataset needs at least one") from None
            raise

    def create_from_workspace_sql(self, principal: Principal, workspace_id: int, sql: str, name: str,
                                  description: str = "", refresh=None, mode: str = "sync"):
        """A SQL editor query over the workspace's datasets saved as a dataset: its result
        now, and again on ``refresh`` (or by hand) as the person who saved it. ``mode``
        "live": charts run the query each time instead (storage.query_sources), its
        ``{{parameters}}`` bound to dashboard filters; the file is a sample of the result."""
        if mode not in ("sync", "live"):
            raise InvalidInput('mode is "sync" (keep a copy of the result) or "live" (charts run the query)',
                               details={"field": "mode"})
        live = mode == "live"
        if not live and parameters_in(sql):
            raise InvalidInput("A query with {{parameters}} takes its values from dashboard filters, so it can only "
                               'be saved as a live dataset ("mode": "live")', details={"field": "mode"})
        # A live dataset has nothing to refresh on a schedule: its charts run the query.
        values = {"name": clean_name(name), "table": None, "sql": sql,
                  "refresh": "manual" if live else check_refresh(refresh),
                  "description": description if isinstance(description, str) else ""}
        if live and not values["description"]:
            values["description"] = f"Live SQL: {sql[:1000]}"
        path = self.datasets.tmp_dir / f"sql-{uuid.uuid4().hex}.parquet"
        try:
            schema = self.sql_editor.write_result(principal, workspace_id, sql, path,
                                                  sample_rows=SAMPLE_ROWS if live else None)
            # A live query's sample may be empty (a parameter it needs is NULL until a filter
            # gives it a value): its columns are what charts need.
            dataset = self._import_new(principal, workspace_id, path, values, list(schema.types), allow_empty=live,
                                       names=schema.names if live else None)
        finally:
            path.unlink(missing_ok=True)
        now = self.clock()
        notes = [query_sample_note(dataset.rows)] if live else []
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(dataset_syncs).values(
                    dataset_id=dataset.id, source="query" if live else "workspace", connection_id=None,
                    source_table=None, source_sql=sql, refresh_json=json.dumps(values["refresh"]),
                    incremental_column=None, owner_id=principal.user_id,
                    next_refresh_at=next_refresh(values["refresh"], now), last_refresh_at=now, last_status="ok",
                    last_rows=dataset.rows, notes_json=json.dumps(notes), created_at=now))
        except BaseException:
            self.datasets.delete(principal, dataset.id)
            raise
        return dataset

    @staticmethod
    def _describe_source(values) -> str:
        if values.get("mode") == "live":
            return f"Live: charts query the table {values['table']} on the database"
        return f"Copied from table {values['table']}" if values["table"] else f"From SQL: {values['sql'][:1000]}"

    # --- refreshing ---------------------------------------------------------------------------

    def _sync_row(self, conn, dataset_id: int):
        return conn.execute(select(dataset_syncs).where(dataset_syncs.c.dataset_id == dataset_id)).first()

    def get(self, principal: Principal, dataset_id) -> dict:
        """Where the dataset comes from and how its last refresh went (anyone who can read it)."""
        dataset = self.datasets.get(principal, dataset_id)
        with self.engine.connect() as conn:
            row = self._sync_row(conn, dataset.id)
            running = row is not None and row.running_job is not None and conn.execute(
                select(jobs_table.c.status).where(jobs_table.c.id == row.running_job)).scalar() in ("queued", "running")
            name = None
            if row is not None and row.connection_id is not None:
                from storage.tables import connections

                name = conn.execute(select(connections.c.name, connections.c.kind)
                                    .where(connections.c.id == row.connection_id)).first()
        if row is None:
            raise NotFound(f"The dataset {dataset.id} is not copied from a database")
        return {**self._to_dict(row, name), "running": running}

    @staticmethod
    def _to_dict(row, connection) -> dict:
        def iso(value):
            return as_utc(value).isoformat() if value is not None else None

        refresh = json.loads(row.refresh_json)
        return {"dataset_id": row.dataset_id, "source": row.source,
                "mode": "live" if row.source in SAMPLED_SOURCES else "sync",
                "parameters": [p.public_dict() for p in parameters_in(row.source_sql)] if row.source == "query" else [],
                "cache_seconds": row.cache_seconds, "connection_id": row.connection_id,
                "connection": {"name": connection.name, "kind": connection.kind} if connection else None,
                "table": row.source_table, "sql": row.source_sql, "refresh": refresh,
                "refresh_text": describe_refresh(refresh), "incremental_column": row.incremental_column,
                "next_refresh_at": iso(row.next_refresh_at), "running": row.running_job is not None,
                "last_refresh_at": iso(row.last_refresh_at), "last_status": row.last_status,
                "last_error": row.last_error, "last_rows": row.last_rows, "notes": json.loads(row.notes_json)}

    def update(self, principal: Principal, dataset_id, patch) -> dict:
        """Changes ``refresh`` and ``incremental_column`` (editors)."""
        if not isinstance(patch, dict):
            raise InvalidInput("A change must be a JSON object")
        unknown = sorted(set(patch) - {"refresh", "incremental_column"})
        if unknown:
            raise InvalidInput(f"Only refresh and incremental_column can change here, not {unknown[0]!r}",
                               details={"field": unknown[0]})
        dataset = self.datasets.get(principal, dataset_id)
        with self.engine.begin() as conn:
            self.workspaces.require_role(conn, principal, dataset.workspace_id, Role.EDITOR)
            row = self._sync_row(conn, dataset.id)
            if row is None:
                raise NotFound(f"The dataset {dataset.id} is not copied from a database")
            values = {}
            if "refresh" in patch:
                refresh = check_refresh(patch["refresh"])
                if row.source in SAMPLED_SOURCES and refresh != "manual":
                    raise InvalidInput("A live dataset is always current: its charts run on its source, so it has "
                                       "no refresh", details={"field": "refresh"})
                alive = row.source in ("workspace", "query") or row.connection_id is not None
                values.update(refresh_json=json.dumps(refresh), owner_id=principal.user_id,
                              next_refresh_at=next_refresh(refresh, self.clock()) if alive else None)
            if "incremental_column" in patch:
                column = patch["incremental_column"]
                if column is not None and (not isinstance(column, str) or not column.strip() or len(column) > 200):
                    raise InvalidInput("incremental_column names a column, or is null",
                                       details={"field": "incremental_column"})
                values["incremental_column"] = column
            if values:
                conn.execute(update(dataset_syncs).where(dataset_syncs.c.dataset_id == dataset.id).values(**values))
        return self.get(principal, dataset.id)

    def refresh(self, principal: Principal, dataset_id, full: bool = False) -> dict:
        """Refreshes now (editors): {"job_id", "status_url"}; 409 while a refresh runs."""
        dataset = self.datasets.get(principal, dataset_id)
        with self.engine.connect() as conn:
            self.workspaces.require_role(conn, principal, dataset.workspace_id, Role.EDITOR)
            row = self._sync_row(conn, dataset.id)
        if row is None:
            raise NotFound(f"The dataset {dataset.id} is not copied from a database, so it has nothing to refresh")
        if row.source == "connection":
            if row.connection_id is None:
                raise InvalidInput("The connection this dataset was copied from was deleted; it keeps its last copy")
            # The person refreshing must be able to use the connection too.
            self.connections.target(principal, row.connection_id, Role.EDITOR)
        token = self._claim_running(dataset.id)
        if token is None:
            raise Conflict("This dataset is being refreshed already; wait for that refresh to end")
        return self._start_refresh(principal, dataset.id, token, full, "manual")

    def _claim_running(self, dataset_id: int) -> str | None:
        """The id of the job that will refresh the dataset, if no other refresh holds it. A
        claim whose job ended (done, failed, cancelled, or failed as an orphan after a
        crash) is free again at once; one older than STALE_REFRESH is taken over."""
        token = str(uuid.uuid4())
        now = self.clock()
        ended = select(jobs_table.c.id).where(jobs_table.c.status.in_(("done", "failed", "cancelled")))
        with self.engine.begin() as conn:
            won = conn.execute(update(dataset_syncs).where(
                dataset_syncs.c.dataset_id == dataset_id,
                or_(dataset_syncs.c.running_job.is_(None), dataset_syncs.c.running_since < now - STALE_REFRESH,
                    dataset_syncs.c.running_job.in_(ended)),
            ).values(running_job=token, running_since=now)).rowcount
        return token if won == 1 else None

    def _start_refresh(self, principal: Principal, dataset_id: int, token: str, full: bool, trigger: str) -> dict:
        with self.engine.connect() as conn:
            workspace_id = conn.execute(select(datasets_table.c.workspace_id)
                                        .where(datasets_table.c.id == dataset_id)).scalar()

        try:
            job_id = self.jobs.start(principal, "sync", workspace_id,
                                     {"dataset_id": dataset_id, "token": token, "full": full},
                                     message=f"Waiting to refresh ({trigger})", job_id=token, task="sync_refresh")
        except BaseException:
            self._release(dataset_id, token)
            raise
        return {"job_id": job_id, "status_url": f"/api/v1/jobs/{job_id}"}

    def refresh_job(self, principal: Principal, params: dict, report: Reporter) -> dict:
        """The job (storage/job_kinds.py "sync_refresh"): refresh one dataset under the claim
        ``token`` (the job's id), released at the end whatever happens."""
        dataset_id, token, full = int(params["dataset_id"]), params["token"], bool(params["full"])
        try:
            return self._refresh(principal, dataset_id, full, report)
        except JobCancelled:  # the person stopped it: the previous version stays, and no failure is recorded
            raise
        except DataInsightError as exc:
            # Shown on the dataset page to anyone who reads the dataset: without the
            # connection's settings (its owner sees them with Test on the Connections page).
            shown = self._shown_error(dataset_id, exc.message)
            self._record(dataset_id, status="failed", error=shown)
            raise type(exc)(shown, details=exc.details) from None
        except Exception:
            self._record(dataset_id, status="failed",
                         error="Something went wrong on the server; the log has the details")
            raise
        finally:
            self._release(dataset_id, token)


    def _shown_error(self, dataset_id: int, message: str) -> str:
        with self.engine.connect() as conn:
            connection_id = conn.execute(select(dataset_syncs.c.connection_id)
                                         .where(dataset_syncs.c.dataset_id == dataset_id)).scalar()
        target = self.connections.target_of(connection_id) if connection_id is not None else None
        return without_settings(message, target) if target is not None else message

    def _release(self, dataset_id: int, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(dataset_syncs).where(dataset_syncs.c.dataset_id == dataset_id,
                                                     dataset_syncs.c.running_job == token)
                         .values(running_job=None, running_since=None))

    def _record(self, dataset_id: int, *, status: str, error: str | None = None,
                rows: int | None = None, notes: list | None = None) -> None:
        values = {"last_refresh_at": self.clock(), "last_status": status, "last_error": error}
        if rows is not None:
            values["last_rows"] = rows
        if notes is not None:
            values["notes_json"] = json.dumps(notes)
        with self.engine.begin() as conn:
            conn.execute(update(dataset_syncs).where(dataset_syncs.c.dataset_id == dataset_id).values(**values))

    def _refresh(self, principal: Principal, dataset_id: int, full: bool, report: Reporter) -> dict:
        with self.engine.connect() as conn:
            row = self._sync_row(conn, dataset_id)
        if row.source in ("workspace", "query"):
            return self._rerun(principal, dataset_id, row.source_sql, report, sampled=row.source == "query")
        target, _ = self.connections.target(principal, row.connection_id, Role.EDITOR)
        current = self.datasets.get(principal, dataset_id)
        query = (f"SELECT * FROM {quote_table(row.source_table, target.kind)}" if row.source_table
                 else row.source_sql.strip().rstrip(";").strip())
        if row.source == "live":  # a new sample for profiles and analyses; charts were live all along
            query, full = _sample_of(query, target.kind), True
        incremental = row.incremental_column if not full else None
        after = self._largest(current, incremental) if incremental else None
        if incremental and after is None:
            incremental = None  # nothing copied yet by that column: copy everything
        report(0.02, f"Connecting to {target.label}", force=True)
        path, rows, notes, columns, written = self._copy(target, query, incremental or row.incremental_column, after,
                                                         report)
        try:
            if after is not None:
                if rows == 0:
                    self._record(dataset_id, status="ok", rows=0, notes=notes)
                    return {"dataset": current.public_dict(), "rows": 0, "appended": True, "notes": notes}
                report(0.9, f"Appending {rows:,} new rows", force=True)
                dataset = self.datasets.add_version(principal, dataset_id, path, "copy.parquet", mode="append")
            else:
                report(0.9, f"Importing {rows:,} rows", force=True)
                try:
                    if written is not None:
                        if written.rows == 0:
                            raise InvalidInput("The source has no rows now; the dataset keeps its previous version")
                        dataset = self.datasets.add_version(principal, dataset_id, path, "copy.parquet",
                                                            mode="replace", written=written)
                    else:
                        inspection, plans = self._plans(path, _types(columns))
                        dataset = self.datasets.add_version(principal, dataset_id, path, "copy.parquet",
                                                            mode="replace", plans=plans, inspection=inspection,
                                                            user_typed={p.source for p in plans})
                except IngestError as exc:
                    if "no rows" in exc.message:
                        raise InvalidInput("The source has no rows now; the dataset keeps its previous version") \
                            from None
                    raise
        finally:
            path.unlink(missing_ok=True)
        if row.source == "live":
            notes = notes + [_sample_note(rows)]
        self._record(dataset_id, status="ok", rows=rows, notes=notes)
        return {"dataset": dataset.public_dict(), "rows": rows, "appended": after is not None, "notes": notes}

    def _rerun(self, principal: Principal, dataset_id: int, sql: str, report: Reporter, sampled: bool = False) -> dict:
        """A saved SQL editor query run again over the workspace's current datasets (a live
        SQL dataset's: a new sample of its result, and its columns as they are now)."""
        current = self.datasets.get(principal, dataset_id)
        path = self.datasets.tmp_dir / f"sql-{uuid.uuid4().hex}.parquet"
        report(0.05, "Running the query", force=True)
        try:
            schema = self.sql_editor.write_result(principal, current.workspace_id, sql, path,
                                                  sample_rows=SAMPLE_ROWS if sampled else None)
            report(0.8, "Importing the result", force=True)
            inspection, plans = self._plans(path, list(schema.types), allow_empty=sampled)
            if sampled:
                check_plain_names(plans, schema.names)
            try:
                dataset = self.datasets.add_version(principal, dataset_id, path, "copy.parquet", mode="replace",
                                                    plans=plans, inspection=inspection,
                                                    user_typed={p.source for p in plans})
            except IngestError as exc:
                if "no rows" in exc.message:
                    raise InvalidInput("The query has no rows now; the dataset keeps its previous version") from None
                raise
        finally:
            path.unlink(missing_ok=True)
        notes = [query_sample_note(dataset.rows)] if sampled else []
        self._record(dataset_id, status="ok", rows=dataset.rows, notes=notes)
        return {"dataset": dataset.public_dict(), "rows": dataset.rows, "appended": False, "notes": notes}

    def _largest(self, dataset, column: str):
        """The largest value of ``column`` in the dataset's current version, or None."""
        names = {c["name"].lower(): c["name"] for c in dataset.schema}
        name = names.get(column.lower())
        if name is None:
            return None
        con = duckdb.connect(":memory:", config={"autoinstall_known_extensions": False,
                                                  "autoload_known_extensions": False, "threads": 1})
        try:
            path = str(self.datasets.file_path(dataset)).replace("'", "''")
            value = con.execute(f'SELECT max("{name.replace(chr(34), chr(34) * 2)}") FROM read_parquet(\'{path}\')') \
                .fetchone()[0]
        finally:
            con.close()
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)  # timestamps are kept in UTC
        return value

    # --- the scheduler's side -----------------------------------------------------------------

    def tick(self) -> list[int]:
        """Claim every refresh that is due and start it; returns the dataset ids started here."""
        now = self.clock()
        started = []
        with self.engine.connect() as conn:
            due = conn.execute(select(dataset_syncs).where(dataset_syncs.c.next_refresh_at <= now)).all()
        for row in due:
            refresh = json.loads(row.refresh_json)
            following = next_refresh(refresh, max(now, as_utc(row.next_refresh_at)))
            with self.engine.begin() as conn:
                won = conn.execute(update(dataset_syncs).where(
                    dataset_syncs.c.dataset_id == row.dataset_id,
                    dataset_syncs.c.next_refresh_at == row.next_refresh_at,
                ).values(next_refresh_at=following)).rowcount
            if won != 1:
                continue
            try:
                principal = self._owner_principal(row)
            except SyncStopped as stop:
                with self.engine.begin() as conn:
                    conn.execute(update(dataset_syncs).where(dataset_syncs.c.dataset_id == row.dataset_id)
                                 .values(next_refresh_at=None, last_status="failed", last_error=str(stop),
                                         last_refresh_at=now))
                continue
            token = self._claim_running(row.dataset_id)
            if token is None:
                continue  # still refreshing from the last time: this slot is skipped
            try:
                self._start_refresh(principal, row.dataset_id, token, False, "scheduled")
                started.append(row.dataset_id)
            except Exception:  # noqa: BLE001 - one dataset's failure must not stop the others
                log.exception("could not start the refresh of dataset %s", row.dataset_id)
        return started

    def _owner_principal(self, row) -> Principal:
        if row.source == "connection" and row.connection_id is None:
            raise SyncStopped("The connection was deleted, so this dataset keeps its last copy and is not refreshed")
        owner = self.users.get(row.owner_id) if row.owner_id is not None else None
        if owner is None or not owner.is_active:
            raise SyncStopped("The person who set up the refresh no longer has an active account; an editor can "
                              "save the refresh setting to take it over")
        principal = owner.principal(via="sync")
        try:
            if row.source == "connection":
                self.connections.target(principal, row.connection_id, Role.EDITOR)
            dataset = self.datasets.get(principal, row.dataset_id)
            with self.engine.connect() as conn:
                self.workspaces.require_role(conn, principal, dataset.workspace_id, Role.EDITOR)
        except (NotFound, Forbidden):
            raise SyncStopped(f"{owner.email} no longer has edit access here, so the refresh stopped; an editor "
                              "can save the refresh setting to take it over") from None
        return principal
