"""/api/v1/sql: the SQL editor's queries over a workspace's datasets (storage.sql_editor
runs them in a sandbox and checks the workspace membership).

POST /api/v1/sql {"workspace_id", "sql", "connection_id"?, "limit"?} →
{"columns", "types", "rows", "truncated", "elapsed_ms", "limit"}
POST /api/v1/sql/datasets {"workspace_id", "sql", "name", "refresh"?} → 201, the result saved as a
dataset that refreshes like a synced one (storage.syncs)
GET /api/v1/sql/history?workspace_id= → the person's own latest queries there
GET /api/v1/sql/tables?workspace_id= → the tables a query may name, with their columns
"""
from __future__ import annotations

import flask

from api._helpers import created, json_body
from api.openapi import Answer, Body, operation, query
from storage.errors import InvalidInput
from web.context import current_storage, require_principal

blueprint = flask.Blueprint("api_sql", __name__, url_prefix="/api/v1/sql")


class SqlAsk(Body):
    workspace_id: int
    sql: str
    connection_id: int | None = None
    limit: int | None = None


class SqlDatasetAsk(Body):
    workspace_id: int
    sql: str
    name: str
    description: str | None = None
    refresh: str | dict | None = None


class SqlDataset(Answer):
    id: int
    name: str
    rows: int
    version: int


class SqlResult(Answer):
    columns: list[str]
    types: list[str]
    rows: list[list]
    truncated: bool
    elapsed_ms: float


class SqlHistory(Answer):
    history: list[dict]


class SqlTables(Answer):
    tables: dict


def _workspace_arg():
    raw = flask.request.args.get("workspace_id", "")
    if not raw.strip().isdigit():
        raise InvalidInput("Say which workspace: ?workspace_id=<id>", details={"field": "workspace_id"})
    return int(raw)


@blueprint.post("")
@operation("Run one SELECT over the workspace's datasets (each a table by its name) in a sandbox, or on a "
           "connection's database (connection_id) read-only", "SQL",
           body=SqlAsk, answer=SqlResult)
def run_sql():
    principal = require_principal()
    body = json_body()
    return flask.jsonify(current_storage().sql.run(principal, body.get("workspace_id"), body.get("sql"),
                                                   body.get("limit"), connection_id=body.get("connection_id")))


@blueprint.post("/datasets")
@operation("Save the whole result of a SELECT as a new dataset of the workspace (editors)", "SQL",
           body=SqlDatasetAsk, status=201, answer=SqlDataset)
def sql_dataset():
    principal = require_principal()
    body = json_body()
    dataset = current_storage().sql.materialise(principal, body.get("workspace_id"), body.get("sql"),
                                                body.get("name"), body.get("description") or "",
                                                refresh=body.get("refresh"))
    return created(dataset.public_dict())


@blueprint.get("/history")
@operation("Your latest queries in a workspace, newest first", "SQL", answer=SqlHistory,
           query=dict([query("workspace_id", {"type": "integer"}, "", True)]))
def sql_history():
    principal = require_principal()
    return flask.jsonify({"history": current_storage().sql.history(principal, _workspace_arg())})


@blueprint.get("/tables")
@operation("The tables a query may name (the workspace's datasets) with their columns", "SQL", answer=SqlTables,
           query=dict([query("workspace_id", {"type": "integer"}, "", True)]))
def sql_tables():
    principal = require_principal()
    return flask.jsonify({"tables": current_storage().sql.tables(principal, _workspace_arg())})
