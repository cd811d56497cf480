"""Jobs by name (storage/job_kinds.py): JSON params only, known kinds only, and a job
delivered again (its worker died; Celery acknowledges late) starts over from a clean status
or is dropped when it has ended."""
import json
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from storage.database import utcnow
from storage.job_kinds import KINDS, job_kind
from storage.jobs import QUEUED_STALE_AFTER, STALE_AFTER, Reporter
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
    with storage.engine.begin() as conn:  # as a worker killed half-way on another host leaves it
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(
            status="running", progress=0.6, message="Halfway", result_json=json.dumps({"partial": True}),
            worker="celery:elsewhere:1", updated_at=utcnow() - STALE_AFTER - timedelta(seconds=1)))
    storage.jobs.run_named(job_id, echo_kind, echo_kind, payload)
    job = storage.jobs.get(principal, job_id)
    assert job["status"] == "done" and job["result"]["echo"] == 2


def set_row(storage, job_id, **values):
    with storage.engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_delivery_while_a_live_worker_runs_the_job_is_dropped(storage, echo_kind):
    """Redis hands a message out again after its visibility timeout even when the first
    worker still runs it: the second delivery must not run the job twice."""
    principal = principal_of(storage)
    job_id = storage.jobs.start(principal, echo_kind, None, {"value": 1})
    wait(storage, principal, job_id)
    set_row(storage, job_id, status="running", progress=0.4, message="Halfway", result_json=None,
            worker="celery:elsewhere:7", updated_at=utcnow())
    payload = {"principal": {"user_id": principal.user_id, "scope": "write"}, "params": {"value": 2}}
    storage.jobs.run_named(job_id, echo_kind, echo_kind, payload, celery=True)
    job = storage.jobs.get(principal, job_id)
    assert (job["status"], job["progress"], job["message"], job["result"]) == ("running", 0.4, "Halfway", None)


def test_a_job_of_a_dead_worker_process_on_this_host_is_taken_over_at_once(storage, echo_kind):
    """A prefork child killed with SIGKILL: its task is put back at once, and its heartbeat
    is still fresh; the pid says it is gone."""
    principal = principal_of(storage)
    job_id = storage.jobs.start(principal, echo_kind, None, {"value": 1})
    wait(storage, principal, job_id)
    set_row(storage, job_id, status="running", result_json=None,
            worker=f"celery:{socket.gethostname()}:{dead_pid()}", updated_at=utcnow())
    payload = {"principal": {"user_id": principal.user_id, "scope": "write"}, "params": {"value": 3}}
    storage.jobs.run_named(job_id, echo_kind, echo_kind, payload, celery=True)
    job = storage.jobs.get(principal, job_id)
    assert job["status"] == "done" and job["result"]["echo"] == 3
    with storage.engine.connect() as conn:
        worker = conn.execute(select(jobs.c.worker).where(jobs.c.id == job_id)).scalar()
    assert worker.startswith("celery:") and int(worker.rpartition(":")[2]) != 0


def test_start_up_leaves_celery_jobs_alone_and_stale_ones_are_failed_and_restartable(storage, echo_kind):
    principal = principal_of(storage)
    ids = [storage.jobs.start(principal, echo_kind, None, {"value": i}) for i in range(5)]
    for job_id in ids:
        wait(storage, principal, job_id)
    here, gone, now = socket.gethostname(), dead_pid(), utcnow()
    # 0: a Celery worker child of this host died, its task is back in the queue
    set_row(storage, ids[0], status="running", worker=f"celery:{here}:{gone}", updated_at=now)
    # 1: queued in Redis for a long while (a busy queue), by a web process that has gone
    set_row(storage, ids[1], status="queued", worker="celery:queued", updated_at=now - timedelta(hours=1))
    # 2: this host's own pool, its process gone: an orphan
    set_row(storage, ids[2], status="running", worker=f"{here}:{gone}", updated_at=now)
    # 3: a worker elsewhere whose heartbeat stopped long ago, never delivered again
    set_row(storage, ids[3], status="running", worker="celery:elsewhere:9",
            updated_at=now - STALE_AFTER - timedelta(seconds=5))
    # 4: queued in Redis beyond any sane wait (Redis was flushed)
    set_row(storage, ids[4], status="queued", worker="celery:queued",
            updated_at=now - QUEUED_STALE_AFTER - timedelta(minutes=1))

    assert storage.jobs.fail_orphans() == 1
    assert storage.jobs.fail_stale() == 2
    with storage.engine.connect() as conn:
        rows = dict(conn.execute(select(jobs.c.id, jobs.c.status).where(jobs.c.id.in_(ids))).all())
    assert [rows[i] for i in ids] == ["running", "queued", "failed", "failed", "failed"]
    for i in (0, 1):
        assert storage.jobs.get(principal, ids[i])["status"] == ("running" if i == 0 else "queued")
    failed = storage.jobs.get(principal, ids[3])
    assert failed["status"] == "failed" and "start it again" in failed["message"]

    payload = {"principal": {"user_id": principal.user_id, "scope": "write"}, "params": {"value": 9}}
    storage.jobs.run_named(ids[3], echo_kind, echo_kind, payload, celery=True)  # a late redelivery: dropped
    assert storage.jobs.get(principal, ids[3])["status"] == "failed"
    again = wait(storage, principal, storage.jobs.start(principal, echo_kind, None, {"value": 9}))
    assert again["status"] == "done" and again["result"]["echo"] == 9


def test_a_checkpoint_survives_a_redelivery_and_is_never_shown_as_the_result(storage, echo_kind):
    principal = principal_of(storage)
    job_id = storage.jobs.start(principal, echo_kind, None, {"value": 1})
    wait(storage, principal, job_id)
    set_row(storage, job_id, status="running", result_json=None, worker="elsewhere:1", updated_at=utcnow())
    reporter = Reporter(storage.engine, job_id)
    assert reporter.checkpointed() == {}
    reporter.checkpoint({"done": [4]})
    assert reporter.checkpointed() == {"done": [4]}
    job = storage.jobs.get(principal, job_id)
    assert job["status"] == "running" and job["result"] is None


def test_a_job_that_cannot_be_queued_fails_at_once_with_503(storage, echo_kind):
    """Redis down: the person is told at once, and no row waits for a message never sent."""
    from storage.errors import Unavailable
    from storage.jobs import JobService

    principal = principal_of(storage)
    jobs_down = JobService(storage.engine, redis_url="redis://127.0.0.1:1/0")
    with pytest.raises(Unavailable) as caught:
        jobs_down.start(principal, echo_kind, None, {"value": 1}, job_id="0" * 8 + "-down")
    assert caught.value.status == 503 and "Redis" in caught.value.message
    job = storage.jobs.get(principal, "0" * 8 + "-down")
    assert job["status"] == "failed" and job["message"] == caught.value.message
    jobs_down.shutdown()


def test_a_worker_that_cannot_start_a_job_marks_it_failed(storage, settings, monkeypatch, echo_kind):
    from storage.celery_jobs import _fail_unstarted

    principal = principal_of(storage)
    job_id = storage.jobs.start(principal, echo_kind, None, {"value": 1})
    wait(storage, principal, job_id)
    set_row(storage, job_id, status="queued", worker="celery:queued", result_json=None)
    monkeypatch.setenv("DATAINSIGHT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("DATAINSIGHT_DATA_DIR", str(settings.data_dir))
    _fail_unstarted(job_id)
    job = storage.jobs.get(principal, job_id)
    assert job["status"] == "failed" and job["message"].startswith("A worker could not start this job")
