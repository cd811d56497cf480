"""Column roles (analytics/roles.py): the pure rules on hand-made stats, then the same
rules judged on public tables the rules were not written for (tests/fixtures/public and
the shared data sets), with stats from the app's own one-scan summary."""
from __future__ import annotations

import duckdb
import pytest

from analytics import roles
from analytics.column_stats import summarize
from analytics.roles import AGGREGATABLE, ROLE_LABELS, ROLES, can_aggregate, default_agg, infer_roles


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
