"""Component trees for the datasets pages: upload zone, lists, grids, the import editor."""
from __future__ import annotations

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import html

from analytics.columns import LOGICAL_TYPES
from components.feedback import error_alert, icon
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


def _detected(column: dict) -> str:
    """"float · decimal comma, '-' read as missing", "date (%d.%m.%Y) · day-first dates"."""
    text = column["type"] + (f" ({column['date_format']})" if column.get("date_format") else "")
    return text + (f" · {column['detected']}" if column.get("detected") else "")


def column_editor_grid(grid_id, columns: list[dict], rows: list[list]) -> dag.AgGrid:
    """One row per column of the file: keep it, its name, its type, and sample values."""
    data = []
    for position, column in enumerate(columns):
        samples = [r[position] for r in rows[:5] if position < len(r) and r[position] not in (None, "")]
        data.append({
            "include": True, "source": column["source"], "name": column["name"], "type": column["type"],
            "detected": _detected(column),
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
            {"field": "detected", "headerName": "Detected", "width": 260, "tooltipField": "detected"},
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


def back_href(mode: str, dataset_id) -> str:
    """Where "Try another file" leads: the upload zone the files came from."""
    return f"/datasets/{dataset_id}" if mode != "new" and dataset_id else "/datasets"


def try_another_file(back_href: str = "/datasets") -> dbc.Button:
    """The way back from any failed step of an import: to the upload zone."""
    return dbc.Button([icon("arrow-left", "me-1"), "Try another file"], href=back_href, color="primary",
                      outline=True, size="sm", className="mt-2 import-try-another", external_link=True)


def import_error(message: str, back_href: str = "/datasets") -> html.Div:
    """A failed inspection or import: what went wrong, that nothing was saved, the way back."""
    return html.Div([error_alert([message, html.Div("Nothing was saved.", className="small mt-1")]),
                     try_another_file(back_href)], className="import-error")


# The reading choices of the import screen: (option, label, [(value, label)]). "auto"
# means "as detected"; the values are those of storage.ingest.READ_CHOICES.
READING_CONTROLS = (
    ("delimiter", "Delimiter", [("auto", "Detect"), (",", "Comma ,"), (";", "Semicolon ;"), ("\\t", "Tab"),
                                ("|", "Bar |")]),
    ("decimal", "Decimal mark", [("auto", "Detect"), (".", "Point 1.5"), (",", "Comma 1,5")]),
    ("thousands", "Thousands", [("auto", "Detect"), ("none", "None"), (",", "Comma 1,000"), (".", "Point 1.000"),
                                (" ", "Space 1 000"), ("'", "Apostrophe 1'000")]),
    ("date_order", "Dates", [("auto", "Detect"), ("dmy", "Day first 31/12"), ("mdy", "Month first 12/31")]),
    ("encoding", "Encoding", [("auto", "Detect"), ("utf-8", "UTF-8"), ("cp1252", "Windows-1252"),
                              ("iso-8859-1", "ISO-8859-1"), ("iso-8859-15", "ISO-8859-15"), ("utf-16", "UTF-16")]),
)
TEXT_ONLY_CONTROLS = ("delimiter", "encoding")  # meaningless for Excel, JSON and Parquet


def is_text_format(fmt: str) -> bool:
    """csv, tsv, csv.gz, zip/csv: a text file, whose delimiter and encoding can be chosen."""
    return fmt.split("/")[-1].split(".")[0] in ("csv", "tsv")


def reading_controls(upload_id: str, fmt: str, chosen: dict | None = None) -> dbc.Row:
    """One select per reading choice, "Detect" until the person picks a value."""
    chosen = chosen or {}
    cols = []
    for option, label, choices in READING_CONTROLS:
        hidden = option in TEXT_ONLY_CONTROLS and not is_text_format(fmt)
        value = chosen.get(option) or "auto"
        value = "\\t" if value == "\t" else value
        cols.append(dbc.Col([
            dbc.Label(label, className="small mb-0", html_for=f"import-{option}-{upload_id}"),
            dbc.Select(id={"type": f"import-{option}", "index": upload_id}, value=value, size="sm",
                       options=[{"label": text, "value": v} for v, text in choices]),
        ], xs=6, md=4, lg=2, style={"display": "none"} if hidden else None))
    return dbc.Row(cols, className="g-2 mb-2 import-reading")


def reading_summary(reading: dict) -> html.Div:
    """What was decided about the whole file, one badge per decision."""
    words = reading.get("summary") or []
    if not words:
        return html.Div()
    return html.Div([html.Span("Read with: ", className="small text-body-secondary me-1"),
                     # Badges do not wrap by default; a long decision would widen a phone's page.
                     *[dbc.Badge(w, color="light", text_color="dark", className="me-1 border import-decision text-wrap",
                                 style={"textAlign": "left"})
                       for w in words]], className="mb-2 import-decisions")


def name_conflict(upload_id: str, existing: str | None = None, free: str | None = None) -> html.Div:
    """"A dataset named X exists: add as a new version of it, or create a new dataset (X (2))?"
    Always in the card (hidden when the name is free) so the import reads its choice."""
    return html.Div(
        [
            html.Div(f"A dataset named “{existing}” exists: add this file as a new version of it, "
                     f"or create a new dataset “{free}”?" if existing else "",
                     className="fw-semibold mb-1", id={"type": "import-exists-question", "index": upload_id}),
            dbc.RadioItems(
                id={"type": "import-exists-choice", "index": upload_id}, value=None, inline=True,
                options=[{"label": f"New version of “{existing}”" if existing else "New version", "value": "version"},
                         {"label": f"New dataset “{free}”" if free else "New dataset", "value": "new"}],
            ),
        ],
        id={"type": "import-exists", "index": upload_id},
        className="alert alert-warning py-2 mb-3 import-exists", style=None if existing else {"display": "none"},
    )


def import_card_body(upload_id: str, inspected: dict) -> list:
    """The editor for one file (one sheet of it)."""
    inspection = inspected["inspection"]
    notes = [dbc.Badge(n, color="info", className="me-1 text-wrap", style={"textAlign": "left"})
             for n in inspection["notes"]]
    return [
        html.Div([dbc.Badge(inspection["format"], color="secondary", className="me-1"), *notes], className="mb-2"),
        reading_summary(inspection.get("reading") or {}),
        html.H3("Columns", className="h6"),
        html.P("Untick a column to skip it; click a name or a type to change it.", className="small text-body-secondary"),
        column_editor_grid({"type": "import-columns", "index": upload_id}, inspection["columns"], inspection["rows"]),
        html.H3(f"First {len(inspection['rows'])} rows", className="h6"),
        preview_grid({"type": "import-preview", "index": upload_id}, inspection["columns"], inspection["rows"]),
    ]
