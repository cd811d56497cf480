"""A dashboard as someone looks at it: each widget rendered with the dashboard's filters
as currently set, the filters set by clicking charts (cross-filters) and drill-downs.

Both the signed-in dashboard page and the public link come through here. The widget is
always looked up in the stored dashboard by id, so a client names widgets and filter
values, never SQL or specs of its own; access is checked by DashboardService (role in the
workspace) or by the share token.
"""
from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor

from analytics.dashboards import resolve_tab, widgets_of_tab
from analytics.widgets import drill_down, widget_type
from analytics.widgets.spec import (
    apply_dashboard_filters,
    normalize_dashboard_filter,
)
from errors import DataInsightError, InvalidSpec, NotFound
from storage.queries import chart_failure

log = logging.getLogger(__name__)

# How many category values a multi-select filter offers (the most frequent first).
FILTER_OPTION_LIMIT = 500
MAX_CROSS_FILTERS = 10
RENDER_THREADS = 4  # widgets of one page drawn at once
# Prefetches run here, a few at a time, so a burst of page loads cannot pile up threads.
_PREFETCH = ThreadPoolExecutor(max_workers=2, thread_name_prefix="datainsight-prefetch")


def parse_view_state(filters=None, xf=None, tab=None) -> dict:
    """The view a dashboard URL carries (``?filters={"<filter id>": [...]}&xf=[...]&tab=``),
    for the page, the public link and exports alike. Anything unreadable is ignored: the
    link then shows the dashboard unfiltered rather than an error."""
    def load(text, kind):
        try:
            value = json.loads(text) if text else kind()
        except (TypeError, ValueError):
            return kind()
        return value if isinstance(value, kind) else kind()

    return {"filters": load(filters, dict), "cross": load(xf, list)[:MAX_CROSS_FILTERS],
            "tab": tab if isinstance(tab, str) else None}


def active_filters(board: dict, values: dict | None) -> list[dict]:
    """The dashboard's filters with the values chosen on screen (or in the URL) in
    place of the saved ones; a filter id the dashboard does not have is ignored."""
    values = values or {}
    out = []
    for flt in board.get("filters") or []:
        item = dict(flt)
        if flt["id"] in values:
            item["value"] = values[flt["id"]] or None
        out.append(normalize_dashboard_filter(item))
    return out


def _widget(board: dict, widget_id) -> dict:
    for widget in board.get("widgets") or []:
        if str(widget["id"]) == str(widget_id):
            return widget
    raise NotFound("This widget is not on the dashboard (it may have been deleted); reload the page")


def _table_view(spec: dict, view: dict | None) -> dict:
    """The page and sort a viewer chose for a table widget (other widgets take none); the
    column is checked against the schema with the rest of the spec."""
    if spec.get("type") != "table" or not isinstance(view, dict):
        return {}
    out = {}
    page = view.get("page")
    if isinstance(page, int) and not isinstance(page, bool) and 0 <= page <= 1_000_000:
        out["page"] = page
    if isinstance(view.get("sort"), str) and view["sort"]:
        out["sort"] = view["sort"]
        out["descending"] = bool(view.get("descending"))
    return out


def cross_for(widget_id, cross: list[dict] | None, schema_types: dict) -> list[dict]:
    """Cross-filters set by clicking widgets, for the columns this widget's dataset has.
    The widget that was clicked keeps showing all its categories, so the choice stays
    visible; a click on a period of a time chart also drills that chart into the period."""
    out = []
    for item in (cross or [])[:MAX_CROSS_FILTERS]:
        if not isinstance(item, dict):
            continue
        if str(item.get("source")) == str(widget_id) and not item.get("grain"):
            continue
        if item.get("column") not in schema_types:
            continue
        flt = {"column": item["column"], "op": item.get("op", "="), "value": item.get("value")}
        if item.get("grain"):
            flt["grain"] = item["grain"]
        out.append(flt)
    return out


def in_parallel(widgets: list[dict], render) -> dict:
    """Run ``render`` for each widget on a few threads (DuckDB releases the GIL while it
    scans); a widget that fails gets its error message, the others are unaffected."""
    def safe(widget):
        try:
            return render(widget)
        except DataInsightError as exc:
            return {"error": exc.message}
        except Exception as exc:
            return {"error": chart_failure(exc, f"dashboard widget {widget.get('id')}").message}

    if len(widgets) <= 1:
        return {str(w["id"]): safe(w) for w in widgets}
    with ThreadPoolExecutor(max_workers=min(RENDER_THREADS, len(widgets))) as pool:
        return dict(zip((str(w["id"]) for w in widgets), pool.map(safe, widgets)))


class DashboardViewService:
    def __init__(self, dashboards, datasets, queries):
        self.dashboards = dashboards
        self.datasets = datasets
        self.queries = queries

    # --- signed-in viewers -------------------------------------------------------------

    def render_widget(self, principal, dashboard_id, widget_id, filter_values: dict | None = None,
                      cross: list[dict] | None = None, table_view: dict | None = None) -> dict:
        """One widget; ``table_view`` pages and sorts a table widget as its viewer asks."""
        board = self.dashboards.get(principal, dashboard_id)
        return self._render_in(principal, board, _widget(board, widget_id), filter_values, cross, table_view)

    def render_widgets(self, principal, board: dict, widgets: list[dict], filter_values: dict | None = None,
                       cross: list[dict] | None = None) -> dict:
        """{widget id: output, or {"error": message}} for widgets of ``board`` (a dashboard
        this principal just read through DashboardService), drawn in parallel: the page
        arrives with every widget in it instead of a request per widget."""
        resolved: dict = {}  # each dataset's row and the principal's right to it, read once

        def one(widget):
            return self._render_in(principal, board, widget, filter_values, cross, resolved=resolved)

        return in_parallel(widgets, one)

    def _render_in(self, principal, board: dict, widget: dict, filter_values, cross, table_view=None,
                   resolved: dict | None = None) -> dict:
        spec = {**widget["spec"], **_table_view(widget["spec"], table_view)}
        if spec.get("type") == "markdown":
            return {**widget_type("markdown").render(None, spec), "title": spec.get("title")}
        key = str(spec["dataset_id"])
        dataset = resolved.get(key) if resolved is not None else None
        if dataset is None:
            dataset = self.datasets.get(principal, spec["dataset_id"])
            if resolved is not None:
                resolved[key] = dataset
        spec = self.viewed_spec(widget, spec, dataset.schema, board, filter_values, cross,
                                self.queries.parameters_of(dataset))
        extra = cross_for(widget["id"], cross, {c["name"]: c["type"] for c in dataset.schema})
        # The dataset was resolved with the principal's rights just above: drawing it does
        # not look it up again (a warm widget is a few queries of metadata and a cache hit).
        output = self.queries.render_on(dataset, self.queries.prepare(dataset, spec, extra or None))
        return {**output, "title": widget["spec"].get("title")}

    @staticmethod
    def viewed_spec(widget: dict, spec: dict, schema: list[dict], board: dict, filter_values, cross,
                    parameters: list[dict] | None = None) -> dict:
        spec = apply_dashboard_filters(spec, schema, active_filters(board, filter_values), parameters)
        # Each period clicked on this widget drills it one grain finer (month -> week ...).
        steps = sum(1 for item in (cross or []) if isinstance(item, dict) and item.get("grain")
                    and str(item.get("source")) == str(widget["id"]))
        for _ in range(min(steps, 5)):
            finer = drill_down(spec)
            if finer is None:
                break
            spec = finer
        return spec

    def filter_options(self, principal, dashboard_id) -> dict[str, list]:
        """Values offered by each multi-select filter: the most frequent values of its
        column in the first dataset of the dashboard that has it (for a live SQL dataset's
        text parameter: a column of that name in one of the workspace's datasets)."""
        board = self.dashboards.get(principal, dashboard_id)
        seen: dict = {}

        def dataset(dataset_id):
            if dataset_id not in seen:
                seen[dataset_id] = self.datasets.get(principal, dataset_id)
            return seen[dataset_id]

        return self._options(board, dataset, lambda: self.datasets.list(principal, board["workspace_id"]))

    def _options(self, board: dict, dataset_of, workspace_datasets) -> dict[str, list]:
        options = {}
        for flt in board.get("filters") or []:
            if flt.get("kind") != "multi_select":
                continue
            parameter = False
            for widget in board.get("widgets") or []:
                dataset_id = widget["spec"].get("dataset_id")
                if dataset_id is None:
                    continue
                found = dataset_of(dataset_id)
                if flt["column"] in {c["name"] for c in found.schema}:
                    options[flt["id"]] = self._top_values_of(found, flt["column"])
                    break
                parameter = parameter or flt["column"] in {p["name"] for p in self.queries.parameters_of(found)}
            else:
                if parameter:
                    options[flt["id"]] = self._parameter_values(workspace_datasets(), flt["column"])
        return options

    def _parameter_values(self, candidates, name: str) -> list:
        """Values for a text parameter: those of the first dataset with a column so named
        (ignoring case) whose rows are its own (not a sample)."""
        for candidate in candidates:
            if self.queries.query_sources.source_for(candidate) is not None:
                continue
            for column in candidate.schema:
                if column["name"].lower() == name.lower() and column["type"] in ("string", "boolean", "integer"):
                    return self._top_values_of(candidate, column["name"])
        return []

    def _top_values_of(self, dataset, column: str) -> list:
        """The column's most frequent values (at most FILTER_OPTION_LIMIT), sorted."""
        spec = {"type": "bar", "x": column, "agg": "count", "sort": "-y", "limit": FILTER_OPTION_LIMIT}
        try:
            result = self.queries.result_on(dataset, self.queries.prepare(dataset, spec, None))
        except InvalidSpec:
            return []
        return sorted((row[0] for row in result["rows"] if row[0] is not None), key=lambda v: str(v))

    def columns(self, principal, dashboard_id) -> list[dict]:
        """Every column of the dashboard's datasets, once each, for the 'add filter' form:
        [{"name", "type"}], and the ``{{parameters}}`` of its live SQL datasets (with
        "parameter": their type)."""
        board = self.dashboards.get(principal, dashboard_id)
        seen: dict[str, dict] = {}
        for dataset_id in dict.fromkeys(w["spec"].get("dataset_id") for w in board.get("widgets") or []):
            if dataset_id is None:
                continue
            dataset = self.datasets.get(principal, dataset_id)
            for parameter in self.queries.parameters_of(dataset):
                seen[parameter["name"]] = parameter
            for column in dataset.schema:
                seen.setdefault(column["name"], {"name": column["name"], "type": column["type"]})
        return list(seen.values())

    # --- visitors with a public link ------------------------------------------------------

    def shared_board(self, token: str) -> dict:
        """The shared dashboard (NotFound when the link is unknown or was revoked)."""
        board, _share_principal = self.dashboards.get_shared(token)
        return board

    def render_shared_widgets(self, token: str, board: dict, widgets: list[dict], filter_values: dict | None = None,
                              cross: list[dict] | None = None) -> dict:
        """Widgets of a shared dashboard (see render_widgets), with the dashboard's own
        filters set to the visitor's values and their clicks on its charts. The token
        reaches only this dashboard's widgets (QueryService.render_shared checks what the
        filters may be)."""
        def one(widget):
            return self._render_shared_in(token, board, widget, filter_values, cross)

        return in_parallel(widgets, one)

    def render_shared_widget(self, token: str, widget_id, filter_values: dict | None = None,
                             cross: list[dict] | None = None, table_view: dict | None = None) -> dict:
        """One widget of a shared dashboard, a table paged and sorted as the visitor asks;
        a widget id that is not on the token's own dashboard is NotFound."""
        board = self.shared_board(token)
        return self._render_shared_in(token, board, _widget(board, widget_id), filter_values, cross, table_view)

    def _render_shared_in(self, token: str, board: dict, widget: dict, filter_values, cross,
                          table_view: dict | None = None) -> dict:
        extra = [{"id": flt["id"], "value": flt["value"]} for flt in active_filters(board, filter_values)
                 if flt.get("value")]
        if widget["spec"].get("type") != "markdown":
            dataset = self.queries.dataset_in_workspace(widget["spec"]["dataset_id"], board["workspace_id"])
            types = {c["name"]: c["type"] for c in dataset.schema}
            extra += [c for c in cross_for(widget["id"], cross, types) if not c.get("grain")]
        output = self.queries.render_shared(token, widget["id"], extra_filters=extra or None,
                                            table_view=_table_view(widget["spec"], table_view) or None)
        return {**output, "title": widget["spec"].get("title")}

    def shared_filter_options(self, token: str) -> dict[str, list]:
        board = self.shared_board(token)
        return self._options(board, lambda dataset_id: self.queries.dataset_in_workspace(dataset_id,
                                                                                         board["workspace_id"]),
                             # A visitor is not shown values of datasets the dashboard does not draw.
                             lambda: [])

    # --- prefetch ------------------------------------------------------------------------

    def prefetch(self, principal, dashboard_id, state: dict) -> None:
        """Start the visible widgets' queries while the browser is still loading the page's
        scripts; the page's own request then finds them done or running (QueryService
        waits for a running query instead of starting it twice). Errors are left for the
        page to show."""
        def work():
            try:
                board = self.dashboards.get(principal, dashboard_id)
                shown = widgets_of_tab(board, resolve_tab(board, state.get("tab")))
                self.render_widgets(principal, board, shown, state.get("filters"), state.get("cross"))
            except Exception:  # noqa: BLE001 - the page reports problems; this only warms the cache
                log.debug("prefetch of dashboard %s failed", dashboard_id, exc_info=True)

        _PREFETCH.submit(work)

    def prefetch_shared(self, token: str, state: dict) -> None:
        def work():
            try:
                board = self.shared_board(token)
                shown = widgets_of_tab(board, resolve_tab(board, state.get("tab")))
                self.render_shared_widgets(token, board, shown, state.get("filters"), state.get("cross"))
            except Exception:  # noqa: BLE001 - see prefetch
                log.debug("prefetch of a shared dashboard failed", exc_info=True)

        _PREFETCH.submit(work)
