"""/dashboards: the dashboards of the current workspace; create one (blank or generated
from a dataset), rename, duplicate, delete."""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.dashboards import dashboards_table
from components.feedback import icon, page_header
from components.forms import labelled
from storage.principal import Role
from web.context import current_storage, current_workspace, require_principal

dash.register_page(__name__, path="/dashboards", title="Dashboards · DataInsight", order=2)


def _new_dashboard_modal(datasets) -> dbc.Modal:
    options = [{"label": "Blank dashboard", "value": ""}] + [
        {"label": f"Generate from “{d.name}”", "value": str(d.id)} for d in datasets
    ]
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("New dashboard")),
            dbc.ModalBody([
                labelled("Start from", dcc.Dropdown(id="dashboard-new-source", options=options, value="",
                                                    clearable=False),
                         "A generated dashboard uses a template when the columns match one (video game sales, "
                         "retail transactions, music preferences) and otherwise proposes widgets from the data."),
                labelled("Name", dbc.Input(id="dashboard-new-name", placeholder="Leave empty for a suggested name",
                                           maxLength=200)),
                html.Div(id="dashboard-new-feedback"),
            ]),
            dbc.ModalFooter([
                dbc.Button("Cancel", id="dashboard-new-cancel", color="secondary", n_clicks=0),
                dbc.Button("Create", id="dashboard-new-create", color="primary", n_clicks=0),
            ]),
        ],
        id="dashboard-new-modal", is_open=False,
    )


def _rename_modal() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Rename the dashboard")),
            dbc.ModalBody([
                labelled("Name", dbc.Input(id="dashboard-rename-name", maxLength=200)),
                labelled("Description", dbc.Textarea(id="dashboard-rename-description")),
                html.Div(id="dashboard-rename-feedback"),
            ]),
            dbc.ModalFooter([
                dbc.Button("Cancel", id="dashboard-rename-cancel", color="secondary", n_clicks=0),
                dbc.Button("Save", id="dashboard-rename-save", color="primary", n_clicks=0),
            ]),
        ],
        id="dashboard-rename-modal", is_open=False,
    )


def _delete_modal() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Delete the dashboard?")),
            dbc.ModalBody(html.Div(id="dashboard-delete-text")),
            dbc.ModalFooter([
                dbc.Button("Cancel", id="dashboard-delete-cancel", color="secondary", n_clicks=0),
                dbc.Button("Delete", id="dashboard-delete-confirm", color="danger", n_clicks=0),
            ]),
        ],
        id="dashboard-delete-modal", is_open=False,
    )


def layout(**_query):
    principal = require_principal()
    storage = current_storage()
    workspace = current_workspace(principal)
    can_edit = workspace.role.at_least(Role.EDITOR)
    actions = None
    if can_edit:
        actions = dbc.Button([icon("plus-lg", "me-1"), "New dashboard"], id="dashboard-new-open", color="primary",
                             n_clicks=0)
    datasets = storage.datasets.list(principal, workspace.id) if can_edit else []
    return html.Div(
        [
            page_header("Dashboards", f"Dashboards in {workspace.name}", actions),
            html.Div(id="dashboards-feedback", className="mb-2"),
            html.Div(dashboards_table(storage.dashboards.list(principal, workspace.id), can_edit),
                     id="dashboards-list"),
            dcc.Store(id="dashboard-pending-id"),
            dcc.Location(id="dashboards-redirect", refresh=True),
            _new_dashboard_modal(datasets) if can_edit else None,
            _rename_modal() if can_edit else None,
            _delete_modal() if can_edit else None,
        ]
    )
