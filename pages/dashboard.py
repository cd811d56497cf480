"""/dashboards/<id>: one dashboard on a drag-and-resize grid, with its filters, tabs,
cross-filtering, and (for editors) the widget editor, filter and tab management and the
public link. The filter state is read from the URL, so a filtered view can be shared:
``?filters={"<filter id>": [...]}&xf=[cross-filters]&tab=<tab id>``."""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from analytics.dashboards import resolve_tab, widgets_of_tab
from components.dashboards import dashboard_page_body
from components.feedback import icon, page_header
from components.reports import download_actions, download_modal
from components.widget_editor import editor_modal, filter_modal, share_modal
from storage.dashboard_views import parse_view_state
from storage.principal import Role
from web.context import current_storage, current_workspace, require_principal

dash.register_page(__name__, path_template="/dashboards/<dashboard_id>", title="Dashboard · DataInsight", order=51)


def layout(dashboard_id=None, filters=None, xf=None, tab=None, **_query):
    principal = require_principal()
    storage = current_storage()
    board = storage.dashboards.get(principal, dashboard_id)
    board["alert_states"] = storage.alerts.widget_states(principal, board["id"])  # the bells on widgets
    can_edit = Role(board["role"]).at_least(Role.EDITOR)
    state = parse_view_state(filters, xf, tab)
    views = storage.dashboard_views
    options = views.filter_options(principal, board["id"])
    shown = widgets_of_tab(board, resolve_tab(board, state["tab"]))
    outputs = views.render_widgets(principal, board, shown, state["filters"], state["cross"])
    actions = download_actions(board["id"], can_edit)
    if can_edit:
        actions += [
            dbc.Button([icon("share", "me-1"), "Share"], id="dash-share-open", color="secondary", outline=True,
                       className="me-2", n_clicks=0),
            dbc.Button([icon("pencil-square", "me-1"), "Edit"], id="dash-edit-toggle", color="primary",
                       n_clicks=0),
        ]
    datasets = storage.datasets.list(principal, board["workspace_id"]) if can_edit else []
    return html.Div(
        [
            page_header(board["name"], board.get("description") or None, html.Div(actions, className="d-flex")),
            dashboard_page_body(board, state, options, prefix="", editable=False, outputs=outputs),
            dcc.Store(id="dash-id", data=board["id"]),
            dcc.Store(id="dash-rev", data=0),
            html.Div(id="dash-url-sync", hidden=True),
            download_modal(),
            *([editor_modal(datasets, current_workspace(principal)), filter_modal(), share_modal(board)]
              if can_edit else []),
        ],
        className="dashboard-page",
    )
