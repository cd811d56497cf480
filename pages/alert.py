"""/alerts/<id>: one alert (editors of its dashboard's workspace): what it watches, its
state, Check now, pause and delete, and the history of its checks and deliveries."""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.alerts import alert_actions, alert_summary, check_history
from components.feedback import icon, page_header
from components.forms import card
from web.context import current_storage, require_principal

dash.register_page(__name__, path_template="/alerts/<alert_id>", title="Alert · DataInsight", order=47)


def layout(alert_id=None, **_query):
    principal = require_principal()
    alerts = current_storage().alerts
    alert = alerts.get(principal, alert_id)  # NotFound / Forbidden: the page says so
    history = alerts.history(principal, alert["id"])
    back = dbc.Button([icon("arrow-left", "me-1"), "All alerts of the dashboard"],
                      href=f"/dashboards/{alert['dashboard_id']}/alerts" if alert["dashboard_id"] else "/dashboards",
                      color="secondary", outline=True)
    return html.Div([
        page_header(alert["name"], alert["description"], back),
        card("Alert", [alert_actions(alert), html.Div(id="alert-page-feedback", className="mb-2"),
                       html.Div(alert_summary(alert), id="alert-page-summary")]),
        card("History of checks and messages", html.Div(check_history(history), id="alert-page-history")),
        dcc.Store(id="alert-page-id", data=alert["id"]),
        dcc.Store(id="alert-page-rev", data=0),
        dcc.Interval(id="alert-page-refresh", interval=4000),
    ])
