"""/api/v1/sites: the sites a workspace collects events for (issue 13), their server-side
events and their stats. storage.sites checks the rights: viewers read, editors change.

POST /api/v1/sites {"workspace_id"?, "name", "domain", "retention_days"?, "excluded_networks"?}
→ 201; GET /api/v1/sites[?workspace_id=]; GET/PATCH/DELETE /api/v1/sites/<id>;
POST /api/v1/sites/<id>/events (JSON or NDJSON, events may carry "ts") → 202;
GET /api/v1/sites/<id>/stats/<report>?period=&from=&to=&interval=&filters=&limit=.
"""
from __future__ import annotations

import flask

from api._helpers import created, json_body
from api.collect import EventsAccepted, read_events_body
from api.openapi import Answer, Body, operation, query
from storage.errors import InvalidInput
from storage.principal import Role
from web.context import current_settings, current_storage, require_principal, tracker_snippet
from web.proxies import request_client_address

blueprint = flask.Blueprint("api_sites", __name__, url_prefix="/api/v1")
STATS_QUERY = dict([
    query("period", {"type": "string", "enum": ["realtime", "day", "7d", "30d", "month", "12mo", "custom"]},
          "The period (default 30d)"),
    query("from", {"type": "string", "format": "date"}, "First day of a custom period"),
    query("to", {"type": "string", "format": "date"}, "Last day of a custom period"),
    query("interval", {"type": "string", "enum": ["minute", "hour", "day", "week", "month"]}, "timeseries"),
    query("filters", {"type": "string"}, "Such as page==/pricing;browser==Chrome|Firefox;prop:plan==pro"),
    query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "Rows per breakdown"),
])


class SiteIn(Body):
    workspace_id: int | None = None
    name: str | None = None
    domain: str | None = None
    retention_days: int | None = None
    excluded_networks: list[str] | None = None


class SiteOut(Answer):
    id: int
    workspace_id: int
    name: str
    domain: str
    key: str
    dataset_id: int | None
    retention_days: int
    excluded_networks: list[str]
    snippet: str


class SiteList(Answer):
    sites: list[SiteOut]


def _out(site: dict) -> dict:
    return {**site, "snippet": tracker_snippet(site["key"])}


@blueprint.get("/sites")
@operation("The sites of the workspaces you are in (or of one)", "Sites",
           query=dict([query("workspace_id", {"type": "integer"})]), answer=SiteList)
def list_sites():
    principal = require_principal()
    raw = flask.request.args.get("workspace_id")
    if raw is not None and not raw.strip().isdigit():
        raise InvalidInput("workspace_id must be a workspace's number", details={"field": "workspace_id"})
    found = current_storage().sites.list(principal, int(raw) if raw is not None else None)
    return flask.jsonify({"sites": [_out(s) for s in found]})


@blueprint.post("/sites")
@operation("Add a site to collect events for (editors); it gets a key and a dataset", "Sites", body=SiteIn,
           status=201, answer=SiteOut)
def create_site():
    principal = require_principal()
    body = json_body()
    storage = current_storage()
    workspace_id = body.get("workspace_id")
    if workspace_id is None:
        workspace_id = storage.workspaces.personal_workspace(principal).id
    payload = {k: v for k, v in body.items() if k != "workspace_id"}
    return created(_out(storage.sites.create(principal, workspace_id, payload)))


@blueprint.get("/sites/<site_id>")
@operation("One site, with its key and the snippet to paste", "Sites", answer=SiteOut)
def get_site(site_id):
    principal = require_principal()
    return flask.jsonify(_out(current_storage().sites.get(principal, site_id)))


@blueprint.patch("/sites/<site_id>")
@operation("Change a site's name, domain, retention or excluded addresses (editors)", "Sites", body=SiteIn,
           answer=SiteOut)
def update_site(site_id):
    principal = require_principal()
    body = json_body()
    if "workspace_id" in body:
        raise InvalidInput("A site cannot move to another workspace", details={"field": "workspace_id"})
    return flask.jsonify(_out(current_storage().sites.update(principal, site_id, body)))


@blueprint.delete("/sites/<site_id>")
@operation("Delete a site, its events and its dataset (editors)", "Sites", status=204)
def delete_site(site_id):
    principal = require_principal()
    current_storage().sites.delete(principal, site_id)
    return "", 204


@blueprint.post("/sites/<site_id>/events")
@operation("Send events from a backend (editors' write tokens): JSON or NDJSON, each may carry 'ts' "
           "(ISO 8601, up to a year ago) and 'user_id'. NDJSON with Content-Type: application/x-ndjson", "Sites",
           raw_body="text/plain", status=202, answer=EventsAccepted)
def site_events(site_id):
    principal = require_principal()
    storage = current_storage()
    site = storage.sites.require(principal, site_id, Role.EDITOR)
    principal.require_write("send events")
    settings = current_settings()
    payload = read_events_body(settings.collect_max_body_kb, allow_ndjson=True)
    result = storage.collect.collect(payload, request_client_address() or "",
                                     flask.request.headers.get("User-Agent", ""), site=storage.sites.ref(site),
                                     limit=settings.collect_max_events)
    response = flask.jsonify(result)
    response.status_code = 202
    return response


class StatsOut(Answer):
    site_id: int
    report: str
    period: str
    start: str
    end: str


@blueprint.get("/sites/<site_id>/stats/<report>")
@operation("A site's stats: overview, timeseries, pages, sources, devices, events or realtime (docs/events.md "
           "defines every figure)", "Sites", query=STATS_QUERY, answer=StatsOut)
def site_stats(site_id, report):
    principal = require_principal()
    args = {name: flask.request.args.get(name) for name in ("period", "from", "to", "interval", "filters", "limit")}
    return flask.jsonify(current_storage().site_stats.report(principal, site_id, report, args))


class DashboardMade(Answer):
    id: int
    name: str


@blueprint.post("/sites/<site_id>/dashboard")
@operation("Make the web-analytics dashboard of a site's events (editors)", "Sites", status=201,
           answer=DashboardMade)
def site_dashboard(site_id):
    principal = require_principal()
    storage = current_storage()
    site = storage.sites.require(principal, site_id, Role.EDITOR)
    if site["dataset_id"] is None:
        raise InvalidInput("This site's dataset was deleted; its stats are on the Sites page")
    return created(storage.dashboards.generate(principal, site["dataset_id"]))
