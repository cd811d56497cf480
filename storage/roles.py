"""Column roles kept with the dataset: what each column is (analytics.roles), inferred
once per dataset version and stored with the column summary it came from, and a
person's corrections per dataset and column name, which outlive new versions for as
long as the column exists.

The inference reads the profile's statistics when the profile is ready, else the
one-scan summary (analytics.column_stats); a version inferred from the summary is
inferred again from the profile once that is ready (the profile has the exact figures
of very large tables). Other services that already resolved a dataset with access
checked (queries, dashboards, profiles) call ``roles_for(dataset)`` and
``summary_for(dataset)``.
"""
from __future__ import annotations

import datetime as dt
import json
import logging

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from analytics import roles as role_rules
from analytics.column_stats import summarize
from analytics.profiling.compute import jsonable
from storage.database import read_only, utcnow
from storage.datasets import Dataset, DatasetService
from storage.duck import connect, literal
from storage.errors import InvalidInput, NotFound
from storage.principal import Principal, Role
from storage.tables import column_role_overrides, column_roles, users
from storage.workspaces import WorkspaceService

log = logging.getLogger(__name__)

# A person's way of saying "decide for me again".
AUTO = (None, "", "auto")
SETTLED_ENTRIES = 256  # versions whose profile-based roles a process keeps


class ColumnRoleService:
    def __init__(self, engine: Engine, workspaces: WorkspaceService, datasets: DatasetService, profiles=None):
        self.engine = engine
        self.reads = read_only(engine)  # single reads: one round trip (storage.database)
        self.workspaces = workspaces
        self.datasets = datasets
        self.profiles = profiles  # storage.profiles.ProfileService: its ready profile is the better basis
        datasets.listeners.append(self)
        from storage.queries import _Recent

        # Roles inferred from a version's profile are never replaced (_store updates only
        # rows of another basis), so each process may keep them: every widget drawn asks.
        # The key holds the version's file, unique even where a deleted id is reused.
        self._settled = _Recent(SETTLED_ENTRIES)

    # --- what the API and the UI call ------------------------------------------------------

    def get(self, principal: Principal, dataset_id) -> dict[str, dict]:
        """{column: {"role", "detail", "reason", "source"}} of the dataset's current
        version, in schema order; source is "person" for a correction (then "inferred"
        holds what the app had decided) and "inferred" otherwise. Viewer access."""
        return self.roles_for(self.datasets.get(principal, dataset_id))

    def columns(self, principal: Principal, dataset_id) -> list[dict]:
        """The columns with their types and roles, as the API lists them."""
        dataset = self.datasets.get(principal, dataset_id)
        found = self.roles_for(dataset)
        return [{"name": c["name"], "type": c["type"], **found[c["name"]]} for c in dataset.schema]

    def set(self, principal: Principal, dataset_id, column, role, detail=None) -> dict:
        """A person's correction of one column's role (editor role). ``role`` None, "" or
        "auto" removes it: the inferred role applies again. Returns the column's role."""
        dataset = self.datasets.get(principal, dataset_id)
        if not isinstance(column, str) or column not in dataset.column_names:
            shown = column if isinstance(column, str) and len(column) <= 200 else "that"
            raise NotFound(f"The dataset has no column {shown!r}")
        entry = next(c for c in dataset.schema if c["name"] == column)
        if role not in AUTO:
            try:
                role, detail = role_rules.validate(role, detail)
                role_rules.check_fits(role, detail, entry["type"], column)
            except ValueError as exc:
                raise InvalidInput(str(exc)) from None
        with self.engine.begin() as conn:
            # The role is checked in the transaction that writes: membership may have changed.
            try:
                self.workspaces.require_role(conn, principal, dataset.workspace_id, Role.EDITOR)
            except NotFound:
                raise NotFound(f"There is no dataset {dataset.id} that you can see") from None
            conn.execute(delete(column_role_overrides).where(column_role_overrides.c.dataset_id == dataset.id,
                                                             column_role_overrides.c.column_name == column))
            if role not in AUTO:
                conn.execute(insert(column_role_overrides).values(
                    dataset_id=dataset.id, column_name=column, role=role, detail=detail,
                    set_by=principal.user_id or None, set_at=utcnow()))
        return self.roles_for(dataset)[column]

    # --- for services that resolved the dataset already -------------------------------------

    def roles_for(self, dataset: Dataset) -> dict[str, dict]:
        """The roles of ``dataset`` (access already checked by the caller), corrections
        included; see get()."""
        inferred = self._inferred(dataset)[0]
        with self.reads.connect() as conn:
            rows = conn.execute(_CORRECTIONS, {"dataset_id": dataset.id}).all()
        corrections = {r.column_name: r for r in rows}
        found = {}
        for entry in dataset.schema:
            name = entry["name"]
            guess = inferred.get(name) or role_rules.infer_role(entry, {}, dataset.rows)
            fix = corrections.get(name)
            if fix is None:
                found[name] = {**guess, "source": "inferred"}
                continue
            who = f"by {fix.person}" if fix.person else "by a person"
            found[name] = {"role": fix.role, "detail": fix.detail,
                           "reason": f"Set {who} on {fix.set_at:%Y-%m-%d}"
                                     f" (the app had inferred: {role_rules.describe(guess['role'], guess['detail'])})",
                           "source": "person", "inferred": guess}
        return found

    def summary_for(self, dataset: Dataset) -> dict:
        """{"rows", "columns": {column: stats}}: the column summary the roles were
        inferred from (analytics.column_stats keys; dates as dates)."""
        summary = self._inferred(dataset)[1]
        types = {c["name"]: c["type"] for c in dataset.schema}
        for name, stats in summary["columns"].items():
            if types.get(name) in ("date", "timestamp"):
                stats["min"], stats["max"] = _as_time(stats.get("min")), _as_time(stats.get("max"))
        return summary

    # --- inference, once per version --------------------------------------------------------

    def _stored(self, dataset: Dataset):
        with self.engine.connect() as conn:
            return conn.execute(select(column_roles).where(column_roles.c.dataset_id == dataset.id,
                                                           column_roles.c.version == dataset.version)).first()

    def _ready_profile(self, dataset: Dataset) -> dict | None:
        return self.profiles.read_ready(dataset) if self.profiles is not None else None

    def _inferred(self, dataset: Dataset) -> tuple[dict, dict]:
        """(roles, summary) of the dataset's version: stored, or inferred now and stored."""
        key = (dataset.id, dataset.version, dataset.path)
        hit = self._settled.get(key)
        if hit is not None:
            return hit
        row = self._stored(dataset)
        if row is not None and row.basis == "profile":
            found = json.loads(row.roles_json), json.loads(row.summary_json)
            self._settled.put(key, found)
            return found
        profile = self._ready_profile(dataset)
        if profile is not None and profile.get("columns") is not None:
            stats = role_rules.stats_from_profile(profile["columns"])
            summary = {"rows": (profile.get("table") or {}).get("rows", dataset.rows), "columns": stats}
            basis = "profile"
        elif row is not None:
            return json.loads(row.roles_json), json.loads(row.summary_json)
        else:
            summary, basis = self._scan(dataset), "summary"
        inferred = role_rules.infer_roles(dataset.schema, summary["columns"], summary["rows"])
        summary = _jsonable(summary)
        self._store(dataset, basis, inferred, summary, replace=row is not None)
        return inferred, summary

    def _scan(self, dataset: Dataset) -> dict:
        con = connect(self.datasets.tmp_dir)
        try:
            return summarize(con, f"read_parquet({literal(str(self.datasets.file_path(dataset)))})",
                             dataset.schema, dataset.rows)
        finally:
            con.close()

    def _store(self, dataset: Dataset, basis: str, inferred: dict, summary: dict, replace: bool) -> None:
        values = {"basis": basis, "roles_json": json.dumps(inferred), "computed_at": utcnow(),
                  "summary_json": json.dumps(summary, allow_nan=False)}
        try:
            with self.engine.begin() as conn:
                if replace:
                    conn.execute(update(column_roles).where(column_roles.c.dataset_id == dataset.id,
                                                            column_roles.c.version == dataset.version,
                                                            column_roles.c.basis != "profile").values(**values))
                else:
                    conn.execute(insert(column_roles).values(dataset_id=dataset.id, version=dataset.version,
                                                             **values))
        except IntegrityError:
            # Another request or worker stored this version's roles a moment ago (or the
            # version was deleted meanwhile): theirs are as good as ours.
            log.debug("roles of dataset %s v%s stored concurrently", dataset.id, dataset.version)

    # --- listeners ---------------------------------------------------------------------------

    def version_created(self, principal: Principal, dataset: Dataset) -> None:
        """Corrections of columns the new version no longer has are dropped, and so are
        the roles inferred for earlier versions (only the current one is ever shown)."""
        with self.engine.begin() as conn:
            conn.execute(delete(column_roles).where(column_roles.c.dataset_id == dataset.id,
                                                    column_roles.c.version != dataset.version))
            conn.execute(delete(column_role_overrides).where(
                column_role_overrides.c.dataset_id == dataset.id,
                column_role_overrides.c.column_name.not_in(dataset.column_names)))

    def dataset_deleted(self, dataset_id: int) -> None:
        # The rows go with the dataset (ON DELETE CASCADE); nothing else is kept.
        return None


def _jsonable(summary: dict) -> dict:
    """The summary as JSON keeps it: dates as ISO text, no NaN or infinities."""
    columns = {}
    for name, stats in summary["columns"].items():
        clean = {}
        for key, value in stats.items():
            if isinstance(value, (dt.date, dt.datetime)):
                value = value.isoformat()
            elif isinstance(value, list):
                value = json.loads(json.dumps(value, default=str))
            elif not isinstance(value, (str, bool, type(None))):
                value = jsonable(value)
            clean[key] = value
        columns[name] = clean
    return {"rows": int(summary["rows"] or 0), "columns": columns}


def _as_time(value):
    if not isinstance(value, str):
        return value
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return parsed.date() if len(value) == 10 else parsed


# A dataset's corrections, read for every widget drawn: built once (building a select
# costs several times running it; see WorkspaceService.member_role).
_CORRECTIONS = (select(column_role_overrides, users.c.name.label("person"))
                .outerjoin(users, users.c.id == column_role_overrides.c.set_by)
                .where(column_role_overrides.c.dataset_id == bindparam("dataset_id")))
