"""KPI number: one aggregate, optionally compared with the previous period (the latest
time bucket against the one before, with the change in per cent) and a sparkline."""
from __future__ import annotations

import calendar
import datetime as dt

from analytics.widgets.base import (
    AGG_LABELS,
    D3_FORMATS,
    GRAINS,
    TEMPORAL,
    EditorField,
    Params,
    Schema,
    WidgetType,
    REAGGREGATE,
    aggregate_sql,
    by_day_first,
    dimension_sql,
    f_agg,
    f_description,
    f_filters,
    f_number_format,
    f_per,
    f_percentile,
    f_title,
    f_y,
    figure_output,
    filter_sql,
    grain_label,
    grouped_source,
    plain,
)
from analytics.widgets.formatting import compact_number, format_number, no_separator
from errors import InvalidSpec

MAX_BUCKETS = 400  # sparkline points; the oldest are dropped beyond this


def measure_label(spec: dict) -> str:
    y = spec.get("y")
    if y is None:
        return "Rows"
    name = y if isinstance(y, str) else f" {'×+−÷'['mul add sub div'.split().index(y['expr'])]} ".join(y["columns"])
    label = f"{AGG_LABELS[spec.get('agg') or 'count']} of {name}"
    if spec.get("per"):
        label += f" per {spec['per']}"
    return label


class Kpi(WidgetType):
    name = "kpi"
    label = "KPI number"
    icon = "123"
    fields = [
        f_title(), f_description(),
        f_y(), f_agg("sum"), f_percentile(), f_per(),
        EditorField("x", "Date column", "column", types=list(TEMPORAL),
                    help="Needed to compare with the previous period or draw a sparkline"),
        EditorField("time_grain", "Period", "grain", choices=list(GRAINS),
                    help="The period compared and drawn (month when not set)"),
        EditorField("compare_previous", "Compare with the previous period", "bool", default=False,
                    help="When the data ends part-way through the last period, a sum or a count is compared "
                         "with the same days of the period before (1-9 Dec with 1-9 Nov)"),
        EditorField("sparkline", "Sparkline", "bool", default=False),
        f_number_format(), f_filters(),
    ]

    def normalize(self, spec, schema):
        if (spec["compare_previous"] or spec["sparkline"]) and not spec.get("x"):
            raise InvalidSpec("Choose a date column to compare with the previous period or draw a sparkline")
        if not spec.get("x"):
            spec["time_grain"] = None
        return spec

    def query(self, spec, schema, source_sql):
        cols = Schema(schema)
        params = Params()
        where = filter_sql(cols, spec.get("filters"), params)
        if not spec.get("x"):
            agg = aggregate_sql(spec, cols, params, whole_table=True)
            return (f"SELECT 1 AS is_total, NULL AS b, {agg} AS y, NULL AS total FROM {source_sql} WHERE {where}",
                    params.values)
        grain = spec.get("time_grain") or "month"
        limit = params.add(MAX_BUCKETS + 1)
        if spec.get("compare_previous") and by_day_first(spec, grain):
            return self._same_days_query(spec, cols, params, source_sql, where, grain, limit), params.values
        if (spec.get("agg") or "count") in REAGGREGATE and not spec.get("per"):
            # The total is the periods combined (rows without a date included): a window
            # over a few hundred rows instead of a second aggregation of every row.
            bucket, source, inner_where, agg = grouped_source({**spec, "time_grain": grain}, cols, params, source_sql,
                                                              where)
            total = f"{REAGGREGATE[spec.get('agg') or 'count']}(y) OVER ()"
            sql = (f"SELECT 0 AS is_total, b, y, {total} AS total FROM (SELECT {bucket} AS b, {agg} AS y "
                   f"FROM {source} WHERE {inner_where} GROUP BY 1) ORDER BY b DESC NULLS LAST LIMIT {limit}")
            return sql, params.values
        bucket = dimension_sql(cols, spec["x"], grain)
        agg = aggregate_sql(spec, cols, params)
        # One scan: the total (grouping set ()) and one row per period, newest first, with
        # each period's last date (a partial last period is said to be partial).
        sql = (f"SELECT gb AS is_total, b, y, NULL AS total, last_day FROM (SELECT {bucket} AS b, {agg} AS y, "
               f"max(CAST({cols.col(spec['x'])} AS DATE)) AS last_day, "
               f"grouping({bucket}) AS gb FROM {source_sql} WHERE {where} "
               f"GROUP BY GROUPING SETS (({bucket}), ())) ORDER BY is_total DESC, b DESC NULLS LAST LIMIT {limit}")
        return sql, params.values

    @staticmethod
    def _same_days_query(spec, cols, params, source_sql, where, grain, limit) -> str:
        """Periods of an aggregation that adds up (sum, count, min, max), grouped by day
        first, with the same days of the period before the last one: when the data ends on
        9 December, 1-9 December is compared with 1-9 November, not with all of November.
        The day rows are few (one per day), so they are kept and read three times."""
        agg_name = spec.get("agg") or "count"
        again = REAGGREGATE[agg_name]
        day = f"CAST({cols.col(spec['x'])} AS DATE)"
        step = PERIOD_STEPS[grain]
        return (f"WITH d AS MATERIALIZED (SELECT {day} AS day_x, {aggregate_sql(spec, cols, params)} AS part "
                f"FROM {source_sql} WHERE {where} GROUP BY 1), "
                "edge AS (SELECT max(day_x) AS last_day FROM d), "
                f"same AS (SELECT {again}(part) AS prev_same FROM d, edge WHERE day_x >= "
                f"CAST(date_trunc('{grain}', last_day) - {step} AS DATE) AND day_x <= CAST(last_day - {step} AS DATE)) "
                f"SELECT 0 AS is_total, b, y, {again}(y) OVER () AS total, edge.last_day, same.prev_same FROM "
                f"(SELECT date_trunc('{grain}', CAST(day_x AS TIMESTAMP)) AS b, {again}(part) AS y FROM d GROUP BY 1) "
                f"AS periods, edge, same ORDER BY b DESC NULLS LAST LIMIT {limit}")

    def render(self, result, spec):
        rows = result["rows"]
        columns = result.get("columns") or []
        total = next((r[2] for r in rows if r[0]), None)
        if total is None and rows and rows[0][3] is not None:
            total = rows[0][3]  # the additive total carried on every period row
        buckets = [(r[1], r[2]) for r in rows if not r[0] and r[1] is not None]  # newest first; no undated rows
        grain = spec.get("time_grain") or "month"
        value, previous, delta, comparison = total, None, None, None
        if spec.get("compare_previous") and buckets:
            value = buckets[0][1]
            previous = buckets[1][1] if len(buckets) > 1 else None
            comparison = f"{_period(buckets[0][0], grain)} vs previous {grain}"
            last_day = _last_day(rows, columns, buckets[0][0])
            if last_day is not None and grain in PERIOD_STEPS and last_day < _period_end(buckets[0][0], grain):
                start = _as_date(buckets[0][0])
                if "prev_same" in columns:
                    # Partial last period, additive value: the same days of the period before.
                    previous = rows[0][columns.index("prev_same")] if len(buckets) > 1 else None
                    before_start, before_end = _shift(start, grain), _shift(last_day, grain)
                    comparison = f"{_days(start, last_day)} vs {_days(before_start, before_end)}"
                else:  # an average or a median of part of a period compares as it is, said to be partial
                    comparison += f" (partial {grain}: {_days(start, last_day)})"
            if previous not in (None, 0) and value is not None:
                delta = (float(value) - float(previous)) / abs(float(previous)) * 100
        sparkline = None
        if spec.get("sparkline") and buckets:
            points = list(reversed(buckets))
            sparkline = figure_output(
                [{"type": "scatter", "mode": "lines", "x": [plain(b) for b, _ in points],
                  "y": [plain(v) for _, v in points], "line": {"width": 2}, "fill": "tozeroy",
                  "hoverinfo": "x+y"}],
                {"margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "height": 60, "showlegend": False,
                 "xaxis": {"visible": False}, "yaxis": {"visible": False},
                 "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
                 "template": {"layout": {"colorway": ["#0d6efd"]}}},
            )["figure"]
        label = spec.get("title") or measure_label(spec)
        if comparison:
            label += f" · {comparison}"
        fmt = D3_FORMATS.get(spec.get("number_format") or "auto", "")
        y = spec.get("y")
        if not fmt and isinstance(y, str) and (spec.get("agg") or "count") not in ("count", "count_distinct") \
                and no_separator(y, (result.get("roles") or {}).get(y), [value], True):
            fmt = "d"  # the latest year is 2013, not 2,013
        value, previous = plain(value), plain(previous)
        # The card shows value_compact (336.8K fits a phone) with value_text (336,776) on hover.
        return {"kind": "kpi", "value": value, "previous": previous,
                "delta_pct": None if delta is None else round(delta, 2), "label": label,
                "format": fmt, "sparkline": sparkline, "comparison": comparison,
                "value_text": format_number(value, fmt), "value_compact": compact_number(value, fmt),
                "previous_text": format_number(previous, fmt) if previous is not None else None}


# How far back "the period before" is, as SQL (the grain is one of our words, never input).
PERIOD_STEPS = {"week": "INTERVAL 7 DAY", "month": "INTERVAL 1 MONTH", "quarter": "INTERVAL 3 MONTH",
                "year": "INTERVAL 1 YEAR"}


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _last_day(rows, columns, newest) -> dt.date | None:
    """The last date with data in the newest period (None for an older cached result)."""
    if "last_day" not in columns:
        return None
    i = columns.index("last_day")
    for r in rows:
        if not r[0] and r[1] == newest and r[i] is not None:
            return _as_date(r[i])
    return None


def _shift(day: dt.date, grain: str, periods: int = -1) -> dt.date:
    """``day`` moved by whole periods, the day clamped to the month's end (31 Mar → 28 Feb)."""
    if grain == "week":
        return day + dt.timedelta(days=7 * periods)
    months = {"month": 1, "quarter": 3, "year": 12}[grain] * periods
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def _period_end(start, grain: str) -> dt.date:
    """The last day of the period that starts on ``start``."""
    return _shift(_as_date(start), grain, 1) - dt.timedelta(days=1)


def _days(first: dt.date, last: dt.date) -> str:
    """A run of days in words: "1–9 Dec 2024", "29 Nov – 5 Dec 2024"."""
    if first.year == last.year and first.month == last.month:
        return f"{first.day}–{last.day} {last:%b %Y}" if first != last else f"{last.day} {last:%b %Y}"
    if first.year == last.year:
        return f"{first.day} {first:%b} – {last.day} {last:%b %Y}"
    return f"{first.day} {first:%b %Y} – {last.day} {last:%b %Y}"


def _period(value, grain) -> str:
    return str(grain_label(value, grain or "month"))


WIDGET = Kpi()
