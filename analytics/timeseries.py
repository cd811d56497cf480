"""A measure over time, ready for forecasting: aggregated in DuckDB to a grain (hour, day,
week, month, quarter, year; by default the data's own spacing, analytics/timegrain.py),
with the periods that have no rows handled by a stated rule, and its STL decomposition.

A grain finer than the data is refused: when more than ``timegrain.MAX_EMPTY_SHARE`` of
the periods between the first and the last have no rows (not counting the closed weekdays
of a trading calendar), the series would be mostly our own fill, so the analysis stops
and names the grain that fits ("3,300 of 3,652 days have no data: this series looks
monthly; choose Month").

Gaps (periods between the first and last with no rows, at most that share) are never left
implicit. What a missing period *is* decides the rule:

* ``zero``: a period without rows had none of what is counted, so the sum or count is 0.
  True of events (orders, visits, invoice lines): a day without an order sold nothing.
* ``interpolate``: a period without rows was not measured; its value is unknown, not 0.
  True of a level (temperature, a price, a rate: any mean, min, max or median), and of a
  table that is itself a series (one row per period): a missing month of a monthly table
  was not recorded. Filled linearly between the neighbours.
* ``skip``: the series is the periods that have data ("trading days"); a missing period is
  not a period of the series (a shop closed on Saturdays and over Christmas). The season
  of a daily series is then the number of weekdays that ever have data (6 for a shop
  closed on Saturdays), and future dates step over the closed weekdays.
* ``auto`` (default): ``skip`` for a daily series with a weekday that never has data
  (a trading calendar); else ``zero`` for count, and for sum when the data are events (some
  period has more than one row); ``interpolate`` for a sum over one row per period and for
  mean, min, max and median.
"""
from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analytics import timegrain
from analytics._fields import DATE_TYPES, NUMERIC_TYPES, check_column, choice, q, types_of
from analytics.columns import DATE_FORMATS
from analytics.timegrain import GRAIN_LABELS, GRAINS, MAX_EMPTY_SHARE, step
from errors import AnalysisError, InvalidSpec

GAP_RULES = ("auto", "zero", "interpolate", "skip")
AGGREGATES = {"sum": "sum({v})", "mean": "avg({v})", "count": "count({v})", "min": "min({v})",
              "max": "max({v})", "median": "median({v})"}
# A season is a day of hours, a week of days, a year of weeks, months or quarters; years
# have none.
DEFAULT_SEASON = {"hour": 24, "day": 7, "week": 52, "month": 12, "quarter": 4, "year": 1}
# Models are fitted on at most the last this many periods (about 5 years of days): older
# history adds fit time and little to a 30-period forecast. The result says when it applied.
MAX_POINTS = 1500
# A text date column's format is guessed on this many of its first values, then checked on all.
SNIFF_VALUES = 1000


@dataclass
class Series:
    dates: list[dt.date]  # period starts: dates, or datetimes for hours
    values: np.ndarray
    grain: str
    agg: str
    season: int
    gaps: dict
    open_weekdays: tuple[int, ...] | None = None  # a trading calendar: weekdays that have data
    notes: list[str] = field(default_factory=list)
    grain_detected: dict | None = None  # timegrain.detect's answer when the grain was left to us

    def future_dates(self, count: int) -> list[dt.date]:
        """The ``count`` periods after the last one, on the series' calendar."""
        out, current = [], self.dates[-1]
        while len(out) < count:
            current = step(current, self.grain)
            if self.open_weekdays is not None and current.weekday() not in self.open_weekdays:
                continue
            out.append(current)
        return out


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
# Whole numbers in this range are years (a "Year" column of a sales table), read as 1 January.
YEAR_RANGE = (1000, 2999)


def _epoch_expression(con, source_sql: str, name: str) -> str:
    """A number column as a time: Unix epoch seconds, milliseconds or microseconds (as
    event logs keep them), told apart by the size of the largest value; or whole numbers
    from 1000 to 2999, read as years."""
    col = q(name)
    low, high, fractions = con.execute(
        f"SELECT min({col}), max({col}), count(*) FILTER (WHERE {col} <> floor({col})) FROM {source_sql}").fetchone()
    if high is None:
        raise AnalysisError(f"The date column {name!r} is empty")
    if fractions == 0 and YEAR_RANGE[0] <= float(low) and float(high) <= YEAR_RANGE[1]:
        return f"CAST(make_date(CAST({col} AS INTEGER), 1, 1) AS TIMESTAMP)"
    biggest = max(abs(float(low)), abs(float(high)))
    for threshold, factor, _unit in EPOCH_SCALES:
        if biggest >= threshold:
            return f"make_timestamp(CAST(round({col} * {factor}) AS BIGINT))"
    raise AnalysisError(f"The column {name!r} holds numbers from {low:,} to {high:,}, not times: a number column "
                        f"counts as a time only when it holds years (whole numbers from {YEAR_RANGE[0]} to "
                        f"{YEAR_RANGE[1]}) or Unix epoch seconds, milliseconds or microseconds")


def date_column(schema: list[dict], params: dict) -> str:
    """The request's date column, checked: it exists and can hold times."""
    name = params.get("date")
    if name in (None, ""):
        raise InvalidSpec("Choose a date column: the field 'date' is required")
    check_column(name, schema, what="date column")
    column_type = types_of(schema)[name]
    if column_type not in DATE_TYPES + NUMERIC_TYPES + ("text", "categorical"):
        raise InvalidSpec(f"The date column {name!r} is {column_type}; it must be a date or timestamp")
    return name


def read_params(schema: list[dict], params: dict) -> dict:
    """The request's time-series fields, checked."""
    types = types_of(schema)
    date_name = date_column(schema, params)
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
    grain = params.get("grain")
    grain = "auto" if grain in (None, "") else choice(params, "grain", ("auto",) + GRAINS)
    gaps = choice(params, "gaps", GAP_RULES, default="auto")
    season = params.get("season")
    if season is not None and (isinstance(season, bool) or not isinstance(season, int) or not 1 <= season <= 366):
        raise InvalidSpec("The field 'season' must be a whole number of periods from 1 (no season) to 366")
    return {"date": date_name, "value": value_name, "multiply": multiply, "agg": agg, "grain": grain, "gaps": gaps,
            "season": season, "date_type": types[date_name]}


def aggregate(con, source_sql: str, spec: dict, date_sql: str, grain: str) -> pd.DataFrame:
    """(period, value, rows) per period that has rows, in DuckDB; rows without a date left out.
    Periods are dates, or timestamps for hours."""
    value_sql = q(spec["value"]) if spec["value"] else "1"
    if spec["multiply"]:
        value_sql = f"(CAST({value_sql} AS DOUBLE) * CAST({q(spec['multiply'])} AS DOUBLE))"
    measure = AGGREGATES[spec["agg"]].format(v="v")
    period = "date_trunc(?, d)" if grain == "hour" else "CAST(date_trunc(?, d) AS DATE)"
    return con.execute(
        f"SELECT {period} AS period, CAST({measure} AS DOUBLE) AS value, count(*) AS rows "
        f"FROM (SELECT {date_sql} AS d, {value_sql} AS v FROM {source_sql}) AS t "
        f"WHERE d IS NOT NULL GROUP BY 1 ORDER BY 1", [grain]).df()


def _period(value, grain: str):
    if grain == "hour":
        return value.to_pydatetime() if hasattr(value, "to_pydatetime") else value
    return value.date() if hasattr(value, "date") else value


def build(con, source_sql: str, schema: list[dict], params: dict) -> Series:
    """The checked, aggregated, gap-handled series of a request."""
    spec = read_params(schema, params)
    date_sql = date_expression(con, source_sql, spec["date"], spec["date_type"])
    detected = None
    grain = spec["grain"]
    if grain == "auto":
        detected = timegrain.detect(con, source_sql, date_sql)
        grain = detected["grain"]
    frame = aggregate(con, source_sql, spec, date_sql, grain)
    if frame.empty:
        raise AnalysisError(f"The date column {spec['date']!r} has no values")
    periods = [_period(p, grain) for p in frame["period"]]
    values = frame["value"].to_numpy(dtype=float)
    # Periods present, and the full calendar between the first and the last.
    full, current = [], periods[0]
    while current <= periods[-1]:
        full.append(current)
        current = step(current, grain)
    open_weekdays = None
    if grain == "day":
        open_weekdays = timegrain.trading_weekdays([p.weekday() for p in periods], len(full))
    # The grain must fit the data: at most MAX_EMPTY_SHARE of the periods without rows
    # (a trading calendar's closed weekdays are not periods of it).
    calendar = len(full) if open_weekdays is None else sum(1 for p in full if p.weekday() in open_weekdays)
    missing = len(full) - len(periods)
    empty = calendar - len(periods)
    if empty > MAX_EMPTY_SHARE * calendar:
        if detected is None:
            detected = timegrain.detect(con, source_sql, date_sql)
        raise AnalysisError(refusal(empty, calendar, grain, detected),
                            details={"grain": grain, "empty_periods": empty, "periods": calendar,
                                     "grain_suggested": detected["grain"], "spacing": detected.get("spacing")})
    rule = spec["gaps"]
    if rule == "auto":
        if open_weekdays is not None:
            rule, reason = "skip", (f"no data ever on {_weekday_names(set(range(7)) - set(open_weekdays))}: "
                                    f"a trading calendar, so the series is the days with data")
        elif spec["agg"] == "count":
            rule, reason = "zero", "a period without rows has nothing to count, so it counts as 0"
        elif spec["agg"] == "sum" and int(frame["rows"].max()) > 1:
            rule, reason = "zero", ("the rows are events (periods hold several), so a period without rows "
                                    "had none: its sum is 0")
        elif spec["agg"] == "sum":
            rule, reason = "interpolate", ("the table is itself a series (one row per period), so a period "
                                           "without a row was not recorded: interpolated, not 0")
        else:
            rule, reason = "interpolate", (f"a {spec['agg']} is a level: a period without rows was not "
                                           f"measured, so it is interpolated, not 0")
    else:
        reason = "chosen in the request"
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
            "skipped": missing if rule == "skip" else 0, "empty_measure_periods": nan_values,
            "empty_share": empty / calendar, "max_empty_share": MAX_EMPTY_SHARE}
    if open_weekdays is not None:
        gaps["open_weekdays"] = _weekday_names(open_weekdays)
    return Series(dates=list(dates), values=np.asarray(series, dtype=float), grain=grain, agg=spec["agg"],
                  season=season, gaps=gaps, open_weekdays=open_weekdays, notes=notes, grain_detected=detected)


def refusal(empty: int, calendar: int, grain: str, detected: dict) -> str:
    """Why a grain too fine for the data is refused, and the grain to choose instead."""
    text = (f"{empty:,} of {calendar:,} {timegrain.plural(grain, calendar)} have no data: this series "
            f"{timegrain.looks_like(detected)}")
    suggested = detected["grain"]
    fits = detected.get("empty", {}).get(suggested)
    if suggested != grain and fits and fits["empty"] <= MAX_EMPTY_SHARE * fits["periods"]:
        text += f"; choose {GRAIN_LABELS[suggested]}"
    else:
        text += (f", and no grain has data in {timegrain.percent(1 - MAX_EMPTY_SHARE)} of its periods: it has too "
                 f"many gaps to forecast")
    return (f"{text}. (A forecast fills at most {timegrain.percent(MAX_EMPTY_SHARE)} of its periods; past that it "
            f"would be a forecast of the filling.)")


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


def detect_grain(con, source_sql: str, schema: list[dict], params: dict, progress) -> dict:
    """The ``time_grain`` analysis (POST /api/v1/analyze/time_grain, and the Time series
    tab when a date column is chosen): the spacing of ``params["date"]`` and the grain an
    automatic forecast would use, from the column's distinct times."""
    name = date_column(schema, params)
    date_sql = date_expression(con, source_sql, name, types_of(schema)[name])
    progress(0.5, "Reading the distinct times")
    return dict(timegrain.detect(con, source_sql, date_sql), date=name, max_empty_share=MAX_EMPTY_SHARE)
