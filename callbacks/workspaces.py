"""The workspaces page: create a workspace, add members, change roles, remove members.
The workspace acted on is the session's current one; storage checks the owner role."""
from __future__ import annotations

import re

from dash import ALL, Input, Output, State, ctx, no_update

from components.feedback import error_alert, success_alert
from components.navbar import workspace_options
from components.tables import members_panel, workspace_list
from storage.errors import DataInsightError
from web.context import current_storage, current_workspace, require_principal


def register(app) -> None:
    @app.callback(
        Output("workspace-create-feedback", "children"),
        Output("workspace-new-name", "value"),
        Output("workspace-list", "children"),
        Output("nav-workspace", "options"),
        Input("workspace-create", "n_clicks"),
        State("workspace-new-name", "value"),
        prevent_initial_call=True,
    )
    def create_workspace(clicks, name):
        if not clicks:  # the page's own first render, not a press: no "give it a name" yet
            return no_update, no_update, no_update, no_update
        principal = require_principal()
        service = current_storage().workspaces
        try:
            workspace = service.create(principal, name or "")
        except DataInsightError as exc:
            return error_alert(exc.message), no_update, no_update, no_update
        mine = service.list_for(principal)
        return (
            success_alert(f"Workspace “{workspace.name}” created. Switch to it in the top bar."),
            "",
            workspace_list(mine, current_workspace(principal).id),
            workspace_options(mine),
        )

    @app.callback(
        Output("member-feedback", "children"),
        Output("member-list", "children"),
        Input("member-add", "n_clicks"),
        Input({"type": "member-role", "index": ALL}, "value"),
        Input({"type": "member-remove", "index": ALL}, "n_clicks"),
        State("member-email", "value"),
        State("member-role-new", "value"),
        prevent_initial_call=True,
    )
    def manage_members(_add, _roles, remove_clicks, email, role):
        principal = require_principal()
        service = current_storage().workspaces
        workspace = current_workspace(principal)
        trigger = ctx.triggered_id
        try:
            if trigger == "member-add":
                member = service.add_member(principal, workspace.id, email or "", role or "viewer")
                feedback = success_alert(f"{member.email} is now {member.role.with_article} of {workspace.name}.")
            elif isinstance(trigger, dict) and trigger.get("type") == "member-role":
                member = service.change_role(principal, workspace.id, trigger["index"], ctx.triggered[0]["value"])
                feedback = success_alert(f"{member.email} is now {member.role.with_article}.")
            elif isinstance(trigger, dict) and trigger.get("type") == "member-remove":
                if not any(remove_clicks or []):
                    return no_update, no_update
                service.remove_member(principal, workspace.id, trigger["index"])
                feedback = success_alert("The member was removed.")
            else:
                return no_update, no_update
        except DataInsightError as exc:
            feedback = error_alert(exc.message)
        try:
            current = current_workspace(principal)
            panel = members_panel(service.members(principal, current.id), current, principal.user_id)
        except DataInsightError:
            panel = []  # the person just left the workspace
        return feedback, panel

    @app.callback(
        Output("workspace-domains-feedback", "children"),
        Input("workspace-domains-save", "n_clicks"),
        State("workspace-domains", "value"),
        prevent_initial_call=True,
    )
    def save_domains(clicks, text):
        """The current workspace's allowed recipient domains (storage checks the owner role)."""
        if not clicks:
            return no_update
        principal = require_principal()
        wanted = [d for d in re.split(r"[,;\s]+", text or "") if d]
        try:
            saved = current_storage().workspaces.set_allowed_domains(principal, current_workspace(principal).id, wanted)
        except DataInsightError as exc:
            return error_alert(exc.message)
        return success_alert(f"Report mail may go to members and to addresses in {', '.join(saved)}." if saved
                             else "Report mail goes to members only.")
