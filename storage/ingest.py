"""Ingest: look at a prepared source (inspect), then write it as one typed Parquet file
(write_parquet) following the person's plan: names, types, skipped columns.

Types come from DuckDB's sniffer, then our own date detection on text columns (DuckDB
does not read 12/01/2010 08:26, and prefers day-first where month-first is more usual).
A column whose later values do not fit the sniffed type is read again as text rather
than failing the whole file.
"""
from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import duckdb

from analytics.columns import DATE_FORMATS, LOGICAL_TYPES, STORAGE_TYPE, is_categorical, logical_type, unique_names
from storage.duck import connect, literal
from storage.errors import IngestError
from storage.sources import Source, transcode_to_utf8
from storage.sql import quote_ident

PREVIEW_ROWS = 20
DATE_SAMPLE_ROWS = 5000
MAX_LINE_BYTES = 64 * 1024 * 1024  # a 10 MB single line is fine; a 1 GB one is not
MAX_COLUMNS = 10_000
# Read as missing, like pandas does, except "NA"/"na", which are too often real codes
# (North America, Namibia) to throw away.
NULL_STRINGS = ("", "N/A", "n/a", "#N/A", "NULL", "null", "NaN", "nan", "-NaN", "#NA", "<NA>")
NULL_STRINGS_SQL = "[" + ", ".join("'" + v + "'" for v in NULL_STRINGS) + "]"


@dataclass
class ColumnInfo:
    source: str  # the column as the reader names it
    name: str  # the clean name we propose
    type: str  # logical type
    date_format: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Inspection:
    format: str
    sheet: str | None
    columns: list[ColumnInfo]
    rows: list[list]  # first rows, JSON-friendly, in column order
    notes: list[str] = field(default_factory=list)
    csv_options: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "format": self.format,
            "sheet": self.sheet,
            "columns": [c.as_dict() for c in self.columns],
            "rows": self.rows,
            "notes": self.notes,
            "csv_options": self.csv_options,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Inspection":
        return cls(
            format=data["format"], sheet=data.get("sheet"),
            columns=[ColumnInfo(**c) for c in data["columns"]], rows=data.get("rows", []),
            notes=data.get("notes", []), csv_options=data.get("csv_options", {}),
        )


@dataclass
class ColumnPlan:
    source: str
    name: str
    type: str
    include: bool = True
    date_format: str | None = None


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
        f"nullstr = {NULL_STRINGS_SQL}",
        f"max_line_size = {MAX_LINE_BYTES}",
        f"buffer_size = {MAX_LINE_BYTES * 2}",
        "auto_detect = false" if columns is not None else "auto_detect = true",
        "encoding = 'utf-8'",
    ]
    if columns is not None:
        spec = ", ".join(f"{literal(name)}: {literal(kind)}" for name, kind in columns.items())
        parts.append("columns = {" + spec + "}")
    return "read_csv(" + ", ".join(parts) + ")"


def _friendly_duckdb_error(exc: Exception) -> str:
    text = str(exc)
    line = re.search(r"CSV Error on Line: (\d+)", text)
    where = f" (line {line.group(1)})" if line else ""
    if "Maximum line size" in text or "max_line_size" in text:
        return f"A line of the file is longer than {MAX_LINE_BYTES // (1024 * 1024)} MB{where}; is it really a CSV file?"
    if "unterminated quotes" in text.lower() or "unterminated quote" in text.lower():
        return f"A quoted value is never closed{where}: check the quotes in the file"
    if "Expected Number of Columns" in text or "too many columns" in text.lower():
        return f"A row has more values than the header{where}; check the delimiter and the quotes"
    if "Invalid unicode" in text or "byte sequence mismatch" in text:
        return f"The file has bytes that are not valid UTF-8{where}"
    if "Could not convert" in text:
        value = re.search(r'Could not convert string "(.*?)" to', text)
        column = re.search(r'converting column "(.*?)"', text)
        return (
            f"The value {value.group(1)!r} in column {column.group(1)!r}{where} does not fit the chosen type"
            if value and column else f"A value does not fit the chosen column type{where}"
        )
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"The file could not be read{where}: {first[:300]}"


def _sniff_csv(con, path: Path) -> tuple[dict, list[tuple[str, str]]]:
    try:
        row = con.execute(
            "SELECT Delimiter, Quote, Escape, HasHeader, Columns FROM sniff_csv(?, sample_size = 20480, "
            f"max_line_size = {MAX_LINE_BYTES}, buffer_size = {MAX_LINE_BYTES * 2}, null_padding = true, "
            f"nullstr = {NULL_STRINGS_SQL})",
            [str(path)],
        ).fetchone()
    except duckdb.Error as exc:
        raise IngestError(_friendly_duckdb_error(exc)) from None
    delimiter, quote, escape, has_header, columns = row
    # "(empty)" means the sample had no quotes; later rows may, so keep the standard ones.
    quote = '"' if quote in (None, "", "(empty)") else quote
    escape = quote if escape in (None, "", "(empty)") else escape
    options = {"delimiter": delimiter or ",", "quote": quote, "escape": escape, "header": bool(has_header)}
    cols = [(c["name"], c["type"]) for c in columns]
    return options, cols


def _source_relation_sql(source: Source, csv_options: dict | None, read_types: dict | None) -> str:
    if source.kind == "csv":
        return _csv_reader_sql(source.path, csv_options, read_types)
    if source.kind == "parquet":
        return f"read_parquet({literal(str(source.path))})"
    return (f"read_json({literal(str(source.path))}, format = 'auto', maximum_object_size = {MAX_LINE_BYTES}, "
            "sample_size = 20480)")


def _flatten_struct_columns(con, relation_sql: str) -> list[tuple[str, str, str]]:
    """(expression, name, duckdb type) per column, with nested objects flattened to
    dotted columns and lists kept as JSON text."""
    described = con.execute(f"DESCRIBE SELECT * FROM {relation_sql}").fetchall()
    result = []

    def walk(expression: str, name: str, kind: str):
        if kind.startswith("STRUCT("):
            inner = con.execute(f"DESCRIBE SELECT unnest({expression}) FROM {relation_sql}").fetchall()
            for field_name, field_type, *_ in inner:
                walk(f"struct_extract({expression}, {literal(field_name)})", f"{name}.{field_name}", field_type)
        elif kind.endswith("[]") or kind.startswith(("MAP(", "LIST(", "UNION(")) or kind == "JSON":
            result.append((f"CAST(to_json({expression}) AS VARCHAR)", name, "VARCHAR"))
        else:
            result.append((expression, name, kind))

    for column_name, column_type, *_ in described:
        walk(quote_ident(column_name), column_name, column_type)
    return result


def _detect_date_format(con, relation_sql: str, expression: str) -> tuple[str, str] | None:
    """The first format every sampled non-empty value of a text column parses with."""
    sample = con.execute(
        f"SELECT DISTINCT v FROM (SELECT trim(CAST({expression} AS VARCHAR)) AS v FROM {relation_sql} "
        f"LIMIT {DATE_SAMPLE_ROWS}) WHERE v IS NOT NULL AND v <> '' LIMIT 1000"
    ).fetchall()
    values = [v for (v,) in sample]
    if not values or not all(any(ch.isdigit() for ch in v) for v in values[:50]):
        return None
    for fmt, kind in DATE_FORMATS:
        ok = con.execute(
            "SELECT bool_and(try_strptime(v, ?) IS NOT NULL) FROM (SELECT unnest(?::VARCHAR[]) AS v)", [fmt, values]
        ).fetchone()[0]
        if ok:
            return fmt, kind
    return None


def inspect(source: Source, temp_dir: Path) -> Inspection:
    """What the file holds: the proposed columns with their types, and the first rows."""
    con = connect(temp_dir)
    try:
        csv_options = {}
        if source.kind == "csv":
            csv_options, sniffed = _sniff_csv(con, source.path)
            if len(sniffed) > MAX_COLUMNS:
                raise IngestError(f"The file has {len(sniffed):,} columns; the most a dataset can have is {MAX_COLUMNS:,}")
            # Dates and times are read as text: our own detection picks their format.
            read_types = {n: ("VARCHAR" if t in ("DATE", "TIMESTAMP", "TIME") or t.startswith("TIMESTAMP") else t)
                          for n, t in sniffed}
            relation = _csv_reader_sql(source.path, csv_options, read_types)
            columns = [(quote_ident(n), n, read_types[n]) for n, t in sniffed]
        else:
            relation = _source_relation_sql(source, None, None)
            try:
                columns = _flatten_struct_columns(con, relation)
            except duckdb.Error as exc:
                if source.kind == "json":
                    raise IngestError("The JSON could not be read as a table: " + str(exc).splitlines()[0][:200]) from None
                raise IngestError(_friendly_duckdb_error(exc)) from None
            if source.kind == "json" and [n for _, n, _ in columns] == ["json"]:
                raise IngestError(
                    "The JSON is not a table: upload an array of objects, or one object per line (NDJSON)"
                )
        if not columns:
            raise IngestError("The file has no columns")
        names = unique_names([n for _, n, _ in columns])
        infos = []
        for (expression, source_name, duck_type), name in zip(columns, names):
            kind = logical_type(duck_type)
            date_format = None
            if kind == "text":
                found = _detect_date_format(con, relation, expression)
                if found:
                    date_format, kind = found
            infos.append(ColumnInfo(source=source_name, name=name, type=kind, date_format=date_format))
        select = ", ".join(f"{expr} AS {quote_ident(info.name)}" for (expr, _, _), info in zip(columns, infos))
        try:
            preview = con.execute(f"SELECT {select} FROM {relation} LIMIT {PREVIEW_ROWS}").fetchall()
        except duckdb.Error as exc:
            raise IngestError(_friendly_duckdb_error(exc)) from None
        _mark_categories(con, relation, columns, infos)
        rows = [[_json_value(v) for v in row] for row in preview]
        if source.kind == "csv" and not rows and csv_options.get("header"):
            raise IngestError("The file has a header but no rows of data")
        notes = list(source.notes)
        return Inspection(source.format, source.sheet, infos, rows, notes, csv_options)
    except duckdb.Error as exc:
        raise IngestError(_friendly_duckdb_error(exc)) from None
    finally:
        con.close()


def _mark_categories(con, relation, columns, infos) -> None:
    text_columns = [(expr, info) for (expr, _, _), info in zip(columns, infos) if info.type == "text"]
    if not text_columns:
        return
    aggregates = ", ".join(f"approx_count_distinct({expr}), count({expr})" for expr, _ in text_columns[:200])
    counts = con.execute(f"SELECT {aggregates} FROM (SELECT * FROM {relation} LIMIT 20000)").fetchone()
    for i, (_, info) in enumerate(text_columns[:200]):
        if is_categorical(counts[2 * i], counts[2 * i + 1]):
            info.type = "categorical"


def _json_value(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, float) and value != value:
            return None
        return value
    return str(value)


# --- writing ------------------------------------------------------------------------------


def _expression_for(plan: ColumnPlan, source_expr: str) -> str:
    target = STORAGE_TYPE[plan.type]
    if plan.date_format and plan.type in ("date", "timestamp"):
        parsed = f"strptime(trim(CAST({source_expr} AS VARCHAR)), {literal(plan.date_format)})"
        expression = f"CASE WHEN trim(CAST({source_expr} AS VARCHAR)) = '' THEN NULL ELSE {parsed} END"
        return f"CAST({expression} AS {target})"
    if plan.type == "boolean":
        return f"CAST({source_expr} AS BOOLEAN)"
    return f"CAST({source_expr} AS {target})"


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
    lowered = [n.lower() for n in names]
    for plan, clean in zip(chosen, cleaned):
        if not plan.name.strip():
            raise IngestError("Every kept column needs a name")
        if lowered.count(plan.name.lower()) > 1:
            raise IngestError(f"Two columns would both be called {plan.name!r}; rename one")
        plan.name = clean
    return plans


def default_plan(inspection: Inspection) -> list[ColumnPlan]:
    return [ColumnPlan(c.source, c.name, c.type, True, c.date_format) for c in inspection.columns]


def _read_types(inspection: Inspection, plans: list[ColumnPlan], text_fallback: set[str]) -> dict:
    """How read_csv should read each column. Columns we cast ourselves (dates with a
    format, retyped columns) are read as text so that SQL does the conversion."""
    by_source = {p.source: p for p in plans}
    types = {}
    for info in inspection.columns:
        plan = by_source.get(info.source)
        if plan is None or not plan.include or info.source in text_fallback or plan.date_format \
                or plan.type != info.type:
            types[info.source] = "VARCHAR"
        else:
            types[info.source] = STORAGE_TYPE[plan.type]
    return types


def _find_bad_cast(con, relation: str, candidates: list[tuple[str, str, str]]) -> tuple[str, str] | None:
    """(column, example value) of the first retyped column holding a value that does not
    convert. Runs only after a conversion failed, to name the column for the person."""
    for source_expr, name, check in candidates:
        row = con.execute(
            f"SELECT CAST({source_expr} AS VARCHAR) FROM {relation} WHERE {source_expr} IS NOT NULL "
            f"AND trim(CAST({source_expr} AS VARCHAR)) <> '' AND ({check}) IS NULL LIMIT 1"
        ).fetchone()
        if row is not None:
            return name, row[0]
    return None


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
    fit is an error naming the column and the value."""
    plans = validate_plan(inspection, plans)
    user_typed = set(user_typed or ())
    text_fallback: set[str] = set()
    current = source
    for _attempt in range(60):
        con = connect(temp_dir)
        stop = threading.Event()
        try:
            if current.kind == "csv":
                relation = _csv_reader_sql(current.path, inspection.csv_options, _read_types(inspection, plans, text_fallback))
                expressions = {c.source: quote_ident(c.source) for c in inspection.columns}
            else:
                relation = _source_relation_sql(current, None, None)
                expressions = {n: e for e, n, _ in _flatten_struct_columns(con, relation)}
            select_parts, schema, casts = [], [], []
            for plan in plans:
                if not plan.include:
                    continue
                kind = "text" if plan.source in text_fallback else plan.type
                effective = ColumnPlan(plan.source, plan.name, kind, True, plan.date_format if kind == plan.type else None)
                expression = _expression_for(effective, expressions[plan.source])
                select_parts.append(f"{expression} AS {quote_ident(plan.name)}")
                schema.append({"name": plan.name, "type": kind, "storage_type": STORAGE_TYPE[kind]})
                if kind != "text":
                    casts.append((plan, expressions[plan.source], expression.replace("CAST(", "TRY_CAST(", 1)
                                  .replace("strptime(", "try_strptime(")))
            sql = (f"COPY (SELECT {', '.join(select_parts)} FROM {relation}) TO {literal(str(dest))} "
                   "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)")
            if on_progress is not None:
                threading.Thread(target=_watch_progress, args=(con, stop, on_progress), daemon=True).start()
            con.execute(sql)
            stop.set()
            rows = con.execute(f"SELECT count(*) FROM read_parquet({literal(str(dest))})").fetchone()[0]
            return rows, schema
        except duckdb.Error as exc:
            stop.set()
            dest.unlink(missing_ok=True)
            text = str(exc)
            if ("Invalid unicode" in text or "byte sequence mismatch" in text) and current is source \
                    and current.kind == "csv":
                utf8, replaced = transcode_to_utf8(current.path, "utf-8", temp_dir, errors="replace")
                source.temp_files.append(utf8)
                current = Source("csv", utf8, source.format, source.sheet)
                inspection.notes.append(f"{replaced} invalid byte sequence(s) replaced with \ufffd")
                continue
            if "onver" not in text:  # not a conversion error: nothing to retry
                raise IngestError(_friendly_duckdb_error(exc)) from None
            named = re.search(r'converting column "(.*?)"', text)
            failing_source, example = (named.group(1), None) if named else (None, None)
            if failing_source is None:
                found = _find_bad_cast(con, relation, [(e, p.source, c) for p, e, c in casts])
                if found:
                    failing_source, example = found
            plan = next((p for p in plans if p.source == failing_source), None)
            if plan is None:
                raise IngestError(_friendly_duckdb_error(exc)) from None
            if plan.source in user_typed or plan.source in text_fallback:
                shown = f" such as {example!r}" if example is not None else ""
                raise IngestError(
                    f"Column {plan.name!r} has values{shown} that are not {plan.type}; choose another type for it"
                ) from None
            text_fallback.add(plan.source)
        finally:
            stop.set()
            con.close()
    raise IngestError("The file could not be read: too many columns changed type while reading")


def _watch_progress(con, stop: threading.Event, on_progress) -> None:
    while not stop.wait(0.25):
        try:
            progress = con.query_progress()
        except Exception:  # the query may be between stages
            continue
        if progress is not None and progress >= 0:
            on_progress(min(progress / 100.0, 0.99))


def fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def schema_json(schema: list[dict]) -> str:
    return json.dumps(schema, ensure_ascii=False)
