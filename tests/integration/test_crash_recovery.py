"""Kill the server with SIGKILL in the middle of an import (issue 18 keeps this): the
restarted server marks the job interrupted, no dataset or metadata row is left half
made, every temp file of the dead import is removed (the decompressed copy of a .gz
too), and the same upload imports again."""
import gzip
import shutil
import time
from pathlib import Path

import duckdb
import pytest
import requests
from sqlalchemy import create_engine, text

from tests.integration.server import api_token, free_port, kill_hard, server_env, start_server


def make_csv(path: Path, rows: int, compress: bool) -> Path:
    plain = path.with_suffix(".plain.csv") if compress else path
    duckdb.sql(
        "COPY (SELECT range AS id, 'customer ' || (range % 9973) AS name, (range * 7919) % 100000 / 100.0 AS amount, "
        "DATE '2020-01-01' + INTERVAL (range % 1500) DAY AS day FROM range(?)) "
        f"TO '{plain}' (HEADER)", params=[rows]
    )
    if compress:
        with open(plain, "rb") as source, gzip.open(path, "wb", compresslevel=1) as target:
            shutil.copyfileobj(source, target)
        plain.unlink()
    return path


def files_in(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.mark.parametrize("filename,rows", [("big.csv", 4_000_000), ("big.csv.gz", 2_000_000)])
def test_kill_during_ingest_leaves_nothing_half_made(tmp_path, filename, rows):
    data_file = make_csv(tmp_path / filename, rows, filename.endswith(".gz"))
    data_dir, log, port = tmp_path / "data", tmp_path / "server.log", free_port()
    auth = {"Authorization": f"Bearer {api_token(data_dir)}"}
    server = start_server(data_dir, port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        size = data_file.stat().st_size
        up = requests.post(f"{base}/api/v1/uploads", json={"filename": filename, "size": size}, headers=auth).json()
        with open(data_file, "rb") as handle:
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
        left_by_the_kill = files_in(data_dir / "tmp")
        kill_hard(server)

        engine = create_engine(server_env(data_dir)["DATAINSIGHT_DATABASE_URL"])  # SQLite or PostgreSQL
        with engine.connect() as db:
            assert db.execute(text("SELECT count(*) FROM datasets")).scalar_one() == 0
            assert db.execute(text("SELECT count(*) FROM dataset_versions")).scalar_one() == 0
        engine.dispose()
        assert files_in(data_dir / "datasets") == []

        server = start_server(data_dir, port, log)  # starts cleanly on the same data dir
        # Every temp file of the dead import is gone: the Parquet being written and, for
        # a .gz, the decompressed copy it was reading.
        assert len(left_by_the_kill) >= (2 if filename.endswith(".gz") else 1), left_by_the_kill
        assert files_in(data_dir / "tmp") == []
        assert requests.get(f"{base}/api/v1/datasets", headers=auth).json()["datasets"] == []
        status = requests.get(f"{base}/api/v1/jobs/{job['job_id']}", headers=auth).json()
        assert status["status"] == "failed" and "interrupted" in status["message"], status
        # The upload is still there, whole: the person can import it again, and it works.
        assert requests.get(f"{base}/api/v1/uploads/{up['id']}", headers=auth).json()["status"] == "complete"
        again = requests.post(f"{base}/api/v1/uploads/{up['id']}/import", json={}, headers=auth).json()
        for _ in range(900):
            status = requests.get(f"{base}/api/v1/jobs/{again['job_id']}", headers=auth).json()
            if status["status"] != "running" and status["status"] != "queued":
                break
            time.sleep(0.1)
        assert status["status"] == "done", status
        assert status["result"]["rows"] == rows
        assert files_in(data_dir / "tmp") == []
        assert len(files_in(data_dir / "datasets")) == 1
    finally:
        if server.poll() is None:
            kill_hard(server)
