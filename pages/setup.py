"""/setup: first start only. Creates the first administrator; there is no default account."""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.auth_card import auth_card
from storage.passwords import MIN_LENGTH

dash.register_page(__name__, path="/setup", title="Set up · DataInsight", public=True)


def layout(**_query):
    return auth_card(
        "Set up DataInsight",
        "Create the administrator account. You can invite the rest of your team afterwards.",
        dbc.Form(
            [
                dbc.Label("Your name", html_for="public-setup-name"),
                dbc.Input(id="public-setup-name", autoComplete="name", className="mb-3", autoFocus=True),
                dbc.Label("Email", html_for="public-setup-email"),
                dbc.Input(id="public-setup-email", type="email", autoComplete="username", className="mb-3"),
                dbc.Label("Password", html_for="public-setup-password"),
                dbc.Input(id="public-setup-password", type="password", autoComplete="new-password", className="mb-1"),
                dbc.FormText(f"At least {MIN_LENGTH} characters."),
                html.Div(className="mb-3"),
                dbc.Label("Repeat the password", html_for="public-setup-password2"),
                dbc.Input(id="public-setup-password2", type="password", autoComplete="new-password", className="mb-3"),
                dbc.Button("Create administrator", id="public-setup-submit", color="primary", className="w-100", n_clicks=0),
                html.Div(id="public-setup-feedback", className="mt-3"),
                dcc.Location(id="public-setup-redirect", refresh=True),
            ],
            prevent_default_on_submit=True,
        ),
    )
