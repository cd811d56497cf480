"""/analyze: analyses of a dataset of the current workspace."""
import dash
from dash import html

from components.feedback import empty_state, page_header
from web.context import current_workspace, require_principal

dash.register_page(__name__, path="/analyze", title="Analyze · DataInsight", order=3)


def layout(**_query):
    workspace = current_workspace(require_principal())
    return html.Div(
        [
            page_header("Analyze", f"Analyses of the data in {workspace.name}"),
            empty_state(
                "graph-up",
                "Nothing to analyze yet",
                f"An analysis starts from a dataset, and {workspace.name} has none yet.",
            ),
        ]
    )
