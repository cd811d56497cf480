"""/api/v1/alerts: alerts on a widget's number (storage.alerts checks the rights).

POST /api/v1/alerts {"dashboard_id", "widget_id", "category"?, "condition": {"op", "value"},
"check": "on_refresh" | {"frequency", "days", "time", "timezone"}, "channels": [...],
"send": "on_change" | "every_time", "name"?} → 201; GET /api/v1/alerts?dashboard_id=;
GET/PATCH/DELETE /api/v1/alerts/<id> (GET holds the history of checks and deliveries);
POST /api/v1/alerts/<id>/check checks now.
"""
from __future__ import annotations

import flask

from typing import Literal

from api._helpers import created, json_body
from api.openapi import Answer, Body, operation, query
from storage.errors import InvalidInput
from web.context import current_storage, require_principal

blueprint = flask.Blueprint("api_alerts", __name__, url_prefix="/api/v1/alerts")


class Condition(Body):
    op: Literal[">", ">=", "<", "<=", "changes_by_pct"]
    value: float


class Channel(Body):
    type: Literal["email", "webhook"]
    to: list[str] | str | None = None
    url: str | None = None


class CheckSchedule(Body):
    frequency: Literal["hourly", "daily", "weekly", "monthly"] = "daily"
    days: list[int] | None = None
    time: str | None = None
    timezone: str | None = None


class AlertIn(Answer):
    """An alert as GET gives it (read-only fields are accepted and ignored; storage names
    an unknown field)."""

    dashboard_id: int | None = None
    widget_id: str | None = None
    category: str | float | None = None
    condition: Condition | None = None
    check: Literal["on_refresh"] | CheckSchedule | None = None
    channels: list[Channel] | None = None
    send: Literal["on_change", "every_time"] | None = None
    name: str | None = None
    enabled: bool | None = None


class AlertOut(Answer):
    id: int
    dashboard_id: int | None
    widget_id: str
    state: Literal["unknown", "ok", "triggered"]
    condition: dict
    channels: list[dict]
    enabled: bool


class AlertList(Answer):
    alerts: list[AlertOut]


class CheckOut(Answer):
    id: int
    trigger: str
    state: Literal["ok", "triggered", "error"]
    value: float | None
    event: str | None
    deliveries: list[dict]


@blueprint.get("")
@operation("A dashboard's alerts (editors)", "Alerts", query=dict([query("dashboard_id", {"type": "integer"}, "", True)]), answer=AlertList)
def list_alerts():
    principal = require_principal()
    dashboard_id = flask.request.args.get("dashboard_id")
    if not dashboard_id:
        raise InvalidInput("Say which dashboard's alerts: ?dashboard_id=<id>", details={"field": "dashboard_id"})
    return flask.jsonify({"alerts": current_storage().alerts.list(principal, dashboard_id)})


@blueprint.post("")
@operation("Tell people when a widget's number crosses a line", "Alerts", body=AlertIn, status=201, answer=AlertOut)
def create_alert():
    principal = require_principal()
    # Links in the alert's messages lead to where it was made, unless DATAINSIGHT_PUBLIC_URL says otherwise.
    return created(current_storage().alerts.create(principal, json_body(), link_base=flask.request.host_url))


@blueprint.get("/<alert_id>")
@operation("One alert with its checks and their deliveries", "Alerts", answer=AlertOut)
def get_alert(alert_id):
    principal = require_principal()
    alerts = current_storage().alerts
    return flask.jsonify({**alerts.get(principal, alert_id), "checks": alerts.history(principal, alert_id)})


@blueprint.patch("/<alert_id>")
@operation("Change an alert (the fields sent); pause it with enabled false", "Alerts", body=AlertIn, answer=AlertOut)
def update_alert(alert_id):
    principal = require_principal()
    return flask.jsonify(current_storage().alerts.update(principal, alert_id, json_body()))


@blueprint.delete("/<alert_id>")
@operation("Delete an alert and its history", "Alerts", status=204)
def delete_alert(alert_id):
    principal = require_principal()
    current_storage().alerts.delete(principal, alert_id)
    return "", 204


@blueprint.post("/<alert_id>/check")
@operation("Check now; what it sends goes out in the background", "Alerts", status=201, answer=CheckOut)
def check_alert(alert_id):
    """Check now: the check (value, state, event) with its deliveries, sent in the background."""
    principal = require_principal()
    return created(current_storage().alerts.check_now(principal, alert_id))
