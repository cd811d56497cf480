"""/datasets/import?uploads=...: what each uploaded file holds, before anything is saved.
The person checks the first rows, what was decided about the file (delimiter, decimal
mark, encoding, date order...) and the detected types, changes any of them, renames or
skips columns, picks sheets, then imports one file or all of them at once. A failed
file says why and offers the way back to the upload zone."""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.datasets import (back_href, import_card_body, import_error, name_conflict, reading_controls,
                                 try_another_file)
from components.feedback import page_header
from storage import imports
from storage.datasets import default_dataset_name
from storage.errors import DataInsightError
from web.context import current_storage, current_workspace, require_principal

# Ordered before /datasets/<dataset_id>, whose template would otherwise match "import".
dash.register_page(__name__, path="/datasets/import", title="Import · DataInsight", order=7)


def import_card(upload_id: str, mode: str, dataset_name: str | None, workspace_id=None, dataset_id=None):
    storage = current_storage()
    principal = require_principal()
    back = back_href(mode, dataset_id)
    try:
        inspected = imports.inspect_upload(storage, principal, upload_id)
    except DataInsightError as exc:
        name = None
        try:
            name = storage.uploads.get(principal, upload_id).filename
        except DataInsightError:
            pass
        return dbc.Card(dbc.CardBody([html.H2(name or "Upload", className="h5"), import_error(exc.message, back)]),
                        className="mb-4 import-card import-card-failed")
    upload = inspected["upload"]
    sheets = inspected["sheets"]
    header = [html.H2(upload["filename"], className="h5 mb-3")]
    hidden = {"display": "none"}
    default_name = default_dataset_name(upload["filename"])
    existing, free = (None, default_name)
    if mode == "new" and workspace_id is not None:
        found, free = imports.name_taken(storage, principal, workspace_id, default_name)
        existing = found.name if found is not None else None
    # Every control exists for every file (hidden where it does not apply), so the
    # import callback can read them all with MATCH.
    controls = [
        dbc.Col([dbc.Label("Dataset name"), dbc.Input(id={"type": "import-name", "index": upload_id},
                                                      value=default_name, debounce=True)],
                md=6, style=None if mode == "new" else hidden),
        dbc.Col([dbc.Label("Sheet to review"), dbc.Select(
            id={"type": "import-sheet", "index": upload_id}, value=sheets[0] if sheets else None,
            options=[{"label": s, "value": s} for s in sheets or []])], md=3, style=None if sheets else hidden),
        dbc.Col([dbc.Label("Sheets to import"), dbc.Checklist(
            id={"type": "import-sheets", "index": upload_id}, value=[sheets[0]] if sheets else [],
            options=[{"label": s, "value": s} for s in sheets or []])],
            md=3, style=None if sheets and mode == "new" else hidden),
    ]
    action = {"new": "Import as a new dataset", "replace": f"Replace the data of “{dataset_name}”",
              "append": f"Append to “{dataset_name}”"}[mode]
    return dbc.Card(
        dbc.CardBody(
            header + [
                dbc.Row(controls, className="mb-3"),
                name_conflict(upload_id, existing, free) if mode == "new" else name_conflict(upload_id),
                html.H3("Reading", className="h6"),
                reading_controls(upload_id, inspected["inspection"]["format"]),
                html.Div(import_card_body(upload_id, inspected), id={"type": "import-body", "index": upload_id}),
                dbc.Button(action, id={"type": "import-go", "index": upload_id}, color="primary", n_clicks=0,
                           className="mt-3"),
                dbc.Progress(id={"type": "import-progress", "index": upload_id}, value=0, className="mt-3",
                             style={"display": "none"}),
                html.Div(id={"type": "import-result", "index": upload_id}, className="mt-3"),
                dcc.Store(id={"type": "import-job", "index": upload_id}),
            ]
        ),
        className="mb-4 import-card",
    )


def layout(uploads=None, mode="new", dataset=None, **_query):
    principal = require_principal()
    workspace = current_workspace(principal)
    mode = mode if mode in ("new", "replace", "append") else "new"
    upload_ids = [u for u in (uploads or "").split(",") if u][:20]
    dataset_name = None
    if mode != "new":
        dataset_name = current_storage().datasets.get(principal, dataset).name
    subtitle = (f"Into {workspace.name}. Check each file, then import it." if mode == "new"
                else f"A new version of {dataset_name}.")
    cards = [import_card(u, mode, dataset_name, workspace.id, dataset) for u in upload_ids]
    if not cards:
        cards = [dbc.Alert(["Nothing to import: upload files on the Datasets page first.",
                            html.Div(try_another_file(back_href(mode, dataset)))], color="secondary")]
    # Several files: one button imports them all, each as its own dataset.
    import_all = (html.Div([dbc.Button(f"Import all {len(upload_ids)} files", id="import-all", color="primary",
                                       n_clicks=0, className="me-2"),
                            html.Span("Each file becomes its own dataset; a file that fails does not stop the others.",
                                      className="small text-body-secondary")], className="mb-3 import-all-bar")
                  if mode == "new" and len(upload_ids) > 1 else None)
    return html.Div(
        [
            page_header("Import files", subtitle),
            import_all,
            *cards,
            dcc.Store(id="import-context", data={"mode": mode, "dataset": dataset, "workspace": workspace.id}),
            dcc.Interval(id="import-poll", interval=400, disabled=True),
        ]
    )
