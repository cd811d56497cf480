"""Analyses of a dataset (the Analyze page and POST /api/v1/analyze/<kind>).

One entry point for every analysis: ``AnalysisService.run(principal, kind, params)``
checks that the principal may see the dataset, opens a DuckDB connection on the current
version's Parquet file, and hands the pure computation in ``analytics/`` a FROM-able
``source_sql``, the dataset schema, the params and a ``progress`` callable. Results are
cached by (dataset id, version, kind, canonical params) in small JSON files under the data
dir, so a new dataset version recomputes and the same question asked twice does not.

Adding an analysis is adding one line to ``KINDS``: a function
``fn(con, source_sql, schema, params, progress) -> dict`` that raises
``errors.InvalidSpec`` (bad request) or ``errors.AnalysisError`` (the data cannot answer).
``progress(fraction, message)`` reports to the job (when run as one) and raises
``JobCancelled`` when the person cancelled it, so call it between expensive steps.
"""
from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import logging
import math
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from analytics import (
    clustering,
    correlation,
    forecasting,
    funnels,
    regression,
    segments,
    stats,
    timeseries,
)
from storage.duck import connect, literal
from storage.errors import Conflict, Forbidden, InvalidSpec
from storage.principal import Principal, Role

log = logging.getLogger(__name__)

# kind -> fn(con, source_sql, schema, params, progress) -> JSON-able dict.
KINDS: dict[str, Callable] = {
    "stats": stats.run,
    "correlation": correlation.run,
    "regression": regression.run,
    "clustering": clustering.run,
    "forecast": forecasting.run,
    "time_grain": timeseries.detect_grain,
    "funnel": funnels.funnel,
    "event_names": funnels.event_names,
    "journeys": funnels.journeys,
    "retention": funnels.retention,
    "rfm": segments.rfm,
    "clv": segments.clv,
}

# Threads for numpy/scipy/scikit-learn's BLAS and OpenMP pools in this process. On a small
# shared machine several jobs (and DuckDB) run at once; multi-threaded BLAS then spins and
# oversubscribes the cores: k-means and silhouette measured 10-20x slower here. One thread
# per job, and jobs in parallel, is the faster arrangement.
BLAS_THREADS = 1

# The cache keeps at most this many results; the oldest go first.
CACHE_MAX_ENTRIES = 2000
# Bump when a result's shape changes, so old cached answers are not served.
CACHE_FORMAT = 2  # 2: forecasts carry the grain used, its detection and the headline's verdict


def to_json(value):
    """A result made JSON-safe: numpy scalars and arrays to Python, NaN/inf to null,
    dates to ISO text. Every kind's output passes through here."""
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_json(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()
    return value


def canonical(params: dict) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)


def _no_progress(_fraction: float, _message: str | None = None) -> None:
    return None


_blas_limited = False


def limit_blas_threads() -> None:
    """Once per process: cap the BLAS/OpenMP thread pools at BLAS_THREADS (process-wide,
    so it is set once rather than around each job, which would race between jobs)."""
    global _blas_limited
    if not _blas_limited:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=BLAS_THREADS)
        _blas_limited = True


class _Share:
    """A job reporter for one part of a job: progress 0..1 of the part maps to lo..hi."""

    def __init__(self, reporter, lo: float, hi: float):
        self.reporter, self.lo, self.hi = reporter, lo, hi

    def __call__(self, fraction: float, message: str | None = None, force: bool = False) -> None:
        self.reporter(self.lo + (self.hi - self.lo) * fraction, message, force=force)

    def check(self) -> None:
        self.reporter.check()


class AnalysisService:
    def __init__(self, datasets, jobs, data_dir: Path):
        self.datasets = datasets
        self.sites = None  # set by Storage: a site's dataset is analysed on its events (storage.sites)
        self.jobs = jobs
        self.data_dir = Path(data_dir)
        self.cache_dir = self.data_dir / "analysis-cache"
        self.tmp_dir = self.data_dir / "tmp"
        self.cache_dir.mkdir(parents=True, exist_ok=True)

    # --- the checks every entry point does first -------------------------------------------

    @staticmethod
    def _check_kind(kind) -> Callable:
        if kind not in KINDS:
            raise InvalidSpec(f"Unknown analysis {kind!r}; choose one of {', '.join(sorted(KINDS))}")
        return KINDS[kind]

    @staticmethod
    def _check_params(params) -> dict:
        if not isinstance(params, dict):
            raise InvalidSpec("The analysis parameters must be a JSON object")
        if params.get("dataset_id") in (None, ""):
            raise InvalidSpec("Choose a dataset: the field 'dataset_id' is required")
        return params

    # --- running ----------------------------------------------------------------------------

    def run(self, principal: Principal, kind: str, params: dict, reporter=None) -> dict:
        """Run one analysis (or answer from the cache) for a dataset the principal can see."""
        self._check_kind(kind)
        params = self._check_params(params)
        dataset = self.datasets.get(principal, params["dataset_id"])  # NotFound for non-members
        return self.run_on(dataset, kind, params, reporter)

    def run_on(self, dataset, kind: str, params: dict, reporter=None) -> dict:
        """``run`` on a dataset already resolved by its caller: after ``run``'s access check,
        or for a dashboard's analysis widget (the widget engine found the dataset by the
        viewer's role or, for a public link, in the shared dashboard's own workspace, and
        passes only the widget's stored params). Never with a dataset the caller did not
        check."""
        fn = self._check_kind(kind)
        if not isinstance(params, dict):
            raise InvalidSpec("The analysis parameters must be a JSON object")
        params = {**params, "dataset_id": dataset.id}
        site_id = self.sites.site_of_dataset(dataset) if self.sites is not None else None
        # A site's dataset is its events as they are now (storage.event_store): the visible
        # files are part of the key, so a new event means a new result.
        key = self._cache_key(dataset, kind, params if site_id is None
                              else {**params, "__events": self.sites.store.state(site_id)})
        cached = self._cache_read(key)
        if cached is not None:
            return cached
        progress = self._progress(reporter)
        limit_blas_threads()
        source_sql = self.sites.store.relation_sql(site_id) if site_id is not None \
            else f"read_parquet({literal(str(self.datasets.file_path(dataset)))})"
        con = connect(self.tmp_dir)
        try:
            progress(0.0, "Reading the data")
            result = fn(con, source_sql, dataset.schema, params, progress)
        finally:
            con.close()
        result = to_json(dict(result, dataset_id=dataset.id, version=dataset.version, kind=kind))
        self._cache_write(key, result)
        return result

    def start(self, principal: Principal, kind: str, params: dict) -> str:
        """Run in the background; returns the job id to poll with ``storage.jobs.get``.
        Bad requests fail here, at once, rather than in the job."""
        self._check_kind(kind)
        params = self._check_params(params)
        dataset = self.datasets.get(principal, params["dataset_id"])
        return self.jobs.start(principal, f"analyze:{kind}"[:32], dataset.workspace_id,
                               {"kind": kind, "params": params}, message="Starting", task="analyze")

    @staticmethod
    def _progress(reporter) -> Callable[[float, str | None], None]:
        if reporter is None:
            return _no_progress

        def progress(fraction: float, message: str | None = None) -> None:
            reporter(fraction, message)
            reporter.check()  # raises JobCancelled when the person pressed Cancel

        return progress

    # --- cache ------------------------------------------------------------------------------

    @staticmethod
    def _cache_key(dataset, kind: str, params: dict) -> str:
        """The version's file path is in the key, not only (id, version): ids can be reused
        after a delete (SQLite hands out max(id) + 1 again), file names never are."""
        body = canonical({k: v for k, v in params.items() if k != "dataset_id"})
        raw = f"{CACHE_FORMAT}|{dataset.id}|{dataset.version}|{dataset.path}|{kind}|{body}"
        return f"{dataset.id}-{dataset.version}-{hashlib.sha256(raw.encode()).hexdigest()[:40]}"

    def _cache_read(self, key: str) -> dict | None:
        path = self.cache_dir / f"{key}.json"
        try:
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
        except (FileNotFoundError, ValueError):
            return None

    def _cache_write(self, key: str, result: dict) -> None:
        """Atomic: a reader sees the whole previous answer or the whole new one."""
        final = self.cache_dir / f"{key}.json"
        tmp = self.cache_dir / f".{os.getpid()}-{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(result, handle, separators=(",", ":"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, final)
        except OSError:
            log.warning("could not cache an analysis result", exc_info=True)
            tmp.unlink(missing_ok=True)
            return
        self._prune()

    def _prune(self) -> None:
        entries = list(self.cache_dir.glob("*.json"))
        if len(entries) <= CACHE_MAX_ENTRIES:
            return
        entries.sort(key=lambda p: p.stat().st_mtime if p.exists() else 0)
        for path in entries[: len(entries) - CACHE_MAX_ENTRIES]:
            path.unlink(missing_ok=True)
        for path in self.cache_dir.glob(".*.tmp"):  # left by a crash mid-write
            if path.stat().st_mtime < time.time() - 3600:
                path.unlink(missing_ok=True)

    # --- saving cluster labels ----------------------------------------------------------------

    def save_cluster_labels(self, principal: Principal, params: dict, column: str = "cluster", reporter=None):
        """Fit (or reuse) the clustering for ``params`` and write the dataset again with a
        column of cluster labels for every row, as a new version (operation "derive").
        Needs the editor role. Rows are assigned to the nearest centroid in batches, with
        the same imputing, encoding and scaling as the fit."""
        params = self._check_params(params)
        dataset = self.datasets.get(principal, params["dataset_id"])
        if not dataset.role.at_least(Role.EDITOR):
            raise Forbidden("Saving cluster labels makes a new version of the dataset: that needs an editor")
        result = self.run(principal, "clustering", params, _Share(reporter, 0.0, 0.5) if reporter else None)
        if result["version"] != dataset.version:
            raise Conflict("The dataset changed while the clustering ran; run it again")
        column = clustering.label_column_name(column, dataset.column_names)
        model = result["model"]
        progress = self._progress(_Share(reporter, 0.5, 1.0) if reporter else None)

        def labels_for(frame):
            return clustering.assign(model, frame)

        return self.datasets.derive_version(
            principal, dataset.id, dataset.version, column, "integer", model["features"], labels_for,
            note=f"k-means clusters (k={result['k']}) of {', '.join(model['features'])}",
            on_progress=lambda f: progress(f, "Writing the labelled version"),
        )

    def start_save_labels(self, principal: Principal, params: dict, column: str = "cluster") -> str:
        """``save_cluster_labels`` as a background job; its result names the new version."""
        params = self._check_params(params)
        dataset = self.datasets.get(principal, params["dataset_id"])
        if not dataset.role.at_least(Role.EDITOR):
            raise Forbidden("Saving cluster labels makes a new version of the dataset: that needs an editor")
        return self.jobs.start(principal, "derive", dataset.workspace_id, {"params": params, "column": column},
                               message="Saving the labels")

    def save_labels_job(self, principal: Principal, job_params: dict, reporter) -> dict:
        """The job (storage/job_kinds.py "derive"); save_cluster_labels checks the role again."""
        saved = self.save_cluster_labels(principal, job_params["params"], job_params["column"], reporter)
        return {"dataset_id": saved.id, "name": saved.name, "version": saved.version, "rows": saved.rows,
                "column": saved.schema[-1]["name"]}
