"""/api/v1/alerts: alerts on a widget's number (storage.alerts checks the rights).

POST /api/v1/alerts {"dashboard_id", "widget_id", "category"?, "condition": {"op", "value"},
"check": "on_refresh" | {"frequency", "days", "time", "timezone"}, "channels": [...],
"send": "on_change" | "every_time", "name"?} → 201; GET /api/v1/alerts?dashboard_id=;
GET/PATCH/DELETE /api/v1/alerts/<id> (GET holds the history of checks and deliveries);
POST /api/v1/alerts/<id>/check checks now.
"""
from __future__ import annotations

import flask

from api._helpers import created, json_body
from storage.errors import InvalidInput
from web.context import current_storage, require_principal

blueprint = flask.Blueprint("api_alerts", __name__, url_prefix="/api/v1/alerts")


@blueprint.get("")
def list_alerts():
    principal = require_principal()
    dashboard_id = flask.request.args.get("dashboard_id")
    if not dashboard_id:
        raise InvalidInput("Say which dashboard's alerts: ?dashboard_id=<id>", details={"field": "dashboard_id"})
    return flask.jsonify({"alerts": current_storage().alerts.list(principal, dashboard_id)})


@blueprint.post("")
def create_alert():
    principal = require_principal()
    # Links in the alert's messages lead to where it was made, unless DATAINSIGHT_PUBLIC_URL says otherwise.
    return created(current_storage().alerts.create(principal, json_body(), link_base=flask.request.host_url))


@blueprint.get("/<alert_id>")
def get_alert(alert_id):
    principal = require_principal()
    alerts = current_storage().alerts
    return flask.jsonify({**alerts.get(principal, alert_id), "checks": alerts.history(principal, alert_id)})


@blueprint.patch("/<alert_id>")
def update_alert(alert_id):
    principal = require_principal()
    return flask.jsonify(current_storage().alerts.update(principal, alert_id, json_body()))


@blueprint.delete("/<alert_id>")
def delete_alert(alert_id):
    principal = require_principal()
    current_storage().alerts.delete(principal, alert_id)
    return "", 204


@blueprint.post("/<alert_id>/check")
def check_alert(alert_id):
    """Check now: the check (value, state, event) with its deliveries, sent in the background."""
    principal = require_principal()
    return created(current_storage().alerts.check_now(principal, alert_id))
