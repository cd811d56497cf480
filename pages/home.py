"""/: where a signed-in person lands: their workspace and where to go next."""
import dash
import dash_bootstrap_components as dbc
from dash import html

from components.feedback import icon, page_header
from components.navbar import SECTIONS
from web.context import current_storage, current_workspace, require_principal

dash.register_page(__name__, path="/", title="Home · DataInsight", order=0)

SECTION_TEXT = {
    "Datasets": "Your files as typed tables you can preview, profile and export.",
    "Dashboards": "Charts and KPIs on a grid, with filters, shared with your team.",
    "Analyze": "Statistics, regression, clustering, forecasts and segments.",
    "Settings": "Your password, API tokens, workspaces and members.",
}


def layout(**_query):
    principal = require_principal()
    workspace = current_workspace(principal)
    member_count = len(current_storage().workspaces.members(principal, workspace.id))
    cards = [
        dbc.Col(
            dbc.Card(
                dbc.CardBody(
                    [
                        html.H2([icon(ic, "me-2 text-primary"), label], className="h5"),
                        html.P(SECTION_TEXT[label], className="text-body-secondary mb-2"),
                        dbc.Button(f"Open {label}", href=href, color="primary", outline=True, size="sm"),
                    ]
                ),
                className="h-100",
            ),
            md=6, xl=3, className="mb-3",
        )
        for label, href, ic in SECTIONS
    ]
    return html.Div(
        [
            page_header(
                f"Welcome, {principal.name}",
                f"You are in {workspace.name} as {workspace.role.value}, with "
                f"{member_count} member{'s' if member_count != 1 else ''}.",
            ),
            dbc.Row(cards),
        ]
    )
