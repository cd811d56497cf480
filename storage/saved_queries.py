"""SQL editor queries kept by name (issue 16, point 4): a person's own, or shared with the
workspace. Anyone who can open the SQL editor in a workspace saves queries there; a shared
one is listed and opened by every member; only the person who saved it (or a workspace
owner) changes or deletes it. A query for a connection needs the right to use that
connection, and is listed only to those who have it.
"""
from __future__ import annotations

from sqlalchemy import delete, insert, or_, select, update

from storage.database import MAX_ROW_ID, as_utc, row_id, utcnow
from storage.errors import Forbidden, InvalidInput, NotFound
from storage.principal import Principal, Role
from storage.sql_editor import MAX_SQL
from storage.tables import connections, saved_queries

MAX_PER_PERSON = 500
PAYLOAD_KEYS = {"name", "description", "sql", "connection_id", "shared"}


class SavedQueryService:
    def __init__(self, engine, workspaces, clock=utcnow):
        self.engine = engine
        self.workspaces = workspaces
        self.clock = clock

    @staticmethod
    def _to_dict(row, principal: Principal, role: Role) -> dict:
        return {"id": row.id, "workspace_id": row.workspace_id, "name": row.name, "description": row.description,
                "sql": row.sql, "connection_id": row.connection_id, "shared": row.shared,
                "mine": row.owner_id == principal.user_id,
                "editable": row.owner_id == principal.user_id or role.at_least(Role.OWNER),
                "created_at": as_utc(row.created_at).isoformat(), "updated_at": as_utc(row.updated_at).isoformat()}

    def _clean(self, conn, principal: Principal, workspace_id: int, payload, current: dict | None = None) -> dict:
        if not isinstance(payload, dict):
            raise InvalidInput("A saved query must be a JSON object")
        unknown = sorted(set(payload) - PAYLOAD_KEYS - {"workspace_id"})
        if unknown:
            raise InvalidInput(f"Unknown field {unknown[0]!r}; a saved query has {', '.join(sorted(PAYLOAD_KEYS))}",
                               details={"field": unknown[0]})
        merged = {**(current or {}), **payload}
        name = merged.get("name")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
            raise InvalidInput("Give the query a name of 1 to 200 characters", details={"field": "name"})
        sql = merged.get("sql")
        if not isinstance(sql, str) or not sql.strip() or len(sql) > MAX_SQL:
            raise InvalidInput(f"sql is the query's text, at most {MAX_SQL:,} characters", details={"field": "sql"})
        description = merged.get("description") or ""
        if not isinstance(description, str) or len(description) > 2000:
            raise InvalidInput("description is text of at most 2,000 characters", details={"field": "description"})
        shared = merged.get("shared", False)
        if not isinstance(shared, bool):
            raise InvalidInput("shared is true or false", details={"field": "shared"})
        connection_id = merged.get("connection_id")
        if connection_id is not None:
            if isinstance(connection_id, bool) or not isinstance(connection_id, int) or \
                    not 1 <= connection_id <= MAX_ROW_ID:
                raise InvalidInput("connection_id is a connection's id, or null", details={"field": "connection_id"})
            found = conn.execute(select(connections.c.workspace_id).where(connections.c.id == connection_id)).first()
            if found is None or found.workspace_id != workspace_id:
                raise NotFound(f"There is no connection {connection_id} in this workspace")
            self.workspaces.require_role(conn, principal, workspace_id, Role.EDITOR)
        return {"name": name.strip(), "sql": sql, "description": description, "shared": shared,
                "connection_id": connection_id}

    def create(self, principal: Principal, workspace_id, payload) -> dict:
        if not principal.can_write:
            raise Forbidden("This API token is read-only")
        now = self.clock()
        with self.engine.begin() as conn:
            role = self.workspaces.require_role(conn, principal, workspace_id, Role.VIEWER)
            values = self._clean(conn, principal, int(workspace_id), payload)
            mine = len(conn.execute(select(saved_queries.c.id)
                                    .where(saved_queries.c.owner_id == principal.user_id)).all())
            if mine >= MAX_PER_PERSON:
                raise InvalidInput(f"A person keeps at most {MAX_PER_PERSON} saved queries; delete some first")
            query_id = conn.execute(insert(saved_queries).values(
                workspace_id=int(workspace_id), owner_id=principal.user_id, created_at=now, updated_at=now, **values,
            ).returning(saved_queries.c.id)).scalar_one()
            row = conn.execute(select(saved_queries).where(saved_queries.c.id == query_id)).first()
        return self._to_dict(row, principal, role)

    def _load(self, conn, principal: Principal, query_id):
        """(row, role) of a query the principal may see: their own, or shared with a
        workspace they are in (and, for a connection's query, may use the connection)."""
        query_id = row_id(query_id, "saved query")
        row = conn.execute(select(saved_queries).where(saved_queries.c.id == query_id)).first()
        role = self.workspaces.role_of(conn, principal, row.workspace_id) if row is not None else None
        if row is None or role is None or (row.owner_id != principal.user_id and not row.shared) or \
                (row.connection_id is not None and not role.at_least(Role.EDITOR)):
            raise NotFound(f"There is no saved query {query_id}")
        return row, role

    def get(self, principal: Principal, query_id) -> dict:
        with self.engine.connect() as conn:
            row, role = self._load(conn, principal, query_id)
        return self._to_dict(row, principal, role)

    def list(self, principal: Principal, workspace_id) -> list[dict]:
        with self.engine.connect() as conn:
            role = self.workspaces.require_role(conn, principal, workspace_id, Role.VIEWER)
            found = select(saved_queries).where(
                saved_queries.c.workspace_id == int(workspace_id),
                or_(saved_queries.c.owner_id == principal.user_id, saved_queries.c.shared.is_(True)))
            if not role.at_least(Role.EDITOR):
                found = found.where(saved_queries.c.connection_id.is_(None))
            rows = conn.execute(found.order_by(saved_queries.c.name, saved_queries.c.id)).all()
        return [self._to_dict(r, principal, role) for r in rows]

    def _editable(self, conn, principal: Principal, query_id):
        row, role = self._load(conn, principal, query_id)
        if row.owner_id != principal.user_id and not role.at_least(Role.OWNER):
            raise Forbidden("Only the person who saved this query, or a workspace owner, can change it")
        if not principal.can_write:
            raise Forbidden("This API token is read-only")
        return row, role

    def update(self, principal: Principal, query_id, patch) -> dict:
        with self.engine.begin() as conn:
            row, role = self._editable(conn, principal, query_id)
            current = {"name": row.name, "sql": row.sql, "description": row.description, "shared": row.shared,
                       "connection_id": row.connection_id}
            values = self._clean(conn, principal, row.workspace_id, patch, current)
            conn.execute(update(saved_queries).where(saved_queries.c.id == row.id)
                         .values(updated_at=self.clock(), **values))
            row = conn.execute(select(saved_queries).where(saved_queries.c.id == row.id)).first()
        return self._to_dict(row, principal, role)

    def delete(self, principal: Principal, query_id) -> None:
        with self.engine.begin() as conn:
            row, _ = self._editable(conn, principal, query_id)
            conn.execute(delete(saved_queries).where(saved_queries.c.id == row.id))
