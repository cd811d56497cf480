"""/connections: the PostgreSQL and MySQL databases the current workspace reads from
(storage.connections): owners add, see and delete them; editors test them, list their
tables and copy tables into datasets; viewers are told who may."""
import dash
from dash import dcc, html

from components.connections import connection_form, connection_list
from components.feedback import empty_state, page_header
from components.forms import card
from storage.principal import Role
from web.context import current_storage, current_workspace, require_principal

dash.register_page(__name__, path="/connections", title="Connections · DataInsight", order=31)


def layout(**_query):
    principal = require_principal()
    workspace = current_workspace(principal)
    header = page_header("Connections", f"Databases {workspace.name} reads from: copy their tables into datasets "
                                        "that refresh on their own.")
    if not workspace.role.at_least(Role.EDITOR):
        return html.Div([header, empty_state(
            "plug", "Connections are for editors and owners",
            f"You are {workspace.role.with_article} in {workspace.name}. Ask an owner of the workspace if you need "
            "to copy data from a database.")], id="conn-viewer")
    is_owner = workspace.role.at_least(Role.OWNER)
    connections = current_storage().connections.list(principal, workspace.id)
    return html.Div([
        header,
        card("Connections", [html.Div(id="conn-action-feedback", className="mb-2"),
                             html.Div(connection_list(connections, is_owner), id="conn-list")]),
        connection_form() if is_owner else None,
        dcc.Store(id="conn-workspace-id", data=workspace.id),
        dcc.Store(id="conn-rev", data=0),
    ])
