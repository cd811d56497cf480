"""/datasets/<id>: one dataset: its rows in a grid, its columns, its versions, and what
can be done with it (export, rename, new version, delete); for a dataset copied from a
database, its Source (refresh now, the refresh setting)."""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.column_roles import column_roles_table
from components.datasets import data_grid, human_size, upload_zone, versions_table
from components.feedback import icon, page_header
from components.profile import profile_tab
from components.syncs import source_card
from storage.errors import NotFound
from storage.principal import Role
from web.context import current_storage, require_principal

dash.register_page(__name__, path_template="/datasets/<dataset_id>", title="Dataset · DataInsight", order=50)


def _stat(label: str, value: str, stat_id: str):
    return dbc.Col([html.Div(label, className="small text-body-secondary"),
                    html.Div(value, className="dataset-stat", id=stat_id)], xs=6, md=3)


def export_menu(dataset_id: int):
    return dbc.DropdownMenu(
        [dbc.DropdownMenuItem(label, href=f"/api/v1/datasets/{dataset_id}/export?format={fmt}", external_link=True,
                              id=f"export-{fmt}", target="_blank")
         for fmt, label in (("csv", "CSV"), ("xlsx", "Excel"), ("parquet", "Parquet"))],
        label=[icon("download", "me-1"), "Export"], color="primary", id="export-menu",
    )


def _source(storage, principal, dataset, can_edit: bool):
    """The Source card of a dataset copied from a database; nothing for any other."""
    try:
        return source_card(storage.syncs.get(principal, dataset.id), can_edit)
    except NotFound:
        return None


def layout(dataset_id=None, **_query):
    principal = require_principal()
    storage = current_storage()
    dataset = storage.datasets.get(principal, dataset_id)
    can_edit = dataset.role.at_least(Role.EDITOR)
    actions = [dbc.Button([icon("graph-up", "me-1"), "Analyze"], href=f"/analyze?dataset={dataset.id}",
                          id="dataset-analyze", color="secondary", outline=True, className="me-2"),
               export_menu(dataset.id)]
    if can_edit:
        actions = [dbc.Button([icon("grid-1x2", "me-1"), "Create dashboard"], id="dataset-create-dashboard",
                              color="secondary", outline=True, className="me-2", n_clicks=0,
                              title="A dashboard made for this dataset: a template when its columns match one"),
                   *actions]
    settings_tab = None
    if can_edit:
        settings_tab = dbc.Tab(
            html.Div(
                [
                    html.H3("Name and description", className="h6"),
                    dbc.Input(id="dataset-name-input", value=dataset.name, className="mb-2"),
                    dbc.Textarea(id="dataset-description-input", value=dataset.description, className="mb-2",
                                 placeholder="What is in this dataset, where it comes from"),
                    dbc.Button("Save", id="dataset-save", color="primary", n_clicks=0),
                    html.Div(id="dataset-save-feedback", className="mt-2"),
                    html.H3("New version", className="h6 mt-4"),
                    html.P("Replace the data with a new file, or append a file with the same columns. "
                           "Earlier versions are kept.", className="small text-body-secondary"),
                    dbc.RadioItems(id="dataset-version-mode", value="replace", inline=True, className="mb-2",
                                   options=[{"label": "Replace", "value": "replace"},
                                            {"label": "Append rows", "value": "append"}]),
                    html.Div(upload_zone("dataset-version-zone", "replace", dataset.id, "Drop the new file here"),
                             id="dataset-version-zone-wrap"),
                    html.H3("Delete", className="h6 mt-4"),
                    dbc.Button("Delete this dataset…", id="dataset-delete-open", color="danger", outline=True, n_clicks=0),
                    dbc.Modal(
                        [
                            dbc.ModalHeader(dbc.ModalTitle("Delete the dataset?")),
                            dbc.ModalBody(f"“{dataset.name}” and all its {len(storage.datasets.versions(principal, dataset.id))}"
                                          " version(s) will be deleted. This cannot be undone."),
                            dbc.ModalFooter([
                                dbc.Button("Cancel", id="dataset-delete-cancel", color="secondary", n_clicks=0),
                                dbc.Button("Delete", id="dataset-delete-confirm", color="danger", n_clicks=0),
                            ]),
                        ],
                        id="dataset-delete-modal", is_open=False,
                    ),
                    html.Div(id="dataset-delete-feedback", className="mt-2"),
                ],
                className="p-3",
            ),
            label="Settings", tab_id="settings",
        )
    tabs = [
        dbc.Tab(html.Div(data_grid("dataset-grid", dataset.schema), className="pt-3"), label="Data", tab_id="data"),
        dbc.Tab(profile_tab(dataset.id), label="Profile", tab_id="profile"),
        dbc.Tab(html.Div(column_roles_table(dataset.schema, storage.roles.get(principal, dataset.id), can_edit),
                         className="pt-3"), label=f"Columns ({len(dataset.schema)})", tab_id="columns"),
        dbc.Tab(html.Div(versions_table(storage.datasets.versions(principal, dataset.id)), className="pt-3"),
                label="Versions", tab_id="versions"),
    ]
    if settings_tab:
        tabs.append(settings_tab)
    return html.Div(
        [
            page_header(dataset.name, dataset.description or None, html.Div(actions, className="d-flex")),
            html.Div(id="dataset-create-dashboard-feedback"),
            dbc.Row(
                [
                    _stat("Rows", f"{dataset.rows:,}", "dataset-rows"),
                    _stat("Columns", f"{len(dataset.schema):,}", "dataset-columns"),
                    _stat("Size on disk", human_size(dataset.size_bytes), "dataset-size"),
                    _stat("Version", f"{dataset.version}", "dataset-version"),
                ],
                className="mb-3",
            ),
            _source(storage, principal, dataset, can_edit),
            dbc.Tabs(tabs, active_tab="data", id="dataset-tabs"),
            dcc.Store(id="dataset-id", data=dataset.id),
            dcc.Location(id="dataset-redirect", refresh=True),
        ]
    )
