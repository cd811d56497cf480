"""File formats, containers and encodings: what storage.sources.prepare makes of an
upload, checked end to end (prepare -> inspect -> write_parquet -> read back), and the
message a person gets for each kind of bad file, with no temp file left behind."""
from __future__ import annotations

import codecs
import datetime as dt
import gzip
import io
import json
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import openpyxl
import pytest

from storage.errors import IngestError
from storage.ingest import Inspection, default_plan, inspect, write_parquet
from storage.sources import list_sheets, prepare

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CAP = 50 * 1024 * 1024


@dataclass
class Ingested:
    inspection: Inspection
    format: str
    columns: list[str]
    types: dict[str, str]  # logical types from the written schema
    records: list[tuple]


def upload(tmp_path: Path, data: bytes) -> Path:
    """Uploads are stored under a name of our own (uploads/<uuid>.part), never the
    person's file name: the readers must not depend on the extension of the path."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "upload.part"
    path.write_bytes(data)
    return path


def ingest(tmp_path: Path, data: bytes | Path, filename: str, sheet: str | None = None) -> Ingested:
    path = upload(tmp_path, data.read_bytes() if isinstance(data, Path) else data)
    work = tmp_path / "work"
    source = prepare(path, filename, work, CAP, sheet)
    try:
        inspection = inspect(source, work)
        dest = tmp_path / "out.parquet"
        _, schema = write_parquet(source, inspection, default_plan(inspection), dest, work)
        fmt = source.format
    finally:
        source.cleanup()
    assert_no_temp_files(work)
    con = duckdb.connect()
    try:
        result = con.execute("SELECT * FROM read_parquet(?)", [str(dest)])
        columns = [d[0] for d in result.description]
        records = result.fetchall()
    finally:
        con.close()
    return Ingested(inspection, fmt, columns, {c["name"]: c["type"] for c in schema}, records)


def refused(tmp_path: Path, data: bytes, filename: str, sheet: str | None = None, cap: int = CAP) -> str:
    """The IngestError message for an upload that prepare or inspect turns down."""
    path = upload(tmp_path, data)
    work = tmp_path / "work"
    with pytest.raises(IngestError) as caught:
        source = prepare(path, filename, work, cap, sheet)
        try:
            inspect(source, work)
        finally:
            source.cleanup()
    assert_no_temp_files(work)
    return caught.value.message


def assert_no_temp_files(work: Path) -> None:
    leftovers = sorted(p.name for p in work.rglob("*")) if work.exists() else []
    assert leftovers == [], f"temp files left behind: {leftovers}"


# --- delimited text ------------------------------------------------------------------------

PRODUCTS = [("1", "Tea, green", "2.5"), ("2", "Coffee", "3.75"), ("3", "Cocoa", "4")]


@pytest.mark.parametrize(("delimiter", "filename"), [
    (",", "products.csv"), ("\t", "products.tsv"), (";", "products.csv"), ("|", "products.txt"),
])
def test_delimited_text(tmp_path, delimiter, filename):
    lines = [delimiter.join(("id", "name", "price"))]
    for row in PRODUCTS:
        lines.append(delimiter.join(f'"{v}"' if delimiter in v or "," in v else v for v in row))
    result = ingest(tmp_path, ("\n".join(lines) + "\n").encode(), filename)
    assert result.inspection.csv_options["delimiter"] == delimiter
    assert result.columns == ["id", "name", "price"]
    assert result.types == {"id": "integer", "name": "text", "price": "float"}
    assert result.records == [(1, "Tea, green", 2.5), (2, "Coffee", 3.75), (3, "Cocoa", 4.0)]


ACCENTED = "city,price\nZürich,1\nCafé € Paris,2\n"


@pytest.mark.parametrize("bom", [b"", codecs.BOM_UTF8])
def test_utf8_with_and_without_byte_order_mark(tmp_path, bom):
    result = ingest(tmp_path, bom + ACCENTED.encode("utf-8"), "cities.csv")
    assert result.columns == ["city", "price"]  # no BOM glued to the first name
    assert result.records == [("Zürich", 1), ("Café € Paris", 2)]
    assert result.inspection.notes == []


def test_utf16_little_endian_with_bom(tmp_path):
    data = codecs.BOM_UTF16_LE + ACCENTED.encode("utf-16-le")
    result = ingest(tmp_path, data, "cities.csv")
    assert result.columns == ["city", "price"]
    assert result.records == [("Zürich", 1), ("Café € Paris", 2)]
    assert result.inspection.notes == ["Decoded from UTF-16"]


def test_windows_1252(tmp_path):
    result = ingest(tmp_path, ACCENTED.encode("cp1252"), "cities.csv")
    assert result.records == [("Zürich", 1), ("Café € Paris", 2)]
    assert result.inspection.notes == ["Decoded from Windows-1252 (Latin-1)"]


def test_utf8_with_a_damaged_byte_in_the_first_megabyte_stays_utf8(tmp_path):
    # One bad byte must not turn every é of a UTF-8 file into Ã©.
    data = "name\nCafé\nZoë\n".encode() + b"Bad \xff byte\n"
    result = ingest(tmp_path, data, "names.csv")
    assert [r[0] for r in result.records] == ["Café", "Zoë", "Bad \ufffd byte"]
    assert any("replaced with \ufffd" in note for note in result.inspection.notes)


# --- compressed files ---------------------------------------------------------------------

SIMPLE_CSV = b"id,name\n1,alpha\n2,beta\n"


def test_gzip_csv(tmp_path):
    result = ingest(tmp_path, gzip.compress(SIMPLE_CSV), "data.csv.gz")
    assert result.format == "csv.gz"
    assert result.records == [(1, "alpha"), (2, "beta")]


def test_zip_with_one_csv(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("export/data.csv", SIMPLE_CSV)
        archive.writestr("__MACOSX/export/._data.csv", b"resource fork")  # ignored, as macOS adds it
    result = ingest(tmp_path, buffer.getvalue(), "export.zip")
    assert result.format == "zip/csv"
    assert result.records == [(1, "alpha"), (2, "beta")]


def test_zip_with_two_files_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", SIMPLE_CSV)
        archive.writestr("b.csv", SIMPLE_CSV)
    message = refused(tmp_path, buffer.getvalue(), "two.zip")
    assert "holds 2 files" in message and "one file at a time" in message


def bomb_content() -> bytes:
    return b"n\n" + b"0\n" * 1_000_000  # 2 MB that deflates to a few KB


def test_zip_bomb_is_stopped_at_the_cap(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb.csv", bomb_content())
    assert len(buffer.getvalue()) < 20_000
    message = refused(tmp_path, buffer.getvalue(), "bomb.zip", cap=256 * 1024)
    assert message.startswith("The zip file bomb.zip expands to more than 256 KB when decompressed")
    assert "over the limit" in message


def test_gzip_bomb_is_stopped_at_the_cap(tmp_path):
    message = refused(tmp_path, gzip.compress(bomb_content()), "bomb.csv.gz", cap=1024 * 1024)
    assert message.startswith("The gzip file bomb.csv.gz expands to more than 1 MB when decompressed")


def test_truncated_gzip(tmp_path):
    data = gzip.compress(b"id,name\n" + b"".join(b"%d,row %d\n" % (i, i) for i in range(20_000)))
    message = refused(tmp_path, data[: len(data) // 2], "cut.csv.gz")
    assert message == "cut.csv.gz is not a readable gzip file (it may be cut short or corrupt)"


def test_gzip_inside_gzip_is_refused(tmp_path):
    message = refused(tmp_path, gzip.compress(gzip.compress(SIMPLE_CSV)), "twice.csv.gz.gz")
    assert "Compressed files inside compressed files" in message


# --- Excel -------------------------------------------------------------------------------


def two_sheet_workbook() -> bytes:
    workbook = openpyxl.Workbook()
    orders = workbook.active
    orders.title = "Orders"
    orders.append(["Order", "Day", "Placed at", "Amount", "Paid", "Customer"])
    orders.append([1, dt.date(2024, 1, 31), dt.datetime(2024, 1, 31, 9, 30, 5), 12.5, True, "Zoë"])
    orders.append([2, dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 17, 0, 0), 3, False, "Café"])
    orders.append([None, None, None, None, None, None])  # trailing blank rows, as sheets often have
    for row in (2, 3):
        orders.cell(row, 2).number_format = "dd/mm/yyyy"
        orders.cell(row, 3).number_format = "yyyy-mm-dd hh:mm:ss"
    stores = workbook.create_sheet("Stores")
    stores.append(["Store", "City"])
    stores.append([7, "Lyon"])
    stores.append([8, "Graz"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_xlsx_with_two_sheets(tmp_path):
    data = two_sheet_workbook()
    assert list_sheets(upload(tmp_path, data), "book.xlsx") == ["Orders", "Stores"]

    first = ingest(tmp_path / "first", data, "book.xlsx")  # no sheet: the first one
    assert first.format == "xlsx" and first.inspection.sheet == "Orders"
    assert first.columns == ["Order", "Day", "Placed at", "Amount", "Paid", "Customer"]
    assert first.types == {"Order": "integer", "Day": "date", "Placed at": "timestamp", "Amount": "float",
                           "Paid": "boolean", "Customer": "text"}
    assert first.records == [
        (1, dt.date(2024, 1, 31), dt.datetime(2024, 1, 31, 9, 30, 5), 12.5, True, "Zoë"),
        (2, dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 17, 0, 0), 3.0, False, "Café"),
    ]

    second = ingest(tmp_path / "second", data, "book.xlsx", sheet="Stores")
    assert second.inspection.sheet == "Stores"
    assert second.records == [(7, "Lyon"), (8, "Graz")]


def test_xlsx_missing_sheet(tmp_path):
    assert refused(tmp_path, two_sheet_workbook(), "book.xlsx", sheet="Nope") == "book.xlsx has no sheet named 'Nope'"


def test_xls_legacy_workbook(tmp_path):
    # Generated once with xlwt (tests/fixtures/excel/make_sales_xls.py): nothing in the
    # project writes .xls, so the library is not a dependency.
    data = (FIXTURES / "excel" / "sales.xls").read_bytes()
    assert list_sheets(upload(tmp_path, data), "sales.xls") == ["Sales", "Stores"]
    sales = ingest(tmp_path / "sales", data, "sales.xls")
    assert sales.format == "xls"
    assert sales.types == {"Day": "date", "Sold at": "timestamp", "Amount": "float", "Paid": "boolean",
                           "Customer": "text"}
    assert sales.records == [
        (dt.date(2024, 1, 2), dt.datetime(2024, 1, 2, 9, 30), 12.5, True, "Zoë"),
        (dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 17, 5, 10), 3.0, False, "Café €"),
    ]
    stores = ingest(tmp_path / "stores", data, "sales.xls", sheet="Stores")
    assert stores.records == [(7, "Lyon")]


def test_xls_renamed_xlsx_is_read_as_what_it_is(tmp_path):
    result = ingest(tmp_path, FIXTURES / "excel" / "sales.xls", "sales.xlsx")
    assert result.format == "xls" and len(result.records) == 2


def test_xlsx_that_is_not_a_zip(tmp_path):
    message = refused(tmp_path, b"Name,Amount\nA,1\n", "report.xlsx")
    assert message == "report.xlsx is named like an Excel workbook but is not one (it is not a zip file)"


def test_corrupt_xlsx(tmp_path):
    data = two_sheet_workbook()
    message = refused(tmp_path, data[: len(data) // 2], "report.xlsx")
    assert message == "report.xlsx could not be read as an Excel workbook (it may be cut short or corrupt)"


def test_encrypted_workbook(tmp_path):
    # Excel saves a password-protected .xlsx as an OLE2 container (not a zip).
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096)
    message = refused(tmp_path, data, "secret.xlsx")
    assert message == "secret.xlsx is password-protected; save it without a password and upload it again"
    with pytest.raises(IngestError, match="password-protected"):
        list_sheets(upload(tmp_path, data), "secret.xlsx")


def test_encrypted_package_is_recognised_whatever_the_name(tmp_path):
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + "EncryptedPackage".encode("utf-16-le") + bytes(1024)
    assert "password-protected" in refused(tmp_path, data, "secret.xls")


def test_xls_that_is_not_a_workbook(tmp_path):
    message = refused(tmp_path, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4096), "old.xls")
    assert message.startswith("old.xls could not be read as an Excel workbook")


# --- JSON and Parquet --------------------------------------------------------------------


def test_json_array_of_records(tmp_path):
    data = json.dumps([
        {"id": 1, "name": "alpha", "score": 1.5, "active": True},
        {"id": 2, "name": "beta", "score": None, "active": False},
    ]).encode()
    result = ingest(tmp_path, data, "records.json")
    assert result.format == "json"
    assert result.types == {"id": "integer", "name": "text", "score": "float", "active": "boolean"}
    assert result.records == [(1, "alpha", 1.5, True), (2, "beta", None, False)]


def test_ndjson_sparkify_log(tmp_path):
    result = ingest(tmp_path, FIXTURES / "events-sparkify" / "2018-11-01-events.json", "2018-11-01-events.json")
    assert len(result.records) == 15
    assert len(result.columns) == 18
    assert result.columns[:3] == ["artist", "auth", "firstName"]
    assert result.types["itemInSession"] == "integer"
    assert result.types["length"] == "float"
    assert result.types["ts"] == "integer"
    first = dict(zip(result.columns, result.records[0]))
    assert first["firstName"] == "Walter" and first["page"] == "Home" and first["ts"] == 1541105830796
    assert first["artist"] is None
    assert sorted({dict(zip(result.columns, r))["page"] for r in result.records}) == ["Home", "NextSong", "Upgrade"]


def test_nested_objects_become_dotted_columns(tmp_path):
    data = b"\n".join(json.dumps(record).encode() for record in [
        {"id": 1, "user": {"name": "Ann", "address": {"city": "Oslo"}}, "tags": ["a", "b"]},
        {"id": 2, "user": {"name": "Bo", "address": {"city": "Rome"}}, "tags": []},
    ])
    result = ingest(tmp_path, data, "users.ndjson")
    assert result.columns == ["id", "user.name", "user.address.city", "tags"]
    assert result.records == [(1, "Ann", "Oslo", '["a","b"]'), (2, "Bo", "Rome", "[]")]


def test_json_with_a_list_of_objects_inside_one_object(tmp_path):
    """An API answer like {"meta": ..., "data": [records]} reads as its records."""
    data = json.dumps({"meta": {"page": 1}, "data": [{"a": 1, "b": {"c": "x"}}, {"a": 2, "b": {"c": "y"}}]})
    result = ingest(tmp_path, data.encode(), "wrapped.json")
    assert result.columns == ["a", "b.c"] and result.records == [(1, "x"), (2, "y")]
    assert any("'data' list" in note for note in result.inspection.notes)


def test_json_object_with_two_lists_reads_the_one_named_like_records(tmp_path):
    data = json.dumps({"links": [{"href": "/a"}], "results": [{"n": 1}, {"n": 2}, {"n": 3}]})
    result = ingest(tmp_path, data.encode(), "wrapped.json")
    assert result.columns == ["n"] and result.records == [(1,), (2,), (3,)]


def test_one_json_object_without_a_list_of_records_is_one_row(tmp_path):
    result = ingest(tmp_path, b'{"a": 1, "tags": [1, 2]}', "one.json")
    assert result.columns == ["a", "tags"] and result.records == [(1, "[1,2]")]


@pytest.mark.parametrize(("data", "expected"), [
    (b"42", "The JSON is not a table"),
    (b'"hello"', "The JSON is not a table"),
    (b"[1, 2, 3]", "The JSON is not a table"),
    (b"[]", "The JSON is not a table"),
    (b'{"a": [1, 2', "The file is not valid JSON"),
])
def test_json_that_is_not_tabular(tmp_path, data, expected):
    message = refused(tmp_path, data, "values.json")
    assert message.startswith(expected)
    assert str(tmp_path) not in message  # no server paths in messages


def test_parquet_input(tmp_path):
    source_file = tmp_path / "input.parquet"
    con = duckdb.connect()
    con.execute(
        "COPY (SELECT * FROM (VALUES (1, 2.5, 'x', DATE '2024-01-02', TIMESTAMP '2024-01-02 03:04:05', "
        "{'k': 1, 'inner': {'n': 'deep'}}, [1, 2], true)) t(i, f, s, d, ts, st, l, b)) "
        f"TO '{source_file}' (FORMAT parquet)"
    )
    con.close()
    result = ingest(tmp_path, source_file, "input.parquet")
    assert result.format == "parquet"
    assert result.columns == ["i", "f", "s", "d", "ts", "st.k", "st.inner.n", "l", "b"]
    assert result.types == {"i": "integer", "f": "float", "s": "text", "d": "date", "ts": "timestamp",
                            "st.k": "integer", "st.inner.n": "text", "l": "text", "b": "boolean"}
    assert result.records == [(1, 2.5, "x", dt.date(2024, 1, 2), dt.datetime(2024, 1, 2, 3, 4, 5), 1, "deep",
                               "[1,2]", True)]


def test_parquet_cut_short(tmp_path):
    message = refused(tmp_path, b"PAR1" + bytes(100), "broken.parquet")
    assert message == "broken.parquet is not a readable Parquet file (it may be cut short or corrupt)"


# --- files that are not data ---------------------------------------------------------------


def test_empty_file(tmp_path):
    assert refused(tmp_path, b"", "empty.csv") == "The file is empty"


def test_blank_file(tmp_path):
    assert refused(tmp_path, b"  \r\n\n \n", "blank.csv") == "The file is empty"


@pytest.mark.parametrize("data", [
    random.Random(7).randbytes(20_000),
    b"\x7fELF" + bytes(2_000),
])
def test_binary_garbage_named_csv(tmp_path, data):
    message = refused(tmp_path, data, "data.csv")
    assert message == "The file is not text: it looks like binary data. Upload CSV, Excel, JSON or Parquet"


def test_an_image_named_csv_is_called_an_image(tmp_path):
    message = refused(tmp_path, b"\x89PNG\r\n\x1a\n" + random.Random(8).randbytes(5_000), "data.csv")
    assert message.startswith("This is an image (PNG), not a table.")


def test_source_cleanup_removes_its_temp_files(tmp_path):
    work = tmp_path / "work"
    source = prepare(upload(tmp_path, gzip.compress(ACCENTED.encode("cp1252"))), "c.csv.gz", work, CAP)
    assert len(source.temp_files) == 2 and all(p.exists() for p in source.temp_files)  # gunzipped, decoded
    source.cleanup()
    assert_no_temp_files(work)


def test_sample_files_in_the_fixtures_are_unchanged():
    # The CRLF endings are part of what the csv-spectrum and vgsales cases test.
    assert b"\r\n" in (FIXTURES / "csv-spectrum" / "csvs" / "newlines_crlf.csv").read_bytes()
    assert (FIXTURES / "vgsales.csv").read_bytes().count(b"\r\n") == 16_599
