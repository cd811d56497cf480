"""Exports say what they hold (issue 12, point 5): a table widget over more rows than a
widget query returns (12,000 and 336,776 generated rows) exported through the API. The
Excel and CSV files hold every row after the filters, the PDF shows its first page of
rows with the true count and stays a few pages long, the HTML page and the download's
X-Report-Rows header give the true counts, and histogram sheets carry each bin's bounds."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import urllib.parse

import duckdb
import pytest
from openpyxl import load_workbook

from tests.conftest import bearer

CARRIERS = ["AA", "B6", "DL", "UA", "WN", "EV", "MQ", "9E"]


def flights(path, rows: int):
    """``rows`` flights: id, carrier (8, cycling), dep_delay (-20..279), time_hour (a minute
    apart), a text that looks like a formula every 1,000th row."""
    carriers = "[" + ", ".join(f"'{c}'" for c in CARRIERS) + "]"
    duckdb.sql(f"""COPY (SELECT i + 1 AS id, {carriers}[(i % 8) + 1] AS carrier, (i % 300) - 20 AS dep_delay,
                         TIMESTAMP '2013-01-01' + INTERVAL (i) MINUTE AS time_hour,
                         CASE WHEN i % 1000 = 0 THEN '=1+1' ELSE 'ok' END AS note
                  FROM range({rows}) t(i)) TO '{path}' (FORMAT parquet)""")
    return path


def upload(client, token, path) -> dict:
    response = client.post("/api/v1/datasets", data={"file": (io.BytesIO(path.read_bytes()), path.name)},
                           headers=bearer(token))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def dashboard(client, token, dataset, columns=None) -> dict:
    table = {"type": "table", "dataset_id": dataset["id"], "title": "All flights", "sort": "id"}
    if columns:
        table["columns"] = columns
    response = client.post("/api/v1/dashboards", headers=bearer(token), json={
        "name": "Flights", "widgets": [
            {"id": "t", "spec": table, "layout": {"x": 0, "y": 0, "w": 12, "h": 6}},
            {"id": "h", "spec": {"type": "histogram", "dataset_id": dataset["id"], "title": "Delays",
                                 "x": "dep_delay"}, "layout": {"x": 0, "y": 6, "w": 12, "h": 4}}],
        "filters": [{"id": "carrier", "column": "carrier", "kind": "multi_select", "value": None}]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def export(client, token, board, **params):
    response = client.get(f"/api/v1/dashboards/{board['id']}/export?" + urllib.parse.urlencode(params),
                          headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response


def pdf_pages(content: bytes, tmp_path) -> list[str]:
    path = tmp_path / "report.pdf"
    path.write_bytes(content)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    count = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    pages = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    pages = pages.split("\f")[:-1]
    assert len(pages) == count
    return pages


def sheet_rows(content: bytes, name: str) -> list[tuple]:
    book = load_workbook(io.BytesIO(content), read_only=True)
    try:
        return list(book[name].iter_rows(values_only=True))
    finally:
        book.close()


@pytest.fixture
def board12k(client, ada, tmp_path):
    return dashboard(client, ada, upload(client, ada, flights(tmp_path / "flights12k.parquet", 12_000)))


def test_12000_rows_every_file_holds_or_states_the_true_count(client, ada, board12k, tmp_path):
    filters = json.dumps({"carrier": ["AA", "DL", "UA"]})  # 3 of 8 carriers: 4,500 of 12,000 rows
    unfiltered = export(client, ada, board12k, format="xlsx")
    rows = sheet_rows(unfiltered.data, "All flights")
    assert rows[0] == ("id", "carrier", "dep_delay", "time_hour", "note")
    assert len(rows) == 12_001 and [r[0] for r in rows[1:]] == list(range(1, 12_001))
    assert rows[1][3].isoformat() == "2013-01-01T00:00:00" and rows[-1][2] == (11_999 % 300) - 20
    assert rows[1][4] == "'=1+1" and rows[2][4] == "ok"  # formulas neutralised in the stream too
    assert json.loads(unfiltered.headers["X-Report-Rows"])[0] == {"widget": "t", "rows": 12_000, "in_file": 12_000}
    summary = sheet_rows(unfiltered.data, "Summary")
    assert ("All flights", "All flights", "Overview", 12_000, 12_000) in summary

    filtered = export(client, ada, board12k, format="xlsx", filters=filters)
    rows = sheet_rows(filtered.data, "All flights")
    assert len(rows) == 1 + 4_500 and {r[1] for r in rows[1:]} == {"AA", "DL", "UA"}

    csv_file = export(client, ada, board12k, format="csv", widget="t", filters=filters)
    lines = list(csv.reader(io.StringIO(csv_file.data.decode("utf-8-sig"))))
    assert len(lines) == 1 + 4_500 and lines[1] == ["1", "AA", "-20", "2013-01-01T00:00:00", "'=1+1"]

    archive = export(client, ada, board12k, format="zip")
    import zipfile

    member = zipfile.ZipFile(io.BytesIO(archive.data)).read("Overview/All_flights.csv").decode("utf-8-sig")
    assert len(member.splitlines()) == 12_001

    pdf = export(client, ada, board12k, format="pdf")
    pages = pdf_pages(pdf.data, tmp_path)
    assert len(pages) == int(pdf.headers["X-Report-Pages"]) <= 3
    words = " ".join(" ".join(pages).split())
    assert "Showing the first 40 of 12,000 rows in this PDF; the Excel and CSV files hold all of them." in words

    page = export(client, ada, board12k, format="html").data.decode("utf-8")
    assert "Showing the first 10,000 of 12,000 rows on this page; the Excel and CSV files hold all of them." in page


def test_histogram_sheet_has_each_bins_bounds_and_count(client, ada, board12k, app_storage, admin):
    rows = sheet_rows(export(client, ada, board12k, format="xlsx").data, "Delays")
    assert rows[0] == ("dep_delay from", "dep_delay to", "Count")
    bins = rows[1:]
    assert sum(r[2] for r in bins) == 12_000
    assert bins[0][0] <= -20 and bins[-1][1] >= 279  # the data's range, whatever the binning
    assert all(lo <= hi for lo, hi, _ in bins) and all(a[1] <= b[0] for a, b in zip(bins, bins[1:]))
    # The bounds are the chart's own: the trace's customdata, bar for bar.
    output = app_storage.dashboard_views.render_widgets(admin.principal(), board12k, [board12k["widgets"][1]])["h"]
    trace = output["figure"]["data"][0]
    assert [[lo, hi] for lo, hi, _ in bins] == [list(b) for b in trace["customdata"]]
    assert [n for _, _, n in bins] == list(trace["y"])


def test_336776_rows_excel_and_csv_hold_them_all_and_the_pdf_is_short(client, ada, tmp_path):
    """The table of the issue: 336,776 rows (nycflights13's flights), two columns so that
    reading the workbook back stays quick."""
    dataset = upload(client, ada, flights(tmp_path / "flights.parquet", 336_776))
    board = dashboard(client, ada, dataset, columns=["id", "carrier"])
    xlsx = export(client, ada, board, format="xlsx")
    rows = sheet_rows(xlsx.data, "All flights")
    assert len(rows) == 1 + 336_776 and rows[-1] == (336_776, CARRIERS[336_775 % 8])
    csv_file = export(client, ada, board, format="csv", widget="t")
    assert csv_file.data.decode("utf-8-sig").count("\r\n") == 1 + 336_776
    pdf = export(client, ada, board, format="pdf")
    pages = pdf_pages(pdf.data, tmp_path)
    assert len(pages) <= 3
    words = " ".join(" ".join(pages).split())
    assert "Showing the first 40 of 336,776 rows in this PDF" in words
    assert "10,000" not in words and "500 of" not in words  # never the row cap as if it were the count


def test_another_user_gets_no_rows(client, ada, bob, board12k):
    for fmt in ("xlsx", "pdf"):
        assert client.get(f"/api/v1/dashboards/{board12k['id']}/export?format={fmt}",
                          headers=bearer(bob)).status_code == 404
    response = client.get(f"/api/v1/dashboards/{board12k['id']}/export?format=csv&widget=t", headers=bearer(bob))
    assert response.status_code == 404 and b"ORD" not in response.data and b"AA" not in response.data
