"""Turning an uploaded file into something DuckDB reads: detect the format from its
bytes (not only its name), decompress with a size cap, decode any text encoding to
UTF-8, and convert Excel sheets to CSV. Everything streams: memory stays bounded
whatever the file size."""
from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import gzip
import os
import re
import shutil
import uuid
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from storage import xlsx_guard
from storage.errors import IngestError
from storage.jobs import temp_owner
from storage.limits import Expansion

MB = 1024 * 1024

CHUNK = 4 * 1024 * 1024
SNIFF_BYTES = 1024 * 1024
DISK_CHECK_BYTES = 64 * MB  # how often an expanding file looks at the free disk again
DEFAULT_MEMORY_BUDGET = 512 * MB  # DATAINSIGHT_IMPORT_MEMORY_MB's default
# .xls files are read whole by xlrd, at about this many bytes of memory per byte of file.
XLS_MEMORY_FACTOR = 8
# A Parquet footer is read whole; a real one is kilobytes to a few megabytes.
MAX_PARQUET_FOOTER = 64 * MB

MAGIC_ZIP = b"PK\x03\x04"
MAGIC_EMPTY_ZIP = b"PK\x05\x06"
MAGIC_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAGIC_GZIP = b"\x1f\x8b"
MAGIC_PARQUET = b"PAR1"

TEXT_EXTENSIONS = (".csv", ".tsv", ".txt", ".tab", ".psv", ".dat")
JSON_EXTENSIONS = (".json", ".ndjson", ".jsonl")
EXCEL_EXTENSIONS = (".xlsx", ".xlsm", ".xls")


@dataclass
class Source:
    """A file DuckDB can read, and how it got there."""

    kind: str  # csv | json | parquet
    path: Path
    format: str  # what the person uploaded: csv, tsv, csv.gz, zip, xlsx, xls, json, parquet
    sheet: str | None = None
    notes: list[str] = field(default_factory=list)
    temp_files: list[Path] = field(default_factory=list)
    # The text encoding the file was read in: the person's choice when prepare() got
    # one, else what detect_encoding found (None for Excel and Parquet).
    encoding: str | None = None
    # What a copy made while preparing it may grow to (see storage.limits.Expansion).
    expansion: Expansion | None = None

    def cleanup(self) -> None:
        for path in self.temp_files:
            try:
                path.unlink()
            except FileNotFoundError:
                pass


def _lower_name(name: str) -> str:
    return (name or "").strip().lower()


def _temp(work_dir: Path, suffix: str) -> Path:
    # The pid and host in the name let start-up remove what a killed process of this host
    # left (see DatasetService.recover); without it a dead import's copy stayed for ten minutes.
    work_dir.mkdir(parents=True, exist_ok=True)
    return work_dir / f"{temp_owner()}-{uuid.uuid4().hex}{suffix}"


def human_size(size: int) -> str:
    """1.5 GB, 200 MB, 64 KB: sizes in messages, never "0 MB"."""
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            value = size / factor
            return f"{value:.1f} {unit}".replace(".0 ", " ") if value < 10 else f"{value:.0f} {unit}"
    return f"{size} bytes"


def as_expansion(limit: Expansion | int) -> Expansion:
    return limit if isinstance(limit, Expansion) else Expansion(int(limit))


def _over_limit(what: str, limit: Expansion, when: str = "when decompressed") -> IngestError:
    setting = f" ({limit.setting})" if limit.setting else ""
    if limit.setting == "DATAINSIGHT_DISK_RESERVE_MB":
        setting = " of the server's free disk, less the space it keeps free (DATAINSIGHT_DISK_RESERVE_MB)"
    elif limit.setting == "DATAINSIGHT_MAX_UPLOAD_MB":
        setting = " (8 times DATAINSIGHT_MAX_UPLOAD_MB)"
    return IngestError(f"{what} expands to more than {human_size(limit.cap_bytes)} {when}, "
                       f"which is over the limit{setting}; upload the data uncompressed or in smaller parts")


def _copy_capped(reader, dest: Path, limit: Expansion | int, what: str) -> None:
    """Copy a decompressing reader to ``dest``, stopping at the cap: a small zip or gzip
    can expand to terabytes (a zip bomb), so the output is counted, not trusted. The free
    disk is looked at again as it grows: other imports write too."""
    limit = as_expansion(limit)
    written = next_disk_check = 0
    with open(dest, "wb") as out:
        while True:
            chunk = reader.read(CHUNK)
            if not chunk:
                break
            written += len(chunk)
            if written > limit.cap_bytes:
                raise _over_limit(what, limit)
            if limit.reserve_bytes and written >= next_disk_check:
                next_disk_check = written + DISK_CHECK_BYTES
                _check_disk(dest, limit, what, len(chunk))
            out.write(chunk)


def _check_disk(dest: Path, limit: Expansion, what: str, coming: int = CHUNK) -> None:
    if shutil.disk_usage(dest.parent).free - coming < limit.reserve_bytes:
        raise IngestError(
            f"{what} expands to more than the server's free disk allows: it keeps "
            f"{human_size(limit.reserve_bytes)} free (DATAINSIGHT_DISK_RESERVE_MB). Upload the data "
            "in smaller parts, or ask the administrator for more space")


def _decompress_gzip(path: Path, work_dir: Path, cap_bytes, name: str) -> Path:
    dest = _temp(work_dir, ".raw")
    try:
        with gzip.open(path, "rb") as reader:
            _copy_capped(reader, dest, cap_bytes, f"The gzip file {name}")
    except IngestError:
        dest.unlink(missing_ok=True)
        raise
    except (OSError, EOFError, zlib.error):  # BadGzipFile is an OSError
        dest.unlink(missing_ok=True)
        raise IngestError(f"{name} is not a readable gzip file (it may be cut short or corrupt)") from None
    return dest


def _is_excel_zip(archive: zipfile.ZipFile) -> bool:
    names = set(archive.namelist())
    return "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names)


def _open_zip(path: Path, name: str) -> zipfile.ZipFile:
    """A ZipFile, once its end record says it holds no more entries than we open."""
    xlsx_guard.check_member_count(path, name)
    return zipfile.ZipFile(path)


def _extract_single_member(path: Path, work_dir: Path, cap_bytes, name: str) -> tuple[Path, str]:
    try:
        archive = _open_zip(path, name)
    except zipfile.BadZipFile:
        raise IngestError(f"{name} is not a readable zip file (it may be cut short or corrupt)") from None
    with archive:
        members = [
            info for info in archive.infolist()
            if not info.is_dir() and not info.filename.startswith("__MACOSX/")
            and not os.path.basename(info.filename).startswith(".")
        ]
        if not members:
            raise IngestError(f"The zip file {name} holds no files")
        if len(members) > 1:
            listed = ", ".join(os.path.basename(m.filename) for m in members[:5])
            raise IngestError(f"The zip file {name} holds {len(members)} files ({listed}); zip one file at a time")
        member = members[0]
        if member.flag_bits & 0x1:
            raise IngestError(f"The zip file {name} is password-protected")
        dest = _temp(work_dir, ".raw")
        try:
            with archive.open(member) as reader:
                _copy_capped(reader, dest, cap_bytes, f"The zip file {name}")
        except IngestError:
            dest.unlink(missing_ok=True)
            raise
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, zlib.error):
            dest.unlink(missing_ok=True)
            raise IngestError(f"The zip file {name} could not be read (it may be corrupt)") from None
        return dest, os.path.basename(member.filename)


# --- text encodings -------------------------------------------------------------------


def _utf8_counts(data: bytes, final: bool) -> tuple[int, int]:
    """(valid non-ASCII characters, invalid byte sequences) in ``data`` read as UTF-8.
    With final=False a character cut at the end of ``data`` is not counted as invalid."""
    text = codecs.getincrementaldecoder("utf-8")("replace").decode(data, final=final)
    invalid = text.count("\ufffd") - data.count(b"\xef\xbf\xbd")  # a real U+FFFD is no error
    non_ascii = len(text) - len(text.encode("ascii", "ignore"))
    return non_ascii - text.count("\ufffd"), invalid


def _utf8_or_cp1252(valid_non_ascii: int, invalid: int) -> str:
    """Bytes that are not valid UTF-8 mean either an 8-bit file (Windows' cp1252: every é
    is one invalid byte) or a UTF-8 file with a few damaged bytes. A real UTF-8 file shows
    more valid multi-byte characters than damage; a cp1252 file shows almost none."""
    return "utf-8" if valid_non_ascii > invalid else "cp1252"


def detect_encoding(sample: bytes) -> str:
    """'utf-8', 'utf-8-sig', 'utf-16', 'utf-16-le', 'utf-16-be' or 'cp1252' for a text
    file's first bytes. 'utf-8' may still hold a few invalid bytes (see utf8_damage)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(sample) >= 4:
        even_nuls = sample[0:200:2].count(0)
        odd_nuls = sample[1:200:2].count(0)
        half = min(len(sample), 200) // 2
        if odd_nuls > half * 0.6 and even_nuls == 0:
            return "utf-16-le"
        if even_nuls > half * 0.6 and odd_nuls == 0:
            return "utf-16-be"
    valid, invalid = _utf8_counts(sample, final=False)
    return "utf-8" if invalid == 0 else _utf8_or_cp1252(valid, invalid)


def utf8_damage(sample: bytes) -> int:
    """How many invalid byte sequences a UTF-8 sample holds (a character cut at the end of
    the sample is not damage)."""
    return _utf8_counts(sample, final=False)[1]


def looks_binary(sample: bytes) -> bool:
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    control = sum(1 for b in sample[:4096] if b < 9 or 13 < b < 32)
    return control > len(sample[:4096]) * 0.05


def transcode_to_utf8(path: Path, encoding: str, work_dir: Path, errors: str = "strict",
                      limit: Expansion | None = None) -> tuple[Path, int]:
    """Stream ``path`` from ``encoding`` to a UTF-8 file; returns it and the number of
    byte sequences that had to be replaced with U+FFFD (only with errors='replace').
    The copy can be up to three times the file (cp1252 to UTF-8), so with a ``limit`` it
    stops where a decompressed file would: past the cap or the disk's reserve."""
    dest = _temp(work_dir, ".csv")
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    replaced = 0
    first = True
    written = next_disk_check = 0
    try:
        with open(path, "rb") as src, open(dest, "w", encoding="utf-8", newline="") as out:
            while True:
                chunk = src.read(CHUNK)
                if limit is not None:
                    written += len(chunk)  # bytes read: the copy grows with them (as large for 8-bit encodings)
                    if written > limit.cap_bytes:
                        raise _over_limit("The file", limit, "when converted to UTF-8")
                    if limit.reserve_bytes and written >= next_disk_check:
                        next_disk_check = written + DISK_CHECK_BYTES
                        _check_disk(dest, limit, "The file converted to UTF-8")
                text = decoder.decode(chunk, final=not chunk)
                if errors == "replace":
                    genuine = chunk.count(b"\xef\xbf\xbd") if encoding.startswith("utf-8") else 0
                    replaced += text.count("\ufffd") - genuine
                if text:
                    out.write(text.lstrip("\ufeff") if first else text)
                    first = False
                if not chunk:
                    break
    except (UnicodeDecodeError, OSError, IngestError):
        dest.unlink(missing_ok=True)
        raise
    return dest, replaced


ENCODING_LABELS = {"utf-16": "UTF-16", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16", "cp1252": "Windows-1252 (Latin-1)",
                   "iso-8859-1": "ISO-8859-1", "iso-8859-15": "ISO-8859-15 (Latin-9)", "utf-8": "UTF-8",
                   "utf-8-sig": "UTF-8"}
# The encodings a person may choose on the import screen or in the API.
ENCODING_CHOICES = ("utf-8", "cp1252", "iso-8859-1", "iso-8859-15", "utf-16")


def replaced_note(count: int) -> str:
    return f"{count:,} byte sequence(s) that were not valid UTF-8 were replaced with \ufffd"


def _decode_to_utf8(path: Path, encoding: str, work_dir: Path, source: Source) -> Path:
    """A UTF-8 copy of a text file in ``encoding``, noted on the source. Bytes the
    encoding cannot decode become U+FFFD rather than failing the whole file."""
    utf8, replaced = transcode_to_utf8(path, encoding, work_dir, errors="replace", limit=source.expansion)
    source.temp_files.append(utf8)
    if encoding.startswith("utf-8"):
        source.notes.append(replaced_note(replaced))
    else:
        source.notes.append(f"Decoded from {ENCODING_LABELS.get(encoding, encoding)}")
    return utf8


def decode_damaged_text(path: Path, work_dir: Path, limit: Expansion | None = None) -> tuple[Path, str]:
    """For a file that read as UTF-8 in its first megabyte but holds invalid bytes further
    on: a UTF-8 copy and a note for the person. The whole file decides between a late
    cp1252 character (decoded) and damaged UTF-8 (replaced with U+FFFD)."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    valid = invalid = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            text = decoder.decode(chunk)
            invalid += text.count("\ufffd") - chunk.count(b"\xef\xbf\xbd")
            valid += len(text) - len(text.encode("ascii", "ignore")) - text.count("\ufffd")
    encoding = _utf8_or_cp1252(valid, invalid)
    utf8, replaced = transcode_to_utf8(path, encoding, work_dir, errors="replace", limit=limit)
    if encoding == "cp1252":
        return utf8, f"Decoded from {ENCODING_LABELS['cp1252']}"
    return utf8, replaced_note(replaced)


def _readable_as_is(encoding: str, sample: bytes) -> bool:
    """Whether DuckDB can read the file itself: clean UTF-8, with or without a BOM."""
    return encoding in ("utf-8", "utf-8-sig") and not utf8_damage(sample)


def _binary_error() -> IngestError:
    return IngestError("The file is not text: it looks like binary data. Upload CSV, Excel, JSON or Parquet")


def _prepare_text(path: Path, fmt: str, work_dir: Path, source: Source) -> Source:
    with open(path, "rb") as handle:
        sample = handle.read(SNIFF_BYTES)
    if not sample.strip():
        raise IngestError("The file is empty")
    encoding = source.encoding or detect_encoding(sample)
    source.encoding = encoding
    # Judge binary-ness on the decoded sample, before any (possibly long) transcoding.
    if looks_binary(sample.decode(encoding, errors="replace").encode("utf-8")):
        raise _binary_error()
    source.path = path if _readable_as_is(encoding, sample) else _decode_to_utf8(path, encoding, work_dir, source)
    source.kind = "csv"
    source.format = fmt
    return source


# --- Excel ----------------------------------------------------------------------------


def _has_time_part(number_format: str | None) -> bool:
    """Whether an Excel date format shows a time: yyyy-mm-dd h:mm does, dd/mm/yyyy not.
    Bracketed ([$-409], [h]) and quoted parts are locale codes and literals, not fields."""
    fmt = re.sub(r'\[[^\]]*\]|"[^"]*"', "", number_format or "")
    return bool(re.search(r"[hs]", fmt, re.IGNORECASE))


def _excel_value(value, number_format: str | None = None):
    """A cell as CSV text. Excel keeps dates as datetimes; a cell formatted as a date
    without a time is written as a date so the column becomes a date, not a timestamp."""
    if isinstance(value, dt.datetime):
        if number_format is not None and not _has_time_part(number_format):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return value


def list_sheets(path: Path, name: str, limit: Expansion | int | None = None,
                memory_budget: int = DEFAULT_MEMORY_BUDGET) -> list[str]:
    """The sheet names of an Excel workbook, or a clear error."""
    refusal = not_a_table(path)
    if refusal:
        raise IngestError(refusal)
    kind = _excel_kind(path, name)
    try:
        if kind == "xlsx":
            import openpyxl

            # openpyxl reads the shared strings and styles whole, even to list sheets.
            _check_xlsx(path, name, limit, memory_budget)

            # A file handle, not the path: openpyxl refuses paths that do not end in .xlsx,
            # and uploads are stored under names of our own.
            with open(path, "rb") as handle:
                workbook = openpyxl.load_workbook(handle, read_only=True)
                try:
                    return list(workbook.sheetnames)
                finally:
                    workbook.close()
        import xlrd

        _check_xls(path, name, memory_budget)
        return xlrd.open_workbook(str(path), on_demand=True).sheet_names()
    except IngestError:
        raise
    except Exception as exc:  # openpyxl and xlrd raise many kinds for a bad file
        raise IngestError(_excel_error(name, exc)) from None


def _excel_error(name: str, exc: Exception) -> str:
    text = str(exc).lower()
    if "encrypt" in text or "password" in text:
        return f"{name} is password-protected; save it without a password and upload it again"
    return f"{name} could not be read as an Excel workbook (it may be corrupt or saved in another format)"


def _ole2_holds(path: Path, stream_names: tuple[str, ...]) -> set[str]:
    """Which of ``stream_names`` appear in an OLE2 (legacy Office) file. Directory
    entries store names in UTF-16; scanning for them avoids parsing the container."""
    wanted = {n: n.encode("utf-16-le") for n in stream_names}
    found: set[str] = set()
    tail = b""
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            window = tail + chunk
            found.update(n for n, encoded in wanted.items() if encoded in window)
            tail = window[-64:]
    return found


def _excel_kind(path: Path, name: str) -> str:
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(MAGIC_ZIP):
        return "xlsx"
    if head.startswith(MAGIC_OLE2):
        streams = _ole2_holds(path, ("EncryptedPackage", "Workbook", "Book"))
        # Excel saves a password-protected .xlsx inside an OLE2 container; an .xls that
        # was only renamed .xlsx holds a Workbook stream and is read as the .xls it is.
        if "EncryptedPackage" in streams:
            raise IngestError(f"{name} is password-protected; save it without a password and upload it again")
        if _lower_name(name).endswith((".xlsx", ".xlsm")) and not streams & {"Workbook", "Book"}:
            raise IngestError(f"{name} is password-protected; save it without a password and upload it again")
        return "xls"
    raise IngestError(f"{name} is named like an Excel workbook but is not one")


def _check_xlsx(path: Path, name: str, limit: Expansion | int | None, memory_budget: int) -> xlsx_guard.WorkbookCheck:
    """The zip and the parts openpyxl reads whole, checked before it reads them."""
    with _open_zip(path, name) as archive:
        check = xlsx_guard.WorkbookCheck(archive, name, memory_budget)
        check.structure(as_expansion(limit) if limit is not None else Expansion(2**62))
    return check


def _check_xls(path: Path, name: str, memory_budget: int) -> None:
    """xlrd reads a legacy workbook whole: its size decides the memory."""
    if path.stat().st_size * XLS_MEMORY_FACTOR > memory_budget:
        raise IngestError(
            f"{name} needs more than {human_size(memory_budget)} of memory to read (a legacy .xls file is read "
            "whole), more than one import may use (DATAINSIGHT_IMPORT_MEMORY_MB); save it as .xlsx or CSV and "
            "upload that")


def _xlsx_rows(path: Path, name: str, sheet: str | None, limit=None, memory_budget: int = DEFAULT_MEMORY_BUDGET):
    """(chosen sheet, rows of CSV values) of an .xlsx workbook, streamed. The sheet is
    streamed once through the guard first: its real last row and column bound the
    reading, not the <dimension> the file claims."""
    import openpyxl

    check = _check_xlsx(path, name, limit, memory_budget)
    with open(path, "rb") as handle:  # a handle: see list_sheets
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        try:
            chosen = sheet or workbook.sheetnames[0]
            if chosen not in workbook.sheetnames:
                raise IngestError(f"{name} has no sheet named {chosen!r}")
            yield chosen
            part = getattr(workbook[chosen], "_worksheet_path", None)
            if part is None:
                raise IngestError(f"The sheet {chosen!r} of {name} is a chart, not a table")
            with _open_zip(path, name) as archive:
                check.archive = archive
                max_row, max_col = check.sheet(part, chosen)
            if not max_row:
                return
            for row in workbook[chosen].iter_rows(max_row=max_row, max_col=max_col):
                yield [_excel_value(cell.value, getattr(cell, "number_format", None)) for cell in row]
        finally:
            workbook.close()


def _xls_rows(path: Path, name: str, sheet: str | None, memory_budget: int = DEFAULT_MEMORY_BUDGET):
    """(chosen sheet, rows of CSV values) of a legacy .xls workbook."""
    import xlrd

    _check_xls(path, name, memory_budget)
    book = xlrd.open_workbook(str(path), on_demand=True, formatting_info=True)
    try:
        chosen = sheet or book.sheet_names()[0]
        if chosen not in book.sheet_names():
            raise IngestError(f"{name} has no sheet named {chosen!r}")
        yield chosen
        worksheet = book.sheet_by_name(chosen)
        for r in range(worksheet.nrows):
            yield [_xls_value(book, cell) for cell in worksheet.row(r)]
    finally:
        book.release_resources()


def _xls_value(book, cell):
    import xlrd

    if cell.ctype == xlrd.XL_CELL_DATE:
        xf = book.xf_list[cell.xf_index]
        number_format = book.format_map[xf.format_key].format_str if xf.format_key in book.format_map else None
        return _excel_value(xlrd.xldate_as_datetime(cell.value, book.datemode), number_format)
    if cell.ctype == xlrd.XL_CELL_BOOLEAN:
        return _excel_value(bool(cell.value))
    if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return None
    if cell.ctype == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(cell.value, "#ERROR")
    return _excel_value(cell.value)


def _excel_to_csv(path: Path, name: str, sheet: str | None, work_dir: Path, limit=None,
                  memory_budget: int = DEFAULT_MEMORY_BUDGET) -> tuple[Path, str]:
    kind = _excel_kind(path, name)
    dest = _temp(work_dir, ".csv")
    rows_written = 0
    chosen = sheet
    try:
        rows = (_xlsx_rows(path, name, sheet, limit, memory_budget) if kind == "xlsx"
                else _xls_rows(path, name, sheet, memory_budget))
        with contextlib.closing(rows), open(dest, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            chosen = next(rows)
            for values in rows:
                if all(v is None or v == "" for v in values):
                    continue  # blank rows, which Excel sheets often have below the data
                writer.writerow(values)
                rows_written += 1
    except IngestError:
        dest.unlink(missing_ok=True)
        raise
    except Exception as exc:
        dest.unlink(missing_ok=True)
        raise IngestError(_excel_error(name, exc)) from None
    if rows_written == 0:
        dest.unlink(missing_ok=True)
        raise IngestError(f"The sheet {chosen!r} of {name} is empty")
    return dest, chosen


# --- files that are not tables ---------------------------------------------------------

_SAVE_AS_TABLE = "Save the table in it as CSV or Excel (or copy it into a spreadsheet), then upload that file"
_UNPACK = "This server reads .zip and .gz; unpack it and upload the table inside"
_PICTURE = "A picture of a table cannot be read; upload the table itself as CSV or Excel"
# (magic bytes at the start, what the file is, what to do): checked before anything reads it.
_NOT_TABLES = (
    (b"%PDF-", "a PDF document", "Export the table as CSV or Excel where it came from, then upload that file"),
    (b"\x89PNG\r\n\x1a\n", "an image (PNG)", _PICTURE),
    (b"\xff\xd8\xff", "an image (JPEG)", _PICTURE),
    (b"GIF87a", "an image (GIF)", _PICTURE),
    (b"GIF89a", "an image (GIF)", _PICTURE),
    (b"II*\x00", "an image (TIFF)", _PICTURE),
    (b"MM\x00*", "an image (TIFF)", _PICTURE),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", _UNPACK),
    (b"Rar!\x1a\x07", "a RAR archive", _UNPACK),
    (b"\xfd7zXZ\x00", "an xz archive", _UNPACK),
    (b"\x28\xb5\x2f\xfd", "a Zstandard archive", _UNPACK),
    (b"BZh91AY&SY", "a bzip2 archive", _UNPACK),
    (b"SQLite format 3\x00", "a SQLite database", "Export the table you need as CSV, then upload that file"),
    (b"{\\rtf", "a Rich Text (RTF) document", None),
    (b"ID3\x03", "an audio file (MP3)", None),
    (b"ID3\x04", "an audio file (MP3)", None),
    (b"OggS", "an audio or video file (Ogg)", None),
)
_OFFICE_ZIP = (  # (member that marks it, what it is)
    ("word/document.xml", "a Word document"),
    ("ppt/presentation.xml", "a PowerPoint presentation"),
)
_OPEN_DOCUMENT = {
    "application/vnd.oasis.opendocument.text": "an OpenDocument text document (.odt)",
    "application/vnd.oasis.opendocument.presentation": "an OpenDocument presentation (.odp)",
    "application/vnd.oasis.opendocument.graphics": "an OpenDocument drawing (.odg)",
    "application/epub+zip": "an e-book (EPUB)",
}
_OLE2_DOCUMENTS = (("WordDocument", "a Word document"), ("PowerPoint Document", "a PowerPoint presentation"))


def _refusal(what: str, advice: str | None = None) -> str:
    return f"This is {what}, not a table. {advice or _SAVE_AS_TABLE}."


def not_a_table(path: Path) -> str | None:
    """A message for a file that is plainly not a table (a Word document, a PDF, an
    image, an archive we do not open), judged by its bytes and, for zip and OLE2
    containers, the parts they hold; None otherwise."""
    with open(path, "rb") as handle:
        head = handle.read(512)
    for magic, what, advice in _NOT_TABLES:
        if head.startswith(magic):
            return _refusal(what, advice)
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return _refusal("an image (HEIC)" if brand in (b"heic", b"heix", b"mif1", b"avif") else "a video or audio file")
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"AVI ", b"WAVE"):
        return _refusal({b"WEBP": "an image (WebP)", b"AVI ": "a video (AVI)", b"WAVE": "an audio file (WAV)"}[head[8:12]])
    if head[257:262] == b"ustar":
        return _refusal("a tar archive", _UNPACK)
    if head.startswith(MAGIC_ZIP):
        return _zip_document(path)
    if head.startswith(MAGIC_OLE2):
        found = _ole2_holds(path, tuple(stream for stream, _ in _OLE2_DOCUMENTS) + ("Workbook", "Book"))
        if not found & {"Workbook", "Book"}:
            for stream, what in _OLE2_DOCUMENTS:
                if stream in found:
                    return _refusal(what)
    start = head.lstrip(codecs.BOM_UTF8).lstrip().lower()
    if start.startswith((b"<!doctype html", b"<html")):
        return _refusal("a web page (HTML)", "Save the table as CSV or Excel (or copy it into a spreadsheet), "
                        "then upload that file")
    return None


def _zip_document(path: Path) -> str | None:
    try:
        with _open_zip(path, "The zip file") as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype")[:100].decode("ascii", "replace").strip() if "mimetype" in names else ""
    except (zipfile.BadZipFile, OSError, KeyError, NotImplementedError, zlib.error):
        return None  # the zip reader says what is wrong with it later
    for member, what in _OFFICE_ZIP:
        if member in names:
            return _refusal(what)
    if mimetype == "application/vnd.oasis.opendocument.spreadsheet":
        return ("This is an OpenDocument spreadsheet (.ods), which this server does not read. "
                "Save it as Excel (.xlsx) or CSV, then upload that file.")
    if mimetype in _OPEN_DOCUMENT:
        return _refusal(_OPEN_DOCUMENT[mimetype])
    return None


# --- the entry point --------------------------------------------------------------------


@dataclass(frozen=True)
class _Caps:
    expansion: Expansion
    memory_budget: int


def prepare(path: Path, filename: str, work_dir: Path, cap_bytes: Expansion | int, sheet: str | None = None,
            encoding: str | None = None, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> Source:
    """A Source for the uploaded file at ``path`` (named ``filename`` by its owner), its
    text decoded from ``encoding`` when given (else the detected one). ``cap_bytes``
    bounds what a compressed file may expand to on disk (an Expansion names the setting
    in the refusal), ``memory_budget`` what an Excel conversion may hold. On failure every
    temp file made on the way is gone again."""
    path = Path(path)
    caps = _Caps(as_expansion(cap_bytes), memory_budget)
    source = Source(kind="csv", path=path, format="csv", encoding=encoding, expansion=caps.expansion)
    try:
        return _prepare(path, filename, work_dir, caps, sheet, source, depth=0)
    except BaseException:
        source.cleanup()
        raise


def _is_parquet(path: Path) -> bool:
    """A Parquet file starts and ends with PAR1; one cut short lacks the footer."""
    with open(path, "rb") as handle:
        if handle.read(4) != MAGIC_PARQUET:
            return False
        handle.seek(-4, os.SEEK_END)
        return handle.read(4) == MAGIC_PARQUET


def _check_parquet(path: Path, name: str, limit: Expansion) -> None:
    """Parquet is compressed too: a few bytes of dictionary and run-length encoding can
    stand for gigabytes of values. Its footer says how much; refuse past the cap before
    DuckDB reads a row. A value's size is judged by the longer of its column chunk's
    min/max statistics (the footer keeps no total for text), so this is an estimate."""
    with open(path, "rb") as handle:
        handle.seek(-8, os.SEEK_END)
        footer = int.from_bytes(handle.read(4), "little")
    if footer > MAX_PARQUET_FOOTER:
        raise IngestError(f"{name} has a {human_size(footer)} footer, more than the {human_size(MAX_PARQUET_FOOTER)} "
                          "this server reads; it was not written by a usual Parquet writer")
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
    except Exception:  # pyarrow raises several kinds for a damaged footer
        raise IngestError(f"{name} is not a readable Parquet file (it may be cut short or corrupt)") from None
    expanded = 0
    for group in range(meta.num_row_groups):
        row_group = meta.row_group(group)
        for column in range(row_group.num_columns):
            chunk = row_group.column(column)
            width = 0
            stats = chunk.statistics if chunk.is_stats_set else None
            if stats is not None and stats.has_min_max and isinstance(stats.max, (str, bytes)):
                width = max(len(stats.min), len(stats.max))
            expanded += max(chunk.total_uncompressed_size, chunk.num_values * width)
        if expanded > limit.cap_bytes:
            setting = f" ({limit.setting})" if limit.setting else ""
            raise IngestError(f"{name} expands to more than {human_size(limit.cap_bytes)} when read, which is over "
                              f"the limit{setting}; upload it in smaller parts")


def _prepare(path: Path, name: str, work_dir: Path, caps: _Caps, sheet, source: Source, depth: int) -> Source:
    if path.stat().st_size == 0:
        raise IngestError("The file is empty")
    refusal = not_a_table(path)
    if refusal:
        raise IngestError(refusal)
    with open(path, "rb") as handle:
        head = handle.read(8)
    lower = _lower_name(name)
    if head.startswith(MAGIC_GZIP):
        return _prepare_gzip(path, name, work_dir, caps, sheet, source, depth)
    if head.startswith(MAGIC_ZIP) or head.startswith(MAGIC_EMPTY_ZIP):
        return _prepare_zip(path, name, work_dir, caps, sheet, source, depth)
    if lower.endswith(EXCEL_EXTENSIONS) or head.startswith(MAGIC_OLE2):
        if not head.startswith(MAGIC_OLE2):
            raise IngestError(f"{name} is named like an Excel workbook but is not one (it is not a zip file)")
        csv_path, chosen = _excel_to_csv(path, name, sheet, work_dir, caps.expansion, caps.memory_budget)
        source.temp_files.append(csv_path)
        source.kind, source.path, source.format, source.sheet = "csv", csv_path, "xls", chosen
        return source
    if _is_parquet(path):
        _check_parquet(path, name, caps.expansion)
        source.kind, source.path, source.format = "parquet", path, "parquet"
        return source
    if lower.endswith(".parquet"):
        raise IngestError(f"{name} is not a readable Parquet file (it may be cut short or corrupt)")
    with open(path, "rb") as handle:
        sample = handle.read(SNIFF_BYTES)
    stripped = sample.lstrip(codecs.BOM_UTF8).lstrip()
    if lower.endswith(JSON_EXTENSIONS) or (stripped[:1] in (b"[", b"{") and not lower.endswith(TEXT_EXTENSIONS)):
        return _prepare_json(path, sample, work_dir, source)
    fmt = "tsv" if lower.endswith((".tsv", ".tab")) else "csv"
    return _prepare_text(path, fmt, work_dir, source)


def _prepare_gzip(path: Path, name: str, work_dir: Path, caps: _Caps, sheet, source: Source, depth: int) -> Source:
    if depth:
        raise IngestError("Compressed files inside compressed files are not supported")
    inner = _decompress_gzip(path, work_dir, caps.expansion, name)
    source.temp_files.append(inner)
    inner_name = name[:-3] if _lower_name(name).endswith(".gz") else name
    result = _prepare(inner, inner_name, work_dir, caps, sheet, source, depth + 1)
    result.format = result.format + ".gz"
    return result


def _prepare_zip(path: Path, name: str, work_dir: Path, caps: _Caps, sheet, source: Source, depth: int) -> Source:
    try:
        with _open_zip(path, name) as archive:
            excel = _is_excel_zip(archive)
    except zipfile.BadZipFile:
        if _lower_name(name).endswith(EXCEL_EXTENSIONS):
            raise IngestError(f"{name} could not be read as an Excel workbook (it may be cut short or corrupt)") from None
        raise IngestError(f"{name} is not a readable zip file (it may be cut short or corrupt)") from None
    if excel:
        csv_path, chosen = _excel_to_csv(path, name, sheet, work_dir, caps.expansion, caps.memory_budget)
        source.temp_files.append(csv_path)
        source.kind, source.path, source.format, source.sheet = "csv", csv_path, "xlsx", chosen
        return source
    if depth:
        raise IngestError("Compressed files inside compressed files are not supported")
    inner, inner_name = _extract_single_member(path, work_dir, caps.expansion, name)
    source.temp_files.append(inner)
    result = _prepare(inner, inner_name, work_dir, caps, sheet, source, depth + 1)
    result.format = "zip/" + result.format
    return result


def _prepare_json(path: Path, sample: bytes, work_dir: Path, source: Source) -> Source:
    if not sample.lstrip(codecs.BOM_UTF8).strip():
        raise IngestError("The file is empty")
    encoding = source.encoding or detect_encoding(sample)
    source.encoding = encoding
    source.path = path if _readable_as_is(encoding, sample) else _decode_to_utf8(path, encoding, work_dir, source)
    source.kind, source.format = "json", "json"
    return source


def copy_for_ingest(src: Path, work_dir: Path) -> Path:
    dest = _temp(work_dir, src.suffix)
    shutil.copyfile(src, dest)
    return dest
