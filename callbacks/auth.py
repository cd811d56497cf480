"""Sign in, first-run setup, accepting an invitation, and signing out."""
from __future__ import annotations

from dash import Input, Output, State, no_update

from components.feedback import error_alert
from storage.errors import DataInsightError, InvalidInput
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
