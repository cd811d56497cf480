"""The settings page: password change, signing out everywhere, and API tokens."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, html, no_update

from components.feedback import error_alert, success_alert
from components.tables import tokens_table
from storage.errors import DataInsightError, InvalidInput
from web.auth import sign_in, sign_out
from web.context import current_storage, require_principal
from web.proxies import request_client_address


def register(app) -> None:
    @app.callback(
        Output("password-feedback", "children"),
        Output("password-current", "value"),
        Output("password-new", "value"),
        Output("password-new2", "value"),
        Input("password-submit", "n_clicks"),
        State("password-current", "value"),
        State("password-new", "value"),
        State("password-new2", "value"),
        prevent_initial_call=True,
    )
    def change_password(_clicks, current, new, new2):
        principal = require_principal()
        storage = current_storage()
        try:
            if (new or "") != (new2 or ""):
                raise InvalidInput("The two new passwords are not the same")
            user = storage.users.change_password(principal, current or "", new or "", request_client_address())
        except DataInsightError as exc:
            return error_alert(exc.message), no_update, no_update, no_update
        sign_in(user, remember=None)  # every session ended: this one goes on in a new one
        return success_alert("Your password was changed; other sessions were signed out."), "", "", ""

    @app.callback(
        Output("sessions-redirect", "href"),
        Input("sessions-revoke-all", "n_clicks"),
        prevent_initial_call=True,
    )
    def sign_out_everywhere(clicks):
        if not clicks:
            return no_update
        current_storage().sessions.end_all(require_principal())
        sign_out()
        return "/login"

    @app.callback(
        Output("token-feedback", "children"),
        Output("token-list", "children"),
        Output("token-name", "value"),
        Input("token-create", "n_clicks"),
        Input({"type": "token-revoke", "index": ALL}, "n_clicks"),
        State("token-name", "value"),
        State("token-scope", "value"),
        State("token-expiry", "value"),
        prevent_initial_call=True,
    )
    def manage_tokens(_create, revoke_clicks, name, scope, expiry):
        principal = require_principal()
        tokens = current_storage().tokens
        trigger = ctx.triggered_id
        feedback, clear_name = None, no_update
        try:
            if trigger == "token-create":
                token, plaintext = tokens.create(principal, name or "", scope or "write", expiry)
                feedback = dbc.Alert(
                    [
                        html.Div(f"Token “{token.name}” created. Copy it now: it is not shown again."),
                        html.Code(plaintext, id="token-plaintext", className="d-block mt-2 user-select-all"),
                    ],
                    color="success",
                    className="mb-0",
                )
                clear_name = ""
            elif isinstance(trigger, dict) and trigger.get("type") == "token-revoke":
                if not any(revoke_clicks or []):
                    return no_update, no_update, no_update
                token = tokens.revoke(principal, trigger["index"])
                feedback = success_alert(f"Token “{token.name}” was revoked.")
            else:
                return no_update, no_update, no_update
        except DataInsightError as exc:
            feedback = error_alert(exc.message)
        return feedback, tokens_table(tokens.list_for(principal)), clear_name
