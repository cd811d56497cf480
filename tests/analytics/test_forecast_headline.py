"""The forecast's headline says "better than seasonal naive" only when the difference means
something (a 10 % lower absolute error and a Diebold-Mariano p below 0.05), otherwise says
which is better; MAPE is replaced by MASE when values near zero make it meaningless, and a
model with large errors is never praised. First the rule on numbers made to sit on each
side of it, then real public series where the model wins clearly and where it does not."""
from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from analytics import forecast_verdict, forecasting
from storage.analyses import to_json

SERIES = Path(__file__).resolve().parents[1] / "fixtures" / "timeseries"


def judge(actual, model, baseline, train=None, season=12, name="ets"):
    train = np.linspace(100, 200, 60) + 10 * np.sin(np.arange(60)) if train is None else train
    return forecast_verdict.verdict(actual, model, baseline, train, season, name, forecasting.MODEL_LABELS[name])


RNG = np.random.default_rng(7)
ACTUAL = 100 + 10 * np.sin(np.arange(24) / 2)


def test_a_clear_win_is_called_better():
    model = ACTUAL + RNG.normal(0, 1, 24)
    baseline = ACTUAL + RNG.normal(0, 8, 24)
    verdict = judge(ACTUAL, model, baseline)
    assert verdict["outcome"] == "better" and verdict["metric"] == "mape" and not verdict["large_errors"]
    assert verdict["headline"].startswith("Better than seasonal naive on the holdout: MAPE ")
    assert verdict["p_value"] < 0.05 and verdict["improvement"] >= 0.1


def test_a_small_gain_is_no_better_and_says_the_margin():
    noise = RNG.normal(0, 5, 24)
    verdict = judge(ACTUAL, ACTUAL + 0.95 * noise, ACTUAL + noise)  # 5 % lower error, every period
    assert verdict["outcome"] == "no_better"
    assert verdict["headline"].startswith("No better than seasonal naive on the holdout: MAPE ")
    assert "only 5 % lower absolute error, less than the 10 % margin" in verdict["headline"]
    assert verdict["headline"].endswith("Use the seasonal-naive forecast.")


def test_a_gain_within_the_noise_is_no_better():
    """Lower on average, but only because of two lucky periods: the test says it is noise."""
    model = ACTUAL.copy()
    model[::2] += 6.0
    model[1::2] -= 6.0
    baseline = ACTUAL + 5.0
    baseline[:2] += 60.0
    verdict = judge(ACTUAL, model, baseline)
    assert verdict["improvement"] >= 0.1 and verdict["p_value"] >= 0.05
    assert verdict["outcome"] == "no_better" and "within the noise (p = " in verdict["headline"]


def test_a_loss_says_seasonal_naive_is_better():
    verdict = judge(ACTUAL, ACTUAL + RNG.normal(0, 8, 24), ACTUAL + RNG.normal(0, 1, 24))
    assert verdict["outcome"] == "worse"
    assert verdict["headline"].startswith("Seasonal naive is clearly better on the holdout: MAPE ")
    assert "Use the seasonal-naive forecast." in verdict["headline"]


def test_the_issues_97_percent_mape_is_never_praised():
    """A model that beats seasonal naive while off by 97 %: the headline leads with that."""
    actual = np.full(30, 100.0)
    model = actual * np.where(np.arange(30) % 2, 0.03, 1.97)  # 97 % off every period
    baseline = actual * np.where(np.arange(30) % 2, 3.5, -1.5)  # 250 % off
    verdict = judge(actual, model, baseline)
    assert verdict["large_errors"] and verdict["outcome"] == "better"
    assert verdict["headline"].startswith("Large errors on the holdout (MAPE 97.0 %): do not plan with this forecast.")
    assert "Better than" not in verdict["headline"] and "Seasonal naive is worse still" in verdict["headline"]


def test_values_near_zero_switch_the_measure_to_mase():
    actual = np.array([0.0, 12, 0.2, 15, 11, 0, 14, 13, 10, 12, 0, 16])
    train = np.tile([0.0, 10, 12, 14], 12)
    verdict = judge(actual, actual + 0.5, actual + 4, train=train, season=4)
    assert verdict["metric"] == "mase" and "4 of 12 holdout values are zero or near it" in verdict["mape_problem"]
    scale = np.mean(np.abs(train[4:] - train[:-4]))  # 0: train is exactly seasonal → no scale
    assert scale == 0 and verdict["mase"] is None
    train = train + np.arange(48) * 0.1
    verdict = judge(actual, actual + 0.5, actual + 4, train=train, season=4)
    assert verdict["mase"] == pytest.approx(0.5 / 0.4) and verdict["baseline_mase"] == pytest.approx(4 / 0.4)
    assert "MASE 1.25 against 10.00 for seasonal naive (MAPE is not meaningful here: " in verdict["headline"]


def test_diebold_mariano_is_symmetric_and_needs_three_periods():
    a, b = RNG.normal(0, 1, 40), RNG.normal(0, 2, 40)
    assert forecast_verdict.diebold_mariano(a, b) == pytest.approx(1 - forecast_verdict.diebold_mariano(b, a))
    assert forecast_verdict.diebold_mariano(a[:2], b[:2]) is None


# --- real series ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    with threadpool_limits(1):
        yield


def forecast(name: str, date: str, value: str, date_type: str = "date", **params):
    con = duckdb.connect()
    source = f"read_csv('{SERIES / name}')"
    schema = [{"name": date, "type": date_type}, {"name": value, "type": "float"}]
    return forecasting.run(con, source, schema, dict(params, date=date, value=value, folds=1), lambda *_: None)


def test_us_employment_the_model_wins_clearly():
    """Nonfarm payrolls, monthly 2006-2015 (no grain given: detected). The holdout is the last
    12 months of a steady recovery; seasonal naive repeats last year and misses the growth."""
    result = forecast("us-employment.csv", "month", "nonfarm")
    assert result["grain"] == "month" and result["grain_detected"]["spacing"] == "monthly"
    assert result["holdout"]["periods"] == 12 and len(result["forecast"]) == 12  # the month's default
    verdict = result["verdict"]
    assert verdict["outcome"] == "better" and verdict["metric"] == "mape"
    assert verdict["headline"].startswith("Better than seasonal naive on the holdout: MAPE ")
    assert result["holdout"]["mape"] < result["baseline"]["mape"] / 2


@pytest.fixture(scope="module")
def real_gdp():
    return forecast("macrodata-quarterly.csv", "quarter_start", "realgdp")


def test_macrodata_real_gdp_the_model_does_not_win(real_gdp):
    """US real GDP, quarterly 1959-2009: the holdout holds the 2008-2009 recession, where the
    trend models overshoot and repeating last year is closer. The headline says so."""
    result = real_gdp
    assert result["grain"] == "quarter" and result["season"] == 4 and result["holdout"]["periods"] == 8
    verdict = result["verdict"]
    assert verdict["outcome"] == "worse"
    assert verdict["headline"].startswith("Seasonal naive is ")
    assert "Use the seasonal-naive forecast." in verdict["headline"]
    assert "Better than" not in verdict["headline"]
    assert len(result["baseline_forecast"]) == 8  # the forecast it tells the person to use


def test_the_tab_shows_the_headline_and_the_naive_forecast_to_use(real_gdp):
    """The Time series tab's result: the headline in a warning, and the seasonal-naive
    forecast beside the model's since the headline says to use it."""
    from components.analyze_timeseries import render

    tree = render(to_json(real_gdp))
    alert = tree.children[0]
    assert alert.id == "ts-verdict" and alert.color == "warning"
    assert alert.children[0].children == real_gdp["verdict"]["headline"]
    table = _find(tree, "ts-forecast-table")
    header = [th.children for th in table.children[0].children.children]
    assert header == ["Date", "Forecast", "Low", "High", "Seasonal naive"]


def _find(node, component_id):
    if getattr(node, "id", None) == component_id:
        return node
    children = getattr(node, "children", None)
    for child in children if isinstance(children, (list, tuple)) else [children]:
        if child is not None and not isinstance(child, (str, int, float)):
            found = _find(child, component_id)
            if found is not None:
                return found
    return None
