"""/api/v1 report exports and schedules, and the download of a shared dashboard's report.

GET /api/v1/dashboards/<id>/export?format=pdf|xlsx|html|zip|csv|pptx (csv with widget=<id>),
paper=a4|letter, orientation=portrait|landscape (pptx: paper=16:9|4:3), tz=<IANA zone>, and the dashboard URL's
filters=<json>&xf=<json>&tab= (exports hold every tab). Thin: storage checks access.
"""
from __future__ import annotations

import json

import flask

from analytics.names import header_text
from api._helpers import as_attachment, created, json_body, optional_json_body
from api.errors import handle_app_error
from storage.errors import DataInsightError, InvalidInput
from storage.exports import stream_file
from web.context import current_storage, require_principal

blueprint = flask.Blueprint("api_reports", __name__)


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
def export_dashboard(dashboard_id):
    principal = require_principal()
    args = flask.request.args
    reports = current_storage().reports
    built = reports.export(principal, dashboard_id, args.get("format", "pdf"), view=reports.view_from_args(args),
                           widget_id=args.get("widget"), **_options(args))
    return _send(built)


@blueprint.post("/api/v1/dashboards/<dashboard_id>/export/jobs")
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
def report_file(job_id):
    principal = require_principal()
    path, mimetype, filename = current_storage().reports.job_file(principal, job_id)
    return flask.send_file(path, mimetype=mimetype, as_attachment=True, download_name=header_text(filename) or "report")


@blueprint.get("/api/v1/datasets/<dataset_id>/profile/export")
def export_profile(dataset_id):
    """The dataset's profile as pdf|xlsx|html|zip (409 while it is being computed)."""
    principal = require_principal()
    args = flask.request.args
    storage = current_storage()
    return _send(storage.reports.export_profile(principal, dataset_id, args.get("format", "pdf"),
                                                profiles=storage.profiles, **_options(args)))


@blueprint.get("/public/exports/dashboards/<token>")
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
def list_schedules(dashboard_id):
    principal = require_principal()
    return flask.jsonify({"schedules": current_storage().schedules.list(principal, dashboard_id)})


@blueprint.post("/api/v1/dashboards/<dashboard_id>/schedules")
def create_schedule(dashboard_id):
    principal = require_principal()
    return created(current_storage().schedules.create(principal, dashboard_id, json_body()))


@blueprint.get("/api/v1/schedules/<schedule_id>")
def get_schedule(schedule_id):
    principal = require_principal()
    schedules = current_storage().schedules
    return flask.jsonify({**schedules.get(principal, schedule_id), "runs": schedules.runs(principal, schedule_id)})


@blueprint.patch("/api/v1/schedules/<schedule_id>")
def update_schedule(schedule_id):
    principal = require_principal()
    return flask.jsonify(current_storage().schedules.update(principal, schedule_id, json_body()))


@blueprint.delete("/api/v1/schedules/<schedule_id>")
def delete_schedule(schedule_id):
    principal = require_principal()
    current_storage().schedules.delete(principal, schedule_id)
    return "", 204


@blueprint.post("/api/v1/schedules/<schedule_id>/send")
def send_schedule_now(schedule_id):
    principal = require_principal()
    return created(current_storage().schedules.send_now(principal, schedule_id))


@blueprint.get("/api/v1/workspaces/<workspace_id>/mail-log")
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
