"""Choices made from column roles (analytics/column_choice.py): the main measure, the
category that splits, the grain of a time series, the widget editor's starting fields
and the map's location mode. Roles are given here; analytics.roles decides them."""
from __future__ import annotations

import datetime as dt

import pytest

from analytics.column_choice import NEVER_AGGREGATED, Columns, aggregated_columns, suggested_spec
from analytics.dashboard_templates import country_mode
from analytics.widgets import REGISTRY

FLIGHTS_SCHEMA = [{"name": n, "type": t} for n, t in (
    ("year", "integer"), ("month", "integer"), ("day", "integer"), ("dep_time", "integer"), ("dep_delay", "float"),
    ("arr_delay", "float"), ("carrier", "text"), ("flight", "integer"), ("tailnum", "text"), ("origin", "text"),
    ("dest", "text"), ("air_time", "float"), ("distance", "float"), ("hour", "integer"), ("time_hour", "timestamp"))]
FLIGHTS_ROLES = {
    "year": {"role": "date_part", "detail": "year"}, "month": {"role": "date_part", "detail": "month"},
    "day": {"role": "date_part", "detail": "day"}, "dep_time": {"role": "code"},
    "dep_delay": {"role": "measure"}, "arr_delay": {"role": "measure"}, "carrier": {"role": "category"},
    "flight": {"role": "code"}, "tailnum": {"role": "identifier"}, "origin": {"role": "category"},
    "dest": {"role": "category"}, "air_time": {"role": "measure_additive"},
    "distance": {"role": "measure_additive"}, "hour": {"role": "date_part", "detail": "hour"},
    "time_hour": {"role": "time"},
}
FLIGHTS_SUMMARY = {"rows": 336_776, "columns": {
    "carrier": {"distinct": 16, "nulls": 0}, "origin": {"distinct": 3, "nulls": 0}, "dest": {"distinct": 105, "nulls": 0},
    "tailnum": {"distinct": 4043, "nulls": 2512}, "dep_delay": {"distinct": 527, "nulls": 8255},
    "arr_delay": {"distinct": 577, "nulls": 9430}, "air_time": {"distinct": 509, "nulls": 9430},
    "distance": {"distinct": 214, "nulls": 0},
    "time_hour": {"distinct": 6936, "nulls": 0, "min": dt.datetime(2013, 1, 1, 5), "max": dt.datetime(2013, 12, 31, 23)},
}}


@pytest.fixture
def flights():
    return Columns(FLIGHTS_SCHEMA, FLIGHTS_ROLES, FLIGHTS_SUMMARY)


def test_measures_rank_additive_and_named_first_and_never_date_parts_or_codes(flights):
    assert flights.measures() == ["distance", "air_time", "dep_delay", "arr_delay"]
    assert flights.varied_measures() == ["distance", "dep_delay", "air_time", "arr_delay"]
    assert flights.agg_for("distance") == "sum" and flights.agg_for("dep_delay") == "mean"
    for column in ("year", "month", "day", "hour", "flight", "dep_time", "tailnum"):
        assert not flights.aggregatable(column)


def test_mostly_missing_measures_are_not_the_main_one():
    schema = [{"name": "revenue", "type": "float"}, {"name": "score", "type": "float"}]
    roles = {"revenue": {"role": "measure_additive"}, "score": {"role": "measure"}}
    columns = Columns(schema, roles, {"rows": 100, "columns": {"revenue": {"nulls": 90}, "score": {"nulls": 0}}})
    assert columns.measures() == ["score"] and columns.main_measure() == "score"
    assert columns.measures(include_sparse=True) == ["score", "revenue"]


def test_categories_fewest_values_first_and_identifiers_that_repeat(flights):
    assert flights.categories() == ["origin", "carrier", "dest"]
    assert flights.identifiers(repeated_only=True) == ["tailnum"]
    # A row number (as many values as rows) is not "how many customers".
    rows = Columns([{"name": "row", "type": "integer"}], {"row": {"role": "identifier"}},
                   {"rows": 50, "columns": {"row": {"distinct": 50}}})
    assert rows.identifiers(repeated_only=True) == []


@pytest.mark.parametrize("lo, hi, distinct, rows, grain", [
    (dt.datetime(2013, 1, 1), dt.datetime(2013, 12, 31, 23), 6936, 336_776, "week"),  # flights: a year of hours
    (dt.date(2010, 12, 1), dt.date(2010, 12, 9), 9, 20_000, "day"),                    # nine days of invoices
    (dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 3), 48, 5_000, "hour"),             # two days of events
    (dt.date(2000, 1, 1), dt.date(2005, 1, 1), 6, 600, "year"),                        # yearly data stays yearly
    # A series (one row per moment) keeps its own spacing: no two months added together.
    (dt.date(1967, 7, 1), dt.date(2015, 4, 1), 574, 574, "month"),                     # monthly economics
    (dt.date(2012, 1, 1), dt.date(2015, 12, 31), 1461, 1461, "week"),                  # 4 years of days: > 1,000
    (dt.date(1900, 1, 1), dt.date(2020, 1, 1), 121, 121, "year"),                      # yearly, a century
])
def test_grain_fits_the_span_and_the_data_spacing(lo, hi, distinct, rows, grain):
    columns = Columns([{"name": "t", "type": "timestamp" if isinstance(lo, dt.datetime) else "date"}],
                      {"t": {"role": "time"}}, {"rows": rows, "columns": {"t": {"min": lo, "max": hi,
                                                                               "distinct": distinct}}})
    assert columns.grain_for("t") == grain
    assert columns.one_row_per_point("t", grain) == (rows == distinct and grain in ("month", "year"))


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_editor_suggestions_never_aggregate_what_must_not_be(flights, type_name):
    spec = suggested_spec(type_name, flights)
    assert not {c for c in aggregated_columns({"type": type_name, **spec})
                if FLIGHTS_ROLES[c]["role"] in NEVER_AGGREGATED}


def test_editor_suggestions_per_type(flights):
    assert suggested_spec("bar", flights) == {"x": "origin", "y": "distance", "agg": "sum"}
    assert suggested_spec("line", flights) == {"x": "time_hour", "time_grain": "week", "y": "distance", "agg": "sum"}
    assert suggested_spec("histogram", flights) == {"x": "distance"}
    assert suggested_spec("scatter", flights) == {"x": "air_time", "y": "distance"}
    assert suggested_spec("kpi", flights) == {"y": "distance", "agg": "sum"}
    # Without a measure, a count of rows: never a sum of an id or a year.
    bare = Columns(FLIGHTS_SCHEMA[:4], FLIGHTS_ROLES, FLIGHTS_SUMMARY)
    assert suggested_spec("kpi", bare) == {"agg": "count"}
    assert suggested_spec("line", bare) == {"x": "year", "agg": "count"}


def test_option_order_and_labels(flights):
    names = [c["name"] for c in FLIGHTS_SCHEMA]
    assert flights.ordered(names, "measure")[:4] == ["distance", "air_time", "dep_delay", "arr_delay"]
    assert flights.ordered(names, "time")[0] == "time_hour"
    assert flights.ordered(names, "category")[:3] == ["origin", "carrier", "dest"]
    assert flights.option_label("year") == "year  ·  date part: year"
    assert flights.option_label("dep_delay") == "dep_delay  ·  measure, averaged"


def test_analyze_defaults_from_roles():
    schema = [{"name": n, "type": t, "role": r} for n, t, r in (
        ("InvoiceNo", "text", "code"), ("StockCode", "text", "code"), ("Quantity", "integer", "measure_additive"),
        ("InvoiceDate", "timestamp", "time"), ("UnitPrice", "float", "measure"),
        ("CustomerID", "float", "identifier"), ("Country", "text", "geography"))]
    columns = Columns.from_schema(schema)
    assert (columns.customer(), columns.order(), columns.amount(), columns.quantity(), columns.time()) == \
        ("CustomerID", "InvoiceNo", "UnitPrice", "Quantity", "InvoiceDate")
    events = Columns.from_schema([{"name": n, "type": t, "role": r} for n, t, r in (
        ("user_id", "text", "identifier"), ("session_id", "text", "identifier"), ("event", "text", "category"),
        ("timestamp", "timestamp", "time"), ("platform", "text", "category"))])
    assert (events.entity(), events.event(), events.time()) == ("user_id", "event", "timestamp")


@pytest.mark.parametrize("values, mode", [
    (["United Kingdom", "France", "EIRE"], "country names"), (["GB", "FR", "DE"], "ISO-2"),
    (["GBR", "FRA"], "ISO-3"), ([], "country names"), (["UK", "DE"], "ISO-2"),
])
def test_country_mode(values, mode):
    assert country_mode(values) == mode


def test_aggregated_columns_reads_every_kind_of_spec():
    assert aggregated_columns({"type": "bar", "x": "a", "y": "b", "agg": "sum"}) == {"b"}
    assert aggregated_columns({"type": "bar", "x": "a", "y": "b", "agg": "count_distinct"}) == set()
    assert aggregated_columns({"type": "kpi", "y": {"expr": "mul", "columns": ["q", "p"]}, "agg": "sum"}) == {"q", "p"}
    assert aggregated_columns({"type": "histogram", "x": "h"}) == {"h"}
    assert aggregated_columns({"type": "scatter", "x": "a", "y": "b", "size": "c"}) == {"a", "b", "c"}
    assert aggregated_columns({"type": "box", "x": "g", "y": "v"}) == {"v"}
    assert aggregated_columns({"type": "pivot", "rows": ["r"], "values": "v", "agg": "mean"}) == {"v"}
