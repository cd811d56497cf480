"""Measured runs in child processes of their own, so one method's imports and memory do
not count towards another's."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_child(module: str, method: str, arguments: list[str], base: Path) -> dict:
    """``python -m <module> --child <method> <arguments> --work <a fresh folder>``: the JSON
    object on the last line it prints. The folder is removed afterwards."""
    work = Path(tempfile.mkdtemp(prefix=f"{method}-", dir=base))
    try:
        proc = subprocess.run(
            [sys.executable, "-m", module, "--child", method, *arguments, "--work", str(work)],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{method} run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)
