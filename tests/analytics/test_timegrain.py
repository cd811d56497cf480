"""The grain of a series is the data's own spacing (detected from the distinct times, on
real public series of every spacing), and a grain finer than the data is refused with the
grain to choose: the issue's monthly data forecast by day, 16,868 "missing" days filled
with zeros, cannot happen again. Gaps are filled by a stated rule: 0 for events, unknown
(interpolated) for a level or a table that is itself a series."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from analytics import timegrain, timeseries
from errors import AnalysisError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SERIES = FIXTURES / "timeseries"
WHOLE_RETAIL = Path(__file__).resolve().parents[2] / "data" / "samples" / "online-retail.csv.gz"
APP_TYPES = {"DATE": "date", "TIMESTAMP": "timestamp", "BIGINT": "integer", "INTEGER": "integer", "DOUBLE": "float"}


def read(path: Path):
    """A DuckDB source over a CSV file and its schema in the app's type names."""
    con = duckdb.connect()
    source = f"read_csv('{path}', nullstr=['N/A', ''])"
    schema = [{"name": name, "type": APP_TYPES.get(kind, "text")}
              for name, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    return con, source, schema


def detect(path: Path, column: str) -> dict:
    con, source, schema = read(path)
    kind = {c["name"]: c["type"] for c in schema}[column]
    return timegrain.detect(con, source, timeseries.date_expression(con, source, column, kind))


# file, date column, a measure, the grain, the spacing word
REAL_SERIES = [
    (SERIES / "seattle-temps-hourly.csv", "date", "temp", "hour", "hourly"),
    (SERIES / "seattle-weather.csv", "date", "temp_max", "day", "daily"),
    (FIXTURES / "online-retail-daily-revenue.csv", "date", "revenue", "day", "daily"),
    (SERIES / "co2-weekly.csv", "date", "co2", "week", "weekly"),
    (SERIES / "economics.csv", "date", "unemploy", "month", "monthly"),  # month ends
    (SERIES / "us-employment.csv", "month", "nonfarm", "month", "monthly"),  # month starts
    (SERIES / "macrodata-quarterly.csv", "quarter_start", "realgdp", "quarter", "quarterly"),
    (SERIES / "sunspots-yearly.csv", "YEAR", "SUNACTIVITY", "year", "yearly"),  # years as numbers 1700.0 …
    (SERIES / "iowa-electricity.csv", "year", "net_generation", "year", "yearly"),  # 3 rows a year
    (FIXTURES / "vgsales.csv", "Year", "Global_Sales", "year", "yearly"),  # whole years, N/A among them
    (FIXTURES / "online-retail-20k.csv", "InvoiceDate", "Quantity", "day", "irregular"),  # invoice times
    (FIXTURES / "events-ecom-journey" / "ecom-sample.csv", "timestamp", None, "week", "irregular"),  # sparse days
]


@pytest.mark.parametrize("path, column, measure, grain, spacing", REAL_SERIES,
                         ids=[f"{p.name}-{c}" for p, c, *_ in REAL_SERIES])
def test_detected_grain_of_real_series(path, column, measure, grain, spacing):
    detection = detect(path, column)
    assert (detection["grain"], detection["spacing"]) == (grain, spacing)
    assert f"Grain: {timegrain.GRAIN_LABELS[grain]}." in detection["description"] or \
        f"the grain is {timegrain.GRAIN_LABELS[grain]}" in detection["description"]


@pytest.mark.parametrize("path, column, measure, grain, spacing", REAL_SERIES,
                         ids=[f"{p.name}-{c}" for p, c, *_ in REAL_SERIES])
def test_an_automatic_grain_builds_and_is_never_refused(path, column, measure, grain, spacing):
    con, source, schema = read(path)
    params = {"date": column, "value": measure, "agg": "sum" if measure else "count"}
    series = timeseries.build(con, source, schema, params)  # no grain: the data's own
    assert series.grain == grain and series.grain_detected["grain"] == grain
    assert series.gaps["empty_share"] <= timegrain.MAX_EMPTY_SHARE


def test_the_description_says_what_the_page_shows():
    assert detect(SERIES / "economics.csv", "date")["description"] == (
        "The data is monthly: 478 distinct times from 1967-06-30 to 2007-03-31, 100 % of them 28-31 days apart. "
        "Grain: Month.")
    retail = detect(FIXTURES / "online-retail-20k.csv", "InvoiceDate")["description"]
    assert retail.startswith("The times are irregular (events): 807 minutes with data from 2010-12-01 08:26 to "
                             "2010-12-09 11:45, a median of 3.0 minutes apart.")
    sparse = detect(FIXTURES / "events-ecom-journey" / "ecom-sample.csv", "timestamp")["description"]
    assert sparse.endswith("59 of 172 days have no data, so the grain is Week.")


@pytest.mark.skipif(not WHOLE_RETAIL.exists(), reason="the shipped sample data/samples/online-retail.csv.gz is not there")
def test_the_whole_online_retail_file_is_daily_on_a_trading_calendar():
    """541,909 invoice lines, 23,260 distinct times (minutes): by day, Saturdays not counted as empty."""
    detection = detect(WHOLE_RETAIL, "InvoiceDate")
    assert detection["grain"] == "day" and detection["spacing"] == "irregular"
    assert detection["times"] == 23_260
    assert detection["empty"]["day"] == {"empty": 16, "periods": 321}  # 374 days less 53 Saturdays; 305 with data


def test_detection_counts_distinct_times_not_rows():
    """The same times repeated (many rows a month) give the same answer."""
    con = duckdb.connect()
    months = pd.date_range("2000-01-01", periods=60, freq="MS")
    con.register("once", pd.DataFrame({"t": months}))
    con.register("thrice", pd.DataFrame({"t": np.repeat(months, 3)}))
    once = timegrain.detect(con, "once", "CAST(t AS TIMESTAMP)")
    thrice = timegrain.detect(con, "thrice", "CAST(t AS TIMESTAMP)")
    assert once == thrice and once["grain"] == "month" and once["times"] == 60


# --- a grain finer than the data is refused, naming the grain to choose -------------------------------

@pytest.mark.parametrize("path, column, measure, grain, message", [
    (SERIES / "economics.csv", "date", "unemploy", "day",
     "14,042 of 14,520 days have no data: this series looks monthly; choose Month."),
    (SERIES / "economics.csv", "date", "unemploy", "week",
     "1,597 of 2,075 weeks have no data: this series looks monthly; choose Month."),
    (SERIES / "co2-weekly.csv", "date", "co2", "day",
     "13,698 of 15,982 days have no data: this series looks weekly; choose Week."),
    (SERIES / "macrodata-quarterly.csv", "quarter_start", "realgdp", "month",
     "404 of 607 months have no data: this series looks quarterly; choose Quarter."),
    (FIXTURES / "vgsales.csv", "Year", "Global_Sales", "month",
     "442 of 481 months have no data: this series looks yearly; choose Year."),
    (FIXTURES / "events-ecom-journey" / "ecom-sample.csv", "timestamp", None, "day",
     "59 of 172 days have no data: this series has events at irregular times; choose Week."),
])
def test_forcing_a_finer_grain_is_refused_with_the_grain_to_choose(path, column, measure, grain, message):
    con, source, schema = read(path)
    with pytest.raises(AnalysisError) as refused:
        timeseries.build(con, source, schema, {"date": column, "value": measure, "grain": grain,
                                               "agg": "sum" if measure else "count"})
    assert str(refused.value).startswith(message)
    assert "fills at most 20 % of its periods" in str(refused.value)


def test_the_issues_case_monthly_economics_by_day_is_refused_not_zero_filled():
    """ggplot2's economics has 574 month starts (1967-07 … 2015-04): by day that is 16,868
    empty days, the number the issue saw filled with zeros."""
    months = pd.date_range("1967-07-01", "2015-04-01", freq="MS")
    frame = pd.DataFrame({"date": months, "unemploy": np.linspace(2944, 8549, len(months))})
    con = duckdb.connect()
    con.register("economics", frame)
    schema = [{"name": "date", "type": "date"}, {"name": "unemploy", "type": "float"}]
    with pytest.raises(AnalysisError, match=r"^16,868 of 17,442 days have no data: this series looks monthly; "
                                            r"choose Month\."):
        timeseries.build(con, "economics", schema, {"date": "date", "value": "unemploy", "grain": "day"})
    assert timeseries.build(con, "economics", schema, {"date": "date", "value": "unemploy"}).grain == "month"


def _monthly_with_gaps(missing: int, months: int = 100) -> tuple:
    dates = pd.date_range("2010-01-01", periods=months, freq="MS")
    keep = np.ones(months, bool)
    keep[1:1 + missing] = False  # interior months (the first and last stay)
    frame = pd.DataFrame({"month": dates[keep], "level": np.arange(months, dtype=float)[keep]})
    con = duckdb.connect()
    con.register("levels", frame)
    return con, [{"name": "month", "type": "date"}, {"name": "level", "type": "float"}]


def test_the_limit_is_twenty_percent_of_the_periods():
    assert timegrain.MAX_EMPTY_SHARE == 0.2
    con, schema = _monthly_with_gaps(20)
    series = timeseries.build(con, "levels", schema, {"date": "month", "value": "level", "grain": "month"})
    assert series.gaps["filled"] == 20 and series.gaps["empty_share"] == pytest.approx(0.2)
    con, schema = _monthly_with_gaps(21)
    with pytest.raises(AnalysisError, match=r"^21 of 100 months have no data: this series looks monthly; "
                                            r"choose Quarter\."):  # 7 of 34 quarters empty: within the limit
        timeseries.build(con, "levels", schema, {"date": "month", "value": "level", "grain": "month"})


def test_a_series_with_too_many_gaps_at_every_grain_is_refused_as_such():
    years = [dt.date(y, 1, 1) for y in (2000, 2001, 2003, 2004, 2006, 2007, 2009, 2010, 2012, 2013)]
    con = duckdb.connect()
    con.register("yearly", pd.DataFrame({"year": years, "value": np.arange(10.0)}))
    schema = [{"name": "year", "type": "date"}, {"name": "value", "type": "float"}]
    with pytest.raises(AnalysisError, match=r"^4 of 14 years have no data: this series looks yearly, and no grain "
                                            r"has data in 80 % of its periods: it has too many gaps to forecast\."):
        timeseries.build(con, "yearly", schema, {"date": "year", "value": "value"})  # automatic: year, still refused


# --- what a missing period is ------------------------------------------------------------------------------

def test_a_table_that_is_itself_a_series_interpolates_a_missing_period_even_for_a_sum():
    """One row per month: a missing month was not recorded, so it is unknown, not 0."""
    con, schema = _monthly_with_gaps(3)
    series = timeseries.build(con, "levels", schema, {"date": "month", "value": "level"})
    assert series.gaps["method"] == "interpolate" and "itself a series" in series.gaps["reason"]
    np.testing.assert_allclose(series.values, np.arange(100, dtype=float))  # a straight line, filled straight


def test_events_count_a_missing_period_as_zero():
    """Several rows (events) per period: a period without rows had none, so its sum is 0."""
    con = duckdb.connect()
    days = [dt.datetime(2024, 1, 1) + dt.timedelta(days=d, hours=h) for d in range(60) if d != 30 for h in (9, 15)]
    con.register("orders", pd.DataFrame({"at": days, "amount": 10.0}))
    schema = [{"name": "at", "type": "timestamp"}, {"name": "amount", "type": "float"}]
    series = timeseries.build(con, "orders", schema, {"date": "at", "value": "amount"})
    assert series.grain == "day" and series.gaps["method"] == "zero" and "events" in series.gaps["reason"]
    assert series.values[30] == 0 and series.values[29] == 20
    mean = timeseries.build(con, "orders", schema, {"date": "at", "value": "amount", "agg": "mean"})
    assert mean.gaps["method"] == "interpolate" and mean.values[30] == 10  # a level: unknown, not 0


def test_hourly_series_step_by_the_hour():
    con, source, schema = read(SERIES / "seattle-temps-hourly.csv")
    series = timeseries.build(con, source, schema, {"date": "date", "value": "temp", "agg": "mean"})
    assert series.grain == "hour" and series.season == 24
    assert series.gaps["filled"] == 1  # the hour lost to summer time, interpolated
    assert series.future_dates(2) == [dt.datetime(2010, 12, 31, 23) + dt.timedelta(hours=h) for h in (1, 2)]


@pytest.mark.parametrize("grain, start, after", [
    ("quarter", dt.date(2009, 10, 1), dt.date(2010, 1, 1)),
    ("year", dt.date(2008, 1, 1), dt.date(2009, 1, 1)),
    ("month", dt.date(2008, 12, 1), dt.date(2009, 1, 1)),
])
def test_steps_of_the_calendar_grains(grain, start, after):
    assert timegrain.step(start, grain) == after
    assert timegrain.count_periods(start, after, grain) == 2


def test_event_times_are_read_to_the_minute():
    """Times seconds apart: the spacing is irregular, the grain a day, the gap 'a minute or less'."""
    con = duckdb.connect()
    con.register("clicks", pd.DataFrame({"clicked": pd.date_range("2024-01-01", periods=50_000, freq="7s")}))
    detection = timegrain.detect(con, "clicks", "CAST(clicked AS TIMESTAMP)")
    assert (detection["grain"], detection["spacing"], detection["times"]) == ("day", "irregular", 5_834)
    assert "a median of a minute or less apart" in detection["description"]
