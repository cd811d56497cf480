"""Run every benchmark module listed in BENCHMARKS and print one table."""
from __future__ import annotations

import importlib
import sys

# Modules under bench/ with a run() function; capabilities add themselves here.
BENCHMARKS: list[str] = ["ingest", "dashboard", "profile", "analytics", "dashboard_browser", "report", "report_excel", "front", "alerts",
                         "connections", "collect", "load"]


def main() -> int:
    if not BENCHMARKS:
        print("No benchmarks yet: capabilities add theirs to bench/__main__.py BENCHMARKS.")
        return 0
    # Run them all first (a module may print its own detail), then the summary table.
    # A row may add a "note" (e.g. the target and whether it was met); the ratio is baseline / ours.
    results = [(name, row) for name in BENCHMARKS for row in importlib.import_module(f"bench.{name}").run()]
    print(f"{'benchmark':<20} {'case':<34} {'ours':>12} {'baseline':>12} {'ratio':>8}  note")
    for name, row in results:
        print(f"{name:<20} {row['case']:<34} {row['ours']:>12.3f} {row['baseline']:>12.3f} "
              f"{row['baseline'] / row['ours']:>7.2f}x  {row.get('note', '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
