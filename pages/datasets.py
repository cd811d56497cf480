"""/datasets: the datasets of the current workspace."""
import dash
from dash import html

from components.feedback import empty_state, page_header
from web.context import current_workspace, require_principal

dash.register_page(__name__, path="/datasets", title="Datasets · DataInsight", order=1)


def layout(**_query):
    workspace = current_workspace(require_principal())
    return html.Div(
        [
            page_header("Datasets", f"Tables in {workspace.name}"),
            empty_state(
                "table",
                f"No datasets in {workspace.name} yet",
                "Every dataset of this workspace will be listed here with its rows, columns, size and owner.",
            ),
        ]
    )
