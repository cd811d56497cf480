"""Dashboards: widget grids owned by a workspace, and their public read-only links.

Viewers of the workspace can open a dashboard, editors change it. Every widget's spec is
checked on save against its dataset, which must be in the dashboard's workspace and
readable by the person saving. A share link is an unguessable token of which only the
SHA-256 is kept; it reaches that dashboard's own widgets and nothing else (see
``QueryService.render_shared``), and a revoked or unknown token is NotFound.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Callable

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.engine import Engine

from analytics import dashboard_templates
from analytics.column_choice import Columns
from analytics.dashboards import bottom_of
from analytics.names import check_name, header_text
from analytics.widgets.spec import normalize_dashboard_filter, normalize_spec
from storage.audit import NO_AUDIT
from storage.database import as_utc, read_only, utcnow
from storage.dataset_sources import SAMPLED_SOURCES
from storage.datasets import DatasetService
from storage.duck import connect, literal
from storage.errors import Conflict, Forbidden, InvalidInput, InvalidSpec, NotFound
from storage.principal import SCOPE_READ, Principal, Role
from storage.tables import dashboard_shares, dashboards, dataset_syncs
from storage.workspaces import WorkspaceService

MAX_WIDGETS = 100
MODIFY_ATTEMPTS = 5
MAX_TABS = 20
MAX_FILTERS = 20
DEFAULT_TABS = [{"id": "main", "title": "Overview"}]
PAYLOAD_KEYS = {"name", "description", "tabs", "widgets", "filters"}
_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")

# Who a share link acts as: no user (id 0 matches nobody), read-only. Handing it to any
# other service finds no workspace, so it reaches nothing but the shared dashboard.
SHARE_PRINCIPAL = Principal(user_id=0, email="", name="Shared link", is_admin=False, via="share", scope=SCOPE_READ)


def share_url(token: str) -> str:
    return f"/public/dashboards/{token}"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class DashboardService:
    audit = NO_AUDIT  # Storage gives it the real AuditLog

    def __init__(self, engine: Engine, workspaces: WorkspaceService, datasets: DatasetService, roles=None):
        self.engine = engine
        self.reads = read_only(engine)  # single reads: one round trip (storage.database)
        self.workspaces = workspaces
        self.datasets = datasets
        self.roles = roles  # storage.roles.ColumnRoleService: what each column is, for generate()

    # --- loading --------------------------------------------------------------------------

    def _active_share(self, conn, dashboard_id: int):
        return conn.execute(select(dashboard_shares.c.id).where(
            dashboard_shares.c.dashboard_id == dashboard_id, dashboard_shares.c.revoked_at.is_(None))).first()

    def _to_dict(self, conn, row, role: Role | None, shared: bool | None = None) -> dict:
        if shared is None:
            shared = self._active_share(conn, row.id) is not None
        return {
            "id": row.id, "workspace_id": row.workspace_id, "name": row.name, "description": row.description or "",
            "tabs": json.loads(row.tabs_json), "widgets": json.loads(row.widgets_json),
            "filters": json.loads(row.filters_json), "shared": shared,
            "created_at": as_utc(row.created_at).isoformat(), "updated_at": as_utc(row.updated_at).isoformat(),
            "role": role.value if role else "viewer",
        }

    def _load(self, conn, principal: Principal, dashboard_id, minimum: Role):
        try:
            dashboard_id = int(dashboard_id)
        except (TypeError, ValueError):
            raise NotFound(f"There is no dashboard {dashboard_id!r}") from None
        # The row, the reader's role and whether a public link is live: one round trip.
        row = conn.execute(_BY_ID_WITH_ROLE, {"dashboard_id": dashboard_id, "acting_user_id": principal.user_id}).first()
        if row is None:
            raise NotFound(f"There is no dashboard {dashboard_id} that you can see")
        try:
            role = self.workspaces.checked_role(principal, row.workspace_id, row.member_role, Role.VIEWER)
        except NotFound:
            raise NotFound(f"There is no dashboard {dashboard_id} that you can see") from None
        if minimum != Role.VIEWER:
            role = self.workspaces.checked_role(principal, row.workspace_id, role, minimum)
        return row, role

    def list(self, principal: Principal, workspace_id) -> list[dict]:
        with self.engine.connect() as conn:
            role = self.workspaces.require_role(conn, principal, workspace_id, Role.VIEWER)
            rows = conn.execute(select(dashboards).where(dashboards.c.workspace_id == int(workspace_id))
                                .order_by(dashboards.c.updated_at.desc(), dashboards.c.id.desc())).all()
            shared = set(conn.execute(
                select(dashboard_shares.c.dashboard_id).join(dashboards, dashboards.c.id == dashboard_shares.c.dashboard_id)
                .where(dashboards.c.workspace_id == int(workspace_id), dashboard_shares.c.revoked_at.is_(None))
            ).scalars().all())
            return [self._to_dict(conn, r, role, r.id in shared) for r in rows]

    def get(self, principal: Principal, dashboard_id) -> dict:
        with self.reads.connect() as conn:
            row, role = self._load(conn, principal, dashboard_id, Role.VIEWER)
            return self._to_dict(conn, row, role, bool(row.has_share))

    # --- validation -----------------------------------------------------------------------

    def _clean(self, principal: Principal, workspace_id: int, payload: dict, partial: bool) -> dict:
        """The payload's fields checked and normalised, as table values."""
        if not isinstance(payload, dict):
            raise InvalidInput("A dashboard must be a JSON object")
        unknown = sorted(set(payload) - PAYLOAD_KEYS - {"id", "workspace_id", "shared", "created_at", "updated_at",
                                                        "role"})
        if unknown:
            raise InvalidInput(f"Unknown dashboard field {unknown[0]!r}")
        values: dict = {}
        if "name" in payload or not partial:
            name = payload.get("name")
            if not isinstance(name, str) or not name.strip():
                raise InvalidInput("Give the dashboard a name", details={"field": "name"})
            values["name"] = check_name(name, "dashboard name", field="name")
        if "description" in payload or not partial:
            description = payload.get("description") or ""
            if not isinstance(description, str) or len(description) > 5000:
                raise InvalidInput("The description must be text of at most 5,000 characters")
            values["description"] = description.strip()
        tabs = None
        if "tabs" in payload or not partial:
            tabs = self._tabs(payload.get("tabs"))
            values["tabs_json"] = json.dumps(tabs)
        if "widgets" in payload or not partial:
            if tabs is None:
                raise InvalidInput("Send the tabs with the widgets")  # replaced by the caller for PATCH
            values["widgets_json"] = json.dumps(self._widgets(principal, workspace_id, payload.get("widgets"), tabs))
        if "filters" in payload or not partial:
            values["filters_json"] = json.dumps(self._filters(payload.get("filters")))
        return values

    @staticmethod
    def _tabs(tabs) -> list[dict]:
        if tabs in (None, []):
            return [dict(t) for t in DEFAULT_TABS]
        if not isinstance(tabs, list) or len(tabs) > MAX_TABS:
            raise InvalidInput(f"Tabs must be a list of at most {MAX_TABS}")
        out, seen = [], set()
        for tab in tabs:
            if not isinstance(tab, dict):
                raise InvalidInput("Each tab must be an object with id and title")
            tid, title = tab.get("id"), tab.get("title")
            if not isinstance(tid, str) or not _ID.match(tid):
                raise InvalidInput("A tab id must be 1-64 letters, digits, '-' or '_'")
            if tid in seen:
                raise InvalidInput(f"Two tabs have the id {tid!r}")
            if not isinstance(title, str) or not title.strip() or len(title) > 100:
                raise InvalidInput("Each tab needs a title of at most 100 characters")
            seen.add(tid)
            out.append({"id": tid, "title": check_name(title, "tab title", field="tabs", max_length=100)})
        return out

    def _widgets(self, principal: Principal, workspace_id: int, widgets, tabs: list[dict]) -> list[dict]:
        if widgets is None:
            return []
        if not isinstance(widgets, list) or len(widgets) > MAX_WIDGETS:
            raise InvalidInput(f"Widgets must be a list of at most {MAX_WIDGETS}")
        tab_ids = [t["id"] for t in tabs]
        schemas: dict = {}
        out, seen = [], set()
        for index, widget in enumerate(widgets):
            if not isinstance(widget, dict):
                raise InvalidInput("Each widget must be an object with spec and layout")
            extra = set(widget) - {"id", "spec", "layout", "tab"}
            if extra:
                raise InvalidInput(f"Unknown widget field {sorted(extra)[0]!r}")
            wid = widget.get("id") or uuid.uuid4().hex[:12]
            if not isinstance(wid, str) or not _ID.match(wid):
                raise InvalidInput("A widget id must be 1-64 letters, digits, '-' or '_'")
            if wid in seen:
                raise InvalidInput(f"Two widgets have the id {wid!r}")
            seen.add(wid)
            spec = widget.get("spec")
            if not isinstance(spec, dict):
                raise InvalidSpec(f"Widget {wid!r} needs a spec")
            try:
                spec = self._spec(principal, workspace_id, spec, schemas)
            except (InvalidSpec, NotFound) as exc:
                raise type(exc)(f"Widget {spec.get('title') or wid!r}: {exc.message}") from None
            tab = widget.get("tab") or tab_ids[0]
            if tab not in tab_ids:
                raise InvalidInput(f"Widget {wid!r} is on a tab {tab!r} that the dashboard does not have")
            out.append({"id": wid, "spec": spec, "layout": self._layout(widget.get("layout"), index), "tab": tab})
        return out

    def _spec(self, principal: Principal, workspace_id: int, spec: dict, schemas: dict) -> dict:
        dataset_id = spec.get("dataset_id")
        if spec.get("type") == "markdown" and dataset_id is None:
            return normalize_spec(spec, [])
        if dataset_id is None:
            raise InvalidSpec("The spec needs a dataset_id")
        if dataset_id not in schemas:
            dataset = self.datasets.get(principal, dataset_id)
            if dataset.workspace_id != workspace_id:
                raise InvalidSpec("Its dataset is in another workspace; a dashboard uses its own workspace's data")
            schemas[dataset_id] = (dataset.id, dataset.schema)
        real_id, schema = schemas[dataset_id]
        normalized = normalize_spec(spec, schema)
        normalized["dataset_id"] = real_id
        return normalized

    @staticmethod
    def _layout(layout, index: int) -> dict:
        if layout is None:  # two widgets a row, in order
            return {"x": (index % 2) * 6, "y": (index // 2) * 4, "w": 6, "h": 4}
        if not isinstance(layout, dict):
            raise InvalidInput("A widget layout must be {x, y, w, h}")
        out = {}
        for key, low, high in (("x", 0, 100), ("y", 0, 100_000), ("w", 1, 100), ("h", 1, 1000)):
            value = layout.get(key)
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidInput(f"The layout's {key} must be a whole number between {low} and {high}")
            out[key] = value
        return out

    @staticmethod
    def _filters(filters) -> list[dict]:
        if filters is None:
            return []
        if not isinstance(filters, list) or len(filters) > MAX_FILTERS:
            raise InvalidInput(f"Filters must be a list of at most {MAX_FILTERS}")
        out = [normalize_dashboard_filter(f) for f in filters]
        ids = [f["id"] for f in out]
        if len(set(ids)) != len(ids):
            raise InvalidInput("Two dashboard filters have the same id")
        return out

    # --- changing -------------------------------------------------------------------------

    def create(self, principal: Principal, workspace_id, payload: dict) -> dict:
        with self.engine.connect() as conn:
            self.workspaces.require_role(conn, principal, workspace_id, Role.EDITOR)
        values = self._clean(principal, int(workspace_id), payload, partial=False)
        now = utcnow()
        with self.engine.begin() as conn:
            self.workspaces.require_role(conn, principal, workspace_id, Role.EDITOR)
            dashboard_id = conn.execute(insert(dashboards).values(
                workspace_id=int(workspace_id), created_by=principal.user_id, created_at=now, updated_at=now, **values,
            ).returning(dashboards.c.id)).scalar_one()
        self.audit.record(principal, "dashboard.created", target_type="dashboard", target_id=dashboard_id,
                          target_name=values.get("name"), workspace_id=workspace_id)
        return self.get(principal, dashboard_id)

    def update(self, principal: Principal, dashboard_id, patch: dict) -> dict:
        """Replace the fields in ``patch`` (the API's PATCH: the last write wins)."""
        return self.modify(principal, dashboard_id, lambda _board: patch, compare=False)

    def modify(self, principal: Principal, dashboard_id, change: Callable[[dict], dict | None],
               compare: bool = True) -> dict:
        """Apply ``change`` (the current dashboard -> a patch, or None for nothing) and
        save it, editor role. The save only lands if the dashboard is still the one
        ``change`` saw; if someone saved in between, ``change`` runs again on theirs. So
        two editors adding a widget at the same moment both keep theirs (a plain
        read-then-write would lose one). Answers the dashboard."""
        for _attempt in range(MODIFY_ATTEMPTS):
            with self.engine.connect() as conn:
                row, role = self._load(conn, principal, dashboard_id, Role.EDITOR)
                board = self._to_dict(conn, row, role)
            patch = change(board)
            if patch is None:
                return board
            if not isinstance(patch, dict):
                raise InvalidInput("Send the fields to change as a JSON object")
            if not set(patch) & PAYLOAD_KEYS:
                raise InvalidInput("Nothing to change: send name, description, tabs, widgets and/or filters")
            if "widgets" in patch and "tabs" not in patch:
                patch = {**patch, "tabs": board["tabs"]}
            elif "tabs" in patch and "widgets" not in patch:
                # Widgets must still sit on tabs that exist: re-check them against the new tabs.
                patch = {**patch, "widgets": board["widgets"]}
            values = self._clean(principal, row.workspace_id, patch, partial=True)
            where = dashboards.c.id == row.id
            if compare:
                for column in ("name", "description", "tabs_json", "widgets_json", "filters_json"):
                    seen = getattr(row, column)
                    where &= dashboards.c[column].is_(None) if seen is None else dashboards.c[column] == seen
            with self.engine.begin() as conn:
                self._load(conn, principal, dashboard_id, Role.EDITOR)
                saved = conn.execute(update(dashboards).where(where).values(updated_at=utcnow(), **values))
            if saved.rowcount:
                self.audit.record(principal, "dashboard.changed", target_type="dashboard", target_id=row.id,
                                  target_name=values.get("name", row.name), workspace_id=row.workspace_id,
                                  fields=sorted(set(patch) & PAYLOAD_KEYS))
                return self.get(principal, dashboard_id)
        raise Conflict("The dashboard kept changing while this change was saved (others are editing it); try again")

    def add_widget(self, principal: Principal, dashboard_id, widget: dict) -> dict:
        """Append one widget ({"spec", "layout"?, "tab"?}) to the dashboard (editor role),
        below the others on its tab, full width unless a layout is given; the spec is
        checked like every other. Answers the dashboard."""
        if not isinstance(widget, dict):
            raise InvalidInput("Send the widget as a JSON object with spec (and optionally layout, tab)")
        extra = set(widget) - {"spec", "layout", "tab"}
        if extra:
            raise InvalidInput(f"Unknown widget field {sorted(extra)[0]!r}")
        if not isinstance(widget.get("spec"), dict):
            raise InvalidSpec("The field 'spec' must be a widget spec object")
        added_id = uuid.uuid4().hex[:12]

        def append(board: dict) -> dict:
            if len(board["widgets"]) >= MAX_WIDGETS:
                raise InvalidInput(f"A dashboard holds at most {MAX_WIDGETS} widgets")
            tab = widget.get("tab") or board["tabs"][0]["id"]
            layout = widget.get("layout")
            if layout is None:
                layout = {"x": 0, "y": bottom_of(board, tab), "w": 12, "h": 6}
            added = {"id": added_id, "spec": widget["spec"], "layout": layout, "tab": tab}
            return {"widgets": board["widgets"] + [added]}

        return self.modify(principal, dashboard_id, append)

    def delete(self, principal: Principal, dashboard_id) -> None:
        with self.engine.begin() as conn:
            row, _ = self._load(conn, principal, dashboard_id, Role.EDITOR)
            conn.execute(delete(dashboard_shares).where(dashboard_shares.c.dashboard_id == row.id))
            conn.execute(delete(dashboards).where(dashboards.c.id == row.id))
        self.audit.record(principal, "dashboard.deleted", target_type="dashboard", target_id=row.id,
                          target_name=row.name, workspace_id=row.workspace_id)

    def duplicate(self, principal: Principal, dashboard_id, name: str | None = None) -> dict:
        """A copy in the same workspace (not shared), named "Copy of ..." unless named."""
        with self.engine.connect() as conn:
            row, _ = self._load(conn, principal, dashboard_id, Role.EDITOR)
        # A name saved before names were checked may hold a line break: the copy's is clean.
        payload = {"name": name or f"Copy of {header_text(row.name)}"[:200], "description": row.description,
                   "tabs": json.loads(row.tabs_json), "widgets": json.loads(row.widgets_json),
                   "filters": json.loads(row.filters_json)}
        return self.create(principal, row.workspace_id, payload)

    # --- sharing --------------------------------------------------------------------------

    def share(self, principal: Principal, dashboard_id, allow_export: bool = False) -> dict:
        """A new public link (an editor's decision); any earlier link stops working, since
        only hashes are kept and the old token cannot be shown again. ``allow_export``:
        whether the link may also download the dashboard's reports (off unless asked)."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        with self.engine.begin() as conn:
            row, _ = self._load(conn, principal, dashboard_id, Role.EDITOR)
            conn.execute(update(dashboard_shares).where(dashboard_shares.c.dashboard_id == row.id,
                                                        dashboard_shares.c.revoked_at.is_(None)).values(revoked_at=now))
            conn.execute(insert(dashboard_shares).values(dashboard_id=row.id, token_hash=_hash(token),
                                                         created_by=principal.user_id, created_at=now,
                                                         allow_export=bool(allow_export)))
        self.audit.record(principal, "dashboard.shared", target_type="dashboard", target_id=row.id,
                          target_name=row.name, workspace_id=row.workspace_id, allow_export=bool(allow_export))
        return {"token": token, "url": share_url(token), "allow_export": bool(allow_export)}

    def set_share_export(self, principal: Principal, dashboard_id, allow: bool) -> dict:
        """Let the live public link download reports, or stop it (an editor's decision)."""
        with self.engine.begin() as conn:
            row, _ = self._load(conn, principal, dashboard_id, Role.EDITOR)
            changed = conn.execute(update(dashboard_shares).where(
                dashboard_shares.c.dashboard_id == row.id, dashboard_shares.c.revoked_at.is_(None))
                .values(allow_export=bool(allow))).rowcount
        if not changed:
            raise NotFound("This dashboard has no public link; share it first")
        self.audit.record(principal, "dashboard.share_changed", target_type="dashboard", target_id=row.id,
                          target_name=row.name, workspace_id=row.workspace_id, allow_export=bool(allow))
        return {"allow_export": bool(allow)}

    def share_export_allowed(self, principal: Principal, dashboard_id) -> bool | None:
        """Whether the live public link may download reports; None when there is no link."""
        with self.engine.connect() as conn:
            row, _ = self._load(conn, principal, dashboard_id, Role.VIEWER)
            found = conn.execute(select(dashboard_shares.c.allow_export).where(
                dashboard_shares.c.dashboard_id == row.id, dashboard_shares.c.revoked_at.is_(None))).first()
        return None if found is None else bool(found.allow_export)

    def share_allows_export(self, token) -> bool:
        """Whether the live link ``token`` may download reports (NotFound if no such link)."""
        self.get_shared(token)
        with self.engine.connect() as conn:
            return bool(conn.execute(select(dashboard_shares.c.allow_export).where(
                dashboard_shares.c.token_hash == _hash(token), dashboard_shares.c.revoked_at.is_(None))).scalar())

    def require_share_export(self, token) -> None:
        """Forbidden unless the live link ``token`` allows exports (NotFound if no such link)."""
        if not self.share_allows_export(token):
            raise Forbidden("This shared link does not allow downloads; ask the dashboard's editors to allow them")

    def revoke_share(self, principal: Principal, dashboard_id) -> None:
        with self.engine.begin() as conn:
            row, _ = self._load(conn, principal, dashboard_id, Role.EDITOR)
            revoked = conn.execute(update(dashboard_shares).where(dashboard_shares.c.dashboard_id == row.id,
                                                                  dashboard_shares.c.revoked_at.is_(None))
                                   .values(revoked_at=utcnow())).rowcount
        if revoked:
            self.audit.record(principal, "dashboard.unshared", target_type="dashboard", target_id=row.id,
                              target_name=row.name, workspace_id=row.workspace_id)

    def get_shared(self, token) -> tuple[dict, Principal]:
        """(the dashboard, the share principal) for a live token; NotFound otherwise."""
        if not isinstance(token, str) or not 20 <= len(token) <= 100:
            raise NotFound("This link does not exist or was revoked")
        with self.engine.connect() as conn:
            row = conn.execute(
                select(dashboards).join(dashboard_shares, dashboard_shares.c.dashboard_id == dashboards.c.id)
                .where(dashboard_shares.c.token_hash == _hash(token), dashboard_shares.c.revoked_at.is_(None))
            ).first()
            if row is None:
                raise NotFound("This link does not exist or was revoked")
            dashboard = self._to_dict(conn, row, Role.VIEWER)
        return dashboard, SHARE_PRINCIPAL

    # --- generated dashboards ---------------------------------------------------------------

    def generate(self, principal: Principal, dataset_id, workspace_id=None) -> dict:
        """A dashboard proposed for the dataset from its columns' roles (storage.roles): a
        template when its columns match a known shape (video game sales, music
        preferences, retail transactions), else an X-ray (KPIs of the measures, the main
        measure over time, top categories, distributions, a scatter, a map, the rows)."""
        dataset = self.datasets.get(principal, dataset_id)
        if workspace_id in (None, ""):
            workspace_id = dataset.workspace_id
        if str(workspace_id) != str(dataset.workspace_id):
            raise InvalidInput("A dashboard is made in the dataset's own workspace")
        with self.engine.connect() as conn:
            self.workspaces.require_role(conn, principal, workspace_id, Role.EDITOR)
        # What each column is (corrections included) and the summary it was inferred from:
        # the proposal sums, averages and draws only what the roles allow.
        roles, summary = self.roles.roles_for(dataset), self.roles.summary_for(dataset)
        con = connect(self.datasets.tmp_dir)
        try:
            source = f"read_parquet({literal(str(self.datasets.file_path(dataset)))})"
            summary = {**summary, **dashboard_templates.facts(con, source, Columns(dataset.schema, roles, summary))}
        finally:
            con.close()
        with self.engine.connect() as conn:  # a live table's or query's file is a sample of its rows
            sampled = conn.execute(select(dataset_syncs.c.source).where(
                dataset_syncs.c.dataset_id == dataset.id)).scalar() in SAMPLED_SOURCES
        payload = dashboard_templates.propose(dataset.name, dataset.schema, summary, dataset.id, roles,
                                              sampled=sampled)
        return self.create(principal, workspace_id, payload)


# A dashboard, the acting user's role in its workspace and whether a public link is live,
# built once (see WorkspaceService.member_role).
_BY_ID_WITH_ROLE = select(
    dashboards,
    WorkspaceService.member_role(dashboards.c.workspace_id).label("member_role"),
    select(dashboard_shares.c.id)
    .where(dashboard_shares.c.dashboard_id == dashboards.c.id, dashboard_shares.c.revoked_at.is_(None))
    .exists().label("has_share"),
).where(dashboards.c.id == bindparam("dashboard_id"))
