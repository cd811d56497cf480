"""The SQL page: run the query on the datasets (storage checks the workspace and runs it in
its sandbox) or on a connection, save its result as a dataset, keep it by name, refresh
the history, and load a query from the history or the saved ones into the editor."""
from __future__ import annotations

from dash import ALL, Input, Output, State, ctx, html, no_update

from components.feedback import error_alert, success_alert
from components.sql_editor import history_list, result_grid, saved_list
from storage.errors import DataInsightError
from web.context import current_storage, require_principal


def _connection_id(source) -> int | None:
    """The connection picked in "Run on" (storage checks the person may use it)."""
    if isinstance(source, str) and source.isascii() and source.isdigit() and len(source) <= 10:
        return int(source)
    return None


def register(app) -> None:
    @app.callback(
        Output("sql-result", "children"),
        Output("sql-feedback", "children"),
        Output("sql-history", "children"),
        Input("sql-run", "n_clicks"),
        State("sql-workspace-id", "data"),
        State("sql-text", "value"),
        State("sql-limit", "value"),
        State("sql-source", "value"),
        prevent_initial_call=True,
    )
    def run(n_clicks, workspace_id, sql, limit, source):
        if not n_clicks:
            return no_update, no_update, no_update
        principal = require_principal()
        service = current_storage().sql
        try:
            limit = int(limit or 1000)
        except (TypeError, ValueError):
            limit = 1000
        try:
            result = service.run(principal, workspace_id, sql or "", limit, connection_id=_connection_id(source))
            outcome = (result_grid(result), None)
        except DataInsightError as exc:
            outcome = (no_update, error_alert(exc.message))
        try:
            history = history_list(service.history(principal, workspace_id))
        except DataInsightError:
            history = no_update
        return *outcome, history

    app.clientside_callback(
        "function (mode) { return mode === 'live' ? {display: 'none'} : {}; }",
        Output("sql-save-refresh-wrap", "style"),
        Input("sql-save-mode", "value"),
    )

    @app.callback(
        Output("sql-save-feedback", "children"),
        Input("sql-save", "n_clicks"),
        State("sql-workspace-id", "data"),
        State("sql-text", "value"),
        State("sql-save-name", "value"),
        State("sql-save-refresh", "value"),
        State("sql-save-mode", "value"),
        State("sql-source", "value"),
        prevent_initial_call=True,
    )
    def save(n_clicks, workspace_id, sql, name, refresh, mode, source):
        if not n_clicks:
            return no_update
        refresh = refresh if refresh in ("manual", "hourly", "daily") else "manual"
        mode = "live" if mode == "live" else "sync"
        storage, principal = current_storage(), require_principal()
        try:
            connection_id = _connection_id(source)
            if connection_id is not None and mode == "live":
                return error_alert(["A query on a connection is copied; for charts that run on the database, make "
                                    "a live dataset of a table on the ", html.A("Connections", href="/connections"),
                                    " page"])
            if connection_id is not None:  # copied from the database in the background (storage.syncs)
                storage.syncs.create(principal, connection_id, {"name": name or "", "sql": sql or "",
                                                                "refresh": refresh})
                return success_alert(["Copying the rows in the background: the dataset appears in ",
                                      html.A("Datasets", href="/datasets"), " when they are in."])
            dataset = storage.sql.materialise(principal, workspace_id, sql or "", name or "", refresh=refresh,
                                              mode=mode)
        except DataInsightError as exc:
            return error_alert(exc.message)
        if mode == "live":
            return success_alert(["Saved the query as the live dataset ",
                                  html.A(dataset.name, href=f"/datasets/{dataset.id}", id="sql-saved-dataset"),
                                  ": chart it on a dashboard, and its charts run the query each time."])
        return success_alert([f"Saved {dataset.rows:,} rows as ",
                              html.A(dataset.name, href=f"/datasets/{dataset.id}", id="sql-saved-dataset"),
                              ". It is a table here too, and can be charted on a dashboard."])

    @app.callback(
        Output("sql-query-feedback", "children"),
        Output("sql-saved", "children"),
        Input("sql-query-save", "n_clicks"),
        State("sql-workspace-id", "data"),
        State("sql-text", "value"),
        State("sql-query-name", "value"),
        State("sql-query-shared", "value"),
        State("sql-source", "value"),
        prevent_initial_call=True,
    )
    def keep_query(n_clicks, workspace_id, sql, name, shared, source):
        if not n_clicks:
            return no_update, no_update
        storage, principal = current_storage(), require_principal()
        try:
            storage.saved_queries.create(principal, workspace_id, {
                "name": name or "", "sql": sql or "", "shared": shared is True,
                "connection_id": _connection_id(source)})
            listed = saved_list(storage.saved_queries.list(principal, workspace_id))
        except DataInsightError as exc:
            return error_alert(exc.message), no_update
        return success_alert("Saved" + (": everyone in the workspace sees it." if shared is True else ".")), listed

    @app.callback(
        Output("sql-load", "data", allow_duplicate=True),
        Output("sql-source", "value"),
        Input({"type": "sql-saved-item", "index": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def open_saved(_clicks):
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not (ctx.triggered and ctx.triggered[0]["value"]):
            return no_update, no_update
        try:
            query = current_storage().saved_queries.get(require_principal(), trigger["index"])
        except DataInsightError:
            return no_update, no_update
        return query["sql"], str(query["connection_id"] or "datasets")

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
