"""The front under load and under slow clients (issue 18, point 1): ``python app.py`` (each
gunicorn worker reads requests on waitress's event loop, web.front) against the server it
replaced, gunicorn's threaded worker (``gunicorn -k gthread --threads 8 app:server``),
started side by side in the same run on the same data directory.

Two cases, each as seconds per answered ``GET /api/health`` (lower is better):

- ``health, 8 clients``: 8 keep-alive clients asking as fast as they can for 5 s;
- ``health, 12 slow clients``: the same while 12 other sockets dribble a body of a
  ``POST /_dash-update-component``, one byte every half second. A request that gets no
  answer within 2 s counts as 2 s, so a stalled server's figure is a lower bound.

    python -m bench.front
"""
from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = 8
SLOW_CLIENTS = 12
SECONDS = 5.0
ANSWER_TIMEOUT = 2.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(command: list[str], data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "DATAINSIGHT_DATA_DIR": str(data_dir), "DATAINSIGHT_PORT": str(port),
           "DATAINSIGHT_HOST": "127.0.0.1", "DATAINSIGHT_SCHEDULER": "false"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    for _ in range(300):
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return process
        except requests.RequestException:
            pass
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    raise RuntimeError(f"{command} did not start")


def _hammer(port: int) -> list[float]:
    """Seconds per request of CLIENTS keep-alive clients over SECONDS."""
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + SECONDS

    def client():
        session = requests.Session()
        mine = []
        while time.monotonic() < deadline:
            started = time.monotonic()
            try:
                session.get(f"http://127.0.0.1:{port}/api/health", timeout=ANSWER_TIMEOUT).raise_for_status()
                mine.append(time.monotonic() - started)
            except requests.RequestException:
                mine.append(ANSWER_TIMEOUT)
                session = requests.Session()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


def _with_slow_clients(port: int) -> list[float]:
    stop = threading.Event()
    sockets = []
    for _ in range(SLOW_CLIENTS):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"POST /_dash-update-component HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 200000\r\n\r\n{")
        sockets.append(sock)

    def dribble():
        while not stop.wait(0.5):
            for sock in sockets:
                try:
                    sock.sendall(b" ")
                except OSError:
                    pass

    dribbler = threading.Thread(target=dribble)
    dribbler.start()
    try:
        time.sleep(0.5)
        return _hammer(port)
    finally:
        stop.set()
        dribbler.join()
        for sock in sockets:
            sock.close()


def _measure(port: int) -> dict:
    return {"plain": _hammer(port), "slow": _with_slow_clients(port)}


def run() -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="bench-front-") as folder:
        data_dir = Path(folder)
        ours_port, theirs_port = _free_port(), _free_port()
        ours = _start([sys.executable, "app.py"], data_dir / "ours", ours_port)
        theirs = _start([sys.executable, "-m", "gunicorn", "-k", "gthread", "--threads", "8", "-b",
                         f"127.0.0.1:{theirs_port}", "app:server"], data_dir / "theirs", theirs_port)
        try:
            ours_figures, theirs_figures = _measure(ours_port), _measure(theirs_port)
        finally:
            for process in (ours, theirs):
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    rows = []
    for key, case in (("plain", f"health, {CLIENTS} clients"), ("slow", f"health, {SLOW_CLIENTS} slow clients")):
        mine, baseline = ours_figures[key], theirs_figures[key]
        stalled = sum(1 for value in baseline if value >= ANSWER_TIMEOUT)
        note = (f"{len(mine) / SECONDS:.0f} vs {len(baseline) / SECONDS:.0f} answers/s; "
                f"p95 {1000 * _p95(mine):.0f} vs {1000 * _p95(baseline):.0f} ms")
        if stalled:
            note += f"; gthread left {stalled} request(s) unanswered for {ANSWER_TIMEOUT:g} s"
        rows.append({"case": case, "ours": statistics.fmean(mine), "baseline": statistics.fmean(baseline),
                     "note": note})
    return rows


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


if __name__ == "__main__":
    for row in run():
        print(f"{row['case']:<28} ours {row['ours'] * 1000:8.2f} ms  gthread {row['baseline'] * 1000:8.2f} ms  "
              f"{row['baseline'] / row['ours']:6.2f}x  {row['note']}")
