"""Files people really have: European exports (semicolon, decimal comma, day-first dates,
cp1252), quoted thousands, currency and percent signs, (123) negatives, "-" for a missing
number, a delimiter at the end of every line; the person's reading choices; and files
that are not tables at all (Word, PDF, images, archives), refused in words.

The fixtures in tests/fixtures/locale/ reproduce real exports (see SOURCES.md). Sums are
checked against the published totals, not against what the code reads."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import duckdb
import pytest

from storage import number_formats
from storage.errors import IngestError, InvalidInput
from storage.ingest import _friendly_duckdb_error, _long_line, inspect, read_options
from storage.sources import prepare
from tests.storage.test_ingest import CAP, failure, ingest

LOCALE = Path(__file__).resolve().parents[1] / "fixtures" / "locale"
# Destatis, table 12411-0010: population of Germany on 31.12.2022, and of its Länder.
GERMANY_2022 = 84_358_845
LANDER_2022 = [11280257, 13369393, 3755251, 2573135, 684864, 1892122, 6391360, 1628378, 8140242, 18139116, 4159150,
               992666, 4086152, 2186643, 2953270, 2126846]
# INSEE, populations légales 2021, the sixteen largest communes (population municipale).
INSEE_AREAS = [105.4, 240.62, 47.87, 118.3, 71.92, 65.19, 56.88, 78.26, 49.36, 34.51, 50.39, 46.9, 42.84, 79.97, 46.95,
               18.13]
INSEE_2021 = {"Paris": 2133111, "Marseille": 873076, "Lyon": 522250, "Saint-Étienne": 173089, "Grenoble": 156389}


def ingest_with(tmp_path: Path, data, filename: str, choices: dict):
    tmp_path.mkdir(parents=True, exist_ok=True)
    return ingest(tmp_path, data, filename, choices=choices)


# --- the fixtures, read as a person means them ---------------------------------------------------


def test_destatis_export_semicolon_decimal_comma_cp1252(tmp_path):
    got = ingest(tmp_path, LOCALE / "destatis-bevoelkerung-2022.csv", "destatis-bevoelkerung-2022.csv")
    assert got.types == {"Bundesland": "text", "Stichtag": "date", "Bevölkerung": "integer", "Anteil in %": "float",
                         "Fläche in km²": "integer", "Einwohner je km²": "float", "Veränderung zum Vorjahr": "float"}
    assert sum(got.column("Bevölkerung")) == GERMANY_2022 == sum(LANDER_2022)
    assert got.column("Bevölkerung") == LANDER_2022
    assert sum(got.column("Anteil in %")) == pytest.approx(100.0, abs=0.05)
    assert got.column("Fläche in km²")[:3] == [35748, 70542, 891]  # "35.748" is thousands in this file
    assert got.column("Einwohner je km²")[0] == pytest.approx(315.5)
    assert got.column("Veränderung zum Vorjahr")[:4] == [None, pytest.approx(0.4), None, pytest.approx(1.2)]
    assert got.column("Bundesland")[-1] == "Thüringen"  # decoded from cp1252
    assert str(got.column("Stichtag")[0]) == "2022-12-31"
    assert got.rows == 16 and len(got.columns) == 7  # the trailing ";" made no column
    reading = got.inspection.reading
    assert (reading["delimiter"], reading["encoding"], reading["decimal"], reading["thousands"],
            reading["date_order"], reading["trailing_delimiter"]) == (";", "cp1252", ",", ".", "dmy", True)
    for words in ("encoding cp1252", "decimal comma", "thousands separator '.'", "day-first dates",
                  "'-', '.' read as missing", "trailing delimiter ignored"):
        assert words in reading["summary"]
    assert "'15.804' read as 15804" in " ".join(reading["summary"])
    detected = {c.name: c.detected for c in got.inspection.columns}
    assert detected["Anteil in %"] == "decimal comma"
    assert detected["Veränderung zum Vorjahr"] == "decimal comma, '-', '.' read as missing"


def test_insee_export_non_breaking_space_thousands(tmp_path):
    got = ingest(tmp_path, LOCALE / "insee-communes-2021.csv", "insee-communes-2021.csv")
    assert got.types["Population municipale"] == "integer"
    assert got.types["Superficie (km²)"] == "float"
    assert got.types["Code géographique"] == "text"  # 06088 keeps its zero: a code, not a number
    population = dict(zip(got.column("Commune"), got.column("Population municipale")))
    assert {name: population[name] for name in INSEE_2021} == INSEE_2021
    assert "06088" in got.column("Code géographique")
    # The areas as INSEE writes them: 105,4 ; 240,62 ; ... (sum 1,153.49 km²).
    assert sum(got.column("Superficie (km²)")) == pytest.approx(sum(INSEE_AREAS))
    assert "thousands separator space" in got.inspection.reading["summary"]


def test_us_finance_export_currency_parentheses_percent_and_dashes(tmp_path):
    got = ingest(tmp_path, LOCALE / "us-finance-export.csv", "us-finance-export.csv")
    assert got.types == {"Account": "text", "Period": "date", "Revenue": "float", "Net income": "float",
                         "Margin": "float", "Units": "integer", "Budget": "integer"}
    assert got.column("Revenue") == [pytest.approx(v) for v in (1234567.89, 987654.32, 12000.0, 0.5, 2500.0)]
    assert got.column("Net income")[:4] == [pytest.approx(-12345.0), pytest.approx(45678.9), pytest.approx(-250.0),
                                            None]
    assert got.column("Margin") == [pytest.approx(12.5), pytest.approx(-3.1), 0.0, None, 8.0]
    assert got.column("Units") == [1200, None, 15000, 7, 2250]
    assert got.column("Budget") == [1234, 2000, None, None, 12500]  # "1,234" is 1234 beside "12,500"
    summary = got.inspection.reading["summary"]
    for words in ("currency $ dropped", "(123) read as -123", "% dropped (values in percent)",
                  "'-', '--' read as missing"):
        assert words in summary


def test_swiss_apostrophe_thousands(tmp_path):
    got = ingest(tmp_path, LOCALE / "swiss-kantone.csv", "swiss-kantone.csv")
    assert got.types["Umsatz CHF"] == "float"
    assert got.column("Umsatz CHF") == [pytest.approx(v) for v in (1234567.8, 987654.3, 12000.0, 950.0)]
    assert got.column("Anteil") == [pytest.approx(12.5), pytest.approx(7.25), pytest.approx(0.5), None]
    assert got.inspection.reading["decimal"] == "."  # proven by 1'234'567.80 even in a ";" file


# --- the rule: one convention per column, ambiguity decided by the file ---------------------------


@pytest.mark.parametrize("text, types, values", [
    # Decimal comma proven by 12,5: "1.234" in the same file is 1234.
    ("a;b\n12,5;1.234\n7,25;2.500\n", ("float", "integer"), ([12.5, 7.25], [1234, 2500])),
    # Alone in a semicolon file, "1.234" is German thousands.
    ("a;b\n1.234;x\n2.500;y\n", ("integer", "text"), ([1234, 2500], ["x", "y"])),
    # Alone in a comma file, quoted "1,234" is thousands.
    ('a,b\n"1,234",x\n"12,000",y\n', ("integer", "text"), ([1234, 12000], ["x", "y"])),
    # Quoted "12,5" fits only a decimal comma, even in a comma-separated file.
    ('a,b\n"12,5",x\n"3,25",y\n', ("float", "text"), ([12.5, 3.25], ["x", "y"])),
    # French spaces, normal and non-breaking.
    ("a;b\n1 234,5;x\n12\u00a0000;y\n", ("float", "text"), ([1234.5, 12000.0], ["x", "y"])),
    # Mixed conventions in one column: not numbers.
    ('a,b\n"1,234.5",x\n"1.234,5",y\n', ("text", "text"), (["1,234.5", "1.234,5"], ["x", "y"])),
    # Versions, phone numbers, postcodes with zeros, codes with letters stay text.
    ("v;p;z;c\n1.2.3;030 1234567;01234;A12\n1.10.0;040 7654321;75001;B7\n", ("text", "text", "text", "text"),
     (["1.2.3", "1.10.0"], ["030 1234567", "040 7654321"], ["01234", "75001"], ["A12", "B7"])),
    # A column of only dashes is not a number column.
    ("a;b\n-;1\n--;2\n", ("text", "integer"), (["-", "--"], [1, 2])),
    # Percent signs on some values only: not one convention.
    ("a,b\n12 %,1\n13,2\n", ("text", "integer"), (["12 %", "13"], [1, 2])),
    # Two currencies in one column: text.
    ("a;b\n$12;1\n€13;2\n", ("text", "integer"), (["$12", "€13"], [1, 2])),
])
def test_a_column_is_numeric_only_under_one_convention(tmp_path, text, types, values):
    got = ingest(tmp_path, text.encode("utf-8"), "t.csv")
    assert tuple(got.types.values()) == types
    for name, expected in zip(got.columns, values):
        assert got.column(name) == [pytest.approx(v) if isinstance(v, float) else v for v in expected]


def test_a_later_value_that_breaks_the_convention_keeps_the_column_as_text(tmp_path):
    # The sample (the first 20,000 rows) says "decimal comma"; a value past it does not fit.
    data = ("a;b\n" + "".join(f"{i},5;{i}\n" for i in range(25_000)) + "oops;1\n").encode()
    got = ingest(tmp_path, data, "t.csv")
    assert got.types["a"] == "text"
    assert got.column("a")[:2] == ["0,5", "1,5"] and got.column("a")[-1] == "oops"
    assert any("kept as text" in note for note in got.inspection.notes)


def test_detect_is_pure_and_states_the_format():
    found = number_formats.detect(["1.234,56", "12,5", "-", "(7,00)"])
    fmt = number_formats.decide(found, ",", ["1.234,56", "12,5", "-", "(7,00)"])
    assert (fmt.decimal, fmt.thousands, fmt.parentheses, fmt.missing, fmt.integer) == (",", ".", True, ["-"], False)
    assert fmt.describe() == "decimal comma, thousands separator '.', (123) read as -123, '-' read as missing"
    assert number_formats.parse_value("(1.234,50)", fmt) == -1234.5
    assert number_formats.detect(["1,234", "abc"]) is None


# --- the person's choices ------------------------------------------------------------------------


def test_choices_change_the_reading(tmp_path):
    data = 'a,b\n"1,234",01/02/2024\n"2,5",03/04/2024\n'.encode()
    default = ingest_with(tmp_path / "d", data, "t.csv", {})
    assert default.column("a") == [pytest.approx(1.234), pytest.approx(2.5)]  # "2,5" proves the comma
    assert str(default.column("b")[0]) == "2024-01-02"
    chosen = ingest_with(tmp_path / "c", data, "t.csv", {"decimal": ",", "date_order": "dmy"})
    assert str(chosen.column("b")[0]) == "2024-02-01"
    assert chosen.inspection.reading["chosen"] == {"decimal": ",", "date_order": "dmy"}


def test_choosing_the_delimiter_and_encoding(tmp_path):
    data = "name|price\nCafé|1,5\nThé|2,25\n".encode("cp1252")
    got = ingest_with(tmp_path, data, "t.txt", {"delimiter": "|", "decimal": ","})
    assert got.column("price") == [1.5, 2.25]
    assert got.column("name") == ["Café", "Thé"]
    path = tmp_path / "latin.csv"
    path.write_bytes("name;x\nŒuvre;1\n".encode("iso-8859-15"))
    source = prepare(path, "latin.csv", tmp_path / "w", CAP, encoding="iso-8859-15")
    try:
        assert inspect(source, tmp_path / "w").rows[0][0] == "Œuvre"
    finally:
        source.cleanup()


@pytest.mark.parametrize("raw, message", [
    ({"decimal": ";"}, "decimal must be one of"),
    ({"delimiter": "x"}, "delimiter must be one of"),
    ({"colour": "red"}, "Unknown reading option 'colour'"),
    ("decimal=,", "options must be an object"),
])
def test_bad_choices_are_refused_in_words(raw, message):
    with pytest.raises(InvalidInput) as caught:
        read_options(raw)
    assert message in caught.value.message


# --- not a table ------------------------------------------------------------------------------------


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


DOCX = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
PPTX = _zip({"[Content_Types].xml": b"<Types/>", "ppt/presentation.xml": b"<p:presentation/>"})
ODT = _zip({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<office:document/>"})
ODS = _zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<office:document/>"})
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
DOC = OLE2 + "WordDocument".encode("utf-16-le") + bytes(1000)
PPT = OLE2 + "PowerPoint Document".encode("utf-16-le") + bytes(1000)


@pytest.mark.parametrize("data, filename, start", [
    (DOCX, "report.docx", "This is a Word document, not a table."),
    (DOCX, "report.csv", "This is a Word document, not a table."),  # the bytes decide, not the name
    (DOCX, "report.xlsx", "This is a Word document, not a table."),
    (DOC, "old.doc", "This is a Word document, not a table."),
    (DOC, "old.xls", "This is a Word document, not a table."),
    (PPTX, "deck.pptx", "This is a PowerPoint presentation, not a table."),
    (PPT, "deck.ppt", "This is a PowerPoint presentation, not a table."),
    (ODT, "letter.odt", "This is an OpenDocument text document (.odt), not a table."),
    (ODS, "sheet.ods", "This is an OpenDocument spreadsheet (.ods), which this server does not read."),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "table.pdf", "This is a PDF document, not a table."),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(100), "scan.jpg", "This is an image (JPEG), not a table."),
    (b"7z\xbc\xaf\x27\x1c" + bytes(100), "data.7z", "This is a 7-Zip archive, not a table."),
    (b"Rar!\x1a\x07\x00" + bytes(100), "data.rar", "This is a RAR archive, not a table."),
    (_zip({"data.zip": _zip({"a.csv": b"a\n1\n"})}), "nested.zip",
     "Compressed files inside compressed files are not supported"),
    (_zip({"inside.docx": DOCX}), "wrapped.zip", "This is a Word document, not a table."),
    (b"<!DOCTYPE html><html><body><table></table></body></html>", "export.xls",
     "This is a web page (HTML), not a table."),
])
def test_not_a_table_is_named(tmp_path, data, filename, start):
    message = failure(tmp_path, data, filename)
    assert message.startswith(start), message


def test_a_csv_that_starts_like_nothing_special_is_still_read(tmp_path):
    # Headers that begin like magic bytes ("BZh", "ID3", "PK") are not taken for archives.
    got = ingest(tmp_path, b"BZh,ID3,PK\n1,2,3\n", "t.csv")
    assert got.columns == ["BZh", "ID3", "PK"] and got.records == [(1, 2, 3)]


def test_one_very_long_line_is_named_not_out_of_memory(tmp_path):
    # DuckDB's own words for a line past its buffer, or for running out of memory on one,
    # become the line's number and size (the whole read of a 64 MB line takes minutes,
    # so the file here has a 3 MB line and the engine's error is given).
    path = tmp_path / "blob.csv"
    path.write_bytes(b"a,b\n1,2\n" + b"x" * (3 * 1024 * 1024) + b",3\n4,5\n")
    for engine_text in ('Invalid Input Error: CSV Error on Line: 3\nMaximum line size of 2097152 bytes exceeded.',
                        "Out of Memory Error: failed to allocate data of size 64.0 MiB (1.2 GiB/1.2 GiB used)"):
        message = _friendly_duckdb_error(duckdb.Error(engine_text), path)
        assert message == "Line 3 is longer than 2 MB; is this a table?"
    assert "Out of Memory" not in _friendly_duckdb_error(duckdb.Error("Out of Memory Error: failed"), None)
    assert _long_line(tmp_path / "blob.csv") == (3, 3 * 1024 * 1024 + 2)
    short = tmp_path / "short.csv"
    short.write_bytes(b"a,b\n1,2\n")
    assert _long_line(short) is None


def test_refusals_leave_no_temp_files(tmp_path):
    work = tmp_path / "work"
    path = tmp_path / "upload.part"
    path.write_bytes(_zip({"inside.docx": DOCX}))
    with pytest.raises(IngestError):
        prepare(path, "wrapped.zip", work, CAP)
    assert not work.exists() or not any(work.iterdir())


@pytest.mark.parametrize("text", ["a;b;c;\n1;x;3,5;\n2;y;4;\n", "a;b;c\n1;x;3,5;\n2;y;4;\n",
                                  "a,b,c,\r\n1,x,2,\r\n2,y,4,\r\n"])
def test_a_delimiter_at_the_end_of_every_line_makes_no_column(tmp_path, text):
    got = ingest(tmp_path, text.encode(), "t.csv")
    assert got.columns == ["a", "b", "c"]
    assert got.column("a") == [1, 2] and got.column("b") == ["x", "y"]
    assert got.column("c") == ([3.5, 4.0] if ";" in text else [2, 4])


def test_an_empty_last_column_with_a_name_is_kept(tmp_path):
    got = ingest(tmp_path, b"a;b;note\n1;2;\n3;4;\n", "t.csv")
    assert got.columns == ["a", "b", "note"] and got.column("note") == [None, None]
