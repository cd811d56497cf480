"""How each column enters the profile's SQL: its kind (numeric, text, temporal,
boolean) and the cleaned expressions every pass uses, so that missing values, NaN and
infinities mean the same thing in every statistic.

Definitions (docs/profile.md says the same for people):
- missing: SQL NULL, and NaN in floating-point columns;
- count: the values that are not missing (infinities count);
- the moments, quantiles, histogram, sum and correlations of a number column use its
  finite values only; infinities are counted apart (``infinite``);
- an empty string is a value, not a missing one; it is counted in ``empty``.
"""
from __future__ import annotations

from dataclasses import dataclass

from analytics.sql import quote_ident

NUMERIC_TYPES = {"integer", "float", "decimal"}
TEMPORAL_TYPES = {"date", "timestamp"}
TEXT_TYPES = {"text", "categorical"}

_FLOAT_STORAGE = ("DOUBLE", "FLOAT", "REAL")
_INTEGER_STORAGE = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                    "UBIGINT", "UHUGEINT")


def logical_type(storage_type: str) -> str:
    """A DuckDB type as one of the app's logical types."""
    upper = storage_type.upper()
    if upper in _FLOAT_STORAGE:
        return "float"
    if upper in _INTEGER_STORAGE:
        return "integer"
    if upper.startswith("DECIMAL"):
        return "decimal"
    if upper == "BOOLEAN":
        return "boolean"
    if upper == "DATE":
        return "date"
    if upper.startswith("TIMESTAMP"):
        return "timestamp"
    return "text"


def infer_schema(con, source_sql: str) -> list[dict]:
    """The schema of any relation, as the dataset schema spells it (for tests, the
    benchmark and relations that are not datasets)."""
    described = con.execute(f"DESCRIBE SELECT * FROM {source_sql}").fetchall()
    return [{"name": name, "type": logical_type(kind), "storage_type": kind} for name, kind, *_ in described]


@dataclass
class ProfiledColumn:
    index: int
    name: str
    type: str            # the logical type shown to people
    storage_type: str    # the DuckDB type in the file
    kind: str            # numeric | text | temporal | boolean

    @property
    def q(self) -> str:
        return quote_ident(self.name)

    @property
    def is_float(self) -> bool:
        return self.storage_type.upper() in _FLOAT_STORAGE

    @property
    def is_integer(self) -> bool:
        return self.storage_type.upper() in _INTEGER_STORAGE

    @property
    def missing_condition(self) -> str:
        return f"({self.q} IS NULL OR isnan({self.q}))" if self.is_float else f"({self.q} IS NULL)"

    @property
    def value(self) -> str:
        """The column with missing values as NULL (NaN too); what value counts group."""
        if self.is_float:
            return f"CASE WHEN isnan({self.q}) THEN NULL ELSE {self.q} END"
        if self.kind == "text" and self.storage_type.upper() != "VARCHAR":
            return f"CAST({self.q} AS VARCHAR)"
        return self.q

    @property
    def finite(self) -> str:
        """Numbers: the finite values as DOUBLE, NULL otherwise. Dates: finite dates."""
        if self.kind == "numeric":
            if self.is_float:
                return f"CASE WHEN isfinite({self.q}) THEN CAST({self.q} AS DOUBLE) END"
            return f"CAST({self.q} AS DOUBLE)"
        if self.kind == "temporal":
            return f"CASE WHEN isfinite({self.q}) THEN {self.q} END"
        return self.value


def profiled_columns(schema: list[dict], storage_types: dict[str, str]) -> list[ProfiledColumn]:
    columns = []
    for index, entry in enumerate(schema):
        name, kind_name = entry["name"], entry.get("type", "text")
        storage = storage_types.get(name) or entry.get("storage_type") or "VARCHAR"
        physical = logical_type(storage)
        # The file decides what SQL can do with the column; the schema only names it.
        if physical in NUMERIC_TYPES:
            kind = "numeric"
        elif physical in TEMPORAL_TYPES:
            kind = "temporal"
        elif physical == "boolean":
            kind = "boolean"
        else:
            kind = "text"
        columns.append(ProfiledColumn(index, name, kind_name if kind_name else physical, storage, kind))
    return columns
