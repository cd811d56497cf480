"""What ``GET /api/health`` reports (issue 15, point 7): each part the app depends on, with
a state a load balancer and a person can both read.

States: ``ok``; ``warning`` (serving, but something needs a person: little disk left, jobs
waiting long); ``not_configured`` (mail without SMTP settings); ``error``. Only the
database and the data directory decide whether the app can serve (503); a mail server
that does not answer makes the report ``degraded``, not down.
"""
from __future__ import annotations

import shutil
import socket
import tempfile
import time
from datetime import timedelta

from sqlalchemy import func, select, text

from storage.database import as_utc, utcnow
from storage.tables import jobs

MB = 1024 * 1024
QUEUE_WAIT_WARNING = timedelta(minutes=10)
MAIL_PROBE_SECONDS = 60  # a load balancer asks every few seconds; the mail server is asked once a minute
MAIL_PROBE_TIMEOUT = 3
SERVING = ("database", "storage")  # what the app cannot serve without


def database_check(engine) -> dict:
    started = time.perf_counter()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure is what the check reports
        return {"status": "error", "message": type(exc).__name__}
    return {"status": "ok", "dialect": engine.dialect.name, "ms": round((time.perf_counter() - started) * 1000, 1)}


def storage_check(data_dir, reserve_mb: int) -> dict:
    try:
        # A probe of its own per check: concurrent checks (a load balancer, several
        # threads) shared one name once, and one's unlink failed the other with a 503.
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".health-probe-") as probe:
            probe.write(b"ok")
            probe.flush()
        free_mb = shutil.disk_usage(data_dir).free // MB
    except OSError as exc:
        return {"status": "error", "message": exc.strerror or type(exc).__name__}
    check = {"status": "ok", "free_mb": free_mb, "reserve_mb": reserve_mb}
    if free_mb < reserve_mb:
        check.update(status="warning", message=f"Only {free_mb:,} MB free, under the {reserve_mb:,} MB the app "
                                               "keeps free (DATAINSIGHT_DISK_RESERVE_MB): uploads are refused")
    return check


def jobs_check(engine) -> dict:
    try:
        with engine.connect() as conn:
            counts = dict(conn.execute(select(jobs.c.status, func.count()).where(
                jobs.c.status.in_(("queued", "running"))).group_by(jobs.c.status)).all())
            oldest = conn.execute(select(func.min(jobs.c.created_at)).where(jobs.c.status == "queued")).scalar()
    except Exception as exc:  # the database check says more
        return {"status": "error", "message": type(exc).__name__}
    waited = (utcnow() - as_utc(oldest)).total_seconds() if oldest is not None else 0
    check = {"status": "ok", "queued": counts.get("queued", 0), "running": counts.get("running", 0),
             "oldest_queued_seconds": round(waited)}
    if waited > QUEUE_WAIT_WARNING.total_seconds():
        check.update(status="warning", message=f"A job has waited {round(waited / 60)} minutes to start")
    return check


class MailProbe:
    """Whether the SMTP server answers a connection, asked at most once a minute per
    process (the answer is this process's view; nothing shared depends on it)."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._last: tuple[float, tuple, dict] | None = None

    def check(self, mailer) -> dict:
        if mailer is None or not mailer.host:
            return {"status": "not_configured", "message": "No SMTP server is set (DATAINSIGHT_SMTP_HOST): "
                                                           "reports cannot be mailed"}
        target = (mailer.host, mailer.port)
        now = self.clock()
        if self._last is not None and self._last[1] == target and now - self._last[0] < MAIL_PROBE_SECONDS:
            return self._last[2]
        try:
            with socket.create_connection(target, timeout=MAIL_PROBE_TIMEOUT):
                pass
            result = {"status": "ok"}
        except OSError as exc:
            result = {"status": "error", "message": f"The mail server does not answer: "
                                                    f"{exc.strerror or type(exc).__name__}"}
        self._last = (now, target, result)
        return result


def overall(checks: dict) -> tuple[str, int]:
    """("ok" | "degraded" | "error", HTTP status) of a set of checks."""
    if any(checks[name]["status"] == "error" for name in SERVING if name in checks):
        return "error", 503
    if any(check["status"] in ("error", "warning") for check in checks.values()):
        return "degraded", 200
    return "ok", 200
