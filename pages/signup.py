"""/signup: make an account on a server with open sign-up (DATAINSIGHT_SIGNUP=open); a
link mailed to the address confirms it. Public."""
import dash
import dash_bootstrap_components as dbc
from dash import html

from components.auth_card import auth_card
from storage.passwords import MIN_LENGTH
from web.context import current_storage

dash.register_page(__name__, path="/signup", title="Sign up · DataInsight", public=True)


def layout(**_query):
    signup = current_storage().signup
    if signup.mode != "open":
        return auth_card("Sign up", "Accounts on this server are made by invitation.",
                         html.Div([html.P("Ask an administrator to invite you; the invitation's link lets you "
                                          "choose your password."),
                                   dbc.Button("Go to sign in", href="/login", color="link", className="px-0")]))
    domains = f" Sign-up is for addresses at {', '.join(signup.domains)}." if signup.domains else ""
    return auth_card(
        "Create your account",
        "We send a link to your address to confirm it." + domains,
        dbc.Form(
            [
                dbc.Label("Your name", html_for="public-signup-name"),
                dbc.Input(id="public-signup-name", autoComplete="name", className="mb-3", autoFocus=True,
                          maxLength=200),
                dbc.Label("Email", html_for="public-signup-email"),
                dbc.Input(id="public-signup-email", type="email", autoComplete="email", className="mb-3",
                          maxLength=320),
                dbc.Label("Password", html_for="public-signup-password"),
                dbc.Input(id="public-signup-password", type="password", autoComplete="new-password",
                          className="mb-1"),
                dbc.FormText(f"At least {MIN_LENGTH} characters."),
                html.Div(className="mb-3"),
                dbc.Button("Create my account", id="public-signup-submit", color="primary", className="w-100",
                           n_clicks=0, type="submit"),
                html.Div(id="public-signup-feedback", className="mt-3"),
                html.Div([html.Span("Already have an account? "), html.A("Sign in", href="/login")],
                         className="small mt-3"),
            ],
            prevent_default_on_submit=True,
        ),
    )
