"""Component trees for the datasets pages: upload zone, lists, grids, the import editor."""
from __future__ import annotations

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import html

from analytics.columns import LOGICAL_TYPES
from components.feedback import icon
from components.grid import data_grid  # noqa: F401  (the dataset page imports it from here)

TYPE_ICONS = {
    "integer": "123", "float": "percent", "boolean": "toggle-on", "date": "calendar-date",
    "timestamp": "clock", "text": "fonts", "categorical": "tags",
}


def human_size(size: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return f"{size} B"


def when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def upload_zone(zone_id: str, mode: str = "new", dataset_id: int | None = None, text: str | None = None):
    attributes = {"data-mode": mode, "data-progress": f"{zone_id}-progress", "tabIndex": "0", "role": "button"}
    if dataset_id is not None:
        attributes["data-dataset"] = str(dataset_id)
    return html.Div(
        [
            html.Div(
                [
                    icon("cloud-arrow-up"),
                    html.Div(text or "Drop CSV, Excel, JSON or Parquet files here, or click to choose",
                             className="mt-2 fw-semibold"),
                    html.Div("Compressed .gz and .zip files work too. Large files upload in parts and resume "
                             "if the connection drops.", className="small text-body-secondary"),
                ],
                id=zone_id, className="upload-zone", **attributes,
            ),
            html.Div(id=f"{zone_id}-progress", className="upload-progress"),
        ]
    )


def datasets_table(found) -> html.Div:
    if not found:
        return html.P("No dataset matches.", className="text-body-secondary mb-0", id="datasets-none")
    rows = [
        html.Tr(
            [
                html.Td(html.A(d.name, href=f"/datasets/{d.id}", className="fw-semibold")),
                html.Td(f"{d.rows:,}", className="text-end"),
                html.Td(f"{len(d.schema):,}", className="text-end"),
                html.Td(human_size(d.size_bytes), className="text-end"),
                html.Td(d.owner or ""),
                html.Td(when(d.updated_at)),
            ]
        )
        for d in found
    ]
    head = html.Thead(html.Tr([html.Th("Name"), html.Th("Rows", className="text-end"),
                               html.Th("Columns", className="text-end"), html.Th("Size", className="text-end"),
                               html.Th("Owner"), html.Th("Updated")]))
    return dbc.Table([head, html.Tbody(rows)], hover=True, responsive=True, className="mb-0 bg-white", id="datasets-table")


def sample_cards(samples, can_add: bool) -> dbc.Row:
    return dbc.Row(
        [
            dbc.Col(
                dbc.Card(
                    dbc.CardBody(
                        [
                            html.H3(s["name"], className="h6"),
                            html.P(s["description"], className="small text-body-secondary flex-grow-1"),
                            dbc.Button("Add to workspace", id={"type": "sample-add", "index": s["key"]}, size="sm",
                                       color="primary", outline=True, disabled=not can_add, n_clicks=0),
                        ]
                    ),
                    className="h-100 sample-card",
                ),
                md=6, xl=4, className="mb-3",
            )
            for s in samples
        ]
    )


def column_editor_grid(grid_id, columns: list[dict], rows: list[list]) -> dag.AgGrid:
    """One row per column of the file: keep it, its name, its type, and sample values."""
    data = []
    for position, column in enumerate(columns):
        samples = [r[position] for r in rows[:5] if position < len(r) and r[position] not in (None, "")]
        data.append({
            "include": True, "source": column["source"], "name": column["name"], "type": column["type"],
            "detected": column["type"] + (f" ({column['date_format']})" if column.get("date_format") else ""),
            "sample": ", ".join(str(v) for v in samples[:3])[:120],
        })
    return dag.AgGrid(
        id=grid_id,
        rowData=data,
        columnDefs=[
            {"field": "include", "headerName": "Keep", "editable": True, "cellDataType": "boolean", "width": 80},
            {"field": "name", "headerName": "Name", "editable": True, "flex": 2},
            {"field": "type", "headerName": "Type", "editable": True, "width": 150,
             "cellEditor": "agSelectCellEditor", "cellEditorParams": {"values": list(LOGICAL_TYPES)}},
            {"field": "detected", "headerName": "Detected", "width": 200},
            # Text, always: AG Grid would otherwise guess a type from the first row.
            {"field": "sample", "headerName": "First values", "flex": 3, "cellDataType": "text"},
            {"field": "source", "headerName": "In the file", "flex": 1},
        ],
        dashGridOptions={"singleClickEdit": True, "stopEditingWhenCellsLoseFocus": True, "domLayout": "autoHeight"}
        if len(data) <= 40 else {"singleClickEdit": True, "stopEditingWhenCellsLoseFocus": True},
        style={"height": None if len(data) <= 40 else "420px"},
        className="ag-theme-quartz mb-3",
    )


def preview_grid(grid_id, columns: list[dict], rows: list[list]) -> dag.AgGrid:
    names = [c["name"] for c in columns]
    return dag.AgGrid(
        id=grid_id,
        rowData=[{f"c{i}": v for i, v in enumerate(row)} for row in rows],
        columnDefs=[{"field": f"c{i}", "headerName": name, "minWidth": 110} for i, name in enumerate(names)],
        defaultColDef={"resizable": True, "cellDataType": False},  # show values as they are, no guessing
        style={"height": "300px"},
        className="ag-theme-quartz",
    )


def versions_table(versions) -> dbc.Table:
    return dbc.Table(
        [html.Thead(html.Tr([html.Th(h) for h in ("Version", "Change", "From file", "Rows", "Columns", "Size", "By", "When")])),
         html.Tbody([html.Tr([html.Td(v.version), html.Td(v.operation), html.Td(v.source_name),
                              html.Td(f"{v.rows:,}"), html.Td(len(v.schema)), html.Td(human_size(v.size_bytes)),
                              html.Td(v.created_by or ""), html.Td(when(v.created_at))]) for v in versions])],
        size="sm", hover=True, className="mb-0", id="dataset-versions",
    )


def import_card_body(upload_id: str, inspected: dict) -> list:
    """The editor for one file (one sheet of it)."""
    inspection = inspected["inspection"]
    notes = [dbc.Badge(n, color="info", className="me-1") for n in inspection["notes"]]
    return [
        html.Div([dbc.Badge(inspection["format"], color="secondary", className="me-1"), *notes], className="mb-2"),
        html.H3("Columns", className="h6"),
        html.P("Untick a column to skip it; click a name or a type to change it.", className="small text-body-secondary"),
        column_editor_grid({"type": "import-columns", "index": upload_id}, inspection["columns"], inspection["rows"]),
        html.H3(f"First {len(inspection['rows'])} rows", className="h6"),
        preview_grid({"type": "import-preview", "index": upload_id}, inspection["columns"], inspection["rows"]),
    ]
