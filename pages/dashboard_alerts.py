"""/dashboards/<id>/alerts: the dashboard's alerts (editors): each with its state, last
value, Check now, pause and delete, and the form for a new one."""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.alerts import alert_form, alert_list
from components.feedback import icon, page_header
from components.forms import card
from web.context import current_storage, require_principal

dash.register_page(__name__, path_template="/dashboards/<dashboard_id>/alerts",
                   title="Alerts · DataInsight", order=48)  # before /dashboards/<id>, which would match too


def layout(dashboard_id=None, **_query):
    principal = require_principal()
    storage = current_storage()
    board = storage.dashboards.get(principal, dashboard_id)
    alerts = storage.alerts.list(principal, board["id"])  # Forbidden for viewers: the page says so
    back = dbc.Button([icon("arrow-left", "me-1"), "Back to the dashboard"], href=f"/dashboards/{board['id']}",
                      color="secondary", outline=True)
    return html.Div([
        page_header(f"Alerts · {board['name']}",
                    "Hear when a number crosses a line: by email or webhook, once when it happens and once when "
                    "it is back to normal.", back),
        card("Alerts", [html.Div(alert_list(alerts), id="alert-list"),
                        html.Div(id="alert-action-feedback", className="mt-2")]),
        alert_form(board, storage.alerts.mailer.problem(), principal.email),
        dcc.Store(id="alert-dashboard-id", data=board["id"]),
        dcc.Store(id="alert-rev", data=0),
        dcc.Interval(id="alert-refresh", interval=5000),
    ])
