"""Background jobs by name (storage/job_kinds.py): a thread pool in each process, or Celery
workers with DATAINSIGHT_REDIS_URL; status and progress are kept in
the database so that any worker (and the UI and the API alike) can read them."""
from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.engine import Engine

from storage.database import as_utc, utcnow
from storage.errors import DataInsightError, NotFound, Unavailable
from storage.metrics import metrics
from storage.principal import Principal
from storage.tables import jobs

log = logging.getLogger(__name__)

# A running job writes progress at least this often; one silent for longer was cut off
# by a restart or a crash, and reads as failed.
STALE_AFTER = timedelta(seconds=90)
HEARTBEAT_SECONDS = 20
# A job waiting in Redis for a Celery worker writes nothing until one takes it: a long
# queue is not a crash, so only a wait this long reads as lost (a flushed Redis).
QUEUED_STALE_AFTER = timedelta(hours=6)
# The jobs table's worker field of a job sent to Celery: "celery:queued" until a worker
# takes it, then "celery:<host>:<pid>". A web process starting (fail_orphans) leaves
# these alone: the queue, not this host's process table, says whether they live.
CELERY_PREFIX = "celery:"
# A request that queues a job waits this long at most for Redis (a blip passes, an outage
# answers 503 within about two seconds instead of holding the request).
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1.0}
QUEUE_DOWN = "The job queue (Redis) does not answer, so the job could not start; try again in a moment"
INTERRUPTED = "The job was interrupted (its server or worker stopped); start it again"


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def temp_owner() -> str:
    """The first part of a temp file's name: ``<pid>@<host>``. On a data dir shared by
    several machines, start-up removes the leftovers of this host's dead processes only: a
    pid means nothing on another host (DatasetService.recover, temp_owner_gone)."""
    host = "".join(c if c.isalnum() or c in "._" else "_" for c in socket.gethostname())[:60]
    return f"{os.getpid()}@{host}"


def temp_owner_gone(name: str) -> bool:
    """Whether the temp file ``name`` (see temp_owner) belongs to a process of this host
    that no longer runs. A name of another host, or not made by temp_owner, is not ours to
    judge (its age decides)."""
    pid, _, host = name.split("-", 1)[0].partition("@")
    return pid.isdigit() and host == temp_owner().partition("@")[2] and not pid_alive(int(pid))


def looks_interrupted(status: str, worker: str, updated_at) -> bool:
    """Whether a queued or running job has gone silent for longer than it may: a running
    job's heartbeat writes every HEARTBEAT_SECONDS; a job queued in Redis may wait long."""
    if status == "running":
        return as_utc(updated_at) < utcnow() - STALE_AFTER
    if status == "queued":
        bound = QUEUED_STALE_AFTER if (worker or "").startswith(CELERY_PREFIX) else STALE_AFTER
        return as_utc(updated_at) < utcnow() - bound
    return False


def _local_and_dead(worker: str) -> bool:
    """A worker field naming a process of this host that no longer runs."""
    host, _, pid = (worker or "").removeprefix(CELERY_PREFIX).rpartition(":")
    return host == socket.gethostname() and pid.isdigit() and not pid_alive(int(pid))


def pid_alive(pid: int) -> bool:
    """Whether a process of this host still runs. A killed process whose parent died
    too may linger as a zombie until something reaps it; that counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


class JobCancelled(Exception):
    pass


class Reporter:
    """Handed to a job function: report(progress, message) and cancelled()."""

    def __init__(self, engine: Engine, job_id: str):
        self.engine = engine
        self.job_id = job_id
        self._last_write = 0.0
        self._lock = threading.Lock()

    def __call__(self, progress: float, message: str | None = None, force: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            if not force and now - self._last_write < 0.3:
                return
            self._last_write = now
        values = {"progress": max(0.0, min(float(progress), 1.0)), "updated_at": utcnow()}
        if message is not None:
            values["message"] = message
        with self.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == self.job_id).values(**values))

    def checkpoint(self, state: dict) -> None:
        """Note what a job has committed so far (JSON), for a run of it delivered again after
        its worker died: kept in the job's result until the job ends, never shown as one."""
        with self.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == self.job_id, jobs.c.status == "running").values(
                result_json=json.dumps({"checkpoint": state}), updated_at=utcnow()))

    def checkpointed(self) -> dict:
        """What an earlier run of this job noted with checkpoint(), or {}."""
        with self.engine.connect() as conn:
            raw = conn.execute(select(jobs.c.result_json).where(jobs.c.id == self.job_id)).scalar()
        try:
            found = json.loads(raw) if raw else None
        except ValueError:
            return {}
        return found["checkpoint"] if isinstance(found, dict) and isinstance(found.get("checkpoint"), dict) else {}

    def cancelled(self) -> bool:
        with self.engine.connect() as conn:
            return bool(conn.execute(select(jobs.c.cancel_requested).where(jobs.c.id == self.job_id)).scalar())

    def check(self) -> None:
        if self.cancelled():
            raise JobCancelled()


class JobService:
    def __init__(self, engine: Engine, max_workers: int = 2, redis_url: str | None = None):
        self.engine = engine
        self.pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="datainsight-job")
        self.storage = None  # set by Storage: a named job kind runs against it
        self.redis_url = redis_url
        self._celery = None

    def start(self, principal: Principal, kind: str, workspace_id: int | None, params: dict,
              message: str = "Queued", job_id: str | None = None, task: str | None = None) -> str:
        """Queue a job: ``params`` (a JSON dict) runs the job kind ``task`` (default:
        ``kind``) of storage/job_kinds.py, in this process's pool or, with Redis
        configured, on a Celery worker. There is no other way in: a closure could run only
        in the process that made it."""
        if not isinstance(params, dict):
            raise TypeError("a job's params are a JSON dict naming what it works on")
        from storage.job_kinds import KINDS, principal_params
        task = task or kind
        if task not in KINDS:
            raise ValueError(f"unknown job kind {task!r}")
        payload = {"principal": principal_params(principal), "params": params}
        json.dumps(payload)  # refuse what a worker could not receive, here and now
        job_id = job_id or str(uuid.uuid4())
        now = utcnow()
        queued_by = f"{CELERY_PREFIX}queued" if self.redis_url else this_worker()
        with self.engine.begin() as conn:
            conn.execute(insert(jobs).values(
                id=job_id, kind=kind, user_id=principal.user_id, workspace_id=workspace_id, status="queued",
                progress=0.0, message=message, result_json=None, cancel_requested=False, worker=queued_by,
                created_at=now, updated_at=now,
            ))
        if self.redis_url:
            from storage.celery_jobs import celery_app
            try:
                celery_app(self.redis_url).send_task("datainsight.run_job", args=[job_id, kind, task, payload],
                                                     retry_policy=PUBLISH_RETRY)
            except Exception:  # kombu's OperationalError, redis' ConnectionError: Redis is down
                # The row must not wait six hours for a message that was never sent.
                log.exception("job %s could not be queued", job_id)
                self._finish(job_id, status="failed", message=QUEUE_DOWN)
                raise Unavailable(QUEUE_DOWN) from None
        else:
            self.pool.submit(self.run_named, job_id, kind, task, payload)
        return job_id

    def run_named(self, job_id: str, kind: str, task: str, payload: dict, reraise: bool = False,
                  celery: bool = False) -> None:
        """Run a named job kind (in the pool, or in a Celery worker). A job delivered again
        (its worker died, acknowledge-late) starts over from a clean status, unless it has
        ended (a stale one was marked failed by fail_stale: start it again by hand) or
        another live process runs it still (Redis hands a message out again after its
        visibility timeout even when the first worker is alive)."""
        from storage.job_kinds import run_kind
        row = self._row(job_id)
        if row is None:
            log.warning("job %s is not in the jobs table; dropped", job_id)
            return
        if row.status in ("done", "failed", "cancelled"):
            log.info("job %s was delivered again but has ended (%s); dropped", job_id, row.status)
            return
        if row.cancel_requested:
            self._finish(job_id, status="cancelled", message="Cancelled")
            return
        me = (CELERY_PREFIX if celery else "") + this_worker()
        if not self._claim(row, me):
            log.info("job %s was delivered again while %s runs it; dropped", job_id, row.worker)
            return
        self._run(job_id, lambda reporter: run_kind(self.storage, task, payload, reporter), reraise=reraise,
                  kind=kind)

    def _claim(self, row, me: str) -> bool:
        """Take the job with a conditional update (two deliveries race for it): a queued
        job, or a running one whose process is gone (dead on this host, or silent past
        STALE_AFTER). The progress starts over; a checkpoint the run that died wrote
        (Reporter.checkpoint) stays for the kind to read, so that it does not redo a step
        whose effect is already committed."""
        running_but_gone = row.status == "running" and (
            looks_interrupted(row.status, row.worker, row.updated_at) or _local_and_dead(row.worker))
        if row.status != "queued" and not running_but_gone:
            return False
        with self.engine.begin() as conn:
            won = conn.execute(update(jobs).where(
                jobs.c.id == row.id, jobs.c.status == row.status, jobs.c.worker == row.worker,
            ).values(status="running", progress=0.0, message="Working", worker=me, updated_at=utcnow())).rowcount
        return won == 1

    def run_inline(self, principal: Principal, kind: str, workspace_id: int | None, fn) -> dict:
        """Run a job in this thread (the API's synchronous endpoints), recorded the same way."""
        job_id = str(uuid.uuid4())
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(insert(jobs).values(
                id=job_id, kind=kind, user_id=principal.user_id, workspace_id=workspace_id, status="queued",
                progress=0.0, message="Starting", result_json=None, cancel_requested=False, worker=this_worker(),
                created_at=now, updated_at=now,
            ))
        self._run(job_id, fn, reraise=True, kind=kind)
        return self._row_dict(self._row(job_id))

    def _finish(self, job_id: str, **values) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == job_id).values(updated_at=utcnow(), **values))

    def _run(self, job_id: str, fn, reraise: bool = False, kind: str = "job") -> None:
        reporter = Reporter(self.engine, job_id)
        self._finish(job_id, status="running", message="Working")
        stop = threading.Event()
        threading.Thread(target=self._heartbeat, args=(job_id, stop), daemon=True).start()
        started, state = time.monotonic(), "failed"
        try:
            result = fn(reporter)
        except JobCancelled:
            state = "cancelled"
            self._finish(job_id, status="cancelled", message="Cancelled")
        except DataInsightError as exc:
            self._finish(job_id, status="failed", message=exc.message,
                         result_json=json.dumps({"error": {"code": exc.code, "message": exc.message}}))
            if reraise:
                raise
        except Exception:
            log.exception("job %s failed", job_id)
            self._finish(job_id, status="failed", message="Something went wrong on the server; the log has the details")
            if reraise:
                raise
        else:
            state = "done"
            self._finish(job_id, status="done", progress=1.0, message="Done", result_json=json.dumps(result))
        finally:
            stop.set()
            metrics().jobs.labels(kind, state).inc()
            metrics().job_duration.labels(kind).observe(time.monotonic() - started)

    def _heartbeat(self, job_id: str, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            with self.engine.begin() as conn:
                conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == "running")
                             .values(updated_at=utcnow()))

    def _row(self, job_id: str):
        with self.engine.connect() as conn:
            return conn.execute(select(jobs).where(jobs.c.id == str(job_id))).first()

    @staticmethod
    def _row_dict(row) -> dict:
        status = row.status
        message = row.message
        if looks_interrupted(status, row.worker, row.updated_at):
            status, message = "failed", INTERRUPTED
        result = json.loads(row.result_json) if row.result_json else None
        if isinstance(result, dict) and "checkpoint" in result:  # a running job's own notes, not a result
            result = None
        return {
            "id": row.id,
            "kind": row.kind,
            "status": status,
            "progress": row.progress if status != "done" else 1.0,
            "message": message,
            "result": result,
            "created_at": as_utc(row.created_at).isoformat(),
            "updated_at": as_utc(row.updated_at).isoformat(),
        }

    def get(self, principal: Principal, job_id) -> dict:
        row = self._row(job_id)
        if row is None or row.user_id != principal.user_id:
            raise NotFound(f"There is no job {job_id} of yours")
        return self._row_dict(row)

    def cancel(self, principal: Principal, job_id) -> dict:
        principal.require_write("cancel jobs")
        self.get(principal, job_id)
        self.request_cancel(job_id)
        return self.get(principal, job_id)

    def request_cancel(self, job_id) -> None:
        """Ask a job to stop, for a caller that has checked the right to (a job started
        on behalf of a dataset, such as its profile, is stopped by the dataset's editors)."""
        with self.engine.begin() as conn:
            conn.execute(update(jobs).where(jobs.c.id == str(job_id)).values(cancel_requested=True))

    def fail_orphans(self) -> int:
        """At start-up: jobs of this host's pool whose process no longer runs were cut off
        by a crash or a kill; say so instead of leaving them 'running'. Jobs sent to Celery
        are left alone: a worker of this host that died had its task put back in the queue
        (reject on worker lost) and another worker takes it over; fail_stale ends those that
        nobody takes."""
        with self.engine.begin() as conn:
            rows = conn.execute(select(jobs.c.id, jobs.c.worker).where(jobs.c.status.in_(("queued", "running")))).all()
            orphans = [job_id for job_id, worker in rows
                       if not worker.startswith(CELERY_PREFIX) and _local_and_dead(worker)]
            if orphans:
                conn.execute(update(jobs).where(jobs.c.id.in_(orphans), jobs.c.status.in_(("queued", "running")))
                             .values(status="failed", message=INTERRUPTED, updated_at=utcnow()))
        return len(orphans)

    def fail_stale(self) -> int:
        """Any process, any host (at start-up and each scheduler round): a running job whose
        heartbeat stopped more than STALE_AFTER ago lost its process, and a job queued in
        Redis past QUEUED_STALE_AFTER its message; mark them failed so that they read the
        same from every process and can be started again. The update is conditional on the
        heartbeat still being old, so a job a worker took over meanwhile stays running. A
        late redelivery of a job failed here is dropped by run_named."""
        now = utcnow()
        with self.engine.begin() as conn:
            failed = conn.execute(update(jobs).where(or_(
                and_(jobs.c.status == "running", jobs.c.updated_at < now - STALE_AFTER),
                and_(jobs.c.status == "queued", jobs.c.worker.startswith(CELERY_PREFIX),
                     jobs.c.updated_at < now - QUEUED_STALE_AFTER),
            )).values(status="failed", message=INTERRUPTED, updated_at=now)).rowcount
        if failed:
            log.warning("%s job(s) lost their worker and were marked failed", failed)
        return failed

    def tick(self) -> list:
        """The scheduler's round (storage.schedules.Scheduler)."""
        self.fail_stale()
        return []

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
