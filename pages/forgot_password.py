"""/forgot-password: ask for a link to choose a new password. The answer is the same for
any address. Public."""
import dash
import dash_bootstrap_components as dbc
from dash import html

from components.auth_card import auth_card

dash.register_page(__name__, path="/forgot-password", title="Forgot your password · DataInsight", public=True)


def layout(**_query):
    return auth_card(
        "Forgot your password?", "We email you a link to choose a new one. It works once, for an hour.",
        dbc.Form([
            dbc.Label("Email", html_for="public-forgot-email"),
            dbc.Input(id="public-forgot-email", type="email", autoComplete="username", className="mb-3",
                      maxLength=320, autoFocus=True),
            dbc.Button("Send me a link", id="public-forgot-submit", color="primary", className="w-100", n_clicks=0,
                       type="submit"),
            html.Div(id="public-forgot-feedback", className="mt-3"),
            html.Div(html.A("Back to sign in", href="/login"), className="small mt-3"),
        ], prevent_default_on_submit=True))
