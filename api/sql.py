"""/api/v1/sql: the SQL editor's queries over a workspace's datasets (storage.sql_editor
runs them in a sandbox and checks the workspace membership).

POST /api/v1/sql {"workspace_id", "sql", "connection_id"?, "limit"?} →
{"columns", "types", "rows", "truncated", "elapsed_ms", "limit"}
POST /api/v1/sql/datasets {"workspace_id", "sql", "name", "refresh"?, "mode"?} → 201, the result saved as a
dataset that refreshes like a synced one (storage.syncs); "mode": "live" makes a live SQL dataset whose
charts run the query each time, its {{parameters}} bound to dashboard filters (storage.query_sources)
GET /api/v1/sql/history?workspace_id= → the person's own latest queries there
POST /api/v1/sql/queries {"workspace_id", "name", "sql", "description"?, "connection_id"?, "shared"?} → 201;
GET /api/v1/sql/queries?workspace_id=; GET/PATCH/DELETE /api/v1/sql/queries/<id>: saved queries
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
    mode: str | None = None


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
    parameters: list[dict] | None = None


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
@operation("Save the whole result of a SELECT as a new dataset of the workspace (editors); with \"mode\": "
           "\"live\", a dataset whose charts run the query each time, its {{parameters}} bound to dashboard "
           "filters", "SQL",
           body=SqlDatasetAsk, status=201, answer=SqlDataset)
def sql_dataset():
    principal = require_principal()
    body = json_body()
    dataset = current_storage().sql.materialise(principal, body.get("workspace_id"), body.get("sql"),
                                                body.get("name"), body.get("description") or "",
                                                refresh=body.get("refresh"), mode=body.get("mode") or "sync")
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


class SavedQueryIn(Body):
    workspace_id: int | None = None
    name: str | None = None
    sql: str | None = None
    description: str | None = None
    connection_id: int | None = None
    shared: bool | None = None


class SavedQueryOut(Answer):
    id: int
    workspace_id: int
    name: str
    sql: str
    shared: bool
    connection_id: int | None


class SavedQueryList(Answer):
    queries: list[SavedQueryOut]


@blueprint.get("/queries")
@operation("Your saved queries in a workspace and those shared with it", "SQL", answer=SavedQueryList,
           query=dict([query("workspace_id", {"type": "integer"}, "", True)]))
def list_saved_queries():
    principal = require_principal()
    return flask.jsonify({"queries": current_storage().saved_queries.list(principal, _workspace_arg())})


@blueprint.post("/queries")
@operation("Save a query by name (shared: every member of the workspace sees it)", "SQL", body=SavedQueryIn,
           status=201, answer=SavedQueryOut)
def save_query():
    principal = require_principal()
    body = json_body()
    if body.get("workspace_id") is None:
        raise InvalidInput("Say which workspace: workspace_id", details={"field": "workspace_id"})
    payload = {k: v for k, v in body.items() if k != "workspace_id"}
    return created(current_storage().saved_queries.create(principal, body["workspace_id"], payload))


@blueprint.get("/queries/<query_id>")
@operation("One saved query", "SQL", answer=SavedQueryOut)
def get_saved_query(query_id):
    principal = require_principal()
    return flask.jsonify(current_storage().saved_queries.get(principal, query_id))


@blueprint.patch("/queries/<query_id>")
@operation("Change a saved query (the person who saved it, or a workspace owner)", "SQL", body=SavedQueryIn,
           answer=SavedQueryOut)
def update_saved_query(query_id):
    principal = require_principal()
    payload = {k: v for k, v in json_body().items() if k != "workspace_id"}
    return flask.jsonify(current_storage().saved_queries.update(principal, query_id, payload))


@blueprint.delete("/queries/<query_id>")
@operation("Delete a saved query (the person who saved it, or a workspace owner)", "SQL", status=204)
def delete_saved_query(query_id):
    principal = require_principal()
    current_storage().saved_queries.delete(principal, query_id)
    return "", 204
