"""The SQL editor's engine (issue 16, point 4): a person's SELECT over their workspace's
datasets, each a table by its name, in a DuckDB sandbox.

The sandbox is a fresh in-memory DuckDB per query that can reach nothing but the
workspace's datasets:
- each dataset is handed to DuckDB as an Arrow dataset object (``register``), not as a
  path: DuckDB itself never opens a file, and no path appears in SQL or in its catalog;
- then ``enable_external_access = false`` (no files, no URLs, no ATTACH, COPY, EXPORT,
  INSTALL or LOAD), no extension auto-loading, and ``lock_configuration`` (no SET, RESET
  or PRAGMA that changes anything);
- exactly one statement, and it must be a SELECT (WITH ... SELECT included): anything
  else is refused before it runs;
- a memory limit, one thread, a time limit (the query is interrupted) and a row cap; at
  most two such queries run at once per process, so a burst cannot take the memory.
A dataset of another workspace is not there to name, and its file cannot be read.
"""
from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import threading
import time
import uuid
from contextlib import contextmanager

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
from sqlalchemy import delete, insert, select

from analytics.sql_parameters import bind, parameters_in, without_trailing

from storage.database import as_utc, utcnow
from storage.dataset_sources import SAMPLED_SOURCES
from storage.errors import DataInsightError, InvalidInput
from storage.queries import QueryTimeout
from storage.principal import Principal, Role
from storage.priority import INTERACTIVE
from storage.tables import dataset_syncs, sql_history

MAX_SQL = 100_000  # characters
ROW_CAP = 10_000
DEFAULT_LIMIT = 1_000
TIME_LIMIT = 30.0  # seconds
MEMORY_LIMIT = "512MB"
HISTORY_KEPT = 200  # per person
_RUNNING = threading.BoundedSemaphore(2)
_CHARTS = threading.BoundedSemaphore(4)  # a dashboard's live SQL charts draw four at a time, apart from the editor
_LINE = re.compile(r"LINE (\d+): (.*)\n( *)(\^+)")


class SqlError(InvalidInput):
    code = "sql_error"


def _cell(value):
    """A result cell as JSON can carry it."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (list, tuple)):
        return [_cell(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _cell(v) for k, v in value.items()}
    return str(value)


def explain_error(exc: duckdb.Error, sql: str | None) -> SqlError:
    """DuckDB's message without its code pointer, with the line and position in details
    (``sql`` None: the statement was not the person's text as written, so no position)."""
    text = str(exc)
    details: dict = {"field": "sql"}
    found = _LINE.search(text) if sql is not None else None
    if found:
        line = int(found.group(1))
        shown = found.group(2)
        column = len(found.group(3)) - len(f"LINE {line}: ") + 1
        # DuckDB shows a window of long lines: find where the pointed text is in the line.
        source_lines = sql.splitlines() or [sql]
        if 1 <= line <= len(source_lines) and shown.strip("."):
            start = source_lines[line - 1].find(shown.strip(".").strip()[:40])
            if start >= 0 and shown.startswith("..."):
                column += start - 3
        details.update(line=line, position=max(1, column))
    message = text.split("\n\nLINE ")[0].split("\nLINE ")[0].strip()
    message = re.sub(r"^(Parser|Binder|Catalog|Conversion|Invalid Input|Out of Memory|Permission) Error: ", "",
                     message)
    where = f" (line {details['line']}, position {details['position']})" if "line" in details else ""
    return SqlError(f"{message}{where}"[:1000], details=details)


class SqlEditorService:
    def __init__(self, engine, workspaces, datasets, clock=utcnow):
        self.engine = engine
        self.workspaces = workspaces
        self.datasets = datasets
        self.clock = clock
        self.time_limit = TIME_LIMIT
        self.connections = None  # storage.connections.ConnectionService, set by Storage
        self.syncs = None  # storage.syncs.SyncService, set by Storage (results saved as datasets)
        self.memory_limit = MEMORY_LIMIT

    # --- the sandbox ------------------------------------------------------------------------

    def tables(self, principal: Principal, workspace_id) -> dict[str, list[dict]]:
        """{table name: [{"name", "type"}]} of the workspace's datasets as the editor sees
        them (for completion). A second dataset with a name already taken (ignoring case)
        is there as ``<name>_<id>``."""
        return {name: [{"name": c["name"], "type": c["type"]} for c in dataset.schema]
                for name, dataset in self._named(principal, workspace_id).items()}

    def _named(self, principal: Principal, workspace_id) -> dict:
        return self._as_tables(self.datasets.list(principal, workspace_id))

    def workspace_tables(self, workspace_id: int, sql: str) -> dict:
        """The tables of a workspace that ``sql`` may name, by the authority of something in
        it (a live SQL dataset, whose charts read the workspace's datasets whoever looks at
        them). Only datasets whose name is in the text are registered: a chart's query
        costs the same in a workspace of 5 datasets or 500."""
        text = sql.lower()
        return {name: dataset for name, dataset in self._as_tables(self.datasets.all_in_workspace(int(workspace_id)))
                .items() if name.lower() in text}

    def _as_tables(self, datasets: list) -> dict:
        found: dict = {}
        taken: set[str] = set()
        # A live dataset's file is only a sample (of its table on a connection, or of its
        # query's result): SQL over it would give wrong totals, so it is not listed here.
        with self.engine.connect() as conn:
            sampled = set(conn.execute(select(dataset_syncs.c.dataset_id).where(
                dataset_syncs.c.source.in_(SAMPLED_SOURCES),
                dataset_syncs.c.dataset_id.in_([d.id for d in datasets]))).scalars())
        for dataset in sorted(datasets, key=lambda d: d.id):
            if dataset.id in sampled:
                continue
            name = dataset.name if dataset.name.lower() not in taken else f"{dataset.name}_{dataset.id}"
            taken.add(name.lower())
            found[name] = dataset
        return found

    def _sandbox(self, tables: dict) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(":memory:", config={
            "autoinstall_known_extensions": False, "autoload_known_extensions": False,
            "memory_limit": self.memory_limit, "threads": 1})
        for name, dataset in tables.items():
            con.register(name, pads.dataset(str(self.datasets.file_path(dataset)), format="parquet"))
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        return con

    @contextmanager
    def _limited(self, con, seconds: float, shown: str | None):
        """Run the block with ``con`` interrupted after ``seconds``; a query stopped that way
        is a QueryTimeout, one past the memory limit an error that says so, any other
        DuckDB error its message with the line and position (``explain_error``)."""
        timed_out = threading.Event()

        def stop():
            timed_out.set()
            con.interrupt()

        timer = threading.Timer(seconds, stop)
        timer.daemon = True
        timer.start()
        try:
            yield
        except duckdb.Error as exc:
            if timed_out.is_set():
                raise QueryTimeout(f"The query ran longer than {seconds:g} s and was stopped") from None
            if isinstance(exc, duckdb.OutOfMemoryException):
                raise SqlError(f"The query needs more than the editor's {self.memory_limit} of memory: "
                               "aggregate, filter or LIMIT it", details={"field": "sql"}) from None
            raise explain_error(exc, shown) from None
        finally:
            timer.cancel()

    @contextmanager
    def _sandboxed(self, tables: dict, seconds: float, shown: str | None, slots=None):
        """A sandbox over ``tables`` (at most two editor queries, four chart queries at once
        per process), time-limited; ``shown``: the person's query, which an error's line and
        position point into (None: the error names no position)."""
        slots = slots or _RUNNING
        if not slots.acquire(timeout=self.time_limit):
            raise QueryTimeout("Other queries are running on this server; try again in a moment")
        try:
            con = self._sandbox(tables)
            try:
                with self._limited(con, seconds, shown):
                    yield con
            finally:
                con.close()
        finally:
            slots.release()

    @staticmethod
    def _one_select(sql: str) -> str:
        try:
            statements = duckdb.extract_statements(sql)
        except duckdb.Error as exc:
            raise explain_error(exc, sql) from None
        if len(statements) != 1:
            raise SqlError(f"Run one statement at a time; this holds {len(statements)}", details={"field": "sql"})
        statement = statements[0]
        if statement.type != duckdb.StatementType.SELECT:
            kind = str(statement.type).rsplit(".", 1)[-1]
            raise SqlError(f"Only SELECT queries run here (this is a {kind} statement): the editor reads the "
                           "datasets and changes nothing", details={"field": "sql"})
        return without_trailing(statement.query)

    def run(self, principal: Principal, workspace_id, sql, limit=None, connection_id=None) -> dict:
        """{"columns", "rows", "truncated", "elapsed_ms"} of one SELECT over the workspace's
        datasets, or on a connection's database (``connection_id``: storage.connections runs
        it read-only there); kept in the person's history whether it worked or not."""
        if workspace_id is None:
            raise InvalidInput("Say which workspace's datasets to query: workspace_id", details={"field": "workspace_id"})
        if not isinstance(sql, str) or not sql.strip():
            raise InvalidInput("Write a query, such as SELECT * FROM \"my dataset\" LIMIT 10", details={"field": "sql"})
        if len(sql) > MAX_SQL:
            raise InvalidInput(f"A query is at most {MAX_SQL:,} characters", details={"field": "sql"})
        if limit is None:
            limit = DEFAULT_LIMIT
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= ROW_CAP:
            raise InvalidInput(f"limit is a whole number from 1 to {ROW_CAP:,}", details={"field": "limit"})
        with self.engine.connect() as conn:
            self.workspaces.require_role(conn, principal, workspace_id, Role.VIEWER)
        workspace_id = int(workspace_id)
        started = time.perf_counter()
        try:
            if connection_id is not None:
                result = self.connections.query(principal, connection_id, workspace_id, sql, limit)
            else:
                result = self._run(principal, workspace_id, sql, limit)
        except DataInsightError as exc:
            self._remember(principal, workspace_id, sql, started, None, exc.message)
            raise
        self._remember(principal, workspace_id, sql, started, len(result["rows"]), None)
        return result

    def _run(self, principal: Principal, workspace_id: int, sql: str, limit: int) -> dict:
        # A query written for charts may name parameters ({{region}}): tried here, its
        # optional clauses are left out and its other parameters are NULL.
        text, params = bind(sql, None, fill_missing=True)
        query = self._one_select(text)
        tables = self._named(principal, workspace_id)
        started = time.perf_counter()
        with self._sandboxed(tables, self.time_limit, query) as con, INTERACTIVE.running():
            # A new line after the person's query: a -- comment on its last line ends there.
            cursor = con.execute(f"SELECT * FROM ({query}\n) AS editor_query LIMIT ${len(params) + 1}",
                                 params + [limit + 1])
            columns = [d[0] for d in cursor.description]
            types = [str(d[1]) for d in cursor.description]
            rows = cursor.fetchall()
        return {"columns": columns, "types": types, "rows": [[_cell(v) for v in r] for r in rows[:limit]],
                "truncated": len(rows) > limit, "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
                "limit": limit, "parameters": [p.public_dict() for p in parameters_in(sql)]}

    def run_for_chart(self, workspace_id: int, sql: str, values: dict | None, chart_sql: str, chart_params: list,
                      stand_in: str, row_cap: int, time_limit: float) -> tuple[list[str], list[list], bool]:
        """A widget's query (``chart_sql``, built over ``stand_in``) on the result of a live
        SQL dataset's query, its parameters bound to ``values`` (dashboard filters), over
        the workspace's current datasets; at most ``row_cap`` rows."""
        text, params = bind(sql, values, start=len(chart_params) + 1)
        query = self._one_select(text)
        # A new line after the person's query: a -- comment on its last line ends there.
        chart_sql = chart_sql.replace(stand_in, f"({query}\n)")
        wrapped = f"SELECT * FROM ({chart_sql}) AS widget_result LIMIT ${len(chart_params) + len(params) + 1}"
        tables = self.workspace_tables(workspace_id, query)
        # A DuckDB error points into the chart's SQL around the query, not the person's: no position.
        with self._sandboxed(tables, time_limit, None, _CHARTS) as con, INTERACTIVE.running():
            cursor = con.execute(wrapped, chart_params + params + [row_cap + 1])
            columns = [d[0] for d in cursor.description]
            rows = [list(r) for r in cursor.fetchall()]
        return columns, rows[:row_cap], len(rows) > row_cap

    # --- a query's result as a dataset ----------------------------------------------------------

    def materialise(self, principal: Principal, workspace_id, sql, name, description: str = "", refresh=None,
                    mode: str = "sync"):
        """The whole result of one SELECT as a new dataset of the workspace (editors),
        refreshable like a synced dataset (storage.syncs): by hand, or on ``refresh``;
        ``mode`` "live": a dataset whose charts run the query (storage.query_sources)."""
        if workspace_id is None:
            raise InvalidInput("Say which workspace: workspace_id", details={"field": "workspace_id"})
        if not isinstance(sql, str) or not sql.strip() or len(sql) > MAX_SQL:
            raise InvalidInput("Write the query whose result becomes the dataset", details={"field": "sql"})
        if not isinstance(name, str) or not name.strip():
            raise InvalidInput("Give the dataset a name", details={"field": "name"})
        with self.engine.connect() as conn:
            self.workspaces.require_role(conn, principal, workspace_id, Role.EDITOR)
        return self.syncs.create_from_workspace_sql(principal, int(workspace_id), sql, name, description, refresh,
                                                    mode=mode)

    def write_result(self, principal: Principal, workspace_id: int, sql: str, path,
                     sample_rows: int | None = None) -> "pa.Schema":
        """Stream the whole result of one SELECT over the workspace's datasets (as
        ``principal`` sees them) into a Parquet file at ``path``, in batches, with no row
        cap (``sample_rows``: a random sample of that many rows instead, parameters left
        out or NULL); returns its Arrow schema. The file is removed if anything fails."""
        text, params = bind(sql, None, fill_missing=True) if sample_rows else (sql, [])
        query = self._one_select(text)
        if sample_rows:
            query = f"SELECT * FROM ({query}\n) AS sampled USING SAMPLE reservoir({int(sample_rows)} ROWS)"
        tables = self._named(principal, int(workspace_id))
        seconds = self.time_limit * 4  # a whole result may take longer than a page
        try:
            with self._sandboxed(tables, seconds, query) as con:
                reader = con.sql(query, params=params or None).to_arrow_reader(100_000)
                with pq.ParquetWriter(path, reader.schema) as writer:
                    for batch in reader:
                        writer.write_batch(batch)
                return reader.schema
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    # --- history ----------------------------------------------------------------------------

    def _remember(self, principal: Principal, workspace_id: int, sql: str, started: float, rows, error) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(sql_history).values(
                user_id=principal.user_id, workspace_id=workspace_id, sql=sql[:MAX_SQL], ran_at=self.clock(),
                elapsed_ms=int((time.perf_counter() - started) * 1000), rows=rows, error=error))
            kept = select(sql_history.c.id).where(sql_history.c.user_id == principal.user_id) \
                .order_by(sql_history.c.id.desc()).limit(HISTORY_KEPT)
            conn.execute(delete(sql_history).where(sql_history.c.user_id == principal.user_id,
                                                   sql_history.c.id.not_in(kept.scalar_subquery())))

    def history(self, principal: Principal, workspace_id, limit: int = 50) -> list[dict]:
        """The person's own latest queries in the workspace, newest first."""
        with self.engine.connect() as conn:
            self.workspaces.require_role(conn, principal, workspace_id, Role.VIEWER)
            rows = conn.execute(select(sql_history).where(
                sql_history.c.user_id == principal.user_id, sql_history.c.workspace_id == int(workspace_id))
                .order_by(sql_history.c.id.desc()).limit(max(1, min(int(limit), HISTORY_KEPT)))).all()
        return [{"id": r.id, "sql": r.sql, "ran_at": as_utc(r.ran_at).isoformat(), "elapsed_ms": r.elapsed_ms,
                 "rows": r.rows, "error": r.error} for r in rows]

