"""The one-scan column summary: what a cheap look at a dataset says about each column,
for column roles (analytics.roles) and generated dashboards while the full profile is
not ready. One SELECT of aggregates over the relation: distinct counts (exact below
EXACT_DISTINCT_ROWS rows, HyperLogLog above), missing values, ranges, mean, spread and
skewness of numbers, whether floats are whole, text lengths and the shares of text
values that look like digits, weekday or month names, or countries.

Keys per column (None where the kind of column has no such figure):
distinct, distinct_estimated, missing, nulls (the same, for older callers), min, max,
mean, std, skewness, negatives, integral, minutes_over_59, length_mean, length_max,
digits_share, leading_zero_share, weekday_share, month_share, country_share,
numeric_min, numeric_max.
"""
from __future__ import annotations

from analytics.profiling.columns import ProfiledColumn, infer_schema, profiled_columns
from analytics.profiling.semantic import COUNTRY_CODES, COUNTRY_NAMES
from analytics.roles import MONTH_NAMES, WEEKDAY_NAMES

EXACT_DISTINCT_ROWS = 2_000_000
# Text patterns are looked for on the values' trimmed lower case; digits as whole values.
DIGITS = "[0-9]+"
LEADING_ZERO = "0[0-9]+"


def _numeric_parts(col: ProfiledColumn) -> list[tuple[str, str]]:
    fin = col.finite
    parts = [("min", f"min({fin})"), ("max", f"max({fin})"), ("mean", f"avg({fin})"),
             ("std", f"stddev_samp({fin})"), ("skewness", f"skewness({fin})"),
             ("negatives", f"count_if({fin} < 0)")]
    if col.is_integer:
        parts.append(("fractional", "0"))
        # hhmm clock times never have a last two digits of 60 or more.
        parts.append(("minutes_over_59", f"count_if(abs({col.q}) % 100 >= 60)"))
    else:
        parts.append(("fractional", f"count_if({fin} <> floor({fin}))"))
        parts.append(("minutes_over_59", f"count_if({fin} <> floor({fin}) OR abs({fin}) % 100 >= 60)"))
    return parts


def _text_parts(col: ProfiledColumn, params: list) -> list[tuple[str, str]]:
    v = f"nullif(trim({col.value}), '')"
    params.extend([WEEKDAY_NAMES, MONTH_NAMES, COUNTRY_NAMES + COUNTRY_CODES])
    n = len(params)
    return [
        ("nonempty", f"count({v})"),
        ("length_mean", f"avg(length({v}))"), ("length_max", f"max(length({v}))"),
        ("digits", f"count_if(regexp_full_match({v}, '{DIGITS}'))"),
        ("leading_zero", f"count_if(regexp_full_match({v}, '{LEADING_ZERO}'))"),
        ("numeric_min", f"min(TRY_CAST({v} AS DOUBLE))"), ("numeric_max", f"max(TRY_CAST({v} AS DOUBLE))"),
        ("weekday", f"count_if(list_contains(${n - 2}, lower({v})))"),
        ("month", f"count_if(list_contains(${n - 1}, lower({v})))"),
        ("country", f"count_if(length({v}) <= 60 AND list_contains(${n}, lower({v})))"),
    ]


def summarize(con, source_sql: str, schema: list[dict] | None = None, rows: int | None = None) -> dict:
    """{"rows", "columns": {name: stats}} of the relation ``source_sql`` in one scan."""
    described = infer_schema(con, source_sql)
    storage_types = {c["name"]: c["storage_type"] for c in described}
    columns = profiled_columns(schema if schema is not None else described, storage_types)
    if rows is None:
        rows = int(con.execute(f"SELECT count(*) FROM {source_sql}").fetchone()[0])
    exact = rows <= EXACT_DISTINCT_ROWS
    params: list = []
    aliases: list[tuple[int, str]] = []
    sql_parts: list[str] = []
    for col in columns:
        value = col.value
        parts = [("distinct", f"count(DISTINCT {value})" if exact else f"approx_count_distinct({value})"),
                 ("missing", f"count_if({col.missing_condition})")]
        if col.kind == "numeric":
            parts += _numeric_parts(col)
        elif col.kind == "temporal":
            parts += [("min", f"min({col.finite})"), ("max", f"max({col.finite})")]
        elif col.kind == "text":
            parts += _text_parts(col, params)
        for key, sql in parts:
            # count_if over no rows answers NULL; a count is 0 then.
            sql_parts.append(f"coalesce({sql}, 0)" if sql.startswith("count_if(") else sql)
            aliases.append((col.index, key))
    raw: dict[int, dict] = {col.index: {} for col in columns}
    if sql_parts:
        row = con.execute(f"SELECT {', '.join(sql_parts)} FROM {source_sql}", params).fetchone()
        for (index, key), value in zip(aliases, row):
            raw[index][key] = value
    return {"rows": rows, "columns": {col.name: _stats(col, raw[col.index], exact) for col in columns}}


def _share(part, whole) -> float | None:
    return (part or 0) / whole if whole else None


def _stats(col: ProfiledColumn, raw: dict, exact: bool) -> dict:
    missing = int(raw.get("missing") or 0)
    stats = {"distinct": int(raw["distinct"]) if raw.get("distinct") is not None else None,
             "distinct_estimated": not exact, "missing": missing, "nulls": missing,
             "min": raw.get("min"), "max": raw.get("max")}
    if col.kind == "numeric":
        finite = _num(raw.get("std"))
        stats.update(mean=_num(raw.get("mean")), std=finite, skewness=_num(raw.get("skewness")),
                     negatives=int(raw.get("negatives") or 0),
                     integral=(raw.get("fractional") or 0) == 0 and raw.get("min") is not None,
                     minutes_over_59=int(raw.get("minutes_over_59") or 0))
    elif col.kind == "text":
        nonempty = int(raw.get("nonempty") or 0)
        stats.update(length_mean=_num(raw.get("length_mean")), length_max=raw.get("length_max"),
                     digits_share=_share(raw.get("digits"), nonempty),
                     leading_zero_share=_share(raw.get("leading_zero"), nonempty),
                     weekday_share=_share(raw.get("weekday"), nonempty),
                     month_share=_share(raw.get("month"), nonempty),
                     country_share=_share(raw.get("country"), nonempty),
                     numeric_min=_num(raw.get("numeric_min")), numeric_max=_num(raw.get("numeric_max")))
    return stats


def _num(value) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None
