"""Column names and types: the pure rules behind ingest.

Logical types are what people see and choose; storage types are what DuckDB and Parquet
keep. Categorical is text with few distinct values: stored as text, shown as categorical.
"""
from __future__ import annotations

import re
import unicodedata

LOGICAL_TYPES = ("integer", "float", "boolean", "date", "timestamp", "text", "categorical")

STORAGE_TYPE = {
    "integer": "BIGINT",
    "float": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "text": "VARCHAR",
    "categorical": "VARCHAR",
}

_INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                  "UBIGINT", "UHUGEINT"}
_FLOAT_TYPES = {"FLOAT", "DOUBLE", "REAL"}

# Tried in order on text columns; month-first before day-first, so an ambiguous column
# like 01/02/2010 reads as 1 February; it reads as 2 January only when some value
# (13/01/2010) says day-first. Each format must match a whole value (DuckDB's strptime):
# ISO times with fractions of a second or a trailing Z (UTC) need formats of their own.
# Times with another offset (+02:00) are left as text: naive timestamps cannot hold them.
DATE_FORMATS = (
    ("%Y-%m-%d %H:%M:%S", "timestamp"),
    ("%Y-%m-%dT%H:%M:%S", "timestamp"),
    ("%Y-%m-%d %H:%M:%S.%f", "timestamp"),
    ("%Y-%m-%dT%H:%M:%S.%f", "timestamp"),
    ("%Y-%m-%dT%H:%M:%SZ", "timestamp"),
    ("%Y-%m-%dT%H:%M:%S.%fZ", "timestamp"),
    # With a UTC offset (+02:00, -0530): stored as the same instant in UTC.
    ("%Y-%m-%dT%H:%M:%S%z", "timestamp"),
    ("%Y-%m-%dT%H:%M:%S.%f%z", "timestamp"),
    ("%Y-%m-%d %H:%M:%S%z", "timestamp"),
    ("%Y-%m-%d %H:%M:%S.%f%z", "timestamp"),
    ("%Y-%m-%d %H:%M", "timestamp"),
    ("%Y-%m-%dT%H:%M", "timestamp"),
    ("%m/%d/%Y %H:%M:%S", "timestamp"),
    ("%m/%d/%Y %H:%M", "timestamp"),
    ("%d/%m/%Y %H:%M:%S", "timestamp"),
    ("%d/%m/%Y %H:%M", "timestamp"),
    ("%d.%m.%Y %H:%M:%S", "timestamp"),
    ("%d.%m.%Y %H:%M", "timestamp"),
    ("%Y/%m/%d %H:%M:%S", "timestamp"),
    ("%Y-%m-%d", "date"),
    ("%m/%d/%Y", "date"),
    ("%d/%m/%Y", "date"),
    ("%d.%m.%Y", "date"),
    ("%Y/%m/%d", "date"),
    ("%d-%b-%Y", "date"),
    ("%d %b %Y", "date"),
    ("%b %d, %Y", "date"),
)


def logical_type(storage_type: str) -> str:
    """The logical type for a DuckDB type name."""
    base = storage_type.upper().split("(")[0].strip()
    if base in _INTEGER_TYPES:
        return "integer"
    if base in _FLOAT_TYPES or base.startswith("DECIMAL"):
        return "float"
    if base == "BOOLEAN":
        return "boolean"
    if base == "DATE":
        return "date"
    if base.startswith("TIMESTAMP"):
        return "timestamp"
    return "text"


def clean_name(raw) -> str:
    """A column name a person can read: no control characters, trimmed, at most 200 chars.
    Line breaks and tabs are spaces first: an Excel header written on two lines in its
    cell ("Annual\nIncome") is "Annual Income", not "AnnualIncome"."""
    text = re.sub(r"\s+", " ", "" if raw is None else str(raw))
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    return re.sub(r" {2,}", " ", text).strip()[:200]


def unique_names(raw_names) -> list[str]:
    """Blank names become column_N (N is the 1-based position); repeats get _2, _3..."""
    result: list[str] = []
    seen: set[str] = set()
    for position, raw in enumerate(raw_names, start=1):
        name = clean_name(raw) or f"column_{position}"
        candidate, suffix = name, 2
        while candidate.lower() in seen:
            candidate = f"{name}_{suffix}"
            suffix += 1
        seen.add(candidate.lower())
        result.append(candidate)
    return result


def is_categorical(distinct: int, non_null: int) -> bool:
    """Text with few distinct values relative to its size reads as a category. Values
    must repeat: two different names in two rows are not two categories."""
    if non_null == 0 or distinct <= 1 or distinct >= non_null:
        return False
    return distinct <= 50 and distinct <= max(2, non_null // 10)


def clean_display_name(filename: str) -> str:
    """A dataset name from an uploaded file's name: no path, no control characters, no
    extension."""
    base = re.split(r"[\\/]", filename or "")[-1]
    base = clean_name(base)
    for extension in (".gz", ".zip"):
        if base.lower().endswith(extension):
            base = base[: -len(extension)]
    stem, dot, extension = base.rpartition(".")
    # An extension is a short word (csv, xlsx, parquet): "Report v1.2" keeps its ".2".
    if dot and stem and re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,7}", extension):
        base = stem
    base = base.strip(" .")
    return base[:200] or "Untitled dataset"
