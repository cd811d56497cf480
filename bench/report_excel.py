"""Excel export of a big table widget: a dashboard whose table widget shows a generated
1,000,000-row flights-like table (8 columns: integers, text, a float, a timestamp), exported
to .xlsx with every row (streamed from DuckDB into the streaming xlsx writer), against
pandas ``read_parquet(...).to_excel(...)`` of the same rows (openpyxl, the Excel engine
pandas uses here) in the same run.

Each side runs in a child process of its own, so its peak memory (the process's maximum
resident set size, ru_maxrss) is its own. The ratio is baseline / ours, for time and for
memory.

    python -m bench.report_excel                  # 1,000,000 rows
    python -m bench.report_excel --rows 200000    # quicker
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT_ROWS = 1_000_000
ROOT = Path(__file__).resolve().parents[1]


def generate(path: Path, rows: int) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute(f"""COPY (SELECT i + 1 AS id, 2013 AS year, (i % 12) + 1 AS month,
                         ['AA', 'B6', 'DL', 'UA', 'WN', 'EV', 'MQ', '9E'][(i % 8) + 1] AS carrier,
                         'N' || (i % 4000) AS tailnum, ((i * 7919) % 600) / 2.0 - 30 AS dep_delay,
                         (i * 31) % 4900 + 80 AS distance,
                         TIMESTAMP '2013-01-01' + INTERVAL (i) MINUTE AS time_hour
                  FROM range({int(rows)}) t(i)) TO '{path}' (FORMAT parquet)""")
    con.close()


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _start_measuring() -> float:
    """Reset the process's peak RSS (Linux: clear_refs 5) and return its RSS now, so the
    export's own growth is VmHWM minus this."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _status_mb("VmRSS")


def _ours(source: str, work: str) -> dict:
    """In the child: import the parquet as a dataset, put it in a table widget, export."""
    import time

    from storage import Storage

    work_dir = Path(work)
    store = Storage(f"sqlite:///{work_dir / 'meta.db'}", work_dir / "data")
    store.migrate()
    principal = store.users.create_first_admin("bench@example.com", "bench password 123", "Bench").principal()
    workspace = store.workspaces.personal_workspace(principal).id
    dataset = store.datasets.create_from_file(principal, workspace, Path(source), "flights.parquet")
    from bench.report import _stop_background_jobs

    _stop_background_jobs(store, principal)
    board = store.dashboards.create(principal, workspace, {"name": "Flights", "widgets": [
        {"id": "t", "spec": {"type": "table", "dataset_id": dataset.id, "title": "Flights", "sort": "id"},
         "layout": {"x": 0, "y": 0, "w": 12, "h": 6}}]})
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    started_cpu = usage.ru_utime + usage.ru_stime  # importing the dataset is not the export
    rss_before = _start_measuring()
    started = time.perf_counter()
    built = store.reports.export(principal, board["id"], "xlsx")
    seconds = time.perf_counter() - started
    size = built.size
    rows = built.stats["tables"][0]["in_file"]
    built.discard()
    grown = _status_mb("VmHWM") - rss_before
    store.dispose()
    return {"seconds": seconds, "bytes": size, "rows": rows, "started_cpu": started_cpu, "grown_mb": grown}


def _baseline(source: str, work: str) -> dict:
    """In the child: what a pandas user writes."""
    import time

    import pandas as pd

    rss_before = _start_measuring()
    started = time.perf_counter()
    frame = pd.read_parquet(source)
    target = Path(work) / "pandas.xlsx"
    frame.to_excel(target, sheet_name="Flights", index=False)
    return {"seconds": time.perf_counter() - started, "bytes": target.stat().st_size, "rows": len(frame),
            "grown_mb": _status_mb("VmHWM") - rss_before}


def _child(side: str, source: str, work: str) -> None:
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF)
    result = (_ours if side == "ours" else _baseline)(source, work)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["peak_mb"] = usage.ru_maxrss / 1024
    # CPU seconds of the export itself (DuckDB's threads included): unlike wall time, not
    # stretched when other work shares the machine's cores.
    started_cpu = result.pop("started_cpu", before.ru_utime + before.ru_stime)
    result["cpu"] = usage.ru_utime + usage.ru_stime - started_cpu
    print("RESULT " + json.dumps(result))


def _run_child(side: str, source: Path, work: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench.report_excel", "--child", side, str(source), str(work)],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"{side} failed: {done.stderr[-2000:]}")
    return json.loads(line[len("RESULT "):])


def run(rows: int = DEFAULT_ROWS) -> list[dict]:
    work = Path(tempfile.mkdtemp(prefix="bench-excel-"))
    try:
        source = work / "flights.parquet"
        generate(source, rows)
        ours = _run_child("ours", source, work / "ours")
        base = _run_child("baseline", source, work / "base")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert ours["rows"] == base["rows"] == rows, (ours, base)
    print(f"\nExcel export of a {rows:,}-row table widget (8 columns), every row:")
    for name, r in (("ours (DuckDB batches → streaming xlsx)", ours), ("pandas read_parquet + to_excel", base)):
        print(f"  {name:<42} {r['seconds']:7.1f} s wall  {r['cpu']:7.1f} s CPU  peak RSS {r['peak_mb']:6.0f} MB "
              f"(+{r['grown_mb']:.0f} MB during the export)  file {r['bytes'] / 1e6:6.1f} MB")
    print(f"  ratio (pandas / ours): wall time {base['seconds'] / ours['seconds']:.1f}x, CPU time "
          f"{base['cpu'] / ours['cpu']:.1f}x, peak RSS {base['peak_mb'] / ours['peak_mb']:.1f}x, "
          f"memory the export adds {base['grown_mb'] / max(1.0, ours['grown_mb']):.1f}x")
    return [
        {"case": f"xlsx wall time, {rows:,} rows", "ours": ours["seconds"], "baseline": base["seconds"],
         "note": "seconds; baseline: pandas read_parquet + DataFrame.to_excel (openpyxl)"},
        {"case": f"xlsx CPU time, {rows:,} rows", "ours": ours["cpu"], "baseline": base["cpu"],
         "note": "seconds of CPU (user + system), not stretched by other load"},
        {"case": f"xlsx peak memory, {rows:,} rows", "ours": ours["peak_mb"], "baseline": base["peak_mb"],
         "note": "MB, peak RSS of the process (ours: the whole app, ~290 MB before any export)"},
        {"case": f"xlsx memory added, {rows:,} rows", "ours": max(1.0, ours["grown_mb"]), "baseline": base["grown_mb"],
         "note": "MB the export adds to the process at its peak"},
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--child", nargs=3, metavar=("SIDE", "SOURCE", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        side, source, work = args.child
        Path(work).mkdir(parents=True, exist_ok=True)
        _child(side, source, work)
        return 0
    for row in run(args.rows):
        print(f"{row['case']:<36} ours {row['ours']:>9.1f}  baseline {row['baseline']:>9.1f}  "
              f"ratio {row['baseline'] / row['ours']:>5.1f}x  {row['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
