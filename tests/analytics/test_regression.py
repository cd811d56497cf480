"""Regression: the numbers equal statsmodels' formula API on the same rows (mall
customers and generated data with a known answer), logistic with a held-out split, the
missing-value choices, prediction, sampling, and every bad input's message."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.stats.outliers_influence import variance_inflation_factor

from analytics import regression
from errors import AnalysisError, InvalidSpec
from tests.analytics.conftest import FIXTURES

INCOME, SCORE = "Annual Income (k$)", "Spending Score (1-100)"


def run(storage, owner, dataset, **params):
    return storage.analyses.run(owner, "regression", dict(params, dataset_id=dataset.id))


def by_term(result):
    return {c["term"]: c for c in result["coefficients"]}


def test_ols_on_mall_customers_equals_statsmodels(storage, owner, mall):
    result = run(storage, owner, mall, target=SCORE, features=["Genre", "Age", INCOME], model="ols")
    frame = pd.read_csv(FIXTURES / "shopping_data.csv")
    expected = smf.ols('Q("Spending Score (1-100)") ~ C(Genre) + Age + Q("Annual Income (k$)")', frame).fit()
    terms = by_term(result)
    # statsmodels' own names, reference level Female (first in sorted order).
    assert list(terms) == ["Intercept", "C(Genre)[T.Male]", "Age", 'Q("Annual Income (k$)")']
    assert list(expected.params.index) == list(terms)
    for term in expected.params.index:
        assert terms[term]["estimate"] == pytest.approx(expected.params[term], rel=1e-9)
        assert terms[term]["std_error"] == pytest.approx(expected.bse[term], rel=1e-9)
        assert terms[term]["t"] == pytest.approx(expected.tvalues[term], rel=1e-9)
        assert terms[term]["p"] == pytest.approx(expected.pvalues[term], rel=1e-9)
        assert terms[term]["ci_low"] == pytest.approx(expected.conf_int().loc[term, 0], rel=1e-9)
    assert result["r2"] == pytest.approx(expected.rsquared, rel=1e-12)
    assert result["adj_r2"] == pytest.approx(expected.rsquared_adj, rel=1e-12)
    assert result["f"] == pytest.approx(expected.fvalue, rel=1e-9)
    assert (result["aic"], result["bic"]) == (pytest.approx(expected.aic), pytest.approx(expected.bic))
    assert result["n"] == 200 and result["sampled"] is False
    assert result["reference_levels"] == {"Genre": "Female"}
    assert terms["C(Genre)[T.Male]"]["column"] == "Genre" and terms["C(Genre)[T.Male]"]["level"] == "Male"
    assert "C(column)[T.level]" in result["term_naming"]
    exog = expected.model.exog
    for i, row in enumerate(result["vif"], start=1):  # equal to statsmodels' one-regression-per-column VIF
        assert row["term"] == expected.model.exog_names[i]
        assert row["vif"] == pytest.approx(variance_inflation_factor(exog, i), rel=1e-6)
    assert len(result["residuals"]["fitted"]) == 200 and len(result["qq"]["theoretical"]) == 200
    # Known property of this data: age lowers the spending score.
    assert terms["Age"]["estimate"] < 0 and terms["Age"]["p"] < 0.001


def test_ols_recovers_a_known_answer(storage, owner, make_dataset):
    rng = np.random.default_rng(1)
    n = 4000
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.uniform(0, 10, size=n),
                          "group": rng.choice(["a", "b", "c"], size=n)})
    frame["y"] = 3 + 2 * frame.x1 - 1.5 * frame.x2 + 4 * (frame.group == "b") - 1 * (frame.group == "c") \
        + rng.normal(scale=0.5, size=n)
    dataset = make_dataset(frame, "known")
    result = run(storage, owner, dataset, target="y", features=["x1", "x2", "group"])
    terms = by_term(result)
    assert result["model"] == "ols"
    for term, truth in {"Intercept": 3, "x1": 2, "x2": -1.5, "C(group)[T.b]": 4, "C(group)[T.c]": -1}.items():
        assert terms[term]["ci_low"] < truth < terms[term]["ci_high"]
        assert terms[term]["estimate"] == pytest.approx(truth, abs=0.1)
    expected = smf.ols("y ~ x1 + x2 + C(group)", pd.read_csv(storage.data_dir.parent / "known.csv")).fit()
    assert result["r2"] == pytest.approx(expected.rsquared, rel=1e-9)
    assert list(terms) == list(expected.params.index)  # patsy's order: categorical terms first
    for term in expected.params.index:
        assert terms[term]["std_error"] == pytest.approx(expected.bse[term], rel=1e-6)


def test_robust_standard_errors_and_diagnostics_equal_statsmodels(storage, owner, mall):
    from statsmodels.stats.diagnostic import het_breuschpagan
    from statsmodels.stats.stattools import jarque_bera

    result = run(storage, owner, mall, target=SCORE, features=["Genre", "Age", INCOME], standard_errors="HC3")
    formula = 'Q("Spending Score (1-100)") ~ C(Genre) + Age + Q("Annual Income (k$)")'
    expected = smf.ols(formula, pd.read_csv(FIXTURES / "shopping_data.csv")).fit(cov_type="HC3")
    terms = by_term(result)
    assert result["standard_errors"] == "HC3"
    for term in expected.params.index:
        assert terms[term]["std_error"] == pytest.approx(expected.bse[term], rel=1e-9)
        assert terms[term]["p"] == pytest.approx(expected.pvalues[term], rel=1e-9)
    jb, bp = result["diagnostics"]
    assert jb["statistic"] == pytest.approx(jarque_bera(expected.resid)[0])
    assert bp["p"] == pytest.approx(het_breuschpagan(expected.resid, expected.model.exog)[1])
    assert bp["test"] == "Breusch-Pagan (constant variance)" and bp["reading"]


def test_reference_level_is_chosen_and_stated(storage, owner, mall):
    result = run(storage, owner, mall, target=SCORE, features=["Genre", "Age"], reference={"Genre": "Male"})
    assert result["reference_levels"] == {"Genre": "Male"}
    assert "C(Genre)[T.Female]" in by_term(result)


def test_logistic_matches_statsmodels_and_scores_a_holdout(storage, owner, mall):
    result = run(storage, owner, mall, target="Genre", features=["Age", INCOME, SCORE], model="logistic")
    frame = pd.read_csv(FIXTURES / "shopping_data.csv")
    frame["male"] = (frame.Genre == "Male").astype(float)
    expected = smf.logit('male ~ Age + Q("Annual Income (k$)") + Q("Spending Score (1-100)")', frame).fit(disp=0)
    terms = by_term(result)
    assert result["positive_class"] == "Male"
    for term in expected.params.index:
        assert terms[term]["estimate"] == pytest.approx(expected.params[term], rel=1e-6)
        assert terms[term]["std_error"] == pytest.approx(expected.bse[term], rel=1e-6)
        assert terms[term]["odds_ratio"] == pytest.approx(np.exp(expected.params[term]), rel=1e-6)
    holdout = result["holdout"]
    cm = holdout["confusion_matrix"]
    assert holdout["test_rows"] == 50 and cm["tn"] + cm["fp"] + cm["fn"] + cm["tp"] == 50
    assert 0 <= holdout["roc_auc"] <= 1
    # Gender is not predictable from these columns, and the result says so.
    assert expected.llr_pvalue > 0.05 and "does no better than the base rate" in result["warnings"][0]


def test_auto_picks_logistic_for_a_binary_target_and_it_separates(storage, owner, make_dataset):
    rng = np.random.default_rng(2)
    x = rng.normal(size=3000)
    frame = pd.DataFrame({"x": x, "bought": np.where(rng.random(3000) < 1 / (1 + np.exp(-(0.5 + 2 * x))), "paid", "free")})
    result = run(storage, owner, make_dataset(frame, "binary"), target="bought", features=["x"])
    assert result["model"] == "logistic" and result["positive_class"] == "paid"
    assert by_term(result)["x"]["estimate"] == pytest.approx(2, abs=0.25)
    assert result["holdout"]["roc_auc"] > 0.8


def test_missing_values_drop_or_impute_with_counts(storage, owner, make_dataset):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(size=300), "g": rng.choice(["u", "v"], size=300)})
    frame["y"] = 1 + frame.x + rng.normal(scale=0.1, size=300)
    frame.loc[:9, "x"] = np.nan
    frame.loc[10:14, "g"] = None
    frame.loc[15:16, "y"] = np.nan
    dataset = make_dataset(frame, "gaps")
    dropped = run(storage, owner, dataset, target="y", features=["x", "g"], missing="drop")
    assert dropped["dropped"] == {"missing_target": 2, "missing_features": 15} and dropped["n"] == 283
    imputed = run(storage, owner, dataset, target="y", features=["x", "g"], missing="impute")
    assert imputed["n"] == 298 and imputed["dropped"]["missing_target"] == 2
    assert imputed["imputed"]["x"]["rows"] == 10 and imputed["imputed"]["x"]["method"] == "mean"
    assert imputed["imputed"]["g"]["rows"] == 5


def test_predict_from_new_values_equals_statsmodels(storage, owner, mall):
    result = run(storage, owner, mall, target=SCORE, features=["Genre", "Age", INCOME],
                 predict=[{"Genre": "Male", "Age": 30, INCOME: 70}])
    frame = pd.read_csv(FIXTURES / "shopping_data.csv")
    expected = smf.ols('Q("Spending Score (1-100)") ~ C(Genre) + Age + Q("Annual Income (k$)")', frame).fit()
    want = expected.predict(pd.DataFrame({"Genre": ["Male"], "Age": [30], INCOME: [70]}))[0]
    assert result["predictions"][0]["prediction"] == pytest.approx(want, rel=1e-9)
    assert regression.predict(result, {"Genre": "Male", "Age": 30, INCOME: 70})["prediction"] == pytest.approx(want)
    with pytest.raises(InvalidSpec, match="'Other' is not a value of 'Genre'"):
        regression.predict(result, {"Genre": "Other"})


def test_large_data_is_fitted_on_a_stated_sample(storage, owner, make_dataset, monkeypatch):
    monkeypatch.setattr(regression, "SAMPLE_ROWS", 500)
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"x": rng.normal(size=2000)})
    frame["y"] = 2 * frame.x + rng.normal(scale=0.1, size=2000)
    dataset = make_dataset(frame, "big")
    first = run(storage, owner, dataset, target="y", features=["x"])
    assert first["sampled"] is True and first["sample_size"] == 500 and first["rows"] == 2000
    for path in storage.analyses.cache_dir.glob("*.json"):  # not from the cache: refit
        path.unlink()
    again = run(storage, owner, dataset, target="y", features=["x"])
    assert again["coefficients"] == first["coefficients"]  # same seed, same sample


@pytest.mark.parametrize("frame,params,error,message", [
    (pd.DataFrame({"y": [5.0] * 20, "x": range(20)}), {"target": "y", "features": ["x"]}, AnalysisError,
     "The target 'y' has only one value"),
    (pd.DataFrame({"y": range(20), "x": [None] * 20, "z": range(20)}), {"target": "y", "features": ["z", "x"]},
     AnalysisError, "The feature 'x' has no values"),
    (pd.DataFrame({"y": range(4), "a": [1, 2, 4, 3], "b": [3, 1, 2, 5], "c": [1, 7, 3, 2]}),
     {"target": "y", "features": ["a", "b", "c"]}, AnalysisError, "There are 4 rows but the model has 4 coefficients"),
    (pd.DataFrame({"y": list("abcabcabca"), "x": range(10)}), {"target": "y", "features": ["x"], "model": "ols"},
     AnalysisError, "not numeric: linear regression (OLS) needs a numeric target"),
    (pd.DataFrame({"y": range(10), "x": range(10)}), {"target": "y", "features": ["nope"]}, InvalidSpec,
     "There is no column 'nope'"),
    (pd.DataFrame({"y": range(10), "x": range(10)}), {"target": "y", "features": ["y"]}, InvalidSpec,
     "cannot also be a feature"),
    (pd.DataFrame({"y": range(10), "x": range(10)}), {"features": ["x"]}, InvalidSpec, "Choose a target"),
    (pd.DataFrame({"y": range(10), "x": range(10)}), {"target": "y", "features": []}, InvalidSpec,
     "Choose at least 1 feature"),
    (pd.DataFrame({"y": range(10), "x": range(10)}), {"target": "y", "features": ["x"], "missing": "guess"},
     InvalidSpec, "'missing' must be one of drop, impute"),
    (pd.DataFrame({"y": range(10), "x": range(10)}), {"target": "y", "features": ["x"], "standard_errors": "HC9"},
     InvalidSpec, "'standard_errors' must be one of classical, HC3"),
    (pd.DataFrame({"y": range(10), "x": range(10)}), {"target": "y", "features": ["x"], "model": "logistic"},
     AnalysisError, "exactly two values"),
    (pd.DataFrame({"y": range(120), "x": [f"v{i}" for i in range(120)]}), {"target": "y", "features": ["x"]},
     InvalidSpec, "at most 50"),
    (pd.DataFrame({"y": range(200), **{c: [f"{c}{i % 45}" for i in range(200)] for c in "abcd"}}),
     {"target": "y", "features": ["a", "b", "c", "d"]}, InvalidSpec, "The model would have 177 coefficients; at most 150"),
])
def test_bad_inputs_get_a_clear_message(storage, owner, make_dataset, frame, params, error, message):
    dataset = make_dataset(frame, "bad")
    with pytest.raises(error) as caught:
        run(storage, owner, dataset, **params)
    assert message in caught.value.message


def test_ols_on_online_retail_invoice_aggregates_equals_statsmodels(storage, owner, make_dataset):
    lines = pd.read_csv(FIXTURES / "online-retail-20k.csv")
    lines["amount"] = lines.Quantity * lines.UnitPrice
    invoices = lines.groupby("InvoiceNo").agg(revenue=("amount", "sum"), items=("Quantity", "sum"),
                                              lines=("StockCode", "count"), Country=("Country", "first")).reset_index()
    invoices = invoices[invoices.revenue > 0]
    dataset = make_dataset(invoices[["revenue", "items", "lines", "Country"]], "invoices")
    result = run(storage, owner, dataset, target="revenue", features=["items", "lines", "Country"])
    saved = pd.read_csv(storage.data_dir.parent / "invoices.csv")
    expected = smf.ols("revenue ~ C(Country) + items + lines", saved).fit()
    terms = by_term(result)
    assert list(terms) == list(expected.params.index) and len(terms) > 10
    for term in expected.params.index:
        assert terms[term]["estimate"] == pytest.approx(expected.params[term], rel=1e-7, abs=1e-9)
        assert terms[term]["std_error"] == pytest.approx(expected.bse[term], rel=1e-7)
    assert result["r2"] == pytest.approx(expected.rsquared, rel=1e-10) and result["n"] == len(saved)
