"""A real server for the integration tests: `python app.py` (gunicorn, as `make run`
starts it) on a free 127.0.0.1 port, in its own process group so a test can kill it
and everything it started, and read that group's memory."""
from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(data_dir: Path, **settings) -> dict:
    """The environment of a server (and of its command line) for ``data_dir``: SQLite in
    the data dir, or, when the tests run beside PostgreSQL (scripts/with-postgres.sh), a
    database of that data dir's own on that server."""
    from tests.conftest import TEST_RATE_LIMITS

    env = {**os.environ, "DATAINSIGHT_DATA_DIR": str(data_dir), "DATAINSIGHT_HOST": "127.0.0.1", **TEST_RATE_LIMITS,
           **{f"DATAINSIGHT_{k.upper()}": str(v) for k, v in settings.items()}}
    # The PostgreSQL phase of make test sets both; the SQLite phase runs beside the same
    # server (tests/connections read from it) but keeps the metadata in SQLite.
    admin_url = os.environ.get("DATAINSIGHT_TEST_POSTGRES_ADMIN_URL")
    if admin_url and os.environ.get("DATAINSIGHT_TEST_DATABASE_URL"):
        env["DATAINSIGHT_DATABASE_URL"] = postgres_database(admin_url, data_dir)
    else:
        env["DATAINSIGHT_DATABASE_URL"] = f"sqlite:///{data_dir / 'datainsight.db'}"
    return env


def postgres_database(admin_url: str, data_dir: Path) -> str:
    """The URL of a database named after ``data_dir``, created empty the first time."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = "di_" + hashlib.sha1(str(data_dir.resolve()).encode()).hexdigest()[:16]
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            if exists is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def api_token(data_dir: Path, email: str = "ops@example.com") -> str:
    """An administrator and a write token, made with the command line."""
    env = server_env(data_dir)
    subprocess.run([sys.executable, "app.py", "create-user", "--email", email, "--password", PASSWORD, "--admin"],
                   cwd=ROOT, env=env, check=True, capture_output=True)
    return subprocess.run([sys.executable, "app.py", "create-token", "--email", email], cwd=ROOT, env=env,
                          check=True, capture_output=True, text=True).stdout.strip()


def start_server(data_dir: Path, port: int, log: Path, **settings) -> subprocess.Popen:
    env = server_env(data_dir, port=port, **settings)
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=open(log, "ab"),
                               stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(150):
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=5).status_code == 200:
                return process
        except (requests.ConnectionError, requests.Timeout):  # not listening yet, or busy starting
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    if process.poll() is None:  # never leave a half-started server behind
        kill_hard(process)
    raise AssertionError("the server did not start:\n" + log.read_text()[-3000:])


def kill_hard(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def group_pids(pgid: int) -> list[int]:
    """The processes of a process group (the gunicorn master and its workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid:
                pids.append(int(entry.name))
    return pids


def status_kb(pid: int, field: str) -> int:
    """A field of /proc/<pid>/status in kB (VmHWM: the peak resident memory)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0
