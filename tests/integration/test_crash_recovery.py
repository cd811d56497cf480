"""Kill the server in the middle of an ingest: no dataset or metadata row is left half
made, and the server starts cleanly afterwards."""
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DATAINSIGHT_DATA_DIR": str(data_dir), "DATAINSIGHT_PORT": str(port),
           "DATAINSIGHT_HOST": "127.0.0.1"}
    env.pop("DATAINSIGHT_DATABASE_URL", None)
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=open(log, "ab"),
                               stderr=subprocess.STDOUT, start_new_session=True)
    for _ in range(150):
        try:
            if requests.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return process
        except requests.ConnectionError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError("the server did not start:\n" + log.read_text()[-3000:])


def kill_hard(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


@pytest.fixture
def big_csv(tmp_path) -> Path:
    path = tmp_path / "big.csv"
    duckdb.sql(
        "COPY (SELECT range AS id, 'customer ' || (range % 9973) AS name, (range * 7919) % 100000 / 100.0 AS amount, "
        "DATE '2020-01-01' + INTERVAL (range % 1500) DAY AS day FROM range(4000000)) "
        f"TO '{path}' (HEADER)"
    )
    return path


def test_kill_during_ingest_leaves_nothing_half_made(tmp_path, big_csv):
    data_dir, log, port = tmp_path / "data", tmp_path / "server.log", free_port()
    env = {**os.environ, "DATAINSIGHT_DATA_DIR": str(data_dir)}
    subprocess.run([sys.executable, "app.py", "create-user", "--email", "ops@example.com", "--password", PASSWORD,
                    "--admin"], cwd=ROOT, env=env, check=True, capture_output=True)
    token = subprocess.run([sys.executable, "app.py", "create-token", "--email", "ops@example.com"], cwd=ROOT, env=env,
                           check=True, capture_output=True, text=True).stdout.strip()
    auth = {"Authorization": f"Bearer {token}"}
    server = start_server(data_dir, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        size = big_csv.stat().st_size
        up = requests.post(f"{base}/api/v1/uploads", json={"filename": "big.csv", "size": size}, headers=auth).json()
        with open(big_csv, "rb") as handle:
            offset = 0
            while offset < size:
                chunk = handle.read(up["chunk_size"])
                answer = requests.put(f"{base}/api/v1/uploads/{up['id']}?offset={offset}", data=chunk, headers=auth)
                assert answer.status_code == 200, answer.text
                offset = answer.json()["offset"]
        job = requests.post(f"{base}/api/v1/uploads/{up['id']}/import", json={}, headers=auth).json()
        # Wait until DuckDB is writing the Parquet file, then pull the plug.
        deadline = time.time() + 60
        while time.time() < deadline:
            if list((data_dir / "tmp").glob("*.parquet.tmp")):
                break
            time.sleep(0.02)
        else:
            raise AssertionError("the ingest never started writing")
        kill_hard(server)

        with sqlite3.connect(data_dir / "datainsight.db") as db:
            assert db.execute("SELECT count(*) FROM datasets").fetchone()[0] == 0
            assert db.execute("SELECT count(*) FROM dataset_versions").fetchone()[0] == 0
        assert list((data_dir / "datasets").glob("*.parquet")) == []

        server = start_server(data_dir, port, log)  # starts cleanly on the same data dir
        assert list((data_dir / "tmp").glob("*.parquet.tmp")) == []  # the dead process's leftovers are gone
        assert requests.get(f"{base}/api/v1/datasets", headers=auth).json()["datasets"] == []
        status = requests.get(f"{base}/api/v1/jobs/{job['job_id']}", headers=auth).json()
        assert status["status"] == "failed" and "interrupted" in status["message"]
        # The upload is still there: the person can import it again, and it works.
        again = requests.post(f"{base}/api/v1/uploads/{up['id']}/import", json={}, headers=auth).json()
        for _ in range(600):
            status = requests.get(f"{base}/api/v1/jobs/{again['job_id']}", headers=auth).json()
            if status["status"] != "running" and status["status"] != "queued":
                break
            time.sleep(0.1)
        assert status["status"] == "done", status
        assert status["result"]["rows"] == 4_000_000
    finally:
        if server.poll() is None:
            kill_hard(server)
