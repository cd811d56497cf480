"""“Add to dashboard” on the Analyze tabs (see ``components/analysis_widget.py``): open the
form with the dashboards of the dataset's workspace, then save the result as an analysis
widget with the params of the tab's last run.

Opening is one small callback per tab, since each tab keeps its last params in its own
``<prefix>-params`` store; the rest is shared (MATCH on the prefix). The params come from
the browser like everything else: storage checks the editor role on the dashboard, that
the dataset is readable and in the dashboard's workspace, and the spec.
"""
from __future__ import annotations

from dash import MATCH, Input, Output, State, html, no_update

from components.analysis_widget import NEW_DASHBOARD
from components.feedback import error_alert, success_alert
from storage.errors import DataInsightError, Forbidden, InvalidSpec
from storage.principal import Role
from web.context import current_storage, require_principal

# Analyze tab job prefixes and the analysis each runs (callbacks/analyze*.py).
TABS = {"stats": "stats", "corr": "correlation", "reg": "regression", "clu": "clustering", "ts": "forecast",
        "fun": "funnel", "jr": "journeys", "ret": "retention", "rfm": "rfm", "clv": "clv"}


def _pid(name: str, prefix) -> dict:
    return {"type": f"aw-{name}", "prefix": prefix}


def dashboard_choices(principal, params) -> list[dict]:
    """The dashboards an editor may add to in the dataset's workspace, then "New dashboard…"."""
    if not isinstance(params, dict) or params.get("dataset_id") in (None, ""):
        raise InvalidSpec("Run the analysis first")
    storage = current_storage()
    dataset = storage.datasets.get(principal, params["dataset_id"])
    if not dataset.role.at_least(Role.EDITOR):
        raise Forbidden("Adding to a dashboard needs the editor role in this workspace")
    boards = storage.dashboards.list(principal, dataset.workspace_id)
    return ([{"label": b["name"], "value": b["id"]} for b in boards]
            + [{"label": "New dashboard…", "value": NEW_DASHBOARD}])


def save(principal, kind: str, params: dict, board, new_name, title, view) -> dict:
    """The widget added (to a new dashboard when asked); answers the dashboard."""
    if not isinstance(params, dict) or params.get("dataset_id") in (None, ""):
        raise InvalidSpec("Run the analysis first")
    if board in (None, ""):
        raise InvalidSpec("Choose a dashboard")
    spec = {"type": "analysis", "dataset_id": params["dataset_id"], "kind": kind, "params": params, "view": view,
            "title": (title or "").strip()}
    storage = current_storage()
    if board == NEW_DASHBOARD:
        workspace_id = storage.datasets.get(principal, params["dataset_id"]).workspace_id
        return storage.dashboards.create(principal, workspace_id, {
            "name": (new_name or "").strip(), "widgets": [{"spec": spec, "layout": {"x": 0, "y": 0, "w": 12, "h": 6}}]})
    return storage.dashboards.add_widget(principal, board, {"spec": spec})


def _register_open(app, prefix: str) -> None:
    @app.callback(
        Output(_pid("modal", prefix), "is_open"),
        Output(_pid("board", prefix), "options"),
        Output(_pid("board", prefix), "value"),
        Output(_pid("params", prefix), "data"),
        Output(_pid("feedback", prefix), "children"),
        Input(_pid("open", prefix), "n_clicks"),
        State(f"{prefix}-params", "data"),
        prevent_initial_call=True,
    )
    def open_form(clicks, params):
        if not clicks:
            return (no_update,) * 5
        try:
            options = dashboard_choices(require_principal(), params)
        except DataInsightError as exc:
            return True, [], None, None, error_alert(exc.message)
        # The most recently changed dashboard first (the list's order), else a new one.
        return True, options, options[0]["value"], params, None


def register(app) -> None:
    for prefix in TABS:
        _register_open(app, prefix)

    @app.callback(
        Output(_pid("new-wrap", MATCH), "style"),
        Input(_pid("board", MATCH), "value"),
    )
    def new_name_field(board):
        return {"display": "block"} if board == NEW_DASHBOARD else {"display": "none"}

    @app.callback(
        Output(_pid("modal", MATCH), "is_open", allow_duplicate=True),
        Input(_pid("cancel", MATCH), "n_clicks"),
        prevent_initial_call=True,
    )
    def close(clicks):
        return False if clicks else no_update

    @app.callback(
        Output(_pid("feedback", MATCH), "children", allow_duplicate=True),
        Output(_pid("board", MATCH), "options", allow_duplicate=True),
        Output(_pid("board", MATCH), "value", allow_duplicate=True),
        Input(_pid("save", MATCH), "n_clicks"),
        State(_pid("kind", MATCH), "data"),
        State(_pid("params", MATCH), "data"),
        State(_pid("board", MATCH), "value"),
        State(_pid("new-name", MATCH), "value"),
        State(_pid("title", MATCH), "value"),
        State(_pid("view", MATCH), "value"),
        prevent_initial_call=True,
    )
    def add(clicks, kind, params, board, new_name, title, view):
        if not clicks:
            return no_update, no_update, no_update
        principal = require_principal()
        try:
            saved = save(principal, kind, params, board, new_name, title, view)
            options = dashboard_choices(principal, params)
        except DataInsightError as exc:
            return error_alert(exc.message), no_update, no_update
        message = html.Span([f"Added to “{saved['name']}”. ",
                             html.A("Open the dashboard", href=f"/dashboards/{saved['id']}",
                                    className="alert-link analysis-widget-link")])
        return success_alert(message), options, saved["id"]
