"""Prometheus metrics (issue 14, point 4): what the process did, and what the database says.

Counters and histograms of what happens in a process (HTTP requests, widget queries, jobs,
ingested rows, mails) live in prometheus_client. Under ``python app.py`` every gunicorn
worker writes them to files in ``PROMETHEUS_MULTIPROC_DIR`` (set by the master before it
forks, web.front's ``_serve``) and a scrape of any worker adds them up. prometheus_client
chooses that mode when it is first imported, so nothing here imports it before a metric
is first recorded (``metrics()``).

What must agree across processes and machines (jobs waiting and running, live sessions)
is not counted in a process at all: ``DatabaseCollector`` reads it from the metadata
database at scrape time.
"""
from __future__ import annotations

import os
import threading
from datetime import timedelta

from sqlalchemy import func, select

from storage.database import utcnow
from storage.tables import jobs, user_sessions

# Seconds. Requests and widget queries are mostly milliseconds; jobs run up to an hour.
FAST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
JOB_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
ACTIVE_SESSION_WINDOW = timedelta(minutes=15)  # a session seen this recently is "active"

_lock = threading.Lock()
_metrics = None


class _Metrics:
    def __init__(self):
        from prometheus_client import Counter, Histogram

        self.http_requests = Counter("datainsight_http_requests", "HTTP requests answered",
                                     ["route", "method", "status"])
        self.http_duration = Histogram("datainsight_http_request_duration_seconds", "Time to answer a request",
                                       ["route", "method"], buckets=FAST_BUCKETS)
        self.widget_queries = Counter("datainsight_widget_queries", "Widget results asked for, by cache outcome",
                                      ["widget", "cache"])
        self.widget_query_duration = Histogram("datainsight_widget_query_duration_seconds",
                                               "Time to run a widget's query (cache misses)", ["widget"],
                                               buckets=FAST_BUCKETS)
        self.jobs = Counter("datainsight_jobs", "Background jobs finished, by kind and final state",
                            ["kind", "state"])
        self.job_duration = Histogram("datainsight_job_duration_seconds", "Time a background job ran", ["kind"],
                                      buckets=JOB_BUCKETS)
        self.ingested_rows = Counter("datainsight_ingested_rows", "Rows written to new dataset versions")
        self.ingested_bytes = Counter("datainsight_ingested_bytes", "Parquet bytes written to new dataset versions")
        self.mail_sends = Counter("datainsight_scheduled_sends", "Report mails, by trigger and outcome",
                                  ["trigger", "status"])


def metrics() -> _Metrics:
    """The process's metrics, made on first use (see the module's note on import order)."""
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                _metrics = _Metrics()
    return _metrics


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def forget_process(pid: int) -> None:
    """A process that wrote to the multiprocess folder has ended (a gunicorn worker, a
    Celery child): its live gauges go; its counters stay in the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


class DatabaseCollector:
    """Gauges read from the metadata database at each scrape: the same answer whichever
    process or machine is asked."""

    def __init__(self, engine):
        self.engine = engine

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        queue = GaugeMetricFamily("datainsight_jobs_in_queue", "Background jobs queued or running, by kind",
                                  labels=["kind", "status"])
        sessions = GaugeMetricFamily("datainsight_active_sessions",
                                     "Signed-in sessions seen in the last 15 minutes")
        with self.engine.connect() as conn:
            rows = conn.execute(select(jobs.c.kind, jobs.c.status, func.count())
                                .where(jobs.c.status.in_(("queued", "running")))
                                .group_by(jobs.c.kind, jobs.c.status)).all()
            active = conn.execute(select(func.count()).select_from(user_sessions).where(
                user_sessions.c.revoked_at.is_(None),
                user_sessions.c.last_seen_at >= utcnow() - ACTIVE_SESSION_WINDOW)).scalar_one()
        for kind, status, count in rows:
            queue.add_metric([kind, status], count)
        sessions.add_metric([], active)
        yield queue
        yield sessions


def exposition(engine) -> tuple[bytes, str]:
    """The text a scrape gets: this host's process metrics plus the database's gauges."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    metrics()  # every family appears from the first scrape, at zero
    registry = CollectorRegistry()
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessRegistry(REGISTRY))
    registry.register(DatabaseCollector(engine))
    return generate_latest(registry), CONTENT_TYPE_LATEST


class _ProcessRegistry:
    """The default registry's metrics (one process), as a collector of another registry."""

    def __init__(self, registry):
        self.registry = registry

    def collect(self):
        yield from self.registry.collect()
