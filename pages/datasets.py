"""/datasets: the datasets of the current workspace, the upload zone and the samples."""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.datasets import datasets_table, sample_cards, upload_zone
from components.feedback import empty_state, page_header
from storage.principal import Role
from storage.samples import list_samples
from web.context import current_storage, current_workspace, require_principal

dash.register_page(__name__, path="/datasets", title="Datasets · DataInsight", order=1)


def layout(**_query):
    principal = require_principal()
    workspace = current_workspace(principal)
    can_edit = workspace.role.at_least(Role.EDITOR)
    found = current_storage().datasets.list(principal, workspace.id)
    upload = (
        upload_zone("dataset-upload-zone") if can_edit
        else dbc.Alert(f"You are {workspace.role.with_article} in {workspace.name}: you can open datasets but not add them.",
                       color="secondary")
    )
    if found:
        listing = html.Div(
            [
                dbc.Row(
                    [
                        dbc.Col(dbc.Input(id="datasets-search", type="search", placeholder="Search by name or description",
                                          debounce=True), md=8),
                        dbc.Col(dbc.Select(id="datasets-sort", value="updated", options=[
                            {"label": "Recently updated", "value": "updated"}, {"label": "Name", "value": "name"},
                            {"label": "Most rows", "value": "rows"}, {"label": "Largest", "value": "size"},
                            {"label": "Newest", "value": "created"}]), md=4),
                    ],
                    className="mb-3 g-2",
                ),
                html.Div(datasets_table(found), id="datasets-list"),
            ]
        )
    else:
        listing = empty_state(
            "table", f"No datasets in {workspace.name} yet",
            "Drop a file above, or add one of the samples below to try things out.",
        )
    samples = list_samples()
    return html.Div(
        [
            page_header("Datasets", f"Tables in {workspace.name}"),
            upload,
            html.Div(listing, className="mt-4"),
            html.H2("Samples", className="h5 mt-5 mb-3") if samples else None,
            sample_cards(samples, can_edit) if samples else None,
            html.Div(id="sample-feedback"),
            dcc.Location(id="datasets-redirect", refresh=True),
        ]
    )
