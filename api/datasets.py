"""/api/v1 datasets, chunked uploads, imports, jobs and samples. Thin: every route takes
the acting principal and calls the same storage functions as the UI."""
from __future__ import annotations

import flask
from werkzeug.exceptions import RequestEntityTooLarge

from api.openapi import Answer, Body, operation, query
from api._helpers import (as_attachment, created, field, json_body, jsonable, optional_json_body, query_json,
                          sort_model_from_args)
from storage import imports, samples
from storage.ingest import READ_CHOICES, read_options
from storage.errors import InvalidInput, PayloadTooLarge
from storage.exports import stream_file, write_export
from web.context import current_storage, require_principal

blueprint = flask.Blueprint("api_datasets", __name__, url_prefix="/api/v1")

READING = {"delimiter": {"type": "string"}, "decimal": {"type": "string"}, "thousands": {"type": "string"},
           "date_order": {"type": "string"}, "encoding": {"type": "string"}}
FILE_FORM = {"type": "object", "required": ["file"], "properties": {
    "file": {"type": "string", "format": "binary", "description": "CSV, TSV, Excel, JSON or Parquet"},
    "name": {"type": "string"}, "sheet": {"type": "string"}, "workspace_id": {"type": "integer"},
    "if_exists": {"type": "string", "enum": ["version", "new", "error"]}, **READING}}
VERSION_FORM = {"type": "object", "required": ["file"], "properties": {
    "file": {"type": "string", "format": "binary"}, "mode": {"type": "string", "enum": ["replace", "append"]},
    "sheet": {"type": "string"}, **READING}}
SORT_FILTER = [query("sort", {"type": "array", "items": {"type": "string"}},
                     "a column to sort by; -Name for descending; repeat for more"),
               query("filter", {"type": "string"}, "an AG Grid filter model as JSON")]


class UploadNew(Body):
    filename: str
    size: int


class ImportChoices(Body):
    workspace_id: int | None = None
    name: str | None = None
    sheet: str | None = None
    columns: list | None = None
    mode: str = "new"
    dataset_id: int | None = None
    description: str | None = None
    options: dict | None = None
    if_exists: str | None = None


class DatasetChange(Body):
    name: str | None = None
    description: str | None = None


class WorkspaceChoice(Body):
    workspace_id: int | None = None


class ColumnOut(Answer):
    name: str
    type: str


class DatasetOut(Answer):
    id: int
    workspace_id: int
    name: str
    version: int
    rows: int
    size_bytes: int
    columns: list[ColumnOut]


class DatasetList(Answer):
    datasets: list[DatasetOut]
    workspace_id: int


class VersionOut(Answer):
    version: int
    rows: int
    operation: str


class VersionList(Answer):
    versions: list[VersionOut]


class RowsOut(Answer):
    columns: list[str]
    rows: list[dict]
    total: int
    offset: int


class UploadOut(Answer):
    id: str
    filename: str
    size: int
    offset: int
    status: str


class JobOut(Answer):
    id: str
    kind: str
    status: str
    progress: float


class SampleOut(Answer):
    key: str
    name: str


class SampleList(Answer):
    samples: list[SampleOut]


class JobStarted(Answer):
    job_id: str

MAX_CHUNK_BYTES = 64 * 1024 * 1024


def _workspace_id(principal, value):
    """The workspace asked for, or the person's personal one."""
    if value in (None, ""):
        return current_storage().workspaces.personal_workspace(principal).id
    return value


# --- chunked uploads ------------------------------------------------------------------


@blueprint.post("/uploads")
@operation("Start a chunked, resumable upload", "Datasets", body=UploadNew, status=201, answer=UploadOut)
def start_upload():
    principal = require_principal()
    body = json_body()
    upload = current_storage().uploads.create(principal, field(body, "filename"), field(body, "size", kind=int))
    return created(upload.public_dict())


@blueprint.get("/uploads/<upload_id>")
@operation("An upload's progress (bytes received)", "Datasets", answer=UploadOut)
def upload_status(upload_id):
    principal = require_principal()
    return flask.jsonify(current_storage().uploads.get(principal, upload_id).public_dict())


@blueprint.put("/uploads/<upload_id>")
@operation("Send the next chunk of an upload at ?offset=", "Datasets", raw_body="application/octet-stream", query=dict([query("offset", {"type": "integer", "minimum": 0}, "bytes received so far", True)]))
def upload_chunk(upload_id):
    principal = require_principal()
    length = flask.request.content_length
    if length is not None and length > MAX_CHUNK_BYTES:
        raise PayloadTooLarge(f"A chunk may be at most {MAX_CHUNK_BYTES // (1024 * 1024)} MB")
    upload = current_storage().uploads.write_chunk(
        principal, upload_id, flask.request.args.get("offset"), flask.request.stream, length
    )
    return flask.jsonify(upload.public_dict())


@blueprint.delete("/uploads/<upload_id>")
@operation("Cancel an upload and remove what it received", "Datasets", status=204)
def cancel_upload(upload_id):
    principal = require_principal()
    current_storage().uploads.discard(principal, upload_id)
    return "", 204


def _reading_options(source) -> dict:
    """Reading choices from query or form fields of the same names as the JSON
    ``options`` object: delimiter, decimal, thousands, date_order, encoding."""
    return {key: source.get(key) for key in READ_CHOICES if source.get(key) not in (None, "")}


@blueprint.get("/uploads/<upload_id>/inspect")
@operation("The columns detected in an uploaded file and its first rows", "Datasets", query=dict([query("sheet", {"type": "string"}), *[query(k, v) for k, v in READING.items()]]))
def inspect_upload(upload_id):
    """What the upload holds; query fields ``sheet`` and the reading choices
    (``delimiter``, ``decimal``, ``thousands``, ``date_order``, ``encoding``)."""
    principal = require_principal()
    args = flask.request.args
    return flask.jsonify(imports.inspect_upload(current_storage(), principal, upload_id, args.get("sheet"),
                                                _reading_options(args)))


@blueprint.post("/uploads/<upload_id>/import")
@operation("Import an uploaded file as a dataset, or a version of one, in the background", "Datasets", body=ImportChoices, status=202, answer=JobStarted)
def import_upload(upload_id):
    """Starts the import in the background: 202 with the job to watch."""
    principal = require_principal()
    body = json_body()
    storage = current_storage()
    options = dict(
        workspace_id=_workspace_id(principal, body.get("workspace_id")),
        name=field(body, "name", required=False),
        sheet=field(body, "sheet", required=False),
        columns=field(body, "columns", kind=list, required=False),
        mode=field(body, "mode", required=False, default="new"),
        dataset_id=body.get("dataset_id"),
        description=field(body, "description", required=False, default=""),
        # Reading choices ({"decimal": ",", "delimiter": ";", ...}); checked before the job starts.
        options=read_options(body.get("options")),
        # A workspace dataset with the same name: "version", "new" or "error" (absent: keep both).
        if_exists=field(body, "if_exists", required=False),
    )
    storage.uploads.complete_path(principal, upload_id)  # fail now, not in the job, if unfinished
    if options["if_exists"] not in (None, *imports.IF_EXISTS):
        raise InvalidInput(f"if_exists must be one of {', '.join(imports.IF_EXISTS)}")
    job_id = storage.jobs.start(principal, "import", None, {"upload_id": upload_id, "options": options},
                                message="Importing")
    response = flask.jsonify({"job_id": job_id, "status_url": f"/api/v1/jobs/{job_id}"})
    response.status_code = 202
    return response


@blueprint.get("/jobs/<job_id>")
@operation("A background job's status, progress and result", "Jobs", answer=JobOut)
def job_status(job_id):
    principal = require_principal()
    return flask.jsonify(current_storage().jobs.get(principal, job_id))


@blueprint.delete("/jobs/<job_id>")
@operation("Cancel a background job", "Jobs", answer=JobOut)
def cancel_job(job_id):
    principal = require_principal()
    return flask.jsonify(current_storage().jobs.cancel(principal, job_id))


# --- datasets ---------------------------------------------------------------------------


def _uploaded_file():
    uploads = current_storage().uploads
    # Refuse an oversized body before reading it (werkzeug spools the rest to disk).
    flask.request.max_content_length = uploads.max_bytes + 1024 * 1024
    try:
        file = flask.request.files.get("file")
    except RequestEntityTooLarge:
        raise uploads.too_large(flask.request.content_length or 0) from None
    if file is None or not file.filename:
        raise InvalidInput("Send the file as multipart form data in the field 'file'")
    return file


@blueprint.post("/datasets")
@operation("Upload a file as a new dataset", "Datasets", form=FILE_FORM, status=201, answer=DatasetOut)
def create_dataset():
    """One request, whole file: multipart field ``file``, optional ``name``, ``sheet``,
    ``workspace_id``, ``if_exists`` and the reading choices (``delimiter``, ``decimal``,
    ``thousands``, ``date_order``, ``encoding``). Answers 201 with the new dataset."""
    principal = require_principal()
    storage = current_storage()
    file = _uploaded_file()
    form = flask.request.form
    upload = storage.uploads.register_file(principal, file.filename, file.stream)
    try:
        result = imports.import_upload(
            storage, principal, upload.id, workspace_id=_workspace_id(principal, form.get("workspace_id")),
            name=form.get("name") or None, sheet=form.get("sheet") or None,
            options=_reading_options(form), if_exists=form.get("if_exists") or None,
        )
    finally:
        _discard_quietly(storage, principal, upload.id)
    return created(result)


def _discard_quietly(storage, principal, upload_id):
    try:
        storage.uploads.discard(principal, upload_id)
    except Exception:  # already discarded by a successful import
        pass


@blueprint.get("/datasets")
@operation("The datasets of a workspace (default: your personal one)", "Datasets", query=dict([query("workspace_id", {"type": "integer"}), query("search", {"type": "string"}), query("sort", {"type": "string", "enum": ["updated", "name", "rows", "size"]})]), answer=DatasetList)
def list_datasets():
    principal = require_principal()
    storage = current_storage()
    args = flask.request.args
    workspace_id = _workspace_id(principal, args.get("workspace_id"))
    found = storage.datasets.list(principal, workspace_id, search=args.get("search"), sort=args.get("sort", "updated"))
    return flask.jsonify({"workspace_id": int(workspace_id), "datasets": [d.public_dict() for d in found]})


@blueprint.get("/datasets/<dataset_id>")
@operation("One dataset with its columns and versions", "Datasets", answer=DatasetOut)
def get_dataset(dataset_id):
    principal = require_principal()
    storage = current_storage()
    body = storage.datasets.get(principal, dataset_id).public_dict()
    body["versions"] = [v.public_dict() for v in storage.datasets.versions(principal, dataset_id)]
    return flask.jsonify(body)


@blueprint.patch("/datasets/<dataset_id>")
@operation("Rename a dataset or change its description", "Datasets", body=DatasetChange, answer=DatasetOut)
def update_dataset(dataset_id):
    principal = require_principal()
    body = json_body()
    dataset = current_storage().datasets.update(
        principal, dataset_id, name=field(body, "name", required=False),
        description=field(body, "description", required=False),
    )
    return flask.jsonify(dataset.public_dict())


@blueprint.delete("/datasets/<dataset_id>")
@operation("Delete a dataset and every version", "Datasets", status=204)
def delete_dataset(dataset_id):
    principal = require_principal()
    current_storage().datasets.delete(principal, dataset_id)
    return "", 204


@blueprint.get("/datasets/<dataset_id>/versions")
@operation("A dataset's versions", "Datasets", answer=VersionList)
def list_versions(dataset_id):
    principal = require_principal()
    return flask.jsonify({"versions": [v.public_dict() for v in current_storage().datasets.versions(principal, dataset_id)]})


@blueprint.post("/datasets/<dataset_id>/versions")
@operation("A new version from a file: replace, or append rows with the same columns", "Datasets", form=VERSION_FORM, status=201, answer=DatasetOut)
def add_version(dataset_id):
    """A new version from a file: form field ``mode`` is replace (default) or append."""
    principal = require_principal()
    storage = current_storage()
    file = _uploaded_file()
    form = flask.request.form
    upload = storage.uploads.register_file(principal, file.filename, file.stream)
    try:
        result = imports.import_upload(
            storage, principal, upload.id, mode=form.get("mode", "replace"), dataset_id=dataset_id,
            sheet=form.get("sheet") or None, options=_reading_options(form),
        )
    finally:
        _discard_quietly(storage, principal, upload.id)
    return created(result)


@blueprint.get("/datasets/<dataset_id>/rows")
@operation("A page of rows as JSON, sorted and filtered", "Datasets", query=dict([query("offset", {"type": "integer", "minimum": 0}), query("limit", {"type": "integer", "minimum": 1, "maximum": 5000}), *SORT_FILTER]), answer=RowsOut)
def dataset_rows(dataset_id):
    principal = require_principal()
    args = flask.request.args
    columns, rows, total = current_storage().datasets.rows(
        principal, dataset_id, offset=args.get("offset", 0), limit=args.get("limit", 100),
        sort_model=sort_model_from_args(), filter_model=query_json("filter"),
    )
    return flask.jsonify({
        "columns": columns,
        "rows": [dict(zip(columns, (jsonable(v) for v in row))) for row in rows],
        "total": total,
        "offset": int(args.get("offset", 0)),
    })


@blueprint.get("/datasets/<dataset_id>/export")
@operation("The dataset as a file, streamed", "Datasets", media="application/octet-stream", query=dict([query("format", {"type": "string", "enum": ["csv", "xlsx", "parquet"]}), *SORT_FILTER]))
def export_dataset(dataset_id):
    principal = require_principal()
    fmt = flask.request.args.get("format", "csv")
    dataset, path, mimetype, filename = write_export(
        current_storage().datasets, principal, dataset_id, fmt, sort_model_from_args(), query_json("filter")
    )
    if current_storage().queries.rows_elsewhere(dataset):
        # A live table's or query's file is a sample of its rows: the file's name says so.
        stem, dot, extension = filename.rpartition(".")
        filename = f"{stem} (sample){dot}{extension}" if dot else f"{filename} (sample)"
    response = flask.Response(stream_file(path), mimetype=mimetype)
    response.headers["Content-Length"] = str(path.stat().st_size)
    return as_attachment(response, filename)


# --- samples ----------------------------------------------------------------------------


@blueprint.get("/samples")
@operation("The sample datasets shipped with DataInsight", "Datasets", answer=SampleList)
def list_samples():
    require_principal()
    return flask.jsonify({"samples": [{k: s[k] for k in ("key", "name", "description", "source")}
                                      for s in samples.list_samples()]})


@blueprint.post("/samples/<key>")
@operation("Add a sample dataset to a workspace", "Datasets", body=WorkspaceChoice, body_required=False, status=201, answer=DatasetOut)
def add_sample(key):
    principal = require_principal()
    body = optional_json_body()
    storage = current_storage()
    dataset = samples.add_sample(storage.datasets, principal, _workspace_id(principal, body.get("workspace_id")), key)
    return created(dataset.public_dict())
