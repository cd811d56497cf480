"""Database connections (issue 16): copying a PostgreSQL table into a dataset, against pandas.

Generates a 1,000,000-row, 16-column table on the server with generate_series (int2, int4,
int8, numeric, float8, text, varchar, bool, date, timestamp, timestamptz; a few NULLs in
most columns) in a fresh database, then times, each run in a fresh child process:

- app:    ``storage.connections.create`` + ``storage.syncs.create`` and polling
          ``storage.jobs.get`` until the job is done: the whole sync (ADBC -> Arrow batches
          -> the dataset's Parquet file, written once -> committed as a dataset)
- pandas: ``pandas.read_sql("SELECT * FROM t", sqlalchemy engine)`` + ``df.to_parquet(out)``
          (pyarrow), the seeds' way

Each child reports its peak resident memory during the measured call (VmHWM, reset just
before it, so imports and set-up do not count; the figure still includes what the process
held before the call, shown beside it). The app child also times the sync's steps, with the
peak RSS of each (rows copied into the dataset's Parquet file; its commit as a dataset: the
Parquet checks, fsync, rename, metadata; "inspect" stays 0 unless a column type has to go
through the import, where DuckDB reads and writes the file again), and checks the dataset:
1,000,000 rows and the same sums of an int4 and an int8 column as the database's. The
automatic profile a new dataset starts is left out (its listener is removed in the child):
it is a job of its own, not part of the copy.

Then live widgets (issue 16: "12 live widgets on a 10-million-row PostgreSQL table, cold
and warm, beside the same widgets on the synced Parquet copy"): a 10,000,000-row
transactions table is built in the same database (INSERT ... SELECT FROM generate_series,
then VACUUM ANALYZE; the columns of bench/dashboard.py's table), and one more child
process makes two datasets of it through the app, a synced copy (``storage.syncs.create``,
default mode) and a live dataset (mode "live"), and draws bench/dashboard.py's 12 widgets
(``storage.queries.render``, as a dashboard does) four times:

- live cold: the result cache cleared, so each widget's query is translated (sqlglot) and
  runs on PostgreSQL;
- live warm: the same again, answered from the cache (cache_seconds is a day, so its time
  bucket does not turn in between);
- copy cold / copy warm: the same on the copy, DuckDB over its Parquet file.

"Cold" is the app's cache only: the table was just written, so it is in PostgreSQL's
buffers or the OS page cache, as the Parquet file is. Each widget's live result is checked
against the copy's (same rows, floats to 1e-9 relative); a difference is printed in
capitals. A widget that fails (a live query past the 15 s limit, say) is timed to its
failure and named.

Without DATAINSIGHT_TEST_POSTGRES_ADMIN_URL the measurement re-runs itself under
scripts/with-postgres.sh (a throwaway PostgreSQL on 127.0.0.1; the app is allowed to
connect to it, as DATAINSIGHT_CONNECTIONS_ALLOW_LOOPBACK=true does), so ``make bench`` needs
nothing more than scripts/install-system-deps.sh test.

    python -m bench.connections                 # 1M rows, 3 runs of the app, 2 of pandas; 10M live
    python -m bench.connections --rows 200000 --repeats 1 --live-rows 200000
    python -m bench.connections --live-rows 0   # without the live widgets
"""
from __future__ import annotations

import argparse
import datetime as dt
import decimal
import gc
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlparse

from bench.children import run_child
from bench.memory import reset_peak, status_mb

ROOT = Path(__file__).resolve().parent.parent
ADMIN_ENV = "DATAINSIGHT_TEST_POSTGRES_ADMIN_URL"
DEFAULT_ROWS = 1_000_000
TABLE = "bench_orders"
METHODS = ("app", "pandas")
LABELS = {"app": "app sync (connection+job)", "pandas": "pandas read_sql+to_parquet"}
# Targets from the issue.
TARGET_VS_PANDAS = 5.0  # the sync at least 5x faster than pandas
TARGET_PEAK_MB = 500  # peak memory of the sync
DEFAULT_LIVE_ROWS = 10_000_000
LIVE_TABLE = "bench_transactions"
LIVE_CACHE_SECONDS = 86_400  # a day: the live results' time bucket does not turn between the cold and warm passes

# 16 columns, every value derived from i; NULLs where (i % a prime) = 0.
TABLE_SQL = """
CREATE TABLE {table} AS
SELECT i::int4                                                        AS order_id,
       (i * 7919 % 50000 + 1) * 1000003                               AS customer_id,
       CASE WHEN i % 37 = 0 THEN NULL ELSE (i % 50 + 1)::int4 END     AS quantity,
       (i % 7)::int2                                                  AS weekday,
       CASE WHEN i % 43 = 0 THEN NULL
            ELSE round((i * 31 % 100000) / 100.0, 2)::numeric(12, 2) END AS amount,
       (i % 1000) * 0.125::float8                                     AS unit_price,
       CASE WHEN i % 53 = 0 THEN NULL ELSE sin(i::float8) END         AS score,
       'customer ' || (i % 50000)                                     AS customer_name,
       ('SKU-' || lpad((i % 9973)::text, 5, '0'))::varchar(12)        AS sku,
       CASE WHEN i % 3 = 0 THEN NULL ELSE md5(i::text) END            AS note,
       (ARRAY['DE', 'FR', 'US', 'GB', 'ES', 'IT'])[1 + i % 6]::varchar(2) AS country,
       i % 3 = 0                                                      AS is_member,
       CASE WHEN i % 41 = 0 THEN NULL ELSE i % 2 = 0 END              AS gift,
       CASE WHEN i % 59 = 0 THEN NULL ELSE DATE '2015-01-01' + (i % 3650)::int4 END AS order_date,
       TIMESTAMP '2015-01-01' + (i * 37 % 315360000) * INTERVAL '1 second' AS created_at,
       CASE WHEN i % 29 = 0 THEN NULL
            ELSE TIMESTAMPTZ '2015-01-01 00:00:00+00' + (i * 53 % 315360000) * INTERVAL '1 second' END
                                                                      AS updated_at
FROM generate_series(1::int8, {rows}::int8) AS s(i)
"""
# What the copy must hold: (row count, sum of an int4 column with NULLs, sum of an int8 column).
CHECK_SQL = "SELECT count(*), sum(quantity), sum(customer_id) FROM {table}"


def _hashed(value: str, seed: int, modulo: int) -> str:
    """SQL for a hash of ``value`` in [0, modulo): the same spread of values as DuckDB's
    hash() in bench/dashboard.py's table, not a pattern that repeats with i."""
    return f"((hashint8extended({value}, {seed}) & 9223372036854775807) % {modulo})"


def _live_table_sql(table: str, rows: int) -> list[str]:
    """bench/dashboard.py's transactions table (its 12 widgets name these columns), built on
    the server: 4 lines an invoice over 2 years, 2,000 products, 50,000 customers, 60 % of
    invoices from the United Kingdom. UnitPrice is float8, as the DOUBLE there."""
    from bench.dashboard import COUNTRIES

    countries = "ARRAY[" + ", ".join("'" + c.replace("'", "''") + "'" for c in COUNTRIES) + "]"
    invoice = "(i / 4)"
    return [f"""CREATE TABLE {table} (
        "InvoiceNo" int8 NOT NULL, "InvoiceDate" timestamp NOT NULL, "StockCode" text NOT NULL,
        "Quantity" int8 NOT NULL, "UnitPrice" float8 NOT NULL, "CustomerID" int8 NOT NULL,
        "Country" text NOT NULL, "Channel" text NOT NULL)""",
            f"""INSERT INTO {table}
        SELECT 1000000 + {invoice},
               TIMESTAMP '2023-01-01' + {_hashed(invoice, 0, 730 * 86400)} * INTERVAL '1 second',
               'P' || lpad({_hashed('i', 1, 2000)}::text, 4, '0'),
               1 + {_hashed('i', 2, 20)},
               round(0.5 + {_hashed('i', 3, 5000)} / 100.0, 2)::float8,
               {_hashed(invoice, 4, 50000)},
               CASE WHEN {_hashed(invoice, 5, 10)} < 6 THEN 'United Kingdom'
                    ELSE ({countries})[1 + {_hashed(invoice, 6, len(COUNTRIES))}] END,
               (ARRAY['web', 'store', 'phone', 'partner'])[1 + {_hashed(invoice, 7, 4)}]
        FROM generate_series(0::int8, {int(rows) - 1}::int8) AS s(i)"""]


# --- the source database ----------------------------------------------------------------------


def _admin() -> dict:
    url = urlparse(os.environ[ADMIN_ENV].replace("postgresql+psycopg://", "postgresql://"))
    return {"host": url.hostname, "port": url.port or 5432, "user": url.username, "password": url.password}


def _pg(database: str):
    import psycopg

    return psycopg.connect(dbname=database, autocommit=True, **_admin())


def create_source(rows: int) -> tuple[str, tuple[int, int, int], int]:
    """A fresh database holding the table: (its name, the table's checksums, its size in bytes)."""
    database = f"bench_connections_{uuid.uuid4().hex[:10]}"
    with _pg("postgres") as con:
        con.execute(f'CREATE DATABASE "{database}"')
    with _pg(database) as con:
        con.execute(TABLE_SQL.format(table=TABLE, rows=int(rows)))
        # Sets the hint bits and the statistics now, so the first reader does not pay for them.
        con.execute(f"VACUUM (FREEZE, ANALYZE) {TABLE}")
        count, quantity, customer = con.execute(CHECK_SQL.format(table=TABLE)).fetchone()
        size = con.execute(f"SELECT pg_total_relation_size('{TABLE}')").fetchone()[0]
    return database, (int(count), int(quantity), int(customer)), size


def create_live_table(database: str, rows: int) -> int:
    """The live widgets' table in ``database``; its size in bytes."""
    with _pg(database) as con:
        for statement in _live_table_sql(LIVE_TABLE, rows):
            con.execute(statement)
        # Statistics for the planner (and the hint bits set now, not by the first widget).
        con.execute(f"VACUUM (FREEZE, ANALYZE) {LIVE_TABLE}")
        return con.execute(f"SELECT pg_total_relation_size('{LIVE_TABLE}')").fetchone()[0]


def drop_source(database: str) -> None:
    with _pg("postgres") as con:
        con.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


# --- one measured run, in a child process -------------------------------------------------------


def _peak_mb(reset: bool) -> float:
    if reset:
        return status_mb("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # whole life of the child (kB on Linux)


def _cpu_seconds() -> float:
    """User + system CPU of this process, all threads (the job's too); the server's is not counted."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Phases:
    """Wraps the sync's steps to time them and read the peak RSS of each. VmHWM is read
    before each reset, so the largest reading is still the whole call's peak."""

    def __init__(self, reset: bool):
        self.reset = reset
        self.seconds: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}
        self.readings: list[float] = []

    def wrap(self, name: str, fn):
        def wrapper(*args, **kwargs):
            if self.reset:
                self.readings.append(status_mb("VmHWM"))
                reset_peak()
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
                if self.reset:
                    peak = status_mb("VmHWM")
                    self.readings.append(peak)
                    self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), peak)
        return wrapper


def _app(work: Path):
    """(store, principal, workspace id): the app's services over a data dir in ``work``."""
    from storage import Storage

    store = Storage(f"sqlite:///{work}/meta.db", work / "data")
    store.migrate()
    # The throwaway server listens on 127.0.0.1, which the app refuses unless an
    # administrator allows it (DATAINSIGHT_CONNECTIONS_ALLOW_LOOPBACK=true, as app.py reads it).
    store.connections.allow_loopback = True
    admin_user = store.users.create_first_admin("bench@example.com", "a long benchmark password", "Bench")
    principal = admin_user.principal()
    workspace_id = store.workspaces.personal_workspace(principal).id
    store.datasets.listeners.clear()  # no automatic profile: a job of its own, not part of what is timed
    return store, principal, workspace_id


def _connect(store, principal, workspace_id, database: str) -> int:
    admin = _admin()
    return store.connections.create(principal, workspace_id, {
        "name": "bench", "kind": "postgresql", "host": admin["host"], "port": admin["port"],
        "database": database, "user": admin["user"], "password": admin["password"]})["id"]


def _dataset_of(store, principal, connection_id: int, payload: dict) -> int:
    """``storage.syncs.create`` and its job polled until done: the new dataset's id."""
    job_id = store.syncs.create(principal, connection_id, payload)["job_id"]
    while True:
        job = store.jobs.get(principal, job_id)
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.02)
    if job["status"] != "done":
        raise RuntimeError(f"the sync of {payload['name']!r} ended {job['status']}: {job['message']}")
    return job["result"]["dataset"]["id"]


def _child(method: str, database: str, work: Path) -> dict:
    if method == "live":
        return _live_child(database, work)
    admin = _admin()
    if method == "app":
        store, principal, workspace_id = _app(work)
        # Where the time and memory go: the rows copied into a Parquet file, then its commit (or import).
        phases = _Phases(reset=reset_peak())  # whether VmHWM can be reset here
        store.syncs._copy = phases.wrap("copy", store.syncs._copy)
        store.datasets.inspect_file = phases.wrap("inspect", store.datasets.inspect_file)
        store.datasets.create_from_file = phases.wrap("import", store.datasets.create_from_file)

        def call():
            connection_id = _connect(store, principal, workspace_id, database)
            return _dataset_of(store, principal, connection_id, {"name": "orders", "table": f"public.{TABLE}"})

        def check(dataset_id) -> dict:
            import duckdb

            dataset = store.datasets.get(principal, dataset_id)
            path = str(store.datasets.file_path(dataset)).replace("'", "''")
            con = duckdb.connect()
            try:
                count, quantity, customer = con.execute(
                    f"SELECT count(*), sum(quantity), sum(customer_id) FROM read_parquet('{path}')").fetchone()
            finally:
                con.close()
            return {"rows": dataset.rows, "checksums": [int(count), int(quantity), int(customer)],
                    "out_mb": dataset.size_bytes / 2**20, "types": [c["type"] for c in dataset.schema],
                    "phases": phases.seconds, "phase_peaks": phases.peak_mb, "readings": phases.readings}
    elif method == "pandas":
        import pandas
        import pyarrow  # noqa: F401  (imported before the clock starts, like pandas)
        import sqlalchemy

        out = work / "out.parquet"
        engine = sqlalchemy.create_engine(
            f"postgresql+psycopg://{admin['user']}:{admin['password']}@{admin['host']}:{admin['port']}/{database}")

        def call():
            frame = pandas.read_sql(f"SELECT * FROM {TABLE}", engine)
            frame.to_parquet(out, engine="pyarrow")
            return frame

        def check(frame) -> dict:
            return {"rows": len(frame), "checksums": [len(frame), int(frame["quantity"].sum()),
                                                      int(frame["customer_id"].sum())],
                    "out_mb": out.stat().st_size / 2**20}
    else:
        raise SystemExit(f"unknown method {method!r}")
    gc.collect()
    rss_before = status_mb("VmRSS")
    reset = reset_peak()
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    outcome = call()
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_before
    peak = _peak_mb(reset)
    result = check(outcome)
    peak = max([peak] + result.pop("readings", []))
    result.update(seconds=seconds, cpu_seconds=cpu, peak_mb=peak, rss_before_mb=rss_before, peak_reset=reset)
    return result


# --- live widgets beside the synced copy, in a child process -------------------------------------


def _live_child(database: str, work: Path) -> dict:
    """The 12 widgets on a live dataset of the table and on its synced copy: seconds per
    widget cold and warm on each, and whether each widget's live result is the copy's."""
    from bench.dashboard import WIDGETS

    store, principal, workspace_id = _app(work)
    connection_id = _connect(store, principal, workspace_id, database)
    started = time.perf_counter()
    copy_id = _dataset_of(store, principal, connection_id, {"name": "transactions copy", "table": LIVE_TABLE})
    synced = time.perf_counter() - started
    started = time.perf_counter()  # a live dataset keeps a 10,000-row sample: drawn by the database
    live_id = _dataset_of(store, principal, connection_id, {"name": "transactions live", "table": LIVE_TABLE,
                                                            "mode": "live", "cache_seconds": LIVE_CACHE_SECONDS})
    made_live = time.perf_counter() - started
    # What a server pays once, not per dashboard (DuckDB's instance, the ADBC driver, the first
    # translation), paid now with a widget that is not measured: "cold" is the result cache.
    for dataset_id in (live_id, copy_id):
        store.queries.render(principal, dataset_id, {"type": "kpi", "agg": "count", "dataset_id": dataset_id})
    passes, results = {}, {}
    for name, dataset_id in (("live", live_id), ("copy", copy_id)):
        # Saved on a dashboard, as bench/dashboard.py does: the specs are the ones a dashboard keeps.
        board = store.dashboards.create(principal, workspace_id, {
            "name": f"Transactions {name}", "widgets": [{"id": f"w{i}", "spec": {**spec, "dataset_id": dataset_id}}
                                                        for i, (_, spec) in enumerate(WIDGETS)]})
        specs = [w["spec"] for w in board["widgets"]]
        store.queries.clear_cache()  # of both datasets: each pass starts with nothing cached
        cold, errors = _timed_renders(store, principal, dataset_id, specs)
        warm, _ = _timed_renders(store, principal, dataset_id, specs)
        # The results the widgets were drawn from, read from the cache before the next clear_cache.
        dataset = store.datasets.get(principal, dataset_id)
        results[name] = [None if error else store.queries.result_on(dataset, store.queries.prepare(dataset, spec, None))
                         for spec, error in zip(specs, errors)]
        passes[name] = {"cold": cold, "warm": warm, "errors": errors,
                        "uncached": sum(1 for r in results[name] if r is not None and not r["cached"])}
    copy_dataset = store.datasets.get(principal, copy_id)
    normalized = [store.queries.prepare(copy_dataset, {**spec, "dataset_id": copy_id}, None) for _, spec in WIDGETS]
    checks = [_same_result(live, copy, spec) for live, copy, spec in zip(results["live"], results["copy"], normalized)]
    store.dispose()
    return {"passes": passes, "checks": checks, "synced_s": synced, "live_made_s": made_live,
            "copy_rows": copy_dataset.rows, "copy_mb": copy_dataset.size_bytes / 2**20,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _timed_renders(store, principal, dataset_id: int, specs: list[dict]) -> tuple[list[float], list[str | None]]:
    """Each widget drawn as a dashboard request draws it: seconds, and the error of each
    that failed (timed to its failure; the others still run)."""
    seconds, errors = [], []
    for spec in specs:
        started = time.perf_counter()
        try:
            store.queries.render(principal, dataset_id, spec)
            errors.append(None)
        except Exception as exc:  # noqa: BLE001 - a widget that fails live is a finding, not the end of the run
            errors.append(f"{type(exc).__name__}: {exc}"[:400])
        seconds.append(time.perf_counter() - started)
    return seconds, errors


def _plain(value):
    """A result value as both engines can agree on it: numbers as floats (PostgreSQL counts
    in int8, DuckDB sums in HUGEINT or DOUBLE), times as naive ISO text."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, decimal.Decimal)):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day).isoformat()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return repr(value)


def _close(a, b) -> bool:
    """Equal, floats to 1e-9 relative: sums of 10M doubles differ in their last bits with the order they are added."""
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    return a == b


def _rounded(row) -> str:
    """A sort key that float noise does not change (6 significant digits)."""
    return repr([f"{v:.6g}" if isinstance(v, float) else v for v in row])


def _same_rows(a: list, b: list) -> bool:
    a, b = sorted(a, key=_rounded), sorted(b, key=_rounded)
    return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))


def _same_result(live: dict | None, copy: dict | None, spec: dict) -> dict:
    """{"same": True/False/None (not compared: a side failed), "note"}: the same columns and
    the same rows, in any order."""
    if live is None or copy is None:
        return {"same": None, "note": "not compared: " + ("the live widget failed" if live is None else
                                                          "the copy's widget failed")}
    if live["columns"] != copy["columns"]:
        return {"same": False, "note": f"columns {live['columns']} live, {copy['columns']} on the copy"}
    live_rows, copy_rows = [_plain(r) for r in live["rows"]], [_plain(r) for r in copy["rows"]]
    if _same_rows(live_rows, copy_rows):
        return {"same": True, "note": ""}
    if spec["type"] == "table" and spec.get("sort") and live_rows and len(live_rows) == len(copy_rows):
        # A page that ends inside a run of rows with the same sort value (an invoice's lines
        # share its time): which of them it shows is each engine's choice, both right. The
        # rows before that run must be the same, and as many rows of the run shown.
        index = live["columns"].index(f"c{spec['columns'].index(spec['sort'])}")
        pick = min if spec.get("descending") else max
        edge = pick(r[index] for r in live_rows if r[index] is not None)
        if edge == pick(r[index] for r in copy_rows if r[index] is not None):
            inner = [[r for r in rows if r[index] != edge] for rows in (live_rows, copy_rows)]
            if _same_rows(*inner):
                tied = len(live_rows) - len(inner[0])
                return {"same": True, "note": f"the page ends in rows tied on {spec['sort']} = {edge} ({tied} "
                                              "shown live): which of the tied rows are shown differs"}
    missing = [r for r in copy_rows if not any(_close(r, x) for x in live_rows)][:2]
    extra = [r for r in live_rows if not any(_close(r, x) for x in copy_rows)][:2]
    return {"same": False, "note": f"{len(live_rows)} rows live, {len(copy_rows)} on the copy; only on the copy: "
                                   f"{missing}; only live: {extra}"[:600]}


def _run_child(method: str, database: str, base: Path) -> dict:
    return run_child("bench.connections", method, ["--database", database], base)


# --- the whole benchmark ------------------------------------------------------------------------


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _measure_here(rows: int, repeats: int, methods, live_rows: int) -> dict:
    started = time.perf_counter()
    _log(f"connections: generating {rows:,} rows x 16 columns on PostgreSQL ...")
    database, expected, table_bytes = create_source(rows)
    _log(f"connections: table in {time.perf_counter() - started:.1f}s ({table_bytes / 2**20:,.0f} MiB on the server)")
    base = Path(tempfile.mkdtemp(prefix="datainsight-bench-connections-"))
    try:
        runs: dict[str, list[dict]] = {m: [] for m in methods}
        load_before = os.getloadavg()[0]
        # Interleaved, so a slow moment of the machine does not fall on one method only.
        for attempt in range(repeats):
            for method in methods:
                if method == "pandas" and attempt >= max(1, repeats - 1):
                    continue  # the slow baseline that varies least: one run fewer
                result = _run_child(method, database, base)
                if result["checksums"] != list(expected) or result["rows"] != rows:
                    raise RuntimeError(f"{method}: {result['rows']:,} rows, checksums {result['checksums']}; the "
                                       f"database has {list(expected)}")
                phases = result.get("phases")
                split = (f" (copy {phases.get('copy', 0):.2f}s, inspect {phases.get('inspect', 0):.2f}s, "
                         f"import {phases.get('import', 0):.2f}s)") if phases else ""
                split += "".join(f", {name} peak {mb:.0f} MiB" for name, mb in result.get("phase_peaks", {}).items())
                _log(f"connections: {method:<6} run {attempt + 1}: {result['seconds']:.2f}s{split}, "
                     f"{result['cpu_seconds']:.2f}s CPU, peak {result['peak_mb']:.0f} MiB")
                runs[method].append(result)
        results = {"rows": rows, "expected": list(expected), "table_mb": table_bytes / 2**20, "runs": runs,
                   "load": (load_before, os.getloadavg()[0]), "server": _server_version(database)}
        if live_rows:
            # After the syncs: building this table does not slow them down.
            started = time.perf_counter()
            _log(f"connections: generating the live widgets' table, {live_rows:,} rows x 8 columns ...")
            live_bytes = create_live_table(database, live_rows)
            built = time.perf_counter() - started
            _log(f"connections: table in {built:.1f}s ({live_bytes / 2**20:,.0f} MiB on the server); syncing it, "
                 "then 12 widgets live and on the copy, cold and warm ...")
            load_before = os.getloadavg()[0]
            live = run_child("bench.connections", "live", ["--database", database], base)
            live.update(rows=live_rows, table_mb=live_bytes / 2**20, built_s=built,
                        load=(load_before, os.getloadavg()[0]), settings=_server_settings(database))
            _log(f"connections: live {sum(live['passes']['live']['cold']):.2f}s cold, "
                 f"copy {sum(live['passes']['copy']['cold']):.2f}s cold")
            results["live"] = live
        return results
    finally:
        shutil.rmtree(base, ignore_errors=True)
        drop_source(database)


def _server_version(database: str) -> str:
    with _pg(database) as con:
        return con.execute("SHOW server_version").fetchone()[0]


def _server_settings(database: str) -> str:
    """The server settings that decide how fast a widget's query runs there (the defaults
    of a new cluster, bar fsync: scripts/with-postgres.sh)."""
    names = ("shared_buffers", "work_mem", "max_parallel_workers_per_gather", "jit")
    with _pg(database) as con:
        return ", ".join(f"{n} {con.execute(f'SHOW {n}').fetchone()[0]}" for n in names)


def measure(rows: int = DEFAULT_ROWS, repeats: int = 3, methods=METHODS, live_rows: int = DEFAULT_LIVE_ROWS) -> dict:
    """The figures; beside a throwaway PostgreSQL of its own unless one is given."""
    if os.environ.get(ADMIN_ENV):
        return _measure_here(rows, repeats, methods, live_rows)
    script = ROOT / "scripts" / "with-postgres.sh"
    with tempfile.NamedTemporaryFile(prefix="bench-connections-", suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    try:
        proc = subprocess.run(
            [str(script), sys.executable, "-m", "bench.connections", "--rows", str(rows), "--repeats", str(repeats),
             "--methods", ",".join(methods), "--live-rows", str(live_rows), "--results", str(out)],
            cwd=ROOT, stdout=sys.stderr, check=False)  # its messages go where our log goes
        if proc.returncode != 0:
            raise RuntimeError(f"bench.connections under scripts/with-postgres.sh failed ({proc.returncode}); "
                               "PostgreSQL's server comes with scripts/install-system-deps.sh test")
        return json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)


def _best(runs: list[dict]) -> dict:
    best = min(runs, key=lambda r: r["seconds"])
    return {**best, "peak_mb": max(r["peak_mb"] for r in runs), "all": [r["seconds"] for r in runs],
            "cpu_seconds": min(r["cpu_seconds"] for r in runs)}


def report(results: dict) -> list[dict]:
    """Print the detailed table and verdicts; return the rows for bench/__main__.py."""
    rows = results["rows"]
    best = {m: _best(r) for m, r in results["runs"].items() if r}
    load_before, load_after = results["load"]
    print(f"\nConnections: a {rows:,}-row x 16-column PostgreSQL {results['server']} table "
          f"({results['table_mb']:,.0f} MiB on the server) into Parquet, {os.cpu_count()} CPUs, "
          f"load average {load_before:.1f} -> {load_after:.1f}")
    print("Wall and CPU (user+sys of the process, all threads; the server's CPU not counted) seconds are the best of "
          "the runs; peak RSS (VmHWM during the call) the highest; MiB")
    print(f"{'method':<28} {'wall s':>7} {'CPU s':>7} {'rows/s':>10} {'peak RSS':>9} {'RSS before':>11} "
          f"{'parquet':>8}  runs (wall s)")
    for method, b in best.items():
        print(f"{LABELS[method]:<28} {b['seconds']:>7.2f} {b['cpu_seconds']:>7.2f} {rows / b['seconds']:>10,.0f} "
              f"{b['peak_mb']:>9.0f} {b['rss_before_mb']:>11.0f} {b['out_mb']:>8.1f}  "
              f"{' '.join(f'{s:.2f}' for s in b['all'])}")
    app = best.get("app")
    if app:
        phases, peaks = app["phases"], app.get("phase_peaks") or {}
        copy, inspect, imported = phases.get("copy", 0.0), phases.get("inspect", 0.0), phases.get("import", 0.0)

        def peak(name):
            return f", peak {peaks[name]:.0f} MiB" if name in peaks else ""

        print(f"app's best run: copy into the dataset's Parquet file {copy:.2f}s{peak('copy')}; inspect that file "
              f"{inspect:.2f}s{peak('inspect')}; commit it as a dataset (checks, fsync, rename, metadata; with "
              f"the import, DuckDB reads and writes it again) {imported:.2f}s{peak('import')}; the rest (connection "
              f"test, job start and polls) "
              f"{app['seconds'] - copy - inspect - imported:.2f}s")
        print("app column types: " + ", ".join(app["types"]))
        print(f"checked: the dataset has {rows:,} rows and sum(quantity) = {results['expected'][1]:,}, "
              f"sum(customer_id) = {results['expected'][2]:,}, as the database")
    print()
    table = []
    if app and "pandas" in best:
        pandas = best["pandas"]
        factor = pandas["seconds"] / app["seconds"]
        verdict = "ok" if factor >= TARGET_VS_PANDAS else "MISSED"
        print(f"pandas vs app: pandas takes {factor:.2f}x the sync's time (target >= {TARGET_VS_PANDAS:g}x): "
              f"{verdict}; by CPU time of the process {pandas['cpu_seconds'] / app['cpu_seconds']:.2f}x")
        table.append({"case": f"{rows:,}-row PG table to Parquet, s", "ours": app["seconds"],
                      "baseline": pandas["seconds"],
                      "note": f"pandas {factor:.2f}x the sync's time, target >= {TARGET_VS_PANDAS:g}x: {verdict}; "
                              f"{rows / app['seconds']:,.0f} rows/s"})
    if app:
        verdict = "ok" if app["peak_mb"] < TARGET_PEAK_MB else "MISSED"
        print(f"app peak RSS while syncing {rows:,} rows: {app['peak_mb']:.0f} MiB (target < {TARGET_PEAK_MB} MiB: "
              f"{verdict}); {app['rss_before_mb']:.0f} MiB of it held before the sync started")
        if "pandas" in best:
            table.append({"case": "peak RSS MiB: sync vs pandas", "ours": app["peak_mb"],
                          "baseline": best["pandas"]["peak_mb"],
                          "note": f"target < {TARGET_PEAK_MB} MiB: {verdict}"})
    print()
    if results.get("live"):
        table += report_live(results["live"])
    return table


def report_live(live: dict) -> list[dict]:
    """The 12 widgets live and on the synced copy, cold and warm; the rows for bench/__main__.py."""
    from bench.dashboard import WIDGETS

    rows, passes, checks = live["rows"], live["passes"], live["checks"]
    load_before, load_after = live["load"]
    print(f"Live widgets: bench/dashboard.py's 12 widgets on a {rows:,}-row x 8-column PostgreSQL table "
          f"({live['table_mb']:,.0f} MiB on the server, built in {live['built_s']:.1f}s; {live['settings']}), "
          f"load average {load_before:.1f} -> {load_after:.1f}")
    print(f"the synced copy: {live['copy_rows']:,} rows, {live['copy_mb']:,.0f} MiB of Parquet, synced in "
          f"{live['synced_s']:.1f}s; the live dataset made in {live['live_made_s']:.1f}s (its 10,000-row sample); "
          f"child's peak RSS {live['peak_mb']:.0f} MiB")
    print("cold: the app's result cache cleared (the table and the Parquet file were just written, so they are in "
          "memory); warm: the same again, from the cache; ms, one widget after another")
    print(f"{'widget':<30} {'live cold':>10} {'live warm':>10} {'copy cold':>10} {'copy warm':>10} "
          f"{'live/copy':>10}  live result = copy's")
    for i, (name, _) in enumerate(WIDGETS):
        cells = [passes[side][kind][i] * 1000 for side in ("live", "copy") for kind in ("cold", "warm")]
        same = checks[i]["same"]
        verdict = {True: "yes", False: "NO: DIFFERENT RESULTS", None: "-"}[same]
        failed = [side for side in ("live", "copy") if passes[side]["errors"][i]]
        if failed:
            verdict = "FAILED " + " and ".join(failed)
        print(f"{name:<30} {cells[0]:>10.1f} {cells[1]:>10.2f} {cells[2]:>10.1f} {cells[3]:>10.2f} "
              f"{cells[0] / cells[2]:>9.1f}x  {verdict}" + (f" ({checks[i]['note']})" if checks[i]["note"] else ""))
    totals = {(side, kind): sum(passes[side][kind]) for side in ("live", "copy") for kind in ("cold", "warm")}
    print(f"{'all 12':<30} {totals['live', 'cold'] * 1000:>10.1f} {totals['live', 'warm'] * 1000:>10.2f} "
          f"{totals['copy', 'cold'] * 1000:>10.1f} {totals['copy', 'warm'] * 1000:>10.2f} "
          f"{totals['live', 'cold'] / totals['copy', 'cold']:>9.1f}x")
    for side in ("live", "copy"):
        for (name, _), error in zip(WIDGETS, passes[side]["errors"]):
            if error:
                print(f"FAILED on the {side} dataset: {name}: {error}")
        if passes[side]["uncached"]:
            print(f"note: {passes[side]['uncached']} of the {side} results were not in the cache any more when read "
                  "back (the cache's time bucket turned): its warm figures may include a query")
    different = [name for (name, _), check in zip(WIDGETS, checks) if check["same"] is False]
    if different:
        print(f"LIVE AND COPY GIVE DIFFERENT RESULTS for {len(different)} widgets: {', '.join(different)}")
    same = sum(1 for check in checks if check["same"])
    print(f"checked: {same} of {len(checks)} widgets give the same result live as on the copy")
    print()
    ratio = totals["live", "cold"] / totals["copy", "cold"]
    failures = sum(1 for side in ("live", "copy") for e in passes[side]["errors"] if e)
    trouble = (f"; {len(different)} DIFFERENT" if different else "") + (f"; {failures} FAILED" if failures else "")
    return [
        {"case": f"12 live widgets cold, {rows / 1e6:g}M rows, s", "ours": totals["live", "cold"],
         "baseline": totals["copy", "cold"],
         "note": f"baseline = the same on the synced Parquet copy; live takes {ratio:.1f}x its time; "
                 f"{same}/{len(checks)} same results{trouble}"},
        {"case": "12 live widgets warm, s", "ours": totals["live", "warm"], "baseline": totals["copy", "warm"],
         "note": "from the result cache; baseline = the copy's, warm"},
    ]


def run() -> list[dict]:
    """For bench/__main__.py: the default sizes, 3 runs of the app, 2 of pandas, then the live widgets."""
    return report(measure())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.connections", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows in the generated table")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the app (pandas runs one fewer, at least one)")
    parser.add_argument("--methods", default=",".join(METHODS), help="app,pandas (default) or one of them")
    parser.add_argument("--live-rows", type=int, default=DEFAULT_LIVE_ROWS,
                        help="rows in the live widgets' table (0: leave the live widgets out)")
    parser.add_argument("--results", help=argparse.SUPPRESS)  # write the figures here (under with-postgres.sh)
    parser.add_argument("--child", choices=METHODS + ("live",), help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.database, Path(args.work))))
        return 0
    methods = tuple(m for m in args.methods.split(",") if m)
    if any(m not in METHODS for m in methods):
        parser.error(f"--methods takes {', '.join(METHODS)}")
    results = measure(args.rows, args.repeats, methods, args.live_rows)
    if args.results:
        Path(args.results).write_text(json.dumps(results))
    else:
        report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
