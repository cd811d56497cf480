"""/api/v1/connections: databases a workspace reads from, and the datasets copied from them
(storage.connections and storage.syncs check the rights: owners manage connections,
editors use them, nobody gets a password back).

POST /api/v1/connections {"workspace_id", "name", "kind", "host", "port", "database", "user",
"password", "options"} → 201 (tested first); GET /api/v1/connections?workspace_id=;
GET/PATCH/DELETE /api/v1/connections/<id>; POST /api/v1/connections/<id>/test;
GET /api/v1/connections/<id>/tables; POST /api/v1/connections/<id>/datasets {"name",
"table" | "sql", "refresh"?, "incremental_column"?} → 202 with the job;
POST /api/v1/datasets/<id>/refresh → 202; GET/PATCH /api/v1/datasets/<id>/sync.
"""
from __future__ import annotations

from typing import Literal

import flask

from api._helpers import created, json_body, optional_json_body
from api.openapi import Answer, Body, operation, query
from storage.errors import InvalidInput
from web.context import current_storage, require_principal

blueprint = flask.Blueprint("api_connections", __name__, url_prefix="/api/v1")


class ConnectionOptions(Body):
    sslmode: Literal["disable", "prefer", "require", "verify-ca", "verify-full"] | None = None


class ConnectionIn(Body):
    workspace_id: int | None = None
    name: str | None = None
    kind: Literal["postgresql", "mysql"] | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    user: str | None = None
    password: str | None = None
    options: ConnectionOptions | None = None


class ConnectionOut(Answer):
    id: int
    workspace_id: int
    name: str
    kind: str


class ConnectionList(Answer):
    connections: list[ConnectionOut]


class ConnectionTest(Answer):
    ok: bool
    message: str
    server_version: str | None
    elapsed_ms: float


class TableList(Answer):
    tables: list[dict]


class SyncIn(Body):
    name: str
    table: str | None = None
    sql: str | None = None
    refresh: str | dict | None = None
    incremental_column: str | None = None
    description: str | None = None
    mode: Literal["sync", "live"] | None = None
    cache_seconds: int | None = None


class CopyStarted(Answer):
    job_id: str
    status_url: str


class RefreshIn(Body):
    full: bool | None = None


class SyncChange(Body):
    refresh: str | dict | None = None
    incremental_column: str | None = None


class SyncOut(Answer):
    dataset_id: int
    connection_id: int | None
    refresh: str | dict
    last_status: str | None
    last_refresh_at: str | None


def _accepted(payload: dict):
    response = flask.jsonify(payload)
    response.status_code = 202
    return response


@blueprint.get("/connections")
@operation("A workspace's connections (editors; owners also see their settings)", "Connections",
           query=dict([query("workspace_id", {"type": "integer"}, "", True)]), answer=ConnectionList)
def list_connections():
    principal = require_principal()
    raw = flask.request.args.get("workspace_id", "")
    if not raw.strip().isdigit():
        raise InvalidInput("Say which workspace: ?workspace_id=<id>", details={"field": "workspace_id"})
    return flask.jsonify({"connections": current_storage().connections.list(principal, int(raw))})


@blueprint.post("/connections")
@operation("Connect a PostgreSQL or MySQL database (owners); it is tested before it is saved", "Connections",
           body=ConnectionIn, status=201, answer=ConnectionOut)
def create_connection():
    principal = require_principal()
    body = json_body()
    if body.get("workspace_id") is None:
        raise InvalidInput("Say which workspace: workspace_id", details={"field": "workspace_id"})
    payload = {k: v for k, v in body.items() if k != "workspace_id"}
    return created(current_storage().connections.create(principal, body["workspace_id"], payload))


@blueprint.get("/connections/<connection_id>")
@operation("One connection (owners see its settings, never its password)", "Connections", answer=ConnectionOut)
def get_connection(connection_id):
    principal = require_principal()
    return flask.jsonify(current_storage().connections.get(principal, connection_id))


@blueprint.patch("/connections/<connection_id>")
@operation("Change a connection (owners); a changed address or login is tested first", "Connections",
           body=ConnectionIn, answer=ConnectionOut)
def update_connection(connection_id):
    principal = require_principal()
    body = json_body()
    payload = {k: v for k, v in body.items() if k != "workspace_id"}
    return flask.jsonify(current_storage().connections.update(principal, connection_id, payload))


@blueprint.delete("/connections/<connection_id>")
@operation("Delete a connection (owners); its datasets keep their last copy", "Connections", status=204)
def delete_connection(connection_id):
    principal = require_principal()
    current_storage().connections.delete(principal, connection_id)
    return "", 204


@blueprint.post("/connections/<connection_id>/test")
@operation("Whether the app can connect now (a failure is an answer with ok false)", "Connections",
           answer=ConnectionTest)
def test_connection(connection_id):
    principal = require_principal()
    return flask.jsonify(current_storage().connections.test(principal, connection_id))


@blueprint.get("/connections/<connection_id>/tables")
@operation("The schemas, tables and views the connection can read, with their columns and types", "Connections",
           answer=TableList)
def connection_tables(connection_id):
    principal = require_principal()
    return flask.jsonify({"tables": current_storage().connections.tables(principal, connection_id)})


@blueprint.post("/connections/<connection_id>/datasets")
@operation("Copy a table or a query's rows into a new dataset, in the background", "Connections", body=SyncIn,
           status=202, answer=CopyStarted)
def sync_dataset(connection_id):
    principal = require_principal()
    return _accepted(current_storage().syncs.create(principal, connection_id, json_body()))


@blueprint.post("/datasets/<dataset_id>/refresh")
@operation("Copy a synced dataset's rows again now (new rows only when it is incremental, unless full)",
           "Connections", body=RefreshIn, body_required=False, status=202, answer=CopyStarted)
def refresh_dataset(dataset_id):
    principal = require_principal()
    full = optional_json_body().get("full") is True
    return _accepted(current_storage().syncs.refresh(principal, dataset_id, full=full))


@blueprint.get("/datasets/<dataset_id>/sync")
@operation("Where a synced dataset comes from, its refresh setting and its last refresh", "Connections",
           answer=SyncOut)
def get_sync(dataset_id):
    principal = require_principal()
    return flask.jsonify(current_storage().syncs.get(principal, dataset_id))


@blueprint.patch("/datasets/<dataset_id>/sync")
@operation("Change a synced dataset's refresh setting or incremental column (editors)", "Connections",
           body=SyncChange, answer=SyncOut)
def update_sync(dataset_id):
    principal = require_principal()
    return flask.jsonify(current_storage().syncs.update(principal, dataset_id, json_body()))
