"""/invite?code=...: an invited person chooses a password. Public; the code is the key."""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.feedback import error_alert
from components.auth_card import auth_card
from storage.errors import DataInsightError
from storage.passwords import MIN_LENGTH
from web.context import current_storage

dash.register_page(__name__, path="/invite", title="Join · DataInsight", public=True)


def layout(code=None, **_query):
    try:
        invitation = current_storage().invitations.lookup(code or "")
    except DataInsightError as exc:
        return auth_card("Invitation", "", html.Div([error_alert(exc.message), dbc.Button("Go to sign in", href="/login", color="link")]))
    return auth_card(
        "Join DataInsight",
        f"You were invited as {invitation.email}. Choose your name and a password.",
        dbc.Form(
            [
                dbc.Label("Your name", html_for="public-invite-name"),
                dbc.Input(id="public-invite-name", autoComplete="name", className="mb-3", autoFocus=True),
                dbc.Label("Password", html_for="public-invite-password"),
                dbc.Input(id="public-invite-password", type="password", autoComplete="new-password", className="mb-1"),
                dbc.FormText(f"At least {MIN_LENGTH} characters."),
                html.Div(className="mb-3"),
                dbc.Button("Create my account", id="public-invite-submit", color="primary", className="w-100", n_clicks=0),
                html.Div(id="public-invite-feedback", className="mt-3"),
                dcc.Store(id="public-invite-code", data=code),
                dcc.Location(id="public-invite-redirect", refresh=True),
            ],
            prevent_default_on_submit=True,
        ),
    )
