"""ydata-profiling, timed in its own interpreter (.venv-baseline: ydata-profiling needs
pandas 2 and numpy < 2.4, the app pins pandas 3). Standalone on purpose: it imports
nothing of the app. Prints one JSON line: seconds, load_seconds, peak_mb, rows."""
from __future__ import annotations

import json
import sys
import time
import warnings


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def main(mode: str, parquet: str) -> None:
    warnings.simplefilter("ignore")
    import pandas as pd
    from ydata_profiling import ProfileReport

    started = time.perf_counter()
    frame = pd.read_parquet(parquet)
    load_seconds = time.perf_counter() - started
    _reset_peak()
    import resource
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    started = time.perf_counter()
    report = ProfileReport(frame, minimal=(mode == "minimal"), progress_bar=False, title="bench")
    description = report.get_description()
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu_before, "load_seconds": load_seconds, "peak_mb": _status_mb("VmHWM"),
                      "rows": int(description.table["n"])}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
