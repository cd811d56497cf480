"""/public/dashboards/<token>: a dashboard shared by a public link, read-only, for anyone
with the link. It shows only that dashboard's widgets and filters; every callback on it
reaches data through the token (storage checks it), never through an id."""
import dash
from dash import dcc, html

from analytics.dashboards import resolve_tab, widgets_of_tab
from components.dashboards import dashboard_page_body
from components.feedback import empty_state, icon
from components.reports import public_download_menu
from storage.dashboard_views import parse_view_state
from storage.errors import NotFound
from web.context import current_storage

dash.register_page(__name__, path_template="/public/dashboards/<token>", title="Shared dashboard · DataInsight",
                   public=True, order=90)


def layout(token=None, **_query):
    views = current_storage().dashboard_views
    try:
        board = views.shared_board(token or "")
        options = views.shared_filter_options(token)
    except NotFound:
        return empty_state("link-45deg", "This link does not work",
                           "The dashboard's public link was revoked, or the address is incomplete.")
    state = parse_view_state(_query.get("filters"), _query.get("xf"), _query.get("tab"))
    shown = widgets_of_tab(board, resolve_tab(board, state["tab"]))
    outputs = views.render_shared_widgets(token, board, shown, state["filters"], state["cross"])
    download = public_download_menu(token, state) if current_storage().dashboards.share_allows_export(token) else None
    return html.Div(
        [
            html.Div(
                [html.Div([html.H1(board["name"], className="h3 mb-1"),
                           html.P(board.get("description") or "", className="text-body-secondary mb-1"),
                           html.Div([icon("globe", "me-1"), "Shared read-only with a public link"],
                                    className="small text-body-secondary")]),
                 download],
                className="mb-3 d-flex flex-wrap justify-content-between align-items-start gap-2",
            ),
            dashboard_page_body(board, state, options, prefix="public-", editable=False, outputs=outputs),
            dcc.Store(id="public-dash-token", data=token),
            html.Div(id="public-dash-url-sync", hidden=True),
        ],
        className="dashboard-page public-dashboard",
    )
