"""The analysis framework itself: the KINDS registry, the cache by dataset version, progress
and cancellation through a real job, and the checks every request goes through."""
from __future__ import annotations

import json
import time

import pandas as pd
import pytest

from errors import InvalidSpec, NotFound
from storage import analyses
from storage.jobs import JobCancelled
from tests.conftest import PASSWORD


def wait(storage, owner, job_id, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = storage.jobs.get(owner, job_id)
        if job["status"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.05)
    raise AssertionError("the job did not finish")


def test_results_are_cached_per_dataset_version(storage, owner, make_dataset, monkeypatch):
    dataset = make_dataset(pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 10.0, 11.0, 12.0, 13.0]}), "cached")
    calls = []
    real = analyses.KINDS["clustering"]
    monkeypatch.setitem(analyses.KINDS, "clustering", lambda *args: calls.append(1) or real(*args))
    params = {"dataset_id": dataset.id, "features": ["a"], "k": 2}
    first = storage.analyses.run(owner, "clustering", params)
    # Same question, keys in another order: answered from the cache.
    second = storage.analyses.run(owner, "clustering", {"k": 2, "features": ["a"], "dataset_id": str(dataset.id)})
    assert len(calls) == 1 and second == first and first["version"] == 1
    cached = list(storage.analyses.cache_dir.glob(f"{dataset.id}-1-*.json"))
    assert len(cached) == 1 and json.loads(cached[0].read_text())["k"] == 2
    storage.analyses.save_cluster_labels(owner, params)  # a new version of the dataset
    third = storage.analyses.run(owner, "clustering", params)
    assert len(calls) == 2 and third["version"] == 2
    # The cache answers only after the access check.
    stranger = storage.users.create_user(owner, "bob@example.com", PASSWORD, "Bob").principal()
    with pytest.raises(NotFound):
        storage.analyses.run(stranger, "clustering", params)


def test_progress_reaches_the_job_and_cancel_stops_it(storage, owner, make_dataset, monkeypatch):
    dataset = make_dataset(pd.DataFrame({"a": range(10)}), "slow")
    seen = []

    def slow(con, source_sql, schema, params, progress):
        assert con.execute(f"SELECT count(*) FROM {source_sql}").fetchone()[0] == 10
        assert [c["name"] for c in schema] == ["a"] and params["dataset_id"] == dataset.id
        for step in range(400):
            progress(step / 400, f"step {step}")  # raises JobCancelled once cancelled
            seen.append(step)
            time.sleep(0.05)
        return {"finished": True}

    monkeypatch.setitem(analyses.KINDS, "slow", slow)
    job_id = storage.analyses.start(owner, "slow", {"dataset_id": dataset.id})
    deadline = time.monotonic() + 10
    while storage.jobs.get(owner, job_id)["progress"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    running = storage.jobs.get(owner, job_id)
    assert running["status"] == "running" and 0 < running["progress"] < 1 and running["message"].startswith("step")
    storage.jobs.cancel(owner, job_id)
    job = wait(storage, owner, job_id)
    assert job["status"] == "cancelled" and len(seen) < 400
    assert not list(storage.analyses.cache_dir.glob(f"{dataset.id}-*.json"))  # nothing half-done cached


def test_a_finished_job_holds_the_result(storage, owner, mall):
    job_id = storage.analyses.start(owner, "correlation", {"dataset_id": mall.id, "columns": ["Age", "CustomerID"]})
    job = wait(storage, owner, job_id)
    assert job["status"] == "done" and job["kind"] == "analyze:correlation"
    assert job["result"]["columns"] == ["Age", "CustomerID"] and job["result"]["dataset_id"] == mall.id


def test_a_reporter_that_says_cancelled_stops_a_run(storage, owner, mall):
    class Cancelled:
        def __call__(self, progress, message=None):
            pass

        def check(self):
            raise JobCancelled()

    with pytest.raises(JobCancelled):
        storage.analyses.run(owner, "stats", {"dataset_id": mall.id}, reporter=Cancelled())


@pytest.mark.parametrize("kind,params,message", [
    ("astrology", {"dataset_id": 1}, "Unknown analysis 'astrology'; choose one of"),
    ("stats", {}, "Choose a dataset: the field 'dataset_id' is required"),
    ("stats", [], "must be a JSON object"),
])
def test_requests_are_checked_first(storage, owner, mall, kind, params, message):
    with pytest.raises(InvalidSpec, match=message):
        storage.analyses.run(owner, kind, params)
    with pytest.raises(InvalidSpec, match=message):
        storage.analyses.start(owner, kind, params)


def test_unknown_dataset_is_not_found(storage, owner):
    with pytest.raises(NotFound):
        storage.analyses.run(owner, "stats", {"dataset_id": 9999})


def test_results_are_plain_json():
    import numpy as np

    value = analyses.to_json({"a": np.float64("nan"), "b": np.arange(3), "c": (np.int64(2), np.bool_(True)),
                              "d": float("inf"), "e": pd.Timestamp("2024-01-02")})
    assert value == {"a": None, "b": [0, 1, 2], "c": [2, True], "d": None, "e": "2024-01-02T00:00:00"}


def test_a_reused_dataset_id_never_gets_another_datasets_cached_result(storage, owner, make_dataset):
    first = make_dataset(pd.DataFrame({"v": [1.0, 2.0, 3.0]}), "first")
    assert storage.analyses.run(owner, "stats", {"dataset_id": first.id, "columns": ["v"]})["rows"][0]["mean"] == 2.0
    storage.datasets.delete(owner, first.id)
    second = make_dataset(pd.DataFrame({"v": [10.0, 20.0, 30.0]}), "second")
    result = storage.analyses.run(owner, "stats", {"dataset_id": second.id, "columns": ["v"]})
    if storage.engine.dialect.name == "sqlite":
        assert second.id == first.id  # SQLite hands the id out again: the cache must not care
    assert result["rows"][0]["mean"] == 20.0


def test_saving_labels_runs_as_a_job(storage, owner, make_dataset):
    dataset = make_dataset(pd.DataFrame({"a": [1.0, 1.1, 0.9, 5.0, 5.1, 4.9]}), "tiny")
    job_id = storage.analyses.start_save_labels(owner, {"dataset_id": dataset.id, "features": ["a"], "k": 2}, "group")
    job = wait(storage, owner, job_id)
    assert job["status"] == "done" and job["kind"] == "derive"
    assert job["result"] == {"dataset_id": dataset.id, "name": "tiny", "version": 2, "rows": 6, "column": "group"}
    rows = storage.datasets.rows(owner, dataset.id, limit=10)
    labels = [r[1] for r in rows[1]]
    assert rows[0] == ["a", "group"] and labels[0] == labels[1] == labels[2] != labels[3] == labels[4] == labels[5]
