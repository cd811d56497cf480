"""/settings: the signed-in person's account: profile, password, sessions and API tokens."""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.feedback import page_header
from components.forms import card, labelled
from components.tables import sessions_table, tokens_table
from storage.passwords import MIN_LENGTH
from web.auth import current_session_key
from web.context import current_storage, require_principal

dash.register_page(__name__, path="/settings", title="Settings · DataInsight", order=4)


def layout(**_query):
    principal = require_principal()
    storage = current_storage()
    user = storage.users.get(principal.user_id)
    profile = card(
        "Profile",
        dbc.Row(
            [
                dbc.Col([html.Div("Name", className="text-body-secondary small"), html.Div(user.name, id="settings-name")], md=4),
                dbc.Col([html.Div("Email", className="text-body-secondary small"), html.Div(user.email, id="settings-email")], md=4),
                dbc.Col([html.Div("Role", className="text-body-secondary small"), html.Div("Administrator" if user.is_admin else "User")], md=4),
            ]
        ),
    )
    password = card(
        "Change password",
        [
            labelled("Current password", dbc.Input(id="password-current", type="password", autoComplete="current-password")),
            labelled("New password", dbc.Input(id="password-new", type="password", autoComplete="new-password"),
                     f"At least {MIN_LENGTH} characters. Other sessions are signed out."),
            labelled("Repeat the new password", dbc.Input(id="password-new2", type="password", autoComplete="new-password")),
            dbc.Button("Change password", id="password-submit", color="primary", n_clicks=0),
            html.Div(id="password-feedback", className="mt-3"),
        ],
    )
    sessions = card(
        "Where you are signed in",
        [
            sessions_table(storage.sessions.list_for(principal, current_session_key())),
            dbc.Button("Sign out everywhere", id="sessions-revoke-all", color="danger", outline=True, n_clicks=0),
            html.Div("Ends every session of your account, this one included; API tokens keep working.",
                     className="form-text"),
            dcc.Location(id="sessions-redirect", refresh=True),
        ],
    )
    tokens = card(
        "API tokens",
        [
            html.P(
                ["Scripts use a token with the header ", html.Code("Authorization: Bearer <token>"),
                 ". A token acts as you; a read-only token can never change anything."],
                className="text-body-secondary",
            ),
            dbc.Row(
                [
                    dbc.Col(labelled("Name", dbc.Input(id="token-name", placeholder="e.g. nightly export script")), md=5),
                    dbc.Col(labelled("Scope", dbc.Select(id="token-scope", value="write", options=[
                        {"label": "Read and write", "value": "write"}, {"label": "Read only", "value": "read"}])), md=3),
                    dbc.Col(labelled("Expires after (days)", dbc.Input(id="token-expiry", type="number", min=1, max=3650,
                                                                       placeholder="never")), md=2),
                    dbc.Col(dbc.Button("Create token", id="token-create", color="primary", n_clicks=0, className="w-100"),
                            md=2, className="d-flex align-items-end mb-3"),
                ]
            ),
            html.Div(id="token-feedback", className="mb-3"),
            html.Div(tokens_table(storage.tokens.list_for(principal)), id="token-list"),
        ],
    )
    return html.Div(
        [page_header("Settings", "Your account and API access"), profile,
         dbc.Row([dbc.Col(password, lg=6), dbc.Col(sessions, lg=6)]), tokens]
    )
