"""A report's data as Excel (a summary sheet, then one sheet per widget), as the CSV of one
widget, or as a ZIP of every widget's CSV.

Text that a spreadsheet would run as a formula is neutralised by the one rule of
``analytics.reports.formulas``: in Excel by the xlsx writer itself, for every cell and
sheet name; in CSV by ``_csv_cell``, headers included. Numbers stay numbers, with the
widget's number format.

Memory stays bounded whatever a table holds: rows arrive in batches (``all_rows``: from
the database for a big table widget) and go straight out: into the sheet's XML inside the
workbook (``analytics.reports.xlsx``, a streaming writer: openpyxl's write-only mode took
80 s for 336,776 rows), into the CSV file, or into a ZIP member. An Excel sheet
holds every row up to Excel's own limit (EXCEL_MAX_ROWS) and says so beyond it.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile

from analytics.reports.content import (
    EXCEL_MAX_ROWS,
    all_rows,
    format_number,
    generated_text,
    slug,
    total_rows,
)
from analytics.reports.formulas import cell_text, neutralise, sheet_title
from analytics.reports.xlsx import XlsxWriter

# The widget registry's d3 formats as Excel number formats.
EXCEL_FORMATS = {"": "#,##0.##", ",.0f": "#,##0", ",.2f": "#,##0.00", ".1%": "0.0%", "$,.2f": '"$"#,##0.00',
                 ".3s": "#,##0"}


def _excel_value(value):
    if isinstance(value, (list, dict)):
        return str(value)
    return value


def _widgets_with_data(report: dict):
    for tab in report["tabs"]:
        for widget in tab["widgets"]:
            if widget.get("data") is not None:
                yield tab, widget


def _sheet_name(title: str, used: set) -> str:
    """A sheet name (``sheet_title``) no other sheet of the workbook has."""
    base = sheet_title(title or "Widget")
    name, n = base, 2
    while name.lower() in used:
        suffix = f" ({n})"
        name, n = sheet_title(base[: 31 - len(suffix)] + suffix), n + 1
    used.add(name.lower())
    return name


def excel_rows_note(data: dict) -> str | None:
    """The sheet's note when the data has more rows than an Excel sheet holds."""
    total = total_rows(data)
    if total <= EXCEL_MAX_ROWS:
        return data.get("note")
    return (f"This sheet holds the first {EXCEL_MAX_ROWS:,} of {total:,} rows: Excel's limit is "
            f"{EXCEL_MAX_ROWS + 1:,} rows a sheet (with the header). The CSV export holds all of them.")


def _is_table(widget: dict) -> bool:
    return (widget.get("output") or {}).get("kind") == "table"


def write_xlsx(report: dict, target, progress=None) -> None:
    """Write the workbook to ``target`` (a path or a binary file). ``progress(fraction,
    message)`` hears about long sheets every batch of rows. The writer neutralises every
    text cell (``XlsxWriter``), so nothing here needs to."""
    with XlsxWriter(target) as book:
        bold, title, note_style = book.style("bold"), book.style("title"), book.style("note")
        counted = book.style(number_format="#,##0")

        def styles(row, number_format):
            """The number format on the row's numbers, the default elsewhere."""
            style = book.style(number_format=number_format) if number_format else None
            return [style if isinstance(v, (int, float)) and not isinstance(v, bool) else None for v in row]

        summary = book.sheet("Summary", widths=[40, 22, 22, 16, 16])
        summary.append([report.get("title") or "Report"], title)
        if report.get("description"):
            summary.append([report["description"]])
        summary.append(["Generated", generated_text(report)], [bold, None])
        for flt in report.get("filters") or []:
            summary.append(["Filter", f"{flt['label']}: {flt['value']}"], [bold, None])
        summary.append([])
        kpis = [w for _tab, w in _widgets_with_data(report) if (w.get("output") or {}).get("kind") == "kpi"]
        if kpis:
            summary.append(["KPI", "Value", "Previous", "Change %", "Shown as"], bold)
            for widget in kpis:
                out = widget["output"]
                fmt = book.style(number_format=EXCEL_FORMATS.get(out.get("format") or "", "#,##0.##"))
                summary.append([out.get("label"), out.get("value"), out.get("previous"),
                                out.get("delta_pct"), format_number(out.get("value"), out.get("format"))],
                               [None, fmt, fmt, book.style(number_format="0.0"), None])
            summary.append([])
        summary.append(["Sheet", "Widget", "Tab", "Rows in the sheet", "Rows in the data"], bold)
        used = {"summary"}
        sheets = []
        for tab, widget in _widgets_with_data(report):
            name = _sheet_name(widget.get("title") or widget.get("type") or "Widget", used)
            sheets.append((name, widget))
            total = total_rows(widget["data"])
            summary.append([name, widget.get("title") or "", tab["title"],
                            min(total, EXCEL_MAX_ROWS), total], [None, None, None, counted, counted])

        for name, widget in sheets:
            data = widget["data"]
            sheet = book.sheet(name)
            sheet.append([str(c) for c in data["columns"]], bold)
            total = total_rows(data)
            if _is_table(widget):
                # Raw rows, possibly a million, streamed: numbers and dates as they are.
                written, limit = 0, min(total, EXCEL_MAX_ROWS)
                for batch in all_rows(data, EXCEL_MAX_ROWS):
                    for row in batch:
                        sheet.append([_excel_value(v) for v in row])
                    written += len(batch)
                    if progress and total > 50_000:
                        progress(written / limit, f"{name}: {written:,} of {limit:,} rows written")
            else:
                fmt = EXCEL_FORMATS.get((widget.get("output") or {}).get("format") or "", None) or \
                    _spec_format(widget)
                for row in data["rows"][:EXCEL_MAX_ROWS]:
                    sheet.append([_excel_value(v) for v in row], styles(row, fmt))
            note = excel_rows_note(data)
            if note:
                sheet.append([])
                sheet.append([note], note_style)


def _spec_format(widget: dict) -> str:
    from analytics.widgets.base import D3_FORMATS

    d3 = D3_FORMATS.get(widget.get("number_format") or "auto", "")
    return EXCEL_FORMATS.get(d3, "#,##0.##")


def _csv_cell(value):
    """A value as a CSV field: numbers as they are, dates in ISO form, any text
    neutralised (``formulas.neutralise``)."""
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (int, float)):  # bool included
        return value
    if isinstance(value, str):
        return neutralise(value)
    return cell_text(value)


def write_csv(widget: dict, target) -> int:
    """One widget's data, every row, as UTF-8 CSV (with a BOM, so Excel reads the accents)
    into the binary file ``target``; returns the number of rows written."""
    data = widget.get("data")
    if data is None:
        raise ValueError("This widget has no data to export")
    text = io.TextIOWrapper(target, encoding="utf-8-sig", newline="", write_through=False)
    try:
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow([_csv_cell(str(c)) for c in data["columns"]])
        written = 0
        for batch in all_rows(data):
            writer.writerows([[_csv_cell(v) for v in row] for row in batch])
            written += len(batch)
        text.flush()
    finally:
        text.detach()  # the caller owns (and closes) the binary file
    return written


def write_zip(report: dict, target) -> list[str]:
    """Every widget's CSV in one ZIP (``<tab>/<widget>.csv``), each streamed into its
    member; returns the member names."""
    names, used = [], set()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for tab, widget in _widgets_with_data(report):
            base = f"{slug(tab['title'], 'tab')}/{slug(widget.get('title') or widget['id'])}"
            name, n = base + ".csv", 2
            while name in used:
                name, n = f"{base}_{n}.csv", n + 1
            used.add(name)
            with archive.open(name, "w", force_zip64=True) as member:
                write_csv(widget, member)
            names.append(name)
    return names
