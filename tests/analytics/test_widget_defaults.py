"""What the widgets choose on a person's behalf, on real tables (vgsales, music, Online
Retail, mall customers) and on generated ones: histogram bins (one bar per value for
whole numbers with few values, round edges otherwise, an axis bounded by the data, a
sentence for a constant column), top-N charts that say what they leave out or add an
"Other", choices in words, numbers formatted by column, KPI values that fit a card and
month-over-month on a partial month."""
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import duckdb
import numpy as np
import pytest

from analytics.widgets import REGISTRY, editor_catalogue, widget_type
from analytics.widgets.formatting import (
    column_d3_format,
    compact_number,
    format_cell,
    format_number,
    no_separator,
    table_formats,
)
from analytics.widgets.histogram import NICE_STEPS
from analytics.widgets.spec import normalize_spec
from tests.analytics.test_widgets import Data

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# The numeric columns of the real tables in tests/fixtures, as DuckDB reads them.
REAL_TABLES = {"vgsales.csv": "read_csv('{path}', nullstr='N/A')", "music.csv": "read_csv('{path}')",
               "online-retail-20k.csv": "read_csv('{path}')", "shopping_data.csv": "read_csv('{path}')",
               "online-retail-daily-revenue.csv": "read_csv('{path}')"}


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


def _table(con, tmp_path_factory, name: str) -> Data:
    path = tmp_path_factory.mktemp("t") / (name + ".parquet")
    reader = REAL_TABLES[name].format(path=FIXTURES / name)
    con.execute(f"COPY (SELECT * FROM {reader}) TO '{path}' (FORMAT parquet)")
    return Data(con, path)


@pytest.fixture(scope="module")
def tables(con, tmp_path_factory) -> dict[str, Data]:
    return {name: _table(con, tmp_path_factory, name) for name in REAL_TABLES}


@pytest.fixture(scope="module")
def calendar_table(con, tmp_path_factory) -> Data:
    """Every day of 2023 and 2024 with its day of month and month, and a constant."""
    path = tmp_path_factory.mktemp("cal") / "cal.parquet"
    con.execute(f"""COPY (SELECT d AS day, CAST(dayofmonth(d) AS BIGINT) AS day_of_month, CAST(month(d) AS BIGINT)
                    AS month, CAST(month(d) AS DOUBLE) AS month_float, 7 AS seven, CAST(hash(d) % 1000 AS DOUBLE) / 40
                    AS score FROM range(DATE '2023-01-01', DATE '2025-01-01', INTERVAL 1 DAY) t(d))
                    TO '{path}' (FORMAT parquet)""")
    return Data(con, path)


def bars(output: dict) -> tuple[list, list]:
    trace = output["figure"]["data"][0]
    return trace["customdata"], trace["y"]


# --- histograms -------------------------------------------------------------------------


@pytest.mark.parametrize("bounded", [False, True], ids=["scanned", "file statistics"])
def test_days_of_a_month_get_one_bar_each_not_a_merged_spike(calendar_table, bounded):
    schema = calendar_table.bounded() if bounded else None
    _, _, output = calendar_table.run({"type": "histogram", "x": "day_of_month"}, schema=schema)
    bounds, counts = bars(output)
    assert bounds == [[d, d] for d in range(1, 32)]
    expected = calendar_table.frame.day_of_month.value_counts().sort_index()
    assert counts == expected.tolist()  # 24 for day 1..28, 22 for 29 and 30, 14 for 31: no spike
    assert counts[-2:] == [22, 14]


def test_months_have_no_empty_gaps_and_every_month_is_labelled(calendar_table):
    _, _, output = calendar_table.run({"type": "histogram", "x": "month"})
    bounds, counts = bars(output)
    assert [b[0] for b in bounds] == list(range(1, 13)) and 0 not in counts
    axis = output["figure"]["layout"]["xaxis"]
    assert (axis["tickmode"], axis["tick0"], axis["dtick"]) == ("linear", 1, 1)
    assert axis["tickformat"] == "d"  # "month": a date part, no separators


def test_whole_values_in_a_float_column_are_binned_as_whole_numbers(calendar_table):
    schema = calendar_table.bounded()
    _, _, output = calendar_table.run({"type": "histogram", "x": "month_float"}, schema=schema)
    bounds, counts = bars(output)
    assert bounds == [[m, m] for m in range(1, 13)] and sum(counts) == len(calendar_table.frame)
    _, _, scanned = calendar_table.run({"type": "histogram", "x": "month_float"})
    assert bars(scanned) == (bounds, counts)


def test_vgsales_years_one_bar_per_year_bounded_by_the_data(tables):
    vg = tables["vgsales.csv"]
    _, _, output = vg.run({"type": "histogram", "x": "Year"}, schema=vg.bounded())
    bounds, counts = bars(output)
    years = vg.frame.Year.dropna().astype(int)
    assert bounds[0] == [years.min(), years.min()] and bounds[-1] == [years.max(), years.max()]
    assert counts == years.value_counts().reindex(range(years.min(), years.max() + 1), fill_value=0).tolist()
    trace = output["figure"]["data"][0]
    assert trace["hovertemplate"].startswith("%{customdata[0]:d}")  # 2013, not 2,013
    assert output["figure"]["layout"]["xaxis"]["tickformat"] == "d"


def test_music_ages_one_bar_per_age(tables):
    music = tables["music.csv"]
    _, _, output = music.run({"type": "histogram", "x": "age"})
    bounds, counts = bars(output)
    assert bounds == [[a, a] for a in range(20, 38)]
    assert counts == music.frame.age.value_counts().reindex(range(20, 38), fill_value=0).tolist()


def test_online_retail_quantity_on_round_edges_with_the_axis_at_the_data(tables):
    retail = tables["online-retail-20k.csv"]
    _, _, output = retail.run({"type": "histogram", "x": "Quantity"}, schema=retail.bounded())
    bounds, counts = bars(output)
    width = bounds[0][1] - bounds[0][0] + 1
    assert width == 500 and all(b[0] % 500 == 0 and b[1] - b[0] + 1 == 500 for b in bounds)
    quantity = retail.frame.Quantity
    assert bounds[0][0] <= quantity.min() < bounds[0][0] + width
    assert bounds[-1][0] <= quantity.max() <= bounds[-1][1]  # the last bar holds the maximum; nothing beyond
    edges = [b[0] for b in bounds] + [bounds[-1][1] + 1]
    assert counts == np.histogram(quantity, bins=edges)[0].tolist()
    assert "customdata[0]:,d" in output["figure"]["data"][0]["hovertemplate"]  # -9,500 to -9,001


def test_the_bar_count_is_an_upper_bound_the_person_sets(tables):
    price = tables["online-retail-20k.csv"]  # UnitPrice 0 .. 13,541.33
    _, _, output = price.run({"type": "histogram", "x": "UnitPrice", "bins": 100})
    bounds, counts = bars(output)
    assert len(counts) <= 100 and bounds[1][0] - bounds[0][0] == 200  # 13,541 / 100 → 200
    _, _, five = price.run({"type": "histogram", "x": "UnitPrice", "bins": 5})
    assert len(bars(five)[1]) <= 5


def _numeric_columns():
    for name in REAL_TABLES:
        con = duckdb.connect()
        reader = REAL_TABLES[name].format(path=FIXTURES / name)
        for column, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall():
            if kind in ("BIGINT", "DOUBLE"):
                yield name, column
        con.close()


@pytest.mark.parametrize("name,column", list(_numeric_columns()))
@pytest.mark.parametrize("bins", [None, 12])
def test_every_real_numeric_column_gets_honest_bins(tables, name, column, bins):
    """On every numeric column of every real table: counts add up to the rows, bins are
    of one round width, no more than asked, the first holds the minimum and the last the
    maximum; whole numbers with few values get one bar each; the same with the file's
    statistics as with a scan."""
    table = tables[name]
    values = table.frame[column].dropna()
    values = values[np.isfinite(values)]
    _, _, output = table.run({"type": "histogram", "x": column, "bins": bins})
    if values.nunique() <= 1:
        assert output["figure"]["data"] == [] and output["note"].startswith("One value only")
        return
    bounds, counts = bars(output)
    assert sum(counts) == len(values)
    whole = bool((values == values.round()).all())
    widths = {round(b[1] - b[0] + (1 if whole else 0), 9) for b in bounds}
    assert len(widths) == 1
    width = widths.pop()
    assert any(math.isclose(width, s) for s in NICE_STEPS)
    assert len(counts) <= (bins or (60 if whole and width == 1 else 30))
    assert bounds[0][0] <= values.min() and values.max() <= bounds[-1][1]
    assert values.max() >= bounds[-1][0]  # no empty bins past the data
    if whole and values.max() - values.min() + 1 <= (bins or 60):
        assert width == 1
    _, _, stats = table.run({"type": "histogram", "x": column, "bins": bins}, schema=table.bounded())
    assert bars(stats) == (bounds, counts)


def test_a_constant_column_gets_a_sentence_not_a_histogram(calendar_table, tables):
    _, _, output = calendar_table.run({"type": "histogram", "x": "seven"}, schema=calendar_table.bounded())
    assert output["figure"]["data"] == [] and output["note"] == "One value only: 7 (731 rows)"
    vg = tables["vgsales.csv"]
    _, _, year = vg.run({"type": "histogram", "x": "Year", "filters": [{"column": "Year", "op": "=", "value": 2013}]})
    assert year["note"] == f"One value only: 2013 ({(vg.frame.Year == 2013).sum():,} rows)"
    assert year["figure"]["layout"]["annotations"][0]["text"] == year["note"]


def test_continuous_values_on_round_edges_match_numpy(calendar_table):
    _, _, output = calendar_table.run({"type": "histogram", "x": "score"})
    bounds, counts = bars(output)
    assert bounds[0] == [0, 1] and bounds[-1] == [24, 25]  # 0 .. 24.975 in 25 bins of 1
    edges = [b[0] for b in bounds] + [bounds[-1][1]]
    assert counts == np.histogram(calendar_table.frame.score, bins=edges)[0].tolist()
    assert "to under" in output["figure"]["data"][0]["hovertemplate"]


def test_the_histogram_stays_one_aggregate_query(tables):
    retail = tables["online-retail-20k.csv"]
    spec = normalize_spec({"type": "histogram", "x": "Quantity"}, retail.bounded())
    sql, _ = widget_type("histogram").query(spec, retail.bounded(), retail.source)
    assert sql.count("read_parquet") == 1 and "min(v)" not in sql  # one pass: bounds from the statistics
    spec = normalize_spec({"type": "histogram", "x": "Quantity"}, retail.schema)
    sql, _ = widget_type("histogram").query(spec, retail.schema, retail.source)
    assert sql.count("read_parquet") == 1 and sql.startswith("WITH base AS NOT MATERIALIZED")


# --- top N --------------------------------------------------------------------------------


def test_a_top_n_bar_chart_says_what_it_leaves_out(tables):
    vg = tables["vgsales.csv"]
    platforms = vg.frame.Platform.nunique()
    _, result, output = vg.run({"type": "bar", "x": "Platform", "y": "Global_Sales", "agg": "sum", "limit": 15})
    assert len(result["rows"]) == 15 and result["rows"][0][2] == platforms
    assert output["note"] == (f"Top 15 of {platforms} categories; the other {platforms - 15} left out "
                              "(turn on \u201cOther\u201d to show them)")
    _, _, everything = vg.run({"type": "bar", "x": "Genre", "y": "Global_Sales", "agg": "sum", "limit": 20})
    assert everything["note"] is None


def test_other_adds_up_the_rest(tables):
    vg = tables["vgsales.csv"]
    _, _, output = vg.run({"type": "bar", "x": "Platform", "y": "Global_Sales", "agg": "sum", "limit": 15,
                           "other": True})
    trace = output["figure"]["data"][0]
    totals = vg.frame.groupby("Platform").Global_Sales.sum().sort_values(ascending=False)
    assert trace["x"][:15] == totals.index[:15].tolist() and trace["x"][15] == "Other"
    assert trace["y"][15] == pytest.approx(totals.iloc[15:].sum())
    assert trace["customdata"][15] == [] and trace["customdata"][0] == [totals.index[0]]
    assert output["note"].startswith("Top 15 of 31 categories; the other 16 as \u201cOther\u201d")
    # An average of the rest is not the rest of the averages: said, not drawn.
    _, _, mean = vg.run({"type": "bar", "x": "Platform", "y": "Global_Sales", "agg": "mean", "limit": 15,
                         "other": True})
    assert "Other" not in mean["figure"]["data"][0]["x"] and "needs a sum or a count" in mean["note"]


def test_other_in_a_stacked_bar_chart_per_group(tables):
    vg = tables["vgsales.csv"]
    _, _, output = vg.run({"type": "bar", "x": "Genre", "y": "Global_Sales", "agg": "sum", "group": "Platform", "stacking": "stacked", "limit": 5, "other": True})
    frame = vg.frame
    top_genres = frame.groupby("Genre").Global_Sales.sum().sort_values(ascending=False).index[:5]
    rest = frame[~frame.Genre.isin(top_genres)].groupby("Platform").Global_Sales.sum()
    for trace in output["figure"]["data"]:
        assert trace["x"][-1] == "Other"
        if trace["name"] in rest.index:
            assert trace["y"][-1] == pytest.approx(rest[trace["name"]])
    assert output["note"] == ("Top 5 of 12 categories; the other 7 as \u201cOther\u201d; "
                              "the top 12 of 31 values of Platform")


def test_pie_and_treemap_add_other_by_default(tables):
    vg = tables["vgsales.csv"]
    _, _, pie = vg.run({"type": "pie", "x": "Platform", "agg": "count", "limit": 10})
    trace = pie["figure"]["data"][0]
    assert trace["labels"][-1] == "Other" and sum(trace["values"]) == len(vg.frame)
    assert REGISTRY["bar"].fields[[f.name for f in REGISTRY["bar"].fields].index("other")].default is False
    _, _, tree = vg.run({"type": "treemap", "x": "Publisher", "agg": "count", "limit": 10})
    assert tree["figure"]["data"][0]["labels"][-1] == "Other" and sum(tree["figure"]["data"][0]["values"]) == len(vg.frame)


def test_a_time_series_says_it_shows_the_latest_periods(calendar_table):
    _, _, output = calendar_table.run({"type": "line", "x": "day", "agg": "count", "limit": 30})
    assert output["note"] == "The latest 30 of 731 periods"


# --- words, not codes -------------------------------------------------------------------------


def test_every_choice_is_offered_in_words():
    codes = {"v", "h", "-y", "y", "x", "-x", "count_distinct", "hour_of_day", "month_of_year"}
    for entry in editor_catalogue():
        for fld in entry["fields"]:
            if fld["kind"] in ("choice", "agg", "grain"):
                labels = {o["value"]: o["label"] for o in fld["options"]}
                assert set(labels) == set(fld["choices"])
                assert not codes & set(labels.values()), (entry["name"], fld["name"])
    bar = {f["name"]: {o["value"]: o["label"] for o in f.get("options") or []}
           for f in next(e for e in editor_catalogue() if e["name"] == "bar")["fields"]}
    assert bar["orientation"] == {"v": "Vertical bars", "h": "Horizontal bars"}
    assert bar["sort"] == {"-y": "Largest first", "y": "Smallest first", "x": "A to Z, oldest first",
                           "-x": "Z to A, newest first"}
    assert bar["agg"]["count_distinct"] == "Count distinct" and bar["agg"]["mean"] == "Average"
    assert bar["time_grain"]["month"] == "Month" and bar["time_grain"]["hour_of_day"] == "Hour of day"


def test_the_editor_reads_the_registrys_labels():
    from components.widget_editor import _choice_options

    orientation = next(f for f in REGISTRY["bar"].fields if f.name == "orientation")
    assert _choice_options(orientation) == [{"value": "v", "label": "Vertical bars"},
                                            {"value": "h", "label": "Horizontal bars"}]


# --- numbers --------------------------------------------------------------------------------


def test_years_and_codes_never_get_a_thousands_separator():
    assert column_d3_format([2013, 2014], name="Year") == "d"
    assert column_d3_format([17850, 12583], name="CustomerID") == "d"
    assert column_d3_format([536365], name="InvoiceNo") == "d"
    assert column_d3_format([12, 99], name="hours_per_week") == ",.0f"  # a measure named with "week"
    assert column_d3_format([2013], role="date_part", name="released") == "d"
    assert column_d3_format([2013], role="measure", name="Year") == ",.0f"  # the role decides
    assert format_number(2013, "d") == "2013" and format_number(12345, ",.0f") == "12,345"
    assert no_separator("order_year", None, [1999, 2024], True) and not no_separator("revenue", None, [2013], True)


def test_one_table_column_one_number_of_decimals(tables):
    assert column_d3_format([9952, 10086.02]) == ",.2f"
    assert [format_cell(v, ",.2f") for v in (9952, 10086.02)] == ["9,952.00", "10,086.02"]
    assert column_d3_format([0.0034, 0.12]) == ",.4f" and column_d3_format([2.5, 10]) == ",.1f"
    vg = tables["vgsales.csv"]
    _, _, output = vg.run({"type": "table", "columns": ["Rank", "Name", "Year", "Global_Sales", "JP_Sales"],
                           "sort": "-Global_Sales", "page_size": 50}, types={c["name"]: c["type"] for c in vg.schema})
    assert output["formats"] == [",.0f", None, "d", ",.2f", ",.2f"]
    cells = [format_cell(r[3], output["formats"][3]) for r in output["rows"]]
    assert cells[0] == "82.74" and all("." in c for c in cells)
    assert {format_cell(r[2], "d") for r in output["rows"]} <= {str(y) for y in range(1980, 2021)}
    # A role passed with the render wins over the name.
    _, _, ranked = vg.run({"type": "table", "columns": ["Rank"], "page_size": 5}, roles={"Rank": "identifier"})
    assert ranked["formats"] == ["d"]
    retail = tables["online-retail-20k.csv"]
    assert table_formats(["UnitPrice"], [[v] for v in retail.frame.UnitPrice.head(200)]) == [",.2f"]


def test_a_pivot_formats_its_values_as_one_column(tables):
    vg = tables["vgsales.csv"]
    _, _, output = vg.run({"type": "pivot", "rows": ["Year"], "values": "Global_Sales", "agg": "sum", "limit": 50})
    assert output["formats"] == ["d", ",.2f"]


def test_compact_numbers_for_a_card_on_a_phone():
    assert [compact_number(v) for v in (336776, 1234567, 999960, -2_500_000, 99_999, 2013)] == \
        ["336.8K", "1.2M", "1.0M", "-2.5M", "99,999", "2,013"]
    assert compact_number(1234567.5, "$,.2f") == "$1.2M" and compact_number(0.25, ".1%") == "25.0%"


# --- KPI ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def orders(con, tmp_path_factory) -> Data:
    """One order a day, 10 a day, from 1 Oct to 9 Dec 2024: December is partial."""
    path = tmp_path_factory.mktemp("orders") / "orders.parquet"
    con.execute(f"""COPY (SELECT d + INTERVAL 13 HOUR AS ts, CAST(10 + day(d) AS DOUBLE) AS amount
                    FROM range(DATE '2024-10-01', DATE '2024-12-10', INTERVAL 1 DAY) t(d)) TO '{path}' (FORMAT parquet)""")
    return Data(con, path)


def test_month_over_month_on_a_partial_month_compares_the_same_days(orders):
    _, _, output = orders.run({"type": "kpi", "y": "amount", "agg": "sum", "x": "ts", "time_grain": "month",
                               "compare_previous": True})
    frame = orders.frame
    december = frame[frame.ts >= "2024-12-01"].amount.sum()
    november_1_9 = frame[(frame.ts >= "2024-11-01") & (frame.ts < "2024-11-10")].amount.sum()
    assert output["value"] == december and output["previous"] == november_1_9  # not all of November
    assert output["comparison"] == "1–9 Dec 2024 vs 1–9 Nov 2024"
    assert output["delta_pct"] == round((december - november_1_9) / november_1_9 * 100, 2) == 0.0
    # Counting rows too; an average of part of a month compares with the whole one, said to be partial.
    _, _, count = orders.run({"type": "kpi", "agg": "count", "x": "ts", "compare_previous": True})
    assert (count["value"], count["previous"]) == (9, 9)
    _, _, mean = orders.run({"type": "kpi", "y": "amount", "agg": "mean", "x": "ts", "compare_previous": True})
    assert mean["previous"] == pytest.approx(frame[(frame.ts >= "2024-11-01") & (frame.ts < "2024-12-01")].amount.mean())
    assert mean["comparison"] == "2024-12 vs previous month (partial month: 1–9 Dec 2024)"


def test_a_whole_last_month_compares_with_the_whole_month_before(orders):
    spec = {"type": "kpi", "y": "amount", "agg": "sum", "x": "ts", "compare_previous": True,
            "filters": [{"column": "ts", "op": "<", "value": "2024-12-01"}]}
    _, _, output = orders.run(spec)
    frame = orders.frame
    assert output["value"] == frame[(frame.ts >= "2024-11-01") & (frame.ts < "2024-12-01")].amount.sum()
    assert output["previous"] == frame[(frame.ts >= "2024-10-01") & (frame.ts < "2024-11-01")].amount.sum()
    assert output["comparison"] == "2024-11 vs previous month"


def test_a_long_kpi_value_has_a_compact_text_and_the_full_one(orders):
    _, _, output = orders.run({"type": "kpi", "y": "amount", "agg": "sum", "filters": []})
    total = orders.frame.amount.sum()
    assert output["value"] == total and output["value_text"] == f"{total:,.0f}"
    big = widget_type("kpi").render({"columns": ["is_total", "b", "y", "total"], "rows": [[1, None, 336776, None]]},
                                    normalize_spec({"type": "kpi", "agg": "count"}, orders.schema))
    assert (big["value_compact"], big["value_text"]) == ("336.8K", "336,776")


def test_partial_weeks_quarters_and_years_too(orders):
    for grain, comparison in (("quarter", "1 Oct – 9 Dec 2024 vs 1 Jul – 9 Sep 2024"),
                              ("year", "1 Jan – 9 Dec 2024 vs 1 Jan – 9 Dec 2023"),
                              ("week", "9 Dec 2024 vs 2 Dec 2024")):
        _, _, output = orders.run({"type": "kpi", "y": "amount", "agg": "sum", "x": "ts", "time_grain": grain,
                                   "compare_previous": True})
        assert output["comparison"] == comparison, grain
    frame = orders.frame
    _, _, week = orders.run({"type": "kpi", "y": "amount", "agg": "sum", "x": "ts", "time_grain": "week",
                             "compare_previous": True})
    assert week["previous"] == frame[frame.ts.dt.date == dt.date(2024, 12, 2)].amount.sum()


def test_scatter_over_a_column_that_never_changes_draws_without_a_trend_line(calendar_table):
    _, _, output = calendar_table.run({"type": "scatter", "x": "seven", "y": "score", "trendline": True})
    assert [t["mode"] for t in output["figure"]["data"]] == ["markers"]
    assert output["note"] == "No trend line: seven has one value only (7)"
    _, _, fitted = calendar_table.run({"type": "scatter", "x": "month", "y": "score", "trendline": True})
    assert fitted["figure"]["data"][-1]["name"] == "Trend" and fitted["note"] is None


def test_the_latest_year_in_a_kpi_reads_2013(tables):
    vg = tables["vgsales.csv"]
    _, _, output = vg.run({"type": "kpi", "y": "Year", "agg": "max"})
    assert (output["format"], output["value_text"], format_number(output["value"], output["format"])) == \
        ("d", "2020", "2020")
    _, _, sales = vg.run({"type": "kpi", "y": "Global_Sales", "agg": "max"})
    assert sales["format"] == "" and sales["value_text"] == "82.74"


def test_a_box_plot_says_how_many_boxes_it_leaves_out(tables):
    vg = tables["vgsales.csv"]
    _, _, output = vg.run({"type": "box", "y": "Global_Sales", "x": "Platform", "limit": 10})
    assert len(output["figure"]["data"]) == 10
    assert output["note"] == f"Top 10 of {vg.frame.Platform.nunique()} boxes; the other 21 left out"
