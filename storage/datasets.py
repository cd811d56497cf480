"""Datasets: typed Parquet files with versions, owned by a workspace.

Every method takes the acting principal and checks the workspace role first (viewer to
read, editor to change). Files are written atomically: to a temp file, fsync, rename
into place, then the metadata row; a crash at any point leaves the previous state whole,
and start-up removes what a crash left in the temp folder.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from array import array
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

import duckdb
from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.engine import Engine

from analytics.columns import clean_display_name, clean_name
from analytics.names import check_name
from storage import ingest
from storage.audit import NO_AUDIT
from storage.database import as_utc, read_only, row_id, utcnow
from storage.duck import connect, literal, shared_instance
from storage.errors import IngestError, InvalidInput, NotFound
from storage.filtered_subsets import SHARED_SECONDS, SHARED_SUBSETS, forget_shared_copies, sweep_shared_copies
from storage.jobs import temp_owner, temp_owner_gone
from storage.limits import Limits, check_stored
from storage.metrics import metrics
from storage.principal import Principal, Role
from storage.sources import list_sheets, prepare
from storage.sql import order_clause, quote_ident, where_clause
from storage.tables import dataset_versions, datasets, users
from storage.workspaces import WorkspaceService

log = logging.getLogger(__name__)

MAX_PAGE_ROWS = 5000
GRID_CACHE_ENTRIES = 512  # match counts, column decimals and sorted blocks kept per process
SORTED_BLOCK = 5_000  # row numbers of a sorted view found at once (40 KB cached): 50 grid pages
DECIMALS_SCAN_ROWS = 200_000  # the rows a float column's decimals are read from
MAX_DECIMALS = 4
LARGE_NUMBER = 1000  # a column reaching this shows at most 2 decimals


@dataclass(frozen=True)
class DatasetVersion:
    version: int
    rows: int
    size_bytes: int
    schema: list[dict]
    operation: str
    source_name: str
    source_format: str
    created_at: datetime
    created_by: str | None
    path: str

    def public_dict(self) -> dict:
        return {
            "version": self.version, "rows": self.rows, "size_bytes": self.size_bytes,
            "columns": [{"name": c["name"], "type": c["type"]} for c in self.schema],
            "operation": self.operation, "source_name": self.source_name, "source_format": self.source_format,
            "created_at": self.created_at.isoformat(), "created_by": self.created_by,
        }


@dataclass(frozen=True)
class Dataset:
    id: int
    workspace_id: int
    name: str
    description: str
    version: int
    rows: int
    size_bytes: int
    schema: list[dict]
    owner: str | None
    created_at: datetime
    updated_at: datetime
    role: Role
    path: str

    @property
    def column_names(self) -> list[str]:
        return [c["name"] for c in self.schema]

    def public_dict(self) -> dict:
        return {
            "id": self.id, "workspace_id": self.workspace_id, "name": self.name, "description": self.description,
            "version": self.version, "rows": self.rows, "size_bytes": self.size_bytes,
            "columns": [{"name": c["name"], "type": c["type"]} for c in self.schema],
            "owner": self.owner, "created_at": self.created_at.isoformat(), "updated_at": self.updated_at.isoformat(),
        }


def clean_dataset_name(name: str) -> str:
    """A dataset's name: one line (``check_name`` refuses line breaks and control
    characters, naming the field), cut at 200 characters as before."""
    if not clean_name(name):
        raise InvalidInput("Give the dataset a name", details={"field": "name"})
    return check_name(name, "dataset name", field="name", max_length=100_000)[:200].strip()


def default_dataset_name(filename: str, sheet: str | None = None) -> str:
    """The name a dataset gets from its file (and sheet) when the person gives none."""
    return clean_display_name(filename) + (f" – {clean_name(sheet)}" if sheet else "")


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _count_written(rows: int, size: int) -> None:
    """Ingest metrics: a new version from a file (created, replaced, appended)."""
    figures = metrics()
    figures.ingested_rows.inc(rows or 0)
    figures.ingested_bytes.inc(size or 0)


class DatasetService:
    audit = NO_AUDIT  # Storage gives it the real AuditLog

    def __init__(self, engine: Engine, workspaces: WorkspaceService, data_dir: Path, limits: Limits | int):
        self.engine = engine
        self.reads = read_only(engine)  # single reads: one round trip (storage.database)
        self.workspaces = workspaces
        self.data_dir = Path(data_dir)
        self._by_id_with_role = None  # _load's statement, built on first use
        self.files_dir = self.data_dir / "datasets"
        self.tmp_dir = self.data_dir / "tmp"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.limits = limits if isinstance(limits, Limits) else Limits(max_upload_mb=int(limits))
        # Told of each new version and each deletion (the profile service computes and
        # removes profiles): objects with version_created(principal, dataset) and
        # dataset_deleted(dataset_id). A listener's failure never undoes the change.
        self.listeners: list = []
        # Match counts and column decimals of the grid. A key names one version's file
        # (a new version is a new file), so a value never goes stale and each worker
        # process may keep its own. Imported here: storage.queries imports this module.
        from storage.queries import _Recent
        self._grid_cache = _Recent(GRID_CACHE_ENTRIES)
        self._reader_db = None  # see _reader
        self._reader_lock = threading.Lock()

    # --- loading with the access check ------------------------------------------------

    def _select(self):
        return (
            select(datasets, dataset_versions.c.rows, dataset_versions.c.size_bytes, dataset_versions.c.schema_json,
                   dataset_versions.c.path, users.c.name.label("owner_name"))
            .join(dataset_versions, (dataset_versions.c.dataset_id == datasets.c.id)
                  & (dataset_versions.c.version == datasets.c.current_version))
            .outerjoin(users, users.c.id == datasets.c.created_by)
        )

    @staticmethod
    def _to_dataset(row, role: Role) -> Dataset:
        return Dataset(
            id=row.id, workspace_id=row.workspace_id, name=row.name, description=row.description or "",
            version=row.current_version, rows=row.rows, size_bytes=row.size_bytes,
            schema=json.loads(row.schema_json), owner=row.owner_name, created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at), role=role, path=row.path,
        )

    def _load(self, conn, principal: Principal, dataset_id, minimum: Role) -> Dataset:
        dataset_id = row_id(dataset_id, "dataset")
        if self._by_id_with_role is None:  # built once: see WorkspaceService.member_role
            member = self.workspaces.member_role(datasets.c.workspace_id).label("member_role")
            self._by_id_with_role = self._select().add_columns(member).where(datasets.c.id == bindparam("dataset_id"))
        row = conn.execute(self._by_id_with_role, {"dataset_id": dataset_id, "acting_user_id": principal.user_id}).first()
        if row is None:
            raise NotFound(f"There is no dataset {dataset_id} that you can see")
        try:
            role = self.workspaces.checked_role(principal, row.workspace_id, row.member_role, minimum)
        except NotFound:
            raise NotFound(f"There is no dataset {dataset_id} that you can see") from None
        return self._to_dataset(row, role)

    def get(self, principal: Principal, dataset_id) -> Dataset:
        with self.reads.connect() as conn:
            return self._load(conn, principal, dataset_id, Role.VIEWER)

    def in_workspace(self, dataset_id, workspace_id: int) -> Dataset | None:
        """The dataset if it is in ``workspace_id``, with viewer rights, for callers that
        hold another authority over that workspace (a dashboard's share token); None
        otherwise. Never for a signed-in user: get() checks their membership."""
        try:
            dataset_id = int(dataset_id)
        except (TypeError, ValueError):
            return None
        with self.engine.connect() as conn:
            row = conn.execute(self._select().where(datasets.c.id == dataset_id)).first()
        if row is None or row.workspace_id != workspace_id:
            return None
        return self._to_dataset(row, Role.VIEWER)

    def all_in_workspace(self, workspace_id: int) -> list[Dataset]:
        """Every dataset of ``workspace_id``, with viewer rights, for callers that hold
        another authority over that workspace (a live SQL dataset's query, which reads its
        workspace's datasets whoever draws the chart). Never for a signed-in user: list()
        checks their membership."""
        with self.engine.connect() as conn:
            rows = conn.execute(self._select().where(datasets.c.workspace_id == int(workspace_id))
                                .order_by(datasets.c.id)).all()
        return [self._to_dataset(r, Role.VIEWER) for r in rows]

    def file_path(self, dataset: Dataset) -> Path:
        return self.data_dir / dataset.path

    SORTS = {
        "updated": (datasets.c.updated_at.desc(),),
        "name": (func.lower(datasets.c.name),),
        "rows": (dataset_versions.c.rows.desc(),),
        "size": (dataset_versions.c.size_bytes.desc(),),
        "created": (datasets.c.created_at.desc(),),
    }

    def list(self, principal: Principal, workspace_id, search: str | None = None, sort: str = "updated") -> list[Dataset]:
        with self.engine.connect() as conn:
            role = self.workspaces.require_role(conn, principal, workspace_id, Role.VIEWER)
            query = self._select().where(datasets.c.workspace_id == int(workspace_id))
            if search:
                pattern = "%" + search.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                query = query.where(func.lower(datasets.c.name).like(pattern, escape="\\")
                                    | func.lower(datasets.c.description).like(pattern, escape="\\"))
            if sort not in self.SORTS:
                raise InvalidInput(f"Unknown sort {sort!r}; choose one of {', '.join(self.SORTS)}")
            rows = conn.execute(query.order_by(*self.SORTS[sort], datasets.c.id.desc())).all()
        return [self._to_dataset(r, role) for r in rows]

    def named(self, principal: Principal, workspace_id, name: str) -> Dataset | None:
        """The dataset of the workspace called ``name`` (ignoring case), if any: a second
        upload of the same file is asked whether it is a new version of it."""
        wanted = clean_name(name or "").lower()
        if not wanted:
            return None
        with self.engine.connect() as conn:
            role = self.workspaces.require_role(conn, principal, workspace_id, Role.VIEWER)
            row = conn.execute(self._select().where(datasets.c.workspace_id == int(workspace_id),
                                                    func.lower(datasets.c.name) == wanted)
                               .order_by(datasets.c.id).limit(1)).first()
        return self._to_dataset(row, role) if row is not None else None

    def free_name(self, principal: Principal, workspace_id, name: str) -> str:
        """``name``, or "name (2)", "name (3)"... the first no dataset of the workspace has."""
        name = clean_dataset_name(name)
        candidate, number = name, 1
        while self.named(principal, workspace_id, candidate) is not None:
            number += 1
            candidate = f"{name[:190]} ({number})"
        return candidate

    def versions(self, principal: Principal, dataset_id) -> list[DatasetVersion]:
        with self.engine.connect() as conn:
            dataset = self._load(conn, principal, dataset_id, Role.VIEWER)
            rows = conn.execute(
                select(dataset_versions, users.c.name.label("creator"))
                .outerjoin(users, users.c.id == dataset_versions.c.created_by)
                .where(dataset_versions.c.dataset_id == dataset.id)
                .order_by(dataset_versions.c.version.desc())
            ).all()
        return [
            DatasetVersion(r.version, r.rows, r.size_bytes, json.loads(r.schema_json), r.operation, r.source_name,
                           r.source_format, as_utc(r.created_at), r.creator, r.path)
            for r in rows
        ]

    # --- changing ---------------------------------------------------------------------

    def update(self, principal: Principal, dataset_id, name: str | None = None, description: str | None = None) -> Dataset:
        values = {}
        if name is not None:
            values["name"] = clean_dataset_name(name)
        if description is not None:
            if len(description) > 5000:
                raise InvalidInput("The description must be at most 5,000 characters long")
            values["description"] = description.strip()
        if not values:
            raise InvalidInput("Nothing to change: send a name and/or a description")
        with self.engine.begin() as conn:
            dataset = self._load(conn, principal, dataset_id, Role.EDITOR)
            conn.execute(update(datasets).where(datasets.c.id == dataset.id).values(updated_at=utcnow(), **values))
        return self.get(principal, dataset_id)

    def _version_created(self, principal: Principal, dataset_id, operation: str) -> Dataset:
        dataset = self.get(principal, dataset_id)
        self.audit.record(principal, f"dataset.{operation}", target_type="dataset", target_id=dataset.id,
                          target_name=dataset.name, workspace_id=dataset.workspace_id, version=dataset.version,
                          rows=dataset.rows)
        for listener in self.listeners:
            try:
                listener.version_created(principal, dataset)
            except Exception:  # the version is committed; a listener must not make it look failed
                log.exception("listener %r failed after version %s of dataset %s", listener, dataset.version, dataset.id)
        return dataset

    def prune_versions(self, dataset_id: int, keep: int) -> int:
        """Delete all but the ``keep`` newest versions of a dataset whose versions are
        snapshots (a site's events): rows first, then files. Returns the versions deleted."""
        with self.engine.begin() as conn:
            old = conn.execute(select(dataset_versions.c.version, dataset_versions.c.path)
                               .where(dataset_versions.c.dataset_id == int(dataset_id))
                               .order_by(dataset_versions.c.version.desc()).offset(keep)).all()
            if old:
                conn.execute(delete(dataset_versions).where(dataset_versions.c.dataset_id == int(dataset_id),
                                                            dataset_versions.c.version.in_([v for v, _ in old])))
        for _, path in old:
            (self.data_dir / path).unlink(missing_ok=True)
        return len(old)

    def delete(self, principal: Principal, dataset_id) -> None:
        with self.engine.begin() as conn:
            dataset = self._load(conn, principal, dataset_id, Role.EDITOR)
            paths = conn.execute(select(dataset_versions.c.path).where(dataset_versions.c.dataset_id == dataset.id)).scalars().all()
            conn.execute(delete(dataset_versions).where(dataset_versions.c.dataset_id == dataset.id))
            conn.execute(delete(datasets).where(datasets.c.id == dataset.id))
        # Files go after the rows are gone: a crash in between leaves only orphan files,
        # which start-up removes.
        for path in paths:
            (self.data_dir / path).unlink(missing_ok=True)
            forget_shared_copies(self.data_dir / SHARED_SUBSETS, Path(path))
        self.audit.record(principal, "dataset.deleted", target_type="dataset", target_id=dataset.id,
                          target_name=dataset.name, workspace_id=dataset.workspace_id)
        for listener in self.listeners:
            listener.dataset_deleted(dataset.id)

    # --- ingest -----------------------------------------------------------------------

    def sheets(self, path: Path, filename: str) -> list[str] | None:
        """Sheet names when the file is an Excel workbook, else None."""
        lower = filename.lower()
        with open(path, "rb") as handle:
            head = handle.read(8)
        is_zip_excel = head.startswith(b"PK\x03\x04") and lower.endswith((".xlsx", ".xlsm"))
        if is_zip_excel or head.startswith(b"\xd0\xcf\x11\xe0") or lower.endswith((".xls", ".xlsx", ".xlsm")):
            return list_sheets(path, filename, self.limits.expansion(self.tmp_dir), self.limits.memory_budget)
        return None

    def prepare(self, path: Path, filename: str, sheet: str | None = None, encoding: str | None = None):
        """The uploaded file made readable (decompressed, decoded, a sheet converted). The
        caller cleans it up; passing it on to create_from_file/add_version saves doing the
        same work twice."""
        return prepare(path, filename, self.tmp_dir, self.limits.expansion(self.tmp_dir), sheet, encoding,
                       self.limits.memory_budget)

    def inspect_file(self, path: Path, filename: str, sheet: str | None = None,
                     options: dict | None = None, allow_empty: bool = False) -> ingest.Inspection:
        """What the file holds, read with the person's ``options`` (see ingest.read_options)."""
        choices = ingest.read_options(options)
        source = self.prepare(path, filename, sheet, choices.get("encoding"))
        try:
            return ingest.inspect(source, self.tmp_dir, choices, allow_empty)
        finally:
            source.cleanup()

    def _write_version_file(self, path: Path, filename: str, sheet, plans, user_typed, on_progress,
                            inspection: ingest.Inspection | None = None, source=None,
                            written: ingest.Written | None = None) -> tuple[str, int, int, list[dict], str]:
        """Ingest to a temp file, fsync, rename into the datasets folder. Returns
        (relative path, rows, size, schema, format). The caller then writes the metadata.
        A ``source`` given by the caller stays the caller's to clean up. With ``written``,
        ``path`` is a temp Parquet file of ours already in its final form
        (ingest.DatasetFileWriter): it gets the checks every Parquet file gets (prepare:
        readable, within the expansion cap) and is then moved into place as it is."""
        if written is not None:
            self.prepare(path, filename).cleanup()
            relative, size = self._commit_file(path)
            return relative, written.rows, size, written.schema, "parquet"
        owned = source is None
        if owned:
            source = self.prepare(path, filename, sheet)
        tmp = self._tmp_path(".parquet.tmp")
        try:
            if inspection is None or inspection.format != source.format:
                inspection = ingest.inspect(source, self.tmp_dir)
            if plans is None:
                plans = ingest.default_plan(inspection)
            rows, schema = ingest.write_parquet(source, inspection, plans, tmp, self.tmp_dir, on_progress, user_typed)
            relative, size = self._commit_file(tmp)
            return relative, rows, size, schema, source.format
        finally:
            tmp.unlink(missing_ok=True)
            if owned:
                source.cleanup()

    def _tmp_path(self, suffix: str) -> Path:
        # The pid and host in the name let start-up tell a dead process's leftovers from a
        # live one's, on this machine only.
        return self.tmp_dir / f"{temp_owner()}-{uuid.uuid4().hex}{suffix}"

    def _commit_file(self, tmp: Path) -> tuple[str, int]:
        """fsync the finished temp file and rename it into place: (relative path, size)."""
        _fsync_file(tmp)
        final = self.files_dir / f"{uuid.uuid4().hex}.parquet"
        os.replace(tmp, final)
        _fsync_dir(self.files_dir)
        return str(final.relative_to(self.data_dir)), final.stat().st_size

    def create_from_file(
        self, principal: Principal, workspace_id, path: Path, filename: str, name: str | None = None,
        sheet: str | None = None, plans=None, user_typed=None, on_progress: Callable[[float], None] | None = None,
        description: str = "", inspection: ingest.Inspection | None = None, source=None,
        written: ingest.Written | None = None,
    ) -> Dataset:
        with self.engine.connect() as conn:
            self.workspaces.require_role(conn, principal, workspace_id, Role.EDITOR)
        dataset_name = clean_dataset_name(name) if name else default_dataset_name(filename, sheet)
        relative, rows, size, schema, fmt = self._write_version_file(path, filename, sheet, plans, user_typed,
                                                                      on_progress, inspection, source, written)
        now = utcnow()
        try:
            with self.engine.begin() as conn:
                # Check again inside the transaction: membership may have changed meanwhile.
                self.workspaces.require_role(conn, principal, workspace_id, Role.EDITOR)
                # The quota is counted in the database, so every worker process agrees.
                check_stored(conn, self.limits, principal.user_id, size)
                dataset_id = conn.execute(insert(datasets).values(
                    workspace_id=int(workspace_id), name=dataset_name, description=description or "", current_version=1,
                    created_by=principal.user_id, created_at=now, updated_at=now,
                ).returning(datasets.c.id)).scalar_one()
                conn.execute(insert(dataset_versions).values(
                    dataset_id=dataset_id, version=1, path=relative, rows=rows, size_bytes=size,
                    schema_json=ingest.schema_json(schema), operation="create", source_name=filename[:300],
                    source_format=fmt, created_by=principal.user_id, created_at=now,
                ))
        except BaseException:
            (self.data_dir / relative).unlink(missing_ok=True)
            raise
        _count_written(rows, size)
        return self._version_created(principal, dataset_id, "created")

    def add_version(
        self, principal: Principal, dataset_id, path: Path, filename: str, mode: str = "replace",
        sheet: str | None = None, plans=None, user_typed=None, on_progress=None,
        inspection: ingest.Inspection | None = None, source=None, options: dict | None = None,
        written: ingest.Written | None = None,
    ) -> Dataset:
        """A new version from a file: ``replace`` takes the file as it is; ``append`` adds
        its rows to the current version and needs the same columns. ``written``: see
        _write_version_file (replace only)."""
        if mode not in ("replace", "append"):
            raise InvalidInput("Choose replace or append")
        current = self.get(principal, dataset_id)
        with self.engine.connect() as conn:
            self._load(conn, principal, dataset_id, Role.EDITOR)
        if mode == "append":
            relative, rows, size, schema, fmt = self._append_file(current, path, filename, sheet, on_progress, options)
        else:
            relative, rows, size, schema, fmt = self._write_version_file(path, filename, sheet, plans, user_typed,
                                                                          on_progress, inspection, source, written)
        try:
            with self.engine.begin() as conn:
                dataset = self._load(conn, principal, dataset_id, Role.EDITOR)
                check_stored(conn, self.limits, principal.user_id, size)
                version = conn.execute(
                    select(func.max(dataset_versions.c.version)).where(dataset_versions.c.dataset_id == dataset.id)
                ).scalar_one() + 1
                now = utcnow()
                conn.execute(insert(dataset_versions).values(
                    dataset_id=dataset.id, version=version, path=relative, rows=rows, size_bytes=size,
                    schema_json=ingest.schema_json(schema), operation=mode, source_name=filename[:300],
                    source_format=fmt, created_by=principal.user_id, created_at=now,
                ))
                conn.execute(update(datasets).where(datasets.c.id == dataset.id)
                             .values(current_version=version, updated_at=now))
        except BaseException:
            (self.data_dir / relative).unlink(missing_ok=True)
            raise
        _count_written(rows, size)
        return self._version_created(principal, dataset_id, "replaced" if mode == "replace" else "appended")

    def _append_file(self, current: Dataset, path: Path, filename: str, sheet, on_progress, options=None):
        choices = ingest.read_options(options)
        source = self.prepare(path, filename, sheet, choices.get("encoding"))
        new_part = self._tmp_path(".parquet.tmp")
        combined = self._tmp_path(".parquet.tmp")
        try:
            inspection = ingest.inspect(source, self.tmp_dir, choices)
            by_name = {c.name.lower(): c for c in inspection.columns}
            wanted = {c["name"].lower() for c in current.schema}
            if set(by_name) != wanted:
                missing = sorted(wanted - set(by_name))
                extra = sorted(set(by_name) - wanted)
                detail = "; ".join(part for part in (
                    f"missing: {', '.join(missing)}" if missing else "",
                    f"not in the dataset: {', '.join(extra)}" if extra else "") if part)
                raise IngestError(f"To append, the file needs the same columns as the dataset ({detail})")
            plans = []
            for column in current.schema:
                info = by_name[column["name"].lower()]
                fmt = info.date_format if column["type"] in ("date", "timestamp") else None
                numbers = info.number_format if column["type"] in ("integer", "float") else None
                plans.append(ingest.ColumnPlan(info.source, column["name"], column["type"], True, fmt, numbers))
            rows_new, _ = ingest.write_parquet(source, inspection, plans, new_part, self.tmp_dir, on_progress,
                                               user_typed={p.source for p in plans})
            con = connect(self.tmp_dir)
            try:
                old = self.file_path(current)
                con.execute(f"COPY (SELECT * FROM read_parquet({literal(str(old))}) UNION ALL BY NAME "
                            f"SELECT * FROM read_parquet({literal(str(new_part))})) TO {literal(str(combined))} "
                            f"(FORMAT parquet, {ingest.PARQUET_OPTIONS})")
                rows = con.execute(f"SELECT count(*) FROM read_parquet({literal(str(combined))})").fetchone()[0]
            finally:
                con.close()
            relative, size = self._commit_file(combined)
            return relative, rows, size, current.schema, source.format
        finally:
            new_part.unlink(missing_ok=True)
            combined.unlink(missing_ok=True)
            source.cleanup()

    def derive_version(self, principal: Principal, dataset_id, expected_version: int, column: str,
                       column_type: str, inputs: list[str], compute: Callable, note: str = "",
                       on_progress: Callable[[float], None] | None = None) -> Dataset:
        """A new version (operation "derive"): the current rows with one more column whose
        values ``compute(frame_of_inputs) -> sequence`` gives, batch by batch (bounded
        memory). Needs an editor; Conflict if the dataset moved past ``expected_version``."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from analytics.columns import STORAGE_TYPE
        from storage.errors import Conflict

        with self.engine.connect() as conn:
            current = self._load(conn, principal, dataset_id, Role.EDITOR)
        if current.version != expected_version:
            raise Conflict("The dataset has a newer version than the one analysed; run the analysis again")
        if column in current.column_names:
            raise InvalidInput(f"The dataset already has a column {column!r}")
        arrow_type = {"integer": pa.int64(), "float": pa.float64(), "text": pa.string()}[column_type]
        tmp = self._tmp_path(".parquet.tmp")
        try:
            source = pq.ParquetFile(self.file_path(current))
            schema = source.schema_arrow.append(pa.field(column, arrow_type))
            done = 0
            with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
                for batch in source.iter_batches(batch_size=122880):
                    values = pa.array(compute(batch.select(inputs).to_pandas()), type=arrow_type)
                    writer.write_table(pa.Table.from_batches([batch]).append_column(schema.field(column), values))
                    done += batch.num_rows
                    if on_progress and current.rows:
                        on_progress(done / current.rows)
            relative, size = self._commit_file(tmp)
        finally:
            tmp.unlink(missing_ok=True)
        new_schema = current.schema + [{"name": column, "type": column_type, "storage_type": STORAGE_TYPE[column_type]}]
        try:
            with self.engine.begin() as conn:
                dataset = self._load(conn, principal, dataset_id, Role.EDITOR)
                if dataset.version != expected_version:
                    raise Conflict("The dataset got a new version meanwhile; run the analysis again")
                check_stored(conn, self.limits, principal.user_id, size)
                version = conn.execute(
                    select(func.max(dataset_versions.c.version)).where(dataset_versions.c.dataset_id == dataset.id)
                ).scalar_one() + 1
                now = utcnow()
                conn.execute(insert(dataset_versions).values(
                    dataset_id=dataset.id, version=version, path=relative, rows=done, size_bytes=size,
                    schema_json=ingest.schema_json(new_schema), operation="derive", source_name=(note or column)[:300],
                    source_format="parquet", created_by=principal.user_id, created_at=now,
                ))
                conn.execute(update(datasets).where(datasets.c.id == dataset.id)
                             .values(current_version=version, updated_at=now))
        except BaseException:
            (self.data_dir / relative).unlink(missing_ok=True)
            raise
        return self._version_created(principal, dataset_id, "derived")

    # --- reading rows -------------------------------------------------------------------

    def rows(self, principal: Principal, dataset_id, offset: int = 0, limit: int = 100,
             sort_model=None, filter_model=None) -> tuple[list[str], list[list], int]:
        """(column names, rows, total rows matching the filter)."""
        dataset = self.get(principal, dataset_id)
        try:
            offset, limit = max(0, int(offset)), int(limit)
        except (TypeError, ValueError):
            raise InvalidInput("offset and limit must be whole numbers") from None
        if not 1 <= limit <= MAX_PAGE_ROWS:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_ROWS}")
        where, params = where_clause(filter_model, dataset.schema)
        order = order_clause(sort_model, dataset.schema)
        con = self._reader()
        try:
            if order and "file_row_number" not in dataset.column_names:
                data = self._sorted_page(con, dataset, where, params, order, offset, limit)
            else:
                columns = ", ".join(quote_ident(n) for n in dataset.column_names)
                data = con.execute(f"SELECT {columns} FROM {self._source(dataset)} {where} {order} LIMIT ? OFFSET ?",
                                   params + [limit, offset]).fetchall()
            total = self._matching(dataset, where, params, con)
        finally:
            con.close()
        return dataset.column_names, [list(r) for r in data], total

    def _sorted_page(self, con, dataset: Dataset, where: str, params: list, order: str, offset: int,
                     limit: int) -> list[tuple]:
        """A page of a sorted view in two steps: the file row numbers of the view's rows in
        order, SORTED_BLOCK at a time (a scan of the sort and filter columns only, cached
        per version, filter and sort), then the page's rows by number. Sorting 10M rows for
        every page read every column and cost ~300 ms of CPU a page; a grid scrolled
        through a sort now pays that scan once per 50 pages and ~15 ms for each. The row
        number also breaks ties, so rows of equal values keep one order from page to page
        (none shown twice or skipped)."""
        first, last = offset // SORTED_BLOCK, (offset + limit - 1) // SORTED_BLOCK
        numbers = []
        for block in range(first, last + 1):
            found = self._sorted_block(con, dataset, where, params, order, block)
            numbers.extend(found)
            if len(found) < SORTED_BLOCK:
                break
        wanted = numbers[offset - first * SORTED_BLOCK:][:limit]
        if not wanted:
            return []
        columns = ", ".join(quote_ident(n) for n in dataset.column_names)
        listed = ", ".join(str(int(n)) for n in wanted)  # integers DuckDB gave: nothing to quote
        found = {row[0]: row[1:] for row in con.execute(
            f"SELECT file_row_number, {columns} FROM {self._source(dataset)} WHERE file_row_number IN ({listed})")
            .fetchall()}
        return [found[n] for n in wanted]

    def _sorted_block(self, con, dataset: Dataset, where: str, params: list, order: str, block: int) -> array:
        key = ("sorted", dataset.path, where, json.dumps(params, default=str), order, block)
        hit = self._grid_cache.get(key)
        if hit is not None:
            return hit
        rows = con.execute(f"SELECT file_row_number FROM {self._source(dataset)} {where} {order}, file_row_number "
                           "LIMIT ? OFFSET ?", params + [SORTED_BLOCK, block * SORTED_BLOCK]).fetchall()
        numbers = array("q", (row[0] for row in rows))
        self._grid_cache.put(key, numbers)
        return numbers

    def count_rows(self, principal: Principal, dataset_id, filter_model=None) -> tuple[int, int]:
        """(rows matching the grid's filter model, all rows) of the current version: a
        count in SQL over the same filtered relation the grid pages through, cached per
        version and filter, so each block the grid fetches does not count again."""
        dataset = self.get(principal, dataset_id)
        where, params = where_clause(filter_model, dataset.schema)
        return self._matching(dataset, where, params), dataset.rows

    def _reader(self) -> duckdb.DuckDBPyConnection:
        """A cursor (the caller closes it) of the process's one DuckDB instance for the
        grid's pages, counts and decimals. A new instance a page cost ~20 ms of CPU (more
        than the page's query on a warm file) and read the Parquet footer again; a cursor
        of a shared one costs neither, and all pages share one memory limit."""
        with self._reader_lock:
            if self._reader_db is None:
                self._reader_db = shared_instance(self.tmp_dir)
            return self._reader_db.cursor()

    def close(self) -> None:
        """Close the shared instance; a query still running on it makes DuckDB refuse, which
        is logged rather than raised (shutdown goes on: the process is ending)."""
        with self._reader_lock:
            db, self._reader_db = self._reader_db, None
        if db is not None:
            try:
                db.close()
            except duckdb.Error:
                log.warning("the grid's DuckDB instance was busy at shutdown", exc_info=True)

    def _source(self, dataset: Dataset) -> str:
        return f"read_parquet({literal(str(self.file_path(dataset)))})"

    def _matching(self, dataset: Dataset, where: str, params: list, con=None) -> int:
        if not where:
            return dataset.rows
        key = ("count", dataset.path, where, json.dumps(params, default=str))
        hit = self._grid_cache.get(key)
        if hit is not None:
            return hit
        own = con is None
        con = self._reader() if own else con
        try:
            total = con.execute(f"SELECT count(*) FROM {self._source(dataset)} {where}", params).fetchone()[0]
        finally:
            if own:
                con.close()
        self._grid_cache.put(key, total)
        return total

    def column_decimals(self, principal: Principal, dataset_id) -> dict[str, int]:
        """{float column: decimals to show}, so one column never mixes "9,952" and
        "10,086.02": the fewest decimals that show the values of the first
        DECIMALS_SCAN_ROWS rows as they are, at most MAX_DECIMALS, and at most 2 for a
        column whose values reach LARGE_NUMBER. Cached per version."""
        dataset = self.get(principal, dataset_id)
        floats = [c["name"] for c in dataset.schema if c["type"] == "float"]
        if not floats:
            return {}
        key = ("decimals", dataset.path)
        hit = self._grid_cache.get(key)
        if hit is not None:
            return hit
        parts = []
        for name in floats:
            col = quote_ident(name)
            # The fewest decimals k with |x - round(x, k)| below the float's own noise.
            steps = " ".join(f"WHEN abs({col} - round({col}, {k})) <= 1e-9 * greatest(1, abs({col})) THEN {k}"
                             for k in range(MAX_DECIMALS))
            parts.append(f"max(CASE WHEN {col} IS NULL OR NOT isfinite({col}) THEN 0 {steps} ELSE {MAX_DECIMALS} END)")
            parts.append(f"max(abs({col})) FILTER (WHERE isfinite({col}))")
        con = self._reader()
        try:
            # DuckDB's virtual file_row_number reads only the first row groups in parallel;
            # a LIMIT subquery would read them one thread at a time (4 to 8 times slower).
            first_rows = ("" if "file_row_number" in dataset.column_names
                          else f"WHERE file_row_number < {DECIMALS_SCAN_ROWS}")
            row = con.execute(f"SELECT {', '.join(parts)} FROM {self._source(dataset)} {first_rows}").fetchone()
        finally:
            con.close()
        decimals = {}
        for position, name in enumerate(floats):
            needed, largest = row[2 * position] or 0, row[2 * position + 1] or 0
            decimals[name] = int(min(needed, 2) if largest >= LARGE_NUMBER else needed)
        self._grid_cache.put(key, decimals)
        return decimals

    def open_query(self, principal: Principal, dataset_id, sort_model=None, filter_model=None):
        """(dataset, connection, SQL, params) for streaming a whole view; the caller
        closes the connection."""
        dataset = self.get(principal, dataset_id)
        where, params = where_clause(filter_model, dataset.schema)
        order = order_clause(sort_model, dataset.schema)
        columns = ", ".join(quote_ident(n) for n in dataset.column_names)
        sql = f"SELECT {columns} FROM {self._source(dataset)} {where} {order}"
        return dataset, connect(self.tmp_dir), sql, params

    # --- start-up ------------------------------------------------------------------------

    def recover(self, grace: timedelta = timedelta(minutes=10)) -> dict:
        """Remove what an interrupted ingest left: temp files of processes that are gone
        (or older than ``grace``), and dataset files no metadata row points to (older than
        ``grace``, so a concurrent ingest in another worker between rename and commit is
        left alone)."""
        removed_tmp = removed_orphans = 0
        cutoff = time.time() - grace.total_seconds()
        for path in self.tmp_dir.glob("*"):
            dead_owner = temp_owner_gone(path.name)
            try:
                if path.is_file() and (dead_owner or path.stat().st_mtime < cutoff):
                    path.unlink()
                    removed_tmp += 1
            except FileNotFoundError:
                pass
        with self.engine.connect() as conn:
            known = set(conn.execute(select(dataset_versions.c.path)).scalars().all())
        for path in self.files_dir.glob("*.parquet"):
            relative = str(path.relative_to(self.data_dir))
            try:
                if relative not in known and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed_orphans += 1
            except FileNotFoundError:
                pass
        # Copies of filter sets shared between processes (storage.filtered_subsets), older
        # than any process still loading them; a stopped cluster leaves its last ones.
        sweep_shared_copies(self.data_dir / SHARED_SUBSETS, time.time() - SHARED_SECONDS)
        if removed_tmp or removed_orphans:
            log.info("start-up clean-up removed %d temp and %d orphan dataset files", removed_tmp, removed_orphans)
        return {"tmp": removed_tmp, "orphans": removed_orphans}

