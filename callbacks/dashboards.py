"""The dashboards list: create (blank or generated from a dataset), rename, duplicate and
delete. Every call goes through storage.dashboards with the acting principal, which
checks the workspace role; ids posted by a client are only ever looked up through it."""
from __future__ import annotations

from dash import ALL, Input, Output, State, ctx, html, no_update

from components.dashboards import dashboards_table
from components.feedback import error_alert, success_alert
from storage.errors import DataInsightError
from storage.principal import Role
from web.context import current_storage, current_workspace, require_principal


def _refreshed_list(principal):
    workspace = current_workspace(principal)
    boards = current_storage().dashboards.list(principal, workspace.id)
    return dashboards_table(boards, workspace.role.at_least(Role.EDITOR))


def _clicked_index(prefix_type: str):
    """The index of the pattern button that fired, if it was really clicked (Dash also
    fires when the list is re-rendered, with n_clicks 0)."""
    trigger = ctx.triggered_id
    if not isinstance(trigger, dict) or trigger.get("type") != prefix_type:
        return None
    if not (ctx.triggered and ctx.triggered[0].get("value")):
        return None
    return trigger.get("index")


def register(app) -> None:
    @app.callback(
        Output("dashboard-new-modal", "is_open"),
        Input("dashboard-new-open", "n_clicks"),
        Input("dashboard-new-cancel", "n_clicks"),
        prevent_initial_call=True,
    )
    def toggle_new(_open, _cancel):
        return ctx.triggered_id == "dashboard-new-open"

    @app.callback(
        Output("dashboard-new-feedback", "children"),
        Output("dashboards-redirect", "href", allow_duplicate=True),
        Input("dashboard-new-create", "n_clicks"),
        State("dashboard-new-source", "value"),
        State("dashboard-new-name", "value"),
        prevent_initial_call=True,
    )
    def create_dashboard(clicks, source, name):
        if not clicks:
            return no_update, no_update
        principal = require_principal()
        storage = current_storage()
        workspace = current_workspace(principal)
        name = (name or "").strip()
        try:
            if source:
                board = storage.dashboards.generate(principal, source, workspace_id=workspace.id)
                if name:
                    board = storage.dashboards.update(principal, board["id"], {"name": name})
            else:
                board = storage.dashboards.create(principal, workspace.id, {"name": name or "Untitled dashboard"})
        except DataInsightError as exc:
            return error_alert(exc.message), no_update
        return None, f"/dashboards/{board['id']}"

    @app.callback(
        Output("dataset-create-dashboard-feedback", "children"),
        Output("dataset-redirect", "href", allow_duplicate=True),
        Input("dataset-create-dashboard", "n_clicks"),
        State("dataset-id", "data"),
        prevent_initial_call=True,
    )
    def create_from_dataset(clicks, dataset_id):
        """The dataset page's "Create dashboard": a template or a proposal from its columns."""
        if not clicks:
            return no_update, no_update
        principal = require_principal()
        try:
            board = current_storage().dashboards.generate(principal, dataset_id)
        except DataInsightError as exc:
            return error_alert(exc.message), no_update
        return None, f"/dashboards/{board['id']}"

    @app.callback(
        Output("dashboards-list", "children", allow_duplicate=True),
        Output("dashboards-feedback", "children", allow_duplicate=True),
        Input({"type": "dashboard-duplicate", "index": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def duplicate_dashboard(_clicks):
        board_id = _clicked_index("dashboard-duplicate")
        if board_id is None:
            return no_update, no_update
        principal = require_principal()
        try:
            copy = current_storage().dashboards.duplicate(principal, board_id)
        except DataInsightError as exc:
            return no_update, error_alert(exc.message)
        return _refreshed_list(principal), success_alert(f"Made “{copy['name']}”.", duration=4000)

    @app.callback(
        Output("dashboard-rename-modal", "is_open"),
        Output("dashboard-rename-name", "value"),
        Output("dashboard-rename-description", "value"),
        Output("dashboard-pending-id", "data", allow_duplicate=True),
        Output("dashboard-rename-feedback", "children"),
        Input({"type": "dashboard-rename", "index": ALL}, "n_clicks"),
        Input("dashboard-rename-cancel", "n_clicks"),
        prevent_initial_call=True,
    )
    def open_rename(_clicks, _cancel):
        if ctx.triggered_id == "dashboard-rename-cancel":
            return False, no_update, no_update, None, None
        board_id = _clicked_index("dashboard-rename")
        if board_id is None:
            return no_update, no_update, no_update, no_update, no_update
        try:
            board = current_storage().dashboards.get(require_principal(), board_id)
        except DataInsightError as exc:
            return True, no_update, no_update, None, error_alert(exc.message)
        return True, board["name"], board.get("description") or "", board["id"], None

    @app.callback(
        Output("dashboard-rename-feedback", "children", allow_duplicate=True),
        Output("dashboard-rename-modal", "is_open", allow_duplicate=True),
        Output("dashboards-list", "children", allow_duplicate=True),
        Input("dashboard-rename-save", "n_clicks"),
        State("dashboard-pending-id", "data"),
        State("dashboard-rename-name", "value"),
        State("dashboard-rename-description", "value"),
        prevent_initial_call=True,
    )
    def save_rename(clicks, board_id, name, description):
        if not clicks or board_id is None:
            return no_update, no_update, no_update
        principal = require_principal()
        try:
            current_storage().dashboards.update(principal, board_id, {"name": name or "",
                                                                      "description": description or ""})
        except DataInsightError as exc:
            return error_alert(exc.message), True, no_update
        return None, False, _refreshed_list(principal)

    @app.callback(
        Output("dashboard-delete-modal", "is_open"),
        Output("dashboard-delete-text", "children"),
        Output("dashboard-pending-id", "data", allow_duplicate=True),
        Input({"type": "dashboard-delete", "index": ALL}, "n_clicks"),
        Input("dashboard-delete-cancel", "n_clicks"),
        prevent_initial_call=True,
    )
    def open_delete(_clicks, _cancel):
        if ctx.triggered_id == "dashboard-delete-cancel":
            return False, no_update, None
        board_id = _clicked_index("dashboard-delete")
        if board_id is None:
            return no_update, no_update, no_update
        try:
            board = current_storage().dashboards.get(require_principal(), board_id)
        except DataInsightError as exc:
            return True, error_alert(exc.message), None
        text = html.Span([f"“{board['name']}” and its {len(board.get('widgets') or [])} widget(s) will be deleted",
                          " and its public link stops working" if board.get("shared") else "",
                          ". This cannot be undone."])
        return True, text, board["id"]

    @app.callback(
        Output("dashboard-delete-modal", "is_open", allow_duplicate=True),
        Output("dashboards-list", "children", allow_duplicate=True),
        Output("dashboards-feedback", "children", allow_duplicate=True),
        Input("dashboard-delete-confirm", "n_clicks"),
        State("dashboard-pending-id", "data"),
        prevent_initial_call=True,
    )
    def delete_dashboard(clicks, board_id):
        if not clicks or board_id is None:
            return no_update, no_update, no_update
        principal = require_principal()
        try:
            current_storage().dashboards.delete(principal, board_id)
        except DataInsightError as exc:
            return False, no_update, error_alert(exc.message)
        return False, _refreshed_list(principal), success_alert("Dashboard deleted.", duration=4000)
