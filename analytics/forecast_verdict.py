"""What a forecast's headline may say: whether the chosen model beats the seasonal-naive
forecast on the holdout in a way that means something, in which measure, and whether its
errors are too large to plan with.

The rule (docs/analyze-timeseries.md says it for people):

* **Better than seasonal naive** only when both hold on the holdout:
  1. the model's mean absolute error is at least ``MIN_IMPROVEMENT`` (10 %) lower than
     seasonal naive's (a margin: a 2 % gain is not worth a model nobody can check), and
  2. the difference is more than the noise: a Diebold-Mariano test on the per-period
     difference of absolute errors (Newey-West variance, because the errors of one
     multi-step forecast are correlated; Student t with n - 1 degrees of freedom) gives a
     one-sided p-value below ``SIGNIFICANCE`` (0.05).
* Otherwise, if the model's error is lower, "no better than seasonal naive; use the naive
  forecast"; if it is higher, "seasonal naive is better".
* The measure shown is MAPE when it means something: every holdout value away from zero
  (none below ``NEAR_ZERO`` = 5 % of the mean absolute value, all of one sign). Otherwise
  MAPE is not shown as the measure (one value near zero decides it alone) and MASE is:
  the mean absolute error over the training part's mean absolute seasonal difference.
* Errors are **large** when the mean absolute error is at least ``LARGE_ERROR`` (50 %) of
  the mean absolute value on the holdout (WAPE), or the MAPE (when it is the measure) is
  50 % or more. Then the headline leads with that, whatever the comparison, and a model
  that beats seasonal naive is not praised for it ("seasonal naive is worse still").
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats as st

from analytics.timegrain import percent

MIN_IMPROVEMENT = 0.10
SIGNIFICANCE = 0.05
NEAR_ZERO = 0.05
LARGE_ERROR = 0.5

RULE = (f"“Better than seasonal naive” needs a mean absolute error at least {percent(MIN_IMPROVEMENT)} lower on "
        f"the holdout and a Diebold-Mariano p-value below {SIGNIFICANCE} (the difference is more than the noise).")


def mase_scale(train: np.ndarray, season: int) -> float | None:
    """MASE's denominator: the mean absolute seasonal difference of the training part
    (lag 1 without a season); None when it is 0 (a constant series)."""
    lag = max(1, season)
    if len(train) <= lag:
        return None
    scale = float(np.mean(np.abs(train[lag:] - train[:-lag])))
    return scale if scale > 0 else None


def mape_problem(actual: np.ndarray) -> str | None:
    """Why MAPE means nothing on these values, or None when it is fine."""
    actual = np.asarray(actual, float)
    level = float(np.mean(np.abs(actual)))
    if level == 0:
        return "every holdout value is 0"
    near = int(np.sum(np.abs(actual) < NEAR_ZERO * level))
    if near:
        return (f"{near} of {len(actual)} holdout values are zero or near it, and a percentage of almost nothing "
                f"decides MAPE alone")
    if np.any(actual > 0) and np.any(actual < 0):
        return "the holdout has values of both signs"
    return None


def diebold_mariano(model_errors: np.ndarray, baseline_errors: np.ndarray) -> float | None:
    """One-sided p-value that the model's absolute errors are lower than the baseline's;
    None with fewer than 3 periods (no variance to speak of)."""
    d = np.abs(np.asarray(model_errors, float)) - np.abs(np.asarray(baseline_errors, float))
    n = len(d)
    if n < 3:
        return None
    mean = float(d.mean())
    centred = d - mean
    lags = int(4 * (n / 100) ** (2 / 9))  # Newey-West's rule of thumb
    variance = float(centred @ centred) / n
    for k in range(1, min(lags, n - 1) + 1):
        variance += 2 * (1 - k / (lags + 1)) * float(centred[k:] @ centred[:-k]) / n
    if variance <= 0:
        variance = float(centred @ centred) / n
    if variance == 0:
        return 0.0 if mean < 0 else 1.0
    statistic = mean / math.sqrt(variance / n)
    return float(st.t.cdf(statistic, df=n - 1))


def verdict(actual, model_mean, baseline_mean, train, season: int, model: str, model_label: str) -> dict:
    """The headline and the numbers behind it."""
    actual, model_mean, baseline_mean = (np.asarray(a, float) for a in (actual, model_mean, baseline_mean))
    model_err, base_err = actual - model_mean, actual - baseline_mean
    mae, base_mae = float(np.mean(np.abs(model_err))), float(np.mean(np.abs(base_err)))
    improvement = 1 - mae / base_mae if base_mae > 0 else (0.0 if mae == 0 else -math.inf)
    p_value = diebold_mariano(model_err, base_err)
    level = float(np.mean(np.abs(actual)))
    wape = mae / level if level > 0 else None
    problem = mape_problem(actual)
    model_mape = _mape(actual, model_mean) if problem is None else None
    scale = mase_scale(np.asarray(train, float), season)
    if problem is None:
        metric = "mape"
        shown = (f"MAPE {_pct(model_mape)} against {_pct(_mape(actual, baseline_mean))} for "
                 f"seasonal naive")
    else:
        metric = "mase"
        shown = (f"MASE {_num(mae / scale if scale else None)} against {_num(base_mae / scale if scale else None)} "
                 f"for seasonal naive (MAPE is not meaningful here: {problem})")
    large = (wape is not None and wape >= LARGE_ERROR) or (model_mape is not None and model_mape >= LARGE_ERROR * 100)
    if p_value is None:
        p_text = "too few holdout periods to test"
    else:
        p_text = f"p = {p_value:.3f}" if p_value >= 0.001 else "p < 0.001"
    if model == "seasonal_naive":
        outcome = "naive_chosen"
        headline = (f"Seasonal naive was chosen: no other model did better inside the training part. "
                    f"Holdout {shown.split(' against ')[0]}.")
    elif improvement >= MIN_IMPROVEMENT and p_value is not None and p_value < SIGNIFICANCE:
        outcome = "better"
        headline = (f"Better than seasonal naive on the holdout: {shown}; the absolute error is "
                    f"{percent(improvement)} lower ({p_text}).")
    elif mae <= base_mae:
        outcome = "no_better"
        why = (f"only {percent(improvement)} lower absolute error, less than the {percent(MIN_IMPROVEMENT)} margin"
               if improvement < MIN_IMPROVEMENT else f"{percent(improvement)} lower absolute error, within the noise "
                                                     f"({p_text})")
        headline = (f"No better than seasonal naive on the holdout: {shown}; {why}. Use the seasonal-naive "
                    f"forecast.")
    else:
        outcome = "worse"
        clearly = p_value is not None and 1 - p_value < SIGNIFICANCE
        headline = (f"Seasonal naive is {'clearly ' if clearly else ''}better on the holdout: {shown}; "
                    f"{model_label} has a {percent(-improvement)} higher absolute error. Use the seasonal-naive "
                    f"forecast.")
    if large:
        size = (f"MAPE {_pct(model_mape)}" if model_mape is not None and model_mape >= LARGE_ERROR * 100 else
                f"off by {percent(wape)} of the values on average")
        if outcome == "better":  # no praise for a model this far off: it only beats a worse one
            headline = f"Seasonal naive is worse still: {shown}."
        headline = f"Large errors on the holdout ({size}): do not plan with this forecast. " + headline
    return {"outcome": outcome, "headline": headline, "metric": metric, "mape_problem": problem,
            "improvement": improvement if math.isfinite(improvement) else None, "p_value": p_value,
            "wape": wape, "large_errors": large, "mase": mae / scale if scale else None,
            "baseline_mase": base_mae / scale if scale else None, "rule": RULE}


def _mape(actual, predicted) -> float:
    return float(np.mean(np.abs((actual - predicted) / actual)) * 100)


def _pct(value) -> str:
    return f"{value:,.1f} %"


def _num(value) -> str:
    return "–" if value is None else f"{value:,.2f}"
