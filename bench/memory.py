"""Memory figures of the running process, for the benchmarks that report peak RSS.
(bench/_profile_baseline.py keeps its own copy: it runs in another virtual environment.)"""
from __future__ import annotations


def status_mb(field: str) -> float:
    """A /proc/self/status memory figure (kB there) in MiB: VmRSS now, VmHWM the peak."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> bool:
    """Make VmHWM start again from the current RSS (Linux >= 4.0), so set-up (imports,
    password hashing) does not count towards the measured peak. False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False
