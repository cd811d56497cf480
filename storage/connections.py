"""A workspace's database connections (issue 16, point 1).

Who may do what:
- owners add, change, delete and read a connection's settings (host, port, database,
  user, TLS mode). Connecting the server to an address is their decision;
- editors see that a connection exists (its name and kind), test it, list its tables,
  query it in the SQL editor and copy its tables into datasets. They never see where it
  points or who it logs in as;
- viewers and other workspaces see nothing: another workspace's connection is a 404.
The password is sealed at rest (storage/secret_box.py) and no route returns it; the
audit log records that it changed, never its value.

A connection is tested when it is saved: one that cannot connect is not kept, and the
message says why (a refused password, nothing listening, an unknown database).
"""
from __future__ import annotations

import json
import re
import time
from contextlib import contextmanager
from typing import Callable

import pyarrow as pa
from sqlalchemy import delete, insert, select, update

from storage.audit import NO_AUDIT
from storage.connectors import (
    DEFAULT_PORTS,
    KINDS,
    QUERY_TIMEOUT,
    TLS_MODES,
    ConnectionFailed,
    Target,
    one_select,
    open_source,
    test_target,
    without_settings,
)
from storage.database import as_utc, row_id, utcnow
from storage.errors import DataInsightError, InvalidInput, NotFound
from storage.principal import Principal, Role
from storage.secret_box import SecretBox, SecretUnreadable
from storage.sql_editor import _cell
from storage.tables import connections, dataset_syncs

MAX_CONNECTIONS_PER_WORKSPACE = 50
MAX_PASSWORD = 1_000
PAYLOAD_KEYS = {"name", "kind", "host", "port", "database", "user", "password", "options"}
OPTION_KEYS = {"sslmode"}
_HOST = re.compile(r"^[A-Za-z0-9._:\[\]-]{1,255}$")


class ConnectionService:
    audit = NO_AUDIT  # Storage gives it the real AuditLog

    def __init__(self, engine, workspaces, secret_key: Callable[[], str], clock=utcnow):
        self.engine = engine
        self.workspaces = workspaces
        self._secret_key = secret_key
        self._box: SecretBox | None = None
        self.clock = clock
        self.test_on_save = True
        self.allow_loopback = False  # DATAINSIGHT_CONNECTIONS_ALLOW_LOOPBACK: the server's own databases
        self.query_timeout = QUERY_TIMEOUT  # seconds, on the database, for the SQL editor

    @property
    def box(self) -> SecretBox:
        if self._box is None:
            self._box = SecretBox(self._secret_key())
        return self._box

    # --- reading ------------------------------------------------------------------------------

    def _load(self, conn, principal: Principal, connection_id, minimum: Role):
        """(row, role): the connection if the principal has ``minimum`` in its workspace.
        A connection of a workspace they are not in is not there for them."""
        connection_id = row_id(connection_id, "connection")
        row = conn.execute(select(connections).where(connections.c.id == connection_id)).first()
        if row is None or self.workspaces.role_of(conn, principal, row.workspace_id) is None:
            raise NotFound(f"There is no connection {connection_id}")
        role = self.workspaces.require_role(conn, principal, row.workspace_id, minimum)
        return row, role

    @staticmethod
    def _summary(row) -> dict:
        return {"id": row.id, "workspace_id": row.workspace_id, "name": row.name, "kind": row.kind}

    def _to_dict(self, row, role: Role) -> dict:
        found = self._summary(row)
        if role.at_least(Role.OWNER):
            found.update(host=row.host, port=row.port, database=row.database_name, user=row.username,
                         options=json.loads(row.options_json), has_password=bool(row.password_sealed),
                         created_at=as_utc(row.created_at).isoformat(), updated_at=as_utc(row.updated_at).isoformat())
        return found

    def list(self, principal: Principal, workspace_id) -> list[dict]:
        with self.engine.connect() as conn:
            role = self.workspaces.require_role(conn, principal, workspace_id, Role.EDITOR)
            rows = conn.execute(select(connections).where(connections.c.workspace_id == int(workspace_id))
                                .order_by(connections.c.name, connections.c.id)).all()
        return [self._to_dict(r, role) for r in rows]

    def get(self, principal: Principal, connection_id) -> dict:
        with self.engine.connect() as conn:
            row, role = self._load(conn, principal, connection_id, Role.EDITOR)
        return self._to_dict(row, role)

    def target(self, principal: Principal, connection_id, minimum: Role = Role.EDITOR) -> tuple[Target, object]:
        """(Target, row) to connect with, for someone with ``minimum`` in its workspace."""
        with self.engine.connect() as conn:
            row, _ = self._load(conn, principal, connection_id, minimum)
        return self._target(row), row

    def target_of(self, connection_id: int, workspace_id: int | None = None) -> Target | None:
        """The Target of a connection by id, with no rights check (the scheduler's side,
        which checks its owner itself; a live chart, whose dataset was checked); None when
        it was deleted, or is not in ``workspace_id``."""
        query = select(connections).where(connections.c.id == int(connection_id))
        if workspace_id is not None:
            query = query.where(connections.c.workspace_id == int(workspace_id))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return self._target(row) if row is not None else None

    def _target(self, row) -> Target:
        try:
            password = self.box.open(row.password_sealed) if row.password_sealed else ""
        except SecretUnreadable:
            raise ConnectionFailed(f"The password of the connection {row.name!r} cannot be read: the app's secret "
                                   "key changed since it was saved. An owner of the workspace should enter the "
                                   "password again") from None
        return Target(row.kind, row.host, row.port, row.database_name, row.username, password,
                      json.loads(row.options_json), self.allow_loopback)

    # --- changing -----------------------------------------------------------------------------

    def _clean(self, payload, current: dict | None = None) -> dict:
        if not isinstance(payload, dict):
            raise InvalidInput("A connection must be a JSON object")
        unknown = sorted(set(payload) - PAYLOAD_KEYS)
        if unknown:
            raise InvalidInput(f"Unknown field {unknown[0]!r}; a connection has {', '.join(sorted(PAYLOAD_KEYS))}",
                               details={"field": unknown[0]})
        merged = {**(current or {}), **{k: v for k, v in payload.items() if v is not None or k == "password"}}
        name = merged.get("name")
        if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200:
            raise InvalidInput("Give the connection a name of 1 to 200 characters", details={"field": "name"})
        kind = merged.get("kind")
        if kind not in KINDS:
            raise InvalidInput(f"kind is {' or '.join(KINDS)}", details={"field": "kind"})
        host = merged.get("host")
        if not isinstance(host, str) or not _HOST.match(host.strip()):
            raise InvalidInput("host is the database server's name or address, such as db.example.com or 10.0.0.5",
                               details={"field": "host"})
        port = merged.get("port") if merged.get("port") is not None else DEFAULT_PORTS[kind]
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise InvalidInput("port is a whole number from 1 to 65535", details={"field": "port"})
        database = merged.get("database") or ""
        if not isinstance(database, str) or len(database) > 200 or (kind == "postgresql" and not database.strip()):
            raise InvalidInput("database is the name of the database to read (up to 200 characters)",
                               details={"field": "database"})
        user = merged.get("user")
        if not isinstance(user, str) or not user.strip() or len(user) > 200:
            raise InvalidInput("user is the name the app logs in as (1 to 200 characters); give it read access "
                               "only", details={"field": "user"})
        password = merged.get("password")
        if current is None and not password:
            # Without one, database drivers fall back to the server's own credentials
            # (~/.pgpass, PGPASSWORD): every connection logs in with a password of its own.
            raise InvalidInput("Give the password of the database user", details={"field": "password"})
        if password is not None and (not isinstance(password, str) or not password or len(password) > MAX_PASSWORD):
            raise InvalidInput(f"password is text of 1 to {MAX_PASSWORD} characters", details={"field": "password"})
        for key in ("password", "user", "database"):
            value = password if key == "password" else merged.get(key)
            if isinstance(value, str) and any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
                raise InvalidInput(f"{key} holds a control character", details={"field": key})
        options = merged.get("options") or {}
        if not isinstance(options, dict):
            raise InvalidInput('options is an object, such as {"sslmode": "require"}', details={"field": "options"})
        extra = sorted(set(options) - OPTION_KEYS)
        if extra:
            raise InvalidInput(f"Unknown option {extra[0]!r}; the options are {', '.join(sorted(OPTION_KEYS))}",
                               details={"field": "options"})
        if options.get("sslmode", "prefer") not in TLS_MODES:
            raise InvalidInput(f"options.sslmode is one of {', '.join(TLS_MODES)}", details={"field": "options"})
        return {"name": name.strip(), "kind": kind, "host": host.strip(), "port": port,
                "database": database.strip(), "user": user.strip(), "password": password, "options": options}

    def _check_connects(self, values: dict) -> None:
        if not self.test_on_save:
            return
        outcome = test_target(Target(values["kind"], values["host"], values["port"], values["database"],
                                     values["user"], values["password"] or "", values["options"], self.allow_loopback))
        if not outcome["ok"]:
            raise ConnectionFailed(f"The connection was not saved: {outcome['message']}")

    def create(self, principal: Principal, workspace_id, payload) -> dict:
        with self.engine.connect() as conn:
            self.workspaces.require_role(conn, principal, workspace_id, Role.OWNER)
        values = self._clean(payload)
        self._check_connects(values)
        now = self.clock()
        with self.engine.begin() as conn:
            self.workspaces.require_role(conn, principal, workspace_id, Role.OWNER)
            count = len(conn.execute(select(connections.c.id)
                                     .where(connections.c.workspace_id == int(workspace_id))).all())
            if count >= MAX_CONNECTIONS_PER_WORKSPACE:
                raise InvalidInput(f"A workspace has at most {MAX_CONNECTIONS_PER_WORKSPACE} connections")
            connection_id = conn.execute(insert(connections).values(
                workspace_id=int(workspace_id), name=values["name"], kind=values["kind"], host=values["host"],
                port=values["port"], database_name=values["database"], username=values["user"],
                password_sealed=self.box.seal(values["password"] or ""), options_json=json.dumps(values["options"]),
                created_by=principal.user_id, created_at=now, updated_at=now,
            ).returning(connections.c.id)).scalar_one()
        self.audit.record(principal, "connection.created", target_type="connection", target_id=connection_id,
                          target_name=values["name"], workspace_id=int(workspace_id), kind=values["kind"],
                          host=values["host"], port=values["port"])
        return self.get(principal, connection_id)

    def update(self, principal: Principal, connection_id, patch) -> dict:
        with self.engine.connect() as conn:
            row, _ = self._load(conn, principal, connection_id, Role.OWNER)
        if not isinstance(patch, dict):
            raise InvalidInput("A change must be a JSON object")
        current = {"name": row.name, "kind": row.kind, "host": row.host, "port": row.port,
                   "database": row.database_name, "user": row.username, "options": json.loads(row.options_json)}
        values = self._clean(patch, current)
        if "password" not in patch or patch["password"] is None:
            values["password"] = self._target(row).password
        reaches = {k: values[k] for k in ("kind", "host", "port", "database", "user", "options")}
        if reaches != {k: current[k] for k in reaches} or "password" in patch:
            self._check_connects(values)
        with self.engine.begin() as conn:
            self._load(conn, principal, connection_id, Role.OWNER)
            conn.execute(update(connections).where(connections.c.id == row.id).values(
                name=values["name"], kind=values["kind"], host=values["host"], port=values["port"],
                database_name=values["database"], username=values["user"],
                password_sealed=self.box.seal(values["password"] or ""), options_json=json.dumps(values["options"]),
                updated_at=self.clock()))
        changed = sorted(k for k in PAYLOAD_KEYS if k in patch)
        self.audit.record(principal, "connection.changed", target_type="connection", target_id=row.id,
                          target_name=values["name"], workspace_id=row.workspace_id, fields=changed)
        return self.get(principal, row.id)

    def delete(self, principal: Principal, connection_id) -> None:
        """Deletes the connection. Its synced datasets stay as their last copy, without refresh."""
        with self.engine.begin() as conn:
            row, _ = self._load(conn, principal, connection_id, Role.OWNER)
            conn.execute(update(dataset_syncs).where(dataset_syncs.c.connection_id == row.id)
                         .values(next_refresh_at=None))
            conn.execute(delete(connections).where(connections.c.id == row.id))
        self.audit.record(principal, "connection.deleted", target_type="connection", target_id=row.id,
                          target_name=row.name, workspace_id=row.workspace_id)

    # --- using --------------------------------------------------------------------------------

    def _used_by(self, principal: Principal, connection_id) -> tuple[Target, object, Role]:
        with self.engine.connect() as conn:
            row, role = self._load(conn, principal, connection_id, Role.EDITOR)
        return self._target(row), row, role

    @staticmethod
    @contextmanager
    def _errors_for(role: Role, target: Target):
        """Errors as ``role`` may read them: editors use a connection without seeing where
        it points, so its host, port, user and database name are left out of theirs."""
        try:
            yield
        except DataInsightError as exc:
            if role.at_least(Role.OWNER):
                raise
            raise type(exc)(without_settings(exc.message, target), details=exc.details) from None

    def test(self, principal: Principal, connection_id) -> dict:
        target, _, role = self._used_by(principal, connection_id)
        result = test_target(target)  # a failure is an answer here, not an error
        if not result["ok"] and not role.at_least(Role.OWNER):
            result["message"] = without_settings(result["message"], target)
        return result

    def tables(self, principal: Principal, connection_id) -> list[dict]:
        target, _, role = self._used_by(principal, connection_id)
        with self._errors_for(role, target), open_source(target, QUERY_TIMEOUT) as source:
            return source.tables()

    def query(self, principal: Principal, connection_id, workspace_id, sql: str, limit: int) -> dict:
        """The SQL editor against a connection: one SELECT, read-only, time-limited on the
        database, at most ``limit`` rows. Editors of the connection's workspace."""
        target, row, role = self._used_by(principal, connection_id)
        if workspace_id is not None and int(workspace_id) != row.workspace_id:
            raise NotFound(f"There is no connection {connection_id} in workspace {workspace_id}")
        with self._errors_for(role, target):
            return self._query(target, sql, limit)

    def _query(self, target: Target, sql: str, limit: int) -> dict:
        statement = one_select(sql, target.kind)
        del statement  # checked; the database runs the text as written
        query = sql.strip().rstrip(";").strip()
        started = time.perf_counter()
        with open_source(target, self.query_timeout) as source:
            columns = source.columns(query)
            batches, count = [], 0
            for batch in source.batches(f"SELECT * FROM ({query}\n) AS editor_query LIMIT {limit + 1}", columns):
                batches.append(batch)
                count += batch.num_rows
                if count > limit:
                    break
        table = pa.Table.from_batches(batches, schema=pa.schema(
            [pa.field(c.name, c.arrow if c.arrow is not None else pa.string()) for c in columns]))
        kept = table.slice(0, limit)
        rows = [[_cell(v) for v in r] for r in zip(*(kept.column(i).to_pylist() for i in range(kept.num_columns)))]
        return {"columns": [c.name for c in columns], "types": [c.db_type for c in columns], "rows": rows,
                "truncated": count > limit, "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
                "limit": limit, "notes": [c.note for c in columns if c.note]}
