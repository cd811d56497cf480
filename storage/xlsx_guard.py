"""Checks an .xlsx workbook before openpyxl expands it (issue 18: a 308 KB file with one
300 MB inline-string cell took 2.2 GB of memory).

An .xlsx is a zip of XML parts. openpyxl (read-only mode) reads some parts whole into
memory (the content types, workbook, styles, theme, properties and the shared-strings
table) and streams the sheet, but it trusts the sheet's ``<dimension>`` and holds each
cell's text, however long. So, before it reads anything:

- the zip: how many members, their declared sizes against the expansion cap (the same
  one compressed CSV has), and each large member's compression ratio;
- the parts read whole: their sizes, at a stated memory cost per byte, count against a
  per-import memory budget (DATAINSIGHT_IMPORT_MEMORY_MB);
- the shared-strings table and the chosen sheet are streamed through expat (which keeps
  no text of its own) counting the actual bytes, each cell's characters (Excel's own
  limit is 32,767), each row's text, and the rows x columns the sheet really spans, so
  the conversion is told how far to read instead of the ``<dimension>``.

Python's zipfile never returns more than a member's declared size (it stops there and
fails the CRC), so a declared size is an upper bound; the streamed count is checked
against it as well.
"""
from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path
from xml.parsers import expat

from storage.errors import IngestError
from storage.limits import Expansion

MB = 1024 * 1024
PIECE = 1024 * 1024
MAX_MEMBERS = 10_000
CELL_CHARS = 32_767  # Excel's own limit on the text of one cell
MAX_ROWS, MAX_COLUMNS = 1_048_576, 16_384  # Excel's grid
MAX_CELLS = 100_000_000  # rows x columns of one sheet this server converts
# A member that expands more than this many times (and past RATIO_FROM bytes) was not
# written by a spreadsheet program: real sheets compress 5 to 50 times, a run of one
# byte about 1,000 times.
MAX_RATIO = 250
RATIO_FROM = 10 * MB
# Memory per unit, for the budget: a shared string costs a str object and a list slot
# besides its characters; a part parsed whole costs about this much per byte of XML as a
# tree; a cell of a row is an openpyxl cell object.
STRING_OVERHEAD = 80
TREE_FACTOR = 16
CELL_OVERHEAD = 200
# XML parts openpyxl's read-only mode does not read whole: sheets (streamed and checked
# here), pivot caches, the calculation chain, drawings, comments, tables. Binaries
# (media, VBA) it does not read at all.
NOT_READ_WHOLE = ("xl/worksheets/", "xl/pivotcache/", "xl/calcchain.xml", "xl/drawings/", "xl/charts/",
                  "xl/comments", "xl/threadedcomments/", "xl/persons/", "xl/tables/", "xl/querytables/",
                  "docprops/app.xml", "customxml/")
XML_SUFFIXES = (".xml", ".rels")
SHARED_STRINGS_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"


def _mb(size: int) -> str:
    return f"{size / MB:,.0f} MB" if size >= MB else f"{size / 1024:,.0f} KB"


def member_count(path: Path) -> int | None:
    """Entries a zip file's end record declares, read before zipfile builds an object
    per entry (millions of empty entries would take gigabytes)."""
    try:
        with open(path, "rb") as handle:
            record = zipfile._EndRecData(handle)  # the stdlib's own reader of that record (zip64 too)
    except OSError:
        return None
    return None if record is None else int(record[zipfile._ECD_ENTRIES_TOTAL])


def check_member_count(path: Path, name: str) -> None:
    count = member_count(path)
    if count is not None and count > MAX_MEMBERS:
        raise IngestError(f"{name} holds {count:,} files; this server opens zip files of at most {MAX_MEMBERS:,}")


def _budget_error(name: str, budget: int, what: str) -> IngestError:
    return IngestError(
        f"{name} needs more than {_mb(budget)} of memory to read ({what}), more than one import may use "
        "(DATAINSIGHT_IMPORT_MEMORY_MB); save the sheet as CSV and upload that")


def _expansion_error(name: str, expansion: Expansion) -> IngestError:
    setting = f" ({expansion.setting})" if expansion.setting else ""
    return IngestError(f"This Excel file ({name}) expands to more than {_mb(expansion.cap_bytes)} when unzipped, "
                       f"which is over the limit{setting}; save the sheet as CSV and upload that")


class WorkbookCheck:
    """One workbook's checks; ``estimate`` is the memory the conversion will hold."""

    def __init__(self, archive: zipfile.ZipFile, name: str, budget: int):
        self.archive = archive
        self.name = name
        self.budget = budget
        self.estimate = 0
        self.spans: dict[str, tuple[int, int]] = {}  # sheets already streamed: (last row, last column)

    def _add(self, amount: int, what: str) -> None:
        self.estimate += amount
        if self.estimate > self.budget:
            raise _budget_error(self.name, self.budget, what)

    def structure(self, expansion: Expansion) -> None:
        infos = self.archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise IngestError(f"{self.name} holds {len(infos):,} files; this server opens zip files of at most "
                              f"{MAX_MEMBERS:,}")
        if sum(info.file_size for info in infos) > expansion.cap_bytes:
            raise _expansion_error(self.name, expansion)
        for info in infos:
            if info.file_size > RATIO_FROM and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise IngestError(
                    f"{self.name} expands to more than {MAX_RATIO} times its size: its part {info.filename} is "
                    f"{_mb(info.compress_size)} zipped and {_mb(info.file_size)} unzipped. An Excel file from a "
                    "spreadsheet program does not compress that much, so it is not read")
        shared = self.shared_strings_part()
        for info in infos:
            lower = info.filename.lower()
            if info.filename != shared and lower.endswith(XML_SUFFIXES) and not lower.startswith(NOT_READ_WHOLE):
                self._add(info.file_size * TREE_FACTOR, f"its part {info.filename}")
        if shared is not None:
            self.shared_strings(shared)
        titles = self._sheet_titles()
        for info in infos:
            lower = info.filename.lower()
            if lower.startswith("xl/worksheets/") and lower.endswith(".xml") and not self._has_dimension(info.filename):
                # openpyxl reads such a sheet to its end while opening the workbook.
                self.sheet(info.filename, titles.get(info.filename))

    def _attributes(self, part: str, wanted: str) -> list[dict]:
        """The attributes of each ``wanted`` element of a small part (already counted)."""
        found = []
        parser = expat.ParserCreate()
        parser.StartElementHandler = lambda tag, attrs: found.append(attrs) if tag.rsplit(":", 1)[-1] == wanted else None
        self._stream(part, parser)
        return found

    def _sheet_titles(self) -> dict[str, str]:
        """{sheet part: sheet name}, from the workbook and its relationships, for messages."""
        names = set(self.archive.namelist())
        if "xl/workbook.xml" not in names or "xl/_rels/workbook.xml.rels" not in names:
            return {}
        targets = {r.get("Id"): r.get("Target", "") for r in self._attributes("xl/_rels/workbook.xml.rels",
                                                                              "Relationship")}
        titles = {}
        for sheet in self._attributes("xl/workbook.xml", "sheet"):
            rel = next((v for k, v in sheet.items() if k.rsplit(":", 1)[-1] == "id"), None)
            target = targets.get(rel, "")
            titles[target.lstrip("/") if target.startswith("/") else "xl/" + target] = sheet.get("name")
        return titles

    def shared_strings_part(self) -> str | None:
        """The shared-strings part named in [Content_Types].xml (already counted small)."""
        try:
            manifest = self.archive.read("[Content_Types].xml")
        except KeyError:
            return None
        for match in re.finditer(rb"<(?:\w+:)?Override\b[^>]*>", manifest):
            tag = match.group(0).decode("utf-8", "replace")
            if SHARED_STRINGS_TYPE in tag:
                part = re.search(r'PartName="/?([^"]+)"', tag)
                if part and part.group(1) in self.archive.namelist():
                    return part.group(1)
        return None

    def _stream(self, part: str, parser) -> None:
        """Feed ``part`` to ``parser`` piece by piece, counting the bytes really read."""
        info = self.archive.getinfo(part)
        read = 0
        try:
            with self.archive.open(info) as source:
                while piece := source.read(PIECE):
                    read += len(piece)
                    if read > info.file_size:  # zipfile stops at the declared size; never trust it alone
                        raise IngestError(f"{self.name} is damaged: {part} is longer than its zip entry says")
                    parser.Parse(piece, False)
            parser.Parse(b"", True)
        except expat.ExpatError:
            raise IngestError(f"{self.name} could not be read as an Excel workbook ({part} is not valid XML)") from None
        except (zipfile.BadZipFile, zlib.error, EOFError):
            raise IngestError(f"{self.name} could not be read as an Excel workbook (it may be corrupt)") from None

    def shared_strings(self, part: str) -> None:
        """Count the table's strings and characters as they stream past; stop as soon
        as holding them would pass the budget, or one passes Excel's cell limit."""
        state = {"chars": 0, "depth_rph": 0, "in_si": False}
        parser = expat.ParserCreate()

        def start(tag, _attrs):
            local = tag.rsplit(":", 1)[-1]
            if local == "si":
                state["in_si"], state["chars"] = True, 0
                self._add(STRING_OVERHEAD, "its shared strings")
            elif local == "rPh":
                state["depth_rph"] += 1

        def end(tag):
            local = tag.rsplit(":", 1)[-1]
            if local == "si":
                state["in_si"] = False
            elif local == "rPh":
                state["depth_rph"] -= 1

        def text(data):
            if state["in_si"] and not state["depth_rph"]:
                state["chars"] += len(data)
                if state["chars"] > CELL_CHARS:
                    raise _cell_error(self.name)
                self._add(len(data) if data.isascii() else 4 * len(data), "its shared strings")

        parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
        self._stream(part, parser)

    def _has_dimension(self, part: str) -> bool:
        """Whether ``part`` has a <dimension> before its cells. Opening a workbook,
        openpyxl reads every sheet up to that element, or to the end when there is none."""
        found = []

        def start(tag, _attrs):
            local = tag.rsplit(":", 1)[-1]
            if local in ("dimension", "sheetData"):
                found.append(local)
                raise _Stop()

        parser = expat.ParserCreate()
        parser.StartElementHandler = start
        try:
            self._stream(part, parser)
        except _Stop:
            pass
        return found == ["dimension"]

    def sheet(self, part: str, title: str | None) -> tuple[int, int]:
        """(last row, last column) that hold a cell, checking each cell's text, each row's
        memory, and rows x columns, while the sheet streams past."""
        if part in self.spans:
            return self.spans[part]
        row = col = 0
        max_row = max_col = 0
        row_cells = row_chars = cell_chars = 0
        in_cell = False
        base = self.estimate
        parser = expat.ParserCreate()

        def start(tag, attrs):
            nonlocal row, col, row_cells, row_chars, cell_chars, in_cell
            local = tag.rsplit(":", 1)[-1]
            if local == "c":
                ref = attrs.get("r")
                col = _column(ref) if ref else col + 1
                in_cell, cell_chars = True, 0
                row_cells += 1
            elif local == "row":
                number = attrs.get("r")
                row = int(number) if number and number.isdigit() else row + 1
                col = row_cells = row_chars = 0

        def end(tag):
            nonlocal in_cell, max_row, max_col
            local = tag.rsplit(":", 1)[-1]
            if local == "c":
                in_cell = False
                max_row, max_col = max(max_row, row), max(max_col, col)
                if max_row > MAX_ROWS or max_col > MAX_COLUMNS or max_row * max_col > MAX_CELLS:
                    raise _grid_error(self.name, title, max_row, max_col)
                # The row openpyxl builds: a cell object per column up to the widest.
                if base + max_col * CELL_OVERHEAD + row_chars * 4 > self.budget:
                    raise _budget_error(self.name, self.budget,
                                        f"a row of the sheet {title!r}" if title is not None else "a row of a sheet")

        def text(data):
            nonlocal cell_chars, row_chars
            if in_cell:
                cell_chars += len(data)
                row_chars += len(data)
                if cell_chars > CELL_CHARS:
                    raise _cell_error(self.name)

        parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, text
        self._stream(part, parser)
        self.spans[part] = (max_row, max_col)
        return max_row, max_col


class _Stop(Exception):
    """Ends a stream early: what was looked for is found."""


_LETTERS = re.compile(r"[A-Za-z]{1,3}")


def _column(ref: str) -> int:
    letters = _LETTERS.match(ref)
    if not letters:
        return 0
    number = 0
    for letter in letters.group(0).upper():
        number = number * 26 + ord(letter) - 64
    return number


def _cell_error(name: str) -> IngestError:
    return IngestError(f"A cell of {name} holds more than {CELL_CHARS:,} characters, which is more than Excel itself "
                       "allows; this file was not made by a spreadsheet program")


def _grid_error(name: str, title: str | None, rows: int, columns: int) -> IngestError:
    sheet = f"The sheet {title!r}" if title is not None else "A sheet"
    return IngestError(
        f"{sheet} of {name} spans {rows:,} rows x {columns:,} columns ({rows * columns:,} cells), more "
        f"than the {MAX_CELLS:,} cells this server reads from one sheet (or past Excel's own "
        f"{MAX_ROWS:,} x {MAX_COLUMNS:,})")
