"""The SQL page's parts: the editor (a textarea that assets/sql-editor.js turns into
CodeMirror, with completion of the workspace's tables and columns), the result grid, the
list of tables and the person's history."""
from __future__ import annotations

import json

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.feedback import icon

NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
           "FLOAT", "DOUBLE", "DECIMAL")
PAGE_ROWS = 100
LIMITS = [100, 1_000, 10_000]


def editor(tables: dict[str, list[dict]], sql: str) -> html.Div:
    """The editor and its Run button; ``tables`` ({name: [columns]}) feed the completion."""
    completion = {name: [c["name"] for c in columns] for name, columns in tables.items()}
    return html.Div([
        html.Div(id="sql-tables-data", hidden=True, **{"data-tables": json.dumps(completion)}),
        html.Label("SQL query", htmlFor="sql-text", className="visually-hidden"),
        dcc.Textarea(id="sql-text", value=sql, className="form-control font-monospace sql-text", rows=8,
                     spellCheck=False),
        html.Div([
            dbc.Button([icon("play-fill", "me-1"), "Run"], id="sql-run", color="primary", n_clicks=0,
                       title="Run the query (Ctrl+Enter)"),
            html.Span("Ctrl+Enter runs it · Ctrl+Space completes names", className="small text-body-secondary"),
            dbc.Select(id="sql-limit", value="1000", size="sm", className="ms-auto w-auto",
                       options=[{"label": f"At most {n:,} rows", "value": str(n)} for n in LIMITS]),
        ], className="d-flex flex-wrap align-items-center gap-2 mt-2"),
    ])


REFRESH_CHOICES = [("manual", "Refresh by hand"), ("hourly", "Refresh every hour"), ("daily", "Refresh daily (00:00 UTC)")]


def source_select(connections: list[dict], workspace_name: str) -> dbc.Select:
    """Where the query runs: the workspace's datasets (DuckDB), or a connected database."""
    options = [{"label": f"Datasets of {workspace_name}", "value": "datasets"}]
    options += [{"label": f"{c['name']} ({'PostgreSQL' if c['kind'] == 'postgresql' else 'MySQL'})",
                 "value": str(c["id"])} for c in connections]
    return html.Div([
        html.Label("Run on", htmlFor="sql-source", className="small text-body-secondary"),
        dbc.Select(id="sql-source", value="datasets", options=options, size="sm", className="w-auto",
                   disabled=len(options) == 1),
    ], className="d-flex align-items-center gap-2")


def save_form() -> html.Div:
    """Save the whole result of the query as a dataset of the workspace (editors), refreshed
    by hand or on a schedule; or keep the query itself by name, for oneself or the team."""
    return html.Div([
        dbc.Row([
            dbc.Col(dbc.Input(id="sql-save-name", placeholder="Name of the new dataset", maxLength=200, size="sm"),
                    xs=12, md=6),
            dbc.Col(dbc.Select(id="sql-save-mode", value="sync", size="sm", options=[
                {"label": "Keep a copy of the result", "value": "sync"},
                {"label": "Live: charts run the query", "value": "live"}]), xs=12, md=6),
            # A live dataset has nothing to refresh: its charts run the query.
            dbc.Col(dbc.Select(id="sql-save-refresh", value="manual", size="sm",
                               options=[{"label": t, "value": v} for v, t in REFRESH_CHOICES]),
                    xs=12, md=6, id="sql-save-refresh-wrap"),
            dbc.Col(dbc.Button([icon("database-add", "me-1"), "Save as dataset"], id="sql-save",
                               color="secondary", outline=True, n_clicks=0, size="sm", className="w-100"),
                    xs=12, md=6),
        ], className="g-2"),
        html.Div(["Live: each chart on the dataset runs the query over the datasets as they are then. Write ",
                  html.Code("{{region}}"), ", ", html.Code("{{period:date}}"), " or ", html.Code("{{amount:number}}"),
                  " where a dashboard filter of that name should go, for example ",
                  html.Code("WHERE 1=1 [[AND region IN ({{region}})]] [[AND day BETWEEN {{period:date}}]]"),
                  "; a clause in [[ ]] is left out while its filter has no value."],
                 className="small text-body-secondary mt-1", id="sql-save-help"),
        html.Div(id="sql-save-feedback", className="mt-2"),
        dbc.Row([
            dbc.Col(dbc.Input(id="sql-query-name", placeholder="Name of the query", maxLength=200, size="sm"),
                    xs=12, md=5),
            dbc.Col(dbc.Checkbox(id="sql-query-shared", label="Share with the workspace", value=False,
                                 className="small mt-1"), xs=12, md=3),
            dbc.Col(dbc.Button([icon("bookmark-plus", "me-1"), "Save query"], id="sql-query-save", color="secondary",
                               outline=True, n_clicks=0, size="sm", className="w-100"), xs=12, md=4),
        ], className="g-2 mt-1"),
        html.Div(id="sql-query-feedback", className="mt-2"),
    ], className="mt-3")


def saved_list(queries: list[dict]) -> html.Div:
    """The person's saved queries and those shared with the workspace; a click opens one."""
    if not queries:
        return html.P("Queries you save, and those shared with the workspace, are listed here.",
                      className="small text-body-secondary mb-0")
    return dbc.ListGroup([dbc.ListGroupItem([
        html.Div(q["name"], className="small fw-semibold text-truncate"),
        html.Div(("Shared" if q["shared"] else "Only you") + ("" if q["mine"] else " · by a teammate")
                 + (" · on a connection" if q["connection_id"] else ""), className="small text-body-secondary"),
    ], id={"type": "sql-saved-item", "index": q["id"]}, action=True, n_clicks=0, className="py-1")
        for q in queries], flush=True, id="sql-saved-list")


def result_grid(result: dict) -> html.Div:
    """The rows of a result, a page of 100 at a time, and how many there are."""
    columns = result["columns"]
    defs = [{"headerName": name, "field": f"c{i}",
             **({"type": "rightAligned"} if (result.get("types") or [""] * len(columns))[i].split("(")[0] in NUMERIC
                else {})} for i, name in enumerate(columns)]
    rows = [{f"c{i}": v for i, v in enumerate(row)} for row in result["rows"]]
    count = f"{len(rows):,} row{'s' if len(rows) != 1 else ''} in {result['elapsed_ms']:,.0f} ms"
    if result["truncated"]:
        count += f" · the first {len(rows):,} are shown: add a LIMIT, or aggregate"
    grid = dag.AgGrid(
        id="sql-grid", rowData=rows, columnDefs=defs,
        defaultColDef={"sortable": True, "resizable": True, "filter": True, "minWidth": 90},
        dashGridOptions={"pagination": True, "paginationPageSize": PAGE_ROWS, "suppressFieldDotNotation": True,
                         "paginationPageSizeSelector": False},
        style={"height": "480px"}, className="ag-theme-quartz datainsight-grid")
    return html.Div([html.Div(count, id="sql-count", className="small text-body-secondary mb-2", role="status"),
                     grid])


def table_list(tables: dict[str, list[dict]]) -> html.Div:
    if not tables:
        return html.P("This workspace has no datasets yet: upload one, and it is a table here.",
                      className="small text-body-secondary mb-0")
    return html.Div([html.Details([
        html.Summary(html.Code(name), className="small"),
        html.Ul([html.Li([html.Code(c["name"]), html.Span(f" {c['type']}", className="text-body-secondary")],
                         className="small") for c in columns], className="list-unstyled ms-3 mb-1"),
    ]) for name, columns in tables.items()], id="sql-table-list")


def history_list(history: list[dict]) -> html.Div:
    if not history:
        return html.P("Your queries appear here.", className="small text-body-secondary mb-0")
    items = []
    for h in history[:30]:
        status = (html.Span(" · failed", className="text-danger") if h["error"]
                  else html.Span(f" · {h['rows']:,} rows", className="text-body-secondary"))
        items.append(dbc.ListGroupItem([
            html.Div(h["sql"][:160], className="font-monospace small text-truncate"),
            html.Div([h["ran_at"][:16].replace("T", " "), status], className="small text-body-secondary"),
        ], id={"type": "sql-history-item", "index": h["id"]}, action=True, n_clicks=0, className="py-1"))
    return dbc.ListGroup(items, flush=True, id="sql-history-list")
