"""The spacing of a time column, and the grain a series over it should have.

A series is only as fine as its data. Monthly figures forecast by day are 29 empty days
and one full one per month: filled with zeros they make a "daily" series that is 97 %
zeros, and any model looks good next to it. So:

* ``detect`` reads the distinct times of the column, in DuckDB (never the rows): the
  median gap between neighbours names the spacing (hourly, daily, weekly, monthly
  28-31 days, quarterly, yearly, or irregular event times), the share of gaps in that
  band says how regular it is, and for every grain the number of periods between the
  first and last time that have no data at all.
* The grain used when the request leaves it to us ("auto", or no grain) is the finest
  grain, not finer than the spacing (day for irregular event times), at which at most
  ``MAX_EMPTY_SHARE`` of the periods are empty. That is the same rule that refuses a
  grain chosen by hand (``analytics/timeseries.py``), so the automatic grain is never
  refused for its gaps when another grain would pass.

A daily series on a trading calendar (a weekday that never has data over at least
``TRADING_MIN_WEEKS`` weeks: a shop closed on Saturdays, a stock market) does not count its
closed weekdays as empty: they are not days of that series.
"""
from __future__ import annotations

import datetime as dt

GRAINS = ("hour", "day", "week", "month", "quarter", "year")
GRAIN_LABELS = {"hour": "Hour", "day": "Day", "week": "Week", "month": "Month", "quarter": "Quarter", "year": "Year"}
# The most of its periods a series may have without data (filled, interpolated or skipped).
# Past this the grain is finer than the data: the forecast would mostly be of our fill.
MAX_EMPTY_SHARE = 0.2
# A daily series counts as a trading calendar when a weekday never has data over at least
# this many weeks, and at least TRADING_MIN_OPEN weekdays do (data on Saturdays only is a
# weekly series, not a shop open one day a week).
TRADING_MIN_WEEKS = 4
TRADING_MIN_OPEN = 4

DAY = 86_400.0
# spacing word, its grain, and the band of gaps (seconds) that count as that spacing. The
# bands allow a clock's jitter (readings at 09:00 one day, 09:05 the next).
SPACINGS = (
    ("hourly", "hour", 3_300.0, 3_900.0),
    ("daily", "day", 0.9 * DAY, 1.1 * DAY),
    ("weekly", "week", 6.5 * DAY, 7.5 * DAY),
    ("monthly", "month", 27.5 * DAY, 31.5 * DAY),
    ("quarterly", "quarter", 88.5 * DAY, 92.5 * DAY),
    ("yearly", "year", 364.5 * DAY, 366.5 * DAY),
)
BAND_WORDS = {"hourly": "an hour", "daily": "a day", "weekly": "7 days", "monthly": "28-31 days",
              "quarterly": "89-92 days", "yearly": "365-366 days"}


# --- calendar arithmetic ------------------------------------------------------------------------

def as_datetime(value) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime(value.year, value.month, value.day)


def truncate(value, grain: str) -> dt.datetime:
    """The start of the period ``value`` falls in (weeks start on Monday, as DuckDB's)."""
    t = as_datetime(value)
    if grain == "hour":
        return t.replace(minute=0, second=0, microsecond=0)
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if grain == "day":
        return day
    if grain == "week":
        return day - dt.timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    return day.replace(month=1, day=1)


MONTHS_PER = {"month": 1, "quarter": 3, "year": 12}


def step(period, grain: str):
    """The period after ``period`` (a date, or a datetime for hours)."""
    if grain == "hour":
        return period + dt.timedelta(hours=1)
    if grain == "day":
        return period + dt.timedelta(days=1)
    if grain == "week":
        return period + dt.timedelta(days=7)
    total = period.year * 12 + period.month - 1 + MONTHS_PER[grain]
    return period.replace(year=total // 12, month=total % 12 + 1, day=1)


def count_periods(first, last, grain: str) -> int:
    """Periods of ``grain`` from the one holding ``first`` to the one holding ``last``."""
    a, b = truncate(first, grain), truncate(last, grain)
    if grain == "hour":
        return int((b - a).total_seconds() // 3600) + 1
    if grain == "day":
        return (b - a).days + 1
    if grain == "week":
        return (b - a).days // 7 + 1
    return ((b.year - a.year) * 12 + b.month - a.month) // MONTHS_PER[grain] + 1


def open_days(first, last, weekdays) -> int:
    """Days from ``first`` to ``last`` (inclusive) that fall on one of ``weekdays`` (0 = Monday)."""
    a, b = truncate(first, "day"), truncate(last, "day")
    total = (b - a).days + 1
    weeks, rest = divmod(total, 7)
    return weeks * len(weekdays) + sum(1 for i in range(rest) if (a.weekday() + i) % 7 in weekdays)


def trading_weekdays(weekdays, days_in_span: int) -> tuple[int, ...] | None:
    """The weekdays of a trading calendar (some weekday never has data over enough weeks),
    else None."""
    seen = tuple(sorted(set(weekdays)))
    if TRADING_MIN_OPEN <= len(seen) < 7 and days_in_span >= 7 * TRADING_MIN_WEEKS:
        return seen
    return None


def plural(grain: str, count: int = 2) -> str:
    return grain if count == 1 else f"{grain}s"


# --- detection ------------------------------------------------------------------------------------

def detect(con, source_sql: str, date_sql: str) -> dict:
    """The spacing of the times ``date_sql`` (a TIMESTAMP expression over ``source_sql``)
    and the grain to use; one DuckDB query over the distinct times, to the minute (no grain
    is finer than an hour, and 5 million event times 7 seconds apart took 12 s as they
    are, 1.7 s as 583,334 minutes)."""
    bands = [x for _word, _grain, low, high in SPACINGS for x in (low, high)]
    in_band = ", ".join("count(gap) FILTER (WHERE gap BETWEEN ? AND ?)" for _ in SPACINGS)
    distinct = ", ".join(f"count(DISTINCT date_trunc('{g}', d))" for g in GRAINS)  # our constants
    row = con.execute(
        f"WITH t AS (SELECT DISTINCT date_trunc('minute', d) AS d FROM (SELECT {date_sql} AS d FROM {source_sql}) AS s "
        f"WHERE d IS NOT NULL), "
        f"g AS (SELECT d, epoch(d) - epoch(lag(d) OVER (ORDER BY d)) AS gap FROM t) "
        f"SELECT min(d), max(d), count(*), median(gap), list(DISTINCT isodow(d)), {distinct}, {in_band} FROM g",
        bands).fetchone()
    first, last, times, median_gap, isodows = row[:5]
    with_data = dict(zip(GRAINS, row[5:5 + len(GRAINS)]))
    band_counts = row[5 + len(GRAINS):]
    if not times:
        return {"grain": "day", "spacing": None, "times": 0, "description": "The date column has no values.",
                "summary": "The date column has no values."}
    weekdays = [d - 1 for d in isodows or []]
    empty = {}
    for grain in GRAINS:
        total = count_periods(first, last, grain)
        closed = trading_weekdays(weekdays, total) if grain == "day" else None
        if closed is not None:
            total = open_days(first, last, closed)
        empty[grain] = {"empty": max(total - with_data[grain], 0), "periods": total}
    spacing, spacing_grain, regular = None, None, None
    if median_gap is not None:
        for (word, grain, low, high), count in zip(SPACINGS, band_counts):
            if low <= median_gap <= high:
                spacing, spacing_grain, regular = word, grain, count / (times - 1)
                break
    # Not finer than the data's own spacing; for irregular event times, not finer than a day.
    start = GRAINS.index(spacing_grain or "day")
    eligible = GRAINS[start:]
    passing = [g for g in eligible if empty[g]["empty"] <= MAX_EMPTY_SHARE * empty[g]["periods"]]
    grain = passing[0] if passing else min(eligible, key=lambda g: empty[g]["empty"] / empty[g]["periods"])
    return {
        "grain": grain, "spacing": spacing or ("irregular" if times > 1 else None), "regular_share": regular,
        "median_gap_seconds": median_gap, "times": times, "first": first, "last": last, "empty": empty,
        "description": describe(spacing, spacing_grain, regular, median_gap, times, first, last, grain, empty),
        "summary": (f"The data is {spacing}" if spacing else "The times are irregular (events)") +
                   f": Automatic uses {GRAIN_LABELS[grain]}.",
    }


def describe(spacing, spacing_grain, regular, median_gap, times, first, last, grain, empty) -> str:
    """One sentence for the page: what the data's spacing is and which grain that gives."""
    span = f"from {_day(first)} to {_day(last)}"
    if times < 2:
        return f"The date column has one distinct time ({_day(first)}): Day."
    if spacing:
        text = (f"The data is {spacing}: {times:,} distinct times {span}, {percent(regular)} of them "
                f"{BAND_WORDS[spacing]} apart.")
    else:
        gap = duration(median_gap) if median_gap > 60 else "a minute or less"
        text = f"The times are irregular (events): {times:,} minutes with data {span}, a median of {gap} apart."
    own = spacing_grain or "day"
    if grain == own:
        return f"{text} Grain: {GRAIN_LABELS[grain]}."
    gaps = empty[own]
    reason = (f"{gaps['empty']:,} of {gaps['periods']:,} {plural(own)} have no data, so the grain is "
              f"{GRAIN_LABELS[grain]}")
    if empty[grain]["empty"] > MAX_EMPTY_SHARE * empty[grain]["periods"]:
        reason += (f", the best there is, though {empty[grain]['empty']:,} of its {empty[grain]['periods']:,} "
                   f"{plural(grain)} have no data too")
    return f"{text} {reason}."


def percent(share: float) -> str:
    """0.2 -> '20 %' (the house style: a space before the sign)."""
    return f"{share * 100:.0f} %"


def duration(seconds: float) -> str:
    for unit, size in (("day", DAY), ("hour", 3600.0), ("minute", 60.0)):
        if seconds >= size:
            value = seconds / size
            return f"{value:,.1f} {unit}s" if value != 1 else f"1 {unit}"
    return f"{seconds:,.0f} seconds" if seconds != 1 else "1 second"


def _day(value) -> str:
    t = as_datetime(value)
    return t.date().isoformat() if t.time() == dt.time(0) else t.isoformat(sep=" ", timespec="minutes")


def looks_like(detection: dict) -> str:
    """'looks monthly' / 'has irregular times': for the refusal message."""
    spacing = detection.get("spacing")
    if spacing in (None, "irregular"):
        return "has events at irregular times"
    return f"looks {spacing}"
