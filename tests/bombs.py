"""Small files that expand into huge ones, built the way an attacker would, streamed so
the test itself never holds the expanded bytes: Excel workbooks (a giant inline-string
cell, a shared-strings table of millions of entries, a sheet claiming a billion cells)
and a gzip bomb of CSV lines."""
from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

MB = 1024 * 1024
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_R_NS = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '{shared}</Types>'
)
_SHARED_TYPE = ('<Override PartName="/xl/sharedStrings.xml" '
                'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WORKBOOK = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook {_NS} {_R_NS}>'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/>{shared}</Relationships>'
)
_SHARED_REL = ('<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
               'sharedStrings" Target="sharedStrings.xml"/>')


def _stream(archive: zipfile.ZipFile, name: str, pieces) -> None:
    """Write a member piece by piece: the expanded part is never in memory."""
    with archive.open(name, "w", force_zip64=True) as out:
        for piece in pieces:
            out.write(piece)


def _repeat(unit: bytes, total: int, block: int = 4 * MB):
    chunk = unit * max(1, block // len(unit))
    written = 0
    while written < total:
        piece = chunk[: total - written]
        yield piece
        written += len(piece)


def _workbook(path: Path, sheet_pieces, shared_pieces=None) -> Path:
    shared = shared_pieces is not None
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES.format(shared=_SHARED_TYPE if shared else ""))
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS.format(shared=_SHARED_REL if shared else ""))
        if shared:
            _stream(archive, "xl/sharedStrings.xml", shared_pieces)
        _stream(archive, "xl/worksheets/sheet1.xml", sheet_pieces)
    return path


def _sheet(rows_xml, dimension: str | None = None) -> list:
    head = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet {_NS}>'
    head += f'<dimension ref="{dimension}"/>' if dimension else ""
    return [(head + "<sheetData>").encode(), *rows_xml, b"</sheetData></worksheet>"]


def inline_string_bomb(path: Path, cell_mb: int = 300) -> Path:
    """One inline-string cell of ``cell_mb`` MB (the 308 KB file of issue 18)."""
    def pieces():
        yield from _sheet([b'<row r="1"><c r="A1" t="inlineStr"><is><t>'])[:2]
        yield from _repeat(b"A", cell_mb * MB)
        yield b"</t></is></c></row></sheetData></worksheet>"
    return _workbook(path, pieces())


def shared_strings_bomb(path: Path, count: int = 10_000_000) -> Path:
    """A shared-strings table of ``count`` entries (a few MB zipped, gigabytes as Python
    strings), used by one small sheet."""
    entry = b"<si><t>abcdefghijklmnop</t></si>"
    head = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            f'<sst {_NS} count="{count}" uniqueCount="{count}">').encode()
    shared = [head, *_repeat(entry, count * len(entry)), b"</sst>"]
    sheet = _sheet([b'<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'])
    return _workbook(path, sheet, shared)


def inline_cells(path: Path, texts: list[str]) -> Path:
    """A workbook with one column of inline-string cells (openpyxl itself would cut
    texts at Excel's 32,767 characters when saving)."""
    rows = [f'<row r="{i}"><c r="A{i}" t="inlineStr"><is><t>{text}</t></is></c></row>'.encode()
            for i, text in enumerate(texts, 1)]
    return _workbook(path, _sheet(rows))


def shared_strings(path: Path, texts: list[str]) -> Path:
    """A workbook whose shared-strings table holds ``texts``, the first used by A1."""
    shared = [f'<sst {_NS} count="{len(texts)}" uniqueCount="{len(texts)}">'.encode(),
              *(f"<si><t>{text}</t></si>".encode() for text in texts), b"</sst>"]
    return _workbook(path, _sheet([b'<row r="1"><c r="A1" t="s"><v>0</v></c></row>']), shared)


def billion_cells_bomb(path: Path) -> Path:
    """A sheet whose first and last cells are A1 and XFD1048576: 17 billion cells for a
    reader that fills the grid in between."""
    sheet = _sheet([b'<row r="1"><c r="A1"><v>1</v></c></row>',
                    b'<row r="1048576"><c r="XFD1048576"><v>2</v></c></row>'], dimension="A1:XFD1048576")
    return _workbook(path, sheet)


def gzip_csv_bomb(path: Path, expanded_mb: int = 1024) -> Path:
    """``expanded_mb`` MB of "a,b" lines gzipped (about 1 MB a GB)."""
    with gzip.open(path, "wb", compresslevel=9) as out:
        out.write(b"a,b\n")
        for piece in _repeat(b"1,2\n", expanded_mb * MB - 4):
            out.write(piece)
    return path
