"""/reset-password?token=...: choose a new password from an emailed link. Public; the
token is the key (storage.signup checks it when the form is sent)."""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.auth_card import auth_card
from storage.passwords import MIN_LENGTH

dash.register_page(__name__, path="/reset-password", title="New password · DataInsight", public=True)


def layout(token=None, **_query):
    return auth_card(
        "Choose a new password", "Every other session of your account ends when you save it.",
        dbc.Form([
            dbc.Label("New password", html_for="public-reset-password"),
            dbc.Input(id="public-reset-password", type="password", autoComplete="new-password", className="mb-1",
                      autoFocus=True),
            dbc.FormText(f"At least {MIN_LENGTH} characters."),
            html.Div(className="mb-3"),
            dbc.Label("The same again", html_for="public-reset-password2"),
            dbc.Input(id="public-reset-password2", type="password", autoComplete="new-password", className="mb-3"),
            dbc.Button("Save my new password", id="public-reset-submit", color="primary", className="w-100",
                       n_clicks=0, type="submit"),
            html.Div(id="public-reset-feedback", className="mt-3"),
            dcc.Store(id="public-reset-token", data=token or ""),
        ], prevent_default_on_submit=True))
