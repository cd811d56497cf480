"""Ingest: look at a prepared source (inspect), then write it as one typed Parquet file
(write_parquet) following the person's plan: names, types, skipped columns.

Types come from DuckDB's sniffer, then our own date detection on text columns (DuckDB
does not read 12/01/2010 08:26, and prefers day-first where month-first is more usual).
Inspection looks at a sample of the first rows only, so writing corrects it: a column
whose later values do not fit its sniffed type is written as text (a date column first
tries the other day/month order) rather than failing the whole file, and a note says so.
"""
from __future__ import annotations

import csv
import json
import re
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analytics.columns import DATE_FORMATS, LOGICAL_TYPES, STORAGE_TYPE, is_categorical, logical_type, unique_names
from storage import number_formats
from storage.duck import connect, literal
from storage.errors import IngestError, InvalidInput
from storage.number_formats import NumberFormat
from storage.sources import ENCODING_CHOICES, Source, decode_damaged_text
from storage.sql import quote_ident

PREVIEW_ROWS = 20
# Inspection reads the first rows once into memory; wide files get fewer rows so the
# sample stays around this many cells.
SAMPLE_ROWS = 20_000
SAMPLE_CELLS = 4_000_000
# ...and long texts are cut: enough for dates, categories and a preview, without holding
# 20,000 long articles (or one 10 MB cell) in memory and sending them to the browser.
SAMPLE_TEXT_CHARS = 1000
DATE_SAMPLE_VALUES = 1000
SNIFF_SAMPLE_ROWS = 20_480
# Each failed write attempt fixes one column or one reading option, then reads again.
MAX_WRITE_ATTEMPTS = 100
# DuckDB keeps buffers per column and per thread (the Parquet writer, projections); past
# this many columns one thread keeps it within the memory limit (5,000 text columns ran
# out of memory with two threads).
WIDE_COLUMNS = 1000
# Up to this many text columns the type checks use one aggregate per column; past it, one
# GROUP BY over the unpivoted sample (see _unpivoted_text).
FEW_TEXT_COLUMNS = 64
MAX_LINE_BYTES = 64 * 1024 * 1024  # a 10 MB single line is fine; a 1 GB one is not
MAX_COLUMNS = 10_000
# Read as missing, like pandas does, except "NA"/"na", which are too often real codes
# (North America, Namibia) to throw away.
NULL_STRINGS = ("", "N/A", "n/a", "#N/A", "NULL", "null", "NaN", "nan", "-NaN", "#NA", "<NA>")
NULL_STRINGS_SQL = "[" + ", ".join("'" + v + "'" for v in NULL_STRINGS) + "]"
# Matching every field against the list costs 10-25 % of a CSV ingest, so the reader gets
# the list only when the first NULL_SCAN_BYTES of the file use one of those words; a word
# that first appears later makes a typed column fail to convert, and the write is retried
# with the list (see _adapt_after_failure). In text columns such a late word stays text.
NULL_SCAN_BYTES = 1024 * 1024  # about what the sniffer and the sample read
# Dataset files are written with snappy, DuckDB's default: zstd made them a quarter smaller
# but cost about 10 % more CPU to write and 5 % to scan, and CPU, not disk, is what a
# 2-core BI server runs out of.
PARQUET_COMPRESSION = "snappy"
ROW_GROUP_ROWS = 122_880  # DuckDB's own row group size
PARQUET_OPTIONS = f"COMPRESSION {PARQUET_COMPRESSION}, ROW_GROUP_SIZE {ROW_GROUP_ROWS}"


@dataclass
class ColumnInfo:
    source: str  # the column as the reader names it
    name: str  # the clean name we propose
    type: str  # logical type
    date_format: str | None = None
    number_format: dict | None = None  # NumberFormat.as_dict() for numbers written as text
    detected: str = ""  # what was decided, in words ("decimal comma, '-' read as missing")

    def as_dict(self) -> dict:
        return asdict(self)


# How to read a file, as the person may choose it on the import screen or in the API.
# None (or a missing key) means "detect it".
READ_CHOICES = {
    "delimiter": (",", ";", "\t", "|"),
    "decimal": (".", ","),
    "thousands": ("none", ",", ".", " ", "'"),
    "date_order": ("dmy", "mdy"),
    "encoding": ENCODING_CHOICES,
}


def read_options(raw: dict | None) -> dict:
    """The person's reading choices, checked: {option: value} for the ones given."""
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise InvalidInput("options must be an object such as {\"decimal\": \",\", \"delimiter\": \";\"}")
    chosen = {}
    for key, value in raw.items():
        if key not in READ_CHOICES:
            raise InvalidInput(f"Unknown reading option {key!r}; the options are {', '.join(READ_CHOICES)}")
        if value in (None, "", "auto"):
            continue
        value = "\t" if value == "\\t" else value
        allowed = [("\\t" if v == "\t" else v) for v in READ_CHOICES[key]]
        if value not in READ_CHOICES[key]:
            raise InvalidInput(f"{key} must be one of {', '.join(repr(v) for v in allowed)} (or auto)")
        chosen[key] = value
    return chosen


@dataclass
class Inspection:
    format: str
    sheet: str | None
    columns: list[ColumnInfo]
    rows: list[list]  # first rows, JSON-friendly, in column order
    notes: list[str] = field(default_factory=list)
    csv_options: dict = field(default_factory=dict)
    # What was decided about the whole file (delimiter, encoding, decimal mark, date
    # order...) and the same in words, for the import screen; see _reading.
    reading: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "format": self.format,
            "sheet": self.sheet,
            "columns": [c.as_dict() for c in self.columns],
            "rows": self.rows,
            "notes": self.notes,
            "csv_options": self.csv_options,
            "reading": self.reading,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Inspection":
        return cls(
            format=data["format"], sheet=data.get("sheet"),
            columns=[ColumnInfo(**c) for c in data["columns"]], rows=data.get("rows", []),
            notes=data.get("notes", []), csv_options=data.get("csv_options", {}), reading=data.get("reading", {}),
        )


@dataclass
class ColumnPlan:
    source: str
    name: str
    type: str
    include: bool = True
    date_format: str | None = None
    number_format: dict | None = None


# --- reading -----------------------------------------------------------------------------


def _csv_reader_sql(path: Path, options: dict, columns: dict | None = None) -> str:
    """read_csv(...) with our options. Paths are ours (uuid names in the data dir)."""
    parts = [
        literal(str(path)),
        f"delim = {literal(options['delimiter'])}",
        f"quote = {literal(options['quote'])}",
        f"escape = {literal(options['escape'])}",
        f"header = {'true' if options['header'] else 'false'}",
        "null_padding = true",
        *([f"nullstr = {NULL_STRINGS_SQL}"] if options.get("null_words", True) else []),
        *_line_size_options(options.get("long_lines", False)),
        "auto_detect = false" if columns is not None else "auto_detect = true",
        "encoding = 'utf-8'",
    ]
    if options.get("skip"):
        parts.append(f"skip = {int(options['skip'])}")
    if not options.get("parallel", True):
        parts.append("parallel = false")
    if columns is not None:
        spec = ", ".join(f"{literal(name)}: {literal(kind)}" for name, kind in columns.items())
        parts.append("columns = {" + spec + "}")
    return "read_csv(" + ", ".join(parts) + ")"


def _line_size_options(long_lines: bool) -> list[str]:
    """DuckDB's default buffers, or big ones for files with very long lines. Big buffers
    only when needed: under the memory limit they cost half the speed of a normal ingest."""
    if not long_lines:
        return []
    return [f"max_line_size = {MAX_LINE_BYTES}", f"buffer_size = {MAX_LINE_BYTES * 2}"]


def _is_long_line_error(text: str) -> bool:
    return "Maximum line size" in text or "max_line_size" in text


def _connect(temp_dir: Path, threads: int | None = None):
    """A DuckDB connection for ingest. Progress is still tracked (write_parquet reports
    it) but never printed: DuckDB draws a bar on stdout for queries over two seconds,
    which in a server only fills the logs."""
    con = connect(temp_dir, threads)
    con.execute("SET enable_progress_bar_print = false")
    return con


def _one(con, sql: str, params: list | None = None):
    """The first row of a query, or None. Results are always read to the end: DuckDB
    refuses to register the inspection sample while a result is still open."""
    rows = con.execute(sql, params or []).fetchall()
    return rows[0] if rows else None


def _needs_serial_reader(exc: Exception) -> bool:
    """DuckDB's parallel CSV scanner cannot pad short rows (null_padding) in a file with
    line breaks inside quoted values; it asks to be run with parallel=false."""
    return "parallel=false" in str(exc).replace(" ", "")


def _line_of(text: str) -> str:
    line = re.search(r"CSV Error on Line: (\d+)", text)
    return f" (line {line.group(1)})" if line else ""


def _reason(text: str) -> str:
    """The line of a DuckDB error that says what went wrong, without its "... Error:"
    prefix, the CSV boilerplate or the server's file paths."""
    for line in text.strip().splitlines():
        line = re.sub(r"^(\w+ )*Error: ", "", line.strip())
        if not line or re.match(r"CSV Error on Line: \d+$", line) or line.startswith("Original Line:"):
            continue
        line = re.sub(r"""\s*(in|of) file ("[^"]*"|'[^']*')""", "", line)
        return re.sub(r"""("|')/[^"']*("|')""", "the file", line).rstrip(". ")[:300]
    return "unknown error"


DUCKDB_LINE_BYTES = 2 * 1024 * 1024  # read_csv's default max_line_size
LINE_SCAN_BYTES = 1024 * 1024 * 1024  # how far _long_line looks for the culprit


def _long_line(path: Path | None) -> tuple[int, int] | None:
    """(line number, length so far) of the first line longer than DuckDB's default line
    size, looking at the first LINE_SCAN_BYTES of the file; None when there is none."""
    if path is None:
        return None
    number, length, scanned = 1, 0, 0
    with open(path, "rb") as handle:
        while scanned < LINE_SCAN_BYTES and (chunk := handle.read(4 * 1024 * 1024)):
            scanned += len(chunk)
            start = 0
            while (end := chunk.find(b"\n", start)) != -1:
                if length + end - start > DUCKDB_LINE_BYTES:
                    return number, length + end - start
                number, length, start = number + 1, 0, end + 1
            length += len(chunk) - start
            if length > MAX_LINE_BYTES:
                return number, length
    return (number, length) if length > DUCKDB_LINE_BYTES else None


def _long_line_message(path: Path | None, where: str) -> str | None:
    found = _long_line(path)
    if found is None:
        return None
    number, length = found
    bound = MAX_LINE_BYTES if length > MAX_LINE_BYTES else DUCKDB_LINE_BYTES
    return f"Line {number:,} is longer than {bound // (1024 * 1024)} MB; is this a table?"


def _friendly_duckdb_error(exc: Exception, path: Path | None = None) -> str:
    text = str(exc)
    where = _line_of(text)
    if "Maximum line size" in text or "max_line_size" in text:
        return (_long_line_message(path, where)
                or f"A line of the file is longer than {MAX_LINE_BYTES // (1024 * 1024)} MB{where}; is this a table?")
    if "Out of Memory" in text or "could not allocate" in text.lower():
        # A huge single line (a minified JSON or a binary blob named .csv) is the usual
        # cause; say so rather than show the engine's memory figures.
        return (_long_line_message(path, where)
                or "The file needs more memory to read than this server allows; is it one table with ordinary rows?")
    if "unterminated quote" in text.lower():
        return f"A quoted value is never closed{where}: check the quotes in the file"
    counts = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if counts and int(counts.group(2)) > int(counts.group(1)):
        return (f"A row has more values than the header{where}: {counts.group(2)} instead of {counts.group(1)}. "
                "Check the delimiter and the quotes, or give the extra columns names in the header")
    if "Expected Number of Columns" in text or "too many columns" in text.lower():
        return f"A row has more values than the header{where}; check the delimiter and the quotes"
    if "Invalid unicode" in text or "byte sequence mismatch" in text:
        return f"The file has bytes that are not valid UTF-8{where}"
    if "not possible to automatically detect the CSV parsing dialect" in text:
        return ("The file could not be read as a table: no delimiter (comma, semicolon, tab or |) splits its "
                "lines the same way. Is it really a CSV file?")
    if "state machine reached an invalid state" in text:
        return (f"The file could not be read as CSV{where}: its lines are not laid out the same way "
                "(check for mixed line endings, stray quotes or delimiters)")
    if "Malformed JSON" in text:
        return f"The file is not valid JSON: {_reason(text)}"
    if "No magic bytes" in text or "Parquet" in text and "footer" in text.lower():
        return "The file is not a readable Parquet file (it may be cut short or corrupt)"
    if "Could not convert" in text:
        value = re.search(r'Could not convert string "(.*?)" to', text)
        column = re.search(r'converting column "(.*?)"', text)
        return (
            f"The value {value.group(1)!r} in column {column.group(1)!r}{where} does not fit the chosen type"
            if value and column else f"A value does not fit the chosen column type{where}"
        )
    return f"The file could not be read{where}: {_reason(text)}"


# --- CSV layout: blank lines, sniffing, the header -------------------------------------


def _leading_blank_lines(path: Path) -> int:
    """Blank lines before the header. DuckDB's sniffer skips them but read_csv with our
    options would take the first (blank) one as the header, so we tell it to skip them."""
    count = 0
    with open(path, "rb") as handle:
        while count < 1000:
            line = handle.readline(65536)
            if not line or line.strip():
                return count
            count += 1
    return count


def _uses_null_words(path: Path, delimiter: str, quote: str) -> bool:
    """Whether a field in the head of the file is one of NULL_STRINGS (other than empty),
    alone between delimiters, possibly quoted. bytes.find, not a regex: a regex over the
    head cost a quarter of a second, more than the rest of the inspection."""
    with open(path, "rb") as handle:
        head = handle.read(NULL_SCAN_BYTES)
    before = {delimiter.encode("utf-8")[-1:], b"\n", b"\r", quote.encode("utf-8")[-1:] if quote else b"\n"}
    after = {delimiter.encode("utf-8")[:1], b"\n", b"\r", quote.encode("utf-8")[:1] if quote else b"\n"}
    for word in (w.encode("utf-8") for w in NULL_STRINGS if w):
        position = head.find(word)
        while position != -1:
            end = position + len(word)
            if (position == 0 or head[position - 1:position] in before) and (end == len(head) or head[end:end + 1] in after):
                return True
            position = head.find(word, position + 1)
    return False


def _sniff_csv(con, path: Path, skip: int, delimiter: str | None = None) -> tuple[dict, list[tuple[str, str]]]:
    # skip only when needed: given skip = 0, the sniffer no longer tries other layouts and
    # can misread a file with ragged rows (it took "|" as the delimiter of a, b / 1 / 4, 5, 6).
    skip_option = f"skip = {int(skip)}, " if skip else ""
    if delimiter:  # the person's choice (one of READ_CHOICES, so safe as a literal)
        skip_option += f"delim = {literal(delimiter)}, "
    long_lines = False
    while True:
        sizes = "".join(option + ", " for option in _line_size_options(long_lines))
        try:
            row = _one(
                con,
                f"SELECT Delimiter, Quote, Escape, HasHeader, Columns FROM sniff_csv(?, sample_size = "
                f"{SNIFF_SAMPLE_ROWS}, {skip_option}{sizes}null_padding = true, nullstr = {NULL_STRINGS_SQL})",
                [str(path)],
            )
            break
        except duckdb.Error as exc:
            if long_lines or not _is_long_line_error(str(exc)):
                raise
            long_lines = True
    delimiter, quote, escape, has_header, columns = row
    # "(empty)" means the sample had no quotes; later rows may, so keep the standard ones.
    quote = '"' if quote in (None, "", "(empty)") else quote
    escape = quote if escape in (None, "", "(empty)") else escape
    options = {"delimiter": delimiter or ",", "quote": quote, "escape": escape, "header": bool(has_header),
               "skip": skip, "long_lines": long_lines}
    options["null_words"] = _uses_null_words(path, options["delimiter"], quote)
    cols = [(c["name"], c["type"]) for c in columns]
    return options, cols


def _header_fields(path: Path, options: dict) -> list[str] | None:
    """The header record as written, blanks and repeats included (DuckDB renames those
    column0, a_1). None when Python's csv cannot read it the way DuckDB does."""
    delimiter, quote, escape = options["delimiter"], options["quote"], options["escape"]
    if len(delimiter) != 1 or len(quote) != 1 or len(escape) != 1:
        return None
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as handle:
            for _ in range(int(options.get("skip", 0))):
                handle.readline()
            reader = csv.reader(handle, delimiter=delimiter, quotechar=quote, doublequote=escape == quote,
                                escapechar=None if escape == quote else escape)
            return next(reader, None)
    except csv.Error:  # e.g. a header cell longer than csv's field limit
        return None


def _raw_csv_names(con, path: Path, options: dict, sniffed: list[tuple[str, str]]) -> list[str]:
    """The names as the person wrote them, one per sniffed column: unique_names then
    turns blanks into column_N and repeats into name_2 the same way for every format."""
    if not options["header"]:
        return [""] * len(sniffed)
    fields = _header_fields(path, options)
    if fields is None or len(fields) > len(sniffed):
        return [name for name, _ in sniffed]
    if len(fields) < len(sniffed):
        raise _long_row_error(con, path, options, sniffed[: len(fields)])
    return fields


def _long_row_error(con, path: Path, options: dict, header_columns: list[tuple[str, str]]) -> IngestError:
    """The sniffer widened the table to fit rows longer than the header. Those values
    have no column name and usually mean a delimiter inside an unquoted value, so the
    person gets the line to fix rather than a dataset with shifted values."""
    relation = _csv_reader_sql(path, {**options, "parallel": False}, {n: "VARCHAR" for n, _ in header_columns})
    try:
        _one(con, f"SELECT count(*) FROM {relation}")
    except duckdb.Error as exc:
        return IngestError(_friendly_duckdb_error(exc, path))
    return IngestError(f"Some rows have more values than the header ({len(header_columns)} names); "
                       "check the delimiter and the quotes")


def _source_relation_sql(source: Source, csv_options: dict | None, read_types: dict | None,
                         json_sample: int = SNIFF_SAMPLE_ROWS) -> str:
    if source.kind == "csv":
        return _csv_reader_sql(source.path, csv_options, read_types)
    if source.kind == "parquet":
        return f"read_parquet({literal(str(source.path))})"
    return (f"read_json({literal(str(source.path))}, format = 'auto', maximum_object_size = {MAX_LINE_BYTES}, "
            f"sample_size = {int(json_sample)})")


def _flatten_struct_columns(con, relation_sql: str) -> list[tuple[str, str, str]]:
    """(expression, name, duckdb type) per column, with nested objects flattened to
    dotted columns and lists kept as JSON text."""
    described = con.execute(f"DESCRIBE SELECT * FROM {relation_sql}").fetchall()
    result = []

    def walk(expression: str, name: str, kind: str):
        # Lists first: a list of objects, STRUCT(...)[], also starts with "STRUCT(".
        if kind.endswith("]") or kind.startswith(("MAP(", "LIST(", "UNION(")):
            result.append((f"CAST(to_json({expression}) AS VARCHAR)", name, "VARCHAR"))
        elif kind == "JSON":  # values of mixed kinds: strings without their JSON quotes
            result.append((f"json_extract_string({expression}, '$')", name, "VARCHAR"))
        elif kind.startswith("STRUCT("):
            inner = con.execute(f"DESCRIBE SELECT unnest({expression}) FROM {relation_sql}").fetchall()
            for field_name, field_type, *_ in inner:
                walk(f"struct_extract({expression}, {literal(field_name)})", f"{name}.{field_name}", field_type)
        else:
            result.append((expression, name, kind))

    for column_name, column_type, *_ in described:
        walk(quote_ident(column_name), column_name, column_type)
    return result


# --- inspecting ---------------------------------------------------------------------------


def _csv_columns(con, source: Source, choices: dict, text_doubles: bool) -> tuple[str, list[tuple[str, str, str]],
                                                                             list[str], dict, set[str]]:
    """(relation, [(expression, source name, read type)], raw names, csv options, the
    names of columns DuckDB read as DOUBLE that are read as text here)."""
    csv_options, sniffed = _sniff_csv(con, source.path, _leading_blank_lines(source.path), choices.get("delimiter"))
    if len(sniffed) > MAX_COLUMNS:
        raise IngestError(f"The file has {len(sniffed):,} columns; the most a dataset can have is {MAX_COLUMNS:,}")
    raw_names = _raw_csv_names(con, source.path, csv_options, sniffed)
    # Where the decimal mark may be a comma, DuckDB's 1.234 may be 1234 written the
    # German way: such columns are read as text and judged with the others (see
    # _classify_numbers). Elsewhere DuckDB's reading of numbers stands.
    text_doubles = text_doubles or choices.get("decimal") == "," or csv_options["delimiter"] == ";"
    doubles = {n for n, t in sniffed if t == "DOUBLE"} if text_doubles else set()
    # Dates and times are read as text: our own detection picks their format.
    read_types = {n: ("VARCHAR" if t in ("DATE", "TIME") or t.startswith("TIMESTAMP") or n in doubles else t)
                  for n, t in sniffed}
    relation = _csv_reader_sql(source.path, csv_options, read_types)
    return relation, [(quote_ident(n), n, read_types[n]) for n, _ in sniffed], raw_names, csv_options, doubles


RECORD_FIELDS = ("data", "records", "rows", "items", "results", "values", "entries")


def _json_records(con, relation: str) -> tuple[str, str | None]:
    """(relation, field): a JSON file that is one object wrapping its records in a list of
    objects ({"data": [{...}, ...]}, as many APIs answer) reads as those records. The
    field is the only list of objects, or the one with a usual name for records."""
    if _one(con, f"SELECT count(*) FROM (SELECT 1 FROM {relation} LIMIT 2)")[0] != 1:
        return relation, None
    lists = [name for name, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
             if kind.startswith("STRUCT(") and kind.endswith(")[]")]
    named = [name for name in lists if name.lower() in RECORD_FIELDS]
    field = lists[0] if len(lists) == 1 else (named[0] if len(named) == 1 else None)
    if field is None:
        return relation, None
    return f"(SELECT record.* FROM (SELECT unnest({quote_ident(field)}) AS record FROM {relation}))", field


def _structured_relation(con, source: Source, json_sample: int = SNIFF_SAMPLE_ROWS) -> tuple[str, str | None]:
    relation = _source_relation_sql(source, None, None, json_sample)
    return _json_records(con, relation) if source.kind == "json" else (relation, None)


def _structured_columns(con, source: Source) -> tuple[str, list[tuple[str, str, str]], list[str]]:
    """(relation, [(expression, source name, type)], raw names) of a JSON or Parquet file."""
    relation, field = _structured_relation(con, source)
    if field is not None:
        source.notes.append(f"The records were read from the {field!r} list of the JSON object")
    columns = _flatten_struct_columns(con, relation)
    if source.kind == "json" and [n for _, n, _ in columns] == ["json"]:
        raise IngestError("The JSON is not a table: upload an array of objects, or one object per line (NDJSON)")
    return relation, columns, [n for _, n, _ in columns]


def _sample_size(column_count: int) -> int:
    return max(200, min(SAMPLE_ROWS, SAMPLE_CELLS // max(column_count, 1)))


def inspect(source: Source, temp_dir: Path, choices: dict | None = None, allow_empty: bool = False) -> Inspection:
    """What the file holds: the proposed columns with their types, and the first rows.
    ``choices`` are the person's reading options (see read_options). ``allow_empty``: a
    file with columns and no rows is fine (a live SQL dataset's sample, which may be empty
    until a filter gives its query a value); an upload must have rows."""
    choices = read_options(choices)
    serial = text_doubles = False
    for _attempt in range(3):
        con = _connect(temp_dir)
        try:
            inspection = _inspect(con, source, serial, choices, text_doubles, allow_empty)
            if not inspection.reading.get("reread_doubles"):
                return inspection
            text_doubles = True  # a decimal comma proven in text columns: see _csv_columns
        except duckdb.Error as exc:
            if source.kind == "csv" and not serial and _needs_serial_reader(exc):
                serial = True
                continue
            raise IngestError(_friendly_duckdb_error(exc, source.path)) from None
        finally:
            con.close()
    raise AssertionError("unreachable")


def _inspect(con, source: Source, serial: bool, choices: dict, text_doubles: bool,
             allow_empty: bool = False) -> Inspection:
    csv_options: dict = {}
    doubles: set[str] = set()
    if source.kind == "csv":
        relation, columns, raw_names, csv_options, doubles = _csv_columns(con, source, choices, text_doubles)
        if serial:
            csv_options["parallel"] = False
            relation = _csv_reader_sql(source.path, csv_options, {n: t for _, n, t in columns})
    else:
        relation, columns, raw_names = _structured_columns(con, source)
    if not columns:
        raise IngestError("The file has no columns")
    wide = len(columns) > WIDE_COLUMNS
    if wide:
        con.execute("SET threads = 1")  # see WIDE_COLUMNS
    # One read of the first rows; every look below works on this sample, not the file.
    # It is kept as Arrow, not a DuckDB table: a table pins a 256 KB block per column,
    # which for thousands of columns is more than the memory limit. Long texts are cut,
    # except in wide files: there the sample has few rows, and thousands of left() ran
    # out of memory.
    select = ", ".join(
        f"{f'left({expression}, {SAMPLE_TEXT_CHARS})' if duck_type == 'VARCHAR' and not wide else expression} AS c{i}"
        for i, (expression, _, duck_type) in enumerate(columns)
    )
    sample = con.sql(f"SELECT {select} FROM {relation} LIMIT {_sample_size(len(columns))}").to_arrow_table()
    con.register("sample", sample)
    infos = [ColumnInfo(source=source_name, name=name, type=logical_type(duck_type))
             for (_, source_name, duck_type), name in zip(columns, unique_names(raw_names))]
    kept = len(infos)
    if source.kind == "csv" and _is_trailing_delimiter_column(con, raw_names, len(infos)):
        # "a;b;c;" on every line: the empty last field is no column. The reader still
        # needs it (read_csv's columns are positional), so it is named in csv_options.
        csv_options["trailing_column"] = infos[-1].source
        kept -= 1
        infos = infos[:kept]
    if not infos:
        raise IngestError("The file has no columns")
    # Numbers written as text are a habit of text exports (CSV, and text cells of Excel
    # sheets); a JSON string "1" was written as a string on purpose.
    decisions = _classify_text_columns(con, infos, choices, csv_options.get("delimiter"), doubles,
                                       numbers=source.kind == "csv")
    preview = con.execute(
        f"SELECT {', '.join(f'c{i}' for i in range(kept))} FROM sample LIMIT {PREVIEW_ROWS}"
    ).fetchall()
    if not preview and not allow_empty:
        if source.kind == "csv" and csv_options.get("header"):
            raise IngestError("The file has a header but no rows of data")
        raise IngestError("The file has no rows of data")
    rows = [[_json_value(v) for v in row] for row in preview]
    reading = _reading(source, csv_options, infos, decisions, choices)
    reading["reread_doubles"] = (source.kind == "csv" and not text_doubles and decisions.get("decimal") == ","
                                 and any(c[2] == "DOUBLE" for c in columns))
    return Inspection(source.format, source.sheet, infos, rows, list(source.notes), csv_options, reading)


def _is_trailing_delimiter_column(con, raw_names: list[str], count: int) -> bool:
    """Whether the last column is the empty field after a delimiter that ends every line:
    no name in the header and no value in the sample."""
    if count < 2 or raw_names[-1].strip() or not any(name.strip() for name in raw_names[:-1]):
        return False  # a header that ends with the delimiter, and names the other columns
    return _one(con, f"SELECT count({_text_value(f'c{count - 1}')}) FROM sample")[0] == 0


DATE_ORDER_WORDS = {"dmy": "day-first dates", "mdy": "month-first dates"}
DELIMITER_WORDS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "|"}


def _date_order(fmt: str | None) -> str | None:
    if not fmt:
        return None
    if fmt.startswith(("%d/%m", "%d.%m", "%d-%m")):
        return "dmy"
    if fmt.startswith("%m/%d"):
        return "mdy"
    return None


def _reading(source: Source, csv_options: dict, infos: list[ColumnInfo], decisions: dict, choices: dict) -> dict:
    """What was decided about the file, as values (for the controls that change them)
    and in words (for the screen): delimiter, encoding, decimal mark, thousands
    separator, date order, missing-value words, a trailing delimiter."""
    formats = [NumberFormat.from_dict(c.number_format) for c in infos if c.number_format]
    orders = [o for o in (_date_order(c.date_format) for c in infos) if o]
    reading = {
        "delimiter": csv_options.get("delimiter"),
        "encoding": source.encoding,
        "decimal": decisions.get("decimal"),
        "thousands": next((f.thousands for f in formats if f.thousands), None),
        "date_order": orders[0] if orders else None,
        "trailing_delimiter": bool(csv_options.get("trailing_column")),
        "chosen": dict(choices),
    }
    words = []
    if source.encoding and source.encoding not in ("utf-8", "utf-8-sig"):
        words.append(f"encoding {source.encoding}")
    if csv_options.get("delimiter") and csv_options["delimiter"] != ",":
        words.append(f"delimiter {DELIMITER_WORDS.get(csv_options['delimiter'], csv_options['delimiter'])}")
    if any(f.decimal == "," and not f.integer for f in formats):
        words.append("decimal comma")
    for mark in sorted({f.thousands for f in formats if f.thousands}):
        words.append(f"thousands separator {number_formats.THOUSANDS_LABELS[mark]}")
    if decisions.get("ambiguous"):
        words.append(decisions["ambiguous"])
    for order in sorted(set(orders)):
        words.append(DATE_ORDER_WORDS[order])
    for currency in sorted({f.currency for f in formats if f.currency}):
        words.append(f"currency {currency} dropped")
    if any(f.percent for f in formats):
        words.append("% dropped (values in percent)")
    if any(f.parentheses for f in formats):
        words.append("(123) read as -123")
    missing = sorted({w for f in formats for w in f.missing})
    if missing:
        words.append(", ".join(f"'{w}'" for w in missing) + " read as missing")
    if reading["trailing_delimiter"]:
        words.append("trailing delimiter ignored")
    reading["summary"] = words
    return reading


def _text_value(column: str) -> str:
    return f"NULLIF(trim(CAST({column} AS VARCHAR)), '')"


def _unpivoted_text(indexes: list[int], source: str = "sample") -> str:
    """The sample's columns ``indexes`` as (col, v) rows of non-empty text. Checks then
    run as one GROUP BY whatever the number of columns: a query per column, or one with
    an aggregate per column, takes minutes on a file of thousands of columns."""
    select = ", ".join(f"CAST(c{i} AS VARCHAR) AS c{i}" for i in indexes)
    return (f"(SELECT col, NULLIF(trim(v), '') AS v FROM (UNPIVOT (SELECT {select} FROM {source}) "
            "ON COLUMNS(*) INTO NAME col VALUE v)) WHERE v IS NOT NULL")


def _classify_text_columns(con, infos: list[ColumnInfo], choices: dict | None = None, delimiter: str | None = None,
                           doubles: set[str] | None = None, numbers: bool = True) -> dict:
    """Dates for text columns whose every sampled value parses with one format of
    DATE_FORMATS (the first that fits: month-first before day-first, unless the person
    chose an order); numbers for those written the way exports write them (see
    _classify_numbers); categorical for the other text columns with few distinct
    values. Returns the file's number decisions (decimal mark, ambiguity)."""
    choices = choices or {}
    text_columns = [i for i, info in enumerate(infos) if info.type == "text"]
    if not text_columns:
        return {}
    # Dates are 6 to 40 characters of digits, letters (month names, T, Z) and separators.
    plausible = "bool_and(regexp_full_match({v}, '[0-9A-Za-z ,:./+-]{{6,40}}') AND regexp_matches({v}, '[0-9]'))"
    if len(text_columns) <= FEW_TEXT_COLUMNS:
        # Aggregates per column: ten times cheaper than the UNPIVOT below on a few columns.
        parts = [f"{plausible.format(v=_text_value(f'c{i}'))}, approx_count_distinct({_text_value(f'c{i}')}), "
                 f"count({_text_value(f'c{i}')})" for i in text_columns]
        row = con.execute(f"SELECT {', '.join(parts)} FROM sample").fetchone()
        profile = [(f"c{i}", *row[3 * k:3 * k + 3]) for k, i in enumerate(text_columns)]
    else:
        profile = con.execute(
            f"SELECT col, {plausible.format(v='v')}, approx_count_distinct(v), count(v) "
            f"FROM {_unpivoted_text(text_columns)} GROUP BY col"
        ).fetchall()
    counts = {int(col[1:]): (distinct, non_null) for col, _, distinct, non_null in profile}
    date_like = [int(col[1:]) for col, plausible, _, _ in profile if plausible]
    if date_like:
        # Up to DATE_SAMPLE_VALUES distinct values per column: trying every format on every
        # sampled row took seconds. A later value that needs another format is handled
        # when writing (see _refit_date_format).
        con.execute(f"CREATE TEMP TABLE date_values AS SELECT col, v, row_number() OVER (PARTITION BY col) AS n "
                    f"FROM (SELECT DISTINCT col, v FROM {_unpivoted_text(date_like)}) "
                    f"QUALIFY row_number() OVER (PARTITION BY col) <= {DATE_SAMPLE_VALUES}")
        try:
            for col, (fmt, kind) in _date_formats_found(con, date_formats(choices.get("date_order"))).items():
                info = infos[int(col[1:])]
                info.date_format, info.type = fmt, kind
                info.detected = DATE_ORDER_WORDS.get(_date_order(fmt), "")
        finally:
            con.execute("DROP TABLE date_values")
    still_text = [i for i in text_columns if infos[i].type == "text" and counts.get(i, (0, 0))[1]]
    number_like = _numeric_looking(con, still_text) if numbers else []
    decisions = _classify_numbers(con, infos, number_like, choices, delimiter, doubles or set())
    for info in infos:
        if info.type == "text" and info.source in (doubles or ()):
            info.type = "float"  # DuckDB read it as numbers (1.5E3 and the like): so do we
    for i in text_columns:
        if infos[i].type == "text" and i in counts and is_categorical(*counts[i]):
            infos[i].type = "categorical"
    return decisions


NUMBER_VALUES = 5000  # distinct sampled values per column judged in Python
# The cheap "looks like a number" filter reads this many sampled rows: a regex over every
# text value of the sample cost a third of a plain file's inspection. A column that
# passes is judged on all its sampled values in Python (detect), so nothing is lost.
NUMBER_FILTER_ROWS = 1000


def _numeric_looking(con, indexes: list[int]) -> list[int]:
    """The text columns whose first sampled values are all numbers with separators,
    currency, % or missing-value words (see number_formats.LOOKS_NUMERIC_SQL)."""
    if not indexes:
        return []
    looks = (f"bool_and(list_contains({number_formats.MISSING_WORDS_SQL}, v) "
             f"OR regexp_full_match(v, {literal(number_formats.LOOKS_NUMERIC_SQL)}))")
    head = f"(SELECT * FROM sample LIMIT {NUMBER_FILTER_ROWS})"
    rows = con.execute(f"SELECT col, {looks} FROM {_unpivoted_text(indexes, head)} GROUP BY col").fetchall()
    return sorted(int(col[1:]) for col, ok in rows if ok)


def _classify_numbers(con, infos: list[ColumnInfo], indexes: list[int], choices: dict, delimiter: str | None,
                      doubles: set[str]) -> dict:
    """Numbers for the text columns whose values all read under one convention (see
    storage/number_formats.py). The decimal mark is the person's choice, else the one the
    file's values prove (most columns), else the delimiter's habit: a comma in a
    semicolon-separated file. Returns {"decimal": mark, "ambiguous": words or None}."""
    if not indexes:
        return {}
    decimal_choice = choices.get("decimal")
    thousands_choice = {"none": ""}.get(choices.get("thousands"), choices.get("thousands"))
    found = {}
    for col, values in con.execute(
        # Sorted: the values kept (NUMBER_VALUES) and the example named on screen must not
        # depend on the order DuckDB's threads happen to finish in.
        f"SELECT col, list(v ORDER BY v) FROM (SELECT DISTINCT col, v FROM {_unpivoted_text(indexes)}) "
        f"GROUP BY col"
    ).fetchall():
        values = values[:NUMBER_VALUES]
        result = number_formats.detect(values, decimal_choice, thousands_choice)
        if result is not None:
            found[int(col[1:])] = (result, values)
    if not found:
        return {}
    proven = Counter(m for m in (number_formats.proven_decimal(r) for r, _ in found.values()) if m)
    if decimal_choice:
        decimal, why = decimal_choice, "as you chose"
    elif proven and proven.most_common(1)[0][1] > sum(proven.values()) / 2:
        decimal, why = proven.most_common(1)[0][0], "as the file's other numbers show"
    else:
        decimal = "," if delimiter == ";" else "."
        why = "as usual in semicolon-separated files" if decimal == "," else "the usual reading"
    ambiguous = None
    for i, (result, values) in found.items():
        info = infos[i]
        fmt = number_formats.decide(result, decimal, values)
        info.type = "integer" if fmt.integer else "float"
        # A column DuckDB read as 1234.5 itself is read natively again when writing.
        info.number_format = None if fmt.is_plain and info.source in doubles else fmt.as_dict()
        info.detected = fmt.describe()
        if fmt.ambiguous and ambiguous is None:
            example = next(v for v in values if "," in v or "." in v)
            reading = _format_number(number_formats.parse_value(example, fmt))
            ambiguous = f"'{example}' read as {reading} ({why})"
    return {"decimal": decimal, "ambiguous": ambiguous}


def _format_number(value: float | None) -> str:
    if value is None:
        return "missing"
    return f"{value:.10g}" if value != int(value) else f"{int(value)}"


def date_formats(order: str | None) -> tuple[tuple[str, str], ...]:
    """DATE_FORMATS for a chosen date order: day-first drops the month-first formats and
    the other way round; no choice keeps them all (month-first tried first)."""
    if order == "dmy":
        return tuple(f for f in DATE_FORMATS if _date_order(f[0]) != "mdy")
    if order == "mdy":
        return tuple(f for f in DATE_FORMATS if _date_order(f[0]) != "dmy")
    return DATE_FORMATS


def _date_formats_found(con, formats=DATE_FORMATS) -> dict[str, tuple[str, str]]:
    """{column: (format, kind)} for the columns of ``date_values`` whose every value reads
    with one of ``formats`` (the first that fits). The first few values of each column
    rule out most formats, so the full check tries only the ones left."""
    def fits(formats):
        return ", ".join(f"bool_and(try_strptime(v, {literal(fmt)}) IS NOT NULL)" for fmt, _ in formats)

    found = {}
    for col, *row in con.execute(f"SELECT col, {fits(formats)} FROM date_values WHERE n <= 20 "
                                 "GROUP BY col").fetchall():
        candidates = [f for ok, f in zip(row, formats) if ok]
        if not candidates:
            continue
        full = con.execute(f"SELECT {fits(candidates)} FROM date_values WHERE col = ?", [col]).fetchone()
        match = next((f for ok, f in zip(full, candidates) if ok), None)
        if match is not None:
            found[col] = match
    return found


def _json_value(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, float) and value != value:
            return None
        return value
    return str(value)


# --- writing ------------------------------------------------------------------------------


def _expression_for(plan: ColumnPlan, source_expr: str, lenient: bool = False) -> str:
    """The SQL that turns a source column into the planned type. ``lenient`` gives NULL
    instead of an error for a value that does not convert (to find the culprits)."""
    cast, parse = ("TRY_CAST", "try_strptime") if lenient else ("CAST", "strptime")
    target = STORAGE_TYPE[plan.type]
    if plan.number_format and plan.type in ("integer", "float"):
        return number_formats.number_sql(NumberFormat.from_dict(plan.number_format), source_expr, cast, target)
    if plan.date_format and plan.type in ("date", "timestamp"):
        text = f"trim(CAST({source_expr} AS VARCHAR))"
        parsed = f"{parse}({text}, {literal(plan.date_format)})"
        return f"{cast}(CASE WHEN {text} = '' THEN NULL ELSE {parsed} END AS {target})"
    return f"{cast}({source_expr} AS {target})"


def validate_plan(inspection: Inspection, plans: list[ColumnPlan]) -> list[ColumnPlan]:
    known = {c.source for c in inspection.columns}
    chosen = [p for p in plans if p.include]
    if not chosen:
        raise IngestError("Keep at least one column")
    for plan in plans:
        if plan.source not in known:
            raise IngestError(f"The file has no column {plan.source!r}")
        if plan.type not in LOGICAL_TYPES:
            raise IngestError(f"Unknown type {plan.type!r} for column {plan.name!r}")
    names = [p.name for p in chosen]
    cleaned = unique_names(names)
    lowered = Counter(n.lower() for n in names)
    for plan, clean in zip(chosen, cleaned):
        if not plan.name.strip():
            raise IngestError("Every kept column needs a name")
        if lowered[plan.name.lower()] > 1:
            raise IngestError(f"Two columns would both be called {plan.name!r}; rename one")
        plan.name = clean
    return plans


def default_plan(inspection: Inspection) -> list[ColumnPlan]:
    return [ColumnPlan(c.source, c.name, c.type, True, c.date_format, c.number_format) for c in inspection.columns]


@dataclass
class _Write:
    """What one write_parquet call has learnt from failed attempts, so the next attempt
    reads the file the way that works."""

    source: Source  # the file read; a re-decoded copy after invalid bytes
    csv_options: dict
    plans: list[ColumnPlan]
    user_typed: set[str]
    text_fallback: set[str] = field(default_factory=set)
    date_formats: dict[str, str] = field(default_factory=dict)  # source -> format found on the whole file
    json_sample: int = SNIFF_SAMPLE_ROWS
    redecoded: bool = False

    def effective(self, plan: ColumnPlan) -> ColumnPlan:
        if plan.source in self.text_fallback:
            return ColumnPlan(plan.source, plan.name, "text", True, None)
        return ColumnPlan(plan.source, plan.name, plan.type, True,
                          self.date_formats.get(plan.source, plan.date_format), plan.number_format)

    def read_types(self, inspection: Inspection) -> dict:
        """How read_csv should read each column. Columns we cast ourselves (dates with a
        format, retyped columns) are read as text so that SQL does the conversion."""
        by_source = {p.source: p for p in self.plans}
        types = {}
        for info in inspection.columns:
            plan = by_source.get(info.source)
            effective = self.effective(plan) if plan is not None and plan.include else None
            if effective is None or effective.date_format or effective.number_format or effective.type != info.type:
                types[info.source] = "VARCHAR"
            else:
                types[info.source] = STORAGE_TYPE[effective.type]
        if self.csv_options.get("trailing_column"):
            types[self.csv_options["trailing_column"]] = "VARCHAR"  # last: read_csv's columns are positional
        return types


def write_parquet(
    source: Source,
    inspection: Inspection,
    plans: list[ColumnPlan],
    dest: Path,
    temp_dir: Path,
    on_progress: Callable[[float], None] | None = None,
    user_typed: set[str] | None = None,
) -> tuple[int, list[dict]]:
    """Write the planned columns to ``dest`` (a temp path; the caller renames it into
    place). Returns (rows, schema). A column whose type was sniffed, not chosen by the
    person, is kept as text when a later value does not fit; a chosen type that does not
    fit is an error naming the column and the value. What changed is added to
    inspection.notes."""
    state = _Write(source, dict(inspection.csv_options), validate_plan(inspection, plans), set(user_typed or ()))
    for _attempt in range(MAX_WRITE_ATTEMPTS):
        # One thread for wide files (see WIDE_COLUMNS) and for Parquet: re-writing a Parquet
        # file is bound by decoding, and two threads held twice the row groups in memory
        # for no gain in time (1M rows x 16 columns: 0.8 s either way, +135 MB against
        # +284 MB; bench/connections.py).
        one_thread = len(state.plans) > WIDE_COLUMNS or source.kind == "parquet"
        con = _connect(temp_dir, threads=1 if one_thread else None)
        stop = threading.Event()
        relation, checks = "", []
        try:
            relation, expressions = _write_relation(con, state, inspection)
            select_parts, schema, checks = _select_list(state, expressions)
            sql = (f"COPY (SELECT {', '.join(select_parts)} FROM {relation}) TO {literal(str(dest))} "
                   f"(FORMAT parquet, {PARQUET_OPTIONS})")
            if on_progress is not None:
                threading.Thread(target=_watch_progress, args=(con, stop, on_progress), daemon=True).start()
            con.execute(sql)
            stop.set()
            rows = _one(con, f"SELECT count(*) FROM read_parquet({literal(str(dest))})")[0]
            return rows, schema
        except duckdb.Error as exc:
            stop.set()
            dest.unlink(missing_ok=True)
            _adapt_after_failure(con, state, inspection, relation, checks, exc, temp_dir)
        finally:
            stop.set()
            con.close()
    raise IngestError("The file could not be read: too many columns changed type while reading")


def _write_relation(con, state: _Write, inspection: Inspection) -> tuple[str, dict[str, str]]:
    """The relation to select from, and the expression for each source column."""
    if state.source.kind == "csv":
        relation = _csv_reader_sql(state.source.path, state.csv_options, state.read_types(inspection))
        return relation, {c.source: quote_ident(c.source) for c in inspection.columns}
    relation, _field = _structured_relation(con, state.source, state.json_sample)
    return relation, {name: expression for expression, name, _ in _flatten_struct_columns(con, relation)}


def _select_list(state: _Write, expressions: dict[str, str]):
    """(SELECT parts, schema, [(plan, lenient check expression)] for typed columns)."""
    select_parts, schema, checks = [], [], []
    for plan in state.plans:
        if not plan.include:
            continue
        if plan.source not in expressions:
            raise IngestError(f"The column {plan.source!r} is no longer in the file")
        effective = state.effective(plan)
        source_expr = expressions[plan.source]
        select_parts.append(f"{_expression_for(effective, source_expr)} AS {quote_ident(plan.name)}")
        schema.append(column_schema(plan.name, effective.type))
        if effective.type not in ("text", "categorical"):
            checks.append((plan, source_expr, _expression_for(effective, source_expr, lenient=True)))
    return select_parts, schema, checks


def _is_conversion_failure(text: str) -> bool:
    return any(marker in text for marker in (
        "Conversion Error", "Could not convert", "Could not parse string", "Failed to cast",
    ))


def _adapt_after_failure(con, state: _Write, inspection: Inspection, relation: str, checks, exc, temp_dir) -> None:
    """Change how the next attempt reads the file, or raise the IngestError to show."""
    text = str(exc)
    kind = state.source.kind
    if kind == "csv" and state.csv_options.get("parallel", True) and _needs_serial_reader(exc):
        state.csv_options["parallel"] = False
        return
    if kind == "csv" and not state.csv_options.get("long_lines") and _is_long_line_error(text):
        state.csv_options["long_lines"] = True  # a very long line after the sniffed part
        return
    if kind == "csv" and not state.redecoded and ("Invalid unicode" in text or "byte sequence mismatch" in text):
        # The first megabyte was clean UTF-8; a later part is not.
        utf8, note = decode_damaged_text(state.source.path, temp_dir, state.source.expansion)
        state.source.temp_files.append(utf8)
        state.source = Source("csv", utf8, state.source.format, state.source.sheet, temp_files=state.source.temp_files,
                              expansion=state.source.expansion)
        state.redecoded = True
        inspection.notes.append(note)
        return
    if kind == "json" and state.json_sample != -1 and "JSON transform error" in text:
        # A value later in the file has another type than the sampled ones: let DuckDB
        # look at every record to choose the column types.
        state.json_sample = -1
        return
    if not _is_conversion_failure(text):
        raise IngestError(_friendly_duckdb_error(exc, state.source.path)) from None
    plan, example = _failing_column(con, relation, checks, text)
    if kind == "csv" and not state.csv_options.get("null_words", True) and example is not None \
            and example.strip() in NULL_STRINGS:
        state.csv_options["null_words"] = True  # "NULL" or "N/A" first appears after the head
        return
    if plan is None:
        raise IngestError(_friendly_duckdb_error(exc, state.source.path)) from None
    effective = state.effective(plan)
    if plan.source in state.user_typed:
        raise IngestError(
            f"Column {plan.name!r} has values that are not {_type_words(effective)}{_such_as(example)}"
            f"{_line_of(text)}; choose another type for it"
        ) from None
    if effective.date_format and plan.source not in state.date_formats:
        other = _refit_date_format(con, relation, checks, plan, effective, example)
        if other is not None:
            state.date_formats[plan.source] = other
            inspection.notes.append(f"Column {plan.name!r} is read with the date format {other}: "
                                    f"values such as {example!r} appear after the first rows")
            return
    if plan.source in state.text_fallback:
        raise IngestError(_friendly_duckdb_error(exc, state.source.path)) from None
    state.text_fallback.add(plan.source)
    inspection.notes.append(f"Column {plan.name!r} has values that are not {_type_words(effective)}"
                            f"{_such_as(example)}, so it is kept as text")


def _failing_column(con, relation: str, checks, text: str) -> tuple[ColumnPlan | None, str | None]:
    """The planned column whose value did not convert, and that value. DuckDB names the
    column when the cast happens in the CSV reader; otherwise each typed column is
    checked with a lenient cast (this runs only after a failure)."""
    value = re.search(r'(?:convert|parse) string "(.*?)" (?:to|according)', text, re.DOTALL)
    value = value or re.search(r'cast value to \w+: "(.*?)"', text, re.DOTALL)
    named = re.search(r'converting column "(.*?)"', text)
    candidates = [c for c in checks if named is None or c[0].source == named.group(1)]
    for plan, source_expr, lenient in candidates:
        if named is not None and value is not None:
            return plan, value.group(1)
        try:
            row = _one(
                con,
                f"SELECT CAST({source_expr} AS VARCHAR) FROM {relation} WHERE {_text_value(source_expr)} IS NOT NULL "
                f"AND ({lenient}) IS NULL LIMIT 1",
            )
        except duckdb.Error:  # the reader itself fails on this value: DuckDB named the column
            return (plan, None) if named is not None else (None, None)
        if row is not None:
            return plan, row[0]
    return None, value.group(1) if value else None


def _refit_date_format(con, relation: str, checks, plan: ColumnPlan, effective: ColumnPlan,
                       example: str | None) -> str | None:
    """Another format of DATE_FORMATS that reads every value of the whole column, when
    the one found on the first rows does not (01/02/2010 first, 13/01/2010 later on)."""
    source_expr = next(expr for p, expr, _ in checks if p is plan)
    formats = [fmt for fmt, kind in DATE_FORMATS if fmt != effective.date_format and kind == effective.type]
    if example is not None and formats:  # only formats that read the failing value are worth a full scan
        fits = _one(con, "SELECT " + ", ".join(
            f"try_strptime(trim(?), {literal(fmt)}) IS NOT NULL" for fmt in formats), [example] * len(formats))
        formats = [fmt for fmt, ok in zip(formats, fits) if ok]
    for fmt in formats:
        ok = _one(
            con,
            f"SELECT bool_and(v IS NULL OR try_strptime(v, {literal(fmt)}) IS NOT NULL) "
            f"FROM (SELECT {_text_value(source_expr)} AS v FROM {relation})",
        )[0]
        if ok:
            return fmt
    return None


_TYPE_WORDS = {"integer": "whole numbers", "float": "numbers", "boolean": "true/false values",
               "date": "dates", "timestamp": "dates with times"}


def _type_words(plan: ColumnPlan) -> str:
    words = _TYPE_WORDS.get(plan.type, plan.type)
    return f"{words} in the format {plan.date_format}" if plan.date_format else words


def _such_as(example: str | None) -> str:
    if example is None:
        return ""
    shown = example if len(example) <= 60 else example[:57] + "..."
    return f" (such as {shown!r})"


def _watch_progress(con, stop: threading.Event, on_progress) -> None:
    while not stop.wait(0.25):
        try:
            progress = con.query_progress()
        except Exception:  # the query may be between stages
            continue
        if progress is not None and progress >= 0:
            on_progress(min(progress / 100.0, 0.99))


def column_schema(name: str, logical: str) -> dict:
    """A column of a dataset version's schema (schema_json)."""
    return {"name": name, "type": logical, "storage_type": STORAGE_TYPE[logical]}


# --- writing Arrow batches whose types are known -----------------------------------------

DICTIONARY_SAMPLE_ROWS = 10_000
DICTIONARY_RATIO = 10
# How DuckDB's STORAGE_TYPE columns are stored in a dataset file, as Arrow types.
ARROW_STORAGE = {"integer": pa.int64(), "float": pa.float64(), "boolean": pa.bool_(), "date": pa.date32(),
                 "timestamp": pa.timestamp("us"), "text": pa.string(), "categorical": pa.string()}


def exact_arrow_cast(source: pa.DataType, logical: str) -> bool:
    """Whether Arrow's cast of ``source`` to the logical type's storage gives exactly what
    write_parquet's CAST gives for the same column read from a Parquet file. Widening
    integers and floats, dates and strings are the same values either way. A timestamp
    with a zone holds UTC instants, which both keep as UTC wall time (DuckDB's TimeZone is
    UTC, see storage.duck). Anything else (decimals, other units, unsigned 64-bit...) goes
    through the import instead."""
    if logical == "integer":
        return pa.types.is_signed_integer(source) or (pa.types.is_unsigned_integer(source) and source.bit_width < 64)
    if logical == "float":
        return source in (pa.float32(), pa.float64())
    if logical == "boolean":
        return pa.types.is_boolean(source)
    if logical == "date":
        return source == pa.date32()
    if logical == "timestamp":
        return pa.types.is_timestamp(source) and source.unit == "us"
    if logical in ("text", "categorical"):
        return source in (pa.string(), pa.large_string())
    return False


@dataclass(frozen=True)
class Written:
    """A Parquet file already in a dataset's final form (DatasetFileWriter), ready to be
    committed as it is: its rows and its schema (as write_parquet returns them)."""

    rows: int
    schema: list[dict]


class DatasetFileWriter:
    """Arrow batches written straight into a dataset file, in the form write_parquet gives
    a file: the plans' names (validate_plan), each column cast to its storage type, row
    groups of ROW_GROUP_ROWS, snappy, column statistics. For sources whose types are known
    already (a sync's copy, typed by the database): one pass, instead of a raw file that
    the import reads and writes again. Only for plans whose every column passes
    exact_arrow_cast; the batches come in ``source_types``.

    Text is checked to be valid UTF-8, which DuckDB's reading would have checked. At most
    one row group is held (plus the batch being added), so memory stays bounded."""

    def __init__(self, path: Path, plans: list[ColumnPlan], source_types: list[pa.DataType]):
        for plan, source in zip(plans, source_types, strict=True):
            if not exact_arrow_cast(source, plan.type):
                raise ValueError(f"{plan.source}: {source} is not written as {plan.type} here")
        self.path = path
        self.plans = plans
        self.schema = pa.schema([pa.field(p.name, ARROW_STORAGE[p.type]) for p in plans])
        self._text = [i for i, p in enumerate(plans) if p.type in ("text", "categorical")]
        self._writer: pq.ParquetWriter | None = None  # opened with the first rows: see _open
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self.rows = 0

    def _open(self, first: pa.RecordBatch | None) -> pq.ParquetWriter:
        """The Parquet writer, with dictionary encoding for the columns whose values repeat
        in the first DICTIONARY_SAMPLE_ROWS rows (at most one distinct value in
        DICTIONARY_RATIO), as DuckDB's writer keeps dictionaries for few distinct values
        only: on a column of mostly distinct values the writer would build a dictionary
        only to drop it, a third of the writing time at 1M rows, for no smaller file."""
        repeating: list[str] = []
        if first is not None:
            head = first.slice(0, DICTIONARY_SAMPLE_ROWS)
            most = max(1, head.num_rows // DICTIONARY_RATIO)
            repeating = [f.name for f, column in zip(self.schema, head.columns)
                         if pc.count_distinct(column, mode="all").as_py() <= most]
        # No ARROW:schema in the footer: the file carries what DuckDB's own files carry.
        return pq.ParquetWriter(self.path, self.schema, compression=PARQUET_COMPRESSION, store_schema=False,
                                write_statistics=True, use_dictionary=repeating or False)

    def write(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        arrays = []
        for index, field_ in enumerate(self.schema):
            array = batch.column(index)
            if array.type != field_.type:
                array = array.cast(field_.type)
            arrays.append(array)
        for index in self._text:
            try:
                arrays[index].validate(full=True)
            except pa.ArrowInvalid:
                raise IngestError(f"Column {self.plans[index].name!r} has text that is not valid UTF-8") from None
        batch = pa.RecordBatch.from_arrays(arrays, schema=self.schema)
        if self._writer is None:
            self._writer = self._open(batch)
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        self.rows += batch.num_rows
        # Whole row groups as soon as there are enough rows: batches do not line up with
        # row groups, and a Parquet writer makes one group (at least) per call.
        while self._pending_rows >= ROW_GROUP_ROWS:
            pending = pa.Table.from_batches(self._pending, schema=self.schema)
            self._writer.write_table(pending.slice(0, ROW_GROUP_ROWS), row_group_size=ROW_GROUP_ROWS)
            rest = pending.slice(ROW_GROUP_ROWS)
            self._pending, self._pending_rows = rest.to_batches(), rest.num_rows

    def close(self) -> Written:
        """Writes the last (short) row group and the footer."""
        if self._writer is None:
            self._writer = self._open(None)  # no rows: an empty file, which the caller refuses
        if self._pending_rows:
            self._writer.write_table(pa.Table.from_batches(self._pending, schema=self.schema),
                                     row_group_size=ROW_GROUP_ROWS)
        self._pending, self._pending_rows = [], 0
        self._writer.close()
        return Written(self.rows, [column_schema(p.name, p.type) for p in self.plans])

    def abort(self) -> None:
        """Closes the file after a failure; the caller removes it."""
        self._pending = []
        try:
            if self._writer is not None:
                self._writer.close()
        except Exception:  # noqa: BLE001 - the file is thrown away anyway
            pass


def schema_json(schema: list[dict]) -> str:
    return json.dumps(schema, ensure_ascii=False)
