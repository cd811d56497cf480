"""/api/v1 report exports and schedules, and the download of a shared dashboard's report.

GET /api/v1/dashboards/<id>/export?format=pdf|xlsx|html|zip|csv|pptx (csv with widget=<id>),
paper=a4|letter, orientation=portrait|landscape (pptx: paper=16:9|4:3), tz=<IANA zone>, and the dashboard URL's
filters=<json>&xf=<json>&tab= (exports hold every tab). Thin: storage checks access.
"""
from __future__ import annotations

import json

import flask

from analytics.names import header_text
from api.openapi import Answer, Body, operation, query
from api._helpers import as_attachment, created, json_body, optional_json_body
from api.errors import handle_app_error
from storage.errors import DataInsightError, InvalidInput
from storage.exports import stream_file
from web.context import current_storage, require_principal

blueprint = flask.Blueprint("api_reports", __name__)

FORMATS = ["pdf", "xlsx", "html", "zip", "csv", "pptx"]
VIEW = [query("filters", {"type": "string"}, "the dashboard URL's filter values, as JSON"),
        query("xf", {"type": "string"}, "the dashboard URL's cross-filters, as JSON"),
        query("tab", {"type": "string"})]
PAPER = [query("paper", {"type": "string", "enum": ["a4", "letter", "16:9", "4:3"]}),
         query("orientation", {"type": "string", "enum": ["portrait", "landscape"]}),
         query("tz", {"type": "string"}, "an IANA time zone such as Europe/Paris")]


class ExportAsk(Body):
    format: str = "pdf"
    paper: str | None = None
    orientation: str | None = None
    tz: str | None = None
    filters: dict | str | None = None
    xf: list | str | None = None
    tab: str | None = None


class ShareExport(Body):
    allow_export: bool


class ScheduleIn(Answer):
    """A schedule as GET gives it (read-only fields are accepted and ignored; storage
    names an unknown field)."""

    name: str | None = None
    frequency: str | None = None
    days: list[int] | None = None
    time: str | None = None
    timezone: str | None = None
    recipients: list[str] | str | None = None
    format: str | None = None
    paper: str | None = None
    orientation: str | None = None
    filters: dict | None = None
    enabled: bool | None = None


class ScheduleOut(Answer):
    id: int
    dashboard_id: int | None
    name: str
    frequency: str
    recipients: list[str]
    enabled: bool


class ScheduleList(Answer):
    schedules: list[ScheduleOut]


class SendList(Answer):
    sends: list[dict]


class JobStarted(Answer):
    job_id: str


def _options(args) -> dict:
    return {"paper": args.get("paper", "a4"), "orientation": args.get("orientation", "portrait"),
            "timezone": args.get("tz") or "UTC"}


def _send(built):
    """The built file as an attachment: bytes, or the temp file streamed and then removed.
    X-Report-Rows says how many rows of each table the file holds (JSON, as in the job's
    stats), so a client can tell a whole table from its first rows."""
    if built.path is not None:
        response = flask.Response(stream_file(built.path), mimetype=built.mimetype)
        response.headers["Content-Length"] = str(built.size)
    else:
        response = flask.Response(built.content, mimetype=built.mimetype)
    as_attachment(response, built.filename)
    if built.stats.get("pages"):
        response.headers["X-Report-Pages"] = str(built.stats["pages"])
    if built.stats.get("tables"):
        response.headers["X-Report-Rows"] = json.dumps(
            [{k: t[k] for k in ("widget", "rows", "in_file")} for t in built.stats["tables"]], separators=(",", ":"))
    return response


@blueprint.get("/api/v1/dashboards/<dashboard_id>/export")
@operation("The dashboard as a report file: PDF, Excel, HTML, ZIP of CSVs, PowerPoint, or one widget's CSV", "Reports", media="application/octet-stream", query=dict([query("format", {"type": "string", "enum": FORMATS}), query("widget", {"type": "string"}, "with format=csv"), *PAPER, *VIEW]))
def export_dashboard(dashboard_id):
    principal = require_principal()
    args = flask.request.args
    reports = current_storage().reports
    built = reports.export(principal, dashboard_id, args.get("format", "pdf"), view=reports.view_from_args(args),
                           widget_id=args.get("widget"), **_options(args))
    return _send(built)


@blueprint.post("/api/v1/dashboards/<dashboard_id>/export/jobs")
@operation("The same export in the background: poll the job, then download /api/v1/reports/{job_id}/file", "Reports", body=ExportAsk, body_required=False, status=201, answer=JobStarted)
def start_export(dashboard_id):
    """The same export in the background: {"job_id"}; poll GET /api/v1/jobs/<id>, then
    download GET /api/v1/reports/<job id>/file."""
    principal = require_principal()
    body = optional_json_body()
    reports = current_storage().reports
    view = reports.view_from_args(body)
    job_id = reports.start_export(principal, dashboard_id, body.get("format", "pdf"), view=view, **_options(body))
    return created({"job_id": job_id})


@blueprint.get("/api/v1/reports/<job_id>/file")
@operation("The file of a finished export job", "Reports", media="application/octet-stream")
def report_file(job_id):
    principal = require_principal()
    path, mimetype, filename = current_storage().reports.job_file(principal, job_id)
    return flask.send_file(path, mimetype=mimetype, as_attachment=True, download_name=header_text(filename) or "report")


@blueprint.get("/api/v1/datasets/<dataset_id>/profile/export")
@operation("The dataset's profile as a report file", "Reports", media="application/octet-stream", query=dict([query("format", {"type": "string", "enum": ["pdf", "xlsx", "html", "zip"]}), *PAPER]))
def export_profile(dataset_id):
    """The dataset's profile as pdf|xlsx|html|zip (409 while it is being computed)."""
    principal = require_principal()
    args = flask.request.args
    storage = current_storage()
    return _send(storage.reports.export_profile(principal, dataset_id, args.get("format", "pdf"),
                                                profiles=storage.profiles, **_options(args)))


@blueprint.get("/public/exports/dashboards/<token>")
@operation("A shared dashboard's report, when its public link allows downloads", "Reports", media="application/octet-stream", public=True, query=dict([query("format", {"type": "string", "enum": FORMATS}), query("widget", {"type": "string"}), *PAPER, *VIEW]))
def export_shared(token):
    """A shared dashboard's report, when its link allows exports (403 otherwise)."""
    args = flask.request.args
    reports = current_storage().reports
    try:
        built = reports.export_shared(token, args.get("format", "pdf"), view=reports.view_from_args(args),
                                      widget_id=args.get("widget"), **_options(args))
    except DataInsightError as exc:  # outside /api/: answer the same JSON errors by hand
        return handle_app_error(exc)
    return _send(built)


@blueprint.put("/api/v1/dashboards/<dashboard_id>/share/export")
@operation("May the public link download reports", "Reports", body=ShareExport)
def set_share_export(dashboard_id):
    """{"allow_export": true|false}: may the live public link download reports."""
    principal = require_principal()
    body = json_body()
    allow = body.get("allow_export")
    if not isinstance(allow, bool):
        raise InvalidInput("Send {\"allow_export\": true} or false")
    return flask.jsonify(current_storage().dashboards.set_share_export(principal, dashboard_id, allow))


# --- schedules ----------------------------------------------------------------------------


@blueprint.get("/api/v1/dashboards/<dashboard_id>/schedules")
@operation("A dashboard's report schedules (editors)", "Schedules", answer=ScheduleList)
def list_schedules(dashboard_id):
    principal = require_principal()
    return flask.jsonify({"schedules": current_storage().schedules.list(principal, dashboard_id)})


@blueprint.post("/api/v1/dashboards/<dashboard_id>/schedules")
@operation("Mail the dashboard's report daily, weekly or monthly", "Schedules", body=ScheduleIn, status=201, answer=ScheduleOut)
def create_schedule(dashboard_id):
    principal = require_principal()
    return created(current_storage().schedules.create(principal, dashboard_id, json_body()))


@blueprint.get("/api/v1/schedules/<schedule_id>")
@operation("One schedule with its run history", "Schedules", answer=ScheduleOut)
def get_schedule(schedule_id):
    principal = require_principal()
    schedules = current_storage().schedules
    return flask.jsonify({**schedules.get(principal, schedule_id), "runs": schedules.runs(principal, schedule_id)})


@blueprint.patch("/api/v1/schedules/<schedule_id>")
@operation("Change a schedule (the fields sent); pause it with enabled false", "Schedules", body=ScheduleIn, answer=ScheduleOut)
def update_schedule(schedule_id):
    principal = require_principal()
    return flask.jsonify(current_storage().schedules.update(principal, schedule_id, json_body()))


@blueprint.delete("/api/v1/schedules/<schedule_id>")
@operation("Delete a schedule", "Schedules", status=204)
def delete_schedule(schedule_id):
    principal = require_principal()
    current_storage().schedules.delete(principal, schedule_id)
    return "", 204


@blueprint.post("/api/v1/schedules/<schedule_id>/send")
@operation("Send the report now (429 past the hourly mail limits)", "Schedules", status=201)
def send_schedule_now(schedule_id):
    principal = require_principal()
    return created(current_storage().schedules.send_now(principal, schedule_id))


@blueprint.get("/api/v1/workspaces/<workspace_id>/mail-log")
@operation("Every report mail of the workspace, newest first (owners)", "Schedules", query=dict([query("dashboard", {"type": "integer"}), query("limit", {"type": "integer", "minimum": 1, "maximum": 1000})]), answer=SendList)
def mail_log(workspace_id):
    """Every report mail of the workspace, newest first (owners): ?dashboard=<id>&limit=."""
    principal = require_principal()
    args = flask.request.args
    try:
        limit = int(args.get("limit", 100))
    except ValueError:
        raise InvalidInput("limit must be a whole number") from None
    sends = current_storage().schedules.sends.list(principal, workspace_id, args.get("dashboard"), limit)
    return flask.jsonify({"sends": sends})
