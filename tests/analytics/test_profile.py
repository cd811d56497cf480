"""The profile's numbers against pandas (and scipy for Cramér's V) on real and generated
data: counts, missing, distinct, extremes, moments, quantiles, skewness, kurtosis and
correlations agree to 1e-9 relative; top values exactly."""
from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.stats.contingency import association

from analytics.profile import compute_profile
from analytics.profiling import correlations as corr_module
from analytics.profiling.compute import jsonable

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
REL = 1e-9


def close(ours, theirs, rel=REL, abs_tol=1e-12):
    if theirs is None or (isinstance(theirs, float) and math.isnan(theirs)):
        return ours is None
    return ours is not None and math.isclose(float(ours), float(theirs), rel_tol=rel, abs_tol=abs_tol)


def profile_parquet(path: Path) -> dict:
    con = duckdb.connect()
    try:
        return compute_profile(con, f"read_parquet('{path}')")
    finally:
        con.close()


def profile_frame(frame: pd.DataFrame, tmp_path: Path) -> dict:
    path = tmp_path / "frame.parquet"
    frame.to_parquet(path, index=False)
    return profile_parquet(path)


def by_name(profile: dict) -> dict:
    return {c["name"]: c for c in profile["columns"]}


def check_numeric(col: dict, series: pd.Series) -> None:
    finite = series.astype("float64").replace([np.inf, -np.inf], np.nan)
    assert col["count"] == series.count()
    assert col["missing"] == series.isna().sum()
    assert col["distinct"] == series.nunique()
    assert col["infinite"] == int(np.isinf(series.astype("float64")).sum())
    assert col["zeros"] == int((series == 0).sum())
    assert col["negatives"] == int((series < 0).sum())
    for ours, theirs in [("min", finite.min()), ("max", finite.max()), ("mean", finite.mean()),
                         ("std", finite.std()), ("median", finite.median()), ("q05", finite.quantile(0.05)),
                         ("q25", finite.quantile(0.25)), ("q75", finite.quantile(0.75)),
                         ("q95", finite.quantile(0.95)), ("skewness", finite.skew()), ("kurtosis", finite.kurt()),
                         ("sum", finite.sum() if finite.count() else None)]:
        assert close(col[ours], theirs), (col["name"], ours, col[ours], theirs)
    if finite.count():
        assert sum(col["histogram"]["counts"]) == finite.count()
        assert close(col["iqr"], finite.quantile(0.75) - finite.quantile(0.25))


def check_top_values(col: dict, series: pd.Series) -> None:
    counts = series.dropna().value_counts()
    ours = [(t["value"], t["count"]) for t in col["top_values"]]
    assert [c for _, c in ours] == list(counts.head(10).values)
    for value, count in ours:
        key = {"inf": np.inf, "-inf": -np.inf}.get(value, value) if col["kind"] == "numeric" else value
        if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(series):
            key = pd.Timestamp(value)
        assert counts[key] == count, (col["name"], value)


def check_text(col: dict, series: pd.Series) -> None:
    assert col["count"] == series.count()
    assert col["missing"] == series.isna().sum()
    assert col["distinct"] == series.nunique()
    check_top_values(col, series)
    lengths = series.dropna().str.len()
    if len(lengths):
        assert (col["length_min"], col["length_max"]) == (lengths.min(), lengths.max())
        assert close(col["length_mean"], lengths.mean())
    assert col["empty"] == int((series == "").sum())


def check_correlations(profile: dict, frame: pd.DataFrame) -> None:
    block = profile["correlations"]["pearson"]
    if not block:
        return
    numbers = frame[block["columns"]].astype("float64").replace([np.inf, -np.inf], np.nan)
    for method in ("pearson", "spearman"):
        ours = profile["correlations"][method]
        assert ours["columns"] == block["columns"]
        theirs = numbers.corr(method=method)
        for i, a in enumerate(ours["columns"]):
            for j, b in enumerate(ours["columns"]):
                assert close(ours["matrix"][i][j], theirs.loc[a, b], abs_tol=1e-12), (method, a, b)


def check_frame(profile: dict, frame: pd.DataFrame) -> None:
    cols = by_name(profile)
    assert profile["table"]["rows"] == len(frame)
    assert profile["table"]["columns"] == frame.shape[1]
    assert profile["table"]["missing_cells"] == int(frame.isna().sum().sum())
    assert profile["table"]["duplicate_rows"] == int(frame.duplicated().sum())
    for name in frame.columns:
        series, col = frame[name], cols[name]
        if col["kind"] == "numeric":
            check_numeric(col, series)
            check_top_values(col, series)
        elif col["kind"] == "text":
            check_text(col, series)
        elif col["kind"] == "temporal":
            assert col["count"] == series.count() and col["distinct"] == series.nunique()
            if series.count():
                assert pd.Timestamp(col["min"]) == series.min() and pd.Timestamp(col["max"]) == series.max()
    check_correlations(profile, frame)


def test_vgsales_matches_pandas(tmp_path):
    frame = pd.read_csv(FIXTURES / "vgsales.csv", na_values=["N/A"])
    profile = profile_frame(frame, tmp_path)
    check_frame(profile, frame)
    cols = by_name(profile)
    assert cols["Year"]["type"] == "float" and cols["Year"]["missing"] == 271
    assert cols["Rank"]["semantic"] == ["id"] and "unique" in cols["Rank"]["alerts"]
    assert "skewed" in cols["Global_Sales"]["alerts"] and "zeros" in cols["JP_Sales"]["alerts"]


def test_mall_customers_matches_pandas(tmp_path):
    frame = pd.read_csv(FIXTURES / "shopping_data.csv")
    profile = profile_frame(frame, tmp_path)
    check_frame(profile, frame)
    cols = by_name(profile)
    assert cols["Genre"]["top_values"] == [{"value": "Female", "count": 112, "share": 0.56},
                                           {"value": "Male", "count": 88, "share": 0.44}]
    assert cols["Genre"]["histogram"] is None and cols["Genre"]["mean"] is None  # not applicable: null


def test_online_retail_sample_matches_pandas(tmp_path):
    frame = pd.read_csv(FIXTURES / "online-retail-20k.csv", parse_dates=["InvoiceDate"])
    profile = profile_frame(frame, tmp_path)
    check_frame(profile, frame)
    cols = by_name(profile)
    assert cols["InvoiceDate"]["has_time"] and sum(cols["InvoiceDate"]["hour_counts"]) == 20000
    weekdays = frame["InvoiceDate"].dt.day_of_week.value_counts()
    assert list(cols["InvoiceDate"]["weekday_counts"].values()) == [int(weekdays.get(d, 0)) for d in range(7)]
    assert cols["Country"]["semantic"] == ["country_name"]


def test_generated_data_with_nan_inf_empty_strings_and_all_null(tmp_path):
    rng = np.random.default_rng(7)
    n = 5000
    floats = rng.normal(1000.0, 3.0, n)  # a large mean next to the spread: moments must not lose digits
    floats[rng.choice(n, 200, replace=False)] = np.nan
    floats[:3] = [np.inf, -np.inf, np.inf]
    nulls = rng.random(n) < 0.05
    ints = rng.integers(-20, 300, n)
    text = rng.choice(["alpha", "beta", "", "gamma", "delta", " "], n, p=[0.4, 0.2, 0.1, 0.15, 0.1, 0.05])
    text_mask = rng.random(n) < 0.1
    when = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 86400 * 900, n), unit="s")
    table = pa.table({
        "x": pa.array(floats, mask=nulls),                     # NaN and NULL both missing; infinities counted apart
        "y": pa.array(floats * 2.5 + rng.normal(0, 1, n)),
        "i": pa.array(ints),
        "t": pa.array(text.tolist(), mask=text_mask),
        "d": pa.array(when.to_numpy()),
        "none": pa.nulls(n, pa.float64()),
        "none_text": pa.nulls(n, pa.string()),
        "constant": pa.array([7] * n),
        "b": pa.array((rng.random(n) < 0.9).tolist()),
        "code": pa.array(rng.choice([1, 2, 3], n)),
    })
    path = tmp_path / "generated.parquet"
    pq.write_table(table, path)
    raw = table.column("x").to_numpy(zero_copy_only=False)
    assert np.isnan(raw).sum() == 200 + nulls.sum() - (nulls & np.isnan(floats)).sum()  # NaN kept as NaN in the file
    profile = profile_parquet(path)
    frame = table.to_pandas()
    check_frame(profile, frame)
    cols = by_name(profile)
    assert cols["x"]["infinite"] == 3 and cols["x"]["finite_count"] == frame["x"].count() - 3
    assert cols["x"]["top_values"][0] == {"value": "inf", "count": 2, "share": 2 / cols["x"]["count"]}
    assert cols["none"]["count"] == 0 and cols["none"]["mean"] is None and cols["none"]["alerts"] == ["all_missing"]
    assert cols["none_text"]["alerts"] == ["all_missing"]
    assert "constant" in cols["constant"]["alerts"] and cols["constant"]["skewness"] is None
    assert "infinite" in cols["x"]["alerts"] and "empty_strings" in cols["t"]["alerts"]
    assert "negatives" in cols["i"]["alerts"] and "imbalance" in cols["b"]["alerts"]
    assert cols["code"]["semantic"] == ["categorical_code"]
    assert (cols["b"]["true_count"], cols["b"]["false_count"]) == (int(frame["b"].sum()), int((~frame["b"]).sum()))
    high = [a for a in profile["alerts"] if a["type"] == "high_correlation"]
    assert any(set(a["columns"]) == {"x", "y"} for a in high)
    # Which columns are missing together: the patterns add up to the rows.
    patterns = profile["missing"]["patterns"]
    assert sum(p["count"] for p in patterns) == n
    gappy = [c for c in frame.columns if 0 < frame[c].isna().sum() < n]
    assert gappy == ["x", "y", "t"] and profile["missing"]["nullity_correlation"]["columns"] == gappy
    theirs = frame[gappy].isna().value_counts()
    assert len(patterns) == len(theirs)
    for pattern in patterns:
        assert theirs[tuple(c in pattern["missing"] for c in gappy)] == pattern["count"]
    nullity = frame[gappy].isna().astype(float).corr()
    for i, a in enumerate(gappy):
        for j, b in enumerate(gappy):
            assert close(profile["missing"]["nullity_correlation"]["matrix"][i][j], nullity.loc[a, b]), (a, b)


def test_cramers_v_matches_scipy(tmp_path):
    frame = pd.read_csv(FIXTURES / "vgsales.csv", na_values=["N/A"])
    profile = profile_frame(frame, tmp_path)
    block = profile["correlations"]["cramers_v"]
    assert block["columns"] == ["Platform", "Genre"]  # the text columns of at most 50 categories
    table = pd.crosstab(frame["Platform"], frame["Genre"])
    assert close(block["matrix"][0][1], association(table.values, method="cramer", correction=False))


def test_sampled_correlations_say_so(tmp_path, monkeypatch):
    monkeypatch.setattr(corr_module, "SAMPLE_ROWS", 1000)
    rng = np.random.default_rng(1)
    x = rng.normal(size=5000)
    frame = pd.DataFrame({"x": x, "y": x * 2 + rng.normal(size=5000), "c": rng.choice(["a", "b"], 5000)})
    profile = profile_frame(frame, tmp_path)
    assert profile["correlations"]["spearman"]["sampled"] is True
    drawn = profile["correlations"]["spearman"]["rows_used"]
    assert 850 <= drawn <= 1150  # each row kept with probability 1000/5000; the size drawn is stated
    assert profile["correlations"]["pearson"]["sampled"] is False
    assert close(profile["correlations"]["pearson"]["matrix"][0][1], frame.corr(numeric_only=True).loc["x", "y"])
    assert profile["estimates"][0] == {"what": "Spearman and Cramér's V correlations", "method": "random sample of rows",
                                       "sample_rows": drawn, "rows": 5000}


def test_online_retail_alerts(tmp_path):
    """The whole Online Retail file as the app ships it (541,909 rows)."""
    source = SAMPLES / "online-retail.csv.gz"
    if not source.exists():
        pytest.skip("data/samples/online-retail.csv.gz is not there")
    con = duckdb.connect()
    path = tmp_path / "retail.parquet"
    con.execute(f"COPY (SELECT * FROM read_csv('{source}', types={{'InvoiceNo': 'VARCHAR', 'StockCode': 'VARCHAR'}})) "
                f"TO '{path}' (FORMAT parquet)")
    profile = compute_profile(con, f"read_parquet('{path}')", now=dt.datetime(2026, 1, 1))
    alerts = {(a["type"], a["column"]): a for a in profile["alerts"]}
    missing = alerts[("missing", "CustomerID")]
    assert "135,080" in missing["message"] and "24.9 %" in missing["message"]
    assert ("negatives", "Quantity") in alerts and ("negatives", "UnitPrice") in alerts
    assert ("high_cardinality", "InvoiceNo") in alerts
    assert ("duplicates", None) in alerts and profile["table"]["duplicate_rows"] == 5268
    cols = by_name(profile)
    assert cols["InvoiceNo"]["distinct"] == 25900 and cols["Quantity"]["negatives"] == 10624


def test_jsonable_infinities():
    assert (jsonable(float("inf")), jsonable(float("-inf")), jsonable(float("nan"))) == ("inf", "-inf", None)


def test_semantic_hints(tmp_path):
    frame = pd.DataFrame({
        "email": [f"person{i}@example.org" for i in range(40)],
        "site": [f"https://example.org/page/{i}" for i in range(40)],
        "cc": ["FR", "DE", "GB", "US"] * 10,
        "customer_id": list(range(1000, 1040)),
        "amount": [float(i % 7) + 0.5 for i in range(40)],
    })
    cols = by_name(profile_frame(frame, tmp_path))
    assert cols["email"]["semantic"] == ["email"] and cols["site"]["semantic"] == ["url"]
    assert cols["cc"]["semantic"] == ["country_code"] and cols["customer_id"]["semantic"] == ["id"]
    assert cols["amount"]["semantic"] == []


def test_empty_relation(tmp_path):
    path = tmp_path / "empty.parquet"
    pq.write_table(pa.table({"a": pa.array([], pa.int64()), "b": pa.array([], pa.string())}), path)
    profile = profile_parquet(path)
    assert profile["table"]["rows"] == 0 and profile["alerts"] == []
    assert [(c["count"], c["distinct"], c["mean"]) for c in profile["columns"]] == [(0, 0, None), (0, 0, None)]


def test_very_varied_columns_of_large_tables_are_estimated_and_say_so(tmp_path, monkeypatch):
    """Above DISTINCT_EXACT_ROWS a column with about as many distinct values as rows keeps
    the HyperLogLog estimate; its quantiles and histogram are still exact (by a sort)."""
    import analytics.profiling.compute as compute_module

    monkeypatch.setattr(compute_module, "DISTINCT_EXACT_ROWS", 1000)
    monkeypatch.setattr(compute_module, "DISTINCT_EXACT_LIMIT", 500)
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(50, 10, 4000), "k": rng.integers(0, 5, 4000),
                          "t": pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 10**8, 4000), unit="s")})
    profile = profile_frame(frame, tmp_path)
    cols = by_name(profile)
    assert cols["x"]["distinct_estimated"] and abs(cols["x"]["distinct"] - 4000) < 200
    assert not cols["k"]["distinct_estimated"] and cols["k"]["distinct"] == 5
    for q, key in ((0.05, "q05"), (0.5, "median"), (0.95, "q95")):
        assert close(cols["x"][key], frame["x"].quantile(q))
    # Its moments come from a scan of their own (no value counts to weigh).
    for key, theirs in (("mean", frame["x"].mean()), ("std", frame["x"].std()), ("skewness", frame["x"].skew()),
                        ("kurtosis", frame["x"].kurt())):
        assert close(cols["x"][key], theirs), key
    assert sum(cols["x"]["histogram"]["counts"]) == 4000 and sum(cols["t"]["histogram"]["counts"]) == 4000
    assert sum(cols["t"]["weekday_counts"].values()) == 4000
    assert "distinct values of x" in {e["what"] for e in profile["estimates"]}
    assert cols["x"]["top_values"][0]["count"] == 1  # on all rows here: below the sample size
