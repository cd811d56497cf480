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

Live widgets on a 10-million-row table are not measured here: see LIVE_NOTE.

Without DATAINSIGHT_TEST_POSTGRES_ADMIN_URL the measurement re-runs itself under
scripts/with-postgres.sh (a throwaway PostgreSQL on 127.0.0.1), so ``make bench`` needs
nothing more than scripts/install-system-deps.sh test.

    python -m bench.connections                 # 1M rows, 3 runs of the app, 2 of pandas
    python -m bench.connections --rows 200000 --repeats 1
"""
from __future__ import annotations

import argparse
import gc
import json
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
LIVE_NOTE = ("live widgets (12 widgets on a 10,000,000-row PostgreSQL table, cold and warm, beside the synced "
             "Parquet copy): not measured yet (storage/live.py exists; building the table and its copy here "
             "takes minutes, so this part is still to write)")

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


def _child(method: str, database: str, work: Path) -> dict:
    admin = _admin()
    if method == "app":
        from storage import Storage

        store = Storage(f"sqlite:///{work}/meta.db", work / "data")
        store.migrate()
        # The throwaway server is on 127.0.0.1, which connections refuse unless the
        # administrator allows it (DATAINSIGHT_CONNECTIONS_ALLOW_LOOPBACK).
        store.connections.allow_loopback = True
        admin_user = store.users.create_first_admin("bench@example.com", "a long benchmark password", "Bench")
        principal = admin_user.principal()
        workspace_id = store.workspaces.personal_workspace(principal).id
        store.datasets.listeners.clear()  # no automatic profile: a job of its own, not part of the copy
        # Where the time and memory go: the rows copied into a Parquet file, then its commit (or import).
        phases = _Phases(reset=reset_peak())  # whether VmHWM can be reset here
        store.syncs._copy = phases.wrap("copy", store.syncs._copy)
        store.datasets.inspect_file = phases.wrap("inspect", store.datasets.inspect_file)
        store.datasets.create_from_file = phases.wrap("import", store.datasets.create_from_file)

        def call():
            connection = store.connections.create(principal, workspace_id, {
                "name": "bench", "kind": "postgresql", "host": admin["host"], "port": admin["port"],
                "database": database, "user": admin["user"], "password": admin["password"]})
            job_id = store.syncs.create(principal, connection["id"], {"name": "orders", "table": f"public.{TABLE}"})[
                "job_id"]
            while True:
                job = store.jobs.get(principal, job_id)
                if job["status"] not in ("queued", "running"):
                    break
                time.sleep(0.02)
            if job["status"] != "done":
                raise RuntimeError(f"the sync ended {job['status']}: {job['message']}")
            return job["result"]["dataset"]["id"]

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


def _run_child(method: str, database: str, base: Path) -> dict:
    return run_child("bench.connections", method, ["--database", database], base)


# --- the whole benchmark ------------------------------------------------------------------------


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _measure_here(rows: int, repeats: int, methods) -> dict:
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
        return {"rows": rows, "expected": list(expected), "table_mb": table_bytes / 2**20, "runs": runs,
                "load": (load_before, os.getloadavg()[0]), "server": _server_version(database)}
    finally:
        shutil.rmtree(base, ignore_errors=True)
        drop_source(database)


def _server_version(database: str) -> str:
    with _pg(database) as con:
        return con.execute("SHOW server_version").fetchone()[0]


def measure(rows: int = DEFAULT_ROWS, repeats: int = 3, methods=METHODS) -> dict:
    """The figures; beside a throwaway PostgreSQL of its own unless one is given."""
    if os.environ.get(ADMIN_ENV):
        return _measure_here(rows, repeats, methods)
    script = ROOT / "scripts" / "with-postgres.sh"
    with tempfile.NamedTemporaryFile(prefix="bench-connections-", suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    try:
        proc = subprocess.run(
            [str(script), sys.executable, "-m", "bench.connections", "--rows", str(rows), "--repeats", str(repeats),
             "--methods", ",".join(methods), "--results", str(out)],
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
    print(LIVE_NOTE)
    print()
    return table


def run() -> list[dict]:
    """For bench/__main__.py: the default size, 3 runs of the app, 2 of pandas."""
    return report(measure())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.connections", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows in the generated table")
    parser.add_argument("--repeats", type=int, default=3, help="runs of the app (pandas runs one fewer, at least one)")
    parser.add_argument("--methods", default=",".join(METHODS), help="app,pandas (default) or one of them")
    parser.add_argument("--results", help=argparse.SUPPRESS)  # write the figures here (under with-postgres.sh)
    parser.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child, args.database, Path(args.work))))
        return 0
    methods = tuple(m for m in args.methods.split(",") if m)
    if any(m not in METHODS for m in methods):
        parser.error(f"--methods takes {', '.join(METHODS)}")
    results = measure(args.rows, args.repeats, methods)
    if args.results:
        Path(args.results).write_text(json.dumps(results))
    else:
        report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
