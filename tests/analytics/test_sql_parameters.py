"""The {{parameters}} of a live SQL dataset's query (analytics/sql_parameters.py): found
where SQL has them and nowhere else, bound as $n placeholders with typed values beside
the text, optional [[ ]] clauses left out while a value is missing."""
from __future__ import annotations

import datetime as dt
import math

import duckdb
import pytest

from analytics.sql_parameters import Parameter, ParameterError, bind, parameters_in

QUERY = """SELECT name, '{{not_me}}' AS s, "{{nor_me}}" AS q -- {{nor_this}}
/* {{or_this}} */ FROM t
WHERE [[1,2]] = l [[AND region IN ({{region}})]] [[AND day BETWEEN {{period:date}}]]
  AND amount BETWEEN {{amount:number}}"""


def test_parameters_are_found_outside_strings_names_and_comments():
    assert parameters_in(QUERY) == [Parameter("region", "text"), Parameter("period", "date"),
                                    Parameter("amount", "number")]
    # a type given on any use holds for all; two different types are refused
    assert parameters_in("SELECT {{a}} WHERE x > {{a:number}}") == [Parameter("a", "number")]
    with pytest.raises(ParameterError, match="two types"):
        parameters_in("SELECT {{a:date}}, {{a:number}}")
    for bad, words in (("SELECT {{a b}}", "not a parameter"), ("SELECT {{x:money}}", "text, number or date"),
                       ("SELECT " + ", ".join(f"{{{{p{i}}}}}" for i in range(21)), "at most 20")):
        with pytest.raises(ParameterError, match=words):
            parameters_in(bad)


def test_binding_numbers_placeholders_after_the_charts_own():
    text, values = bind(QUERY, {"region": ["North", "South"], "period": ["2024-01-01", None], "amount": [5, 10.5]},
                        start=4)
    assert "IN ( $4, $5)" in text.replace("($4", "( $4") and "BETWEEN $6 AND $7" in text
    assert "BETWEEN $8 AND $9" in text and "'{{not_me}}'" in text and "-- {{nor_this}}" in text
    assert "[[1,2]] = l" in text  # a nested list is DuckDB's, not an optional clause
    assert values == ["North", "South", dt.date(2024, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999), 5, 10.5]


def test_optional_clauses_are_left_out_and_required_parameters_are_asked_for():
    text, values = bind(QUERY, {"amount": [None, 3]})
    assert "region" not in text and "day BETWEEN" not in text and values == [-math.inf, 3]
    with pytest.raises(ParameterError, match=r"needs a value for \{\{amount\}\}"):
        bind(QUERY, {"region": ["North"]})
    text, values = bind(QUERY, None, fill_missing=True)  # the editor's trial run, the sample
    assert values == [None, None] and "BETWEEN $1 AND $2" in text


@pytest.mark.parametrize("values, words", [
    ({"amount": ["ten", 20]}, "takes numbers"),
    ({"amount": [float("nan"), 20]}, "cannot take"),
    ({"amount": [True, 2]}, "cannot take"),
    ({"amount": [1, 2], "period": ["yesterday", None]}, "dates like"),
    ({"amount": [1, 2], "region": [{"a": 1}]}, "cannot take"),
])
def test_values_that_do_not_fit_are_named(values, words):
    with pytest.raises(ParameterError, match=words):
        bind(QUERY, values)


def test_bound_text_runs_in_duckdb_with_values_never_in_the_sql():
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES ('Ada', 'North'), ('Bob', 'South')) v(name, region)")
    sql = "SELECT name FROM t WHERE 1=1 [[AND region IN ({{region}})]] ORDER BY name"
    for given, want in ((None, ["Ada", "Bob"]), (["South"], ["Bob"]), (["x') OR ('1'='1"], [])):
        text, values = bind(sql, {"region": given})
        assert "South" not in text and "'1'" not in text
        assert [r[0] for r in con.execute(text, values).fetchall()] == want


def test_a_date_range_holds_the_whole_last_day_and_huge_numbers_are_refused():
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (1, TIMESTAMP '2024-03-31 10:00'), "
                "(2, TIMESTAMP '2024-04-01 00:00'), (3, TIMESTAMP '2024-02-29 23:59')) v(id, ts)")
    text, values = bind("SELECT id FROM t WHERE ts BETWEEN {{p:date}} ORDER BY id", {"p": ["2024-03-01", "2024-03-31"]})
    assert [r[0] for r in con.execute(text, values).fetchall()] == [1]
    text, values = bind("SELECT id FROM t WHERE CAST(ts AS DATE) BETWEEN {{p:date}} ORDER BY id", {"p": [None, "2024-03-31"]})
    assert [r[0] for r in con.execute(text, values).fetchall()] == [1, 3]
    for huge in (10 ** 400, 2 ** 63):
        with pytest.raises(ParameterError):
            bind("SELECT {{n:number}}", {"n": [huge, None]})
    assert bind("SELECT {{n:number}}", {"n": [2 ** 60, None]})[1][0] == 2 ** 60  # exact


def test_a_list_literal_with_braces_in_a_string_is_not_an_optional_clause():
    text, values = bind("SELECT [['{{a}}', 'b']] AS l", None)
    assert text == "SELECT [['{{a}}', 'b']] AS l" and values == []


def test_what_follows_a_statements_end_is_left_out():
    from analytics.sql_parameters import without_trailing

    for sql in ("SELECT 1; -- note", "SELECT 1 -- note", "SELECT 1;\n-- note\n", "SELECT 1 /* a */ ; /* b */ ;"):
        assert without_trailing(sql) == "SELECT 1", sql
    assert without_trailing("SELECT '--;' AS x") == "SELECT '--;' AS x"
    assert without_trailing('SELECT 1 AS "a;" ;') == 'SELECT 1 AS "a;"'
