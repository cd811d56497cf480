"""Turning an uploaded file into something DuckDB reads: detect the format from its
bytes (not only its name), decompress with a size cap, decode any text encoding to
UTF-8, and convert Excel sheets to CSV. Everything streams: memory stays bounded
whatever the file size."""
from __future__ import annotations

import codecs
import csv
import datetime as dt
import gzip
import os
import shutil
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from storage.errors import IngestError

CHUNK = 4 * 1024 * 1024
SNIFF_BYTES = 1024 * 1024

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

    def cleanup(self) -> None:
        for path in self.temp_files:
            try:
                path.unlink()
            except FileNotFoundError:
                pass


def _lower_name(name: str) -> str:
    return (name or "").strip().lower()


def _temp(work_dir: Path, suffix: str) -> Path:
    work_dir.mkdir(parents=True, exist_ok=True)
    return work_dir / f"{uuid.uuid4().hex}{suffix}"


def _copy_capped(reader, dest: Path, cap_bytes: int, what: str) -> None:
    written = 0
    with open(dest, "wb") as out:
        while True:
            chunk = reader.read(CHUNK)
            if not chunk:
                break
            written += len(chunk)
            if written > cap_bytes:
                raise IngestError(
                    f"{what} expands to more than {cap_bytes // (1024 * 1024)} MB when decompressed, "
                    "which is over the limit; upload the data uncompressed or in smaller parts"
                )
            out.write(chunk)


def _decompress_gzip(path: Path, work_dir: Path, cap_bytes: int, name: str) -> Path:
    dest = _temp(work_dir, ".raw")
    try:
        with gzip.open(path, "rb") as reader:
            _copy_capped(reader, dest, cap_bytes, "The gzip file")
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        dest.unlink(missing_ok=True)
        if isinstance(exc, IngestError):
            raise
        raise IngestError(f"{name} is not a readable gzip file (it may be cut short or corrupt)") from None
    except IngestError:
        dest.unlink(missing_ok=True)
        raise
    return dest


def _is_excel_zip(archive: zipfile.ZipFile) -> bool:
    names = set(archive.namelist())
    return "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names)


def _extract_single_member(path: Path, work_dir: Path, cap_bytes: int, name: str) -> tuple[Path, str]:
    try:
        archive = zipfile.ZipFile(path)
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
        except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError):
            dest.unlink(missing_ok=True)
            raise IngestError(f"The zip file {name} could not be read (it may be corrupt)") from None
        return dest, os.path.basename(member.filename)


def detect_encoding(sample: bytes) -> str:
    """'utf-8', 'utf-8-sig', 'utf-16' or 'cp1252' for a text file's first bytes."""
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
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still UTF-8.
        if exc.start >= len(sample) - 3 and exc.reason in ("unexpected end of data",):
            return "utf-8"
        return "cp1252"


def looks_binary(sample: bytes) -> bool:
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    control = sum(1 for b in sample[:4096] if b < 9 or 13 < b < 32)
    return control > len(sample[:4096]) * 0.05


def transcode_to_utf8(path: Path, encoding: str, work_dir: Path, errors: str = "strict") -> tuple[Path, int]:
    """Stream ``path`` from ``encoding`` to a UTF-8 file; returns it and the number of
    characters that had to be replaced (only with errors='replace')."""
    dest = _temp(work_dir, ".csv")
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    replaced = 0
    try:
        with open(path, "rb") as src, open(dest, "w", encoding="utf-8", newline="") as out:
            while True:
                chunk = src.read(CHUNK)
                text = decoder.decode(chunk, final=not chunk)
                if text:
                    if errors == "replace":
                        replaced += text.count("\ufffd")
                    out.write(text.lstrip("\ufeff") if out.tell() == 0 else text)
                if not chunk:
                    break
    except UnicodeDecodeError:
        dest.unlink(missing_ok=True)
        raise
    return dest, replaced


ENCODING_LABELS = {"utf-16": "UTF-16", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16", "cp1252": "Windows-1252 (Latin-1)"}


def _prepare_text(path: Path, fmt: str, work_dir: Path, source: Source) -> Source:
    with open(path, "rb") as handle:
        sample = handle.read(SNIFF_BYTES)
    if not sample.strip():
        raise IngestError("The file is empty")
    encoding = detect_encoding(sample)
    if encoding in ("utf-8", "utf-8-sig"):
        if looks_binary(sample):
            raise IngestError("The file is not text: it looks like binary data. Upload CSV, Excel, JSON or Parquet")
        source.path = path
    else:
        utf8, _ = transcode_to_utf8(path, encoding, work_dir, errors="replace" if encoding == "cp1252" else "strict")
        source.temp_files.append(utf8)
        source.path = utf8
        source.notes.append(f"Decoded from {ENCODING_LABELS.get(encoding, encoding)}")
        with open(utf8, "rb") as handle:
            if looks_binary(handle.read(SNIFF_BYTES)):
                raise IngestError("The file is not text: it looks like binary data. Upload CSV, Excel, JSON or Parquet")
    source.kind = "csv"
    source.format = fmt
    return source


def _excel_value(value):
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return value


def list_sheets(path: Path, name: str) -> list[str]:
    """The sheet names of an Excel workbook, or a clear error."""
    kind = _excel_kind(path, name)
    try:
        if kind == "xlsx":
            import openpyxl

            workbook = openpyxl.load_workbook(path, read_only=True)
            try:
                return list(workbook.sheetnames)
            finally:
                workbook.close()
        import xlrd

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


def _excel_kind(path: Path, name: str) -> str:
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(MAGIC_ZIP):
        return "xlsx"
    if head.startswith(MAGIC_OLE2):
        if _lower_name(name).endswith((".xlsx", ".xlsm")):
            # An OOXML workbook inside an OLE2 container is how Excel stores encrypted files.
            raise IngestError(f"{name} is password-protected; save it without a password and upload it again")
        return "xls"
    raise IngestError(f"{name} is named like an Excel workbook but is not one")


def _excel_to_csv(path: Path, name: str, sheet: str | None, work_dir: Path) -> tuple[Path, str]:
    kind = _excel_kind(path, name)
    dest = _temp(work_dir, ".csv")
    rows_written = 0
    try:
        with open(dest, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            if kind == "xlsx":
                import openpyxl

                workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
                try:
                    chosen = sheet or workbook.sheetnames[0]
                    if chosen not in workbook.sheetnames:
                        raise IngestError(f"{name} has no sheet named {chosen!r}")
                    for row in workbook[chosen].iter_rows(values_only=True):
                        if row is None or all(v is None for v in row):
                            continue
                        writer.writerow([_excel_value(v) for v in row])
                        rows_written += 1
                finally:
                    workbook.close()
            else:
                import xlrd

                book = xlrd.open_workbook(str(path), on_demand=True)
                chosen = sheet or book.sheet_names()[0]
                if chosen not in book.sheet_names():
                    raise IngestError(f"{name} has no sheet named {chosen!r}")
                worksheet = book.sheet_by_name(chosen)
                for r in range(worksheet.nrows):
                    values = []
                    for cell in worksheet.row(r):
                        if cell.ctype == xlrd.XL_CELL_DATE:
                            values.append(_excel_value(xlrd.xldate_as_datetime(cell.value, book.datemode)))
                        elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                            values.append(_excel_value(bool(cell.value)))
                        elif cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                            values.append(None)
                        else:
                            values.append(_excel_value(cell.value))
                    if all(v in (None, "") for v in values):
                        continue
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


def prepare(path: Path, filename: str, work_dir: Path, cap_bytes: int, sheet: str | None = None) -> Source:
    """A Source for the uploaded file at ``path`` (named ``filename`` by its owner)."""
    path = Path(path)
    source = Source(kind="csv", path=path, format="csv")
    try:
        return _prepare(path, filename, work_dir, cap_bytes, sheet, source, depth=0)
    except BaseException:
        source.cleanup()
        raise


def _prepare(path: Path, name: str, work_dir: Path, cap_bytes: int, sheet, source: Source, depth: int) -> Source:
    if path.stat().st_size == 0:
        raise IngestError("The file is empty")
    with open(path, "rb") as handle:
        head = handle.read(8)
    lower = _lower_name(name)
    if head.startswith(MAGIC_GZIP):
        if depth:
            raise IngestError("Compressed files inside compressed files are not supported")
        inner = _decompress_gzip(path, work_dir, cap_bytes, name)
        source.temp_files.append(inner)
        inner_name = name[:-3] if lower.endswith(".gz") else name
        result = _prepare(inner, inner_name, work_dir, cap_bytes, sheet, source, depth + 1)
        result.format = result.format + ".gz"
        return result
    if head.startswith(MAGIC_ZIP) or head.startswith(MAGIC_EMPTY_ZIP):
        try:
            with zipfile.ZipFile(path) as archive:
                excel = _is_excel_zip(archive)
        except zipfile.BadZipFile:
            if lower.endswith(EXCEL_EXTENSIONS):
                raise IngestError(f"{name} could not be read as an Excel workbook (it may be corrupt)") from None
            raise IngestError(f"{name} is not a readable zip file (it may be cut short or corrupt)") from None
        if excel:
            csv_path, chosen = _excel_to_csv(path, name, sheet, work_dir)
            source.temp_files.append(csv_path)
            source.kind, source.path, source.format, source.sheet = "csv", csv_path, "xlsx", chosen
            return source
        if depth:
            raise IngestError("Compressed files inside compressed files are not supported")
        inner, inner_name = _extract_single_member(path, work_dir, cap_bytes, name)
        source.temp_files.append(inner)
        result = _prepare(inner, inner_name, work_dir, cap_bytes, sheet, source, depth + 1)
        result.format = "zip/" + result.format
        return result
    if lower.endswith(EXCEL_EXTENSIONS) or head.startswith(MAGIC_OLE2):
        if not head.startswith(MAGIC_OLE2):
            raise IngestError(f"{name} is named like an Excel workbook but is not one (it is not a zip file)")
        csv_path, chosen = _excel_to_csv(path, name, sheet, work_dir)
        source.temp_files.append(csv_path)
        source.kind, source.path, source.format, source.sheet = "csv", csv_path, "xls", chosen
        return source
    if head.startswith(MAGIC_PARQUET):
        source.kind, source.path, source.format = "parquet", path, "parquet"
        return source
    if lower.endswith(".parquet"):
        raise IngestError(f"{name} is named like a Parquet file but is not one")
    with open(path, "rb") as handle:
        sample = handle.read(SNIFF_BYTES)
    stripped = sample.lstrip(codecs.BOM_UTF8).lstrip()
    if lower.endswith(JSON_EXTENSIONS) or (stripped[:1] in (b"[", b"{") and not lower.endswith(TEXT_EXTENSIONS)):
        encoding = detect_encoding(sample)
        source.path = path
        if encoding not in ("utf-8", "utf-8-sig"):
            utf8, _ = transcode_to_utf8(path, encoding, work_dir)
            source.temp_files.append(utf8)
            source.path = utf8
        if not stripped:
            raise IngestError("The file is empty")
        source.kind, source.format = "json", "json"
        return source
    fmt = "tsv" if lower.endswith((".tsv", ".tab")) else "csv"
    return _prepare_text(path, fmt, work_dir, source)


def copy_for_ingest(src: Path, work_dir: Path) -> Path:
    dest = _temp(work_dir, src.suffix)
    shutil.copyfile(src, dest)
    return dest
