"""What the analyses share: reading column names out of the params (checked against the
schema, quoted by the app's one quoting helper), and reading the rows a model is fitted
on, with a random sample drawn by DuckDB above a stated size.

Identifiers are quoted by the app's one quoting helper, ``analytics/sql.py:quote_ident``
(``storage/sql.py`` re-exports it).
"""
from __future__ import annotations

import pandas as pd

from analytics.sql import quote_ident
from errors import InvalidSpec

NUMERIC_TYPES = ("integer", "float", "decimal")
CATEGORY_TYPES = ("text", "categorical", "boolean")
DATE_TYPES = ("date", "timestamp")


def types_of(schema: list[dict]) -> dict[str, str]:
    return {c["name"]: c["type"] for c in schema}


def column(params: dict, key: str, schema: list[dict], *, required: bool = True, allowed_types=None,
           what: str | None = None) -> str | None:
    """The column named by ``params[key]``, checked: it exists and has an allowed type."""
    name = params.get(key)
    if name in (None, ""):
        if required:
            raise InvalidSpec(f"Choose {what or 'a column'}: the field {key!r} is required")
        return None
    return check_column(name, schema, allowed_types, what or key)


def check_column(name, schema: list[dict], allowed_types=None, what: str = "column") -> str:
    types = types_of(schema)
    if not isinstance(name, str):
        raise InvalidSpec(f"The {what} must be a column name, not {name!r}")
    if name not in types:
        raise InvalidSpec(f"There is no column {name!r} in this dataset")
    if allowed_types and types[name] not in allowed_types:
        raise InvalidSpec(f"The {what} {name!r} is {types[name]}; it must be {' or '.join(allowed_types)}")
    return name


def columns(params: dict, key: str, schema: list[dict], *, required: bool = True, allowed_types=None,
            what: str = "column", minimum: int = 1, maximum: int | None = None) -> list[str]:
    """The list of columns in ``params[key]``, each checked, without duplicates."""
    names = params.get(key)
    if names in (None, "", []):
        if required:
            raise InvalidSpec(f"Choose at least {minimum} {what}{'s' if minimum != 1 else ''}: "
                              f"the field {key!r} is required")
        return []
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list):
        raise InvalidSpec(f"The field {key!r} must be a list of column names")
    seen = []
    for name in names:
        check_column(name, schema, allowed_types, what)
        if name not in seen:
            seen.append(name)
    if len(seen) < minimum:
        raise InvalidSpec(f"Choose at least {minimum} {what}s for {key!r}")
    if maximum is not None and len(seen) > maximum:
        raise InvalidSpec(f"Choose at most {maximum} {what}s for {key!r}")
    return seen


def q(name: str) -> str:
    """A checked column name quoted for SQL (only call with names check_column passed)."""
    return quote_ident(name)


def integer(params: dict, key: str, default: int, low: int, high: int) -> int:
    value = params.get(key, default)
    if value is None:
        value = default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise InvalidSpec(f"The field {key!r} must be a whole number")
    value = int(value)
    if not low <= value <= high:
        raise InvalidSpec(f"The field {key!r} must be between {low} and {high}")
    return value


def choice(params: dict, key: str, options: tuple, default=None):
    value = params.get(key, default)
    if value not in options:
        raise InvalidSpec(f"The field {key!r} must be one of {', '.join(map(str, options))}")
    return value


def read_rows(con, source_sql: str, names: list[str], *, where: str = "", sample: int | None = None,
              seed: int = 0, total: int | None = None) -> tuple[pd.DataFrame, int, bool]:
    """(frame of ``names``, rows matching ``where``, whether a sample was taken). Above
    ``sample`` rows DuckDB draws a reservoir sample of that many rows with a fixed seed,
    so the frame in memory never grows with the dataset. A caller that has counted the
    matching rows already passes ``total`` and saves a scan."""
    cols = ", ".join(q(n) for n in names)
    where_sql = f"WHERE {where}" if where else ""
    if total is None:
        total = con.execute(f"SELECT count(*) FROM {source_sql} {where_sql}").fetchone()[0]
    inner = f"SELECT {cols} FROM {source_sql} {where_sql}"
    if sample is not None and total > sample:
        # Sample size and seed are validated integers; DuckDB takes no parameters here.
        sql = f"SELECT * FROM ({inner}) AS rows USING SAMPLE reservoir({int(sample)} ROWS) REPEATABLE ({int(seed)})"
        return con.execute(sql).df(), total, True
    return con.execute(inner).df(), total, False


def not_null(names: list[str]) -> str:
    return " AND ".join(f"{q(n)} IS NOT NULL" for n in names)
