"""/dashboards: the dashboards of the current workspace."""
import dash
from dash import html

from components.feedback import empty_state, page_header
from web.context import current_workspace, require_principal

dash.register_page(__name__, path="/dashboards", title="Dashboards · DataInsight", order=2)


def layout(**_query):
    workspace = current_workspace(require_principal())
    return html.Div(
        [
            page_header("Dashboards", f"Dashboards in {workspace.name}"),
            empty_state(
                "grid-1x2",
                f"No dashboards in {workspace.name} yet",
                "Dashboards are built from the datasets of a workspace; each one will be listed here.",
            ),
        ]
    )
