"""Statistics and correlation: grouped descriptive statistics and pivots equal pandas,
tests equal scipy.stats and say which test and assumptions, correlation matrices equal
pandas/scipy, and bad inputs get their messages."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from errors import AnalysisError, InvalidSpec
from tests.analytics.conftest import FIXTURES

INCOME, SCORE = "Annual Income (k$)", "Spending Score (1-100)"


@pytest.fixture
def frame():
    return pd.read_csv(FIXTURES / "shopping_data.csv")


def run(storage, owner, dataset, kind="stats", **params):
    return storage.analyses.run(owner, kind, dict(params, dataset_id=dataset.id))


def test_describe_grouped_equals_pandas(storage, owner, mall, frame):
    result = run(storage, owner, mall, columns=[INCOME, "Genre"], group_by=["Genre"])
    numeric = {r["group"]["Genre"]: r for r in result["rows"] if r["column"] == INCOME}
    expected = frame.groupby("Genre")[INCOME]
    for genre, row in numeric.items():
        assert row["count"] == expected.count()[genre]
        assert row["mean"] == pytest.approx(expected.mean()[genre])
        assert row["std"] == pytest.approx(expected.std()[genre])
        assert row["median"] == pytest.approx(expected.median()[genre])
        assert row["q1"] == pytest.approx(expected.quantile(0.25)[genre])
    categorical = [r for r in result["rows"] if r["column"] == "Genre"]
    assert {r["group"]["Genre"]: r["distinct_values"] for r in categorical} == {"Female": 1, "Male": 1}


def test_describe_by_two_columns(storage, owner, make_dataset):
    data = pd.DataFrame({"a": list("xxyy") * 5, "b": list("pqpq") * 5, "v": range(20)})
    result = run(storage, owner, make_dataset(data, "two"), columns=["v"], group_by=["a", "b"])
    assert result["groups"] == 4
    got = {(r["group"]["a"], r["group"]["b"]): r["mean"] for r in result["rows"]}
    assert got == data.groupby(["a", "b"])["v"].mean().to_dict()


def test_pivot_equals_pandas(storage, owner, mall, frame):
    frame["band"] = np.where(frame.Age < 40, "young", "older")
    result = run(storage, owner, mall, analysis="pivot", rows="Genre", columns=None, values=SCORE, agg="mean")
    assert result["column_labels"] == ["mean"]
    means = dict(zip(result["row_labels"], (line[0] for line in result["cells"])))
    assert means == pytest.approx(frame.groupby("Genre")[SCORE].mean().to_dict())
    counts = run(storage, owner, mall, analysis="pivot", rows="Genre", columns="Age", agg="count")
    expected = frame.pivot_table(index="Genre", columns="Age", values="CustomerID", aggfunc="count")
    for r, label in enumerate(counts["row_labels"]):
        for c, age in enumerate(counts["column_labels"]):
            want = expected.loc[label, int(age)]
            assert counts["cells"][r][c] == (None if np.isnan(want) else want)


def test_welch_t_test_equals_scipy_and_states_assumptions(storage, owner, mall, frame):
    result = run(storage, owner, mall, analysis="test", column=SCORE, group="Genre")
    female, male = frame[frame.Genre == "Female"][SCORE], frame[frame.Genre == "Male"][SCORE]
    expected = st.ttest_ind(female, male, equal_var=False)
    assert result["test"] == "Welch's t-test (two-sided)"
    assert result["statistic"] == pytest.approx(expected.statistic) and result["p"] == pytest.approx(expected.pvalue)
    assert any("Equal variances are NOT assumed" in a for a in result["assumptions"])
    assert result["conclusion"].startswith("p = ")


def test_anova_equals_scipy(storage, owner, make_dataset):
    rng = np.random.default_rng(0)
    data = pd.DataFrame({"g": np.repeat(["a", "b", "c"], 40), "v": np.concatenate(
        [rng.normal(0, 1, 40), rng.normal(0.5, 1, 40), rng.normal(1, 1, 40)])})
    result = run(storage, owner, make_dataset(data, "anova"), analysis="test", column="v", group="g")
    expected = st.f_oneway(*(data[data.g == g].v for g in "abc"))
    assert result["test"] == "One-way ANOVA (F test)"
    assert result["statistic"] == pytest.approx(expected.statistic) and result["p"] == pytest.approx(expected.pvalue)
    assert result["alternative"]["test"] == "Kruskal-Wallis H" and result["welch"]["p"] is not None


def test_chi_square_equals_scipy(storage, owner, make_dataset):
    rng = np.random.default_rng(1)
    data = pd.DataFrame({"plan": rng.choice(["free", "pro"], 300), "region": rng.choice(["north", "south", "east"], 300)})
    result = run(storage, owner, make_dataset(data, "chi"), analysis="test", column="plan", group="region")
    expected = st.chi2_contingency(pd.crosstab(data.plan, data.region).to_numpy(), correction=False)
    assert result["test"] == "Pearson's chi-square test of independence"
    assert result["statistic"] == pytest.approx(expected.statistic) and result["df"] == expected.dof
    assert "met" in result["assumptions"][1]


@pytest.mark.parametrize("method", ["pearson", "spearman", "kendall"])
def test_correlation_matrix_equals_pandas_and_scipy(storage, owner, mall, frame, method):
    result = run(storage, owner, mall, "correlation", columns=["Age", INCOME, SCORE], method=method)
    expected = frame[["Age", INCOME, SCORE]].corr(method=method).to_numpy()
    assert np.allclose(np.array(result["matrix"], dtype=float), expected)
    fn = {"pearson": st.pearsonr, "spearman": st.spearmanr, "kendall": st.kendalltau}[method]
    assert result["p_values"][0][2] == pytest.approx(fn(frame.Age, frame[SCORE]).pvalue)
    top = result["pairs"][0]
    assert {top["a"], top["b"]} == {"Age", SCORE} and top["n"] == 200
    assert len(result["scatter"]["points"]["Age"]) == 200


@pytest.mark.parametrize("params,error,message", [
    ({"analysis": "test", "column": SCORE, "group": SCORE}, InvalidSpec, "different from the column tested"),
    ({"analysis": "test", "column": SCORE, "group": "CustomerID"}, InvalidSpec, "has 200 distinct values"),
    ({"analysis": "test", "column": SCORE}, InvalidSpec, "the field 'group' is required"),
    ({"analysis": "pivot"}, InvalidSpec, "the field 'rows' is required"),
    ({"analysis": "pivot", "rows": "Genre", "agg": "sum"}, InvalidSpec, "the field 'values' is required"),
    ({"analysis": "pivot", "rows": "Genre", "agg": "sum", "values": "Genre"}, InvalidSpec, "it must be integer"),
    ({"analysis": "describe", "group_by": ["Genre", "Age", "CustomerID"]}, InvalidSpec, "at most 2"),
    ({"analysis": "magic"}, InvalidSpec, "'analysis' must be one of describe, pivot, test"),
])
def test_bad_stats_inputs(storage, owner, mall, params, error, message):
    with pytest.raises(error) as caught:
        run(storage, owner, mall, **params)
    assert message in caught.value.message


def test_a_test_needs_two_groups_with_values(storage, owner, make_dataset):
    data = pd.DataFrame({"g": ["a"] * 10, "v": range(10)})
    with pytest.raises(AnalysisError, match="fewer than two groups"):
        run(storage, owner, make_dataset(data, "one"), analysis="test", column="v", group="g")


def test_correlation_needs_two_varying_columns(storage, owner, make_dataset):
    data = pd.DataFrame({"a": [1.0] * 10, "b": range(10)})
    with pytest.raises(AnalysisError, match="None of the chosen columns vary together"):
        run(storage, owner, make_dataset(data, "flat"), "correlation", columns=["a", "b"])
    with pytest.raises(AnalysisError, match="at least two numeric columns"):
        run(storage, owner, make_dataset(data, "flat2"), "correlation", columns=["b"])


def test_describe_lists_the_largest_groups_and_says_how_many(storage, owner, mall, monkeypatch):
    from analytics import stats

    monkeypatch.setattr(stats, "MAX_GROUPS", 5)
    result = run(storage, owner, mall, columns=["Age", "Genre"], group_by=["Age"])
    ages = [r for r in result["rows"] if r["column"] == "Age"]
    assert result["groups"] == 51 and result["truncated"] is True and len(ages) == 5
    assert [r["rows"] for r in ages] == sorted((r["rows"] for r in ages), reverse=True)
    assert [r["column"] for r in result["rows"]] == ["Age"] * 5 + ["Genre"] * 5


def test_pivot_keeps_missing_labels_and_cuts_to_the_largest(storage, owner, make_dataset, monkeypatch):
    from analytics import stats

    monkeypatch.setattr(stats, "PIVOT_MAX_COLUMNS", 2)
    data = pd.DataFrame({"shop": ["a", "a", None, None, None, "b"], "day": ["x", "y", "x", "x", "z", "y"],
                         "sales": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    result = run(storage, owner, make_dataset(data, "pivot"), analysis="pivot", rows="shop", columns="day",
                 values="sales", agg="sum")
    assert result["row_labels"] == [None, "a", "b"] and result["column_labels"] == ["x", "y"]
    assert result["cells"] == [[7.0, None], [1.0, 2.0], [None, 6.0]]
    assert result["truncated"] == {"rows": False, "columns": True} and result["total"] == 21.0


def test_chi_square_refuses_a_column_with_too_many_values(storage, owner, make_dataset):
    data = pd.DataFrame({"code": [f"c{i}" for i in range(120)], "plan": ["free", "pro"] * 60})
    with pytest.raises(InvalidSpec, match="at most 50 values per column; 'code' has 120 and 'plan' has 2"):
        run(storage, owner, make_dataset(data, "wide"), analysis="test", column="code", group="plan")
