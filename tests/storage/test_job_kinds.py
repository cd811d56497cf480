"""Jobs by name (storage/job_kinds.py): JSON params only, known kinds only, and a job
delivered again (its worker died; Celery acknowledges late) starts over from a clean status
or is dropped when it has ended."""
import json
import time

import pytest
from sqlalchemy import update

from storage.database import utcnow
from storage.job_kinds import KINDS, job_kind
from storage.principal import Principal
from storage.tables import jobs


def principal_of(storage) -> Principal:
    user = storage.users.create_user_unchecked("jobs@example.com", "correct horse battery", "Jo", False)
    return Principal(user_id=user.id, email=user.email, name=user.name, is_admin=False)


@pytest.fixture
def echo_kind():
    @job_kind("test_echo")
    def echo(storage, principal, params, reporter):
        reporter(0.5, "half", force=True)
        return {"echo": params["value"], "user": principal.user_id}
    yield "test_echo"
    KINDS.pop("test_echo")


def wait(storage, principal, job_id):
    for _ in range(200):
        job = storage.jobs.get(principal, job_id)
        if job["status"] not in ("queued", "running"):
            return job
        time.sleep(0.02)
    raise AssertionError(job)


def test_a_named_job_runs_with_json_params(storage, echo_kind):
    principal = principal_of(storage)
    job = wait(storage, principal, storage.jobs.start(principal, echo_kind, None, {"value": [1, "a"]}))
    assert job["status"] == "done" and job["result"] == {"echo": [1, "a"], "user": principal.user_id}


def test_unknown_kinds_and_objects_are_refused_before_a_job_exists(storage, echo_kind):
    principal = principal_of(storage)
    with pytest.raises(ValueError):
        storage.jobs.start(principal, "no_such_kind", None, {})
    with pytest.raises(TypeError):
        storage.jobs.start(principal, echo_kind, None, {"value": object()})


def test_a_job_delivered_again_starts_over_or_is_dropped_when_ended(storage, echo_kind):
    principal = principal_of(storage)
    job_id = storage.jobs.start(principal, echo_kind, None, {"value": 1})
    wait(storage, principal, job_id)
    payload = {"principal": {"user_id": principal.user_id, "scope": "write"}, "params": {"value": 2}}
    storage.jobs.run_named(job_id, echo_kind, echo_kind, payload)  # ended: dropped
    assert storage.jobs.get(principal, job_id)["result"]["echo"] == 1
    with storage.engine.begin() as conn:  # as a worker killed half-way leaves it
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(
            status="running", progress=0.6, message="Halfway", result_json=json.dumps({"partial": True}),
            worker="elsewhere:1", updated_at=utcnow()))
    storage.jobs.run_named(job_id, echo_kind, echo_kind, payload)
    job = storage.jobs.get(principal, job_id)
    assert job["status"] == "done" and job["result"]["echo"] == 2
