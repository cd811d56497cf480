"""Issue 18, point 4: no text reaches a spreadsheet cell as a formula, in any export.

A dataset whose column names and values, and a dashboard whose name, description, tab,
widget titles (so sheet names), filter label and values all start with a formula trigger
(= + - @ tab CR, and the DDE classic ``=cmd|' /C calc'!A0``), is exported through every
path of the API: the dataset as CSV and Excel, the dashboard as Excel, ZIP of CSVs and one
widget's CSV (signed in, through a public link, and as a background job), the dataset's
profile as Excel and ZIP, and a scheduled mail's attachment. Each file is opened the way
a spreadsheet would: no cell is a formula, no text starts with a trigger unless it was
given the leading apostrophe, and numbers (negative ones included) stay numbers."""
from __future__ import annotations

import csv
import io
import json
import re
import time
import urllib.parse
import zipfile

import openpyxl
import pytest

from tests.conftest import bearer, wait_export_job
from tests.smtp_server import RecordingMailer

DDE = "=cmd|' /C calc'!A0"
TRIGGER = re.compile(r"^[=+\-@\t\r]")
NUMBER = re.compile(r"^[+-]?[$€£¥]?\.?\d[\d.,  ]*([eE][+-]?\d+)?%?$")  # a number written as text
# Column names: ingest turns tabs and line breaks in names into spaces, so those two
# triggers are tried on values and titles instead.
COLUMNS = [DDE, "+plus", "-minus", "@at", "amount", "label"]
ROWS = [
    [DDE, "+1+1", "-2+3", "@SUM(A1)", -5, "\tTab"],
    ["=1+1", "+A1", "-A1", "@A1", 3.5, "\rReturn"],
    ["plain", "ok", "-minus", "fine", -12.25, "=HYPERLINK(\"http://x\",\"y\")"],
    [DDE, "ok", "-minus", "fine", 7, "-3"],
]
TITLES = {"name": "=HYPERLINK(\"http://x\",\"board\")", "description": "+SUM(1,2)", "tab": "-tab",
          "table": DDE, "bar": "@bar", "kpi": "\tkpi", "filter": "=filter"}


def dataset_csv() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows(ROWS)
    return out.getvalue().encode("utf-8")


@pytest.fixture
def tricky(client, ada):
    response = client.post("/api/v1/datasets", data={"file": (io.BytesIO(dataset_csv()), "tricky.csv")},
                           headers=bearer(ada))
    assert response.status_code == 201, response.get_json()
    dataset = response.get_json()
    assert [c["name"] for c in dataset["columns"]] == COLUMNS, dataset["columns"]
    board = client.post("/api/v1/dashboards", headers=bearer(ada), json={
        "name": TITLES["name"], "description": TITLES["description"],
        "tabs": [{"id": "t", "title": TITLES["tab"]}],
        "widgets": [
            {"id": "table", "tab": "t", "spec": {"type": "table", "dataset_id": dataset["id"], "title": TITLES["table"],
                                                  "columns": COLUMNS}},
            {"id": "bar", "tab": "t", "spec": {"type": "bar", "dataset_id": dataset["id"], "title": TITLES["bar"],
                                                "x": DDE, "y": "amount", "agg": "sum"}},
            {"id": "kpi", "tab": "t", "spec": {"type": "kpi", "dataset_id": dataset["id"], "title": TITLES["kpi"],
                                                "y": "amount", "agg": "sum"}}],
        "filters": [{"id": "f", "column": "-minus", "kind": "multi_select", "value": None,
                     "label": TITLES["filter"]}]})
    assert board.status_code == 201, board.get_json()
    return {"dataset": dataset, "board": board.get_json()}


def is_safe_text(text: str) -> bool:
    return not TRIGGER.match(text) or bool(NUMBER.match(text))


def check_xlsx(content: bytes, where: str) -> dict:
    """Every cell and sheet name of the workbook; returns {sheet: rows}."""
    book = openpyxl.load_workbook(io.BytesIO(content))
    sheets = {}
    for sheet in book.worksheets:
        assert not TRIGGER.match(sheet.title), (where, sheet.title)
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (where, sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert is_safe_text(cell.value), (where, sheet.title, cell.coordinate, cell.value)
        sheets[sheet.title] = [list(r) for r in sheet.iter_rows(values_only=True)]
    return sheets


def check_csv(content: bytes, where: str) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    for row in rows:
        for field in row:
            assert is_safe_text(field), (where, field)
    return rows


def check_zip(content: bytes, where: str) -> None:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            check_csv(archive.read(name), f"{where} {name}")


def check_file(content: bytes, fmt: str, where: str) -> None:
    (check_xlsx if fmt == "xlsx" else check_zip)(content, f"{where} {fmt}")


NEUTRAL_COLUMNS = ["'" + DDE, "'+plus", "'-minus", "'@at", "amount", "label"]


def test_dataset_exports_neutralise_headers_and_values(client, ada, tricky):
    base = f"/api/v1/datasets/{tricky['dataset']['id']}/export?format="
    rows = check_csv(client.get(base + "csv", headers=bearer(ada)).data, "dataset csv")
    assert rows[0] == NEUTRAL_COLUMNS
    assert rows[1] == ["'" + DDE, "'+1+1", "'-2+3", "'@SUM(A1)", "-5.0", "'\tTab"]
    assert rows[3][4] == "-12.25" and rows[4][5] == "-3"  # numbers, and text that is a number, stay as they are
    sheets = check_xlsx(client.get(base + "xlsx", headers=bearer(ada)).data, "dataset xlsx")
    (rows,) = sheets.values()
    assert rows[0] == NEUTRAL_COLUMNS
    assert rows[1][:5] == ["'" + DDE, "'+1+1", "'-2+3", "'@SUM(A1)", -5]  # -5 is a number cell
    assert rows[3][4] == -12.25


def test_dashboard_exports_neutralise_every_cell(client, ada, tricky):
    board = tricky["board"]
    view = {"filters": json.dumps({"f": ["-minus", "-A1"]})}
    base = f"/api/v1/dashboards/{board['id']}/export?"

    def get(**params):
        response = client.get(base + urllib.parse.urlencode({**view, **params}), headers=bearer(ada))
        assert response.status_code == 200, (params, response.get_json())
        return response.data

    sheets = check_xlsx(get(format="xlsx"), "dashboard xlsx")
    summary = sheets["Summary"]
    assert summary[0][0] == "'" + TITLES["name"] and summary[1][0] == "'" + TITLES["description"]
    assert ["Filter", "'=filter: -minus, -A1"] in [r[:2] for r in summary]
    assert any(r[1] == "'" + DDE and r[2] == "'-tab" for r in summary)  # the sheet list: widget and tab titles
    assert list(sheets) == ["Summary", "_=cmd|' _C calc'!A0", "_@bar", "kpi"]  # "/" is not allowed; titles are trimmed on save
    table = sheets["_=cmd|' _C calc'!A0"]
    assert table[0] == NEUTRAL_COLUMNS
    assert sorted(r[4] for r in table[1:]) == [-12.25, 3.5, 7]  # the filter's rows; amounts are number cells
    bar = sheets["_@bar"]
    assert bar[0][0] == "'" + DDE
    assert check_csv(get(format="csv", widget="table"), "widget csv")[0] == NEUTRAL_COLUMNS
    check_zip(get(format="zip"), "zip")


def test_public_link_and_background_job_files_are_neutralised(client, ada, tricky):
    board = tricky["board"]
    token = client.post(f"/api/v1/dashboards/{board['id']}/share", headers=bearer(ada)).get_json()["token"]
    client.put(f"/api/v1/dashboards/{board['id']}/share/export", json={"allow_export": True}, headers=bearer(ada))
    check_xlsx(client.get(f"/public/exports/dashboards/{token}?format=xlsx").data, "public xlsx")
    assert check_csv(client.get(f"/public/exports/dashboards/{token}?format=csv&widget=table").data,
                     "public csv")[0] == NEUTRAL_COLUMNS
    for fmt in ("xlsx", "zip"):
        started = client.post(f"/api/v1/dashboards/{board['id']}/export/jobs", json={"format": fmt},
                              headers=bearer(ada))
        job_id = started.get_json()["job_id"]
        job = wait_export_job(client, ada, job_id)
        assert job["status"] == "done", job
        check_file(client.get(f"/api/v1/reports/{job_id}/file", headers=bearer(ada)).data, fmt, "job")


def test_profile_exports_are_neutralised(client, ada, tricky):
    dataset_id = tricky["dataset"]["id"]
    for _ in range(300):
        profile = client.get(f"/api/v1/datasets/{dataset_id}/profile", headers=bearer(ada)).get_json()
        if profile["status"] not in ("queued", "running"):
            break
        time.sleep(0.1)
    assert profile["status"] == "ready", profile
    response = client.get(f"/api/v1/datasets/{dataset_id}/profile/export?format=xlsx", headers=bearer(ada))
    assert response.status_code == 200, response.get_json()
    cells = [v for rows in check_xlsx(response.data, "profile xlsx").values() for r in rows for v in r]
    assert "'" + DDE in cells
    response = client.get(f"/api/v1/datasets/{dataset_id}/profile/export?format=zip", headers=bearer(ada))
    check_zip(response.data, "profile zip")


@pytest.mark.parametrize("fmt", ["xlsx", "zip"])
def test_scheduled_files_are_neutralised(client, ada, app_storage, tricky, fmt):
    mailer = app_storage.schedules.mailer = RecordingMailer()
    board = tricky["board"]
    made = client.post(f"/api/v1/dashboards/{board['id']}/schedules", headers=bearer(ada), json={
        "frequency": "daily", "time": "08:00", "timezone": "UTC", "recipients": ["ada@example.com"], "format": fmt,
        "filters": {"f": ["-minus"]}})
    assert made.status_code == 201, made.get_json()
    schedule_id = made.get_json()["id"]
    assert client.post(f"/api/v1/schedules/{schedule_id}/send", headers=bearer(ada)).status_code == 201
    for _ in range(300):
        run = client.get(f"/api/v1/schedules/{schedule_id}", headers=bearer(ada)).get_json()["runs"][0]
        if run["status"] != "running":
            break
        time.sleep(0.1)
    assert run["status"] == "sent", run
    (_name, _mimetype, content) = mailer.sent[0]["attachment"]
    check_file(content, fmt, "scheduled")
