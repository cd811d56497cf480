"""A report's data as Excel (a summary sheet, then one sheet per widget), as the CSV of one
widget, or as a ZIP of every widget's CSV.

Text that a spreadsheet would run as a formula is neutralised by the ``neutralise``
function the caller passes (storage.exports.neutralise, the one rule for every export);
numbers stay numbers, with the widget's number format.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zipfile

from analytics.reports.content import format_number, generated_text, slug

# The widget registry's d3 formats as Excel number formats.
EXCEL_FORMATS = {"": "#,##0.##", ",.0f": "#,##0", ",.2f": "#,##0.00", ".1%": "0.0%", "$,.2f": '"$"#,##0.00',
                 ".3s": "#,##0"}
EXCEL_MAX_ROWS = 1_048_575
_SHEET_BAD = re.compile(r"[\[\]:*?/\\]")


def _excel_value(value):
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    if isinstance(value, (list, dict)):
        return str(value)
    return value


def _widgets_with_data(report: dict):
    for tab in report["tabs"]:
        for widget in tab["widgets"]:
            if widget.get("data") is not None:
                yield tab, widget


def _sheet_name(title: str, used: set) -> str:
    base = _SHEET_BAD.sub("_", title or "Widget").strip("'") or "Widget"
    base = base[:31]
    name, n = base, 2
    while name.lower() in used:
        suffix = f" ({n})"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    used.add(name.lower())
    return name


def write_xlsx(report: dict, target, neutralise) -> None:
    """Write the workbook to ``target`` (a path or a binary file)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    workbook = Workbook(write_only=True)
    bold = Font(bold=True)
    big = Font(bold=True, size=14)

    def cell(sheet, value, font=None, number_format=None):
        c = WriteOnlyCell(sheet, value=_excel_value(neutralise(value)))
        if font:
            c.font = font
        if number_format and isinstance(value, (int, float)) and not isinstance(value, bool):
            c.number_format = number_format
        return c

    summary = workbook.create_sheet("Summary")
    summary.column_dimensions["A"].width = 40
    summary.column_dimensions["B"].width = 22
    summary.column_dimensions["C"].width = 22
    summary.append([cell(summary, report.get("title") or "Report", big)])
    if report.get("description"):
        summary.append([cell(summary, report["description"])])
    summary.append([cell(summary, "Generated", bold), cell(summary, generated_text(report))])
    for flt in report.get("filters") or []:
        summary.append([cell(summary, "Filter", bold), cell(summary, f"{flt['label']}: {flt['value']}")])
    summary.append([])
    kpis = [(tab, w) for tab, w in _widgets_with_data(report) if (w.get("output") or {}).get("kind") == "kpi"]
    if kpis:
        summary.append([cell(summary, h, bold) for h in ("KPI", "Value", "Previous", "Change %", "Shown as")])
        for _tab, widget in kpis:
            out = widget["output"]
            fmt = EXCEL_FORMATS.get(out.get("format") or "", "#,##0.##")
            summary.append([cell(summary, out.get("label")), cell(summary, out.get("value"), number_format=fmt),
                            cell(summary, out.get("previous"), number_format=fmt),
                            cell(summary, out.get("delta_pct"), number_format="0.0"),
                            cell(summary, format_number(out.get("value"), out.get("format")))])
        summary.append([])
    summary.append([cell(summary, "Sheet", bold), cell(summary, "Widget", bold), cell(summary, "Tab", bold),
                    cell(summary, "Rows", bold)])
    used = {"summary"}
    sheets = []
    for tab, widget in _widgets_with_data(report):
        name = _sheet_name(widget.get("title") or widget.get("type") or "Widget", used)
        sheets.append((name, tab, widget))
        summary.append([cell(summary, name), cell(summary, widget.get("title") or ""), cell(summary, tab["title"]),
                        cell(summary, len(widget["data"]["rows"]))])

    for name, _tab, widget in sheets:
        data = widget["data"]
        sheet = workbook.create_sheet(name)
        fmt = EXCEL_FORMATS.get((widget.get("output") or {}).get("format") or "", None) or _spec_format(widget)
        sheet.append([cell(sheet, c, bold) for c in data["columns"]])
        for row in data["rows"][:EXCEL_MAX_ROWS]:
            sheet.append([cell(sheet, v, number_format=fmt) for v in row])
        if data.get("note"):
            sheet.append([])
            sheet.append([cell(sheet, data["note"])])
    workbook.save(target)


def _spec_format(widget: dict) -> str:
    from analytics.widgets.base import D3_FORMATS

    d3 = D3_FORMATS.get(widget.get("number_format") or "auto", "")
    return EXCEL_FORMATS.get(d3, "#,##0.##")


def widget_csv(widget: dict, neutralise) -> bytes:
    """One widget's data as UTF-8 CSV (with a BOM, so Excel reads the accents)."""
    data = widget.get("data")
    if data is None:
        raise ValueError("This widget has no data to export")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(c) for c in data["columns"]])
    for row in data["rows"]:
        writer.writerow(["" if v is None else neutralise(v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v)
                         for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def write_zip(report: dict, target, neutralise) -> list[str]:
    """Every widget's CSV in one ZIP (``<tab>/<widget>.csv``); returns the member names."""
    names, used = [], set()
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for tab, widget in _widgets_with_data(report):
            base = f"{slug(tab['title'], 'tab')}/{slug(widget.get('title') or widget['id'])}"
            name, n = base + ".csv", 2
            while name in used:
                name, n = f"{base}_{n}.csv", n + 1
            used.add(name)
            archive.writestr(name, widget_csv(widget, neutralise))
            names.append(name)
    return names
