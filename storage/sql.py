"""The one way identifiers reach SQL, and the translation of grid filters and sorts into
SQL with bound values. Column names are checked against the dataset's schema first;
values are never formatted into SQL text."""
from __future__ import annotations

from datetime import date, datetime

from analytics.sql import quote_ident  # noqa: F401  (the one quoting helper, re-exported)
from storage.errors import InvalidInput


def checked_column(name, schema_names: list[str]) -> str:
    """The quoted column if it is in the schema, else a clear error."""
    if name not in schema_names:
        raise InvalidInput(f"There is no column {name!r} in this dataset")
    return quote_ident(name)


MAX_CONDITIONS = 10  # per column; the grid offers two

# Case-insensitive, like AG Grid's own text filter (caseSensitive is off by default).
_TEXT_OPERATORS = {
    "equals": ("{col} ILIKE ?", lambda v: _escape_like(v)),
    "notEqual": ("{col} NOT ILIKE ?", lambda v: _escape_like(v)),
    "contains": ("{col} ILIKE ?", lambda v: f"%{_escape_like(v)}%"),
    "notContains": ("{col} NOT ILIKE ?", lambda v: f"%{_escape_like(v)}%"),
    "startsWith": ("{col} ILIKE ?", lambda v: f"{_escape_like(v)}%"),
    "endsWith": ("{col} ILIKE ?", lambda v: f"%{_escape_like(v)}"),
}
_NUMBER_OPERATORS = {
    "equals": "{col} = ?",
    "notEqual": "{col} <> ?",
    "lessThan": "{col} < ?",
    "lessThanOrEqual": "{col} <= ?",
    "greaterThan": "{col} > ?",
    "greaterThanOrEqual": "{col} >= ?",
}


def _escape_like(value) -> str:
    return str(value).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _number(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput("A number filter needs a number") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise InvalidInput("A number filter needs a number")
    return number


def _day(value) -> date:
    """The day of a date filter's value ("2013-01-31" or AG Grid's "2013-01-31 00:00:00")."""
    try:
        return datetime.fromisoformat(str(value).strip()).date()
    except ValueError:
        raise InvalidInput(f"A date filter needs a date like 2013-01-31, not {str(value)[:40]!r}") from None


def _one_condition(col: str, model: dict, column_type: str) -> tuple[str, list]:
    if not isinstance(model, dict):
        raise InvalidInput("A filter condition is not valid")
    kind = model.get("type")
    if kind == "blank":
        return f"{col} IS NULL", []
    if kind == "notBlank":
        return f"{col} IS NOT NULL", []
    # The column's own type decides how it is compared, never the request's filterType:
    # a number filter posted for a text column must not reach DuckDB as a cast error.
    if column_type in ("integer", "float"):
        if kind == "inRange":  # both ends included, as the grid's inRangeInclusive says
            return f"{col} BETWEEN ? AND ?", [_number(model.get("filter")), _number(model.get("filterTo"))]
        template = _NUMBER_OPERATORS.get(kind)
        if template is None:
            raise InvalidInput(f"Unknown number filter {kind!r}")
        return template.format(col=col), [_number(model.get("filter"))]
    if column_type in ("date", "timestamp"):
        # The grid's date filter picks days: compare days, so "equals 2013-01-31" keeps
        # every time of that day and "after" starts the day after, as the grid means it.
        day = f"CAST({col} AS DATE)"
        if kind == "inRange":
            return f"{day} BETWEEN ? AND ?", [_day(model.get("dateFrom")), _day(model.get("dateTo"))]
        template = _NUMBER_OPERATORS.get(kind)
        if template is None:
            raise InvalidInput(f"Unknown date filter {kind!r}")
        return template.format(col=day), [_day(model.get("dateFrom"))]
    entry = _TEXT_OPERATORS.get(kind)
    if entry is None:
        raise InvalidInput(f"Unknown text filter {kind!r}")
    template, transform = entry
    expression = template.format(col=f"CAST({col} AS VARCHAR)")
    if "ILIKE" in expression:
        expression += " ESCAPE '\\'"
    value = model.get("filter", "")
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise InvalidInput("A text filter needs text")
    return expression, [transform(str(value)[:1000])]


def where_clause(filter_model: dict | None, schema: list[dict]) -> tuple[str, list]:
    """AG Grid's filterModel as ``WHERE ...`` and its bound parameters."""
    if not filter_model:
        return "", []
    if not isinstance(filter_model, dict):
        raise InvalidInput("The grid's filters are not valid")
    names = [c["name"] for c in schema]
    types = {c["name"]: c["type"] for c in schema}
    parts, params = [], []
    for name, model in filter_model.items():
        col = checked_column(name, names)
        if not isinstance(model, dict):
            raise InvalidInput(f"The filter on {name!r} is not valid")
        if "conditions" in model:
            conditions = model["conditions"]
            if not isinstance(conditions, list) or not 1 <= len(conditions) <= MAX_CONDITIONS:
                raise InvalidInput(f"The filter on {name!r} needs 1 to {MAX_CONDITIONS} conditions")
            joiner = " AND " if str(model.get("operator", "AND")).upper() == "AND" else " OR "
            sub_parts = []
            for condition in conditions:
                sql, values = _one_condition(col, condition, types[name])
                sub_parts.append(sql)
                params.extend(values)
            parts.append("(" + joiner.join(sub_parts) + ")")
        else:
            sql, values = _one_condition(col, model, types[name])
            parts.append(sql)
            params.extend(values)
    return "WHERE " + " AND ".join(parts), params


def order_clause(sort_model: list | None, schema: list[dict]) -> str:
    """AG Grid's sortModel ([{"colId", "sort": "asc"|"desc"}]) as ``ORDER BY ...``."""
    if not sort_model:
        return ""
    if not isinstance(sort_model, list) or not all(isinstance(item, dict) for item in sort_model):
        raise InvalidInput("The grid's sort is not valid")
    names = [c["name"] for c in schema]
    parts = []
    for item in sort_model:
        col = checked_column(item.get("colId"), names)
        direction = "DESC" if str(item.get("sort", "asc")).lower() == "desc" else "ASC"
        parts.append(f"{col} {direction} NULLS LAST")
    return "ORDER BY " + ", ".join(parts)
