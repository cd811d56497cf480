"""storage.ingest: what inspect proposes and what write_parquet writes, checked on the
values read back from the Parquet file: the csv-spectrum suite, types and date orders,
names, plans, and the awkward files people upload (ragged rows, stray quotes, mixed
types, very wide or very long lines, bad bytes past the first megabyte)."""
from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from storage.errors import IngestError
from storage.ingest import ColumnPlan, Inspection, default_plan, inspect, write_parquet
from storage.sources import SNIFF_BYTES, prepare

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
SPECTRUM = FIXTURES / "csv-spectrum"
ONLINE_RETAIL = ROOT / "data" / "samples" / "online-retail.csv.gz"
CAP = 200 * 1024 * 1024


@dataclass
class Ingested:
    inspection: Inspection
    rows: int
    schema: list[dict]
    columns: list[str]
    storage_types: list[str]
    records: list[tuple]

    @property
    def types(self) -> dict[str, str]:
        return {c["name"]: c["type"] for c in self.schema}

    def column(self, name: str) -> list:
        index = self.columns.index(name)
        return [record[index] for record in self.records]


def ingest(tmp_path: Path, data: bytes | Path, filename: str = "data.csv", plans=None, user_typed=None,
           choices: dict | None = None) -> Ingested:
    """prepare -> inspect -> write_parquet -> read back. ``plans`` maps the inspection
    to the plans to write (default: what inspect proposes); ``choices`` are the reading
    options (see ingest.read_options)."""
    if isinstance(data, bytes):
        path = tmp_path / "upload.part"
        path.write_bytes(data)
    else:
        path = data
    work = tmp_path / "work"
    source = prepare(path, filename, work, CAP, encoding=(choices or {}).get("encoding"))
    try:
        inspection = inspect(source, work, choices)
        chosen = plans(inspection) if plans else default_plan(inspection)
        dest = tmp_path / "out.parquet"
        rows, schema = write_parquet(source, inspection, chosen, dest, work, user_typed=user_typed)
    finally:
        source.cleanup()
    assert not any(work.iterdir()), "temp files left behind"
    con = duckdb.connect()
    try:
        described = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(dest)]).fetchall()
        records = con.execute("SELECT * FROM read_parquet(?)", [str(dest)]).fetchall()
    finally:
        con.close()
    return Ingested(inspection, rows, schema, [d[0] for d in described], [d[1] for d in described], records)


def failure(tmp_path: Path, data: bytes, filename: str = "data.csv", plans=None, user_typed=None) -> str:
    with pytest.raises(IngestError) as caught:
        ingest(tmp_path, data, filename, plans, user_typed)
    work = tmp_path / "work"
    assert not work.exists() or not any(work.iterdir()), "temp files left behind"
    return caught.value.message


def as_text(inspection: Inspection) -> list[ColumnPlan]:
    return [ColumnPlan(c.source, c.name, "text") for c in inspection.columns]


# --- csv-spectrum -------------------------------------------------------------------------

SPECTRUM_CASES = sorted(p.stem for p in (SPECTRUM / "csvs").glob("*.csv"))


def test_the_spectrum_suite_is_complete():
    assert len(SPECTRUM_CASES) == 12


@pytest.mark.parametrize("case", SPECTRUM_CASES)
def test_csv_spectrum(tmp_path, case):
    """Each case, read with every column as text, gives exactly the expected records,
    with one decision of ours: an empty field is a missing value (NULL), whether or not
    it was quoted, as in pandas and Excel, so "" in the JSON is None here."""
    expected = json.loads((SPECTRUM / "json" / f"{case}.json").read_text(encoding="utf-8"))
    if isinstance(expected, dict):  # location_coordinates.json is one object, not a list
        expected = [expected]
    if case == "location_coordinates":
        # Upstream erratum: the JSON says 1234567890, the CSV holds 2095257564.
        expected[0]["Contact Phone Number"] = "2095257564"
    result = ingest(tmp_path, SPECTRUM / "csvs" / f"{case}.csv", f"{case}.csv", plans=as_text)
    assert result.columns == list(expected[0])
    got = [{name: ("" if value is None else value) for name, value in zip(result.columns, record)}
           for record in result.records]
    assert got == expected
    nulls = [(i, name) for i, record in enumerate(result.records) for name, value in zip(result.columns, record)
             if value is None]
    assert nulls == [(i, name) for i, record in enumerate(expected) for name, value in record.items() if value == ""]


def test_csv_spectrum_with_proposed_types(tmp_path):
    result = ingest(tmp_path, SPECTRUM / "csvs" / "comma_in_quotes.csv", "comma_in_quotes.csv")
    assert result.records == [("John", "Doe", "120 any st.", "Anytown, WW", "08123")]  # the zip keeps its 0
    result = ingest(tmp_path, SPECTRUM / "csvs" / "newlines_crlf.csv", "newlines_crlf.csv")
    assert result.types == {"a": "text", "b": "integer", "c": "integer"}
    assert result.records == [("1", 2, 3), ("Once upon \r\na time", 5, 6), ("7", 8, 9)]


# --- types ---------------------------------------------------------------------------------


def test_types_are_inferred(tmp_path):
    data = (
        b"count,price,active,day,stamp,precise,utc,us,uk,ambiguous\n"
        b"1,1.5,true,2024-01-31,2024-01-31 10:11:12,2024-01-31T10:11:12.250,2024-01-31T10:11:12Z,"
        b"12/01/2010 08:26,13/01/2010,01/02/2010\n"
        b"-20,2.25,false,2024-02-29,2024-02-29 23:59:59,2024-02-29T00:00:00.5,2024-02-29T00:00:00Z,"
        b"12/13/2010 17:05,01/02/2010,03/04/2010\n"
    )
    result = ingest(tmp_path, data)
    assert result.types == {
        "count": "integer", "price": "float", "active": "boolean", "day": "date", "stamp": "timestamp",
        "precise": "timestamp", "utc": "timestamp", "us": "timestamp", "uk": "date", "ambiguous": "date",
    }
    assert result.storage_types == ["BIGINT", "DOUBLE", "BOOLEAN", "DATE", "TIMESTAMP", "TIMESTAMP", "TIMESTAMP",
                                     "TIMESTAMP", "DATE", "DATE"]
    formats = {c.name: c.date_format for c in result.inspection.columns if c.date_format}
    assert formats["us"] == "%m/%d/%Y %H:%M"  # 12/01/2010 08:26 is month-first: 1 December
    assert formats["uk"] == "%d/%m/%Y"  # 13/01/2010 can only be day-first
    assert formats["ambiguous"] == "%m/%d/%Y"  # nothing says day-first: month-first stays
    assert result.records == [
        (1, 1.5, True, dt.date(2024, 1, 31), dt.datetime(2024, 1, 31, 10, 11, 12),
         dt.datetime(2024, 1, 31, 10, 11, 12, 250000), dt.datetime(2024, 1, 31, 10, 11, 12),
         dt.datetime(2010, 12, 1, 8, 26), dt.date(2010, 1, 13), dt.date(2010, 1, 2)),
        (-20, 2.25, False, dt.date(2024, 2, 29), dt.datetime(2024, 2, 29, 23, 59, 59),
         dt.datetime(2024, 2, 29, 0, 0, 0, 500000), dt.datetime(2024, 2, 29), dt.datetime(2010, 12, 13, 17, 5),
         dt.date(2010, 2, 1), dt.date(2010, 3, 4)),
    ]


def test_missing_values_are_null(tmp_path):
    result = ingest(tmp_path, b'n,label\n1,a\n,""\nN/A,NULL\n4,NA\n')
    assert result.types == {"n": "integer", "label": "text"}
    assert result.records == [(1, "a"), (None, None), (None, None), (4, "NA")]  # NA is a real code (Namibia)


def test_null_words_after_the_head_still_read_as_missing(tmp_path, monkeypatch):
    """The reader matches the null words only when the head of the file uses them; one
    that first appears later makes the write retry with them, so the number stays a number."""
    monkeypatch.setattr("storage.ingest.NULL_SCAN_BYTES", 200)
    body = b"".join(b"%d,%d.5,d%d\n" % (i, i, i) for i in range(30_000))
    result = ingest(tmp_path, b"n,x,label\n" + body + b"30000,NULL,N/A\n30001,#N/A,z\n")
    assert result.inspection.csv_options["null_words"] is False
    assert result.types == {"n": "integer", "x": "float", "label": "text"}
    assert result.rows == 30_002
    assert result.column("x")[-2:] == [None, None]
    assert result.column("label")[-2:] == [None, "z"]  # the retry reads every null word as missing
    # When only a text column has a late null word, it stays text: nothing is lost, and it shows.
    result = ingest(tmp_path, b"n,label\n" + b"".join(b"%d,d%d\n" % (i, i) for i in range(30_000)) + b"1,N/A\n")
    assert result.column("label")[-1] == "N/A"


def test_null_words_in_the_head_switch_the_list_on(tmp_path):
    result = ingest(tmp_path, b'n;label\n1;"NULL"\n2;N/A\n')
    assert result.inspection.csv_options["null_words"] is True
    assert result.records == [(1, None), (2, None)]


def test_timestamps_with_utc_offsets_become_utc_timestamps(tmp_path):
    result = ingest(tmp_path, b"n,at,when\n1,2024-01-01T10:00:00+02:00,2024-06-30 23:30:00.250-05:30\n"
                              b"2,2024-01-01T10:00:00-01:00,\n")
    assert result.types["at"] == result.types["when"] == "timestamp"
    assert result.column("at") == [dt.datetime(2024, 1, 1, 8, 0), dt.datetime(2024, 1, 1, 11, 0)]
    assert result.column("when") == [dt.datetime(2024, 7, 1, 5, 0, 0, 250000), None]


def test_day_first_value_after_the_sample(tmp_path):
    """The first rows read month-first; a day-first date further down switches the whole
    column to day-first instead of losing it to text."""
    body = b"".join(b"%d,%02d/01/2010 08:26\n" % (i, i % 12 + 1) for i in range(30_000))
    result = ingest(tmp_path, b"n,when\n" + body + b"30000,13/01/2010 09:00\n")
    assert result.types["when"] == "timestamp"
    assert result.rows == 30_001
    assert result.column("when")[1] == dt.datetime(2010, 1, 2, 8, 26)
    assert result.column("when")[-1] == dt.datetime(2010, 1, 13, 9, 0)
    assert any("%d/%m/%Y %H:%M" in note and "13/01/2010 09:00" in note for note in result.inspection.notes)


# --- names -----------------------------------------------------------------------------------


def test_blank_and_repeated_header_names(tmp_path):
    result = ingest(tmp_path, b"name,,price,name,Name, \n1,2,3,4,5,6\n")
    assert result.columns == ["name", "column_2", "price", "name_2", "Name_3", "column_6"]
    assert result.records == [(1, 2, 3, 4, 5, 6)]


def test_file_without_header(tmp_path):
    result = ingest(tmp_path, b"1,2.5,x\n2,3.5,y\n3,4.5,z\n")
    assert result.columns == ["column_1", "column_2", "column_3"]
    assert result.records == [(1, 2.5, "x"), (2, 3.5, "y"), (3, 4.5, "z")]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
def test_blank_lines_before_the_header(tmp_path, newline):
    # read_csv took the first blank line for the header, and the header for data.
    data = newline.join([b"", b"  ", b"a,b", b"1,2", b"3,4", b""])
    result = ingest(tmp_path, data)
    assert result.columns == ["a", "b"]
    assert result.records == [(1, 2), (3, 4)]


def test_inconsistent_layout_gets_a_message_for_people(tmp_path):
    message = failure(tmp_path, b"\n\r\n  \na,b\n1,2\n")
    assert message.startswith("The file could not be read as CSV")
    assert "state machine" not in message


# --- plans: rename, retype, skip ---------------------------------------------------------


def test_plans_rename_retype_and_skip(tmp_path):
    data = b"id,price,code,note,day\n1,10,007,keep,2024-01-02\n2,20,042,me,2024-03-04\n"

    def plans(inspection):
        assert [c.type for c in inspection.columns] == ["integer", "integer", "text", "text", "date"]
        return [
            ColumnPlan("id", "ID", "text"),
            ColumnPlan("price", "Price (EUR)", "float"),
            ColumnPlan("code", "code", "integer"),
            ColumnPlan("note", "note", "text", include=False),
            ColumnPlan("day", "Day", "text"),
        ]

    result = ingest(tmp_path, data, plans=plans, user_typed={"id", "price", "code", "day"})
    assert result.columns == ["ID", "Price (EUR)", "code", "Day"]
    assert result.storage_types == ["VARCHAR", "DOUBLE", "BIGINT", "VARCHAR"]
    assert result.records == [("1", 10.0, 7, "2024-01-02"), ("2", 20.0, 42, "2024-03-04")]


def test_a_chosen_type_that_does_not_fit_names_the_column_and_value(tmp_path):
    data = b"id,amount\n1,10\n2,unknown\n"
    plans = lambda inspection: [ColumnPlan("id", "id", "integer"), ColumnPlan("amount", "Amount", "float")]
    message = failure(tmp_path, data, plans=plans, user_typed={"amount"})
    assert message == "Column 'Amount' has values that are not numbers (such as 'unknown') (line 3); " \
                      "choose another type for it"


def test_a_chosen_date_format_that_does_not_fit(tmp_path):
    data = b"id,day\n1,2024-01-02\n2,soon\n"
    plans = lambda inspection: [ColumnPlan("id", "id", "integer"), ColumnPlan("day", "Day", "date", True, "%Y-%m-%d")]
    message = failure(tmp_path, data, plans=plans, user_typed={"day"})
    assert message.startswith("Column 'Day' has values that are not dates in the format %Y-%m-%d (such as 'soon')")


# --- ragged rows, quotes ------------------------------------------------------------------


def test_short_rows_are_padded_with_nulls(tmp_path):
    result = ingest(tmp_path, b"a,b,c\n1,2,3\n4,5\n6\n7,8,9\n")
    assert result.records == [(1, 2, 3), (4, 5, None), (6, None, None), (7, 8, 9)]


def test_a_long_row_is_refused_with_its_line(tmp_path):
    """Values past the header usually mean a delimiter inside an unquoted value: the
    row would be shifted, so the person is told which line to fix."""
    message = failure(tmp_path, b"name,city\nAnn,Oslo\nSmith, John,Rome\nBo,Graz\n")
    assert message == ("A row has more values than the header (line 3): 3 instead of 2. Check the delimiter and "
                       "the quotes, or give the extra columns names in the header")


def test_a_long_row_after_the_sample(tmp_path):
    body = b"".join(b"%d,%d\n" % (i, i) for i in range(30_000))
    message = failure(tmp_path, b"a,b\n" + body + b"1,2,3\n")
    assert message.startswith("A row has more values than the header (line 30002)")


def test_trailing_delimiters_are_not_long_rows(tmp_path):
    result = ingest(tmp_path, b"a,b\n1,2,\n3,4,\n")
    assert result.columns == ["a", "b"] and result.records == [(1, 2), (3, 4)]


def test_unclosed_quote(tmp_path):
    message = failure(tmp_path, b'id,text\n1,"fine"\n2,"never closed\n3,x\n')
    assert message == "A quoted value is never closed (line 3): check the quotes in the file"


def test_quoted_newlines_after_the_sample(tmp_path):
    """DuckDB's parallel reader cannot pad rows when a quoted value holds a line break;
    ingest switches to the serial reader instead of failing."""
    body = b"".join(b"%d,plain %d\n" % (i, i) for i in range(30_000))
    result = ingest(tmp_path, b"id,text\n" + body + b'30000,"two\nlines"\n30001,"crlf\r\ntoo"\n')
    assert result.rows == 30_002
    assert result.records[-2:] == [(30_000, "two\nlines"), (30_001, "crlf\r\ntoo")]


# --- mixed types, wide and long files, bad bytes ----------------------------------------


def test_mixed_types_fall_back_to_text_with_nothing_lost(tmp_path):
    body = b"".join(b"%d,%d.5,%d\n" % (i, i, i) for i in range(30_000))
    result = ingest(tmp_path, b"code,amount,n\n" + body + b"A-17,n/a,30000\n")
    assert result.types == {"code": "text", "amount": "float", "n": "integer"}
    assert result.rows == 30_001
    assert result.column("code")[:2] == ["0", "1"] and result.column("code")[-1] == "A-17"
    assert result.column("amount")[-1] is None  # n/a is a missing value, not a reason for text
    assert sum(1 for v in result.column("code") if v is not None) == 30_001
    assert result.inspection.notes == ["Column 'code' has values that are not whole numbers (such as 'A-17'), "
                                       "so it is kept as text"]


def test_mixed_types_in_json_after_the_sample(tmp_path):
    records = [{"id": i, "v": i} for i in range(25_000)] + [{"id": 25_000, "v": "many"}]
    result = ingest(tmp_path, json.dumps(records).encode(), "values.json")
    assert result.types == {"id": "integer", "v": "text"}
    assert result.rows == 25_001
    assert result.column("v")[:2] == ["0", "1"] and result.column("v")[-1] == "many"


def test_five_thousand_columns(tmp_path):
    names = ",".join(f"c{i}" for i in range(5_000))
    rows = "\n".join(",".join(f"v{r}_{i}" for i in range(5_000)) for r in range(3))
    started = time.monotonic()
    result = ingest(tmp_path, f"{names}\n{rows}\n".encode())
    assert time.monotonic() - started < 30
    assert len(result.columns) == 5_000 and result.columns[-1] == "c4999"
    assert result.rows == 3
    assert result.records[2][4_999] == "v2_4999"


def test_ten_megabyte_single_cell(tmp_path):
    big = b"x" * (10 * 1024 * 1024)
    result = ingest(tmp_path, b"id,blob\n1," + big + b"\n2,small\n")
    assert result.rows == 2
    assert len(result.records[0][1]) == len(big)
    assert result.records[1] == (2, "small")


def test_invalid_utf8_past_the_first_megabyte(tmp_path):
    line = "1,café crème,2.5\n".encode()
    before = line * (SNIFF_BYTES // len(line) + 1000)
    data = b"id,name,price\n" + before + b"2,bad \xff\xfe bytes,3.5\n" + line * 10
    result = ingest(tmp_path, data)
    assert result.rows == before.count(b"\n") + 11
    bad = result.records[before.count(b"\n")]
    assert bad == (2, "bad \ufffd\ufffd bytes", 3.5)
    assert result.records[0] == (1, "café crème", 2.5)
    assert result.inspection.notes == ["2 byte sequence(s) that were not valid UTF-8 were replaced with \ufffd"]


def test_windows_1252_text_past_the_first_megabyte(tmp_path):
    """An ASCII first megabyte then a cp1252 é: the é is decoded, not replaced."""
    line = b"1,plain,2.5\n"
    before = line * (SNIFF_BYTES // len(line) + 1000)
    result = ingest(tmp_path, b"id,name,price\n" + before + "2,Renée,3.5\n".encode("cp1252"))
    assert result.records[-1] == (2, "Renée", 3.5)
    assert result.inspection.notes == ["Decoded from Windows-1252 (Latin-1)"]


def test_header_without_rows(tmp_path):
    assert failure(tmp_path, b"a,b,c\r\n") == "The file has a header but no rows of data"


# --- real data ------------------------------------------------------------------------------


def test_vgsales(tmp_path):
    result = ingest(tmp_path, FIXTURES / "vgsales.csv", "vgsales.csv")
    assert result.rows == 16_598
    assert result.columns == ["Rank", "Name", "Platform", "Year", "Genre", "Publisher", "NA_Sales", "EU_Sales",
                              "JP_Sales", "Other_Sales", "Global_Sales"]
    assert result.types["Year"] == "integer" and result.types["Global_Sales"] == "float"
    assert result.records[0] == (1, "Wii Sports", "Wii", 2006, "Sports", "Nintendo", 41.49, 29.02, 3.77, 8.46, 82.74)
    assert result.column("Year").count(None) == 271  # N/A
    assert result.column("Publisher").count(None) == 58


def test_mall_customers(tmp_path):
    result = ingest(tmp_path, FIXTURES / "shopping_data.csv", "shopping_data.csv")
    assert result.rows == 200
    assert result.types == {"CustomerID": "integer", "Genre": "categorical", "Age": "integer",
                            "Annual Income (k$)": "integer", "Spending Score (1-100)": "integer"}
    assert result.records[0] == (1, "Male", 19, 15, 39)
    assert sorted(set(result.column("Genre"))) == ["Female", "Male"]


@pytest.mark.skipif(not ONLINE_RETAIL.exists(), reason="data/samples/online-retail.csv.gz is not in this checkout "
                    "(the sample ships with the app's sample data)")
def test_online_retail(tmp_path):
    result = ingest(tmp_path, ONLINE_RETAIL, "online-retail.csv.gz")
    assert result.rows == 541_909
    assert result.inspection.format == "csv.gz"
    assert result.types["InvoiceDate"] == "timestamp"
    assert result.types["CustomerID"] == "float"
    assert result.column("CustomerID").count(None) == 135_080
    first = dict(zip(result.columns, result.records[0]))
    assert first["InvoiceDate"] == dt.datetime(2010, 12, 1, 8, 26)
    assert first["CustomerID"] == 17850.0
