"""Dashboards list, the dashboard header and its filter bar. Pure rendering."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html
from dash_snap_grid import Grid

from analytics.dashboards import resolve_tab, widgets_of_tab
from analytics.widgets import widget_type
from components.alerts import alert_bell
from components.feedback import icon
from components.widgets import table_height_px, widget_body, widget_card, widget_error


def short_time(value) -> str:
    """A stored time (datetime or ISO text) as "2026-12-03 08:30"."""
    if not value:
        return ""
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return text[:16].replace("T", " ")


# Columns a phone leaves out: the name (with its description) and the actions matter most.
WIDE_ONLY = "d-none d-md-table-cell"


def dashboards_table(dashboards: list[dict], can_edit: bool) -> html.Div:
    if not dashboards:
        return html.P("No dashboards here yet. Create one, or generate one from a dataset.",
                      className="text-body-secondary mb-0", id="dashboards-empty")
    rows = []
    for board in dashboards:
        actions = None
        if can_edit:
            actions = html.Div(
                [
                    dbc.Button(icon("pencil"), id={"type": "dashboard-rename", "index": board["id"]}, size="sm",
                               color="link", title="Rename", n_clicks=0),
                    dbc.Button(icon("copy"), id={"type": "dashboard-duplicate", "index": board["id"]}, size="sm",
                               color="link", title="Duplicate", n_clicks=0),
                    dbc.Button(icon("trash"), id={"type": "dashboard-delete", "index": board["id"]}, size="sm",
                               color="link", className="text-danger", title="Delete", n_clicks=0),
                ],
                className="text-nowrap",
            )
        rows.append(html.Tr([
            html.Td([dcc.Link(board["name"], href=f"/dashboards/{board['id']}", className="fw-semibold"),
                     html.Div(board.get("description") or "", title=board.get("description") or None,
                              className="small text-body-secondary text-truncate dashboards-description")]),
            html.Td(len(board.get("widgets") or []), className=WIDE_ONLY),
            html.Td(dbc.Badge("public link", color="info") if board.get("shared") else "", className=WIDE_ONLY),
            html.Td(short_time(board.get("updated_at")), className=WIDE_ONLY),
            html.Td(actions),
        ]))
    head = html.Thead(html.Tr([html.Th("Name"), *(html.Th(h, className=WIDE_ONLY)
                                                   for h in ("Widgets", "Sharing", "Updated (UTC)")), html.Th("")]))
    return dbc.Table([head, html.Tbody(rows)], hover=True, responsive=True, className="mb-0 bg-white",
                     id="dashboards-table")


def filter_control(board_filter: dict, options: list | None, value, prefix: str = "", editable: bool = False):
    """One dashboard-level filter: a date range, a multi-select of categories or a
    numeric range. ``options`` are the category values (multi-select only). Each kind has
    its own id type because each control keeps its value in different properties."""
    fid = board_filter["id"]
    label = board_filter.get("label") or board_filter["column"]
    kind = board_filter.get("kind")
    low, high = ((list(value) if isinstance(value, list) else []) + [None, None])[:2]
    if kind == "multi_select":
        control = dcc.Dropdown(id={"type": f"{prefix}dash-filter-select", "index": fid},
                               options=[{"label": str(o), "value": o} for o in options or []],
                               value=value or [], multi=True, placeholder="All", className="filter-dropdown")
    elif kind == "date_range":
        control = dcc.DatePickerRange(id={"type": f"{prefix}dash-filter-dates", "index": fid}, start_date=low,
                                      end_date=high, clearable=True, display_format="YYYY-MM-DD",
                                      className="filter-dates")
    else:  # numeric_range
        control = html.Div(
            [dbc.Input(id={"type": f"{prefix}dash-filter-min", "index": fid}, type="number", value=low,
                       placeholder="min", size="sm", debounce=True),
             html.Span("–", className="mx-1"),
             dbc.Input(id={"type": f"{prefix}dash-filter-max", "index": fid}, type="number", value=high,
                       placeholder="max", size="sm", debounce=True)],
            className="d-flex align-items-center filter-range",
        )
    remove = None
    if editable:
        remove = dbc.Button(icon("x-lg"), id={"type": "dash-filter-remove", "index": fid}, color="link", size="sm",
                            className="p-0 ms-1 text-body-secondary", title="Remove this filter", n_clicks=0)
    return html.Div([html.Div([html.Label(label, className="form-label small mb-1 fw-semibold"), remove],
                              className="d-flex align-items-center"), control],
                    className="dashboard-filter")


def _chip_text(item: dict) -> str:
    column = f"{item.get('column')} ({item['grain']})" if item.get("grain") else str(item.get("column"))
    return f"{column} = {item.get('value')}"


def cross_filter_chips(cross_filters: list[dict], prefix: str = "") -> list:
    """Chips for the filters set by clicking a chart; clicking a chip clears it."""
    chips = []
    for index, item in enumerate(cross_filters or []):
        chips.append(dbc.Button(
            [icon("funnel-fill", "me-1"), _chip_text(item), icon("x-lg", "ms-2")],
            id={"type": f"{prefix}dash-chip", "index": index}, size="sm", color="primary", outline=True,
            className="me-2 mb-1 rounded-pill", n_clicks=0, title="Clear this filter",
        ))
    return chips


# --- the dashboard itself (private page and public link share these, with an id prefix) ---

GRID_COLS = 12
GRID_ROW_HEIGHT = 60  # px; a widget's h counts these rows


def widget_ids(prefix: str, widget_id: str) -> dict:
    """Component ids of one widget. The public page uses the prefix "public-" so that the
    guard lets its callbacks run for visitors who are not signed in."""
    return {
        "body": {"type": f"{prefix}dash-widget-body", "index": widget_id},
        "graph": {"type": f"{prefix}dash-widget-graph", "index": widget_id},
        # A table widget's pager and sortable headers (the header id also gets "col").
        "prev": {"type": f"{prefix}dash-table-prev", "index": widget_id},
        "next": {"type": f"{prefix}dash-table-next", "index": widget_id},
        "sort": {"type": f"{prefix}dash-table-sort", "index": widget_id},
        "view": {"type": f"{prefix}dash-table-view", "index": widget_id},
        # Polls a widget still being computed (an analysis on a new version).
        "poll": {"type": f"{prefix}dash-widget-poll", "index": widget_id},
    }


def _rows_for(pixels: int) -> int:
    """Grid rows (GRID_ROW_HEIGHT with 12 px between them) that give at least ``pixels``."""
    return -(-(pixels + 12) // (GRID_ROW_HEIGHT + 12))


def _table_page_size(spec: dict) -> int:
    default = next(f.default for f in widget_type("table").fields if f.name == "page_size")
    try:
        return max(1, int(spec.get("page_size") or default))
    except (TypeError, ValueError):
        return default


def grid_layout(widgets: list[dict], fit_tables: bool = False) -> list[dict]:
    """The snap grid's layout items: ``i`` must equal the id of the child it places.
    ``fit_tables`` (the read-only public page) makes a table widget's card at least as
    tall as a whole page of its rows, so no row is cut at the card's edge."""
    items = []
    for w in widgets:
        h = int(w["layout"].get("h", 5))
        if fit_tables and (w.get("spec") or {}).get("type") == "table":
            h = max(h, _rows_for(table_height_px(_table_page_size(w["spec"]))))
        items.append({"i": str(w["id"]), "x": int(w["layout"].get("x", 0)), "y": int(w["layout"].get("y", 0)),
                      "w": int(w["layout"].get("w", 4)), "h": h, "minW": 2, "minH": 2})
    return items


def rendered_body(output: dict | None, prefix: str, widget_id, table_view: dict | None = None):
    """A widget's content from its render output ({"error": ...} when it failed)."""
    if output is None:
        return html.Div(className="widget-placeholder")
    if "error" in output and "kind" not in output:
        return widget_error(output["error"])
    ids = widget_ids(prefix, widget_id)
    if output.get("kind") == "pending":
        return pending_body(output["message"], ids["poll"])
    pager = None
    if output.get("kind") == "table":  # the public link pages through its token (public-* ids)
        pager = {"ids": {k: ids[k] for k in ("prev", "next", "sort", "view")}, "view": table_view or {}}
    return widget_body(output, ids["graph"], output.get("title"), pager)


PENDING_POLL_MS = 2000


def pending_body(message: str, poll_id: dict) -> html.Div:
    """A widget still being computed: says so and asks again every couple of seconds
    (the poll is part of the body, so it stops when the drawn widget replaces it)."""
    return html.Div([dbc.Spinner(size="sm", color="secondary", spinner_class_name="me-2"),
                     html.Span(message, className="small text-body-secondary"),
                     dcc.Interval(id=poll_id, interval=PENDING_POLL_MS, max_intervals=300)],
                    className="widget-pending d-flex align-items-center p-2")


def reading_order(widgets: list[dict]) -> list[dict]:
    """Widgets top to bottom, then left to right, as their layout places them. The cards
    are put in the page in this order so that a narrow screen, where the grid becomes one
    stacked column (assets/50-app.css), reads them as the wide grid shows them."""
    def place(widget):
        layout = widget.get("layout") or {}
        return int(layout.get("y", 0) or 0), int(layout.get("x", 0) or 0)

    return sorted(widgets, key=place)


def _widget_cards(widgets: list[dict], prefix: str, editable: bool, outputs: dict | None, board: dict) -> list:
    """``board["alert_states"]`` ({widget id: state}, members only): the widgets with a bell."""
    bells = board.get("alert_states") or {}
    board_id, can_edit = board.get("id"), board.get("role") in ("editor", "owner")
    cards = []
    for widget in reading_order(widgets):
        ids = widget_ids(prefix, widget["id"])
        menu_ids = None
        if editable:
            menu_ids = {action: {"type": f"dash-widget-{action}", "index": widget["id"]}
                        for action in ("edit", "duplicate", "delete")}
        body = rendered_body((outputs or {}).get(str(widget["id"])), prefix, widget["id"])
        state = bells.get(widget["id"])
        bell = alert_bell(board_id, widget["id"], state, can_edit) if state and not prefix else None
        cards.append(widget_card(widget, body, editable=editable, body_id=ids["body"], menu_ids=menu_ids,
                                 bell=bell))
    return cards


def dashboard_grid(board: dict, tab_id: str | None, prefix: str, editable: bool, outputs: dict | None = None):
    widgets = widgets_of_tab(board, tab_id)
    if not widgets:
        text = ("This tab has no widgets yet: add one with “Add widget”." if editable
                else "This dashboard has no widgets yet." + (" Click “Edit” to add some." if not prefix else ""))
        return html.Div(text, className="empty-state text-center text-body-secondary", id=f"{prefix}dash-empty")
    return Grid(
        id=f"{prefix}dash-grid",
        cols=GRID_COLS,
        rowHeight=GRID_ROW_HEIGHT,
        layout=grid_layout(widgets, fit_tables=bool(prefix) and not editable),
        children=_widget_cards(widgets, prefix, editable, outputs, board),
        isDraggable=editable,
        isResizable=editable,
        draggableHandle=".widget-handle",
        compactType="vertical",
        margin=[12, 12],
        containerPadding=[0, 0],
        resizeHandles=["se"],
    )


def _edit_toolbar(board: dict, tab_id: str | None) -> html.Div:
    tabs = board.get("tabs") or []
    current = next((t for t in tabs if t["id"] == tab_id), tabs[0] if tabs else None)
    return html.Div(
        [
            dbc.Button([icon("plus-lg", "me-1"), "Add widget"], id="dash-widget-add", color="primary", size="sm",
                       className="me-2", n_clicks=0),
            dbc.Button([icon("funnel", "me-1"), "Add filter"], id="dash-filter-add", color="secondary", size="sm",
                       outline=True, className="me-2", n_clicks=0),
            dbc.Button([icon("folder-plus", "me-1"), "Add tab"], id="dash-tab-add", color="secondary", size="sm",
                       outline=True, className="me-2", n_clicks=0),
            dbc.InputGroup(
                [dbc.Input(id="dash-tab-title", value=(current or {}).get("title", ""), size="sm", maxLength=60,
                           placeholder="Tab name"),
                 dbc.Button("Rename tab", id="dash-tab-rename", size="sm", color="secondary", outline=True,
                            n_clicks=0),
                 dbc.Button(icon("trash"), id="dash-tab-delete", size="sm", color="danger", outline=True,
                            n_clicks=0, title="Delete this tab (it must be empty)")],
                size="sm", className="dash-tab-tools me-2",
            ),
            html.Span("Drag a widget by its handle, resize it from its corner; changes are saved as you go.",
                      className="small text-body-secondary"),
            html.Div(id="dash-edit-feedback", className="w-100 mt-2"),
        ],
        className="dash-edit-toolbar d-flex flex-wrap align-items-center mb-3",
    )


def dashboard_body(board: dict, state: dict, options: dict, prefix: str, editable: bool,
                   outputs: dict | None = None) -> list:
    """Filters, tabs, (editing tools) and the grid of one tab: what is redrawn when the
    mode or the tab changes or widgets are added or removed. ``outputs`` are the tab's
    widgets already rendered ({widget id: output}), so the page arrives drawn."""
    tab_id = resolve_tab(board, state.get("tab"))
    tabs = board.get("tabs") or []
    values = state.get("filters") or {}
    filters = [filter_control(f, options.get(f["id"]), values.get(f["id"], f.get("value")), prefix, editable)
               for f in board.get("filters") or []]
    return [
        _edit_toolbar(board, tab_id) if editable else None,
        html.Div(filters, className="dashboard-filters d-flex flex-wrap mb-2") if filters else None,
        html.Div(
            dbc.Tabs([dbc.Tab(label=t.get("title") or "Tab", tab_id=t["id"]) for t in tabs],
                     id=f"{prefix}dash-tabs", active_tab=tab_id, className="mb-2"),
            className="" if len(tabs) > 1 or editable else "d-none",
        ),
        dashboard_grid(board, tab_id, prefix, editable, outputs),
    ]


def dashboard_page_body(board: dict, state: dict, options: dict, prefix: str = "", editable: bool = False,
                        outputs: dict | None = None):
    return html.Div(
        [
            dcc.Store(id=f"{prefix}dash-state", data={"filters": state.get("filters") or {},
                                                      "cross": state.get("cross") or []}),
            dcc.Store(id=f"{prefix}dash-view", data={"tab": state.get("tab"), "edit": editable}),
            html.Div(cross_filter_chips(state.get("cross") or [], prefix), id=f"{prefix}dash-chips",
                     className="mb-1"),
            html.Div(dashboard_body(board, state, options, prefix, editable, outputs), id=f"{prefix}dash-body"),
        ]
    )
