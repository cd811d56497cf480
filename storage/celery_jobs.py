"""Jobs on Celery workers (with DATAINSIGHT_REDIS_URL): Redis is the broker, and there is no
result backend (the jobs table holds the outcome). A task is acknowledged only when it ends
(task_acks_late) and put back when the process running it dies (task_reject_on_worker_lost),
so another worker takes it up; each
worker takes one task at a time (worker_prefetch_multiplier=1). Status, progress and
cancel stay in the jobs table, as in one process."""
from __future__ import annotations

import logging
import os
import threading

from celery import Celery
from celery.signals import worker_process_shutdown

from storage.metrics import forget_process, multiprocess_dir

log = logging.getLogger(__name__)

_apps: dict[str, Celery] = {}
_lock = threading.Lock()
_storage = None


def celery_app(redis_url: str) -> Celery:
    with _lock:
        app = _apps.get(redis_url)
        if app is None:
            app = _apps[redis_url] = _make(redis_url)
        return app


def _make(redis_url: str) -> Celery:
    # No result backend: the jobs table holds status and outcome (task_ignore_result), and a
    # Redis result backend that lost its connection once asks for the app to be restarted.
    app = Celery("datainsight", broker=redis_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json", result_serializer="json", accept_content=["json"],
        task_ignore_result=True,  # the jobs table holds the outcome
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        # A task taken by a worker that vanished whole (host lost, SIGKILL of the main
        # process) is handed out again by Redis only after this long; storage.jobs marks
        # it failed long before (fail_stale) and drops the late delivery. A delivery while
        # the first worker still runs it is dropped too (JobService._claim).
        broker_transport_options={"visibility_timeout": 3600},
    )

    @app.task(name="datainsight.run_job")
    def run_job(job_id: str, kind: str, task: str, payload: dict) -> None:
        try:
            storage = _worker_storage()
        except Exception:
            # The task is acknowledged all the same (it failed): say so in the jobs table
            # rather than leave the job "queued" for hours.
            log.exception("worker could not build its storage for job %s", job_id)
            _fail_unstarted(job_id)
            raise
        storage.jobs.run_named(job_id, kind, task, payload, celery=True)

    return app


def _worker_storage():
    """The storage of this worker process, built in the process that runs the tasks (a
    database engine is not shared across fork)."""
    global _storage
    if _storage is None or _storage_pid != os.getpid():
        _build()
    return _storage


_storage_pid = None


def _build() -> None:
    global _storage, _storage_pid
    from settings import Settings
    from storage import Storage
    from storage.limits import Limits
    settings = Settings.from_env()
    _storage = Storage(settings.database_url, settings.data_dir, limits=Limits.from_settings(settings),
                       secret_key=settings.resolved_secret_key(), redis_url=settings.redis_url)
    _storage.configure(settings)  # the mailer of scheduled sends and alerts, as in the web process
    _storage_pid = os.getpid()


def _fail_unstarted(job_id: str) -> None:
    from sqlalchemy import create_engine, update

    from settings import Settings
    from storage.database import utcnow
    from storage.tables import jobs
    try:
        engine = create_engine(Settings.from_env().database_url)
        try:
            with engine.begin() as conn:
                conn.execute(update(jobs).where(jobs.c.id == job_id, jobs.c.status == "queued").values(
                    status="failed", updated_at=utcnow(),
                    message="A worker could not start this job (its log has the details); start it again"))
        finally:
            engine.dispose()
    except Exception:  # noqa: BLE001 - the database is what failed: fail_stale ends the job later
        log.exception("job %s could not be marked failed", job_id)


def run_worker(redis_url: str, concurrency: int = 1, loglevel: str = "INFO") -> None:
    app = celery_app(redis_url)
    if multiprocess_dir():  # the children's metrics are added up by app.py worker --metrics-port
        worker_process_shutdown.connect(_forget_child_metrics, weak=False)
    app.worker_main(["worker", f"--loglevel={loglevel}", f"--concurrency={concurrency}", "--pool=prefork",
                     "--without-gossip", "--without-mingle", "-n", f"datainsight-{os.getpid()}@%h"])


def _forget_child_metrics(pid: int | None = None, **_kwargs) -> None:
    """Celery's worker_process_shutdown, sent in a prefork child as it ends."""
    forget_process(pid or os.getpid())
