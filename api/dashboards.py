"""/api/v1 widget queries, dashboards, share links and generated dashboards. Thin: every
route takes the acting principal and calls the same storage services as the UI."""
from __future__ import annotations

import flask

from analytics.widgets import editor_catalogue
from typing import Any

from pydantic import Field

from api.openapi import Answer, Body, operation, query as query_param
from api._helpers import created, field, json_body, jsonable, optional_json_body
from storage.errors import InvalidInput
from web.context import current_storage, require_principal

blueprint = flask.Blueprint("api_dashboards", __name__, url_prefix="/api/v1")


class QueryAsk(Body):
    dataset_id: int | None = None
    spec: dict
    filters: list[dict] | None = None
    render: bool = False


class Widget(Answer):
    id: str
    spec: dict
    layout: dict | None = None
    tab: str | None = None


class DashboardIn(Answer):
    """A dashboard as GET gives it; storage checks every widget's spec on save and names
    an unknown field (read-only fields such as id are accepted and ignored)."""

    name: str | None = None
    description: str | None = None
    tabs: list[dict] | None = None
    widgets: list[dict] | None = None
    filters: list[dict] | None = None
    # An id that names nothing is a 404, as in a path (storage checks it): not typed here.
    workspace_id: Any = Field(None, json_schema_extra={"type": "integer"})


class DashboardOut(Answer):
    id: int
    workspace_id: int
    name: str
    widgets: list[Widget]


class DashboardList(Answer):
    dashboards: list[DashboardOut]


class ShareOut(Answer):
    token: str
    url: str
    allow_export: bool


class WidgetTypeOut(Answer):
    name: str
    label: str
    fields: list[dict]


class WidgetTypeList(Answer):
    widget_types: list[WidgetTypeOut]


class NameChoice(Body):
    name: str | None = None


class WidgetNew(Body):
    spec: dict
    layout: dict | None = None
    tab: str | None = None


class RenderAsk(Body):
    filters: list[dict] | None = None
    dashboard_filters: list[dict] | None = None


class WorkspaceChoice(Body):
    workspace_id: int | None = None


def _workspace_id(principal, value):
    """The workspace asked for, or the person's personal one (as for datasets)."""
    if value in (None, ""):
        return current_storage().workspaces.personal_workspace(principal).id
    return value


def _filters(body: dict, name: str = "filters"):
    value = body.get(name)
    if value is not None and not isinstance(value, list):
        raise InvalidInput(f"The field {name!r} must be a list")
    return value


@blueprint.post("/query")
@operation("Run a widget spec on a dataset: its small result, or its drawn output with render", "Dashboards", body=QueryAsk)
def query():
    """{"dataset_id", "spec", "filters"?: extra filters, "render"?: true for the widget's
    output instead of its rows} → {"columns", "rows", "truncated", "cached"}."""
    principal = require_principal()
    body = json_body()
    spec = body.get("spec")
    if not isinstance(spec, dict):
        raise InvalidInput("The field 'spec' must be a widget spec object")
    dataset_id = body.get("dataset_id", spec.get("dataset_id"))
    if dataset_id is None:
        raise InvalidInput("The field 'dataset_id' is required")
    queries = current_storage().queries
    if field(body, "render", kind=bool, required=False, default=False):
        return flask.jsonify(queries.render(principal, dataset_id, spec, _filters(body), complete=True))
    result = queries.run(principal, dataset_id, spec, _filters(body))
    return flask.jsonify({"columns": result["columns"], "rows": [[jsonable(v) for v in r] for r in result["rows"]],
                          "truncated": result["truncated"], "cached": result["cached"]})


@blueprint.get("/widget-types")
@operation("Every widget type with its editor fields", "Dashboards", answer=WidgetTypeList)
def widget_types():
    require_principal()
    return flask.jsonify({"widget_types": editor_catalogue()})


@blueprint.get("/dashboards")
@operation("The dashboards of a workspace (default: your personal one)", "Dashboards", query=dict([query_param("workspace_id", {"type": "integer"})]), answer=DashboardList)
def list_dashboards():
    principal = require_principal()
    workspace_id = _workspace_id(principal, flask.request.args.get("workspace_id"))
    return flask.jsonify({"dashboards": current_storage().dashboards.list(principal, workspace_id)})


@blueprint.post("/dashboards")
@operation("Create a dashboard", "Dashboards", body=DashboardIn, status=201, answer=DashboardOut)
def create_dashboard():
    principal = require_principal()
    body = json_body()
    workspace_id = _workspace_id(principal, body.pop("workspace_id", None))
    return created(current_storage().dashboards.create(principal, workspace_id, body))


@blueprint.get("/dashboards/<dashboard_id>")
@operation("One dashboard: tabs, widgets with their specs and layout, filters", "Dashboards", answer=DashboardOut)
def get_dashboard(dashboard_id):
    principal = require_principal()
    return flask.jsonify(current_storage().dashboards.get(principal, dashboard_id))


@blueprint.patch("/dashboards/<dashboard_id>")
@operation("Change a dashboard (the fields sent)", "Dashboards", body=DashboardIn, answer=DashboardOut)
def update_dashboard(dashboard_id):
    principal = require_principal()
    body = json_body()
    patch = {k: v for k, v in body.items() if k not in ("id", "workspace_id", "shared", "created_at", "updated_at",
                                                         "role")}
    return flask.jsonify(current_storage().dashboards.update(principal, dashboard_id, patch))


@blueprint.delete("/dashboards/<dashboard_id>")
@operation("Delete a dashboard", "Dashboards", status=204)
def delete_dashboard(dashboard_id):
    principal = require_principal()
    current_storage().dashboards.delete(principal, dashboard_id)
    return "", 204


@blueprint.post("/dashboards/<dashboard_id>/duplicate")
@operation("Copy a dashboard", "Dashboards", body=NameChoice, body_required=False, status=201, answer=DashboardOut)
def duplicate_dashboard(dashboard_id):
    principal = require_principal()
    body = optional_json_body()
    name = body.get("name")
    return created(current_storage().dashboards.duplicate(principal, dashboard_id, name))


@blueprint.post("/dashboards/<dashboard_id>/widgets")
@operation("Add one widget below the others", "Dashboards", body=WidgetNew, status=201, answer=DashboardOut)
def add_widget(dashboard_id):
    """{"spec", "layout"?, "tab"?}: one widget of any type appended below the others
    (an analysis widget: {"type": "analysis", "dataset_id", "kind", "params", "view"?}).
    201 with the dashboard."""
    principal = require_principal()
    body = json_body()
    return created(current_storage().dashboards.add_widget(principal, dashboard_id, body))


@blueprint.post("/dashboards/<dashboard_id>/widgets/<widget_id>/render")
@operation("One widget's output, with cross-filters and dashboard filter values", "Dashboards", body=RenderAsk, body_required=False)
def render_widget(dashboard_id, widget_id):
    """One widget's output with {"filters": cross-filters, "dashboard_filters": values of
    the dashboard's filters}; both optional."""
    principal = require_principal()
    body = optional_json_body()
    return flask.jsonify(current_storage().queries.render_widget(
        principal, dashboard_id, widget_id, _filters(body), _filters(body, "dashboard_filters")))


@blueprint.post("/dashboards/<dashboard_id>/share")
@operation("A public read-only link (a new one replaces the old)", "Dashboards", status=201, answer=ShareOut)
def share_dashboard(dashboard_id):
    principal = require_principal()
    return created(current_storage().dashboards.share(principal, dashboard_id))


@blueprint.delete("/dashboards/<dashboard_id>/share")
@operation("Revoke the public link", "Dashboards", status=204)
def revoke_share(dashboard_id):
    principal = require_principal()
    current_storage().dashboards.revoke_share(principal, dashboard_id)
    return "", 204


@blueprint.post("/datasets/<dataset_id>/dashboard")
@operation("Generate a dashboard for a dataset (a template, or one proposed from its columns)", "Dashboards", body=WorkspaceChoice, body_required=False, status=201, answer=DashboardOut)
def generate_dashboard(dataset_id):
    principal = require_principal()
    body = optional_json_body()
    workspace_id = body.get("workspace_id")
    return created(current_storage().dashboards.generate(principal, dataset_id, workspace_id))
