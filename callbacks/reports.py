"""Report callbacks: the dashboard's Download menu (a background export job with a
progress bar, then the browser fetches the file) and the schedules page (create, edit, send
now, pause/resume, delete, the run history, the public link's download switch). Each
takes the acting principal; storage checks access on every call."""
from __future__ import annotations

import hashlib
import json

from dash import ALL, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from components.feedback import error_alert, success_alert
from components.reports import (
    mail_log,
    mail_warning,
    public_export_href,
    ready_link,
    run_history,
    schedule_form_mode,
    schedule_form_values,
    schedule_list,
)
from storage.errors import DataInsightError
from web.context import current_storage, require_principal


def register(app) -> None:
    register_download(app)
    register_schedules(app)
    register_public_downloads(app)


# --- the Download menu ----------------------------------------------------------------------


def register_download(app) -> None:
    @app.callback(
        Output("report-download-modal", "is_open"),
        Input("report-download-open", "n_clicks"),
        Input("report-download-close", "n_clicks"),
        prevent_initial_call=True,
    )
    def toggle(_open, _close):
        return ctx.triggered_id == "report-download-open"

    @app.callback(Output("report-paper-options", "style"), Output("report-slides-options", "style"),
                  Input("report-format", "value"))
    def paper_for_pdf_only(fmt):
        hidden = {"display": "none"}
        return (None if fmt == "pdf" else hidden), (None if fmt == "pptx" else hidden)

    @app.callback(
        Output("report-job", "data"),
        Output("report-poll", "disabled"),
        Output("report-progress-box", "hidden"),
        Output("report-progress", "value"),
        Output("report-progress-message", "children"),
        Output("report-download-feedback", "children"),
        Output("report-download-start", "disabled"),
        Input("report-download-start", "n_clicks"),
        State("dash-id", "data"),
        State("dash-state", "data"),
        State("report-format", "value"),
        State("report-paper", "value"),
        State("report-orientation", "value"),
        State("report-slide-size", "value"),
        prevent_initial_call=True,
    )
    def start(n_clicks, dashboard_id, state, fmt, paper, orientation, slide_size):
        if not n_clicks:
            return (no_update,) * 7
        state = state or {}
        view = {"filters": state.get("filters") or {}, "cross": state.get("cross") or []}
        if fmt == "pptx":
            paper = slide_size  # slides take their size where a PDF takes its paper
        try:
            job_id = current_storage().reports.start_export(require_principal(), dashboard_id, fmt, view=view,
                                                            paper=paper, orientation=orientation)
        except DataInsightError as exc:
            return None, True, True, 0, "", error_alert(exc.message), False
        return job_id, False, False, 2, "Starting", None, True

    @app.callback(
        Output("report-progress", "value", allow_duplicate=True),
        Output("report-progress-message", "children", allow_duplicate=True),
        Output("report-poll", "disabled", allow_duplicate=True),
        Output("report-download-feedback", "children", allow_duplicate=True),
        Output("report-file-url", "data"),
        Output("report-download-start", "disabled", allow_duplicate=True),
        Output("report-progress-box", "hidden", allow_duplicate=True),
        Input("report-poll", "n_intervals"),
        State("report-job", "data"),
        prevent_initial_call=True,
    )
    def poll(_n, job_id):
        if not job_id:
            return no_update, no_update, True, no_update, no_update, False, no_update
        try:
            job = current_storage().jobs.get(require_principal(), job_id)
        except DataInsightError as exc:
            return 0, "", True, error_alert(exc.message), None, False, True
        if job["status"] in ("queued", "running"):
            return round(job["progress"] * 100), job["message"], False, no_update, no_update, True, False
        if job["status"] != "done":
            return 0, "", True, error_alert(job["message"]), None, False, True
        result = job["result"] or {}
        url = f"/api/v1/reports/{job_id}/file"
        return 100, "Done", True, ready_link(url, result.get("filename", "report"), result.get("stats")), url, False, \
            True

    # The file arrives as an attachment: the page stays where it is.
    app.clientside_callback(
        "function (url) { if (url) { window.location.assign(url); } return ''; }",
        Output("report-download-trigger", "children"),
        Input("report-file-url", "data"),
        prevent_initial_call=True,
    )


# --- the public page's Download menu ----------------------------------------------------------


def register_public_downloads(app) -> None:
    @app.callback(
        Output({"type": "public-download-link", "index": ALL}, "href"),
        Input("public-dash-state", "data"),
        State("public-dash-token", "data"),
        prevent_initial_call=True,
    )
    def public_download_links(state, token):
        """The menu's links follow the visitor's filters and clicks. Only addresses are made
        here; the export route checks the token and whether its link allows downloads."""
        return [public_export_href(token or "", o["id"]["index"], state) for o in ctx.outputs_list]


# --- the schedules page -------------------------------------------------------------------


def _recipients(text) -> list[str]:
    import re

    return [r for r in re.split(r"[,;\s]+", text or "") if r]


def register_schedules(app) -> None:
    @app.callback(
        Output("schedule-weekdays-box", "hidden"),
        Output("schedule-monthday-box", "hidden"),
        Input("schedule-frequency", "value"),
    )
    def days_for(frequency):
        return frequency != "weekly", frequency != "monthly"

    field_outputs = [Output(f"schedule-{name}", "value") for name in
                     ("name", "format", "paper", "orientation", "frequency", "weekdays", "monthday", "time",
                      "timezone", "recipients")]

    @app.callback(
        *field_outputs,
        Output({"type": "schedule-filter", "index": ALL}, "value"),
        Output("schedule-editing", "data"),
        Output("schedule-form-mode", "children"),
        Output("schedule-create", "children"),
        Output("schedule-edit-cancel-box", "hidden"),
        Output("schedule-form-feedback", "children", allow_duplicate=True),
        Input({"type": "schedule-edit", "index": ALL}, "n_clicks"),
        Input("schedule-edit-cancel", "n_clicks"),
        Input("schedule-saved", "data"),
        State("schedule-filter-defaults", "data"),
        prevent_initial_call=True,
    )
    def edit_mode(_edits, _cancel, _saved, filter_defaults):
        """An Edit click fills the form with that schedule (read with the editor's rights);
        Cancel, or a save, empties it for a new one."""
        trigger = ctx.triggered_id
        filter_ids = [o["id"]["index"] for o in ctx.outputs_list[len(field_outputs)]]
        schedule = None
        if isinstance(trigger, dict):
            if not (ctx.triggered and ctx.triggered[0]["value"]):
                raise PreventUpdate  # the buttons fire with 0 when the list is drawn
            try:
                schedule = current_storage().schedules.get(require_principal(), trigger["index"])
            except DataInsightError:
                raise PreventUpdate from None  # gone, or not this user's to edit: the list says so
        filters = (schedule or {}).get("filters") or filter_defaults or {}
        note, label, cancel_hidden = schedule_form_mode(schedule)
        # A save's own message stays; an edit or a cancel starts afresh.
        feedback = no_update if trigger == "schedule-saved" else None
        return (*schedule_form_values(schedule), [filters.get(i) or [] for i in filter_ids],
                schedule["id"] if schedule else None, note, label, cancel_hidden, feedback)

    @app.callback(
        Output("schedule-form-feedback", "children"),
        Output("schedule-rev", "data"),
        Output("schedule-saved", "data"),
        Input("schedule-create", "n_clicks"),
        State("schedule-dashboard-id", "data"),
        State("schedule-name", "value"),
        State("schedule-format", "value"),
        State("schedule-paper", "value"),
        State("schedule-orientation", "value"),
        State("schedule-frequency", "value"),
        State("schedule-weekdays", "value"),
        State("schedule-monthday", "value"),
        State("schedule-time", "value"),
        State("schedule-timezone", "value"),
        State("schedule-recipients", "value"),
        State({"type": "schedule-filter", "index": ALL}, "value"),
        State({"type": "schedule-filter", "index": ALL}, "id"),
        State("schedule-editing", "data"),
        State("schedule-rev", "data"),
        State("schedule-saved", "data"),
        prevent_initial_call=True,
    )
    def save(n_clicks, dashboard_id, name, fmt, paper, orientation, frequency, weekdays, monthday, time_of_day,
             timezone, recipients, filter_values, filter_ids, editing, rev, saved):
        """Add a schedule, or save the one being edited (the storage layer checks that it
        is an editable schedule of a dashboard this user edits)."""
        if not n_clicks:
            return no_update, no_update, no_update
        days = (weekdays or []) if frequency == "weekly" else ([int(monthday)] if monthday else [])
        payload = {"name": name or None, "format": fmt, "paper": paper, "orientation": orientation,
                   "frequency": frequency, "days": days, "time": (time_of_day or "")[:5], "timezone": timezone,
                   "recipients": _recipients(recipients),
                   "filters": {i["index"]: v for i, v in zip(filter_ids, filter_values) if v}}
        schedules = current_storage().schedules
        try:
            if editing is not None:
                made = schedules.update(require_principal(), editing, payload)
            else:
                made = schedules.create(require_principal(), dashboard_id, payload)
        except DataInsightError as exc:
            return error_alert(exc.message), no_update, no_update
        done = "Saved" if editing is not None else "Added"
        if made.get("warning"):  # saved, but nothing will go out until email is set up
            return (mail_warning(f"{done}: {made['description']}. {made['warning']}", "schedule-saved-warning"),
                    (rev or 0) + 1,
                    (saved or 0) + 1)
        return success_alert(f"{done}: {made['description']}."), (rev or 0) + 1, (saved or 0) + 1

    @app.callback(
        Output("schedule-action-feedback", "children"),
        Output("schedule-rev", "data", allow_duplicate=True),
        Input({"type": "schedule-send", "index": ALL}, "n_clicks"),
        Input({"type": "schedule-toggle", "index": ALL}, "n_clicks"),
        Input({"type": "schedule-delete", "index": ALL}, "n_clicks"),
        State("schedule-rev", "data"),
        prevent_initial_call=True,
    )
    def act(_send, _toggle, _delete, rev):
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not (ctx.triggered and ctx.triggered[0]["value"]):
            return no_update, no_update
        principal = require_principal()
        schedules = current_storage().schedules
        try:
            if trigger["type"] == "schedule-send":
                run = schedules.send_now(principal, trigger["index"])
                if run["status"] == "failed":  # it could not even start (email is not set up)
                    return error_alert(f"Not sent: {run['error']}"), (rev or 0) + 1
                message = "Sending now; the run history below shows when it has gone out."
            elif trigger["type"] == "schedule-toggle":
                current = schedules.get(principal, trigger["index"])
                schedules.update(principal, trigger["index"], {"enabled": not current["enabled"]})
                message = "Paused." if current["enabled"] else "Resumed."
            else:
                schedules.delete(principal, trigger["index"])
                message = "Deleted."
        except DataInsightError as exc:
            return error_alert(exc.message), no_update
        return success_alert(message, duration=6000), (rev or 0) + 1

    @app.callback(
        Output("schedule-list", "children"),
        Output("schedule-history", "children"),
        Output("schedule-mail-log", "children"),
        Output("schedule-seen", "data"),
        Input("schedule-rev", "data"),
        Input("schedule-refresh", "n_intervals"),
        State("schedule-dashboard-id", "data"),
        State("schedule-seen", "data"),
        prevent_initial_call=True,
    )
    def refresh(_rev, _n, dashboard_id, seen):
        principal = require_principal()
        storage = current_storage()
        schedules = storage.schedules
        try:
            found = schedules.list(principal, dashboard_id)
            runs = {s["id"]: schedules.runs(principal, s["id"]) for s in found}
            board = storage.dashboards.get(principal, dashboard_id)
            sends = schedules.sends.list_if_owner(principal, board["workspace_id"], board["id"])
        except DataInsightError as exc:
            return error_alert(exc.message), no_update, no_update, no_update
        # Drawn again only when something changed: a list re-drawn every 3 s replaces its
        # buttons, and a click that lands on a button being replaced is lost.
        digest = hashlib.sha256(json.dumps([found, runs, sends], sort_keys=True, default=str).encode()).hexdigest()
        if digest == seen:
            return no_update, no_update, no_update, no_update
        return schedule_list(found), run_history(found, runs), mail_log(sends), digest

    @app.callback(
        Output("schedule-share-feedback", "children"),
        Input("schedule-share-export", "value"),
        State("schedule-dashboard-id", "data"),
        prevent_initial_call=True,
    )
    def share_export(allowed, dashboard_id):
        try:
            current_storage().dashboards.set_share_export(require_principal(), dashboard_id, bool(allowed))
        except DataInsightError as exc:
            return error_alert(exc.message)
        return success_alert("The public link may download this dashboard." if allowed else
                             "The public link can no longer download this dashboard.", duration=6000)


__all__ = ["register"]
