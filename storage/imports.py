"""From a finished upload to a dataset: inspect it, then import it (as a new dataset or a
new version of one) following the person's choices. The UI and the API both come here."""
from __future__ import annotations

from storage import ingest
from storage.datasets import default_dataset_name
from storage.errors import Conflict, InvalidInput
from storage.principal import Principal

# What to do when a new dataset would take the name of one the workspace has.
IF_EXISTS = ("version", "new", "error")


def inspect_upload(storage, principal: Principal, upload_id, sheet: str | None = None,
                   options: dict | None = None) -> dict:
    """What the upload holds, read with the person's reading ``options`` (delimiter,
    decimal, thousands, date_order, encoding; see ingest.read_options)."""
    upload, path = storage.uploads.complete_path(principal, upload_id)
    sheets = storage.datasets.sheets(path, upload.filename)
    if sheets and sheet is None:
        sheet = sheets[0]
    inspection = storage.datasets.inspect_file(path, upload.filename, sheet, options)
    return {"upload": upload.public_dict(), "sheets": sheets, "inspection": inspection.as_dict()}


def name_taken(storage, principal: Principal, workspace_id, name: str):
    """(the dataset of the workspace already called ``name``, the free name "name (2)"),
    or (None, name) when the name is free."""
    existing = storage.datasets.named(principal, workspace_id, name)
    if existing is None:
        return None, name
    return existing, storage.datasets.free_name(principal, workspace_id, name)


def plans_from(columns: list[dict] | None, inspection: ingest.Inspection) -> tuple[list[ingest.ColumnPlan], set[str]]:
    """The person's column choices as plans, and which types they set themselves."""
    if not columns:
        return ingest.default_plan(inspection), set()
    proposed = {c.source: c for c in inspection.columns}
    plans, user_typed = [], set()
    for choice in columns:
        if not isinstance(choice, dict) or "source" not in choice:
            raise InvalidInput("Each column choice needs its source column")
        info = proposed.get(choice["source"])
        if info is None:
            raise InvalidInput(f"The file has no column {choice['source']!r}")
        kind = choice.get("type") or info.type
        if kind != info.type:
            user_typed.add(info.source)
        date_format = info.date_format if kind in ("date", "timestamp") and info.type in ("date", "timestamp") else None
        # A number column written "1.234,56" stays read that way as integer or float.
        numbers = info.number_format if kind in ("integer", "float") else None
        plans.append(ingest.ColumnPlan(info.source, str(choice.get("name") or info.name), kind,
                                       bool(choice.get("include", True)), date_format, numbers))
    # Columns the choices do not mention are kept as detected: the list says what changes.
    listed = {p.source: p for p in plans}
    ordered = [listed.get(c.source) or ingest.ColumnPlan(c.source, c.name, c.type, True, c.date_format,
                                                         c.number_format)
               for c in inspection.columns]
    return ordered, user_typed


def import_upload(storage, principal: Principal, upload_id, workspace_id=None, name: str | None = None,
                  sheet: str | None = None, columns: list[dict] | None = None, mode: str = "new",
                  dataset_id=None, description: str = "", report=None, keep_upload: bool = False,
                  options: dict | None = None, if_exists: str | None = None) -> dict:
    """Import one upload (one sheet of it). Returns the dataset's public dict.

    ``options`` are the reading choices (see ingest.read_options). ``if_exists`` says what
    a new dataset does when the workspace has one with its name: "version" adds the file
    as a new version of that dataset, "new" names the new one "name (2)", "error"
    refuses (Conflict); None keeps both under the same name, as before."""
    choices = ingest.read_options(options)
    upload, path = storage.uploads.complete_path(principal, upload_id)
    if mode == "new" and if_exists is not None:
        if if_exists not in IF_EXISTS:
            raise InvalidInput(f"if_exists must be one of {', '.join(IF_EXISTS)}")
        if workspace_id is None:
            raise InvalidInput("Choose the workspace for the new dataset")
        wanted = name or default_dataset_name(upload.filename, sheet)
        existing, free = name_taken(storage, principal, workspace_id, wanted)
        if existing is not None and if_exists == "error":
            raise Conflict(f"A dataset named {existing.name!r} exists in this workspace: add the file as a new "
                           f"version of it, or import it under another name such as {free!r}",
                           details={"dataset_id": existing.id, "free_name": free})
        if existing is not None and if_exists == "version":
            mode, dataset_id = "replace", existing.id
        name = free
    if report:
        report(0.02, "Reading the file", force=True)
    source = storage.datasets.prepare(path, upload.filename, sheet, choices.get("encoding"))
    try:
        inspection = ingest.inspect(source, storage.datasets.tmp_dir, choices)
        plans, user_typed = plans_from(columns, inspection)
        progress = None
        if report:
            report(0.1, "Writing the dataset", force=True)
            # Reading and checking the file take the first tenth; DuckDB's COPY the rest.
            progress = lambda p: report(0.1 + 0.88 * p, "Writing the dataset")  # noqa: E731
        common = dict(sheet=sheet, plans=plans, user_typed=user_typed, on_progress=progress,
                      inspection=inspection, source=source)
        if mode == "new":
            if workspace_id is None:
                raise InvalidInput("Choose the workspace for the new dataset")
            dataset = storage.datasets.create_from_file(
                principal, workspace_id, path, upload.filename, name=name, description=description, **common)
        elif mode in ("replace", "append"):
            if dataset_id is None:
                raise InvalidInput("Choose the dataset to add the file to")
            dataset = storage.datasets.add_version(principal, dataset_id, path, upload.filename, mode=mode,
                                                   options=choices, **common)
        else:
            raise InvalidInput("mode must be new, replace or append")
    finally:
        source.cleanup()
    if not keep_upload:
        storage.uploads.discard(principal, upload.id)
    result = dataset.public_dict()
    result["notes"] = inspection.notes
    return result


# An import makes one dataset per ticked sheet; the list comes from the browser (a Dash
# callback takes any post), so it is bounded like any input.
MAX_SHEETS = 100


def check_sheets(sheets) -> list:
    """The sheets to import, checked: a list of up to MAX_SHEETS distinct names (None for
    a file without sheets)."""
    if not isinstance(sheets, list) or not 1 <= len(sheets) <= MAX_SHEETS:
        raise InvalidInput(f"Choose 1 to {MAX_SHEETS} sheets to import")
    if any(s is not None and (not isinstance(s, str) or len(s) > 200) for s in sheets) or len(set(sheets)) != len(sheets):
        raise InvalidInput("Sheets are named by distinct names of at most 200 characters")
    return sheets


def import_sheets(storage, principal: Principal, params: dict, report) -> dict:
    """The import screen's job (storage/job_kinds.py "import_sheets"): one dataset per
    sheet of an upload (one for a file without sheets), then the upload is discarded.

    JSON params: upload_id, workspace_id, name, sheets (names, or [None]), reviewed_sheet
    and its columns, mode, dataset_id, options, if_exists. Each sheet's dataset is noted
    in the job's checkpoint as soon as it is committed, so that a run delivered again
    after its worker died imports only the sheets still missing."""
    sheets = check_sheets(params.get("sheets") or [None])
    name, mode = params.get("name") or None, params.get("mode", "new")
    done = {int(k): v for k, v in (report.checkpointed().get("sheets") or {}).items()}
    for position, sheet in enumerate(sheets):
        if position in done:
            continue
        label = f"{name} – {sheet}" if name and len(sheets) > 1 else name

        def part(progress, message=None, force=False, _i=position):
            report((_i + progress) / len(sheets), message, force=force)

        result = import_upload(
            storage, principal, params["upload_id"], workspace_id=params.get("workspace_id"), name=label,
            sheet=sheet, columns=params.get("columns") if sheet == params.get("reviewed_sheet") else None,
            mode=mode, dataset_id=params.get("dataset_id"), report=part, keep_upload=True,
            options=params.get("options"), if_exists=(params.get("if_exists") or "new") if mode == "new" else None,
        )
        done[position] = {"id": result["id"], "name": result["name"], "rows": result["rows"],
                          "notes": result.get("notes", [])}
        report.checkpoint({"sheets": {str(k): v for k, v in done.items()}})
    storage.uploads.discard(principal, params["upload_id"])
    return {"datasets": [done[i] for i in range(len(sheets))]}
