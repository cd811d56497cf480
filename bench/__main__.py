"""Run every benchmark module listed in BENCHMARKS and print one table."""
from __future__ import annotations

import importlib
import sys

# Modules under bench/ with a run() function; capabilities add themselves here.
BENCHMARKS: list[str] = []


def main() -> int:
    if not BENCHMARKS:
        print("No benchmarks yet: capabilities add theirs to bench/__main__.py BENCHMARKS.")
        return 0
    print(f"{'benchmark':<40} {'case':<30} {'ours':>12} {'baseline':>12} {'ratio':>8}")
    for name in BENCHMARKS:
        module = importlib.import_module(f"bench.{name}")
        for row in module.run():
            print(f"{name:<40} {row['case']:<30} {row['ours']:>12.3f} {row['baseline']:>12.3f} {row['baseline'] / row['ours']:>7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
