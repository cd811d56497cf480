"""The one way identifiers reach SQL, and the translation of grid filters and sorts into
SQL with bound values. Column names are checked against the dataset's schema first;
values are never formatted into SQL text."""
from __future__ import annotations

from analytics.sql import quote_ident  # noqa: F401  (the one quoting helper, re-exported)
from storage.errors import InvalidInput


def checked_column(name, schema_names: list[str]) -> str:
    """The quoted column if it is in the schema, else a clear error."""
    if name not in schema_names:
        raise InvalidInput(f"There is no column {name!r} in this dataset")
    return quote_ident(name)


_TEXT_OPERATORS = {
    "equals": ("{col} = ?", lambda v: v),
    "notEqual": ("{col} <> ?", lambda v: v),
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


def _one_condition(col: str, model: dict, column_type: str) -> tuple[str, list]:
    kind = model.get("type")
    if kind == "blank":
        return f"{col} IS NULL", []
    if kind == "notBlank":
        return f"{col} IS NOT NULL", []
    if model.get("filterType") == "number" or column_type in ("integer", "float"):
        if kind == "inRange":
            return f"{col} BETWEEN ? AND ?", [float(model.get("filter")), float(model.get("filterTo"))]
        template = _NUMBER_OPERATORS.get(kind)
        if template is None:
            raise InvalidInput(f"Unknown number filter {kind!r}")
        try:
            return template.format(col=col), [float(model.get("filter"))]
        except (TypeError, ValueError):
            raise InvalidInput("A number filter needs a number") from None
    if model.get("filterType") == "date" or column_type in ("date", "timestamp"):
        date_from, date_to = model.get("dateFrom"), model.get("dateTo")
        if kind == "inRange":
            return f"CAST({col} AS TIMESTAMP) BETWEEN CAST(? AS TIMESTAMP) AND CAST(? AS TIMESTAMP)", [date_from, date_to]
        template = _NUMBER_OPERATORS.get(kind)
        if template is None:
            raise InvalidInput(f"Unknown date filter {kind!r}")
        return template.format(col=f"CAST({col} AS TIMESTAMP)").replace("?", "CAST(? AS TIMESTAMP)"), [date_from]
    entry = _TEXT_OPERATORS.get(kind)
    if entry is None:
        raise InvalidInput(f"Unknown text filter {kind!r}")
    template, transform = entry
    expression = template.format(col=f"CAST({col} AS VARCHAR)")
    if "ILIKE" in expression:
        expression += " ESCAPE '\\'"
    return expression, [transform(model.get("filter", ""))]


def where_clause(filter_model: dict | None, schema: list[dict]) -> tuple[str, list]:
    """AG Grid's filterModel as ``WHERE ...`` and its bound parameters."""
    if not filter_model:
        return "", []
    names = [c["name"] for c in schema]
    types = {c["name"]: c["type"] for c in schema}
    parts, params = [], []
    for name, model in filter_model.items():
        col = checked_column(name, names)
        if not isinstance(model, dict):
            raise InvalidInput(f"The filter on {name!r} is not valid")
        if "conditions" in model:
            joiner = " AND " if str(model.get("operator", "AND")).upper() == "AND" else " OR "
            sub_parts = []
            for condition in model["conditions"]:
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
    names = [c["name"] for c in schema]
    parts = []
    for item in sort_model:
        col = checked_column(item.get("colId"), names)
        direction = "DESC" if str(item.get("sort", "asc")).lower() == "desc" else "ASC"
        parts.append(f"{col} {direction} NULLS LAST")
    return "ORDER BY " + ", ".join(parts)
