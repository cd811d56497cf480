"""Dates and timestamps: range, values in the future or before 1900 in the first scan;
a histogram over time and counts by weekday and, where there is a time, by hour from
the column's value counts (or a second scan when there are too many values to count)."""
from __future__ import annotations

import datetime as dt

from analytics.profiling.aggregates import AggregateQuery
from analytics.profiling.columns import ProfiledColumn

HISTOGRAM_BINS = 30
OLD_BEFORE = dt.date(1900, 1, 1)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_EPOCH = dt.datetime(1970, 1, 1)


def _epoch(expression: str) -> str:
    return f"epoch(CAST({expression} AS TIMESTAMP))"


def first_pass(query: AggregateQuery, col: ProfiledColumn, now: dt.datetime) -> None:
    p, fin = f"c{col.index}_", col.finite
    is_date = col.storage_type.upper() == "DATE"
    query.add(p + "missing", f"count_if({col.missing_condition})")
    query.add(p + "n", f"count({fin})")
    query.add(p + "min", f"min({fin})")
    query.add(p + "max", f"max({fin})")
    query.add(p + "min_epoch", f"min({_epoch(fin)})")
    query.add(p + "max_epoch", f"max({_epoch(fin)})")
    query.add(p + "future", f"count_if({fin} > CAST(? AS {'DATE' if is_date else 'TIMESTAMP'}))",
              (now.date() if is_date else now,))
    query.add(p + "old", f"count_if({fin} < DATE '{OLD_BEFORE.isoformat()}')")
    query.add(p + "has_time", "false" if is_date else f"bool_or(CAST({fin} AS TIME) <> TIME '00:00:00')")


def plan(col: ProfiledColumn, first: dict) -> None:
    """The histogram's bins, from the first scan's range."""
    p = f"c{col.index}_"
    if not first[p + "n"]:
        return
    low, high = float(first[p + "min_epoch"]), float(first[p + "max_epoch"])
    bins = HISTOGRAM_BINS if high > low else 1
    first[p + "hist_plan"] = (low, (high - low) / bins if high > low else 1.0, bins)


def second_pass(query: AggregateQuery, col: ProfiledColumn, first: dict) -> None:
    """The histogram and weekday/hour counts of a column whose values are not counted
    (a counted one gets them from from_value_counts)."""
    p, fin = f"c{col.index}_", col.finite
    if not first[p + "n"]:
        return
    low, width, bins = first[p + "hist_plan"]
    query.add(p + "hist", f"histogram(CASE WHEN {fin} IS NOT NULL THEN least(greatest(floor(({_epoch(fin)} - ?) / ?), 0), ?)::INTEGER END)",
              (low, width, bins - 1))
    query.add(p + "weekday", f"histogram(isodow({fin}))")
    if first[p + "has_time"]:
        query.add(p + "hour", f"histogram(hour({fin}))")


def from_value_counts(con, table: str, col: ProfiledColumn, first: dict) -> dict:
    p = f"c{col.index}_"
    if not first[p + "n"]:
        return {}
    low, width, bins = first[p + "hist_plan"]
    finite = "isfinite(v)"
    found = {p + "hist": dict(con.execute(
        f"SELECT least(greatest(floor(({_epoch('v')} - ?) / ?), 0), ?)::INTEGER AS b, sum(n) FROM {table} "
        f"WHERE {finite} GROUP BY b", [low, width, bins - 1]).fetchall())}
    found[p + "weekday"] = dict(con.execute(
        f"SELECT isodow(v) AS d, sum(n) FROM {table} WHERE {finite} GROUP BY d").fetchall())
    if first[p + "has_time"]:
        found[p + "hour"] = dict(con.execute(
            f"SELECT hour(v) AS h, sum(n) FROM {table} WHERE {finite} GROUP BY h").fetchall())
    return found


def _iso(seconds: float) -> str:
    return (_EPOCH + dt.timedelta(seconds=seconds)).isoformat()


def finish(col: ProfiledColumn, first: dict, second: dict, out: dict, jsonable) -> None:
    p = f"c{col.index}_"
    out.update(future=first[p + "future"], before_1900=first[p + "old"], has_time=bool(first[p + "has_time"]))
    if not first[p + "n"]:
        return
    out.update(min=jsonable(first[p + "min"]), max=jsonable(first[p + "max"]))
    low, width, bins = first[p + "hist_plan"]
    counts = [0] * bins
    for index, count in (second[p + "hist"] or {}).items():
        counts[int(index)] = int(count)
    out["histogram"] = {"edges": [_iso(low + width * i) for i in range(bins + 1)], "counts": counts}
    weekdays = second[p + "weekday"] or {}
    out["weekday_counts"] = {name: int(weekdays.get(i + 1, 0)) for i, name in enumerate(WEEKDAYS)}
    if first[p + "has_time"]:
        hours = second[p + "hour"] or {}
        out["hour_counts"] = [int(hours.get(h, 0)) for h in range(24)]
