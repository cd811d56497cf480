"""Dataset profiles: computed in the background when a dataset version is created (or
on first request), cached per version as a JSON file under <data dir>/profiles.

Files: ``<dataset id>-v<version>.json`` (the profile, written to a temp file, fsynced,
renamed) and ``<dataset id>-v<version>.job`` (the id of the job computing it, claimed
with O_EXCL so that two requests, or two worker processes, start one job). Status and
progress come from that job's row, which every worker can read.
"""
from __future__ import annotations

import json
import logging
import os
import re
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from analytics.profile import compute_profile
from analytics.profiling.alerts import apply_roles
from storage.database import utcnow
from storage.datasets import Dataset, DatasetService, _fsync_dir, _fsync_file
from storage.duck import connect, literal
from storage.errors import Conflict, Forbidden
from storage.jobs import JobService, looks_interrupted, pid_alive
from storage.principal import Principal, Role
from storage.priority import polite
from storage.tables import dataset_versions, jobs

log = logging.getLogger(__name__)

JOB_KIND = "profile"
_FILE = re.compile(r"^(\d+)-v(\d+)\.(json|job)$")


class ProfileService:
    def __init__(self, engine: Engine, datasets: DatasetService, jobs_service: JobService, data_dir: Path):
        self.engine = engine
        self.datasets = datasets
        self.jobs = jobs_service
        self.dir = Path(data_dir) / "profiles"
        self.dir.mkdir(parents=True, exist_ok=True)
        datasets.listeners.append(self)
        # storage.roles.ColumnRoleService (set by Storage): the alerts a profile shows
        # follow the columns' roles, a person's corrections included.
        self.roles = None

    # --- files ------------------------------------------------------------------------

    def _path(self, dataset_id: int, version: int, suffix: str) -> Path:
        return self.dir / f"{int(dataset_id)}-v{int(version)}.{suffix}"

    def _read(self, dataset: Dataset) -> dict | None:
        try:
            return json.loads(self._path(dataset.id, dataset.version, "json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def read_ready(self, dataset: Dataset) -> dict | None:
        """The stored profile of the version, as computed (no roles applied), or None when
        it is not computed yet; starts nothing. For services that resolved the dataset
        with access checked (column roles)."""
        return self._read(dataset)

    def _ready(self, dataset: Dataset, profile: dict) -> dict:
        """A stored profile as the API answers it: with each column's role (corrections
        included) and the alerts that follow from the roles."""
        if self.roles is not None and profile.get("columns") is not None:
            profile = apply_roles(profile, self.roles.roles_for(dataset))
        return {"status": "ready", "progress": 1.0, "message": None, **profile}

    def _write(self, dataset_id: int, version: int, profile: dict) -> None:
        final = self._path(dataset_id, version, "json")
        tmp = self.dir / f".{os.getpid()}-{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as handle:
                json.dump(profile, handle, separators=(",", ":"), allow_nan=False)
            _fsync_file(tmp)
            os.replace(tmp, final)
            _fsync_dir(self.dir)
        finally:
            tmp.unlink(missing_ok=True)

    # --- the job ------------------------------------------------------------------------

    def _job_row(self, job_id: str):
        with self.engine.connect() as conn:
            return conn.execute(select(jobs).where(jobs.c.id == job_id)).first()

    def _job_state(self, dataset: Dataset) -> tuple[str, float, str, str | None] | None:
        """(status, progress, message, job id) of the job behind this version's marker,
        or None when there is none or it is gone."""
        marker = self._path(dataset.id, dataset.version, "job")
        try:
            job_id = marker.read_text().strip()
        except FileNotFoundError:
            return None
        if not job_id:  # claimed a moment ago; the job id follows at once
            age = utcnow().timestamp() - marker.stat().st_mtime if marker.exists() else None
            return ("queued", 0.0, "Starting", None) if age is not None and age < 60 else None
        row = self._job_row(job_id)
        if row is None:
            return None
        status, message = row.status, row.message
        if looks_interrupted(status, row.worker, row.updated_at):
            status = "interrupted"
        elif status in ("queued", "running") and row.cancel_requested:
            message = "Cancelling…"
        return status, float(row.progress or 0.0), message, job_id

    def _start(self, principal: Principal, dataset: Dataset, replace: bool = False) -> str | None:
        """Start computing the profile unless another request already did."""
        marker = self._path(dataset.id, dataset.version, "job")
        if replace:
            marker.unlink(missing_ok=True)
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return None
        params = {"dataset_id": dataset.id, "version": dataset.version, "path": dataset.path,
                  "schema": dataset.schema, "size_bytes": dataset.size_bytes}
        try:
            job_id = self.jobs.start(principal, JOB_KIND, dataset.workspace_id, params, message="Profiling")
            os.write(fd, job_id.encode())
        finally:
            os.close(fd)
        return job_id

    def compute(self, params: dict, reporter) -> dict:
        """The job (storage/job_kinds.py "profile"): compute the profile of one version and
        write it whole (temp file and rename), so a job run again after its worker died
        simply computes it again."""
        dataset_id, version = int(params["dataset_id"]), int(params["version"])
        path = self.datasets.data_dir / params["path"]
        con = connect(self.datasets.tmp_dir)
        try:
            profile = compute_profile(
                con, f"read_parquet({literal(str(path))})", params["schema"], size_bytes=params["size_bytes"],
                report=lambda fraction, message: reporter(0.02 + 0.96 * fraction, message),
                check=polite(reporter.check))  # dashboards' queries first, between its steps
        finally:
            con.close()
        profile.update(dataset_id=dataset_id, version=version)
        if self._version_exists(dataset_id, version):
            self._write(dataset_id, version, profile)
        self._path(dataset_id, version, "job").unlink(missing_ok=True)
        return {"dataset_id": dataset_id, "version": version}

    def _version_exists(self, dataset_id: int, version: int) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(dataset_versions.c.id).where(
                dataset_versions.c.dataset_id == dataset_id, dataset_versions.c.version == version)).first() is not None

    # --- what the API and the UI call ------------------------------------------------------

    def get(self, principal: Principal, dataset_id) -> dict:
        """The profile of the dataset's current version as the API answers it: status
        ready with everything, or running with progress (started if nothing computes
        it yet), or failed with the reason."""
        dataset = self.datasets.get(principal, dataset_id)
        profile = self._read(dataset)
        if profile is not None:
            return self._ready(dataset, profile)
        state = self._job_state(dataset)
        if state is None or state[0] == "done":  # no job, or a result that is not there (deleted)
            self._start(principal, dataset, replace=True)
            state = self._job_state(dataset) or ("queued", 0.0, "Queued", None)
            profile = self._read(dataset)  # a very small dataset may be done already
            if profile is not None:
                return self._ready(dataset, profile)
        status, progress, message, _ = state
        if status in ("failed", "cancelled", "interrupted"):
            if status == "interrupted":
                message = "Profiling was interrupted (the server restarted); compute it again"
            elif status == "cancelled":
                message = "Profiling was cancelled; compute it again when you need it"
            return {**self._empty(dataset, "failed", progress, message), "cancelled": status == "cancelled"}
        return self._empty(dataset, "running", progress, message)

    def refresh(self, principal: Principal, dataset_id) -> dict:
        """Compute again (after a failure); Conflict while a computation runs. Needs the
        editor role: a recomputation costs the server minutes of CPU, and the profile is
        everyone's (a viewer's first look still computes a missing profile once, in get)."""
        dataset = self.datasets.get(principal, dataset_id)
        if not dataset.role.at_least(Role.EDITOR):
            raise Forbidden("Computing the profile again takes the server's time for everyone in the workspace: "
                            "that needs an editor")
        state = self._job_state(dataset)
        if state is not None and state[0] in ("queued", "running"):
            raise Conflict("The profile is being computed already")
        self._path(dataset.id, dataset.version, "json").unlink(missing_ok=True)
        self._start(principal, dataset, replace=True)
        return self.get(principal, dataset_id)

    def cancel(self, principal: Principal, dataset_id) -> dict:
        """Stop the computation of the current version's profile (it stops at its next
        step, within seconds). Needs the editor role: the profile is everyone's.
        Conflict when nothing is being computed."""
        dataset = self.datasets.get(principal, dataset_id)
        if not dataset.role.at_least(Role.EDITOR):
            raise Forbidden("Cancelling the profile stops it for everyone in the workspace: that needs an editor")
        state = self._job_state(dataset)
        if state is None or state[0] not in ("queued", "running") or state[3] is None:
            raise Conflict("The profile is not being computed")
        self.jobs.request_cancel(state[3])
        return self.get(principal, dataset_id)

    def ready(self, principal: Principal, dataset_id) -> dict:
        """The finished profile, or Conflict saying it is not ready (for downloads)."""
        profile = self.get(principal, dataset_id)
        if profile["status"] != "ready":
            raise Conflict("The profile is not ready yet" if profile["status"] == "running"
                           else f"The profile could not be computed: {profile['message']}")
        return profile

    @staticmethod
    def _empty(dataset: Dataset, status: str, progress: float, message: str | None) -> dict:
        return {"status": status, "progress": round(progress, 3), "message": message, "dataset_id": dataset.id,
                "version": dataset.version, "table": None, "columns": None, "correlations": None,
                "missing": None, "alerts": None, "estimates": None}

    # --- listeners and start-up -------------------------------------------------------------

    def version_created(self, principal: Principal, dataset: Dataset) -> None:
        self._start(principal, dataset)

    def dataset_deleted(self, dataset_id: int) -> None:
        for path in self.dir.glob(f"{int(dataset_id)}-v*.*"):
            path.unlink(missing_ok=True)

    def sweep(self) -> int:
        """Remove profiles (and markers) of versions that no longer exist, and temp files
        of writes a crash cut short."""
        with self.engine.connect() as conn:
            known = {(d, v) for d, v in conn.execute(select(dataset_versions.c.dataset_id, dataset_versions.c.version))}
        removed = 0
        for path in self.dir.iterdir():
            match = _FILE.match(path.name)
            orphan = match and (int(match.group(1)), int(match.group(2))) not in known
            owner = path.name[1:].split("-", 1)[0]
            dead_write = path.name.endswith(".tmp") and owner.isdigit() and not pid_alive(int(owner))
            if orphan or dead_write:
                path.unlink(missing_ok=True)
                removed += 1
        return removed
