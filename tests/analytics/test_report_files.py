"""The report files' own rules, without a server: the streaming xlsx writer's cells read
back by openpyxl, the Excel sheet at Excel's row limit (the limit made small so the test
is quick) and the notes' words for every case."""
from __future__ import annotations

import datetime as dt
import decimal
import io

import pytest
from openpyxl import load_workbook

from analytics.reports import content, counts, tabular
from analytics.reports.xlsx import XlsxWriter, column_letter


def test_column_letters():
    assert [column_letter(i) for i in (0, 25, 26, 51, 52, 701, 702)] == ["A", "Z", "AA", "AZ", "BA", "ZZ", "AAA"]


def test_xlsx_writer_cells_read_back_as_written():
    buffer = io.BytesIO()
    with XlsxWriter(buffer) as book:
        sheet = book.sheet("Data & more", widths=[12, 30])
        sheet.append(["text", "number"], book.style("bold"))
        sheet.append(["a < b & c > d", 12])
        sheet.append([" padded ", 1.5])
        sheet.append(["bell\x07 gone", -0.1])
        sheet.append([True, decimal.Decimal("2.25")])
        sheet.append([dt.date(2013, 1, 2), dt.datetime(2013, 1, 2, 5, 6, 7)])
        sheet.append([dt.datetime(2020, 3, 1, 12, tzinfo=dt.timezone.utc), dt.time(6, 30)])
        sheet.append([None, float("nan")])
        sheet.append(["", 10 ** 12])
        sheet.append([1234.5], book.style(number_format="#,##0.00"))
        book.sheet("Second").append(["x" * 40_000])
    book = load_workbook(io.BytesIO(buffer.getvalue()))
    assert book.sheetnames == ["Data & more", "Second"]
    rows = list(book["Data & more"].iter_rows(values_only=True))
    assert rows[0] == ("text", "number") and book["Data & more"]["A1"].font.b
    assert rows[1] == ("a < b & c > d", 12) and rows[2] == (" padded ", 1.5) and rows[3] == ("bell gone", -0.1)
    assert rows[4] == (True, 2.25)
    assert rows[5] == (dt.datetime(2013, 1, 2), dt.datetime(2013, 1, 2, 5, 6, 7))
    assert book["Data & more"]["A6"].number_format == "yyyy-mm-dd"
    assert rows[6] == (dt.datetime(2020, 3, 1, 12), dt.time(6, 30))
    assert rows[7] == (None, None) and rows[8] == (None, 10 ** 12)
    assert book["Data & more"]["A10"].number_format == "#,##0.00"
    assert book["Data & more"].column_dimensions["B"].width == 30
    assert len(book["Second"]["A1"].value) == 32_767  # Excel's limit for a cell


def _report(total: int, stream_rows: int) -> dict:
    def stream(limit):
        rows = [[i, f"r{i}"] for i in range(1, stream_rows + 1)]
        rows = rows if limit is None else rows[:limit]
        for start in range(0, len(rows), 3):
            yield rows[start:start + 3]

    data = {"columns": ["n", "label"], "rows": [[1, "r1"], [2, "r2"]], "note": None, "total": total,
            "stream": stream}
    return {"title": "Big", "description": "", "filters": [], "timezone": "UTC",
            "generated_at": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc),
            "tabs": [{"title": "Data", "widgets": [{"id": "t", "title": "Rows", "type": "table", "layout": {},
                                                    "output": {"kind": "table"}, "data": data}]}]}


@pytest.fixture
def excel_limit(monkeypatch):
    for module in (content, tabular, counts):
        monkeypatch.setattr(module, "EXCEL_MAX_ROWS", 5)
    return 5


def test_beyond_excels_limit_the_sheet_holds_the_first_rows_and_says_so(excel_limit):
    report = _report(total=8, stream_rows=8)
    buffer = io.BytesIO()
    tabular.write_xlsx(report, buffer)
    book = load_workbook(io.BytesIO(buffer.getvalue()), read_only=True)
    rows = list(book["Rows"].iter_rows(values_only=True))
    assert rows[:6] == [("n", "label")] + [(i, f"r{i}") for i in range(1, 6)]
    assert rows[-1][0] == ("This sheet holds the first 5 of 8 rows: Excel's limit is 6 rows a sheet (with the "
                           "header). The CSV export holds all of them.")
    assert ("Rows", "Rows", "Data", 5, 8) in list(book["Summary"].iter_rows(values_only=True))
    [xlsx] = counts.table_counts(report, "xlsx")
    assert (xlsx["rows"], xlsx["in_file"]) == (8, 5)
    assert xlsx["text"] == ("Rows: 8 rows; this Excel file has the first 5, and the CSV file holds all of them "
                            "(an Excel sheet holds at most 5, so the Excel file has the first rows only).")
    # The CSV holds every row.
    csv_buffer = io.BytesIO()
    assert tabular.write_csv(report["tabs"][0]["widgets"][0], csv_buffer) == 8
    assert csv_buffer.getvalue().decode("utf-8-sig").splitlines()[-1] == "8,r8"


def test_notes_and_counts_per_format():
    report = _report(total=12_000, stream_rows=12_000)
    data = report["tabs"][0]["widgets"][0]["data"]
    assert content.table_note(data, 40, "in this PDF") == (
        "Showing the first 40 of 12,000 rows in this PDF; the Excel and CSV files hold all of them.")
    assert content.table_note({"rows": [[1]], "total": 1, "note": None}, 1) is None
    capped = {"rows": [[1]] * 10_000, "total": 10_000, "note": content.capped_note(10_000), "capped": True}
    assert content.table_note(capped, 40, "in this PDF") == (
        "Showing the first 40 rows in this PDF; the Excel and CSV files hold the first 10,000. Only the first "
        "10,000 rows of this widget's result: a widget's query returns at most 10,000 rows. Add a filter or a "
        "coarser grouping to see everything.")
    by_format = {fmt: counts.table_counts(report, fmt)[0] for fmt in ("pdf", "html", "xlsx", "zip")}
    assert {fmt: c["in_file"] for fmt, c in by_format.items()} == {"pdf": 2, "html": 2, "xlsx": 12_000,
                                                                    "zip": 12_000}
    assert by_format["xlsx"]["text"] == "Rows: 12,000 rows, all of them in this Excel file."


def test_histogram_data_from_the_figure_and_charts_capped_say_so():
    spec = {"type": "histogram", "x": "amount"}
    output = {"kind": "figure", "figure": {"data": [{"type": "bar", "y": [3, 0, 5], "customdata": [[0, 10], [10, 20],
                                                                                                     [20, 30]]}]}}
    data = content.widget_data(spec, output, {"columns": ["bin", "n", "lo", "hi"], "rows": [[0, 3, 0, 30]]})
    assert data["columns"] == ["amount from", "amount to", "Count"]
    assert data["rows"] == [[0, 10, 3], [10, 20, 0], [20, 30, 5]]
    bar = content.widget_data({"type": "bar", "x": "g", "y": "v", "agg": "sum"}, {"kind": "figure"},
                              {"columns": ["x", "y"], "rows": [["a", 1]] * 10_000, "truncated": True})
    assert "Only the first 10,000 rows" in bar["note"] and bar["total"] == 10_000 and bar["capped"]


def test_a_capped_pivot_never_claims_its_row_cap_as_a_count():
    assert counts.rows_sentence("Pivot", 10_000, 40, "pdf", capped=True) == (
        "Pivot: the first 10,000 rows (a widget query's limit; there may be more); this PDF has the first 40.")
    assert counts.rows_sentence("Pivot", 10_000, 10_000, "xlsx", capped=True).endswith(
        "this Excel file has all of them.")


FORMULA_CASES = ["=1+1", "+A1", "-A1", "@SUM(A1)", "\tx", "\rx", "=cmd|' /C calc'!A0", "-", "+", "-1+2", "-1e5x",
                 "-inf", "-nan", "-1 day, 0:00:00"]
NUMBER_TEXTS = ["-5", "-12.5", "+5", "-1,234.50", "-.5", "-1e5", "+12%", "-$1,000.00", "-1 234,5"]
PLAIN = ["plain", "a=b", "'=already", " =spaced", ""]


def test_neutralise_is_one_rule_in_python_and_sql():
    import duckdb

    from analytics.reports.formulas import neutralise
    from storage.exports import neutralised_sql

    assert [neutralise(t) for t in FORMULA_CASES] == ["'" + t for t in FORMULA_CASES]
    assert [neutralise(t) for t in NUMBER_TEXTS + PLAIN] == NUMBER_TEXTS + PLAIN
    assert [neutralise(v) for v in (-5, -0.5, None, True, dt.date(2020, 1, 1))] == \
        [-5, -0.5, None, True, dt.date(2020, 1, 1)]
    assert neutralise(neutralise("=x")) == "'=x"  # twice is once
    con = duckdb.connect()
    texts = FORMULA_CASES + NUMBER_TEXTS + PLAIN
    got = [r[0] for r in con.execute(f"SELECT {neutralised_sql('t')} FROM unnest($1) AS u(t)", [texts]).fetchall()]
    assert got == [neutralise(t) for t in texts]


def test_sheet_titles_are_valid_and_formula_free():
    from analytics.reports.formulas import sheet_title

    assert sheet_title("=cmd|' /C calc'!A0") == "_=cmd|' _C calc'!A0"
    assert sheet_title("+x") == "_+x" and sheet_title("@x") == "_@x" and sheet_title("\tx") == "_x"
    assert sheet_title("'quoted'") == "quoted" and sheet_title("") == "Sheet" and sheet_title("history") == "history_"
    assert len(sheet_title("-" + "x" * 40)) == 31
    for name in ("=a", "a" * 40, "-b", "[c]"):
        assert sheet_title(sheet_title(name)) == sheet_title(name)


def test_xlsx_writer_neutralises_every_text_it_is_given():
    buffer = io.BytesIO()
    with XlsxWriter(buffer) as book:
        sheet = book.sheet("=HYPERLINK(1)")
        sheet.append(["=header", "-5", -5, decimal.Decimal("-2.5"), ["=in a list"]], book.style("bold"))
    book = load_workbook(io.BytesIO(buffer.getvalue()))
    assert book.sheetnames == ["_=HYPERLINK(1)"]
    cells = list(book.active.iter_rows())[0]
    assert [c.value for c in cells] == ["'=header", "-5", -5, -2.5, "['=in a list']"]
    assert all(c.data_type != "f" for c in cells)
