"""The whole app on several processes (issue 14, point 3): PostgreSQL, Redis, two
`app.py serve` web processes on two ports sharing one data dir, and two `app.py worker`
processes. Through the HTTP API only: a file uploaded in chunks that alternate between the
web processes, imported and profiled on the workers, a dashboard generated and its widgets
drawn by either web process, a PDF exported, and a schedule due now sent exactly once while
both web processes' schedulers race for it (a local SMTP server counts the mail).

Needs Redis and PostgreSQL: run under scripts/with-redis.sh scripts/with-postgres.sh."""
from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import duckdb
import pytest
import redis
import requests
from sqlalchemy import create_engine, text

from tests.cluster.test_celery_jobs import start_worker
from tests.integration.server import api_token, free_port, kill_hard, server_env, start_server
from tests.smtp_server import SmtpServer

REDIS_URL = os.environ.get("DATAINSIGHT_TEST_REDIS_URL")
POSTGRES = os.environ.get("DATAINSIGHT_TEST_POSTGRES_ADMIN_URL") and os.environ.get("DATAINSIGHT_TEST_DATABASE_URL")
pytestmark = pytest.mark.skipif(
    not (REDIS_URL and POSTGRES),
    reason="needs Redis and PostgreSQL: run under scripts/with-redis.sh scripts/with-postgres.sh")

CHUNK = 64 * 1024  # small chunks, so that the file takes many, landing on both processes


def make_csv(path: Path, rows: int) -> Path:
    duckdb.sql(
        "COPY (SELECT range AS order_id, 'customer ' || (range % 997) AS customer, "
        "(range * 7919) % 100000 / 100.0 AS amount, 'city ' || (range % 31) AS city, "
        "DATE '2024-01-01' + INTERVAL (range % 700) DAY AS order_date FROM range(?)) "
        f"TO '{path}' (HEADER)", params=[rows])
    return path


def wait_job(base: str, auth: dict, job_id: str, seconds: float = 120) -> dict:
    deadline = time.time() + seconds
    while time.time() < deadline:
        job = requests.get(f"{base}/api/v1/jobs/{job_id}", headers=auth, timeout=10).json()
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not end within {seconds} s: {job}")


def test_two_web_processes_and_two_workers_share_everything(tmp_path):
    data_dir = tmp_path / "data"
    with SmtpServer() as smtp:
        common = dict(redis_url=REDIS_URL, smtp_host="127.0.0.1", smtp_port=smtp.port, scheduler="true",
                      scheduler_interval=1, secret_key="one-key-for-every-process-of-the-cluster")
        auth = {"Authorization": f"Bearer {api_token(data_dir)}"}
        ports = [free_port(), free_port()]
        processes = []
        engine = create_engine(server_env(data_dir)["DATAINSIGHT_DATABASE_URL"])
        try:
            for i, port in enumerate(ports):
                processes.append(start_server(data_dir, port, tmp_path / f"web{i}.log", **common))
            for i in (1, 2):
                processes.append(start_worker(data_dir, tmp_path / f"worker{i}.log", **common))
            bases = [f"http://127.0.0.1:{port}" for port in ports]

            # Upload in chunks, each to the other web process.
            path = make_csv(tmp_path / "orders.csv", 12_000)
            size = path.stat().st_size
            up = requests.post(f"{bases[0]}/api/v1/uploads", json={"filename": path.name, "size": size},
                               headers=auth, timeout=10).json()
            offset, chunks = 0, 0
            with open(path, "rb") as handle:
                while offset < size:
                    chunk = handle.read(CHUNK)
                    answer = requests.put(f"{bases[chunks % 2]}/api/v1/uploads/{up['id']}?offset={offset}",
                                          data=chunk, headers=auth, timeout=30)
                    assert answer.status_code == 200, answer.text
                    offset, chunks = answer.json()["offset"], chunks + 1
            assert offset == size and chunks >= 4

            # Import (started on the second process, run on a worker).
            started = requests.post(f"{bases[1]}/api/v1/uploads/{up['id']}/import", json={"name": "Orders"},
                                    headers=auth, timeout=10)
            assert started.status_code == 202, started.text
            job = wait_job(bases[0], auth, started.json()["job_id"])
            assert job["status"] == "done", job
            dataset = job["result"]
            assert dataset["rows"] == 12_000
            with engine.connect() as db:
                worker = db.execute(text("SELECT worker FROM jobs WHERE id = :id"),
                                    {"id": started.json()["job_id"]}).scalar()
            assert worker.startswith("celery:"), worker

            # Profile: asked of one process, read from the other when ready.
            requests.get(f"{bases[0]}/api/v1/datasets/{dataset['id']}/profile", headers=auth, timeout=10)
            deadline = time.time() + 120
            while time.time() < deadline:
                profile = requests.get(f"{bases[1]}/api/v1/datasets/{dataset['id']}/profile", headers=auth,
                                       timeout=10).json()
                if profile["status"] != "running":
                    break
                time.sleep(0.2)
            assert profile["status"] == "ready", profile
            assert {c["name"] for c in profile["columns"]} >= {"order_id", "amount", "city"}

            # A generated dashboard, its widgets drawn by both processes (the second reads
            # the first one's results from the shared cache).
            made = requests.post(f"{bases[1]}/api/v1/datasets/{dataset['id']}/dashboard", json={}, headers=auth,
                                 timeout=60)
            assert made.status_code == 201, made.text
            board = made.json()
            widgets = [w["id"] for w in board["widgets"]][:3]
            assert widgets
            drawn = [requests.post(f"{bases[0]}/api/v1/dashboards/{board['id']}/widgets/{w}/render", json={},
                                   headers=auth, timeout=60) for w in widgets]
            assert [d.status_code for d in drawn] == [200] * len(widgets), [d.text[:300] for d in drawn]
            again = [requests.post(f"{bases[1]}/api/v1/dashboards/{board['id']}/widgets/{w}/render", json={},
                                   headers=auth, timeout=60).json() for w in widgets]
            assert again == [d.json() for d in drawn]
            assert redis.Redis.from_url(REDIS_URL).keys("datainsight:result:*")  # the shared cache

            # A PDF, rendered on a worker, downloaded from the other web process.
            export = requests.post(f"{bases[0]}/api/v1/dashboards/{board['id']}/export/jobs",
                                   json={"format": "pdf"}, headers=auth, timeout=10)
            assert export.status_code == 201, export.text
            job = wait_job(bases[1], auth, export.json()["job_id"], 180)
            assert job["status"] == "done", job
            pdf = requests.get(f"{bases[1]}/api/v1/reports/{export.json()['job_id']}/file", headers=auth, timeout=30)
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and len(pdf.content) > 5000

            # A schedule due now: both schedulers (1 s rounds) race for it; one mail.
            schedule = requests.post(f"{bases[0]}/api/v1/dashboards/{board['id']}/schedules", json={
                "name": "Daily orders", "frequency": "daily", "time": "06:00", "timezone": "UTC",
                "recipients": ["ops@example.com"], "format": "pdf"}, headers=auth, timeout=10)
            assert schedule.status_code == 201, schedule.text
            due = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
            with engine.begin() as db:
                db.execute(text("UPDATE schedules SET next_run_at = :due WHERE id = :id"),
                           {"due": due, "id": schedule.json()["id"]})
            deadline = time.time() + 120
            while time.time() < deadline and not smtp.inbox.messages:
                time.sleep(0.2)
            time.sleep(5)  # five more rounds of each scheduler: nothing more may go out
            assert len(smtp.inbox.messages) == 1, [m["message"]["Subject"] for m in smtp.inbox.messages]
            assert smtp.inbox.messages[0]["to"] == ["ops@example.com"]
            with engine.connect() as db:
                runs = db.execute(text("SELECT status FROM schedule_runs WHERE schedule_id = :id"),
                                  {"id": schedule.json()["id"]}).scalars().all()
                stuck = db.execute(text("SELECT kind, status FROM jobs WHERE status IN ('queued', 'running')")).all()
            assert len(runs) == 1, runs
            assert stuck == [], stuck
        finally:
            engine.dispose()
            for process in processes:
                if process.poll() is None:
                    kill_hard(process)
