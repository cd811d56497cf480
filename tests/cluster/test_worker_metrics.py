"""A job worker's own GET /metrics (``python app.py worker --metrics-port``): after an
import and a profile ran in its Celery children, a scrape of the worker counts them, under
the web's metric names, behind the metrics token; the worker's metrics folder goes when it
stops. Needs a Redis server: run under scripts/with-redis.sh."""
from __future__ import annotations

import os
import signal
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.cluster.test_celery_jobs import REDIS_URL, make_csv, start_worker, upload, wait_profile
from tests.integration.server import api_token, free_port, kill_hard, start_server

pytestmark = pytest.mark.skipif(
    not REDIS_URL, reason="needs a Redis server: run under scripts/with-redis.sh (sets DATAINSIGHT_TEST_REDIS_URL)")

TOKEN = "worker-scrape-token"


def scrape(url: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of one scrape with the token."""
    answer = requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def wait_listening(url: str, worker, log) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            requests.get(url, timeout=5)
            return
        except requests.ConnectionError:
            assert worker.poll() is None, "the worker ended:\n" + log.read_text()[-3000:]
            time.sleep(0.2)
    raise AssertionError("the worker's metrics never listened:\n" + log.read_text()[-3000:])


def test_a_worker_serves_the_metrics_of_the_jobs_its_children_ran(tmp_path):
    data_dir, port, metrics_port = tmp_path / "data", free_port(), free_port()
    auth = {"Authorization": f"Bearer {api_token(data_dir)}"}
    folder = tmp_path / "metrics"  # set here, to see the worker's subfolder filled and removed
    stale = folder / "worker-999999999"  # of a worker that is gone: removed at start
    stale.mkdir(parents=True)
    (stale / "counter_1.db").write_bytes(b"old")
    web = start_server(data_dir, port, tmp_path / "web.log", redis_url=REDIS_URL)
    log = tmp_path / "worker.log"
    worker = start_worker(data_dir, log, "--metrics-port", str(metrics_port), "--concurrency", "2",
                          metrics_token=TOKEN, env={"PROMETHEUS_MULTIPROC_DIR": str(folder)})
    base, url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}/metrics"
    try:
        wait_listening(url, worker, log)
        refused = requests.get(url, timeout=10)
        assert refused.status_code == 401, refused.text
        assert "DATAINSIGHT_METRICS_TOKEN" in refused.json()["error"]["message"]
        assert requests.get(url, headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401
        assert value(scrape(url), "datainsight_jobs_total", kind="profile", state="done") == 0

        dataset = upload(base, auth, make_csv(tmp_path / "small.csv", 1000))  # the import runs on the worker
        requests.get(f"{base}/api/v1/datasets/{dataset}/profile", headers=auth, timeout=10)
        assert wait_profile(base, auth, dataset, 120)["status"] == "ready"

        samples = scrape(url)
        assert value(samples, "datainsight_jobs_total", kind="import", state="done") >= 1
        assert value(samples, "datainsight_jobs_total", kind="profile", state="done") >= 1
        assert value(samples, "datainsight_job_duration_seconds_count", kind="profile") >= 1
        assert value(samples, "datainsight_job_duration_seconds_bucket", kind="profile", le="+Inf") >= 1
        assert value(samples, "datainsight_ingested_rows_total") >= 1000  # recorded while the import ran
        assert ("datainsight_active_sessions", ()) in samples  # the database's gauges too
        assert not stale.exists()
        mine = list(folder.glob("worker-*"))
        assert [p.name for p in mine] == [f"worker-{worker.pid}"]  # its own, not the operator's folder
        assert any(mine[0].glob("*.db")), "the children wrote no metrics files"

        # Celery's warm shutdown: the worker ends and takes its metrics folder with it.
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
        assert not mine[0].exists() and folder.exists()
    finally:
        for process in (web, worker):
            if process.poll() is None:
                kill_hard(process)

