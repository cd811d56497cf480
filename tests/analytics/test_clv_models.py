"""BG/NBD and Gamma-Gamma: fitted on customers simulated from the models themselves with
known parameters, they find those parameters again and predict the simulated future; the
CLV analysis uses them when asked, on transactions in DuckDB."""
from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from analytics import clv_models, segments
from errors import AnalysisError, InvalidSpec

TRUE_BGNBD = {"r": 0.5, "alpha": 10.0, "a": 0.8, "b": 2.5}
TRUE_GAMMA = {"p": 6.0, "q": 4.0, "v": 15.0}
HORIZON_DAYS = 180.0


def simulate(customers=4000, seed=7):
    """Each customer: purchase rate λ ~ Gamma(r, α), dropout p ~ Beta(a, b) after each repeat
    purchase, first purchase at 0, observed for T days; their purchases in the next
    HORIZON_DAYS kept apart. Order values: Gamma(p, ν) with ν ~ Gamma(q, v)."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(customers):
        rate = rng.gamma(TRUE_BGNBD["r"], 1 / TRUE_BGNBD["alpha"])
        dropout = rng.beta(TRUE_BGNBD["a"], TRUE_BGNBD["b"])
        age = rng.uniform(90, 365)
        moment, times = 0.0, []
        while True:
            moment += rng.exponential(1 / rate)
            if moment > age + HORIZON_DAYS:
                break
            times.append(moment)
            if rng.random() < dropout:
                break
        seen = [t for t in times if t <= age]
        nu = rng.gamma(TRUE_GAMMA["q"], 1 / TRUE_GAMMA["v"])
        values = rng.gamma(TRUE_GAMMA["p"], 1 / nu, size=len(seen) + 1)
        rows.append({"x": len(seen), "t_x": seen[-1] if seen else 0.0, "T": age,
                     "future": sum(1 for t in times if age < t <= age + HORIZON_DAYS),
                     "orders": len(seen) + 1, "mean_value": float(values.mean())})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def simulated():
    return simulate()


def test_bgnbd_finds_the_parameters_and_predicts_the_future(simulated):
    fit = clv_models.fit_bgnbd(simulated["x"], simulated["t_x"], simulated["T"])
    assert fit["converged"]
    for name, true in TRUE_BGNBD.items():
        assert fit[name] == pytest.approx(true, rel=0.15), name
    predicted = clv_models.expected_purchases(fit, HORIZON_DAYS, simulated["x"], simulated["t_x"], simulated["T"])
    assert predicted.sum() == pytest.approx(simulated["future"].sum(), rel=0.1)
    # Customers who bought often and lately are expected to buy more than those gone quiet.
    alive = clv_models.probability_alive(fit, simulated["x"], simulated["t_x"], simulated["T"])
    assert np.all((alive > 0) & (alive <= 1))
    assert np.all(alive[simulated["x"] == 0] == 1.0)  # no repeat purchase: no chance to drop out yet
    busy = (simulated["x"] >= 5) & (simulated["T"] - simulated["t_x"] < 10)
    quiet = (simulated["x"] >= 5) & (simulated["T"] - simulated["t_x"] > 150)
    assert predicted[busy].mean() > 3 * predicted[quiet].mean()


def test_gamma_gamma_finds_the_population_mean_and_shrinks(simulated):
    fit = clv_models.fit_gamma_gamma(simulated["orders"], simulated["mean_value"])
    true_mean = TRUE_GAMMA["p"] * TRUE_GAMMA["v"] / (TRUE_GAMMA["q"] - 1)
    assert clv_models.population_order_value(fit) == pytest.approx(true_mean, rel=0.1)
    # One order of 1,000 says less than twenty orders averaging 1,000.
    once, often = clv_models.expected_order_value(fit, [1, 20], [1000.0, 1000.0])
    assert true_mean < once < often < 1000.0


def test_too_little_to_fit_says_why():
    with pytest.raises(AnalysisError, match="at least 20 customers"):
        clv_models.fit_bgnbd([1, 0], [3.0, 0.0], [10.0, 10.0])
    with pytest.raises(AnalysisError, match="bought twice"):
        clv_models.fit_bgnbd([0] * 30, [0.0] * 30, [50.0] * 30)


def test_clv_analysis_with_bgnbd(simulated):
    """The same simulated customers as transactions: one row per purchase, dated."""
    start = dt.datetime(2023, 1, 1)
    reference = start + dt.timedelta(days=400)
    rows = []
    for i, c in enumerate(simulated.head(1500).itertuples()):
        first = reference - dt.timedelta(days=c.T)
        rng = np.random.default_rng(i)
        moments = [0.0] + sorted(rng.uniform(0, c.t_x, max(c.x - 1, 0)).tolist()) + ([c.t_x] if c.x else [])
        for moment in moments:
            rows.append({"customer": f"C{i}", "sold_at": first + dt.timedelta(days=moment),
                         "amount": c.mean_value})
    con = duckdb.connect()
    con.register("frame", pd.DataFrame(rows))
    con.execute("CREATE TABLE sales AS SELECT * FROM frame")
    schema = [{"name": "customer", "type": "text"}, {"name": "sold_at", "type": "timestamp"},
              {"name": "amount", "type": "float"}]
    params = {"customer": "customer", "date": "sold_at", "amount": "amount", "clv_months": 6,
              "as_of": reference.date().isoformat()}
    rate = segments.clv(con, "sales", schema, params, lambda *a: None)
    model = segments.clv(con, "sales", schema, dict(params, model="bgnbd"), lambda *a: None)
    assert (rate["model"], model["model"]) == ("rate", "bgnbd") and rate["model_parameters"] is None
    assert model["customers"] == rate["customers"] == 1500
    assert model["historic"] == rate["historic"]  # the past is the same; only the prediction differs
    fitted = model["model_parameters"]
    assert fitted["bgnbd"]["r"] == pytest.approx(TRUE_BGNBD["r"], rel=0.35)
    assert fitted["gamma_gamma"]["p"] > 0 and "BG/NBD" in model["method"] and "Gamma-Gamma" in model["method"]
    assert 0 < model["predicted"]["total"] and 0 <= model["lapsed"] <= 1500
    assert {c["customer"] for c in model["top_customers"]} <= {f"C{i}" for i in range(1500)}
    with pytest.raises(InvalidSpec, match="'model' must be one of rate, bgnbd"):
        segments.clv(con, "sales", schema, dict(params, model="magic"), lambda *a: None)
