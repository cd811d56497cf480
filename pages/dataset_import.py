"""/datasets/import?uploads=...: what each uploaded file holds, before anything is saved.
The person checks the first rows and the detected types, changes a type, renames or
skips columns, picks sheets, then imports."""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.datasets import import_card_body
from components.feedback import error_alert, page_header
from storage import imports
from storage.errors import DataInsightError
from web.context import current_storage, current_workspace, require_principal

# Ordered before /datasets/<dataset_id>, whose template would otherwise match "import".
dash.register_page(__name__, path="/datasets/import", title="Import · DataInsight", order=7)


def import_card(upload_id: str, mode: str, dataset_name: str | None):
    storage = current_storage()
    principal = require_principal()
    try:
        inspected = imports.inspect_upload(storage, principal, upload_id)
    except DataInsightError as exc:
        name = None
        try:
            name = storage.uploads.get(principal, upload_id).filename
        except DataInsightError:
            pass
        return dbc.Card(dbc.CardBody([html.H2(name or "Upload", className="h5"), error_alert(exc.message)]),
                        className="mb-4 import-card")
    upload = inspected["upload"]
    sheets = inspected["sheets"]
    header = [html.H2(upload["filename"], className="h5 mb-3")]
    hidden = {"display": "none"}
    # Every control exists for every file (hidden where it does not apply), so the
    # import callback can read them all with MATCH.
    controls = [
        dbc.Col([dbc.Label("Dataset name"), dbc.Input(id={"type": "import-name", "index": upload_id},
                                                      value=_default_name(upload["filename"]))],
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
                dbc.Row(controls, className="mb-3") if controls else None,
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


def _default_name(filename: str) -> str:
    from analytics.columns import clean_display_name

    return clean_display_name(filename)


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
    cards = [import_card(u, mode, dataset_name) for u in upload_ids]
    if not cards:
        cards = [dbc.Alert("Nothing to import: upload files on the Datasets page first.", color="secondary")]
    return html.Div(
        [
            page_header("Import files", subtitle),
            *cards,
            dcc.Store(id="import-context", data={"mode": mode, "dataset": dataset, "workspace": workspace.id}),
            dcc.Interval(id="import-poll", interval=400, disabled=True),
        ]
    )
