"""A streaming .xlsx writer: rows go straight into the sheet's XML inside the ZIP as they
come, so a workbook of a million rows is written in constant memory and about ten times
faster than openpyxl's write-only mode (which builds a cell object per value; ~40 µs a
cell on this machine, 80 s for 336,776 rows of six columns).

It writes what reports and dataset exports need and nothing more: several sheets, text as
inline strings (no shared-string table growing with the data; every text neutralised
against formulas, ``analytics.reports.formulas``), numbers, booleans, dates
and times as Excel serial numbers with a date format, a few fonts (bold, title, note),
number formats and column widths. The files open in Excel, LibreOffice and openpyxl
(the tests read every file back with openpyxl).
"""
from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import zipfile
from html import escape

from analytics.reports.formulas import TRIGGERS, cell_text, neutralise, sheet_title

# Characters XML 1.0 cannot hold (openpyxl refuses them too); they are dropped.
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
MAX_CELL_TEXT = 32_767  # Excel's limit for one cell
FONTS = {"normal": '<font><sz val="11"/><name val="Calibri"/></font>',
         "bold": '<font><b/><sz val="11"/><name val="Calibri"/></font>',
         "title": '<font><b/><sz val="14"/><name val="Calibri"/></font>',
         "note": '<font><i/><sz val="11"/><color rgb="FF6C757D"/><name val="Calibri"/></font>'}
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
TIME_FORMAT = "hh:mm:ss"
_EPOCH = dt.datetime(1899, 12, 30)
_EPOCH_DATE = _EPOCH.date()
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_NS_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_FLUSH_ROWS = 2_000


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _text(value: str) -> str:
    if _ILLEGAL.search(value):
        value = _ILLEGAL.sub("", value)
    if len(value) > MAX_CELL_TEXT:
        value = value[:MAX_CELL_TEXT]
    return escape(value, quote=False)


class XlsxWriter:
    """``with XlsxWriter(target) as book: sheet = book.sheet("Data", widths=[20, 12]);
    sheet.append([...], style=book.style("bold"))``. Sheets are written one after the
    other: starting a sheet ends the previous one."""

    def __init__(self, target):
        self._zip = zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1)
        self._sheets: list[str] = []
        self._current: Sheet | None = None
        self._fonts = list(FONTS)
        self._formats: list[str] = []  # custom number formats, ids from 164
        self._xfs: list[tuple[int, int]] = [(0, 0)]  # (font id, number format id); 0 is the default
        self.date_styles = {dt.datetime: self.style(number_format=DATETIME_FORMAT),
                            dt.date: self.style(number_format=DATE_FORMAT),
                            dt.time: self.style(number_format=TIME_FORMAT)}

    def __enter__(self) -> "XlsxWriter":
        return self

    def __exit__(self, kind, *_exc) -> None:
        if kind is None:
            self.close()
        else:
            self._zip.close()

    def style(self, font: str = "normal", number_format: str | None = None) -> int:
        """The id of a cell style (a font of FONTS and an Excel number format)."""
        font_id = self._fonts.index(font)
        format_id = 0
        if number_format:
            if number_format not in self._formats:
                self._formats.append(number_format)
            format_id = 164 + self._formats.index(number_format)
        key = (font_id, format_id)
        if key not in self._xfs:
            self._xfs.append(key)
        return self._xfs.index(key)

    def sheet(self, name: str, widths: list[float] | None = None) -> "Sheet":
        """Start the next sheet; its name is made valid and formula-free (``sheet_title``)."""
        name = sheet_title(name)
        if self._current is not None:
            self._current.close()
        self._sheets.append(name)
        self._current = Sheet(self, self._zip.open(f"xl/worksheets/sheet{len(self._sheets)}.xml", "w",
                                                   force_zip64=True), widths)
        return self._current

    def close(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None
        if not self._sheets:
            self.sheet("Sheet1").close()
        count = len(self._sheets)
        sheets = "".join(f'<sheet name="{escape(name)}" sheetId="{i}" r:id="rId{i}"/>'
                         for i, name in enumerate(self._sheets, start=1))
        rels = "".join(f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                       f'relationships/worksheet" Target="worksheets/sheet{i}.xml"/>' for i in range(1, count + 1))
        rels += (f'<Relationship Id="rId{count + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                 'relationships/styles" Target="styles.xml"/>')
        overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
                            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                            for i in range(1, count + 1))
        head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        self._zip.writestr("[Content_Types].xml", head + (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>' + overrides + "</Types>"))
        self._zip.writestr("_rels/.rels", head + (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="xl/workbook.xml"/></Relationships>'))
        self._zip.writestr("xl/workbook.xml", head + f"<workbook {_NS} {_NS_R}><sheets>{sheets}</sheets></workbook>")
        self._zip.writestr("xl/_rels/workbook.xml.rels", head + (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f"{rels}</Relationships>"))
        self._zip.writestr("xl/styles.xml", head + self._styles_xml())
        self._zip.close()

    def _styles_xml(self) -> str:
        formats = "".join(f'<numFmt numFmtId="{164 + i}" formatCode="{escape(code)}"/>'
                          for i, code in enumerate(self._formats))
        xfs = "".join(f'<xf numFmtId="{fmt}" fontId="{font}" fillId="0" borderId="0" xfId="0"'
                      + (' applyNumberFormat="1"' if fmt else "") + (' applyFont="1"' if font else "") + "/>"
                      for font, fmt in self._xfs)
        return (f"<styleSheet {_NS}>"
                + (f'<numFmts count="{len(self._formats)}">{formats}</numFmts>' if self._formats else "")
                + f'<fonts count="{len(self._fonts)}">{"".join(FONTS[f] for f in self._fonts)}</fonts>'
                '<fills count="2"><fill><patternFill patternType="none"/></fill>'
                '<fill><patternFill patternType="gray125"/></fill></fills>'
                '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
                '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
                f'<cellXfs count="{len(self._xfs)}">{xfs}</cellXfs>'
                '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
                "</styleSheet>")


class Sheet:
    """One worksheet being written; rows are appended in order."""

    def __init__(self, book: XlsxWriter, stream, widths: list[float] | None):
        self._book = book
        self._stream = stream
        self._pending: list[str] = []
        self._letters: list[str] = []
        self.rows = 0
        cols = ""
        if widths:
            cols = "<cols>" + "".join(f'<col min="{i}" max="{i}" width="{w:g}" customWidth="1"/>'
                                      for i, w in enumerate(widths, start=1) if w) + "</cols>"
        self._stream.write(('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                            f"<worksheet {_NS} {_NS_R}>{cols}<sheetData>").encode("utf-8"))

    def append(self, values, style: int | list | None = None) -> None:
        """One row. ``style`` is a style id for every cell, or a list of them (one per
        cell; None for the default). None values leave the cell empty. Every text is
        neutralised here (``formulas.neutralise``), headers and titles as much as data,
        so no caller can let a formula through."""
        self.rows += 1
        n = self.rows
        while len(self._letters) < len(values):
            self._letters.append(column_letter(len(self._letters)))
        letters = self._letters
        dates = self._book.date_styles
        parts = [f'<row r="{n}">']
        add = parts.append
        for i, value in enumerate(values):
            if value is None:
                continue
            s = style[i] if isinstance(style, list) else style
            attr = f' s="{s}"' if s else ""
            kind = type(value)
            if kind is str:
                if value:
                    if value[0] in TRIGGERS:
                        value = neutralise(value)
                    add(f'<c r="{letters[i]}{n}" t="inlineStr"{attr}><is><t xml:space="preserve">{_text(value)}'
                        "</t></is></c>")
            elif kind is bool:
                add(f'<c r="{letters[i]}{n}" t="b"{attr}><v>{int(value)}</v></c>')
            elif kind is int or kind is float:
                if kind is int or math.isfinite(value):
                    add(f'<c r="{letters[i]}{n}"{attr}><v>{value!r}</v></c>')
            elif isinstance(value, (dt.datetime, dt.date, dt.time)):
                serial, base = _serial(value)  # a date keeps its date format whatever the row's style
                add(f'<c r="{letters[i]}{n}" s="{dates[base]}"><v>{serial!r}</v></c>')
            elif isinstance(value, decimal.Decimal):
                if value.is_finite():
                    add(f'<c r="{letters[i]}{n}"{attr}><v>{float(value)!r}</v></c>')
            elif isinstance(value, (int, float)):  # numpy-like and bool subclasses
                add(f'<c r="{letters[i]}{n}"{attr}><v>{float(value)!r}</v></c>')
            else:
                add(f'<c r="{letters[i]}{n}" t="inlineStr"{attr}><is><t xml:space="preserve">{_text(cell_text(value))}'
                    "</t></is></c>")
        add("</row>")
        self._pending.append("".join(parts))
        if len(self._pending) >= _FLUSH_ROWS:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._stream.write("".join(self._pending).encode("utf-8"))
            self._pending = []

    def close(self) -> None:
        if self._stream is None:
            return
        self._flush()
        self._stream.write(b"</sheetData></worksheet>")
        self._stream.close()
        self._stream = None


def _serial(value) -> tuple[float, type]:
    """An Excel serial number (days since 1899-12-30) and which date style it takes."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.replace(tzinfo=None)
        delta = value - _EPOCH
        return delta.days + delta.seconds / 86_400 + delta.microseconds / 86_400_000_000, dt.datetime
    if isinstance(value, dt.date):
        return float((value - _EPOCH_DATE).days), dt.date
    return (value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6) / 86_400, dt.time
