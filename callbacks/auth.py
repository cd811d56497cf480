"""Sign in, first-run setup, accepting an invitation, and signing out."""
from __future__ import annotations

import flask
from dash import Input, Output, State, html, no_update

from components.feedback import error_alert, success_alert
from storage.errors import DataInsightError, InvalidInput
from storage.users import EmailNotVerified
from web import devices
from web.auth import sign_in, sign_out
from web.proxies import request_client_address
from web.context import current_storage, safe_next_path


def register(app) -> None:
    @app.callback(
        Output("public-login-feedback", "children"),
        Output("public-login-redirect", "href"),
        # Only the button: Enter in the form clicks it (the browser's implicit submission).
        # Listening to the password's n_submit as well signed in twice on every Enter
        # (two requests on desktop Chromium: two sessions, two failures counted).
        Input("public-login-submit", "n_clicks"),
        State("public-login-email", "value"),
        State("public-login-password", "value"),
        State("public-login-remember", "value"),
        State("public-login-next", "data"),
        prevent_initial_call=True,
    )
    def log_in(_clicks, email, password, remember, next_path):
        try:
            user = current_storage().users.authenticate(email or "", password or "", request_client_address(),
                                                        device=devices.read())
        except EmailNotVerified as exc:
            return error_alert([exc.message, " ", html.A("Send the link again", href="/verify")]), no_update
        except DataInsightError as exc:
            return error_alert(exc.message), no_update
        sign_in(user, remember=bool(remember))
        return None, safe_next_path(next_path)

    @app.callback(
        Output("public-setup-feedback", "children"),
        Output("public-setup-redirect", "href"),
        Input("public-setup-submit", "n_clicks"),
        State("public-setup-name", "value"),
        State("public-setup-email", "value"),
        State("public-setup-password", "value"),
        State("public-setup-password2", "value"),
        prevent_initial_call=True,
    )
    def set_up(_clicks, name, email, password, password2):
        try:
            if (password or "") != (password2 or ""):
                raise InvalidInput("The two passwords are not the same")
            user = current_storage().users.create_first_admin(email or "", password or "", name)
        except DataInsightError as exc:
            return error_alert(exc.message), no_update
        sign_in(user)
        return None, "/"

    @app.callback(
        Output("public-invite-feedback", "children"),
        Output("public-invite-redirect", "href"),
        Input("public-invite-submit", "n_clicks"),
        State("public-invite-code", "data"),
        State("public-invite-name", "value"),
        State("public-invite-password", "value"),
        prevent_initial_call=True,
    )
    def accept_invitation(_clicks, code, name, password):
        try:
            user = current_storage().invitations.accept(code or "", password or "", name)
        except DataInsightError as exc:
            return error_alert(exc.message), no_update
        sign_in(user)
        return None, "/"

    register_signup(app)

    @app.callback(
        Output("nav-redirect", "href", allow_duplicate=True),
        Input("nav-signout", "n_clicks"),
        prevent_initial_call=True,
    )
    def log_out(clicks):
        if not clicks:
            return no_update
        sign_out()
        return "/login"


def register_signup(app) -> None:
    """Open sign-up, confirming an address, and forgotten passwords (storage.signup)."""

    @app.callback(
        Output("public-signup-feedback", "children"),
        Input("public-signup-submit", "n_clicks"),
        State("public-signup-name", "value"),
        State("public-signup-email", "value"),
        State("public-signup-password", "value"),
        prevent_initial_call=True,
    )
    def sign_up(_clicks, name, email, password):
        try:
            done = current_storage().signup.signup(email or "", password or "", name,
                                                   link_base=flask.request.host_url)
        except DataInsightError as exc:
            return error_alert(exc.message)
        return success_alert(done["message"])

    @app.callback(
        Output("public-verify-feedback", "children"),
        Input("public-verify-submit", "n_clicks"),
        State("public-verify-token", "data"),
        prevent_initial_call=True,
    )
    def confirm(_clicks, token):
        try:
            user = current_storage().signup.verify(token)
        except DataInsightError as exc:
            return error_alert([exc.message, " ", html.A("Ask for a new link", href="/verify")])
        return success_alert([f"{user.email} is confirmed. ", html.A("Sign in", href="/login")])

    @app.callback(
        Output("public-resend-feedback", "children"),
        Input("public-resend-submit", "n_clicks"),
        State("public-resend-email", "value"),
        prevent_initial_call=True,
    )
    def resend(_clicks, email):
        try:
            done = current_storage().signup.resend(email or "", link_base=flask.request.host_url)
        except DataInsightError as exc:
            return error_alert(exc.message)
        return success_alert(done["message"])

    @app.callback(
        Output("public-forgot-feedback", "children"),
        Input("public-forgot-submit", "n_clicks"),
        State("public-forgot-email", "value"),
        prevent_initial_call=True,
    )
    def forgot(_clicks, email):
        try:
            done = current_storage().signup.forgot(email or "", link_base=flask.request.host_url)
        except DataInsightError as exc:
            return error_alert(exc.message)
        return success_alert(done["message"])

    @app.callback(
        Output("public-reset-feedback", "children"),
        Input("public-reset-submit", "n_clicks"),
        State("public-reset-token", "data"),
        State("public-reset-password", "value"),
        State("public-reset-password2", "value"),
        prevent_initial_call=True,
    )
    def reset(_clicks, token, password, password2):
        try:
            if (password or "") != (password2 or ""):
                raise InvalidInput("The two passwords are not the same")
            user = current_storage().signup.reset(token, password or "")
        except DataInsightError as exc:
            return error_alert(exc.message)
        return success_alert([f"The password of {user.email} is changed. ", html.A("Sign in", href="/login")])
