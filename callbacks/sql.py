"""The SQL page: run the query (storage checks the workspace and runs it in its sandbox),
refresh the history, and load a query from the history into the editor."""
from __future__ import annotations

from dash import ALL, Input, Output, State, ctx, html, no_update

from components.feedback import error_alert, success_alert
from components.sql_editor import history_list, result_grid
from storage.errors import DataInsightError
from web.context import current_storage, require_principal


def register(app) -> None:
    @app.callback(
        Output("sql-result", "children"),
        Output("sql-feedback", "children"),
        Output("sql-history", "children"),
        Input("sql-run", "n_clicks"),
        State("sql-workspace-id", "data"),
        State("sql-text", "value"),
        State("sql-limit", "value"),
        prevent_initial_call=True,
    )
    def run(n_clicks, workspace_id, sql, limit):
        if not n_clicks:
            return no_update, no_update, no_update
        principal = require_principal()
        service = current_storage().sql
        try:
            limit = int(limit or 1000)
        except (TypeError, ValueError):
            limit = 1000
        try:
            result = service.run(principal, workspace_id, sql or "", limit)
            outcome = (result_grid(result), None)
        except DataInsightError as exc:
            outcome = (no_update, error_alert(exc.message))
        try:
            history = history_list(service.history(principal, workspace_id))
        except DataInsightError:
            history = no_update
        return *outcome, history

    @app.callback(
        Output("sql-save-feedback", "children"),
        Input("sql-save", "n_clicks"),
        State("sql-workspace-id", "data"),
        State("sql-text", "value"),
        State("sql-save-name", "value"),
        prevent_initial_call=True,
    )
    def save(n_clicks, workspace_id, sql, name):
        if not n_clicks:
            return no_update
        try:
            dataset = current_storage().sql.materialise(require_principal(), workspace_id, sql or "", name or "")
        except DataInsightError as exc:
            return error_alert(exc.message)
        return success_alert([f"Saved {dataset.rows:,} rows as ", html.A(dataset.name, href=f"/datasets/{dataset.id}"),
                              ". It is a table here too, and can be charted on a dashboard."])

    @app.callback(
        Output("sql-load", "data"),
        Input({"type": "sql-history-item", "index": ALL}, "n_clicks"),
        State("sql-workspace-id", "data"),
        prevent_initial_call=True,
    )
    def load(_clicks, workspace_id):
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not (ctx.triggered and ctx.triggered[0]["value"]):
            return no_update
        try:
            history = current_storage().sql.history(require_principal(), workspace_id, limit=200)
        except DataInsightError:
            return no_update
        return next((h["sql"] for h in history if h["id"] == trigger["index"]), no_update)

    # The editor (CodeMirror, assets/sql-editor.js) shows a query picked from the history.
    app.clientside_callback(
        "function (sql) { return window.dataInsightSql ? window.dataInsightSql.load(sql) : window.dash_clientside.no_update; }",
        Output("sql-loaded", "children"),
        Input("sql-load", "data"),
        prevent_initial_call=True,
    )
