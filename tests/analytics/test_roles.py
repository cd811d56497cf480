"""Column roles (analytics/roles.py): the pure rules on hand-made stats, then the same
rules judged on public tables the rules were not written for (tests/fixtures/public and
the shared data sets), with stats from the app's own one-scan summary."""
from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

import duckdb
import pytest

from analytics import roles
from analytics.column_stats import summarize
from analytics.roles import AGGREGATABLE, ROLE_LABELS, ROLES, can_aggregate, default_agg, infer_roles
from storage import ingest, sources
from storage.duck import literal


def role_of(name, type_, rows=1000, **stats):
    return roles.infer_role({"name": name, "type": type_}, stats, rows)


# --- the vocabulary ---------------------------------------------------------------------


def test_vocabulary_and_defaults():
    assert set(ROLES) == {"identifier", "date_part", "time", "code", "category", "measure_additive", "measure",
                          "geography", "text", "constant", "boolean"}
    assert set(ROLE_LABELS) == set(ROLES)
    assert AGGREGATABLE == {"measure_additive", "measure"}
    assert default_agg("measure_additive") == "sum"
    assert default_agg("measure") == "mean"
    for role in set(ROLES) - AGGREGATABLE:
        assert default_agg(role) is None
        assert not can_aggregate(role)
    assert can_aggregate("measure") and can_aggregate("measure_additive")
    assert default_agg(None) is None and not can_aggregate(None)


def test_validate_names_the_bad_role_and_detail():
    assert roles.validate("date_part", "month") == ("date_part", "month")
    assert roles.validate("measure", "") == ("measure", None)
    with pytest.raises(ValueError, match="'average' is not a column role"):
        roles.validate("average")
    with pytest.raises(ValueError, match="'fortnight' is not a detail of 'date_part'"):
        roles.validate("date_part", "fortnight")
    with pytest.raises(ValueError, match="takes no detail"):
        roles.validate("measure", "year")
    with pytest.raises(ValueError, match="not a column role"):
        roles.validate(["measure"])


def test_words_split_names_as_people_write_them():
    assert roles.words("CustomerID") == ["customer", "id"]
    assert roles.words("gdpPercap") == ["gdp", "percap"]
    assert roles.words("dep_delay") == ["dep", "delay"]
    assert roles.words("Annual Income (k$)") == ["annual", "income", "k"]
    assert roles.words("HTTPStatus") == ["http", "status"]


# --- the rules ---------------------------------------------------------------------------


@pytest.mark.parametrize("name,low,high,detail", [
    ("year", 2013, 2013 + 0, None),  # one value: constant wins (below)
    ("year", 1952, 2007, "year"), ("Year", 2007, 2009, "year"), ("month", 1, 12, "month"),
    ("day", 1, 31, "day"), ("hour", 0, 23, "hour"), ("minute", 0, 59, "minute"), ("quarter", 1, 4, "quarter"),
    ("day_of_week", 0, 6, "weekday"), ("hour_of_day", 0, 23, "hour"), ("year_built", 1900, 2010, "year"),
])
def test_date_parts_need_name_and_range(name, low, high, detail):
    found = role_of(name, "integer", distinct=max(high - low + 1, 1), missing=0, min=low, max=high)
    if detail is None:
        assert found["role"] == "constant"
    else:
        assert (found["role"], found["detail"]) == ("date_part", detail), found
        assert "never summed" in found["reason"]


def test_a_date_part_name_with_other_values_is_not_a_date_part():
    assert role_of("year", "integer", distinct=5, missing=0, min=1, max=5)["role"] == "code"  # year of study
    assert role_of("month", "integer", distinct=40, missing=0, min=1, max=48)["role"] != "date_part"
    assert role_of("years_experience", "integer", distinct=30, missing=0, min=0, max=40)["role"] != "date_part"
    assert role_of("year", "float", distinct=30, missing=0, min=1990.5, max=2020.5, integral=False)["role"] != "date_part"


def test_weekday_and_month_names_in_text():
    assert role_of("day", "categorical", distinct=4, missing=0, weekday_share=1.0)["detail"] == "weekday"
    found = role_of("mon", "text", distinct=12, missing=0, month_share=1.0)
    assert (found["role"], found["detail"]) == ("date_part", "month")
    # a category that happens to hold "May" and "March" as names of people is not a month
    assert role_of("first", "text", distinct=3, missing=0, month_share=1.0)["role"] == "category"


def test_identifiers():
    assert role_of("CustomerID", "float", distinct=400, missing=10, min=12346, max=18287)["role"] == "identifier"
    assert role_of("order_id", "text", distinct=1000, missing=0)["role"] == "identifier"
    row_number = role_of("Unnamed: 0", "integer", distinct=1000, missing=0, min=0, max=999)
    assert row_number["role"] == "identifier" and "row number" in row_number["reason"]
    assert role_of("anything", "integer", distinct=1000, missing=0, min=1, max=1000)["role"] == "identifier"
    # unique, but not a run of row numbers: a measure (populations differ in every row)
    assert role_of("pop", "integer", distinct=1000, missing=0, min=60011, max=1318683096)["role"] == "measure_additive"
    assert role_of("faa", "text", distinct=1000, missing=0, length_mean=3)["role"] == "identifier"


def test_codes():
    assert role_of("flight", "integer", distinct=900, missing=0, min=1, max=8500)["role"] == "code"
    assert role_of("tailnum", "text", rows=5000, distinct=3000, missing=20, length_mean=6)["role"] == "code"
    assert role_of("iso_num", "integer", distinct=140, missing=0, min=4, max=894)["role"] == "code"
    zip_code = role_of("zip", "integer", distinct=500, missing=0, min=501, max=99950)
    assert (zip_code["role"], zip_code["detail"]) == ("code", "postal_code")
    assert role_of("Channel", "integer", rows=440, distinct=2, missing=0, min=1, max=2, skewness=0.8)["role"] == "code"
    assert role_of("account", "text", distinct=800, missing=0, digits_share=1.0, leading_zero_share=0.3)["role"] == "code"
    # counts that start with "number" are counts, not codes
    assert role_of("number_of_reviews", "integer", distinct=300, missing=0, min=0, max=600,
                   skewness=3.0)["role"] == "measure_additive"


def test_clock_times_written_as_hhmm_are_codes_but_durations_are_measures():
    dep_time = role_of("dep_time", "integer", distinct=1200, missing=50, min=1, max=2400, minutes_over_59=0)
    assert dep_time["role"] == "code" and "hhmm" in dep_time["reason"]
    air_time = role_of("air_time", "float", distinct=400, missing=50, min=20, max=695, minutes_over_59=300,
                       integral=True, skewness=1.1)
    assert air_time["role"] == "measure_additive"
    assert role_of("distance", "float", distinct=200, missing=0, min=17, max=4983, integral=True)["role"] == \
        "measure_additive"


def test_measures_additive_or_averaged():
    assert role_of("dep_delay", "float", distinct=500, missing=80, min=-43, max=1301, skewness=4.8)["role"] == "measure"
    assert role_of("price", "float", distinct=5000, missing=0, min=326, max=18823, skewness=1.6)["role"] == "measure"
    assert role_of("Spending Score (1-100)", "integer", distinct=80, missing=0, min=1, max=99)["role"] == "measure"
    assert role_of("total_bill", "float", distinct=200, missing=0, min=3, max=50)["role"] == "measure_additive"
    assert role_of("gdpPercap", "float", distinct=1700, missing=0, min=241, max=113523, skewness=3.8)["role"] == "measure"
    assert role_of("Quantity", "integer", distinct=300, missing=0, min=-80995, max=80995)["role"] == "measure_additive"
    rating = role_of("rating", "integer", distinct=5, missing=0, min=1, max=5)
    assert rating["role"] == "measure"  # few distinct, but the name says it is averaged
    # no word either way: a long-tailed non-negative number adds up, a symmetric one is averaged
    assert role_of("Fresh", "integer", rows=440, distinct=433, missing=0, min=3, max=112151,
                   skewness=2.56)["role"] == "measure_additive"
    assert role_of("x", "float", distinct=900, missing=0, min=3.7, max=10.7, skewness=0.4)["role"] == "measure"
    assert role_of("balance_change", "float", distinct=900, missing=0, min=-30, max=40)["role"] == "measure"


def test_geography():
    lat = role_of("lat", "float", distinct=1400, missing=0, min=19.7, max=71.3)
    assert (lat["role"], lat["detail"]) == ("geography", "latitude")
    assert role_of("lon", "float", distinct=1400, missing=0, min=-176.6, max=174.1)["detail"] == "longitude"
    assert role_of("lat", "float", distinct=1400, missing=0, min=-500, max=900)["role"] != "geography"
    assert role_of("Country", "text", distinct=38, missing=0)["detail"] == "country"
    assert role_of("where", "text", distinct=50, missing=0, country_share=0.97)["detail"] == "country"
    assert role_of("state", "categorical", distinct=50, missing=0)["detail"] == "state"


def test_constant_boolean_time_text_category():
    assert role_of("carrier", "text", distinct=1, missing=0, top_values=[{"value": "UA", "count": 9}])["reason"] \
        .startswith("One value only (UA)")
    assert role_of("empty", "float", rows=10, distinct=0, missing=10)["role"] == "constant"
    assert role_of("survived", "integer", distinct=2, missing=0, min=0, max=1)["role"] == "boolean"
    assert role_of("flag", "boolean", distinct=2, missing=0)["role"] == "boolean"
    assert role_of("time_hour", "timestamp", distinct=5000, missing=0)["role"] == "time"
    assert role_of("date", "date", distinct=574, missing=0)["role"] == "time"
    assert role_of("Description", "text", distinct=4000, missing=0, length_mean=26)["role"] == "text"
    assert role_of("comment", "text", distinct=990, missing=0, length_mean=120)["role"] == "text"
    assert role_of("carrier", "categorical", distinct=16, missing=0, length_mean=2)["role"] == "category"
    assert role_of("dest", "text", rows=5000, distinct=100, missing=0, length_mean=3)["role"] == "category"


def test_infer_roles_covers_every_column_with_a_reason():
    schema = [{"name": "a", "type": "integer"}, {"name": "b", "type": "text"}, {"name": "c", "type": "date"}]
    found = infer_roles(schema, {"a": {"distinct": 3, "missing": 0, "min": 1, "max": 3}}, 3)
    assert list(found) == ["a", "b", "c"]
    for value in found.values():
        assert value["role"] in ROLES and value["reason"]
    assert found["c"]["role"] == "time"
    assert infer_roles([], {}, 0) == {}


def test_one_scan_summary_feeds_the_rules():
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT i AS row_no, 2000 + i % 20 AS year, (i % 12) + 1 AS month, "
                "CASE WHEN i % 3 = 0 THEN 'Mon' WHEN i % 3 = 1 THEN 'Tue' ELSE 'Sun' END AS dow, "
                "lpad(CAST(i % 700 AS VARCHAR), 5, '0') AS zip5, i * 1.5 AS amount, 'x' AS same, "
                "(i % 2400) AS hhmm_time FROM range(1, 1001) r(i)")
    summary = summarize(con, "t")
    stats = summary["columns"]
    assert summary["rows"] == 1000
    assert stats["row_no"]["distinct"] == 1000 and stats["row_no"]["min"] == 1 and stats["row_no"]["integral"]
    assert stats["dow"]["weekday_share"] == 1.0
    assert stats["zip5"]["digits_share"] == 1.0 and stats["zip5"]["leading_zero_share"] == 1.0
    assert stats["amount"]["integral"] is False
    assert stats["hhmm_time"]["minutes_over_59"] > 0
    found = infer_roles([{"name": n, "type": t} for n, t in [
        ("row_no", "integer"), ("year", "integer"), ("month", "integer"), ("dow", "text"), ("zip5", "text"),
        ("amount", "float"), ("same", "text")]], stats, summary["rows"])
    assert {k: (v["role"], v["detail"]) for k, v in found.items()} == {
        "row_no": ("identifier", None), "year": ("date_part", "year"), "month": ("date_part", "month"),
        "dow": ("date_part", "weekday"), "zip5": ("code", "postal_code"), "amount": ("measure_additive", None),
        "same": ("constant", None)}


def test_wide_tables_are_summarised_in_batches():
    con = duckdb.connect()
    columns = ", ".join(f"i + {n} AS c{n}" for n in range(250))
    con.execute(f"CREATE TABLE wide AS SELECT {columns}, 'x' || (i % 3) AS label FROM range(500) r(i)")
    summary = summarize(con, "wide")
    assert len(summary["columns"]) == 251
    assert summary["columns"]["c249"]["min"] == 249 and summary["columns"]["c249"]["distinct"] == 500
    assert summary["columns"]["label"]["distinct"] == 3


def test_profile_alerts_read_the_role():
    from analytics.profiling.alerts import column_alerts, table_alerts

    col = {"name": "n", "kind": "numeric", "count": 100, "missing": 0, "distinct": 60, "skewness": 12.0,
           "zeros": 30, "negatives": 5, "top_values": []}
    as_measure = {a["type"] for a in column_alerts(col, 100, "measure")}
    assert {"skewed", "zeros", "negatives"} <= as_measure and "numeric_code" not in as_measure
    assert {a["type"] for a in column_alerts(col, 100)} >= {"skewed", "zeros", "negatives"}  # no role: as before
    for role in ("identifier", "date_part", "boolean"):
        assert not {a["type"] for a in column_alerts(col, 100, role)} & {"skewed", "zeros", "negatives"}
    as_code = [a for a in column_alerts(col, 100, "code")]
    assert [a["type"] for a in as_code] == ["numeric_code"] and "name things" in as_code[0]["message"]
    pairs = [{"columns": ["id", "x"], "value": 0.99, "method": "pearson"},
             {"columns": ["x", "y"], "value": 0.95, "method": "pearson"}]
    found = table_alerts({"duplicate_rows": 0, "rows": 10}, pairs, {"id": "identifier", "x": "measure"})
    assert [a["columns"] for a in found] == [["x", "y"]]


# --- judged on public tables the rules were not written for --------------------------------

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PUBLIC = FIXTURES / "public"
SHARED = Path("/work/shared/data")
OTHER_TABLES = [FIXTURES / "shopping_data.csv", FIXTURES / "music.csv", FIXTURES / "vgsales.csv",
                FIXTURES / "online-retail-20k.csv", FIXTURES / "online-retail-daily-revenue.csv",
                FIXTURES / "events-ecom-journey" / "ecom-sample.csv",
                FIXTURES / "events-sparkify" / "2018-11-01-events.json",
                SHARED / "wholesale-customers" / "Wholesale customers data.csv"]


def fixture_tables() -> list[Path]:
    return sorted(PUBLIC.glob("*.csv")) + [p for p in OTHER_TABLES if p.exists()]


@functools.cache
def roles_of(path: Path) -> dict[str, dict]:
    """The roles the app gives the table: ingested as an upload is (types, dates), then
    summarised by the same one-scan summary the storage service runs."""
    work = Path(tempfile.mkdtemp(prefix="roles-"))
    try:
        source = sources.prepare(path, path.name, work, 10 ** 9)
        inspection = ingest.inspect(source, work)
        rows, schema = ingest.write_parquet(source, inspection, ingest.default_plan(inspection),
                                            work / "data.parquet", work)
        con = duckdb.connect()
        try:
            summary = summarize(con, f"read_parquet({literal(str(work / 'data.parquet'))})", schema, rows)
        finally:
            con.close()
        found = infer_roles(schema, summary["columns"], summary["rows"])
        for entry in schema:
            found[entry["name"]]["type"] = entry["type"]
        return found
    finally:
        shutil.rmtree(work, ignore_errors=True)


# (file, column): expected role, or (role, detail); a set where either answer is right.
AGGREGATE = {"measure", "measure_additive"}
NOT_SUMMED = {"identifier", "code"}
EXPECTED = {
    "flights_sample.csv": {
        "year": "constant", "month": ("date_part", "month"), "day": ("date_part", "day"),
        "hour": ("date_part", "hour"), "minute": ("date_part", "minute"), "flight": NOT_SUMMED,
        "tailnum": NOT_SUMMED, "dep_time": "code", "sched_arr_time": "code", "dep_delay": "measure",
        "arr_delay": "measure", "distance": AGGREGATE, "air_time": AGGREGATE, "carrier": "category",
        "origin": "category", "dest": "category", "time_hour": "time"},
    "ggplot2_economics.csv": {"date": "time", "pce": AGGREGATE, "unemploy": AGGREGATE, "pop": "measure",
                              "psavert": "measure", "uempmed": "measure"},
    "ggplot2_diamonds.csv": {"price": "measure", "carat": "measure", "cut": "category", "color": "category",
                             "clarity": "category", "depth": "measure", "x": "measure"},
    "ggplot2_mpg.csv": {"year": ("date_part", "year"), "manufacturer": "category", "cty": "measure",
                        "hwy": "measure", "displ": "measure", "class": "category"},
    "penguins.csv": {"bill_length_mm": "measure", "body_mass_g": "measure", "species": "category",
                     "island": "category", "sex": "category", "year": ("date_part", "year")},
    "plotly_gapminder.csv": {"iso_num": "code", "year": ("date_part", "year"), "country": ("geography", "country"),
                             "lifeExp": "measure", "gdpPercap": "measure", "pop": "measure_additive",
                             "continent": "geography", "iso_alpha": {"geography", "code"}},
    "plotly_tips.csv": {"total_bill": "measure_additive", "tip": "measure_additive", "day": ("date_part", "weekday"),
                        "smoker": "boolean", "sex": "category", "size": AGGREGATE},
    "plotly_election.csv": {"district_id": "identifier", "total": "measure_additive", "winner": "category"},
    "plotly_carshare.csv": {"centroid_lat": ("geography", "latitude"), "centroid_lon": ("geography", "longitude"),
                            "peak_hour": ("date_part", "hour"), "car_hours": "measure_additive"},
    "nycflights13_airports.csv": {"lat": ("geography", "latitude"), "lon": ("geography", "longitude"),
                                  "faa": NOT_SUMMED, "name": "text", "tz": "code", "alt": "measure"},
    "nycflights13_planes.csv": {"tailnum": NOT_SUMMED, "year": ("date_part", "year"), "seats": AGGREGATE,
                                "manufacturer": "category"},
    "nycflights13_weather.csv": {"year": "constant", "month": ("date_part", "month"), "hour": ("date_part", "hour"),
                                 "temp": "measure", "humid": "measure", "pressure": "measure",
                                 "precip": "measure_additive", "time_hour": "time"},
    "nycflights13_airlines.csv": {"carrier": {"identifier", "category", "code"}, "name": {"text", "category"}},
    "vega_airports.csv": {"latitude": ("geography", "latitude"), "longitude": ("geography", "longitude"),
                          "state": ("geography", "state"), "city": ("geography", "city"),
                          "country": ("geography", "country"), "iata": NOT_SUMMED},
    "vega_cars.csv": {"Year": "time", "Miles_per_Gallon": "measure", "Horsepower": "measure", "Origin": "category",
                      "Name": "text"},
    "vega_seattle_weather.csv": {"date": "time", "precipitation": "measure_additive", "temp_max": "measure",
                                 "weather": "category"},
    "vega_stocks.csv": {"date": "time", "price": "measure", "symbol": "category"},
    "vega_barley.csv": {"year": ("date_part", "year"), "yield": "measure", "site": "category"},
    "vega_wheat.csv": {"year": ("date_part", "year"), "wages": "measure"},
    "vega_driving.csv": {"year": ("date_part", "year"), "miles": "measure_additive"},
    "vega_la_riots.csv": {"age": "measure", "death_date": "time", "latitude": ("geography", "latitude")},
    "vega_iris.csv": {"petalLength": "measure", "species": "category"},
    "vega_us_employment.csv": {"month": "time", "nonfarm": "measure", "nonfarm_change": "measure"},
    "r_airquality.csv": {"Month": ("date_part", "month"), "Day": ("date_part", "day"), "Temp": "measure",
                         "Ozone": "measure"},
    "r_titanic.csv": {"Freq": "measure_additive", "Class": "category", "Survived": "boolean"},
    "r_mtcars.csv": {"mpg": "measure", "am": "boolean", "cyl": {"code", "measure"}},
    "sklearn_diabetes_raw.csv": {"age": "measure", "bmi": "measure", "sex": {"code", "category"}},
    "sklearn_wine.csv": {"alcohol": "measure", "target": {"code", "category"}},
    "sklearn_breast_cancer.csv": {"mean radius": "measure", "radius error": "measure", "target": "boolean"},
    "shopping_data.csv": {"CustomerID": "identifier", "Genre": "category", "Age": "measure",
                          "Spending Score (1-100)": "measure", "Annual Income (k$)": AGGREGATE},
    "music.csv": {"age": "measure", "gender": "boolean", "genre": "category"},
    "vgsales.csv": {"Rank": "identifier", "Name": "text", "Year": ("date_part", "year"), "Platform": "category",
                    "Global_Sales": "measure_additive", "Publisher": "category"},
    "online-retail-20k.csv": {"InvoiceNo": NOT_SUMMED, "StockCode": "code", "Description": "text",
                              "Quantity": "measure_additive", "InvoiceDate": "time", "UnitPrice": "measure",
                              "CustomerID": "identifier", "Country": ("geography", "country")},
    "online-retail-daily-revenue.csv": {"date": "time", "revenue": "measure_additive"},
    "ecom-sample.csv": {"user_id": "identifier", "session_id": "identifier", "timestamp": "time",
                        "event": "category"},
    "2018-11-01-events.json": {"ts": "code", "userId": "identifier", "sessionId": "identifier", "status": "constant",
                               "length": "measure"},
    "Wholesale customers data.csv": {"Channel": "code", "Region": "code", "Fresh": "measure_additive",
                                     "Milk": "measure_additive"},
}


def test_at_least_fifteen_public_tables_with_sources():
    tables = sorted(PUBLIC.glob("*.csv"))
    assert len(tables) >= 15
    listed = (PUBLIC / "SOURCES.md").read_text()
    for table in tables:
        assert f"`{table.name}`" in listed, f"{table.name} has no line in SOURCES.md"
        assert table.stat().st_size < 500_000


@pytest.mark.parametrize("path", fixture_tables(), ids=lambda p: p.name)
def test_expected_roles_on_public_tables(path):
    found = roles_of(path)
    for column, value in found.items():
        assert value["role"] in ROLES and value["reason"], (column, value)
        roles.validate(value["role"], value["detail"])  # inferred details are in the vocabulary too
        if value["role"] == "date_part":
            assert value["type"] in ("integer", "float", "text", "categorical")
    expected = EXPECTED.get(path.name, {})
    wrong = {}
    for column, want in expected.items():
        got = found[column]
        if isinstance(want, tuple):
            ok = (got["role"], got["detail"]) == want
        elif isinstance(want, set):
            ok = got["role"] in want
        else:
            ok = got["role"] == want
        if not ok:
            wrong[column] = (want, got["role"], got["detail"], got["reason"])
    assert not wrong, wrong


def test_every_public_table_has_expectations():
    named = {p.name for p in fixture_tables()}
    checked = named & set(EXPECTED)
    assert len(checked) >= 30, sorted(named - set(EXPECTED))


@pytest.mark.parametrize("path", fixture_tables(), ids=lambda p: p.name)
def test_nothing_named_like_an_id_or_a_date_part_is_aggregated(path):
    """Whatever a table holds: columns named like ids, and integer columns named year /
    month / day / hour whose values fit, are never measures."""
    for column, value in roles_of(path).items():
        ws = set(roles.words(column))
        if ws & {"id", "uuid", "key"} or column.lower() in ("year", "month", "day", "hour", "minute"):
            assert not can_aggregate(value["role"]), (column, value)
