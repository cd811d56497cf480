"""/verify?token=...: confirm a new account's address (a button, so that a mail scanner
opening the link does not use it up); without a token, ask for a new link. Public."""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.auth_card import auth_card

dash.register_page(__name__, path="/verify", title="Confirm your address · DataInsight", public=True)


def layout(token=None, **_query):
    if token:
        return auth_card(
            "Confirm your address", "One click and your account is ready.",
            html.Div([
                dbc.Button("Confirm my address", id="public-verify-submit", color="primary", className="w-100",
                           n_clicks=0),
                html.Div(id="public-verify-feedback", className="mt-3"),
                dcc.Store(id="public-verify-token", data=token),
            ]))
    return auth_card(
        "Send the link again", "Your account's confirmation link expires after a day. Ask for a new one here.",
        dbc.Form([
            dbc.Label("Email", html_for="public-resend-email"),
            dbc.Input(id="public-resend-email", type="email", autoComplete="email", className="mb-3", maxLength=320,
                      autoFocus=True),
            dbc.Button("Send a new link", id="public-resend-submit", color="primary", className="w-100", n_clicks=0,
                       type="submit"),
            html.Div(id="public-resend-feedback", className="mt-3"),
            html.Div(html.A("Back to sign in", href="/login"), className="small mt-3"),
        ], prevent_default_on_submit=True))
