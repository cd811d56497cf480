"""DuckDB connections for the app: one helper, so memory limits, threads and the spill
directory are the same everywhere."""
from __future__ import annotations

import socket
from pathlib import Path

import duckdb

# Ingest and queries must not take the server's memory; DuckDB spills to disk past this.
MEMORY_LIMIT = "768MB"


def spill_dir(temp_dir: Path) -> Path:
    """Where DuckDB spills: a folder of this host's under ``temp_dir``. DuckDB names its
    spill files by pid and instance (duckdb_temp_<pid>_<n>_...), which is unique on one
    machine only; on a data dir shared by several machines two hosts' pids may meet."""
    host = "".join(c if c.isalnum() or c in "._" else "_" for c in socket.gethostname())[:60]
    return temp_dir / f"duckdb@{host}"


def connect(temp_dir: Path | None = None, threads: int | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:", config={"memory_limit": MEMORY_LIMIT})
    # Times with a zone are kept as UTC wall time whatever the server's own zone is (a
    # synced timestamptz, an uploaded Parquet file): the same instant, the same value.
    # GLOBAL: a cursor (a connection of its own to this instance, one per query in the
    # shared instances) does not inherit the connection's session settings.
    con.execute("SET GLOBAL TimeZone = 'UTC'")
    if temp_dir is not None:
        # DuckDB makes the spill folder when it first spills and removes it on close.
        temp_dir.mkdir(parents=True, exist_ok=True)
        con.execute("SET temp_directory = ?", [str(spill_dir(temp_dir))])
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    # query_progress() answers -1 unless the progress bar is on; keep it from printing.
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    con.execute("SET progress_bar_time = 0")
    return con


def shared_instance(temp_dir: Path | None = None) -> duckdb.DuckDBPyConnection:
    """An instance for many queries at once, each on a cursor of its own (the widget
    queries, the grid's pages): creating an instance costs ~20 ms of CPU, a cursor almost
    nothing. A cursor does not inherit session settings, so the footer cache is GLOBAL."""
    con = connect(temp_dir)
    con.execute("SET GLOBAL parquet_metadata_cache = true")
    return con


def literal(value: str) -> str:
    """A SQL string literal, for the few places DuckDB takes no parameters (COPY ... TO,
    table functions' file paths). Only ever used with paths the app made itself."""
    return "'" + str(value).replace("'", "''") + "'"
