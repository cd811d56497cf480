"""/admin/users: administrators create and invite accounts and turn them off."""
import dash
import dash_bootstrap_components as dbc
from dash import html

from components.feedback import page_header
from components.forms import card, labelled
from components.tables import invitations_list, users_table
from storage.passwords import MIN_LENGTH
from web.context import current_storage, require_principal

dash.register_page(__name__, path="/admin/users", title="Users · DataInsight", order=6, admin_only=True)


def layout(**_query):
    principal = require_principal()
    storage = current_storage()
    create = card(
        "Create a user",
        [
            dbc.Row(
                [
                    dbc.Col(labelled("Email", dbc.Input(id="user-new-email", type="email")), lg=4),
                    dbc.Col(labelled("Name", dbc.Input(id="user-new-name")), lg=3),
                    dbc.Col(labelled("Password", dbc.Input(id="user-new-password", type="password", autoComplete="new-password"),
                                     f"At least {MIN_LENGTH} characters"), lg=3),
                    dbc.Col(dbc.Checkbox(id="user-new-admin", label="Administrator", value=False), lg=2,
                            className="d-flex align-items-center"),
                ]
            ),
            dbc.Button("Create user", id="user-create", color="primary", n_clicks=0),
            html.Div(id="user-create-feedback", className="mt-3"),
        ],
    )
    invite = card(
        "Invite someone",
        [
            html.P("They get a one-time link, valid for 7 days, to choose their own password.",
                   className="text-body-secondary"),
            dbc.InputGroup(
                [dbc.Input(id="invite-email", type="email", placeholder="colleague@example.com"),
                 dbc.InputGroupText(dbc.Checkbox(id="invite-admin", label="Administrator", value=False)),
                 dbc.Button("Create invitation", id="invite-create", color="primary", n_clicks=0)]
            ),
            html.Div(id="invite-feedback", className="mt-3"),
            html.H3("Pending invitations", className="h6 mt-3"),
            html.Div(invitations_list(storage.invitations.list_pending(principal)), id="invite-list"),
        ],
    )
    users = card("Users", [html.Div(id="users-feedback", className="mb-2"),
                           html.Div(users_table(storage.users.list_users(principal), principal.user_id), id="users-list")])
    return html.Div([page_header("Users", "Accounts on this DataInsight server"), users, create, invite])
