"""The users page: administrators create, invite, deactivate and reactivate accounts.
Storage refuses every one of these for a non-administrator."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, html, no_update

from components.feedback import error_alert, success_alert
from components.tables import invitations_list, users_table
from storage.errors import DataInsightError
from web.context import current_storage, invitation_link, require_principal


def register(app) -> None:
    @app.callback(
        Output("user-create-feedback", "children"),
        Output("users-list", "children", allow_duplicate=True),
        Output("user-new-password", "value"),
        Input("user-create", "n_clicks"),
        State("user-new-email", "value"),
        State("user-new-name", "value"),
        State("user-new-password", "value"),
        State("user-new-admin", "value"),
        prevent_initial_call=True,
    )
    def create_user(_clicks, email, name, password, is_admin):
        principal = require_principal()
        users = current_storage().users
        try:
            user = users.create_user(principal, email or "", password or "", name, bool(is_admin))
        except DataInsightError as exc:
            return error_alert(exc.message), no_update, no_update
        return (success_alert(f"{user.email} can now sign in."), users_table(users.list_users(principal), principal.user_id), "")

    @app.callback(
        Output("users-feedback", "children"),
        Output("users-list", "children", allow_duplicate=True),
        Input({"type": "user-active", "index": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def toggle_active(clicks):
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not any(clicks or []):
            return no_update, no_update
        principal = require_principal()
        users = current_storage().users
        try:
            user = users.toggle_active(principal, trigger["index"])
            feedback = success_alert(f"{user.email} is now {'active' if user.is_active else 'deactivated'}.")
        except DataInsightError as exc:
            return error_alert(exc.message), no_update
        return feedback, users_table(users.list_users(principal), principal.user_id)

    @app.callback(
        Output("invite-feedback", "children"),
        Output("invite-list", "children"),
        Output("invite-email", "value"),
        Input("invite-create", "n_clicks"),
        State("invite-email", "value"),
        State("invite-admin", "value"),
        prevent_initial_call=True,
    )
    def invite(_clicks, email, is_admin):
        principal = require_principal()
        service = current_storage().invitations
        try:
            invitation, code = service.invite(principal, email or "", bool(is_admin))
        except DataInsightError as exc:
            return error_alert(exc.message), no_update, no_update
        link = invitation_link(code)
        feedback = dbc.Alert(
            [html.Div(f"Send this link to {invitation.email}; it works once, for 7 days:"),
             html.Code(link, id="invite-link", className="d-block mt-2 user-select-all")],
            color="success", className="mb-0",
        )
        return feedback, invitations_list(service.list_pending(principal)), ""
