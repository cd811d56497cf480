"""/settings/workspaces: the workspaces the person belongs to, and their members."""
import dash
import dash_bootstrap_components as dbc
from dash import html

from components.feedback import page_header
from components.forms import ROLE_OPTIONS, card, labelled
from components.tables import members_panel, recipient_domains_panel, workspace_list
from storage.principal import Role
from web.context import current_storage, current_workspace, require_principal

dash.register_page(__name__, path="/settings/workspaces", title="Workspaces · DataInsight", order=5)


def layout(**_query):
    principal = require_principal()
    storage = current_storage()
    workspace = current_workspace(principal)
    mine = storage.workspaces.list_for(principal)
    is_owner = workspace.role is Role.OWNER
    overview = card(
        "Your workspaces",
        [
            html.Div(workspace_list(mine, workspace.id), id="workspace-list", className="mb-3"),
            dbc.InputGroup(
                [dbc.Input(id="workspace-new-name", placeholder="Name of a new team workspace"),
                 dbc.Button("Create workspace", id="workspace-create", color="primary", n_clicks=0)],
            ),
            html.Div(id="workspace-create-feedback", className="mt-3"),
        ],
    )
    add_member = None
    if is_owner:
        add_member = dbc.Row(
            [
                dbc.Col(labelled("Email", dbc.Input(id="member-email", type="email", placeholder="colleague@example.com")), md=6),
                dbc.Col(labelled("Role", dbc.Select(id="member-role-new", value="viewer", options=ROLE_OPTIONS)), md=4),
                dbc.Col(dbc.Button("Add member", id="member-add", color="primary", n_clicks=0, className="w-100"),
                        md=2, className="d-flex align-items-end mb-3"),
            ]
        )
    members = card(
        f"Members of {workspace.name}",
        [add_member, html.Div(id="member-feedback", className="mb-3"),
         html.Div(members_panel(storage.workspaces.members(principal, workspace.id), workspace, principal.user_id),
                  id="member-list")],
    )
    domains = card(f"Allowed recipient domains of {workspace.name}", recipient_domains_panel(workspace))
    return html.Div([page_header("Workspaces", "Switch workspace in the top bar; members see its datasets and dashboards."),
                     overview, members, domains])
