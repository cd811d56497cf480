"""/login: the sign-in form. Public."""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.auth_card import auth_card
from web.context import current_storage

dash.register_page(__name__, path="/login", title="Sign in · DataInsight", public=True)


def layout(next=None, **_query):  # noqa: A002 - "next" is the query parameter's name
    return auth_card(
        "Sign in",
        "Welcome back. Sign in to reach your datasets and dashboards.",
        dbc.Form(
            [
                dbc.Label("Email", html_for="public-login-email"),
                dbc.Input(id="public-login-email", type="email", autoComplete="username", className="mb-3", autoFocus=True),
                dbc.Label("Password", html_for="public-login-password"),
                dbc.Input(id="public-login-password", type="password", autoComplete="current-password", className="mb-3", n_submit=0),
                dbc.Checkbox(id="public-login-remember", label="Keep me signed in for 30 days", value=False, className="mb-3"),
                dbc.Button("Sign in", id="public-login-submit", color="primary", className="w-100", n_clicks=0,
                           type="submit"),
                html.Div(id="public-login-feedback", className="mt-3"),
                html.Div([html.A("Forgot your password?", href="/forgot-password", id="public-login-forgot"),
                          *([html.Span(" · "), html.A("Create an account", href="/signup", id="public-login-signup")]
                            if current_storage().signup.mode == "open" else [])], className="small mt-3"),
                dcc.Store(id="public-login-next", data=next or "/"),
                dcc.Location(id="public-login-redirect", refresh=True),
            ],
            # A real form lets password managers work; Dash handles the submit.
            prevent_default_on_submit=True,
        ),
    )
