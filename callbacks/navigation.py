"""The navbar: switching workspace and the collapsed menu on small screens."""
from __future__ import annotations

import flask
from dash import Input, Output, State, no_update

from storage.errors import NotFound
from web.context import current_storage, require_principal


def register(app) -> None:
    @app.callback(
        Output("nav-redirect", "href", allow_duplicate=True),
        Input("nav-workspace", "value"),
        State("nav-redirect", "pathname"),
        prevent_initial_call=True,
    )
    def switch_workspace(workspace_id, pathname):
        principal = require_principal()
        if not workspace_id or str(flask.session.get("workspace_id")) == str(workspace_id):
            return no_update
        try:
            workspace = current_storage().workspaces.get(principal, workspace_id)  # membership check
        except NotFound:
            return no_update
        flask.session["workspace_id"] = workspace.id
        return pathname or "/"

    @app.callback(
        Output("nav-collapse", "is_open"),
        Input("nav-toggler", "n_clicks"),
        State("nav-collapse", "is_open"),
        prevent_initial_call=True,
    )
    def toggle_menu(_clicks, is_open):
        return not is_open
