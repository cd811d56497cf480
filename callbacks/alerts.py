"""The alerts pages: add an alert, Check now, pause, resume and delete, and the lists and
histories kept fresh. Thin: storage.alerts checks that the acting user edits the
dashboard's workspace, whatever ids a crafted request posts."""
from __future__ import annotations

import flask
from dash import ALL, Input, Output, State, ctx, no_update

from components.alerts import alert_list, alert_summary, check_history
from components.feedback import error_alert, success_alert
from components.reports import mail_warning
from storage.errors import DataInsightError
from web.context import current_storage, require_principal


def _emails(text) -> list[str]:
    import re

    return [r for r in re.split(r"[,;\s]+", text or "") if r]


def _number(value):
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return value  # storage says what is wrong with it


def _check_result(check: dict) -> str:
    """What a Check now found, in words."""
    if check["state"] == "error":
        return f"Checked: {check['error']}"
    value = f"{check['value']:,.6g}" if isinstance(check.get("value"), float) else str(check.get("value"))
    said = {"triggered": " It fired: the messages are on their way.",
            "recovered": " It is back to normal: the messages are on their way.",
            "repeated": " It still holds: the messages are on their way."}.get(check.get("event"), "")
    state = "the condition holds" if check["state"] == "triggered" else "the condition does not hold"
    return f"Checked: the value is {value}, {state}.{said}"


def _act(kind: str, alert_id) -> tuple[str, bool]:
    """(message, deleted) of one action on an alert."""
    principal = require_principal()
    alerts = current_storage().alerts
    if kind == "check":
        return _check_result(alerts.check_now(principal, alert_id)), False
    if kind == "toggle":
        current = alerts.get(principal, alert_id)
        alerts.update(principal, alert_id, {"enabled": not current["enabled"]})
        return ("Paused." if current["enabled"] else "Resumed."), False
    alerts.delete(principal, alert_id)
    return "Deleted.", True


def register(app) -> None:
    @app.callback(
        Output("alert-form-feedback", "children"),
        Output("alert-rev", "data"),
        Input("alert-create", "n_clicks"),
        State("alert-dashboard-id", "data"),
        State("alert-widget", "value"),
        State("alert-category", "value"),
        State("alert-op", "value"),
        State("alert-value", "value"),
        State("alert-check-kind", "value"),
        State("alert-time", "value"),
        State("alert-emails", "value"),
        State("alert-webhook", "value"),
        State("alert-send", "value"),
        State("alert-name", "value"),
        State("alert-rev", "data"),
        prevent_initial_call=True,
    )
    def create(n_clicks, dashboard_id, widget_id, category, op, value, check_kind, time_of_day, emails, webhook,
               send, name, rev):
        if not n_clicks:
            return no_update, no_update
        channels = []
        if _emails(emails):
            channels.append({"type": "email", "to": _emails(emails)})
        if (webhook or "").strip():
            channels.append({"type": "webhook", "url": webhook.strip()})
        check = "on_refresh" if check_kind == "on_refresh" else {"frequency": check_kind,
                                                                  "time": (time_of_day or "08:00")[:5]}
        payload = {"dashboard_id": dashboard_id, "widget_id": widget_id, "category": category or None,
                   "condition": {"op": op, "value": _number(value)}, "check": check, "channels": channels,
                   "send": send, "name": name or None}
        try:
            made = current_storage().alerts.create(require_principal(), payload,
                                                   link_base=flask.request.host_url)
        except DataInsightError as exc:
            return error_alert(exc.message), no_update
        if made.get("warning"):
            return mail_warning(f"Added: {made['name']}. {made['warning']}", "alert-saved-warning"), (rev or 0) + 1
        return success_alert(f"Added: {made['name']} ({made['description']})."), (rev or 0) + 1

    @app.callback(
        Output("alert-action-feedback", "children"),
        Output("alert-rev", "data", allow_duplicate=True),
        Input({"type": "alert-check", "index": ALL}, "n_clicks"),
        Input({"type": "alert-toggle", "index": ALL}, "n_clicks"),
        Input({"type": "alert-delete", "index": ALL}, "n_clicks"),
        State("alert-rev", "data"),
        prevent_initial_call=True,
    )
    def act(_check, _toggle, _delete, rev):
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not (ctx.triggered and ctx.triggered[0]["value"]):
            return no_update, no_update
        try:
            message, _deleted = _act(trigger["type"].removeprefix("alert-"), trigger["index"])
        except DataInsightError as exc:
            return error_alert(exc.message), no_update
        return success_alert(message, duration=8000), (rev or 0) + 1

    @app.callback(
        Output("alert-list", "children"),
        Input("alert-rev", "data"),
        Input("alert-refresh", "n_intervals"),
        State("alert-dashboard-id", "data"),
        prevent_initial_call=True,
    )
    def refresh(_rev, _n, dashboard_id):
        try:
            return alert_list(current_storage().alerts.list(require_principal(), dashboard_id))
        except DataInsightError as exc:
            return error_alert(exc.message)

    @app.callback(
        Output("alert-page-feedback", "children"),
        Output("alert-page-rev", "data"),
        Output("alert-page-leave", "href"),
        Input("alert-page-check", "n_clicks"),
        Input("alert-page-toggle", "n_clicks"),
        Input("alert-page-delete", "n_clicks"),
        State("alert-page-id", "data"),
        State("alert-page-rev", "data"),
        prevent_initial_call=True,
    )
    def act_on_page(_check, _toggle, _delete, alert_id, rev):
        if not (ctx.triggered and ctx.triggered[0]["value"]):
            return no_update, no_update, no_update
        kind = ctx.triggered_id.removeprefix("alert-page-")
        try:
            dashboard_id = current_storage().alerts.get(require_principal(), alert_id)["dashboard_id"]
            message, deleted = _act(kind, alert_id)
        except DataInsightError as exc:
            return error_alert(exc.message), no_update, no_update
        if deleted:
            return no_update, no_update, f"/dashboards/{dashboard_id}/alerts" if dashboard_id else "/dashboards"
        return success_alert(message, duration=8000), (rev or 0) + 1, no_update

    @app.callback(
        Output("alert-page-summary", "children"),
        Output("alert-page-history", "children"),
        Output("alert-page-toggle", "children"),
        Input("alert-page-rev", "data"),
        Input("alert-page-refresh", "n_intervals"),
        State("alert-page-id", "data"),
        prevent_initial_call=True,
    )
    def refresh_page(_rev, _n, alert_id):
        alerts = current_storage().alerts
        try:
            principal = require_principal()
            alert = alerts.get(principal, alert_id)
            return alert_summary(alert), check_history(alerts.history(principal, alert_id)), \
                "Pause" if alert["enabled"] else "Resume"
        except DataInsightError as exc:
            return error_alert(exc.message), no_update, no_update
