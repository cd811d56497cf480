"""A measure over time, ready for forecasting: aggregated in DuckDB to a grain (day, week,
month), with the periods that have no rows handled by a stated rule, and its STL
decomposition.

Gaps (periods between the first and last with no rows) are never left implicit:

* ``zero``: a period without rows had none of what is counted, so a sum or count is 0
  (events, sales on a day the shop was open and sold nothing).
* ``interpolate``: a period without rows was not measured, so a mean, min, max or median
  is interpolated linearly between its neighbours.
* ``skip``: the series is the periods that have data ("trading days"); a missing period is
  not a period of the series (a shop closed on Saturdays and over Christmas). The season
  of a daily series is then the number of weekdays that ever have data (6 for a shop
  closed on Saturdays), and future dates step over the closed weekdays.
* ``auto`` (default): ``skip`` for a daily series with a weekday that never has data
  (a trading calendar), else ``zero`` for sum and count, ``interpolate`` for the rest.
"""
from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics._fields import DATE_TYPES, NUMERIC_TYPES, check_column, choice, q, types_of
from analytics.columns import DATE_FORMATS
from errors import AnalysisError, InvalidSpec

GRAINS = ("day", "week", "month")
GAP_RULES = ("auto", "zero", "interpolate", "skip")
AGGREGATES = {"sum": "sum({v})", "mean": "avg({v})", "count": "count({v})", "min": "min({v})",
              "max": "max({v})", "median": "median({v})"}
# A season is a week of days, a year of weeks or months.
DEFAULT_SEASON = {"day": 7, "week": 52, "month": 12}
# Models are fitted on at most the last this many periods (about 5 years of days): older
# history adds fit time and little to a 30-period forecast. The result says when it applied.
MAX_POINTS = 1500
# A daily series counts as a trading calendar when a weekday never has data over at least
# this many weeks.
TRADING_MIN_WEEKS = 4
# A text date column's format is guessed on this many of its first values, then checked on all.
SNIFF_VALUES = 1000


@dataclass
class Series:
    dates: list[dt.date]
    values: np.ndarray
    grain: str
    agg: str
    season: int
    gaps: dict
    open_weekdays: tuple[int, ...] | None = None  # a trading calendar: weekdays that have data
    notes: list[str] = field(default_factory=list)

    def future_dates(self, count: int) -> list[dt.date]:
        """The ``count`` periods after the last one, on the series' calendar."""
        out, current = [], self.dates[-1]
        while len(out) < count:
            current = step(current, self.grain)
            if self.open_weekdays is not None and current.weekday() not in self.open_weekdays:
                continue
            out.append(current)
        return out


def step(day: dt.date, grain: str) -> dt.date:
    if grain == "day":
        return day + dt.timedelta(days=1)
    if grain == "week":
        return day + dt.timedelta(days=7)
    month = day.month % 12 + 1
    return day.replace(year=day.year + (day.month == 12), month=month, day=1)


def date_expression(con, source_sql: str, name: str, column_type: str) -> str:
    """SQL reading column ``name`` as a TIMESTAMP. A text column must hold dates in one of
    the formats ingest knows, every non-empty value of it: otherwise the analysis stops
    with the count and an example of the values that are not dates. A number column must
    hold Unix epoch times."""
    col = q(name)
    if column_type in DATE_TYPES:
        return f"CAST({col} AS TIMESTAMP)"
    if column_type in NUMERIC_TYPES:
        return _epoch_expression(con, source_sql, name)
    candidates = [f"TRY_CAST({col} AS TIMESTAMP)"]
    # Formats are constants of ours, not user input; DuckDB wants them as literals here.
    candidates += [f"try_strptime(CAST({col} AS VARCHAR), '{fmt}')" for fmt, _kind in DATE_FORMATS]
    non_null = con.execute(f"SELECT count({col}) FROM {source_sql}").fetchone()[0]
    if non_null == 0:
        raise AnalysisError(f"The date column {name!r} is empty")
    # Narrow the formats on the first values, so a big column is scanned once or twice,
    # not once per format; the survivors (or, if none, every format) are checked on all.
    head = f"(SELECT {col} FROM {source_sql} WHERE {col} IS NOT NULL LIMIT {SNIFF_VALUES})"
    fitting = [e for e in candidates if con.execute(
        f"SELECT count(*) FILTER (WHERE {e} IS NULL) FROM {head} AS head").fetchone()[0] == 0]
    best, best_bad = None, None
    for expression in fitting or candidates:
        bad = con.execute(f"SELECT count(*) FILTER (WHERE {col} IS NOT NULL AND {expression} IS NULL) "
                          f"FROM {source_sql}").fetchone()[0]
        if bad == 0:
            return expression
        if best_bad is None or bad < best_bad:
            best, best_bad = expression, bad
    example = con.execute(f"SELECT CAST({col} AS VARCHAR) FROM {source_sql} WHERE {col} IS NOT NULL "
                          f"AND {best} IS NULL LIMIT 1").fetchone()[0]
    raise AnalysisError(f"The date column {name!r} has {best_bad:,} of {non_null:,} values that are not dates "
                        f"(for example {example!r}); choose a date column or fix those values")


# Unix epoch times by their size: microseconds, milliseconds, seconds (from 1973 on).
EPOCH_SCALES = ((1e14, 1, "microseconds"), (1e11, 1_000, "milliseconds"), (1e8, 1_000_000, "seconds"))


def _epoch_expression(con, source_sql: str, name: str) -> str:
    """A number column as a time: Unix epoch seconds, milliseconds or microseconds (as
    event logs keep them), told apart by the size of the largest value."""
    col = q(name)
    low, high = con.execute(f"SELECT min({col}), max({col}) FROM {source_sql}").fetchone()
    if high is None:
        raise AnalysisError(f"The date column {name!r} is empty")
    biggest = max(abs(float(low)), abs(float(high)))
    for threshold, factor, _unit in EPOCH_SCALES:
        if biggest >= threshold:
            return f"make_timestamp(CAST(round({col} * {factor}) AS BIGINT))"
    raise AnalysisError(f"The column {name!r} holds numbers from {low:,} to {high:,}, not times: a number column "
                        f"counts as a time only when it holds Unix epoch seconds, milliseconds or microseconds")


def read_params(schema: list[dict], params: dict) -> dict:
    """The request's time-series fields, checked."""
    types = types_of(schema)
    date_name = params.get("date")
    if date_name in (None, ""):
        raise InvalidSpec("Choose a date column: the field 'date' is required")
    check_column(date_name, schema, what="date column")
    if types[date_name] not in DATE_TYPES + NUMERIC_TYPES + ("text", "categorical"):
        raise InvalidSpec(f"The date column {date_name!r} is {types[date_name]}; it must be a date or timestamp")
    agg = choice(params, "agg", tuple(AGGREGATES), default="sum")
    value_name = params.get("value")
    if value_name in (None, ""):
        if agg != "count":
            raise InvalidSpec("Choose a measure: the field 'value' is required (or use agg 'count' to count rows)")
        value_name = None
    else:
        check_column(value_name, schema, what="measure")
        if agg != "count" and types[value_name] not in NUMERIC_TYPES:
            raise InvalidSpec(f"The measure {value_name!r} is {types[value_name]}; {agg} needs a number "
                              f"(only 'count' works on any column)")
    multiply = params.get("multiply")
    if multiply in (None, ""):
        multiply = None
    else:
        # Revenue = price × quantity (Online Retail): the product is taken row by row, in DuckDB.
        check_column(multiply, schema, NUMERIC_TYPES, what="multiplier column")
        if value_name is None or types[value_name] not in NUMERIC_TYPES:
            raise InvalidSpec("A multiplier needs a numeric measure to multiply")
    grain = choice(params, "grain", GRAINS, default="day")
    gaps = choice(params, "gaps", GAP_RULES, default="auto")
    season = params.get("season")
    if season is not None and (isinstance(season, bool) or not isinstance(season, int) or not 1 <= season <= 366):
        raise InvalidSpec("The field 'season' must be a whole number of periods from 1 (no season) to 366")
    return {"date": date_name, "value": value_name, "multiply": multiply, "agg": agg, "grain": grain, "gaps": gaps,
            "season": season, "date_type": types[date_name]}


def aggregate(con, source_sql: str, spec: dict) -> pd.DataFrame:
    """(period, value, rows) per period that has rows, in DuckDB; rows without a date left out."""
    date_sql = date_expression(con, source_sql, spec["date"], spec["date_type"])
    value_sql = q(spec["value"]) if spec["value"] else "1"
    if spec["multiply"]:
        value_sql = f"(CAST({value_sql} AS DOUBLE) * CAST({q(spec['multiply'])} AS DOUBLE))"
    measure = AGGREGATES[spec["agg"]].format(v="v")
    frame = con.execute(
        f"SELECT CAST(date_trunc(?, d) AS DATE) AS period, CAST({measure} AS DOUBLE) AS value, count(*) AS rows "
        f"FROM (SELECT {date_sql} AS d, {value_sql} AS v FROM {source_sql}) AS t "
        f"WHERE d IS NOT NULL GROUP BY 1 ORDER BY 1", [spec["grain"]]).df()
    return frame


def build(con, source_sql: str, schema: list[dict], params: dict) -> Series:
    """The checked, aggregated, gap-handled series of a request."""
    spec = read_params(schema, params)
    frame = aggregate(con, source_sql, spec)
    if frame.empty:
        raise AnalysisError(f"The date column {spec['date']!r} has no values")
    periods = [p.date() if hasattr(p, "date") else p for p in frame["period"]]
    values = frame["value"].to_numpy(dtype=float)
    grain = spec["grain"]
    # Periods present, and the full calendar between the first and the last.
    full, current = [], periods[0]
    while current <= periods[-1]:
        full.append(current)
        current = step(current, grain)
    open_weekdays = None
    if grain == "day":
        seen = sorted({p.weekday() for p in periods})
        if len(seen) < 7 and len(full) >= 7 * TRADING_MIN_WEEKS:
            open_weekdays = tuple(seen)
    rule = spec["gaps"]
    if rule == "auto":
        if open_weekdays is not None:
            rule, reason = "skip", (f"no data ever on {_weekday_names(set(range(7)) - set(open_weekdays))}: "
                                    f"a trading calendar, so the series is the days with data")
        elif spec["agg"] in ("sum", "count"):
            rule, reason = "zero", f"a period without rows has nothing to {spec['agg']}, so it counts as 0"
        else:
            rule, reason = "interpolate", f"a period without rows was not measured, so its {spec['agg']} is interpolated"
    else:
        reason = "chosen in the request"
    missing = len(full) - len(periods)
    nan_values = int(np.isnan(values).sum())  # periods whose rows all have an empty measure
    if rule == "skip":
        keep = ~np.isnan(values)
        dates, series = [p for p, k in zip(periods, keep) if k], values[keep]
        filled = 0
    else:
        by_period = dict(zip(periods, values))
        series = np.array([by_period.get(p, np.nan) for p in full], dtype=float)
        dates = full
        filled = int(np.isnan(series).sum())
        if rule == "zero":
            series = np.nan_to_num(series, nan=0.0)
        else:
            series = pd.Series(series).interpolate(limit_direction="both").to_numpy()
        open_weekdays = None
    if spec["season"] is not None:
        season = spec["season"]
    elif grain == "day" and open_weekdays is not None:
        season = len(open_weekdays)
    else:
        season = DEFAULT_SEASON[grain]
    notes = []
    if len(series) > MAX_POINTS:
        notes.append(f"The series has {len(series):,} {grain}s; the models use the last {MAX_POINTS:,}.")
        dates, series = dates[-MAX_POINTS:], series[-MAX_POINTS:]
    gaps = {"method": rule, "reason": reason, "missing_periods": missing, "filled": filled,
            "skipped": missing if rule == "skip" else 0, "empty_measure_periods": nan_values}
    if open_weekdays is not None:
        gaps["open_weekdays"] = _weekday_names(open_weekdays)
    return Series(dates=list(dates), values=np.asarray(series, dtype=float), grain=grain, agg=spec["agg"],
                  season=season, gaps=gaps, open_weekdays=open_weekdays, notes=notes)


def _weekday_names(days) -> str:
    names = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
    return ", ".join(names[d] for d in sorted(days))


def stl(values: np.ndarray, season: int) -> dict | None:
    """Trend, season and remainder (robust STL), or None when there is no season or fewer
    than two of them."""
    if season < 2 or len(values) < 2 * season + 1:
        return None
    from statsmodels.tsa.seasonal import STL

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = STL(np.asarray(values, dtype=float), period=season, robust=True).fit()
    return {"trend": np.asarray(fit.trend).tolist(), "seasonal": np.asarray(fit.seasonal).tolist(),
            "remainder": np.asarray(fit.resid).tolist()}
