"""Every widget type's query against the same aggregation done in pandas on real data
(vgsales, mall customers) and on generated transactions; identifier injection and bad
specs refused with a message naming the problem; outputs small, JSON-able and clickable."""
from __future__ import annotations

import json
import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from analytics.widgets import REGISTRY, click_filter, drill_down, editor_catalogue, widget_type
from analytics.widgets.spec import apply_dashboard_filters, normalize_spec, spec_columns
from errors import InvalidSpec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TYPES = {"BIGINT": "integer", "INTEGER": "integer", "DOUBLE": "float", "VARCHAR": "text", "TIMESTAMP": "timestamp",
         "DATE": "date", "BOOLEAN": "boolean"}


class Data:
    """A Parquet file, its schema in the app's types, and the same rows in pandas."""

    def __init__(self, con, path: Path, categorical=()):
        self.con = con
        self.source = f"read_parquet('{path}')"
        described = con.execute(f"DESCRIBE SELECT * FROM {self.source}").fetchall()
        self.schema = [{"name": n, "type": "categorical" if n in categorical else TYPES[t]} for n, t, *_ in described]
        self.frame = con.execute(f"SELECT * FROM {self.source}").df()

    def run(self, spec: dict, extra=None, schema: list[dict] | None = None, **context):
        """normalized spec, query result and output; ``schema`` instead of the file's (with
        bounds, say), ``context`` passed with the result to render (types, roles)."""
        schema = schema or self.schema
        normalized = normalize_spec(spec, schema)
        if extra:
            normalized = apply_dashboard_filters(normalized, schema, extra)
        wt = widget_type(normalized["type"])
        built = wt.query(normalized, schema, self.source)
        result = None
        if built is not None:
            sql, params = built
            cursor = self.con.execute(sql, params)
            result = {"columns": [d[0] for d in cursor.description], "rows": [list(r) for r in cursor.fetchall()],
                      "truncated": False}
        output = wt.render({**result, **context} if result is not None else result, normalized)
        json.dumps(output, allow_nan=False)  # plain JSON, no numpy, no NaN
        return normalized, result, output

    def bounded(self) -> list[dict]:
        """The schema with the exact min/max of its numeric columns, as the query engine
        reads them from the Parquet file's statistics."""
        out = []
        for c in self.schema:
            if c["type"] in ("integer", "float") and self.frame[c["name"]].notna().any():
                cast = int if c["type"] == "integer" else float
                c = dict(c, min=cast(self.frame[c["name"]].min()), max=cast(self.frame[c["name"]].max()))
            out.append(c)
        return out


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def vg(con, tmp_path_factory):
    path = tmp_path_factory.mktemp("vg") / "vgsales.parquet"
    con.execute(f"COPY (SELECT * FROM read_csv('{FIXTURES / 'vgsales.csv'}', nullstr='N/A')) TO '{path}' (FORMAT parquet)")
    return Data(con, path, categorical=("Platform", "Genre"))


@pytest.fixture(scope="module")
def mall(con, tmp_path_factory):
    path = tmp_path_factory.mktemp("mall") / "mall.parquet"
    con.execute(f"COPY (SELECT * FROM read_csv('{FIXTURES / 'shopping_data.csv'}')) TO '{path}' (FORMAT parquet)")
    return Data(con, path)


@pytest.fixture(scope="module")
def sales(con, tmp_path_factory):
    """Generated transactions: 20,000 rows over 2023-2024, countries, products, customers."""
    path = tmp_path_factory.mktemp("sales") / "sales.parquet"
    con.execute(f"""COPY (SELECT i AS id,
        TIMESTAMP '2023-01-01' + to_seconds(CAST(hash(i) % (730 * 86400) AS BIGINT)) AS ts,
        CAST(TIMESTAMP '2023-01-01' + to_seconds(CAST(hash(i) % (730 * 86400) AS BIGINT)) AS DATE) AS day,
        (['United Kingdom', 'France', 'Germany', 'EIRE', 'Spain', 'Netherlands'])[1 + CAST(hash(i, 1) % 6 AS INT)] AS country,
        'P' || CAST(hash(i, 2) % 40 AS VARCHAR) AS product,
        CAST(hash(i, 3) % 300 AS BIGINT) AS customer,
        'INV' || CAST(i // 3 AS VARCHAR) AS invoice,
        1 + CAST(hash(i, 4) % 12 AS BIGINT) AS qty,
        round(0.5 + (hash(i, 5) % 2000) / 100.0, 2) AS price,
        (hash(i, 6) % 10) = 0 AS returned
      FROM range(20000) t(i)) TO '{path}' (FORMAT parquet)""")
    return Data(con, path)


def as_map(rows):
    return {r[0]: r[1] for r in rows}


# --- each type against pandas --------------------------------------------------------------


def test_bar_sum_by_genre_with_filter_matches_pandas(vg):
    spec = {"type": "bar", "x": "Genre", "y": "Global_Sales", "agg": "sum", "group": None, "time_grain": None,
            "filters": [{"column": "Platform", "op": "in", "value": ["PS2", "Wii"]}], "sort": "-y", "limit": 10}
    _, result, output = vg.run(spec)
    df = vg.frame[vg.frame.Platform.isin(["PS2", "Wii"])]
    expected = df.groupby("Genre").Global_Sales.sum().sort_values(ascending=False).head(10)
    assert [r[0] for r in result["rows"]] == list(expected.index)
    assert np.allclose([r[1] for r in result["rows"]], expected.values)
    trace = output["figure"]["data"][0]
    assert trace["type"] == "bar" and trace["x"] == list(expected.index)
    assert trace["customdata"][0] == [expected.index[0]]
    assert output["figure"]["layout"]["clickmode"] == "event+select"


def test_stacked_bar_by_group_matches_pandas(vg):
    _, result, output = vg.run({"type": "bar", "x": "Genre", "y": "Global_Sales", "agg": "sum", "group": "Platform",
                                "stacking": "stacked", "limit": 5})
    top = vg.frame.groupby("Genre").Global_Sales.sum().sort_values(ascending=False).head(5).index
    top_platforms = vg.frame.groupby("Platform").Global_Sales.sum()
    platforms = set(top_platforms[top_platforms.index.isin(
        vg.frame[vg.frame.Genre.isin(top)].Platform.unique())].index)
    cells = vg.frame[vg.frame.Genre.isin(top)].groupby(["Genre", "Platform"]).Global_Sales.sum()
    got = {(x, g): y for x, g, y, *_ in result["rows"]}
    assert {x for x, _ in got} == set(top)
    assert {g for _, g in got} <= platforms and len({g for _, g in got}) == 12
    for key, value in got.items():
        assert math.isclose(value, cells[key], rel_tol=1e-9)
    assert output["figure"]["layout"]["barmode"] == "stack" and len(output["figure"]["data"]) == 12


def test_line_count_by_year_and_area_mean_match_pandas(vg):
    _, result, output = vg.run({"type": "line", "x": "Year", "agg": "count"})
    expected = vg.frame.groupby("Year", dropna=False).size()
    rows = [r for r in result["rows"] if r[0] is not None]
    assert [r[0] for r in rows] == sorted(int(y) for y in expected.index if not pd.isna(y))
    assert all(r[1] == expected[r[0]] for r in rows)
    assert output["figure"]["data"][0]["type"] == "scatter"
    _, result, output = vg.run({"type": "area", "x": "Year", "y": "NA_Sales", "agg": "mean"})
    expected = vg.frame.groupby("Year").NA_Sales.mean()
    assert all(math.isclose(r[1], expected[r[0]]) for r in result["rows"] if r[0] is not None)
    assert output["figure"]["data"][0]["fill"] == "tozeroy"


@pytest.mark.parametrize("agg,pandas_fn", [
    ("sum", lambda s: s.sum()), ("mean", lambda s: s.mean()), ("median", lambda s: s.median()),
    ("min", lambda s: s.min()), ("max", lambda s: s.max()), ("count", lambda s: s.count()),
    ("count_distinct", lambda s: s.nunique()), ("percentile", lambda s: s.quantile(0.9)),
])
def test_kpi_aggregations_match_pandas(mall, agg, pandas_fn):
    column = "Annual Income (k$)"
    _, _, output = mall.run({"type": "kpi", "y": column, "agg": agg})
    assert output["kind"] == "kpi"
    assert math.isclose(output["value"], float(pandas_fn(mall.frame[column])), rel_tol=1e-9)


def test_count_needs_no_y_and_sum_needs_one(mall):
    _, _, output = mall.run({"type": "kpi", "agg": "count"})
    assert output["value"] == 200 and output["label"] == "Rows"
    with pytest.raises(InvalidSpec, match="needs a value column"):
        mall.run({"type": "kpi", "agg": "sum"})
    with pytest.raises(InvalidSpec, match="needs a column of numbers"):
        mall.run({"type": "bar", "x": "Genre", "y": "Genre", "agg": "sum"})


def test_kpi_compares_the_last_period_with_the_one_before(sales):
    _, _, output = sales.run({"type": "kpi", "y": "qty", "agg": "sum", "x": "ts", "time_grain": "month",
                              "compare_previous": True, "sparkline": True})
    monthly = sales.frame.groupby(sales.frame.ts.dt.to_period("M")).qty.sum()
    assert output["value"] == monthly.iloc[-1] and output["previous"] == monthly.iloc[-2]
    assert output["delta_pct"] == round((monthly.iloc[-1] - monthly.iloc[-2]) / monthly.iloc[-2] * 100, 2)
    # The data ends on 30 December: a partial month, compared with the same days of November
    # (all 30 of them, so the previous value is all of November here).
    assert sales.frame.ts.max().day == 30
    assert output["label"].endswith("1–30 Dec 2024 vs 1–30 Nov 2024")
    spark = output["sparkline"]["data"][0]
    assert spark["y"] == monthly.tolist() and len(spark["x"]) == 24


def test_computed_measure_and_per_distinct(sales):
    revenue = {"expr": "mul", "columns": ["qty", "price"]}
    _, _, output = sales.run({"type": "kpi", "y": revenue, "agg": "sum"})
    frame = sales.frame
    assert math.isclose(output["value"], (frame.qty * frame.price).sum(), rel_tol=1e-9)
    _, _, output = sales.run({"type": "kpi", "y": revenue, "agg": "sum", "per": "invoice"})
    assert math.isclose(output["value"], (frame.qty * frame.price).sum() / frame.invoice.nunique(), rel_tol=1e-9)
    with pytest.raises(InvalidSpec, match="numeric columns"):
        sales.run({"type": "kpi", "y": {"expr": "mul", "columns": ["qty", "country"]}, "agg": "sum"})
    with pytest.raises(InvalidSpec, match="Unknown expression"):
        sales.run({"type": "kpi", "y": {"expr": "pow", "columns": ["qty", "price"]}, "agg": "sum"})


@pytest.mark.parametrize("grain,key", [
    ("month", lambda ts: ts.dt.to_period("M").dt.start_time),
    ("week", lambda ts: ts.dt.to_period("W-SUN").dt.start_time),
    ("quarter", lambda ts: ts.dt.to_period("Q").dt.start_time),
    ("weekday", lambda ts: ts.dt.day_of_week + 1),
    ("hour_of_day", lambda ts: ts.dt.hour),
    ("month_of_year", lambda ts: ts.dt.month),
])
def test_time_grains_match_pandas(sales, grain, key):
    _, result, _ = sales.run({"type": "bar", "x": "ts", "time_grain": grain, "agg": "count", "limit": 500})
    expected = sales.frame.groupby(key(sales.frame.ts)).size()
    got = {(pd.Timestamp(r[0]) if grain in ("month", "week", "quarter") else r[0]): r[1] for r in result["rows"]}
    assert got == expected.to_dict()
    assert [r[0] for r in result["rows"]] == sorted(r[0] for r in result["rows"])  # time reads in order


def test_pie_top_slices(vg):
    _, result, output = vg.run({"type": "pie", "x": "Platform", "agg": "count", "limit": 5, "donut": True})
    expected = vg.frame.Platform.value_counts().head(5)
    assert as_map(result["rows"]) == expected.to_dict()
    assert output["figure"]["data"][0]["hole"] == 0.5


def test_scatter_samples_to_the_cap_and_fits_on_all_rows(vg):
    _, result, output = vg.run({"type": "scatter", "x": "NA_Sales", "y": "EU_Sales", "limit": 500,
                                "trendline": True})
    assert len(result["rows"]) == 500
    # A uniform sample, not the rows that happen to share one hash (many games sold 0 / 0).
    assert len({(r[0], r[1]) for r in result["rows"]}) > 200
    slope, intercept = np.polyfit(vg.frame.NA_Sales, vg.frame.EU_Sales, 1)
    row = dict(zip(result["columns"], result["rows"][0]))
    assert row["n"] == len(vg.frame)
    assert math.isclose(row["slope"], slope, rel_tol=1e-6) and math.isclose(row["intercept"], intercept, rel_tol=1e-6)
    assert "Sample of 500 of 16,598 points" in output["figure"]["layout"]["annotations"][0]["text"]
    again = vg.run({"type": "scatter", "x": "NA_Sales", "y": "EU_Sales", "limit": 500})[1]
    # The same points every time (the fit's last digits may vary with parallel summing).
    assert [r[:2] for r in again["rows"]] == [r[:2] for r in result["rows"]]


def test_histogram_counts_match_numpy_on_its_own_round_edges(mall):
    column = "Spending Score (1-100)"  # 1..99: more values than bars asked for, so round bins
    _, result, output = mall.run({"type": "histogram", "x": column, "bins": 10})
    trace = output["figure"]["data"][0]
    assert trace["customdata"][0] == [0, 9] and trace["customdata"][-1] == [90, 99]  # whole widths of 10
    edges = [b[0] for b in trace["customdata"]] + [trace["customdata"][-1][1] + 1]
    counts, _ = np.histogram(mall.frame[column], bins=edges)
    assert trace["y"] == counts.tolist() and sum(trace["y"]) == len(mall.frame)
    assert click_filter(normalize_spec({"type": "histogram", "x": column, "bins": 10}, mall.schema),
                        {"customdata": trace["customdata"][2]}) == {"column": column, "op": "between", "value": [20, 29]}


def test_box_quartiles_and_whiskers_match_pandas(vg):
    _, result, output = vg.run({"type": "box", "y": "Global_Sales", "x": "Genre", "limit": 3})
    for x, q1, med, q3, mean, n, lo, hi, *_ in result["rows"]:
        values = vg.frame[vg.frame.Genre == x].Global_Sales
        p25, p75 = values.quantile(0.25), values.quantile(0.75)
        iqr = p75 - p25
        assert math.isclose(q1, p25) and math.isclose(med, values.median()) and math.isclose(q3, p75)
        assert n == len(values) and math.isclose(mean, values.mean())
        assert lo == values[values >= p25 - 1.5 * iqr].min() and hi == values[values <= p75 + 1.5 * iqr].max()
    assert [r[0] for r in result["rows"]] == vg.frame.Genre.value_counts().head(3).index.tolist()
    assert len(output["figure"]["data"]) == 3


def test_heatmap_matches_pandas(sales):
    _, result, output = sales.run({"type": "heatmap", "x": "ts", "time_grain": "hour_of_day", "group": "ts",
                                   "group_grain": "weekday", "y": {"expr": "mul", "columns": ["qty", "price"]},
                                   "agg": "sum"})
    frame = sales.frame.assign(revenue=sales.frame.qty * sales.frame.price)
    expected = frame.groupby([frame.ts.dt.hour, frame.ts.dt.day_of_week + 1]).revenue.sum()
    got = {(x, g): y for x, g, y, *_ in result["rows"]}
    assert len(got) == len(expected) == 24 * 7
    assert all(math.isclose(got[k], v, rel_tol=1e-9) for k, v in expected.items())
    trace = output["figure"]["data"][0]
    assert trace["x"][:2] == ["00:00", "01:00"] and trace["y"][:2] == ["Mon", "Tue"]
    assert math.isclose(trace["z"][0][0], expected[(0, 1)], rel_tol=1e-9)


def test_table_pages_sorts_and_counts(vg):
    spec = {"type": "table", "columns": ["Name", "Platform", "Global_Sales"], "sort": "-Global_Sales",
            "page": 1, "page_size": 5, "filters": [{"column": "Genre", "op": "=", "value": "Racing"}]}
    _, _, output = vg.run(spec)
    racing = vg.frame[vg.frame.Genre == "Racing"].sort_values("Global_Sales", ascending=False, kind="stable")
    assert output["kind"] == "table" and output["total"] == len(racing)
    assert [r[2] for r in output["rows"]] == racing.Global_Sales.iloc[5:10].tolist()
    assert (output["page"], output["page_size"], output["columns"]) == (1, 5, ["Name", "Platform", "Global_Sales"])
    _, _, empty = vg.run({**spec, "page": 10_000})
    assert empty["rows"] == [] and empty["total"] == len(racing)
    _, _, everything = vg.run({"type": "table"})
    assert everything["columns"] == [c["name"] for c in vg.schema] and everything["total"] == len(vg.frame)


def test_pivot_matches_pandas_pivot_table(vg):
    _, _, output = vg.run({"type": "pivot", "rows": ["Genre"], "columns": "Platform", "values": "Global_Sales",
                           "agg": "sum"})
    expected = vg.frame.pivot_table(index="Genre", columns="Platform", values="Global_Sales", aggfunc="sum")
    assert output["kind"] == "table" and output["total"] == 12
    header = output["columns"]
    assert header[0] == "Genre" and len(header) == 1 + 30
    top_platforms = vg.frame.groupby("Platform").Global_Sales.sum().sort_values(ascending=False).index[:30]
    assert set(header[1:]) == set(top_platforms)
    for row in output["rows"]:
        for platform, value in zip(header[1:], row[1:]):
            want = expected.loc[row[0], platform]
            assert (value is None and pd.isna(want)) or math.isclose(value, want, rel_tol=1e-9)


def test_map_by_country_names(sales):
    _, result, output = sales.run({"type": "map", "x": "country", "agg": "count"})
    assert as_map(result["rows"]) == sales.frame.country.value_counts().to_dict()
    trace = output["figure"]["data"][0]
    assert trace["type"] == "choropleth" and "Ireland" in trace["locations"] and "EIRE" not in trace["locations"]
    assert ["EIRE"] in trace["customdata"]  # a click filters on the value as stored


def test_map_by_two_letter_codes(con, tmp_path):
    path = tmp_path / "codes.parquet"
    con.execute(f"""COPY (SELECT * FROM (VALUES ('GB', 5), ('gb', 1), ('FR', 3), ('UK', 2), ('DE', 4), ('ZZ', 9))
                  t(code, n)) TO '{path}' (FORMAT parquet)""")
    _, result, output = Data(con, path).run({"type": "map", "x": "code", "y": "n", "agg": "sum",
                                             "location_mode": "ISO-2"})
    trace = output["figure"]["data"][0]
    assert trace["locationmode"] == "ISO-3"
    # GB, gb and UK are one country written three ways; ZZ is none: left off, not misplaced.
    assert sorted(zip(trace["locations"], trace["z"])) == [("DEU", 4), ("FRA", 3), ("GBR", 1), ("GBR", 2), ("GBR", 5)]
    assert ["gb"] in trace["customdata"] and ["UK"] in trace["customdata"]  # clicks filter on the stored value


def test_funnel_sankey_treemap_match_pandas(sales, vg):
    _, result, output = sales.run({"type": "funnel", "x": "country", "agg": "count", "limit": 3})
    assert as_map(result["rows"]) == sales.frame.country.value_counts().head(3).to_dict()
    assert output["figure"]["data"][0]["type"] == "funnel"
    _, result, output = vg.run({"type": "sankey", "x": "Platform", "group": "Genre", "y": "Global_Sales",
                                "agg": "sum", "limit": 5})
    expected = vg.frame.groupby(["Platform", "Genre"]).Global_Sales.sum().sort_values(ascending=False).head(5)
    assert [(r[0], r[1]) for r in result["rows"]] == list(expected.index)
    assert output["figure"]["data"][0]["link"]["value"] == pytest.approx(expected.tolist())
    _, result, output = vg.run({"type": "treemap", "x": "Genre", "y": "Global_Sales", "agg": "sum", "limit": 4})
    expected = vg.frame.groupby("Genre").Global_Sales.sum().sort_values(ascending=False).head(4)
    assert [r[0] for r in result["rows"]] == list(expected.index)
    rest = vg.frame.Global_Sales.sum() - expected.sum()  # "Other" is on by default for a treemap
    assert output["figure"]["data"][0]["values"] == pytest.approx(expected.tolist() + [rest])
    assert output["figure"]["data"][0]["labels"][-1] == "Other" and output["figure"]["data"][0]["customdata"][-1] == []


def test_markdown_has_no_query(vg):
    _, result, output = vg.run({"type": "markdown", "text": "# Notes\nSales are in millions."})
    assert result is None and output == {"kind": "markdown", "text": "# Notes\nSales are in millions."}


# --- filters -----------------------------------------------------------------------------


@pytest.mark.parametrize("flt,mask", [
    ({"column": "Platform", "op": "=", "value": "Wii"}, lambda f: f.Platform == "Wii"),
    ({"column": "Platform", "op": "!=", "value": "Wii"}, lambda f: f.Platform != "Wii"),
    ({"column": "Platform", "op": "not in", "value": ["Wii", "DS"]}, lambda f: ~f.Platform.isin(["Wii", "DS"])),
    ({"column": "Year", "op": "<", "value": 2000}, lambda f: f.Year < 2000),
    ({"column": "Year", "op": "<=", "value": "2000"}, lambda f: f.Year <= 2000),
    ({"column": "Global_Sales", "op": ">", "value": 1.5}, lambda f: f.Global_Sales > 1.5),
    ({"column": "Global_Sales", "op": ">=", "value": 1.5}, lambda f: f.Global_Sales >= 1.5),
    ({"column": "Year", "op": "between", "value": [1995, 1999]}, lambda f: f.Year.between(1995, 1999)),
    ({"column": "Year", "op": "is null"}, lambda f: f.Year.isna()),
    ({"column": "Publisher", "op": "is not null"}, lambda f: f.Publisher.notna()),
    ({"column": "Name", "op": "contains", "value": "mario"}, lambda f: f.Name.str.contains("mario", case=False)),
    ({"column": "Name", "op": "contains", "value": "100%"}, lambda f: f.Name.str.contains("100%", regex=False)),
])
def test_every_filter_operator_matches_pandas(vg, flt, mask):
    _, _, output = vg.run({"type": "kpi", "agg": "count", "filters": [flt]})
    assert output["value"] == int(mask(vg.frame).fillna(False).sum())


def test_dashboard_filters_apply_only_where_the_column_exists(sales, vg):
    filters = [{"id": "d", "column": "ts", "kind": "date_range", "value": ["2024-03-01", "2024-03-31"]},
               {"id": "c", "column": "country", "kind": "multi_select", "value": ["France", "Spain"]},
               {"id": "q", "column": "qty", "kind": "numeric_range", "value": [3, None]},
               {"id": "off", "column": "country", "kind": "multi_select", "value": []}]
    _, _, output = sales.run({"type": "kpi", "agg": "count"}, extra=filters)
    f = sales.frame
    mask = (f.ts >= "2024-03-01") & (f.ts < "2024-04-01") & f.country.isin(["France", "Spain"]) & (f.qty >= 3)
    assert output["value"] == int(mask.sum())
    spec = normalize_spec({"type": "kpi", "agg": "count"}, vg.schema)
    assert apply_dashboard_filters(spec, vg.schema, filters) == spec  # vgsales has none of these columns


def test_filter_values_are_checked_against_the_column_type(vg):
    with pytest.raises(InvalidSpec, match="needs a number"):
        vg.run({"type": "kpi", "agg": "count", "filters": [{"column": "Year", "op": "=", "value": "1' OR '1'='1"}]})
    with pytest.raises(InvalidSpec, match="non-empty list"):
        vg.run({"type": "kpi", "agg": "count", "filters": [{"column": "Platform", "op": "in", "value": "Wii"}]})
    _, _, output = vg.run({"type": "kpi", "agg": "count",
                           "filters": [{"column": "Platform", "op": "=", "value": "Wii' OR '1'='1"}]})
    assert output["value"] == 0  # a value is bound, so it is only ever compared


# --- injection and bad specs -----------------------------------------------------------------


EVIL = 'x"); DROP TABLE t; --'


@pytest.mark.parametrize("spec,message", [
    ({"type": "bar", "x": EVIL, "agg": "count"}, "There is no column 'x\"); DROP TABLE t; --'"),
    ({"type": "bar", "x": "Genre", "y": EVIL, "agg": "sum"}, "There is no column"),
    ({"type": "bar", "x": "Genre", "agg": "count", "filters": [{"column": EVIL, "op": "=", "value": 1}]},
     "There is no column"),
    ({"type": "bar", "x": "Nope", "agg": "count"}, "There is no column 'Nope'"),
    ({"type": "bar", "x": "Genre", "y": "Global_Sales", "agg": "sum); DROP TABLE t; --"}, "Unknown aggregation"),
    ({"type": "bar", "x": "Genre", "y": "Global_Sales", "agg": "stddev"}, "Unknown aggregation 'stddev'"),
    ({"type": "bar", "x": "Genre", "agg": "count", "filters": [{"column": "Genre", "op": "= 1; --", "value": 1}]},
     "Unknown filter operator"),
    ({"type": "bar", "x": "Year", "agg": "count", "time_grain": "month'); --"}, "Unknown time grain"),
    ({"type": "bar; DROP", "x": "Genre"}, "Unknown widget type"),
    ({"type": "bar", "x": "Genre", "agg": "count", "sql": "SELECT 1"}, "Unknown spec field 'sql'"),
    ({"type": "bar", "x": "Genre", "agg": "count", "limit": "10; --"}, "must be a number"),
    ({"type": "bar", "x": "Genre", "agg": "count", "sort": "Genre; --"}, "must be one of"),
    ({"type": "table", "sort": EVIL}, "There is no column"),
    ({"type": "line", "x": "Genre", "time_grain": "month", "agg": "count"}, "needs a date or timestamp column"),
    ({"type": "scatter", "x": "Genre", "y": "Global_Sales"}, "needs a column of numbers"),
    ({"type": "bar", "x": "Genre", "agg": "count", "version": 2}, "Unknown spec version"),
])
def test_injection_and_bad_specs_are_refused_clearly(vg, spec, message):
    with pytest.raises(InvalidSpec) as info:
        normalize_spec(spec, vg.schema)
    assert message in info.value.message


def test_a_real_column_with_a_hostile_name_is_quoted_not_executed(con, tmp_path):
    path = tmp_path / "evil.parquet"
    con.execute(f"""COPY (SELECT 'a' AS "{EVIL.replace('"', '""')}", 2 AS "v""al" UNION ALL SELECT 'b', 3
                    UNION ALL SELECT 'a', 5) TO '{path}' (FORMAT parquet)""")
    data = Data(con, path)
    _, result, _ = data.run({"type": "bar", "x": EVIL, "y": 'v"al', "agg": "sum", "sort": "x",
                             "filters": [{"column": EVIL, "op": "!=", "value": "zzz"}]})
    assert [r[:2] for r in result["rows"]] == [["a", 7], ["b", 3]]


# --- registry, clicks, drill-down ---------------------------------------------------------------


def test_registry_lists_every_type_with_its_editor_fields():
    assert set(REGISTRY) == {"kpi", "bar", "line", "area", "pie", "scatter", "histogram", "box", "heatmap", "table",
                             "pivot", "map", "funnel", "sankey", "treemap", "markdown", "analysis"}
    catalogue = json.loads(json.dumps(editor_catalogue()))
    bar = next(t for t in catalogue if t["name"] == "bar")
    assert bar["icon"] == "bar-chart" and bar["label"] == "Bar chart"
    x = next(f for f in bar["fields"] if f["name"] == "x")
    assert x["kind"] == "column" and x["required"] and "categorical" in x["types"]
    kinds = {f["kind"] for t in catalogue for f in t["fields"]}
    assert kinds <= {"column", "columns", "agg", "grain", "number", "text", "choice", "bool", "filters", "object"}
    with pytest.raises(InvalidSpec, match="Unknown widget type 'nope'"):
        widget_type("nope")


def test_click_filters_and_drill_down(vg, sales):
    spec = normalize_spec({"type": "bar", "x": "Genre", "y": "Global_Sales", "agg": "sum"}, vg.schema)
    assert click_filter(spec, {"x": "Sports", "customdata": ["Sports"]}) == \
        {"column": "Genre", "op": "=", "value": "Sports"}
    assert click_filter(spec, {"customdata": [None]}) == {"column": "Genre", "op": "is null", "value": None}
    assert click_filter(spec, {"x": "Sports"}) is None
    monthly = normalize_spec({"type": "line", "x": "ts", "time_grain": "month", "agg": "count"}, sales.schema)
    _, _, output = sales.run(monthly)
    point = {"customdata": output["figure"]["data"][0]["customdata"][2]}
    flt = click_filter(monthly, point)
    assert flt == {"column": "ts", "op": "=", "value": "2023-03-01T00:00:00", "grain": "month"}
    finer = drill_down(monthly)
    assert finer["time_grain"] == "week" and monthly["time_grain"] == "month"
    _, _, march = sales.run({"type": "kpi", "agg": "count", "filters": [flt]})
    assert march["value"] == int(((sales.frame.ts >= "2023-03-01") & (sales.frame.ts < "2023-04-01")).sum())
    assert drill_down({**monthly, "time_grain": "hour"}) is None
    assert drill_down(normalize_spec({"type": "bar", "x": "Genre", "agg": "count"}, vg.schema)) is None


def test_spec_columns_names_everything_a_spec_reads(sales):
    spec = normalize_spec({"type": "bar", "x": "country", "y": {"expr": "mul", "columns": ["qty", "price"]},
                           "agg": "sum", "per": "invoice", "filters": [{"column": "returned", "op": "=",
                                                                        "value": False}]}, sales.schema)
    assert spec_columns(spec) == {"country", "qty", "price", "invoice", "returned"}


def test_normalisation_is_stable_and_fills_defaults(vg):
    spec = normalize_spec({"type": "bar", "x": "Genre", "agg": "count"}, vg.schema)
    assert spec["version"] == 1 and spec["limit"] == 20 and spec["sort"] == "-y" and spec["stacking"] == "grouped"
    assert normalize_spec(spec, vg.schema) == spec


def test_payloads_stay_small_whatever_the_rows(sales):
    for spec in ({"type": "line", "x": "ts", "time_grain": "day", "agg": "count"},
                 {"type": "scatter", "x": "qty", "y": "price", "limit": 2000},
                 {"type": "table", "page_size": 100},
                 {"type": "heatmap", "x": "product", "group": "country", "agg": "count"}):
        _, _, output = sales.run(spec)
        assert len(json.dumps(output)) < 100_000, spec["type"]


ONE_OF_EACH = [
    {"type": "kpi", "y": "Global_Sales", "agg": "percentile", "percentile": 75},
    {"type": "bar", "x": "Genre", "y": "Global_Sales", "agg": "sum", "group": "Platform", "orientation": "h"},
    {"type": "line", "x": "Year", "agg": "count", "group": "Genre"},
    {"type": "area", "x": "Year", "y": "NA_Sales", "agg": "median"},
    {"type": "pie", "x": "Platform", "agg": "count"},
    {"type": "scatter", "x": "NA_Sales", "y": "EU_Sales", "group": "Genre", "size": "Global_Sales"},
    {"type": "histogram", "x": "Global_Sales"},
    {"type": "box", "y": "Global_Sales"},
    {"type": "heatmap", "x": "Genre", "group": "Platform", "agg": "count"},
    {"type": "table", "columns": ["Name"], "sort": "-Name"},
    {"type": "pivot", "rows": ["Genre", "Platform"], "agg": "count"},
    {"type": "map", "x": "Publisher", "y": "Global_Sales", "agg": "max"},
    {"type": "funnel", "x": "Genre", "agg": "count_distinct", "y": "Publisher"},
    {"type": "sankey", "x": "Platform", "group": "Genre", "agg": "count"},
    {"type": "treemap", "x": "Genre", "group": "Platform", "y": "Global_Sales", "agg": "min"},
    {"type": "markdown", "text": "*hi*"},
]


@pytest.mark.parametrize("spec", ONE_OF_EACH, ids=[s["type"] for s in ONE_OF_EACH])
def test_every_type_normalises_idempotently_and_renders(vg, spec):
    once = normalize_spec(spec, vg.schema)
    assert normalize_spec(once, vg.schema) == once  # what a dashboard stores validates again unchanged
    _, _, output = vg.run(spec)
    assert output["kind"] in ("figure", "kpi", "table", "markdown")
    if output["kind"] == "figure":
        assert output["figure"]["layout"]["template"]["layout"]["colorway"][0] == "#0d6efd"
    assert len(json.dumps(output)) < 100_000


@pytest.mark.parametrize("agg", ["sum", "mean", "count"])
def test_kpi_total_with_a_sparkline_counts_rows_without_a_date(con, tmp_path, agg):
    path = tmp_path / "gaps.parquet"
    con.execute(f"""COPY (SELECT CASE WHEN i % 10 = 0 THEN NULL ELSE DATE '2024-01-01' + CAST(i AS INTEGER) END AS d,
                    CAST(i AS DOUBLE) AS v FROM range(100) t(i)) TO '{path}' (FORMAT parquet)""")
    data = Data(con, path)
    _, _, output = data.run({"type": "kpi", "y": "v", "agg": agg, "x": "d", "time_grain": "month", "sparkline": True})
    expected = {"sum": data.frame.v.sum(), "mean": data.frame.v.mean(), "count": len(data.frame)}[agg]
    assert output["value"] == pytest.approx(expected)
    monthly = data.frame.dropna().groupby(pd.to_datetime(data.frame.d.dropna()).dt.to_period("M")).v
    assert output["sparkline"]["data"][0]["y"] == pytest.approx(
        {"sum": monthly.sum(), "mean": monthly.mean(), "count": monthly.count()}[agg].tolist())


@pytest.mark.parametrize("spec", ONE_OF_EACH, ids=[s["type"] for s in ONE_OF_EACH])
def test_every_type_renders_when_the_filters_leave_no_rows(vg, spec):
    nothing = [{"column": "Global_Sales", "op": "<", "value": -1}]
    _, result, output = vg.run({**spec, "filters": nothing} if spec["type"] != "markdown" else spec)
    assert output["kind"] in ("figure", "kpi", "table", "markdown")
    if output["kind"] == "table":
        assert output["rows"] == [] and output["total"] == 0
    if output["kind"] == "kpi" and spec["agg"] != "count":
        assert output["value"] is None


@pytest.mark.parametrize("agg", ["sum", "count", "min", "max", "mean", "median"])
@pytest.mark.parametrize("grain,period", [("month", "M"), ("quarter", "Q"), ("year", "Y")])
def test_coarse_grains_grouped_by_day_first_match_pandas(sales, agg, grain, period):
    """sum/count/min/max group by day and then by month; the rest group directly: both
    must give pandas' answer, with and without a second dimension, and in the KPI."""
    revenue = {"expr": "mul", "columns": ["qty", "price"]}
    spec = {"type": "bar", "x": "ts", "time_grain": grain, "y": revenue, "agg": agg, "limit": 100}
    frame = sales.frame.assign(revenue=sales.frame.qty * sales.frame.price,
                               bucket=sales.frame.ts.dt.to_period(period).dt.start_time)
    how = {"count": "count"}.get(agg, agg)
    expected = getattr(frame.groupby("bucket").revenue, how)()
    _, result, _ = sales.run(spec)
    assert {pd.Timestamp(r[0]): r[1] for r in result["rows"]} == pytest.approx(expected.to_dict())
    _, result, _ = sales.run({**spec, "group": "country", "stacking": "stacked"})
    by_country = getattr(frame.groupby(["bucket", "country"]).revenue, how)()
    assert {(pd.Timestamp(x), g): y for x, g, y, *_ in result["rows"]} == pytest.approx(by_country.to_dict())
    _, _, kpi = sales.run({"type": "kpi", "y": revenue, "agg": agg, "x": "ts", "time_grain": grain,
                           "compare_previous": True, "sparkline": True})
    # The data ends on 30 Dec 2024: the last period is partial, so the one before is taken
    # over the same days (1 Jan - 30 Dec 2023 for a year; all of November for a month).
    last = frame.ts.max().normalize()
    back = pd.DateOffset(months={"month": 1, "quarter": 3, "year": 12}[grain])
    days = frame.ts.dt.normalize()
    same = frame[(days >= expected.index[-1] - back) & (days <= last - back)].revenue
    # An average or a median of part of a period compares with the whole period before.
    previous = getattr(same, how)() if agg in ("sum", "count", "min", "max") else expected.iloc[-2]
    assert kpi["value"] == pytest.approx(expected.iloc[-1]) and kpi["previous"] == pytest.approx(previous)
    assert kpi["sparkline"]["data"][0]["y"] == pytest.approx(expected.tolist())


def test_whole_table_distinct_counts_use_a_bitmap_when_bounds_are_known(con, tmp_path):
    path = tmp_path / "ids.parquet"
    con.execute(f"""COPY (SELECT CASE WHEN i % 7 = 0 THEN NULL ELSE 1000 + (i * 37) % 5000 END AS id,
                    i % 3 AS grp, 10000000000 + i AS big FROM range(20000) t(i)) TO '{path}' (FORMAT parquet)""")
    data = Data(con, path)
    bounded = [dict(c, min=1000, max=5999) if c["name"] == "id" else
               dict(c, min=10000000000, max=10000000000 + 19999 + 10 ** 9) if c["name"] == "big" else c
               for c in data.schema]
    for flt in ([], [{"column": "grp", "op": "=", "value": 1}], [{"column": "grp", "op": "=", "value": 9}]):
        spec = normalize_spec({"type": "kpi", "y": "id", "agg": "count_distinct", "filters": flt}, bounded)
        sql, params = widget_type("kpi").query(spec, bounded, data.source)
        assert "bitstring_agg" in sql
        expected = data.frame[data.frame.grp == flt[0]["value"]].id.nunique() if flt else data.frame.id.nunique()
        assert con.execute(sql, params).fetchall()[0][2] == expected
    # A range too wide for a bitmap, a grouped query, or no bounds: the plain distinct count.
    for spec, schema in (({"type": "kpi", "y": "big", "agg": "count_distinct"}, bounded),
                         ({"type": "bar", "x": "grp", "y": "id", "agg": "count_distinct"}, bounded),
                         ({"type": "kpi", "y": "id", "agg": "count_distinct"}, data.schema)):
        sql, params = widget_type(spec["type"]).query(normalize_spec(spec, schema), schema, data.source)
        assert "bitstring_agg" not in sql and "count(DISTINCT" in sql
    spec = normalize_spec({"type": "kpi", "y": "id", "agg": "count", "per": "id"}, bounded)
    sql, params = widget_type("kpi").query(spec, bounded, data.source)
    assert "bitstring_agg" in sql
    assert con.execute(sql, params).fetchall()[0][2] == pytest.approx(data.frame.id.count() / data.frame.id.nunique())


def test_histogram_bounds_from_statistics_give_the_same_bins_in_one_pass(mall):
    column = "Annual Income (k$)"
    values = mall.frame[column]
    bounded = [dict(c, min=int(values.min()), max=int(values.max())) if c["name"] == column else c
               for c in mall.schema]
    spec = normalize_spec({"type": "histogram", "x": column, "bins": 12}, bounded)
    sql, params = widget_type("histogram").query(spec, bounded, mall.source)
    assert "min(v)" not in sql
    cursor = mall.con.execute(sql, params)
    output = widget_type("histogram").render({"columns": [d[0] for d in cursor.description],
                                              "rows": [list(r) for r in cursor.fetchall()]}, spec)
    _, _, scanned = mall.run({"type": "histogram", "x": column, "bins": 12})
    assert output["figure"]["data"][0]["y"] == scanned["figure"]["data"][0]["y"]
    assert output["figure"]["data"][0]["customdata"] == scanned["figure"]["data"][0]["customdata"]
    # 15..137 in at most 12 bars: widths of 20 from 0 (10 would need 13 bars).
    assert [b[0] for b in output["figure"]["data"][0]["customdata"]] == [0, 20, 40, 60, 80, 100, 120]
    counts, _ = np.histogram(values, bins=[0, 20, 40, 60, 80, 100, 120, 140])
    assert output["figure"]["data"][0]["y"] == counts.tolist()
    filtered = normalize_spec({"type": "histogram", "x": column, "bins": 12,
                               "filters": [{"column": "Genre", "op": "=", "value": "Male"}]}, bounded)
    assert "min(v)" in widget_type("histogram").query(filtered, bounded, mall.source)[0]  # filtered: its own bounds


def test_time_series_keep_their_latest_periods_within_the_limit(sales):
    _, result, _ = sales.run({"type": "line", "x": "ts", "time_grain": "day", "agg": "count", "limit": 30})
    days = sorted(sales.frame.ts.dt.normalize().unique())[-30:]
    assert [pd.Timestamp(r[0]) for r in result["rows"]] == list(days)
    _, result, _ = sales.run({"type": "line", "x": "ts", "time_grain": "day", "agg": "count", "limit": 30,
                              "group": "country"})
    assert sorted({pd.Timestamp(r[0]) for r in result["rows"]}) == list(days)
    assert [r[0] for r in result["rows"]] == sorted(r[0] for r in result["rows"])
    # Grouped: categories x groups stay under the row cap whatever the limit asks.
    _, result, _ = sales.run({"type": "line", "x": "ts", "time_grain": "hour", "agg": "count", "limit": 5000,
                              "group": "country"})
    assert len(result["rows"]) <= 10_000 and len({r[0] for r in result["rows"]}) == 10_000 // 12
