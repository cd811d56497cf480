"""The Columns tab: an editor's correction of a column's role, saved through
storage.roles (which checks the editor role; a crafted post for another person's
dataset finds nothing)."""
from __future__ import annotations

from dash import MATCH, Input, Output, State, ctx, no_update

from components.column_roles import parse_role_value, reason_cell
from components.feedback import error_alert
from storage.errors import DataInsightError
from web.context import current_storage, require_principal


def register(app) -> None:
    @app.callback(
        Output({"type": "column-role-reason", "index": MATCH}, "children"),
        Input({"type": "column-role", "index": MATCH}, "value"),
        State("dataset-id", "data"),
        prevent_initial_call=True,
    )
    def save_role(value, dataset_id):
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or value is None:
            return no_update
        principal = require_principal()
        role, detail = parse_role_value(value)
        try:
            found = current_storage().roles.set(principal, dataset_id, trigger.get("index"), role, detail)
        except DataInsightError as exc:
            return error_alert(exc.message)
        return reason_cell(found)
