"""A gzip bomb and quotas through the API (issue 18, point 8): the bomb is refused with a
message naming the limit, the data dir never grows past it, and nothing half made is
left; a person over a quota is told which one."""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from settings import Settings
from tests import bombs
from tests.conftest import PASSWORD, bearer

MB = 1024 * 1024


@pytest.fixture
def limited_app(tmp_path):
    from app import create_app

    settings = Settings.from_env({
        "DATAINSIGHT_DATA_DIR": str(tmp_path / "data"), "DATAINSIGHT_MAX_UPLOAD_MB": "16",
        "DATAINSIGHT_MAX_EXPANDED_MB": "32", "DATAINSIGHT_USER_QUOTA_MB": "1",
        "DATAINSIGHT_UPLOADS_IN_PROGRESS_MB": "20",
    })
    dash_app = create_app(settings)
    dash_app.server.config["TESTING"] = True
    yield dash_app
    dash_app.server.extensions["datainsight"]["storage"].dispose()


@pytest.fixture
def token(limited_app):
    store = limited_app.server.extensions["datainsight"]["storage"]
    admin = store.users.create_first_admin("ada@example.com", PASSWORD, "Ada Admin")
    return store.tokens.create(admin.principal(), "tests")[1]


def disk_bytes(directory: Path) -> int:
    """Bytes the files under ``directory`` take on disk (du, not their apparent size)."""
    return sum(p.stat().st_blocks * 512 for p in directory.rglob("*") if p.is_file())


def test_gzip_bomb_is_refused_before_the_disk_fills(limited_app, token, tmp_path):
    bomb = bombs.gzip_csv_bomb(tmp_path / "bomb.csv.gz", expanded_mb=1024)
    assert bomb.stat().st_size < 3 * MB
    data_dir = limited_app.server.extensions["datainsight"]["settings"].data_dir
    before = disk_bytes(data_dir)
    peak, done = [0], threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], disk_bytes(data_dir) - before)
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    client = limited_app.server.test_client()
    try:
        with open(bomb, "rb") as handle:
            response = client.post("/api/v1/datasets", data={"file": (handle, "bomb.csv.gz")}, headers=bearer(token))
    finally:
        done.set()
        watcher.join()
    assert response.status_code == 422, response.get_json()
    message = response.get_json()["error"]["message"]
    assert message.startswith("The gzip file bomb.csv.gz expands to more than 32 MB when decompressed"), message
    assert "DATAINSIGHT_MAX_EXPANDED_MB" in message
    # The data dir grew by the upload and at most the 32 MB limit, never by the gigabyte.
    assert peak[0] < 32 * MB + bomb.stat().st_size + 2 * MB, peak[0] / MB
    print(f"data dir grew by at most {peak[0] / MB:.1f} MB while refusing a {bomb.stat().st_size / MB:.1f} MB "
          "gzip of 1 GB")
    assert client.get("/api/v1/datasets", headers=bearer(token)).get_json()["datasets"] == []
    leftovers = [p for sub in ("tmp", "uploads", "datasets") for p in (data_dir / sub).rglob("*") if p.is_file()]
    assert leftovers == []


def test_chunked_gzip_bomb_fails_its_job_with_the_message(limited_app, token, tmp_path):
    bomb = bombs.gzip_csv_bomb(tmp_path / "bomb.csv.gz", expanded_mb=256)
    data = bomb.read_bytes()
    client = limited_app.server.test_client()
    up = client.post("/api/v1/uploads", json={"filename": "bomb.csv.gz", "size": len(data)},
                     headers=bearer(token)).get_json()
    assert client.put(f"/api/v1/uploads/{up['id']}?offset=0", data=data, headers=bearer(token)).status_code == 200
    started = client.post(f"/api/v1/uploads/{up['id']}/import", json={}, headers=bearer(token))
    assert started.status_code == 202
    for _ in range(400):
        job = client.get(started.get_json()["status_url"], headers=bearer(token)).get_json()
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    assert job["status"] == "failed" and "DATAINSIGHT_MAX_EXPANDED_MB" in job["message"], job
    data_dir = limited_app.server.extensions["datainsight"]["settings"].data_dir
    assert [p for p in (data_dir / "tmp").rglob("*") if p.is_file()] == []


def test_quota_refusals_through_the_api(limited_app, token):
    client = limited_app.server.test_client()
    first = client.post("/api/v1/uploads", json={"filename": "a.csv", "size": 12 * MB}, headers=bearer(token))
    assert first.status_code == 201
    second = client.post("/api/v1/uploads", json={"filename": "b.csv", "size": 12 * MB}, headers=bearer(token))
    assert second.status_code == 413, second.get_json()
    error = second.get_json()["error"]
    assert error["code"] == "quota_exceeded" and "DATAINSIGHT_UPLOADS_IN_PROGRESS_MB" in error["message"]
    assert client.delete(f"/api/v1/uploads/{first.get_json()['id']}", headers=bearer(token)).status_code == 204
    assert client.post("/api/v1/uploads", json={"filename": "b.csv", "size": 12 * MB},
                       headers=bearer(token)).status_code == 201
    # A dataset file larger than the 1 MB stored quota is refused and leaves nothing.
    rows = "".join(f"{i},{os.urandom(24).hex()}\n" for i in range(40_000))
    import io
    response = client.post("/api/v1/datasets", data={"file": (io.BytesIO(("id,text\n" + rows).encode()), "big.csv")},
                           headers=bearer(token))
    assert response.status_code == 413 and "DATAINSIGHT_USER_QUOTA_MB" in response.get_json()["error"]["message"]
    assert client.get("/api/v1/datasets", headers=bearer(token)).get_json()["datasets"] == []
