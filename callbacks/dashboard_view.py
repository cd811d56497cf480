"""Looking at a dashboard: each widget drawn by its own callback (so they load in
parallel and a failing one shows its own error), dashboard filters, cross-filters from
clicks on charts, drill-down, tabs, and the filter state mirrored into the URL.

The same callbacks serve the signed-in page (ids as they are) and the public link (ids
prefixed "public-", which the guard lets through without a session); only how a widget
is reached differs: by the acting principal's role, or by the share token.
"""
from __future__ import annotations

from dash import ALL, MATCH, ClientsideFunction, Input, Output, State, ctx, no_update

from analytics.dashboards import resolve_tab, widgets_of_tab
from analytics.widgets import click_filter
from components.dashboards import (
    cross_filter_chips,
    dashboard_body,
    rendered_body,
)
from components.widgets import widget_error
from storage.errors import DataInsightError
from web.context import current_storage, require_principal

MAX_CROSS_FILTERS = 10


class PrivateAccess:
    """A signed-in member of the dashboard's workspace; the key is the dashboard id."""

    prefix = ""
    key_id = "dash-id"

    @staticmethod
    def board(key) -> dict:
        return current_storage().dashboards.get(require_principal(), key)

    @staticmethod
    def with_bells(board: dict) -> dict:
        """The dashboard with the states of its alerts, for the bells on its widgets."""
        return {**board, "alert_states": current_storage().alerts.widget_states(require_principal(), board["id"])}

    @staticmethod
    def options(key) -> dict:
        return current_storage().dashboard_views.filter_options(require_principal(), key)

    @staticmethod
    def render_many(key, board, widgets, filters, cross) -> dict:
        return current_storage().dashboard_views.render_widgets(require_principal(), board, widgets, filters, cross)

    @staticmethod
    def render_one(key, widget_id, filters, cross, table_view) -> dict:
        return current_storage().dashboard_views.render_widget(require_principal(), key, widget_id, filters, cross,
                                                               table_view)


class SharedAccess:
    """Anyone holding a public link; the key is the share token from the URL."""

    prefix = "public-"
    key_id = "public-dash-token"

    @staticmethod
    def board(key) -> dict:
        return current_storage().dashboard_views.shared_board(key)

    @staticmethod
    def with_bells(board: dict) -> dict:
        return board  # alerts are the workspace's business, not the public link's

    @staticmethod
    def options(key) -> dict:
        return current_storage().dashboard_views.shared_filter_options(key)

    @staticmethod
    def render_many(key, board, widgets, filters, cross) -> dict:
        return current_storage().dashboard_views.render_shared_widgets(key, board, widgets, filters, cross)

    @staticmethod
    def render_one(key, widget_id, filters, cross, table_view) -> dict:
        return current_storage().dashboard_views.render_shared_widget(key, widget_id, filters, cross, table_view)


def _clean_state(state) -> dict:
    """The dash-state store as the browser sent it, reduced to its shape. Anyone may post
    any JSON in its place (public pages too), and the callbacks read it as
    {"filters": {...}, "cross": [{...}, ...], ...}; what does not fit is dropped."""
    state = dict(state) if isinstance(state, dict) else {}
    cross = state.get("cross")
    state["cross"] = [c for c in cross if isinstance(c, dict)] if isinstance(cross, list) else []
    if not isinstance(state.get("filters"), dict):
        state["filters"] = {}
    return state


def _clean_view(view) -> dict:
    """The dash-view store (tab, page, sort, edit) as a dict, whatever was posted."""
    return dict(view) if isinstance(view, dict) else {}


def _widget_spec(board: dict, widget_id) -> dict | None:
    return next((w["spec"] for w in board.get("widgets") or [] if str(w["id"]) == str(widget_id)), None)


def add_cross_filter(cross: list[dict], widget_id, new: dict) -> list[dict]:
    """The cross-filters after a click on ``widget_id``. Clicking the same category again
    clears it; clicking another category of the same chart replaces it; clicking a period
    of a time chart adds a step (drilling in)."""
    cross = [dict(c) for c in cross or [] if isinstance(c, dict)]
    item = {**new, "source": str(widget_id)}
    if new.get("grain"):
        if not any(c.get("source") == item["source"] and c.get("grain") == new["grain"] for c in cross):
            cross.append(item)
        return cross[-MAX_CROSS_FILTERS:]
    same = [c for c in cross if c.get("source") == item["source"] and not c.get("grain")]
    cross = [c for c in cross if c not in same]
    if not any(c.get("value") == new.get("value") and c.get("column") == new.get("column") for c in same):
        cross.append(item)
    return cross[-MAX_CROSS_FILTERS:]


def select_filter_columns(board: dict) -> dict:
    """{column: id of the dashboard's multi-select filter on that column}: the filters a
    click on a chart's category also sets."""
    return {f["column"]: f["id"] for f in (board or {}).get("filters") or []
            if isinstance(f, dict) and f.get("kind") == "multi_select" and f.get("column") and f.get("id")}


def _clicked_values(cross: list[dict]) -> list[dict]:
    return [c for c in cross or [] if isinstance(c, dict) and not c.get("grain") and c.get("value") is not None]


def filters_after_clicks(board: dict, filters: dict | None, before: list[dict], after: list[dict]) -> dict:
    """The dashboard filter values once the cross-filters went from ``before`` to
    ``after``. When the dashboard has a multi-select filter on a clicked column, the
    click is that filter's choice too, so its dropdown says what the chip says: a new
    click selects the clicked value there; a cleared click (its chip, or the same bar
    clicked again) takes the value out."""
    by_column = select_filter_columns(board)
    filters = dict(filters or {})
    added = [c for c in _clicked_values(after) if c not in before]
    removed = [c for c in _clicked_values(before) if c not in after]
    for item in removed:
        fid = by_column.get(item.get("column"))
        if fid:
            kept = [v for v in filters.get(fid) or [] if v != item["value"]]
            filters[fid] = kept or None
    for item in added:
        fid = by_column.get(item.get("column"))
        if fid:
            filters[fid] = [item["value"]]
    return filters


def cross_after_filter_change(board: dict, cross: list[dict] | None, old: dict | None, new: dict | None) -> list:
    """The cross-filters once a person changed dashboard filters by hand: the dropdown now
    states the choice for its column, so the chips of clicks on that column go."""
    changed = {column for column, fid in select_filter_columns(board).items()
               if (old or {}).get(fid) != (new or {}).get(fid)}
    return [c for c in cross or [] if not (isinstance(c, dict) and not c.get("grain") and c.get("column") in changed)]


def select_values(outputs: list[dict], filters: dict | None) -> list:
    """The value of each multi-select dropdown on the page (``outputs``: the ids Dash
    matched for the wildcard output) for these filter values."""
    return [(filters or {}).get(item["id"]["index"]) or [] for item in outputs]


def _filters_from_controls(states_list, values) -> dict:
    """{filter id: value} from the three kinds of filter controls (see filter_control)."""
    out: dict = {}
    for ids, vals in zip(states_list, values):
        for item, value in zip(ids, vals):
            kind, fid = item["id"]["type"], item["id"]["index"]
            prop = item["property"]
            if kind.endswith("dash-filter-select"):
                out[fid] = value or None
            else:
                low, high = out.get(fid) or [None, None]
                if prop in ("start_date", "value") and kind.endswith(("dash-filter-dates", "dash-filter-min")):
                    low = value
                else:
                    high = value
                out[fid] = [low, high]
    return {fid: (None if isinstance(v, list) and all(x in (None, "") for x in v) else v) for fid, v in out.items()}


def register_view(app, access) -> None:
    p = access.prefix

    @app.callback(
        Output({"type": f"{p}dash-widget-body", "index": MATCH}, "children"),
        Input(f"{p}dash-state", "data"),
        State(access.key_id, "data"),
        prevent_initial_call=True,  # the page and draw_body arrive with the widgets drawn
    )
    def draw_widget(state, key):
        return _draw(ctx.outputs_list["id"]["index"], state, key)

    @app.callback(
        Output({"type": f"{p}dash-widget-body", "index": MATCH}, "children", allow_duplicate=True),
        Input({"type": f"{p}dash-widget-poll", "index": MATCH}, "n_intervals"),
        State(f"{p}dash-state", "data"),
        State(access.key_id, "data"),
        prevent_initial_call=True,
    )
    def poll_pending(_ticks, state, key):
        """A widget that was still computing (an analysis on a new version) asks again."""
        return _draw(ctx.outputs_list["id"]["index"], state, key)

    def _draw(widget_id, state, key):
        state = _clean_state(state)
        try:
            board = access.board(key)
        except DataInsightError as exc:
            return widget_error(exc.message)
        widget = next((w for w in board.get("widgets") or [] if str(w["id"]) == str(widget_id)), None)
        if widget is None:
            return widget_error("This widget is no longer on the dashboard; reload the page")
        output = access.render_many(key, board, [widget], state.get("filters"), state.get("cross"))[str(widget_id)]
        return rendered_body(output, p, widget_id)

    # A click and a chip also write the multi-select dropdowns (filters_after_clicks); a
    # callback from the state to the dropdowns instead would be a cycle with set_filters.
    selects = Output({"type": f"{p}dash-filter-select", "index": ALL}, "value", allow_duplicate=True)

    def _unchanged():
        return no_update, [no_update] * len(ctx.outputs_list[1])

    @app.callback(
        Output(f"{p}dash-state", "data", allow_duplicate=True),
        selects,
        Input({"type": f"{p}dash-widget-graph", "index": ALL}, "clickData"),
        State(f"{p}dash-state", "data"),
        State(access.key_id, "data"),
        prevent_initial_call=True,
    )
    def cross_filter(_clicks, state, key):
        trigger = ctx.triggered_id
        point_data = ctx.triggered[0].get("value") if ctx.triggered else None
        if not isinstance(trigger, dict) or not isinstance(point_data, dict) or not point_data.get("points"):
            return _unchanged()
        try:
            board = access.board(key)
        except DataInsightError:
            return _unchanged()
        spec = _widget_spec(board, trigger["index"])
        new = click_filter(spec, point_data["points"][0]) if spec else None
        if new is None:
            return _unchanged()
        state = _clean_state(state)
        before = list(state.get("cross") or [])
        state["cross"] = add_cross_filter(before, trigger["index"], new)
        state["filters"] = filters_after_clicks(board, state.get("filters"), before, state["cross"])
        return state, select_values(ctx.outputs_list[1], state["filters"])

    @app.callback(
        Output(f"{p}dash-state", "data", allow_duplicate=True),
        selects,
        Input({"type": f"{p}dash-chip", "index": ALL}, "n_clicks"),
        State(f"{p}dash-state", "data"),
        State(access.key_id, "data"),
        prevent_initial_call=True,
    )
    def clear_chip(_clicks, state, key):
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not (ctx.triggered and ctx.triggered[0].get("value")):
            return _unchanged()
        state = _clean_state(state)
        before = list(state.get("cross") or [])
        cross = list(before)
        index = trigger["index"]
        if isinstance(index, int) and 0 <= index < len(cross):
            removed = cross.pop(index)
            # Clearing a drill step also clears the finer steps taken after it on that chart.
            if removed.get("grain"):
                cross = [c for i, c in enumerate(cross)
                         if not (i >= index and c.get("source") == removed.get("source") and c.get("grain"))]
        state["cross"] = cross
        try:
            board = access.board(key)
        except DataInsightError:
            board = {}
        state["filters"] = filters_after_clicks(board, state.get("filters"), before, cross)
        return state, select_values(ctx.outputs_list[1], state["filters"])

    @app.callback(
        Output(f"{p}dash-chips", "children"),
        Input(f"{p}dash-state", "data"),
    )
    def draw_chips(state):
        return cross_filter_chips(_clean_state(state).get("cross") or [], p)

    @app.callback(
        Output(f"{p}dash-state", "data", allow_duplicate=True),
        Input({"type": f"{p}dash-filter-select", "index": ALL}, "value"),
        Input({"type": f"{p}dash-filter-dates", "index": ALL}, "start_date"),
        Input({"type": f"{p}dash-filter-dates", "index": ALL}, "end_date"),
        Input({"type": f"{p}dash-filter-min", "index": ALL}, "value"),
        Input({"type": f"{p}dash-filter-max", "index": ALL}, "value"),
        State(f"{p}dash-state", "data"),
        State(access.key_id, "data"),
        prevent_initial_call=True,
    )
    def set_filters(selects, starts, ends, lows, highs, state, key):
        values = _filters_from_controls(ctx.inputs_list, [selects, starts, ends, lows, highs])
        state = _clean_state(state)
        old = state.get("filters") or {}
        if values == old:
            return no_update
        if state.get("cross"):
            try:
                state["cross"] = cross_after_filter_change(access.board(key), state["cross"], old, values)
            except DataInsightError:
                pass
        state["filters"] = values
        return state

    @app.callback(
        Output(f"{p}dash-view", "data", allow_duplicate=True),
        Input(f"{p}dash-tabs", "active_tab"),
        State(f"{p}dash-view", "data"),
        prevent_initial_call=True,
    )
    def switch_tab(tab, view):
        view = _clean_view(view)
        if not tab or tab == view.get("tab"):
            return no_update
        view["tab"] = tab
        return view

    body_inputs = [Input(f"{p}dash-view", "data")] + ([Input("dash-rev", "data")] if not p else [])

    @app.callback(
        Output(f"{p}dash-body", "children"),
        *body_inputs,
        State(f"{p}dash-state", "data"),
        State(access.key_id, "data"),
        prevent_initial_call=True,
    )
    def draw_body(view, *rest):
        state, key = rest[-2], rest[-1]
        view = _clean_view(view)
        try:
            board = access.board(key)
            options = access.options(key)
        except DataInsightError as exc:
            return widget_error(exc.message)
        editable = bool(view.get("edit")) and not p
        state = {**_clean_state(state), "tab": view.get("tab")}
        shown = widgets_of_tab(board, resolve_tab(board, state["tab"]))
        outputs = access.render_many(key, board, shown, state.get("filters"), state.get("cross"))
        return dashboard_body(access.with_bells(board), state, options, p, editable, outputs)

    app.clientside_callback(
        ClientsideFunction(namespace="datainsight", function_name="syncDashboardUrl"),
        Output(f"{p}dash-url-sync", "children"),
        Input(f"{p}dash-state", "data"),
        Input(f"{p}dash-view", "data"),
    )


def next_table_view(view: dict | None, trigger: dict) -> dict:
    """The page and sort after a click on a table widget's pager or a header."""
    view = _clean_view(view)
    page = int(view.get("page") or 0)
    kind = trigger.get("type", "")
    if kind.endswith("dash-table-prev"):
        view["page"] = max(page - 1, 0)
    elif kind.endswith("dash-table-next"):
        view["page"] = page + 1
    elif kind.endswith("dash-table-sort"):
        column = trigger.get("col")
        view["descending"] = view.get("sort") == column and not view.get("descending")
        view["sort"] = column
        view["page"] = 0
    return view


def register_tables(app, access) -> None:
    """Paging and sorting a table widget (signed in, or through a public link's token):
    only that widget redraws."""
    p = access.prefix

    @app.callback(
        Output({"type": f"{p}dash-widget-body", "index": MATCH}, "children", allow_duplicate=True),
        Input({"type": f"{p}dash-table-prev", "index": MATCH}, "n_clicks"),
        Input({"type": f"{p}dash-table-next", "index": MATCH}, "n_clicks"),
        Input({"type": f"{p}dash-table-sort", "index": MATCH, "col": ALL}, "n_clicks"),
        State({"type": f"{p}dash-table-view", "index": MATCH}, "data"),
        State(f"{p}dash-state", "data"),
        State(access.key_id, "data"),
        prevent_initial_call=True,
    )
    def page_table(_prev, _next, _sorts, view, state, key):
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not (ctx.triggered and ctx.triggered[0].get("value")):
            return no_update
        view = next_table_view(view, trigger)
        state = _clean_state(state)
        try:
            output = access.render_one(key, trigger["index"], state.get("filters"), state.get("cross"), view)
        except DataInsightError as exc:
            return widget_error(exc.message)
        return rendered_body(output, p, trigger["index"], view)


def register(app) -> None:
    register_view(app, PrivateAccess)
    register_view(app, SharedAccess)
    register_tables(app, PrivateAccess)
    register_tables(app, SharedAccess)
