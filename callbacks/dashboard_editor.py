"""Editing a dashboard: edit mode, saving the grid layout after a drag or resize, the
widget editor with its live preview, duplicating and deleting widgets, tabs, dashboard
filters and the public link. Every change is a DashboardService.update with the acting
principal, which checks the editor role and validates each widget spec."""
from __future__ import annotations

import copy
import uuid

import flask
from dash import ALL, Input, Output, State, ctx, no_update

from analytics.column_choice import Columns, suggested_spec
from analytics.dashboards import bottom_of, widgets_of_tab
from analytics.widgets import REGISTRY
from components.feedback import error_alert, icon
from components.widget_editor import (
    computed_value,
    editor_fields,
    filters_from_form,
    share_status,
)
from components.widgets import widget_body, widget_error
from storage.errors import DataInsightError, InvalidInput
from web.context import current_storage, require_principal

NEW_WIDGET_SIZE = {"w": 6, "h": 6}
DEFAULT_SIZES = {"kpi": {"w": 3, "h": 3}, "markdown": {"w": 4, "h": 3}, "table": {"w": 6, "h": 7},
                 "pivot": {"w": 6, "h": 7}}


def _board():
    return current_storage().dashboards


def _fired() -> bool:
    """True when the trigger was a real click (pattern buttons also fire, with 0, when
    they are drawn)."""
    return bool(ctx.triggered and ctx.triggered[0].get("value"))


def _current_tab(board: dict, view: dict | None) -> str | None:
    tabs = board.get("tabs") or []
    tab = (view or {}).get("tab")
    return tab if tab in {t["id"] for t in tabs} else (tabs[0]["id"] if tabs else None)


def spec_from_form(type_name, dataset_id, title, description, states, filters=None, kept: dict | None = None) -> dict:
    """The spec the editor form describes: only fields of the chosen type that are set.
    Fields the form has no control for ("object": an analysis widget's params) are kept
    from ``kept``, the spec of the widget being edited."""
    spec = {"type": type_name, "dataset_id": dataset_id}
    if filters:
        spec["filters"] = filters
    if title:
        spec["title"] = title
    if description:
        spec["description"] = description
    wt = REGISTRY.get(type_name or "")
    names = {f.name: f for f in wt.fields} if wt else {}
    for item in states:
        name, value = item["id"]["index"], item.get("value")
        field = names.get(name)
        if field is None or value is None or value == "" or value == []:
            continue
        if field.kind == "bool":
            value = bool(value)
        elif field.kind == "column":
            value = computed_value(value)
        spec[name] = value
    for field in names.values():
        if field.kind == "object" and isinstance(kept, dict) and kept.get("type") == type_name and field.name in kept:
            spec[field.name] = kept[field.name]
    # A widget's own values for its live SQL dataset's {{parameters}} (set through the API).
    if isinstance(kept, dict) and kept.get("parameters") and kept.get("dataset_id") == dataset_id:
        spec["parameters"] = kept["parameters"]
    return spec


def register(app) -> None:
    # --- edit mode and layout ------------------------------------------------------------

    @app.callback(
        Output("dash-view", "data", allow_duplicate=True),
        Output("dash-edit-toggle", "children"),
        Input("dash-edit-toggle", "n_clicks"),
        State("dash-view", "data"),
        prevent_initial_call=True,
    )
    def toggle_edit(clicks, view):
        if not clicks:
            return no_update, no_update
        view = dict(view or {})
        view["edit"] = not view.get("edit")
        label = [icon("check-lg", "me-1"), "Done"] if view["edit"] else [icon("pencil-square", "me-1"), "Edit"]
        return view, label

    @app.callback(
        Output("dash-edit-feedback", "children", allow_duplicate=True),
        Input("dash-grid", "layout"),
        State("dash-view", "data"),
        State("dash-id", "data"),
        prevent_initial_call=True,
    )
    def save_layout(layout, view, board_id):
        """After a drag or resize in edit mode, keep the new positions."""
        if not (view or {}).get("edit") or not layout:
            return no_update
        principal = require_principal()
        placed = {str(item["i"]): item for item in layout if isinstance(item, dict) and "i" in item}

        def moved(board):
            widgets, changed = [], False
            for widget in board["widgets"]:
                item = placed.get(str(widget["id"]))
                if item is not None:
                    new = {k: int(item[k]) for k in ("x", "y", "w", "h")}
                    if new != {k: int(widget["layout"][k]) for k in ("x", "y", "w", "h")}:
                        widget = {**widget, "layout": new}
                        changed = True
                widgets.append(widget)
            return {"widgets": widgets} if changed else None

        try:
            _board().modify(principal, board_id, moved)
        except (DataInsightError, KeyError, TypeError, ValueError) as exc:
            return error_alert(getattr(exc, "message", "The layout could not be saved"))
        return no_update

    # --- widget editor -------------------------------------------------------------------

    @app.callback(
        Output("editor-modal", "is_open"),
        Output("editor-target", "data"),
        Output("editor-dataset", "value"),
        Output("editor-type", "value"),
        Output("editor-title", "value"),
        Output("editor-description", "value"),
        Output("editor-title-text", "children"),
        Output("editor-feedback", "children"),
        Input("dash-widget-add", "n_clicks"),
        Input({"type": "dash-widget-edit", "index": ALL}, "n_clicks"),
        Input("editor-cancel", "n_clicks"),
        State("dash-id", "data"),
        State("editor-dataset", "value"),
        prevent_initial_call=True,
    )
    def open_editor(_add, _edits, _cancel, board_id, dataset_value):
        trigger = ctx.triggered_id
        nothing = (no_update,) * 8
        if trigger == "editor-cancel":
            return (False,) + (no_update,) * 7
        if not _fired():
            return nothing
        if trigger == "dash-widget-add":
            return True, {"widget_id": None, "spec": {}}, dataset_value, "bar", "", "", "Add a widget", None
        if isinstance(trigger, dict):
            try:
                board = _board().get(require_principal(), board_id)
            except DataInsightError as exc:
                return True, no_update, no_update, no_update, no_update, no_update, "Widget", error_alert(exc.message)
            widget = next((w for w in board["widgets"] if str(w["id"]) == str(trigger["index"])), None)
            if widget is None:
                return nothing
            spec = widget["spec"]
            return (True, {"widget_id": widget["id"], "spec": spec}, spec.get("dataset_id", dataset_value),
                    spec.get("type"), spec.get("title") or "", spec.get("description") or "", "Edit the widget", None)
        return nothing

    @app.callback(
        Output("editor-fields", "children"),
        Input("editor-type", "value"),
        Input("editor-dataset", "value"),
        Input("editor-target", "data"),
        prevent_initial_call=True,  # drawn when the editor opens (editor-target), not with the page
    )
    def draw_fields(type_name, dataset_id, target):
        if dataset_id is None:
            return error_alert("Add a dataset to this workspace first: widgets show the data of a dataset.")
        principal = require_principal()
        storage = current_storage()
        try:
            dataset = storage.datasets.get(principal, dataset_id)
            columns = Columns(dataset.schema, storage.roles.get(principal, dataset.id),
                              storage.roles.summary_for(dataset))
        except DataInsightError as exc:
            return error_alert(exc.message)
        spec = (target or {}).get("spec") or {}
        same = spec.get("type") == type_name and spec.get("dataset_id") == dataset_id
        # A new widget (or another type or dataset) starts from what the columns' roles
        # suggest: the main measure with its own aggregation, a category or the time.
        return editor_fields(type_name, dataset.schema, spec if same else suggested_spec(type_name, columns), columns)

    @app.callback(
        Output("editor-preview", "children"),
        Input({"type": "editor-field", "index": ALL}, "value"),
        Input("editor-title", "value"),
        Input("editor-description", "value"),
        Input({"type": "editor-filter-col", "index": ALL}, "value"),
        Input({"type": "editor-filter-op", "index": ALL}, "value"),
        Input({"type": "editor-filter-value", "index": ALL}, "value"),
        State("editor-type", "value"),
        State("editor-dataset", "value"),
        State("editor-modal", "is_open"),
        State("editor-target", "data"),
        prevent_initial_call=True,
    )
    def preview(_values, title, description, filter_cols, filter_ops, filter_values, type_name, dataset_id,
                is_open, target):
        if not is_open or dataset_id is None:
            return no_update
        spec = spec_from_form(type_name, dataset_id, title, description, ctx.inputs_list[0],
                              filters_from_form(filter_cols, filter_ops, filter_values), (target or {}).get("spec"))
        try:
            output = current_storage().queries.render(require_principal(), dataset_id, spec)
        except DataInsightError as exc:
            return widget_error(exc.message)
        return widget_body(output, {"type": "editor-preview-graph", "index": 0})

    @app.callback(
        Output("editor-modal", "is_open", allow_duplicate=True),
        Output("editor-feedback", "children", allow_duplicate=True),
        Output("dash-rev", "data", allow_duplicate=True),
        Input("editor-save", "n_clicks"),
        State({"type": "editor-field", "index": ALL}, "value"),
        State({"type": "editor-filter-col", "index": ALL}, "value"),
        State({"type": "editor-filter-op", "index": ALL}, "value"),
        State({"type": "editor-filter-value", "index": ALL}, "value"),
        State("editor-type", "value"),
        State("editor-dataset", "value"),
        State("editor-title", "value"),
        State("editor-description", "value"),
        State("editor-target", "data"),
        State("dash-id", "data"),
        State("dash-view", "data"),
        State("dash-rev", "data"),
        prevent_initial_call=True,
    )
    def save_widget(clicks, _values, filter_cols, filter_ops, filter_values, type_name, dataset_id, title,
                    description, target, board_id, view, rev):
        if not clicks:
            return no_update, no_update, no_update
        spec = spec_from_form(type_name, dataset_id, title, description, ctx.states_list[0],
                              filters_from_form(filter_cols, filter_ops, filter_values), (target or {}).get("spec"))
        principal = require_principal()
        widget_id = (target or {}).get("widget_id")
        new_id = uuid.uuid4().hex[:12]

        def saved(board):
            widgets = list(board["widgets"])
            if widget_id is None:
                tab = _current_tab(board, view)
                size = DEFAULT_SIZES.get(type_name, NEW_WIDGET_SIZE)
                widgets.append({"id": new_id, "spec": spec, "tab": tab,
                                "layout": {"x": 0, "y": bottom_of(board, tab), **size}})
            else:
                widgets = [{**w, "spec": spec} if str(w["id"]) == str(widget_id) else w for w in widgets]
            return {"widgets": widgets}

        try:
            _board().modify(principal, board_id, saved)
        except DataInsightError as exc:
            return True, error_alert(exc.message), no_update
        return False, None, (rev or 0) + 1

    # --- duplicate and delete a widget -----------------------------------------------------

    @app.callback(
        Output("dash-rev", "data", allow_duplicate=True),
        Output("dash-edit-feedback", "children", allow_duplicate=True),
        Input({"type": "dash-widget-duplicate", "index": ALL}, "n_clicks"),
        Input({"type": "dash-widget-delete", "index": ALL}, "n_clicks"),
        State("dash-id", "data"),
        State("dash-rev", "data"),
        prevent_initial_call=True,
    )
    def duplicate_or_delete(_dups, _dels, board_id, rev):
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not _fired():
            return no_update, no_update
        principal = require_principal()
        copy_id = uuid.uuid4().hex[:12]

        def changed(board):
            widgets = list(board["widgets"])
            source = next((w for w in widgets if str(w["id"]) == str(trigger["index"])), None)
            if source is None:  # gone already (deleted in another window)
                return None
            if trigger["type"] == "dash-widget-delete":
                return {"widgets": [w for w in widgets if w is not source]}
            copy_ = copy.deepcopy(source)
            copy_["id"] = copy_id
            copy_["layout"] = {**source["layout"], "y": bottom_of(board, source.get("tab"))}
            if copy_["spec"].get("title"):
                copy_["spec"]["title"] = f"{copy_['spec']['title']} (copy)"
            return {"widgets": widgets + [copy_]}

        try:
            _board().modify(principal, board_id, changed)
        except DataInsightError as exc:
            return no_update, error_alert(exc.message)
        return (rev or 0) + 1, None

    # --- tabs ----------------------------------------------------------------------------

    @app.callback(
        Output("dash-rev", "data", allow_duplicate=True),
        Output("dash-view", "data", allow_duplicate=True),
        Output("dash-edit-feedback", "children", allow_duplicate=True),
        Input("dash-tab-add", "n_clicks"),
        Input("dash-tab-rename", "n_clicks"),
        Input("dash-tab-delete", "n_clicks"),
        State("dash-tab-title", "value"),
        State("dash-id", "data"),
        State("dash-view", "data"),
        State("dash-rev", "data"),
        prevent_initial_call=True,
    )
    def change_tabs(_add, _rename, _delete, title, board_id, view, rev):
        if not _fired():
            return no_update, no_update, no_update
        principal = require_principal()
        view = dict(view or {})
        action, new_id = ctx.triggered_id, uuid.uuid4().hex[:8]

        def changed(board):
            tabs = [dict(t) for t in board.get("tabs") or []]
            current = _current_tab(board, view)
            widgets = board["widgets"]
            if action == "dash-tab-add":
                if not tabs:  # the widgets so far belong to a first tab of their own
                    tabs.append({"id": "main", "title": "Overview"})
                    widgets = [{**w, "tab": w.get("tab") or "main"} for w in widgets]
                tabs.append({"id": new_id, "title": f"Tab {len(tabs) + 1}"})
                view["tab"] = new_id
            elif action == "dash-tab-rename":
                if not tabs:
                    tabs = [{"id": "main", "title": (title or "Overview").strip()[:60]}]
                    widgets = [{**w, "tab": "main"} for w in widgets]
                else:
                    for tab in tabs:
                        if tab["id"] == current:
                            tab["title"] = (title or "").strip()[:60] or tab["title"]
            else:
                if len(tabs) < 2:
                    raise InvalidInput("A dashboard keeps at least one tab")
                if widgets_of_tab(board, current):
                    raise InvalidInput("Move or delete this tab's widgets before deleting it")
                tabs = [t for t in tabs if t["id"] != current]
                view["tab"] = tabs[0]["id"]
            return {"tabs": tabs, "widgets": widgets}

        try:
            _board().modify(principal, board_id, changed)
        except DataInsightError as exc:
            return no_update, no_update, error_alert(exc.message)
        return (rev or 0) + 1, view, None

    # --- dashboard filters ------------------------------------------------------------------

    @app.callback(
        Output("filter-new-modal", "is_open"),
        Output("filter-new-column", "options"),
        Output("filter-new-feedback", "children"),
        Input("dash-filter-add", "n_clicks"),
        Input("filter-new-cancel", "n_clicks"),
        State("dash-id", "data"),
        prevent_initial_call=True,
    )
    def open_filter_form(_add, _cancel, board_id):
        if ctx.triggered_id == "filter-new-cancel" or not _fired():
            return False, no_update, None
        try:
            columns = current_storage().dashboard_views.columns(require_principal(), board_id)
        except DataInsightError as exc:
            return True, [], error_alert(exc.message)
        if not columns:
            return True, [], error_alert("Add a widget first: filters apply to the columns of the widgets' data")
        return True, [{"label": f"{c['name']}  ·  " + (f"query parameter ({c['parameter']})" if c.get("parameter")
                                                       else c["type"]), "value": c["name"]} for c in columns], None

    @app.callback(
        Output("filter-new-modal", "is_open", allow_duplicate=True),
        Output("filter-new-feedback", "children", allow_duplicate=True),
        Output("dash-rev", "data", allow_duplicate=True),
        Input("filter-new-save", "n_clicks"),
        State("filter-new-column", "value"),
        State("filter-new-label", "value"),
        State("dash-id", "data"),
        State("dash-rev", "data"),
        prevent_initial_call=True,
    )
    def add_filter(clicks, column, label, board_id, rev):
        if not clicks:
            return no_update, no_update, no_update
        if not column:
            return True, error_alert("Choose the column to filter by"), no_update
        principal = require_principal()
        try:
            types = {c["name"]: c["type"] for c in current_storage().dashboard_views.columns(principal, board_id)}
            if column not in types:
                return True, error_alert(f"No widget's dataset has a column {column!r}"), no_update
            kind = ("date_range" if types[column] in ("date", "timestamp")
                    else "numeric_range" if types[column] in ("integer", "float", "decimal") else "multi_select")
            new = {"id": uuid.uuid4().hex[:8], "column": column, "kind": kind, "value": None}
            if label:
                new["label"] = label.strip()
            _board().modify(principal, board_id, lambda board: {"filters": list(board.get("filters") or []) + [new]})
        except DataInsightError as exc:
            return True, error_alert(exc.message), no_update
        return False, None, (rev or 0) + 1

    @app.callback(
        Output("dash-rev", "data", allow_duplicate=True),
        Output("dash-edit-feedback", "children", allow_duplicate=True),
        Input({"type": "dash-filter-remove", "index": ALL}, "n_clicks"),
        State("dash-id", "data"),
        State("dash-rev", "data"),
        prevent_initial_call=True,
    )
    def remove_filter(_clicks, board_id, rev):
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not _fired():
            return no_update, no_update
        principal = require_principal()
        try:
            _board().modify(principal, board_id, lambda board: {
                "filters": [f for f in board.get("filters") or [] if f["id"] != trigger["index"]]})
        except DataInsightError as exc:
            return no_update, error_alert(exc.message)
        return (rev or 0) + 1, None

    # --- public link -------------------------------------------------------------------------

    @app.callback(
        Output("share-modal", "is_open"),
        Output("share-status", "children"),
        Input("dash-share-open", "n_clicks"),
        Input("share-close", "n_clicks"),
        Input("share-create", "n_clicks"),
        Input("share-revoke", "n_clicks"),
        State("dash-id", "data"),
        prevent_initial_call=True,
    )
    def share(_open, _close, _create, _revoke, board_id):
        trigger = ctx.triggered_id
        if trigger == "share-close":
            return False, no_update
        if not _fired():
            return no_update, no_update
        principal = require_principal()
        try:
            if trigger == "share-create":
                link = _board().share(principal, board_id)
                return True, share_status(True, flask.request.host_url.rstrip("/") + link["url"])
            if trigger == "share-revoke":
                _board().revoke_share(principal, board_id)
                return True, share_status(False, None)
            return True, share_status(_board().get(principal, board_id).get("shared"), None)
        except DataInsightError as exc:
            return True, error_alert(exc.message)
