"""The Connections page: add a connection (tested first), Test, Tables, Delete, and copy a
table or a query into a dataset with its progress.

Thin: each callback passes the acting principal and the posted ids to storage.connections,
storage.syncs or storage.jobs, which decide: a crafted request naming another workspace's
connection gets "There is no connection ...", never its settings or its tables."""
from __future__ import annotations

from dash import MATCH, Input, Output, State, ctx, html, no_update

from callbacks.job_controls import register_cancel
from callbacks.syncs import job_words, refresh_setting, register_refresh_fields
from components.connections import connection_list, table_choices, tables_view, test_result
from callbacks.confirmed_delete import register_confirmed_delete
from components.feedback import error_alert, success_alert
from components.syncs import HIDE, SHOW
from storage.errors import DataInsightError
from storage.principal import Role
from web.context import current_storage, require_principal

_WHAT_JS = """function (what) {
  const hide = {display: 'none'};
  return [what === 'sql' ? hide : {}, what === 'sql' ? {} : hide, what === 'live' ? hide : {},
          what === 'live' ? {} : hide];
}"""


def _m(part: str) -> dict:
    return {"type": f"conn-{part}", "index": MATCH}


def _copied(result: dict):
    dataset = result.get("dataset") or {}
    rows = result.get("rows") or 0
    notes = [html.Li(note) for note in result.get("notes") or []]
    return success_alert([f"Copied {rows:,} row{'s' if rows != 1 else ''} into ",
                          html.A(dataset.get("name", "the dataset"), href=f"/datasets/{dataset.get('id')}",
                                 className="alert-link conn-dataset-link"), ".",
                          html.Ul(notes, className="small mb-0 mt-1") if notes else None])


def _register_manage(app) -> None:
    """Owners add and delete connections; the list is drawn again after either."""

    @app.callback(
        Output("conn-form-feedback", "children"),
        Output("conn-rev", "data"),
        Output("conn-password", "value"),
        Output("conn-name", "value"),
        Input("conn-save", "n_clicks"),
        State("conn-workspace-id", "data"),
        State("conn-name", "value"),
        State("conn-kind", "value"),
        State("conn-host", "value"),
        State("conn-port", "value"),
        State("conn-database", "value"),
        State("conn-user", "value"),
        State("conn-password", "value"),
        State("conn-sslmode", "value"),
        State("conn-rev", "data"),
        prevent_initial_call=True,
    )
    def create(clicks, workspace_id, name, kind, host, port, database, user, password, sslmode, rev):
        if not clicks:
            return no_update, no_update, no_update, no_update
        payload = {"name": name or "", "kind": kind, "host": host or "", "port": port, "database": database or "",
                   "user": user or "", "password": password or "", "options": {"sslmode": sslmode or "prefer"}}
        try:
            made = current_storage().connections.create(require_principal(), workspace_id, payload)
        except DataInsightError as exc:
            return error_alert(exc.message), no_update, no_update, no_update
        return success_alert(f"Connected and saved: {made['name']}.", duration=8000), (rev or 0) + 1, "", ""

    @app.callback(
        Output("conn-list", "children"),
        Input("conn-rev", "data"),
        State("conn-workspace-id", "data"),
        prevent_initial_call=True,
    )
    def redraw(_rev, workspace_id):
        principal = require_principal()
        storage = current_storage()
        try:
            role = storage.workspaces.get(principal, workspace_id).role
            return connection_list(storage.connections.list(principal, workspace_id), role.at_least(Role.OWNER))
        except DataInsightError as exc:
            return error_alert(exc.message)

    register_confirmed_delete(app, "conn", "conn-action-feedback", "conn-rev",
                              lambda principal, index: current_storage().connections.delete(principal, index),
                              "Deleted. Datasets copied from it keep their last copy.")


def _register_use(app) -> None:
    """Editors and owners test a connection and list its tables."""

    @app.callback(
        Output(_m("test-result"), "children"),
        Input(_m("test"), "n_clicks"),
        prevent_initial_call=True,
    )
    def test(clicks):
        if not clicks:
            return no_update
        try:
            return test_result(current_storage().connections.test(require_principal(), ctx.triggered_id["index"]))
        except DataInsightError as exc:
            return error_alert(exc.message)

    @app.callback(
        Output(_m("tables"), "children"),
        Input(_m("tables-open"), "n_clicks"),
        State(_m("tables"), "children"),
        prevent_initial_call=True,
    )
    def tables(clicks, shown):
        if not clicks:
            return no_update
        if shown:
            return None  # the second click folds them away
        try:
            return tables_view(current_storage().connections.tables(require_principal(), ctx.triggered_id["index"]))
        except DataInsightError as exc:
            return error_alert(exc.message)


def _register_copy(app) -> None:
    """Copy a table or a query into a new dataset: the form, the job, its outcome."""
    app.clientside_callback(_WHAT_JS, Output(_m("copy-table-wrap"), "style"), Output(_m("copy-sql-wrap"), "style"),
                            Output(_m("copy-refresh-wrap"), "style"), Output(_m("copy-live-note"), "style"),
                            Input(_m("copy-what"), "value"), prevent_initial_call=True)
    register_cancel(app, lambda part: _m(f"copy-{part}"))
    register_refresh_fields(app, lambda part: _m(f"copy-{part}"))

    @app.callback(
        Output(_m("copy"), "is_open"),
        Output(_m("copy-table"), "options"),
        Output(_m("copy-tables-data"), "data"),
        Output(_m("copy-result"), "children", allow_duplicate=True),
        Input(_m("copy-open"), "n_clicks"),
        State(_m("copy"), "is_open"),
        State(_m("copy-table"), "options"),
        prevent_initial_call=True,
    )
    def open_copy(clicks, is_open, options):
        if not clicks:
            return (no_update,) * 4
        if is_open or options:
            return not is_open, no_update, no_update, no_update
        principal = require_principal()
        storage = current_storage()
        cid = ctx.triggered_id["index"]
        try:
            kind = storage.connections.get(principal, cid)["kind"]
            options, columns = table_choices(storage.connections.tables(principal, cid), kind)
        except DataInsightError as exc:
            return True, [], None, error_alert(exc.message)
        return True, options, columns, None

    @app.callback(
        Output(_m("copy-columns"), "children"),
        Output(_m("copy-name"), "value"),
        Input(_m("copy-table"), "value"),
        State(_m("copy-tables-data"), "data"),
        State(_m("copy-name"), "value"),
        State(_m("copy-table"), "options"),
        prevent_initial_call=True,
    )
    def pick_table(table, columns, name, options):
        # Shapes what this browser was sent already (the table's columns): no storage call.
        cid = ctx.triggered_id["index"]
        found = columns.get(table) or [] if isinstance(columns, dict) and isinstance(table, str) else []
        datalist = html.Datalist([html.Option(value=c[0], label=c[1]) for c in found if isinstance(c, list) and c],
                                 id=f"conn-copy-columns-{cid}")
        label = next((o.get("label") for o in options or [] if isinstance(o, dict) and o.get("value") == table), None)
        suggested = no_update
        if label and not (name or "").strip():
            suggested = label.removesuffix(" (view)").rsplit(".", 1)[-1]
        return datalist, suggested

    @app.callback(
        Output(_m("copy-job"), "data"),
        Output(_m("copy-poll"), "disabled"),
        Output(_m("copy-running"), "style"),
        Output(_m("copy-status"), "children"),
        Output(_m("copy-result"), "children"),
        Output(_m("copy-run"), "disabled"),
        Input(_m("copy-run"), "n_clicks"),
        State(_m("copy-what"), "value"),
        State(_m("copy-table"), "value"),
        State(_m("copy-sql"), "value"),
        State(_m("copy-name"), "value"),
        State(_m("copy-refresh-kind"), "value"),
        State(_m("copy-refresh-every"), "value"),
        State(_m("copy-refresh-at"), "value"),
        State(_m("copy-refresh-zone"), "value"),
        State(_m("copy-incremental"), "value"),
        prevent_initial_call=True,
    )
    def start(clicks, what, table, sql, name, kind, every, at, zone, incremental):
        if not clicks:
            return (no_update,) * 6
        if what == "live":  # always current: no refresh setting
            payload = {"name": name or "", "table": table or "", "mode": "live"}
        else:
            source = {"sql": sql or ""} if what == "sql" else {"table": table or ""}
            payload = {"name": name or "", **source, "refresh": refresh_setting(kind, every, at, zone),
                       "incremental_column": (incremental or "").strip() or None}
        try:
            started = current_storage().syncs.create(require_principal(), ctx.triggered_id["index"], payload)
        except DataInsightError as exc:
            return None, True, HIDE, None, error_alert(exc.message), False
        return started["job_id"], False, SHOW, "Starting…", None, True

    @app.callback(
        Output(_m("copy-progress"), "value"),
        Output(_m("copy-running"), "style", allow_duplicate=True),
        Output(_m("copy-status"), "children", allow_duplicate=True),
        Output(_m("copy-result"), "children", allow_duplicate=True),
        Output(_m("copy-job"), "data", allow_duplicate=True),
        Output(_m("copy-poll"), "disabled", allow_duplicate=True),
        Output(_m("copy-run"), "disabled", allow_duplicate=True),
        Input(_m("copy-poll"), "n_intervals"),
        State(_m("copy-job"), "data"),
        prevent_initial_call=True,
    )
    def poll(_n, job_id):
        if not job_id:
            return no_update, HIDE, no_update, no_update, no_update, True, False
        try:
            job = current_storage().jobs.get(require_principal(), job_id)
        except DataInsightError as exc:
            return 0, HIDE, None, error_alert(exc.message), None, True, False
        state, shown = job_words(job)
        if state == "running":
            return round(job["progress"] * 100), SHOW, shown, no_update, no_update, False, True
        if state == "done":
            return 100, HIDE, None, _copied(shown), None, True, False
        if state == "cancelled":
            return 0, HIDE, None, html.Div(shown, className="small text-body-secondary"), None, True, False
        return 0, HIDE, None, error_alert(shown), None, True, False


def register(app) -> None:
    _register_manage(app)
    _register_use(app)
    _register_copy(app)
