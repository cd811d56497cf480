"""/dashboards/<id>/schedules: the dashboard's report schedules (editors): the list with
Send now, pause and delete, a form for a new one, the run history, and whether the
public link may download the dashboard."""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.feedback import icon, page_header
from components.forms import card
from components.reports import mail_log, run_history, schedule_form, schedule_list, share_export_switch
from web.context import current_storage, require_principal

dash.register_page(__name__, path_template="/dashboards/<dashboard_id>/schedules",
                   title="Schedules · DataInsight", order=49)  # before /dashboards/<id>, which would match too


def layout(dashboard_id=None, **_query):
    principal = require_principal()
    storage = current_storage()
    board = storage.dashboards.get(principal, dashboard_id)
    schedules = storage.schedules.list(principal, board["id"])  # Forbidden for viewers: the page says so
    runs = {s["id"]: storage.schedules.runs(principal, s["id"]) for s in schedules}
    options = storage.dashboard_views.filter_options(principal, board["id"])
    allowed = storage.dashboards.share_export_allowed(principal, board["id"])
    sends = storage.schedules.sends.list_if_owner(principal, board["workspace_id"], board["id"])
    back = dbc.Button([icon("arrow-left", "me-1"), "Back to the dashboard"], href=f"/dashboards/{board['id']}",
                      color="secondary", outline=True)
    return html.Div([
        page_header(f"Schedules · {board['name']}",
                    "The dashboard's report, mailed on a schedule with the filters you choose.", back),
        # What Send now, Pause and Delete answer shows right under their buttons.
        card("Schedules", [html.Div(schedule_list(schedules), id="schedule-list"),
                           html.Div(id="schedule-action-feedback", className="mt-2")]),
        schedule_form(board, options, storage.schedules.mail_warning()),
        card("Run history", html.Div(run_history(schedules, runs), id="schedule-history")),
        card("Mail log", html.Div(mail_log(sends), id="schedule-mail-log")),
        card("Public link", [share_export_switch(board, allowed),
                             html.Div(id="schedule-share-feedback", className="mt-2")]),
        dcc.Store(id="schedule-dashboard-id", data=board["id"]),
        dcc.Store(id="schedule-rev", data=0),
        dcc.Store(id="schedule-seen"),  # a digest of what the lists show (see callbacks/reports.refresh)
        dcc.Interval(id="schedule-refresh", interval=3000),
    ])

