"""Datasets pages: list search and sort, samples, the data grid, settings, delete, and
the import screen. Every call goes through storage with the acting principal."""
from __future__ import annotations

import json
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import ALL, MATCH, Input, Output, State, ctx, html, no_update

from analytics.values import jsonable
from components.datasets import (READING_CONTROLS, back_href, datasets_table, import_card_body, import_error, name_conflict,
                                 upload_zone)
from components.feedback import error_alert, success_alert
from components.grid import column_defs, match_count_text
from storage import imports, ingest, samples
from storage.errors import DataInsightError, InvalidInput
from web.context import current_storage, current_workspace, require_principal


def _export_href(dataset_id, fmt, sort_model, filter_model) -> str:
    params = [("format", fmt)]
    for item in sort_model or []:
        params.append(("sort", ("-" if item.get("sort") == "desc" else "") + str(item.get("colId"))))
    if filter_model:
        params.append(("filter", json.dumps(filter_model)))
    return f"/api/v1/datasets/{dataset_id}/export?" + urlencode(params)


def _options(values) -> dict:
    """The reading selects' values as ingest options ("auto" means detect)."""
    return {option: value for (option, *_), value in zip(READING_CONTROLS, values) if value not in (None, "", "auto")}


def _back(context) -> str:
    context = context or {}
    return back_href(context.get("mode", "new"), context.get("dataset"))


def _start_import(upload_id: str, card: list, context: dict | None):
    """Start the import job of one card: (job id, what the card shows, button disabled).
    ``card`` holds the values of card_states in order."""
    rows, name, reviewed_sheet, chosen_sheets, if_exists, *reading = card
    principal = require_principal()
    storage = current_storage()
    mode = (context or {}).get("mode", "new")
    try:
        storage.uploads.complete_path(principal, upload_id)
        options = ingest.read_options(_options(reading))
        columns = [{"source": r["source"], "name": r.get("name") or "", "type": r.get("type"),
                    "include": bool(r.get("include"))} for r in rows or []]
        sheets = [reviewed_sheet] if mode != "new" else (chosen_sheets or [])
        if reviewed_sheet and mode == "new" and not sheets:
            raise InvalidInput("Tick at least one sheet to import")
        sheets = imports.check_sheets(sheets or [None])
        workspace_id = current_workspace(principal).id
        if mode == "new" and if_exists is None:
            existing, _free = imports.name_taken(storage, principal, workspace_id, name or "")
            if existing is not None and len(sheets) == 1:
                raise InvalidInput(f"A dataset named “{existing.name}” exists: choose above whether to add this "
                                   "file as a new version of it or to create a new dataset")
    except DataInsightError as exc:
        return no_update, error_alert(exc.message), False

    params = {"upload_id": upload_id, "workspace_id": workspace_id, "name": name or None, "sheets": sheets,
              "reviewed_sheet": reviewed_sheet, "columns": columns, "mode": mode,
              "dataset_id": (context or {}).get("dataset"), "options": options, "if_exists": if_exists}
    job_id = storage.jobs.start(principal, "import", workspace_id, params, message="Importing", task="import_sheets")
    return job_id, html.Div("Importing…", className="text-body-secondary"), True


def register(app) -> None:
    @app.callback(
        Output("datasets-list", "children"),
        Input("datasets-search", "value"),
        Input("datasets-sort", "value"),
        prevent_initial_call=True,
    )
    def filter_list(search, sort):
        principal = require_principal()
        workspace = current_workspace(principal)
        try:
            return datasets_table(current_storage().datasets.list(principal, workspace.id, search, sort or "updated"))
        except DataInsightError as exc:
            return error_alert(exc.message)

    @app.callback(
        Output("sample-feedback", "children"),
        Output("datasets-redirect", "href"),
        Input({"type": "sample-add", "index": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def add_sample(clicks):
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not any(clicks or []):
            return no_update, no_update
        principal = require_principal()
        storage = current_storage()
        try:
            dataset = samples.add_sample(storage.datasets, principal, current_workspace(principal).id, trigger["index"])
        except DataInsightError as exc:
            return error_alert(exc.message), no_update
        return None, f"/datasets/{dataset.id}"

    @app.callback(
        Output("dataset-grid", "getRowsResponse"),
        Output("dataset-grid-count", "children"),
        Output("export-csv", "href"),
        Output("export-xlsx", "href"),
        Output("export-parquet", "href"),
        Input("dataset-grid", "getRowsRequest"),
        State("dataset-id", "data"),
        prevent_initial_call=True,
    )
    def grid_rows(request, dataset_id):
        if not isinstance(request, dict):
            return no_update, no_update, no_update, no_update, no_update
        principal = require_principal()
        datasets = current_storage().datasets
        sort_model, filter_model = request.get("sortModel"), request.get("filterModel")
        try:
            start, end = int(request.get("startRow", 0)), int(request.get("endRow", 100))
            columns, rows, matching = datasets.rows(
                principal, dataset_id, offset=start, limit=max(1, min(end - start, 1000)),
                sort_model=sort_model, filter_model=filter_model,
            )
            _matching, total = datasets.count_rows(principal, dataset_id, filter_model)  # cached by rows()
        except (TypeError, ValueError):
            return {"rowData": [], "rowCount": 0}, "The grid asked for rows it cannot have", *[no_update] * 3
        except DataInsightError as exc:
            # An empty answer ends the grid's loading state; the line above says why.
            return {"rowData": [], "rowCount": 0}, exc.message, no_update, no_update, no_update
        response = {"rowData": [dict(zip(columns, (jsonable(v) for v in row))) for row in rows], "rowCount": matching}
        hrefs = [_export_href(dataset_id, fmt, sort_model, filter_model) for fmt in ("csv", "xlsx", "parquet")]
        return response, match_count_text(matching, total), *hrefs

    @app.callback(
        Output("dataset-grid", "columnDefs"),
        Input("dataset-id", "data"),
    )
    def grid_columns(dataset_id):
        """The column definitions again once the floats' decimals are read from the data
        (the page draws the grid at once, with two decimals for floats) and the column
        roles are known (a year or a flight number is written without a separator)."""
        principal = require_principal()
        storage = current_storage()
        datasets = storage.datasets
        try:
            dataset = datasets.get(principal, dataset_id)
            roles = {name: found["role"] for name, found in storage.roles.roles_for(dataset).items()}
            return column_defs(dataset.schema, roles=roles, decimals=datasets.column_decimals(principal, dataset.id))
        except DataInsightError:
            return no_update

    @app.callback(
        Output("dataset-save-feedback", "children"),
        Input("dataset-save", "n_clicks"),
        State("dataset-id", "data"),
        State("dataset-name-input", "value"),
        State("dataset-description-input", "value"),
        prevent_initial_call=True,
    )
    def save_dataset(_clicks, dataset_id, name, description):
        principal = require_principal()
        try:
            dataset = current_storage().datasets.update(principal, dataset_id, name=name or "", description=description or "")
        except DataInsightError as exc:
            return error_alert(exc.message)
        return success_alert(f"Saved “{dataset.name}”.")

    @app.callback(
        Output("dataset-version-zone-wrap", "children"),
        Input("dataset-version-mode", "value"),
        State("dataset-id", "data"),
        prevent_initial_call=True,
    )
    def version_mode(mode, dataset_id):
        text = "Drop the file whose rows to append here" if mode == "append" else "Drop the new file here"
        return upload_zone("dataset-version-zone", "append" if mode == "append" else "replace", dataset_id, text)

    @app.callback(
        Output("dataset-delete-modal", "is_open"),
        Input("dataset-delete-open", "n_clicks"),
        Input("dataset-delete-cancel", "n_clicks"),
        prevent_initial_call=True,
    )
    def toggle_delete(_open, _cancel):
        return ctx.triggered_id == "dataset-delete-open"

    @app.callback(
        Output("dataset-delete-feedback", "children"),
        Output("dataset-redirect", "href"),
        Input("dataset-delete-confirm", "n_clicks"),
        State("dataset-id", "data"),
        prevent_initial_call=True,
    )
    def delete_dataset(clicks, dataset_id):
        if not clicks:
            return no_update, no_update
        principal = require_principal()
        try:
            current_storage().datasets.delete(principal, dataset_id)
        except DataInsightError as exc:
            return error_alert(exc.message), no_update
        return None, "/datasets"

    # --- the import screen ----------------------------------------------------------------

    reading_inputs = [Input({"type": f"import-{option}", "index": MATCH}, "value") for option, *_ in READING_CONTROLS]

    @app.callback(
        Output({"type": "import-body", "index": MATCH}, "children"),
        Input({"type": "import-sheet", "index": MATCH}, "value"),
        *reading_inputs,
        State("import-context", "data"),
        prevent_initial_call=True,
    )
    def review_sheet(sheet, *values):
        """Read the file again with the sheet and reading choices the person picked."""
        *choices, context = values
        principal = require_principal()
        upload_id = ctx.triggered_id["index"]
        try:
            inspected = imports.inspect_upload(current_storage(), principal, upload_id, sheet, _options(choices))
        except DataInsightError as exc:
            return import_error(exc.message, _back(context))
        return import_card_body(upload_id, inspected)

    @app.callback(
        Output({"type": "import-exists", "index": MATCH}, "style"),
        Output({"type": "import-exists-question", "index": MATCH}, "children"),
        Output({"type": "import-exists-choice", "index": MATCH}, "options"),
        Output({"type": "import-exists-choice", "index": MATCH}, "value"),
        Input({"type": "import-name", "index": MATCH}, "value"),
        State("import-context", "data"),
        prevent_initial_call=True,
    )
    def check_name(name, context):
        """Ask again whether to add a version when the typed name is a dataset's."""
        if (context or {}).get("mode", "new") != "new" or not (name or "").strip():
            return {"display": "none"}, "", no_update, None
        principal = require_principal()
        try:
            existing, free = imports.name_taken(current_storage(), principal, current_workspace(principal).id, name)
        except DataInsightError:
            return {"display": "none"}, "", no_update, None
        if existing is None:
            return {"display": "none"}, "", no_update, None
        conflict = name_conflict(ctx.triggered_id["index"], existing.name, free)
        question, radio = conflict.children
        return None, question.children, radio.options, None

    card_states = [
        State({"type": "import-columns", "index": MATCH}, "rowData"),
        State({"type": "import-name", "index": MATCH}, "value"),
        State({"type": "import-sheet", "index": MATCH}, "value"),
        State({"type": "import-sheets", "index": MATCH}, "value"),
        State({"type": "import-exists-choice", "index": MATCH}, "value"),
        *[State({"type": f"import-{option}", "index": MATCH}, "value") for option, *_ in READING_CONTROLS],
    ]

    @app.callback(
        Output({"type": "import-job", "index": MATCH}, "data"),
        Output({"type": "import-result", "index": MATCH}, "children"),
        Output({"type": "import-go", "index": MATCH}, "disabled"),
        Input({"type": "import-go", "index": MATCH}, "n_clicks"),
        *card_states,
        State("import-context", "data"),
        prevent_initial_call=True,
    )
    def start_import(clicks, *states):
        if not clicks:
            return no_update, no_update, no_update
        *card, context = states
        return _start_import(ctx.triggered_id["index"], card, context)

    @app.callback(
        Output({"type": "import-job", "index": ALL}, "data", allow_duplicate=True),
        Output({"type": "import-result", "index": ALL}, "children", allow_duplicate=True),
        Output({"type": "import-go", "index": ALL}, "disabled", allow_duplicate=True),
        Input("import-all", "n_clicks"),
        *[State(s.component_id | {"index": ALL}, s.component_property) for s in card_states],
        State({"type": "import-go", "index": ALL}, "disabled"),
        State("import-context", "data"),
        prevent_initial_call=True,
    )
    def import_all(clicks, *_states):
        """One import job per file not imported yet, each atomic: a file that fails says
        so on its own card and the others go on."""
        outputs = ctx.outputs_list[0]
        if not clicks:
            return [no_update] * len(outputs), [no_update] * len(outputs), [no_update] * len(outputs)
        context = ctx.states.get("import-context.data")
        by_card: dict[str, list] = {}
        # The cards' states by upload id: a card whose body became an error has no column
        # grid, so the lists of ALL are matched by id, not by position.
        for position, group in enumerate(ctx.states_list[:len(card_states)]):
            for item in group:
                by_card.setdefault(item["id"]["index"], [None] * len(card_states))[position] = item.get("value")
        done = {item["id"]["index"]: item.get("value") for item in ctx.states_list[len(card_states)]}
        jobs, results, disabled = [], [], []
        for output in outputs:
            upload_id = output["id"]["index"]
            if done.get(upload_id) or by_card.get(upload_id, [None])[0] is None:
                jobs.append(no_update), results.append(no_update), disabled.append(no_update)
                continue
            job, result, off = _start_import(upload_id, by_card[upload_id], context)
            jobs.append(job), results.append(result), disabled.append(off)
        return jobs, results, disabled

    @app.callback(
        Output("import-poll", "disabled"),
        Input({"type": "import-job", "index": ALL}, "data"),
        Input({"type": "import-result", "index": ALL}, "children"),
    )
    def poll_while_running(jobs, _results):
        return not any(jobs or [])

    @app.callback(
        Output({"type": "import-progress", "index": ALL}, "value"),
        Output({"type": "import-progress", "index": ALL}, "style"),
        Output({"type": "import-result", "index": ALL}, "children", allow_duplicate=True),
        Output({"type": "import-job", "index": ALL}, "data", allow_duplicate=True),
        Output({"type": "import-go", "index": ALL}, "disabled", allow_duplicate=True),
        Input("import-poll", "n_intervals"),
        State({"type": "import-job", "index": ALL}, "data"),
        State("import-context", "data"),
        prevent_initial_call=True,
    )
    def poll_jobs(_n, job_ids, context):
        principal = require_principal()
        back = _back(context)
        jobs = current_storage().jobs
        values, styles, results, keep, disabled = [], [], [], [], []
        for job_id in job_ids:
            if not job_id:
                values.append(no_update), styles.append(no_update), results.append(no_update)
                keep.append(no_update), disabled.append(no_update)
                continue
            try:
                job = jobs.get(principal, job_id)
            except DataInsightError as exc:
                job = {"status": "failed", "message": exc.message, "progress": 0}
            values.append(round(job["progress"] * 100))
            styles.append({"display": "flex"} if job["status"] in ("queued", "running") else {"display": "none"})
            if job["status"] == "done":
                made = job["result"]["datasets"]
                results.append(success_alert([
                    "Imported ",
                    *sum(([", " if i else "",
                           html.A(d["name"], href=f"/datasets/{d['id']}", className="alert-link import-done-link"),
                           f" ({d['rows']:,} rows)"] for i, d in enumerate(made)), []),
                    *[dbc.Badge(n, color="info", className="ms-1") for d in made for n in d["notes"]],
                ]))
                keep.append(None)
                disabled.append(True)
            elif job["status"] in ("failed", "cancelled"):
                results.append(import_error(job["message"], back))
                keep.append(None)
                disabled.append(False)
            else:
                results.append(html.Div(job["message"] or "Importing…", className="text-body-secondary"))
                keep.append(no_update)
                disabled.append(True)
        return values, styles, results, keep, disabled
