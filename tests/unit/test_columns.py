"""analytics.columns: the pure rules behind ingest's names and types."""
from __future__ import annotations

import duckdb
import pytest

from analytics.columns import (
    DATE_FORMATS,
    LOGICAL_TYPES,
    STORAGE_TYPE,
    clean_display_name,
    clean_name,
    is_categorical,
    logical_type,
    unique_names,
)


def test_unique_names_blank_and_repeated():
    assert unique_names(["id", "", "id", None, "ID", " id ", "name"]) == [
        "id", "column_2", "id_2", "column_4", "ID_3", "id_4", "name",
    ]


def test_unique_names_does_not_reuse_a_taken_suffix():
    assert unique_names(["a", "a_2", "a"]) == ["a", "a_2", "a_3"]
    assert unique_names(["column_2", ""]) == ["column_2", "column_2_2"]


def test_clean_name():
    assert clean_name("  Annual\tIncome \n (k$) ") == "Annual Income (k$)"
    assert clean_name("Annual\r\nIncome") == "Annual Income"  # a two-line Excel header cell
    assert clean_name("a\x00b\u200bc") == "abc"  # control and format characters go
    assert clean_name("x" * 300) == "x" * 200
    assert clean_name(None) == "" and clean_name(12) == "12"


@pytest.mark.parametrize(("duckdb_type", "expected"), [
    ("BIGINT", "integer"), ("INTEGER", "integer"), ("UBIGINT", "integer"), ("HUGEINT", "integer"),
    ("DOUBLE", "float"), ("FLOAT", "float"), ("DECIMAL(18,3)", "float"),
    ("BOOLEAN", "boolean"), ("DATE", "date"), ("TIMESTAMP", "timestamp"), ("TIMESTAMP WITH TIME ZONE", "timestamp"),
    ("TIMESTAMP_NS", "timestamp"), ("VARCHAR", "text"), ("TIME", "text"), ("UUID", "text"), ("BLOB", "text"),
])
def test_logical_type(duckdb_type, expected):
    assert logical_type(duckdb_type) == expected


def test_every_logical_type_has_a_storage_type():
    assert set(STORAGE_TYPE) == set(LOGICAL_TYPES)


@pytest.mark.parametrize(("distinct", "non_null", "expected"), [
    (2, 1000, True), (50, 1000, True), (51, 10_000, False), (20, 100, False),
    (1, 1000, False),  # one value is a constant, not a category
    (2, 2, False), (3, 3, False),  # values that never repeat are not categories
    (2, 3, True), (0, 0, False),
])
def test_is_categorical(distinct, non_null, expected):
    assert is_categorical(distinct, non_null) is expected


@pytest.mark.parametrize(("filename", "expected"), [
    ("sales.csv", "sales"), ("C:\\Users\\ann\\Q1 report.xlsx", "Q1 report"), ("/tmp/x/data.csv.gz", "data"),
    ("archive.zip", "archive"), ("v1.2 final", "v1.2 final"), ("Report v1.2", "Report v1.2"),
    ("", "Untitled dataset"), (".csv", "csv"),
    ("bad\x00name.json", "badname"),
])
def test_clean_display_name(filename, expected):
    assert clean_display_name(filename) == expected


def test_date_formats_prefer_month_first():
    formats = [fmt for fmt, _ in DATE_FORMATS]
    assert formats.index("%m/%d/%Y") < formats.index("%d/%m/%Y")
    assert formats.index("%m/%d/%Y %H:%M") < formats.index("%d/%m/%Y %H:%M")
    assert {kind for _, kind in DATE_FORMATS} == {"date", "timestamp"}


@pytest.mark.parametrize(("value", "fmt", "expected"), [
    ("2010-12-01 08:26:00", "%Y-%m-%d %H:%M:%S", "2010-12-01 08:26:00"),
    ("2024-01-31T10:11:12.25", "%Y-%m-%dT%H:%M:%S.%f", "2024-01-31 10:11:12.25"),
    ("2024-01-31T10:11:12Z", "%Y-%m-%dT%H:%M:%SZ", "2024-01-31 10:11:12"),
    ("12/01/2010 08:26", "%m/%d/%Y %H:%M", "2010-12-01 08:26:00"),
    ("13/01/2010", "%d/%m/%Y", "2010-01-13 00:00:00"),
    ("5-Mar-2021", "%d-%b-%Y", "2021-03-05 00:00:00"),
    ("Mar 5, 2021", "%b %d, %Y", "2021-03-05 00:00:00"),
])
def test_date_formats_parse_in_duckdb(value, fmt, expected):
    assert (fmt, ) in {(f, ) for f, _ in DATE_FORMATS}
    parsed = duckdb.execute("SELECT CAST(strptime(?, ?) AS VARCHAR)", [value, fmt]).fetchall()[0][0]
    assert parsed == expected
