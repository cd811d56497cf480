"""The import screen's job by name (storage.imports.import_sheets, kind "import_sheets"):
one dataset per sheet, run as a named job with JSON params; a run delivered again after
its worker died imports only the sheets its checkpoint does not name."""
import io
import time

import openpyxl
import pytest

from storage import imports
from storage.errors import InvalidInput

PASSWORD = "correct horse battery"


def workbook_upload(storage, principal) -> str:
    book = openpyxl.Workbook()
    book.active.title = "north"
    book.active.append(["id", "amount"])
    for i in range(5):
        book.active.append([i, i * 1.5])
    south = book.create_sheet("south")
    south.append(["id", "amount"])
    for i in range(3):
        south.append([i, i * 10.0])
    raw = io.BytesIO()
    book.save(raw)
    data = raw.getvalue()
    upload = storage.uploads.create(principal, "regions.xlsx", len(data))
    storage.uploads.write_chunk(principal, upload.id, 0, io.BytesIO(data), len(data))
    return upload.id


class FakeReporter:
    def __init__(self, state=None):
        self.state = state or {}
        self.calls = []

    def __call__(self, progress, message=None, force=False):
        self.calls.append(progress)

    def checkpoint(self, state):
        self.state = state

    def checkpointed(self):
        return self.state

    def check(self):
        pass


@pytest.fixture
def ada(storage):
    principal = storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada").principal()
    return principal, storage.workspaces.personal_workspace(principal).id


def params(upload_id, workspace_id):
    return {"upload_id": upload_id, "workspace_id": workspace_id, "name": "Sales", "sheets": ["north", "south"],
            "reviewed_sheet": "north", "columns": None, "mode": "new", "dataset_id": None, "options": {},
            "if_exists": None}


def test_each_sheet_becomes_a_dataset_through_a_named_job(storage, ada):
    principal, workspace_id = ada
    upload_id = workbook_upload(storage, principal)
    job_id = storage.jobs.start(principal, "import", workspace_id, params(upload_id, workspace_id),
                                task="import_sheets")
    for _ in range(300):
        job = storage.jobs.get(principal, job_id)
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.05)
    assert job["status"] == "done", job
    assert [(d["name"], d["rows"]) for d in job["result"]["datasets"]] == [("Sales – north", 5), ("Sales – south", 3)]
    assert sorted(d.name for d in storage.datasets.list(principal, workspace_id)) == ["Sales – north", "Sales – south"]
    with pytest.raises(Exception):  # the upload is gone once every sheet is in
        storage.uploads.complete_path(principal, upload_id)


def test_a_run_delivered_again_imports_only_the_missing_sheets(storage, ada):
    principal, workspace_id = ada
    upload_id = workbook_upload(storage, principal)
    reporter = FakeReporter()
    first = imports.import_upload(storage, principal, upload_id, workspace_id=workspace_id, name="Sales – north",
                                  sheet="north", keep_upload=True)
    # The worker died after committing the first sheet and noting it.
    reporter.state = {"sheets": {"0": {"id": first["id"], "name": first["name"], "rows": first["rows"], "notes": []}}}
    result = imports.import_sheets(storage, principal, params(upload_id, workspace_id), reporter)
    assert [d["id"] for d in result["datasets"]][0] == first["id"]
    names = sorted(d.name for d in storage.datasets.list(principal, workspace_id))
    assert names == ["Sales – north", "Sales – south"]  # no second "north"
    assert sorted(reporter.state["sheets"]) == ["0", "1"]


@pytest.mark.parametrize("sheets", [[], ["a"] * 2, ["x" * 201], list(map(str, range(101))), "north", [3]])
def test_sheet_lists_are_bounded(sheets):
    with pytest.raises(InvalidInput):
        imports.check_sheets(sheets)
