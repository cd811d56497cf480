"""Background jobs on Celery workers through Redis (issue 14, point 2): one web process and
two `app.py worker` processes share a data dir and a database (SQLite, or the test
PostgreSQL when set). A dataset's profile runs on a worker, not in the web process; a
worker process killed with SIGKILL in the middle of a long profile does not lose it: the
task was acknowledged late, so it is delivered again and the job ends done, and no job is
left "running". Needs a Redis server: run under scripts/with-redis.sh."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import requests
from sqlalchemy import create_engine, text

from tests.integration.server import ROOT, api_token, free_port, group_pids, kill_hard, server_env, start_server

REDIS_URL = os.environ.get("DATAINSIGHT_TEST_REDIS_URL")
pytestmark = pytest.mark.skipif(
    not REDIS_URL, reason="needs a Redis server: run under scripts/with-redis.sh (sets DATAINSIGHT_TEST_REDIS_URL)")


def make_csv(path: Path, rows: int) -> Path:
    duckdb.sql(
        "COPY (SELECT range AS id, 'customer ' || (range % 9973) AS name, (range * 7919) % 100000 / 100.0 AS amount, "
        "(range * 31) % 977 AS qty, 'city ' || (range % 313) AS city, "
        "DATE '2020-01-01' + INTERVAL (range % 1500) DAY AS day FROM range(?)) "
        f"TO '{path}' (HEADER)", params=[rows])
    return path


def start_worker(data_dir: Path, log: Path, *args: str, env: dict | None = None, **settings) -> subprocess.Popen:
    """``python app.py worker *args`` with ``settings`` as DATAINSIGHT_* variables (and
    ``env``, other variables)."""
    env = {**server_env(data_dir, **{"redis_url": REDIS_URL, **settings}), **(env or {})}
    return subprocess.Popen([sys.executable, "app.py", "worker", *args], cwd=ROOT, env=env, stdout=open(log, "ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def upload(base: str, auth: dict, path: Path) -> int:
    size = path.stat().st_size
    up = requests.post(f"{base}/api/v1/uploads", json={"filename": path.name, "size": size}, headers=auth).json()
    with open(path, "rb") as handle:
        offset = 0
        while offset < size:
            chunk = handle.read(up["chunk_size"])
            answer = requests.put(f"{base}/api/v1/uploads/{up['id']}?offset={offset}", data=chunk, headers=auth)
            assert answer.status_code == 200, answer.text
            offset = answer.json()["offset"]
    job = requests.post(f"{base}/api/v1/uploads/{up['id']}/import", json={}, headers=auth).json()
    for _ in range(1200):
        status = requests.get(f"{base}/api/v1/jobs/{job['job_id']}", headers=auth).json()
        if status["status"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    assert status["status"] == "done", status
    datasets = requests.get(f"{base}/api/v1/datasets", headers=auth).json()["datasets"]
    return max(d["id"] for d in datasets)


def profile_job(db, dataset_id: int):
    """The newest profile job (its worker field names the process running it)."""
    return db.execute(text("SELECT id, status, worker, message FROM jobs WHERE kind = 'profile' "
                           "ORDER BY created_at DESC")).first()


def wait_profile(base: str, auth: dict, dataset_id: int, seconds: float) -> dict:
    deadline = time.time() + seconds
    while time.time() < deadline:
        body = requests.get(f"{base}/api/v1/datasets/{dataset_id}/profile", headers=auth).json()
        if body["status"] != "running":
            return body
        time.sleep(0.25)
    raise AssertionError(f"the profile of dataset {dataset_id} did not end within {seconds} s: {body}")


def test_profiles_run_on_workers_and_survive_a_killed_worker(tmp_path):
    data_dir, port = tmp_path / "data", free_port()
    auth = {"Authorization": f"Bearer {api_token(data_dir)}"}
    web = start_server(data_dir, port, tmp_path / "web.log", redis_url=REDIS_URL)
    workers = [start_worker(data_dir, tmp_path / f"worker{i}.log") for i in (1, 2)]
    base = f"http://127.0.0.1:{port}"
    engine = create_engine(server_env(data_dir)["DATAINSIGHT_DATABASE_URL"])
    try:
        web_pids = set(group_pids(web.pid))
        worker_pids = {pid for w in workers for pid in group_pids(w.pid)}

        # A small file: its profile runs on a worker process, not in the web process.
        small = upload(base, auth, make_csv(tmp_path / "small.csv", 1000))
        body = wait_profile(base, auth, small, 120)
        assert body["status"] == "ready", body
        with engine.connect() as db:
            job = profile_job(db, small)
        pid = int(job.worker.rpartition(":")[2])
        worker_pids |= {p for w in workers for p in group_pids(w.pid)}
        assert pid not in web_pids and pid in worker_pids, (job.worker, web_pids, worker_pids)

        # A long profile: kill the process running it in the middle.
        big = upload(base, auth, make_csv(tmp_path / "big.csv", 6_000_000))
        requests.get(f"{base}/api/v1/datasets/{big}/profile", headers=auth)
        deadline, killed = time.time() + 60, None
        while time.time() < deadline:
            with engine.connect() as db:
                job = profile_job(db, big)
            if job is not None and job.status == "running" and job.worker:
                killed = int(job.worker.rpartition(":")[2])
                if killed in {p for w in workers for p in group_pids(w.pid)}:
                    break
            time.sleep(0.05)
        else:
            raise AssertionError(f"the long profile never ran on a worker: {job}")
        time.sleep(1.0)  # in the middle of its steps
        os.kill(killed, signal.SIGKILL)

        body = wait_profile(base, auth, big, 300)
        assert body["status"] == "ready", body
        with engine.connect() as db:
            job = profile_job(db, big)
            assert job.status == "done", job
            assert int(job.worker.rpartition(":")[2]) != killed, job  # taken up by another process
            running = db.execute(text("SELECT id, kind, worker FROM jobs WHERE status IN ('queued', 'running')")).all()
        assert running == [], running
        assert not list((data_dir / "profiles").glob("*.tmp")) if (data_dir / "profiles").exists() else True
    finally:
        engine.dispose()
        for process in [web, *workers]:
            if process.poll() is None:
                kill_hard(process)
