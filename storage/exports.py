"""Exports of a dataset or a filtered, sorted view of it, as CSV, Excel or Parquet.

DuckDB writes the file to a temp path (fast, bounded memory); the caller streams it and
the temp file is removed when the stream ends. In CSV and Excel, text that a
spreadsheet would run as a formula (starting with = + - @ tab or carriage return, and
not a number) gets a leading apostrophe, as Superset does, column headers included;
numbers are left alone. The rule is ``analytics.reports.formulas``, here also in SQL
for DuckDB's CSV writer.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from analytics.names import header_text
from analytics.reports.content import EXCEL_MAX_ROWS  # Excel's own limit, one constant for every export
from analytics.reports.formulas import NUMBER_PATTERN, TRIGGER_PATTERN, neutralise
from storage.errors import InvalidInput
from storage.principal import Principal
from storage.sql import quote_ident

FORMATS = {
    "csv": ("text/csv; charset=utf-8", ".csv"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ".xlsx"),
    "parquet": ("application/vnd.apache.parquet", ".parquet"),
}
STREAM_PIECE = 1024 * 1024


def neutralised_sql(column: str) -> str:
    """``formulas.neutralise`` as SQL over a text column (the patterns are constants)."""
    col = quote_ident(column)
    return (f"CASE WHEN regexp_matches({col}, '{TRIGGER_PATTERN}') "
            f"AND NOT regexp_full_match({col}, '{NUMBER_PATTERN}') THEN '''' || {col} ELSE {col} END")


def safe_filename(name: str, extension: str) -> str:
    """A download's file name from a stored name (which may predate the one-line check)."""
    base = re.sub(r"[^\w\-. ]+", "_", header_text(name), flags=re.UNICODE).strip(" ._") or "dataset"
    return base[:120] + extension


def _select_for_export(dataset, sql: str, fmt: str) -> str:
    """The view's columns for the file: in CSV and Excel, text neutralised and each column
    named by its neutralised header (DuckDB writes the aliases as the CSV header)."""
    if fmt == "parquet":
        return sql
    parts = []
    for column in dataset.schema:
        name = column["name"]
        value = neutralised_sql(name) if column["type"] in ("text", "categorical") else quote_ident(name)
        parts.append(f"{value} AS {quote_ident(neutralise(name))}")
    return f"SELECT {', '.join(parts)} FROM ({sql})"


def write_export(service, principal: Principal, dataset_id, fmt: str, sort_model=None, filter_model=None) -> tuple:
    """Write the export to a temp file: (dataset, path, mimetype, download name)."""
    if fmt not in FORMATS:
        raise InvalidInput(f"Unknown export format {fmt!r}; choose csv, xlsx or parquet")
    dataset, con, sql, params = service.open_query(principal, dataset_id, sort_model, filter_model)
    mimetype, extension = FORMATS[fmt]
    # Named with the pid, so that start-up removes a killed process's half-written export.
    path = service._tmp_path(f".export{extension}")
    try:
        select = _select_for_export(dataset, sql, fmt)
        if fmt == "xlsx":
            total = con.execute(f"SELECT count(*) FROM ({sql})", params).fetchone()[0]
            if total > EXCEL_MAX_ROWS:
                raise InvalidInput(
                    f"Excel holds at most {EXCEL_MAX_ROWS:,} rows and this view has {total:,}; "
                    "filter it, or export CSV or Parquet"
                )
            _write_xlsx(con, select, params, dataset, path)
        else:
            # A relation keeps the filter values bound (COPY ... TO takes no parameters).
            relation = con.sql(select, params=params or None)
            if fmt == "csv":
                relation.write_csv(str(path), header=True)
            else:
                relation.write_parquet(str(path), compression="zstd")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finally:
        con.close()
    service.audit.record(principal, "dataset.exported", target_type="dataset", target_id=dataset.id,
                         target_name=dataset.name, workspace_id=dataset.workspace_id, format=fmt,
                         filtered=bool(filter_model))
    return dataset, path, mimetype, safe_filename(dataset.name, extension)


def _write_xlsx(con, select: str, params: list, dataset, path: Path) -> None:
    """The view as one sheet, streamed in batches into the streaming xlsx writer (constant
    memory; dates and timestamps keep their date formats, numbers their own)."""
    from analytics.reports.xlsx import XlsxWriter

    formats = {"float": "#,##0.########", "integer": "0"}
    with XlsxWriter(path) as book:
        sheet = book.sheet(dataset.name or "Data")  # the writer makes the name valid and formula-free
        sheet.append([column["name"] for column in dataset.schema], book.style("bold"))  # neutralised by the writer
        styles = [book.style(number_format=formats[c["type"]]) if c["type"] in formats else None
                  for c in dataset.schema]
        cursor = con.execute(select, params)
        while True:
            batch = cursor.fetchmany(10_000)
            if not batch:
                break
            for row in batch:
                sheet.append(row, styles)


def stream_file(path: Path) -> Iterator[bytes]:
    """Yield the file in pieces, then delete it (also when the client goes away)."""
    try:
        with open(path, "rb") as handle:
            while True:
                piece = handle.read(STREAM_PIECE)
                if not piece:
                    break
                yield piece
    finally:
        path.unlink(missing_ok=True)
