"""Profiling: the app's profiler (analytics.profile in DuckDB) against ydata-profiling in
full and minimal modes, on the same data, each run in a fresh child process:

- a generated 1,000,000-row, 16-column transaction table (integers, floats, text,
  categories, timestamps, booleans, missing values, empty strings; fixed seed);
- the Online Retail data the app ships (data/samples/online-retail.csv.gz, 541,909 rows;
  skipped with a note when the file is not there);
- a generated 10,000,000-row table for our profiler only (targets: < 60 s, < 2 GB peak).

Our profiler runs three times per case and its median run is the one compared;
ydata-profiling, whose runs take many seconds and vary little in proportion, runs once.

Ours reads the Parquet file inside DuckDB under the app's memory limit and returns the
whole profile (everything the API serves). ydata-profiling gets the same Parquet file
loaded into pandas first (not timed: its time is ProfileReport(...).get_description(),
the statistics without the HTML rendering); its peak memory includes the frame, which it
needs. ydata-profiling cannot share the app's interpreter (it needs pandas 2), so it runs
with .venv-baseline/bin/python (``make bench`` creates it; see bench/requirements-baseline.txt).

    python -m bench.profile                  # all cases
    python -m bench.profile --rows 200000    # a quicker generated table
    python -m bench.profile --skip-10m --skip-full
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.memory import status_mb

ROOT = Path(__file__).resolve().parent.parent
BASELINE_PYTHON = ROOT / ".venv-baseline" / "bin" / "python"
RETAIL = ROOT / "data" / "samples" / "online-retail.csv.gz"
DEFAULT_ROWS = 1_000_000
BIG_ROWS = 10_000_000
TARGET_VS_FULL = 20.0
REPEAT = 3  # runs of our profiler per case (its median is compared); ydata-profiling runs once
TARGET_BIG_SECONDS = 60.0
TARGET_BIG_PEAK_MB = 2048.0


def generate(path: Path, rows: int) -> None:
    """16 columns of a shop's transactions, made by DuckDB from hashes of the row number
    (the same data for the same row count, on any machine), written as the app writes
    a dataset's file."""
    import duckdb

    from storage.ingest import PARQUET_OPTIONS

    def pick(values: list[str], salt: int) -> str:
        return f"[{', '.join(repr(v) for v in values)}][(1 + hash(range * {salt}) % {len(values)})::BIGINT]"

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        con.execute(f"""COPY (SELECT
            range AS transaction_id,
            (hash(range) % 200000)::BIGINT AS customer_id,
            (hash(range * 7) % 5000)::INTEGER AS product_id,
            {pick(['Books', 'Games', 'Food', 'Garden', 'Toys', 'Music', 'Sports', 'Home'], 3)} AS category,
            {pick(['card', 'cash', 'paypal', 'voucher'], 5)} AS payment_method,
            {pick(['United Kingdom', 'France', 'Germany', 'Spain', 'Italy', 'Netherlands', 'Belgium', 'Portugal',
                   'Ireland', 'Poland'], 11)} AS country,
            'store-' || (hash(range * 13) % 300)::VARCHAR AS store,
            TIMESTAMP '2022-01-01' + to_seconds((hash(range * 17) % (86400 * 700))::BIGINT) AS ts,
            CASE WHEN hash(range * 19) % 20 = 0 THEN -1 ELSE 1 END * (1 + hash(range * 23) % 12)::INTEGER AS quantity,
            round(1 + (hash(range * 29) % 100000) / 100.0, 2) AS unit_price,
            CASE WHEN hash(range * 31) % 10 = 0 THEN NULL ELSE round((hash(range * 37) % 10000) / 100.0, 2) END
                AS discount,
            (hash(range * 41) % 2 = 0) AS is_member,
            CASE WHEN hash(range * 43) % 4 = 0 THEN NULL ELSE 18 + hash(range * 47) % 70 END AS age,
            (hash(range * 53) % 1000000) / 1000.0 AS score,
            md5(range::VARCHAR) AS session_id,
            CASE WHEN hash(range * 59) % 3 = 0 THEN '' ELSE 'note ' || (hash(range * 61) % 50)::VARCHAR END AS note
        FROM range({int(rows)})) TO '{path}' (FORMAT parquet, {PARQUET_OPTIONS})""")
    finally:
        con.close()


def retail_parquet(path: Path) -> None:
    import duckdb

    from storage.ingest import PARQUET_OPTIONS

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        con.execute(f"COPY (SELECT * FROM read_csv('{RETAIL}', types={{'InvoiceNo': 'VARCHAR', "
                    f"'StockCode': 'VARCHAR'}})) TO '{path}' (FORMAT parquet, {PARQUET_OPTIONS})")
    finally:
        con.close()


# --- one measured run, in a child process -------------------------------------------------------


def _child(parquet: Path, work: Path) -> dict:
    from analytics.profile import compute_profile
    from storage.duck import connect, literal

    con = connect(work)
    try:
        # The peak counts from here: imports and the connection are the server's anyway.
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu_before = usage.ru_utime + usage.ru_stime
        started = time.perf_counter()
        profile = compute_profile(con, f"read_parquet({literal(str(parquet))})")
        seconds = time.perf_counter() - started
        usage = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        con.close()
    return {"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu_before, "peak_mb": status_mb("VmHWM"), "rows": profile["table"]["rows"],
            "alerts": len(profile["alerts"]), "estimates": [e["what"] for e in profile["estimates"]],
            "json_kb": len(json.dumps(profile)) / 1024}


def _run(command: list[str], what: str) -> dict:
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def ours(parquet: Path, base: Path, repeat: int = 1) -> dict:
    """The median run of ``repeat`` (each in a fresh process): a run of a fraction of a
    second moves by a quarter with whatever else the machine does; its median does not."""
    runs = []
    for _ in range(repeat):
        work = Path(tempfile.mkdtemp(prefix="ours-", dir=base))
        try:
            runs.append(_run([sys.executable, "-m", "bench.profile", "--child", str(parquet), "--work", str(work)],
                             "ours"))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    runs.sort(key=lambda r: r["seconds"])
    median = dict(runs[len(runs) // 2])
    median["runs"] = [r["seconds"] for r in runs]
    return median


def ydata(parquet: Path, mode: str) -> dict | None:
    if not BASELINE_PYTHON.exists():
        return None
    return _run([str(BASELINE_PYTHON), str(ROOT / "bench" / "_profile_baseline.py"), mode, str(parquet)],
                f"ydata-profiling {mode}")


# --- the whole benchmark ------------------------------------------------------------------------


def measure(rows: int = DEFAULT_ROWS, big: bool = True, full: bool = True, temp_dir: str | None = None) -> list[dict]:
    base = Path(tempfile.mkdtemp(prefix="bench-profile-", dir=temp_dir))
    table = []
    try:
        cases = []
        generated = base / "generated.parquet"
        generate(generated, rows)
        cases.append((f"generated {rows:,}x16", generated))
        if RETAIL.exists():
            retail = base / "retail.parquet"
            retail_parquet(retail)
            cases.append(("Online Retail 541,909x8", retail))
        else:
            print(f"Online Retail: {RETAIL.relative_to(ROOT)} is not there; that case is skipped.")
        if not BASELINE_PYTHON.exists():
            print("ydata-profiling: .venv-baseline is missing (make .venv-baseline creates it); baselines skipped.")
        load = os.getloadavg()[0]
        print(f"\nProfiling benchmark, {os.cpu_count()} CPUs, load average {load:.1f} at the start")
        print(f"{'case':<28} {'profiler':<22} {'seconds':>8} {'peak MiB':>9}  notes")
        for label, parquet in cases:
            mine = ours(parquet, base, REPEAT)
            runs = ", ".join(f"{r:.2f}" for r in mine["runs"])
            print(f"{label:<28} {'ours (DuckDB)':<22} {mine['seconds']:>8.2f} {mine['peak_mb']:>9.0f}  "
                  f"median of {REPEAT} runs ({runs} s); CPU {mine['cpu_seconds']:.2f} s; {mine['alerts']} alerts, {mine['json_kb']:.0f} KB JSON; estimated: {'; '.join(mine['estimates'])}")
            for mode in (("full", "minimal") if full else ("minimal",)):
                theirs = ydata(parquet, mode)
                if theirs is None:
                    continue
                ratio = theirs["seconds"] / mine["seconds"]
                print(f"{label:<28} {'ydata-profiling ' + mode:<22} {theirs['seconds']:>8.2f} {theirs['peak_mb']:>9.0f}"
                      f"  CPU {theirs['cpu_seconds']:.1f} s; ours is {ratio:.1f}x faster by wall time, "
                      f"{theirs['cpu_seconds'] / mine['cpu_seconds']:.1f}x by CPU (pandas load "
                      f"{theirs['load_seconds']:.1f} s not counted)")
                if mode == "full":
                    verdict = "ok" if ratio >= TARGET_VS_FULL else "MISSED"
                    note = f"target >= {TARGET_VS_FULL:.0f}x: {verdict}"
                else:
                    note = f"target: faster than minimal: {'ok' if ratio > 1 else 'MISSED'}"
                table.append({"case": f"{label} vs ydata {mode}", "ours": mine["seconds"],
                              "baseline": theirs["seconds"], "note": note})
                table.append({"case": f"{label} peak MiB vs {mode}", "ours": mine["peak_mb"],
                              "baseline": theirs["peak_mb"], "note": "peak resident memory, MiB"})
        if big:
            generated_big = base / "generated-10m.parquet"
            generate(generated_big, BIG_ROWS)
            generated.unlink(missing_ok=True)
            mine = ours(generated_big, base)
            verdict = "ok" if mine["seconds"] < TARGET_BIG_SECONDS and mine["peak_mb"] < TARGET_BIG_PEAK_MB else "MISSED"
            print(f"{f'generated {BIG_ROWS:,}x16':<28} {'ours (DuckDB)':<22} {mine['seconds']:>8.2f} "
                  f"{mine['peak_mb']:>9.0f}  CPU {mine['cpu_seconds']:.1f} s; target < {TARGET_BIG_SECONDS:.0f} s and < {TARGET_BIG_PEAK_MB:.0f} MiB: "
                  f"{verdict}; estimated: {'; '.join(mine['estimates'])}")
            table.append({"case": f"generated {BIG_ROWS:,}x16 s", "ours": mine["seconds"], "baseline": float("nan"),
                          "note": f"ours only; peak {mine['peak_mb']:.0f} MiB; target < 60 s, < 2 GB: {verdict}"})
        print(f"load average {os.getloadavg()[0]:.1f} at the end (timings are noisy on a shared machine)\n")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return table


def run() -> list[dict]:
    """For bench/__main__.py."""
    return measure()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows of the generated table")
    parser.add_argument("--skip-10m", action="store_true", help="leave out the 10,000,000-row case")
    parser.add_argument("--skip-full", action="store_true", help="leave out ydata-profiling's full mode (slow)")
    parser.add_argument("--temp-dir", default=None, help="where to put the generated files (default: system temp)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(Path(args.child), Path(args.work))))
        return 0
    measure(args.rows, not args.skip_10m, not args.skip_full, args.temp_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
