"""Forecasts with an honest error: the model is chosen by rolling-origin validation inside
the training part only, then scored once on a final holdout it never saw.

Protocol (docs/analyze-timeseries.md says it for people):

1. The series (analytics/timeseries.py) is split into training = all but the last
   ``holdout`` periods, and the holdout.
2. Inside the training part, up to ``folds`` origins, ``holdout`` periods apart, end at
   ``n_train - k * holdout``; every candidate is fitted on the data before each origin and
   forecasts the ``holdout`` periods after it. The candidate with the lowest mean absolute
   error over the origins is chosen (MAE rather than MAPE: a day near zero makes MAPE
   explode and would decide the choice alone). Ties go to the simpler model.
3. The chosen model is fitted on the whole training part and scored once on the holdout
   (MAPE, MAE, RMSE, MASE), beside the seasonal-naive forecast scored the same way; the
   headline says whether the difference means something (analytics/forecast_verdict.py).
4. The chosen model is fitted on the whole series and forecasts ``horizon`` periods with
   prediction intervals.

Candidates: seasonal naive; Holt-Winters with a damped additive trend and additive season
(and multiplicative season when every value is positive); SARIMA(1,0,0)(1,1,1)m with a
constant and the airline model SARIMA(0,1,1)(0,1,1)m; the Theta method; and the
equal-weight combination of one model per family (ETS, SARIMA, Theta), each family's form
chosen by its validation error.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats as st

from analytics import forecast_verdict, timeseries
from analytics._fields import integer
from errors import AnalysisError, InvalidSpec

MAX_HORIZON = 366
# Holdout and horizon when the request leaves them out: about a season ahead, so a yearly
# series is not asked for 30 years and an hourly one gets two days.
DEFAULT_PERIODS = {"hour": 48, "day": 30, "week": 13, "month": 12, "quarter": 8, "year": 5}
MAX_FOLDS = 5
INTERVALS = (0.8, 0.9, 0.95, 0.99)
# SARIMA's state grows with the season: past this it takes minutes, so it sits out (said in the result).
SARIMA_MAX_SEASON = 24
SIMULATIONS = 400   # paths for the Holt-Winters prediction interval
SEED = 0
# The fewest points a model is fitted on, in seasons (Holt-Winters needs two full ones).
MIN_SEASONS = 2

MODEL_LABELS = {
    "seasonal_naive": "Seasonal naive",
    "ets": "ETS (Holt-Winters, damped trend, additive season)",
    "ets_mul": "ETS (Holt-Winters, damped trend, multiplicative season)",
    "sarima": "SARIMA(1,0,0)(1,1,1) with constant",
    "sarima_airline": "SARIMA(0,1,1)(0,1,1) (airline)",
    "theta": "Theta",
    "combination": "Combination (ETS, SARIMA and Theta: the best form of each)",
}


@dataclass
class Forecast:
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray


# --- the models --------------------------------------------------------------------------------

def seasonal_naive(y: np.ndarray, season: int, horizon: int, level: float) -> Forecast:
    """Each period repeats the same period of the last season. Interval: normal, with the
    residual spread of the in-sample seasonal differences growing with each season ahead."""
    m = max(1, season)
    last = y[-m:]
    mean = np.array([last[i % m] for i in range(horizon)], dtype=float)
    residuals = y[m:] - y[:-m]
    sigma = float(np.sqrt(np.mean(residuals ** 2))) if len(residuals) else 0.0
    z = st.norm.ppf(0.5 + level / 2)
    k = np.floor(np.arange(horizon) / m) + 1
    spread = z * sigma * np.sqrt(k)
    return Forecast(mean, mean - spread, mean + spread)


def _holt_winters(y, season, horizon, level, seasonal_kind):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    seasonal = seasonal_kind if season > 1 else None
    model = ExponentialSmoothing(y, trend="add", damped_trend=True, seasonal=seasonal,
                                 seasonal_periods=season if seasonal else None, initialization_method="estimated")
    fit = model.fit()
    mean = np.asarray(fit.forecast(horizon), dtype=float)
    paths = np.asarray(fit.simulate(horizon, anchor="end", repetitions=SIMULATIONS, error="add",
                                    rng=np.random.default_rng(SEED)), dtype=float).reshape(horizon, -1)
    tail = (1 - level) / 2
    return Forecast(mean, np.quantile(paths, tail, axis=1), np.quantile(paths, 1 - tail, axis=1))


def ets(y, season, horizon, level) -> Forecast:
    return _holt_winters(y, season, horizon, level, "add")


def ets_mul(y, season, horizon, level) -> Forecast:
    return _holt_winters(y, season, horizon, level, "mul")


def sarima(y, season, horizon, level) -> Forecast:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    if season > 1:
        model = SARIMAX(y, order=(1, 0, 0), seasonal_order=(1, 1, 1, season), trend="c")
    else:
        model = SARIMAX(y, order=(1, 1, 1), trend="n")
    fit = model.fit(disp=False, maxiter=100)
    prediction = fit.get_forecast(horizon)
    bounds = np.asarray(prediction.conf_int(alpha=1 - level), dtype=float)
    return Forecast(np.asarray(prediction.predicted_mean, dtype=float), bounds[:, 0], bounds[:, 1])


def sarima_airline(y, season, horizon, level) -> Forecast:
    """The airline model (Box-Jenkins): both differences, an MA term for each."""
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    fit = SARIMAX(y, order=(0, 1, 1), seasonal_order=(0, 1, 1, season)).fit(disp=False, maxiter=100)
    prediction = fit.get_forecast(horizon)
    bounds = np.asarray(prediction.conf_int(alpha=1 - level), dtype=float)
    return Forecast(np.asarray(prediction.predicted_mean, dtype=float), bounds[:, 0], bounds[:, 1])


def theta(y, season, horizon, level) -> Forecast:
    from statsmodels.tsa.forecasting.theta import ThetaModel

    if season > 1:
        model = ThetaModel(y, period=season)
    else:
        model = ThetaModel(y, period=1, deseasonalize=False)
    fit = model.fit()
    mean = np.asarray(fit.forecast(horizon), dtype=float)
    bounds = np.asarray(fit.prediction_intervals(horizon, alpha=1 - level), dtype=float)
    return Forecast(mean, bounds[:, 0], bounds[:, 1])


MODELS = {"seasonal_naive": seasonal_naive, "ets": ets, "ets_mul": ets_mul, "sarima": sarima,
          "sarima_airline": sarima_airline, "theta": theta}
# The combination takes one model of each family: the form with the lowest validation error.
FAMILIES = (("ets", "ets_mul"), ("sarima", "sarima_airline"), ("theta",))


def candidates(y: np.ndarray, season: int) -> tuple[list[str], list[str]]:
    """(names of the candidates for this series, why any were left out). Simpler first:
    a tie in validation goes to the earlier one."""
    names, left_out = ["seasonal_naive", "ets"], []
    if season > 1 and np.all(y > 0):
        names.append("ets_mul")
    elif season > 1:
        left_out.append("ETS with a multiplicative season needs every value above zero")
    if season <= SARIMA_MAX_SEASON:
        names += ["sarima", "sarima_airline"] if season > 1 else ["sarima"]
    else:
        left_out.append(f"SARIMA sits out seasons longer than {SARIMA_MAX_SEASON} periods (its fit takes minutes)")
    names += ["theta", "combination"]
    return names, left_out


def fit_forecast(name: str, y: np.ndarray, season: int, horizon: int, level: float,
                 parts: list[str] | None = None) -> Forecast:
    """One candidate's forecast; the combination averages its parts' means and bounds."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name != "combination":
            result = MODELS[name](y, season, horizon, level)
        else:
            pieces = [MODELS[p](y, season, horizon, level) for p in parts]
            result = Forecast(*(np.mean([getattr(f, a) for f in pieces], axis=0) for a in ("mean", "low", "high")))
    if not np.all(np.isfinite(result.mean)):
        raise ArithmeticError(f"{name} gave a forecast that is not a number")
    return result


# --- errors ------------------------------------------------------------------------------------

def errors_of(actual: np.ndarray, predicted: np.ndarray) -> dict:
    """MAPE in percent (over the periods whose actual is not 0; None when all are), MAE, RMSE."""
    actual, predicted = np.asarray(actual, float), np.asarray(predicted, float)
    diff = actual - predicted
    nonzero = actual != 0
    mape = float(np.mean(np.abs(diff[nonzero] / actual[nonzero])) * 100) if nonzero.any() else None
    return {"mape": mape, "mae": float(np.mean(np.abs(diff))), "rmse": float(np.sqrt(np.mean(diff ** 2)))}


# --- the protocol ------------------------------------------------------------------------------

def read_params(params: dict) -> dict:
    """The forecast's own fields, checked; an absent horizon or holdout is None here and
    becomes the grain's default (``with_defaults``) once the grain is known."""
    horizon = None if params.get("horizon") in (None, "") else integer(params, "horizon", 30, 1, MAX_HORIZON)
    holdout = None if params.get("holdout") in (None, "") else integer(params, "holdout", 30, 1, MAX_HORIZON)
    folds = integer(params, "folds", 3, 1, MAX_FOLDS)
    level = params.get("interval", 0.95)
    if level not in INTERVALS:
        raise InvalidSpec(f"The field 'interval' must be one of {', '.join(map(str, INTERVALS))}")
    return {"horizon": horizon, "holdout": holdout, "folds": folds, "level": float(level)}


def with_defaults(options: dict, grain: str) -> dict:
    periods = DEFAULT_PERIODS[grain]
    return dict(options, horizon=options["horizon"] or periods, holdout=options["holdout"] or periods)


def origins_for(n_train: int, season: int, holdout: int, folds: int) -> list[int]:
    """Validation origins inside the training part, latest last; each leaves at least the
    minimum fitting length before it."""
    minimum = min_fit_length(season)
    return [n_train - k * holdout for k in range(folds, 0, -1) if n_train - k * holdout >= minimum]


def min_fit_length(season: int) -> int:
    return max(MIN_SEASONS * season + 2, 10)


def check_length(n: int, season: int, holdout: int, grain: str) -> None:
    """Stop with the numbers when the series cannot be validated and scored honestly."""
    if n < season:
        raise AnalysisError(f"The series has {n} {grain}s, fewer than one season ({season} {grain}s): "
                            f"it cannot show a season, let alone forecast one. Choose a finer grain, "
                            f"more data, or a shorter season (season 1 = none)")
    needed = min_fit_length(season) + 2 * holdout
    if n < needed:
        raise AnalysisError(
            f"The series has {n} {grain}s; with a season of {season} and a holdout of {holdout} it needs at "
            f"least {needed}: {min_fit_length(season)} to fit on ({MIN_SEASONS} seasons), {holdout} to choose "
            f"the model on and {holdout} to score it on. Shorten the holdout, use a shorter season, or a finer grain")


def forecast_series(series: timeseries.Series, options: dict, progress) -> dict:
    """The whole protocol on a built series; JSON-able result.

    The models multiply tiny matrices: with more than one BLAS thread they only fight over
    the cores and a fit is ten times slower. The app caps BLAS at one thread once per
    process (storage.analyses.limit_blas_threads); callers outside it should do the same."""
    y, m, h, H = series.values, series.season, options["holdout"], options["horizon"]
    level = options["level"]
    check_length(len(y), m, h, series.grain)
    n_train = len(y) - h
    train, test = y[:n_train], y[n_train:]
    names, left_out = candidates(train, m)
    singles = [name for name in names if name != "combination"]
    origins = origins_for(n_train, m, h, options["folds"])
    started = time.perf_counter()

    # 2. rolling-origin validation inside the training part
    forecasts: dict[str, list[np.ndarray]] = {name: [] for name in singles}
    failed: dict[str, str] = {}
    steps = len(origins) * len(singles) + 3
    done = 0
    for origin in origins:
        for name in singles:
            done += 1
            progress(0.05 + 0.8 * done / steps, f"Validating {MODEL_LABELS[name]} at origin {origin}")
            if name in failed:
                continue
            try:
                forecasts[name].append(fit_forecast(name, train[:origin], m, h, level).mean)
            except Exception as exc:  # noqa: BLE001 (a model that cannot fit this series sits out, said in the result)
                failed[name] = f"{type(exc).__name__}: {exc}"[:200]
    actuals = [train[origin:origin + h] for origin in origins]

    def scored(name: str, per_origin: list[np.ndarray]) -> dict:
        errors = [errors_of(a, f) for a, f in zip(actuals, per_origin)]
        return {"model": name, "label": MODEL_LABELS[name], "mae": float(np.mean([e["mae"] for e in errors])),
                "mape": _mean_or_none([e["mape"] for e in errors]),
                "rmse": float(np.mean([e["rmse"] for e in errors]))}

    validation = [scored(name, forecasts[name]) for name in singles if name not in failed]
    mae_of = {row["model"]: row["mae"] for row in validation}
    combo_parts = [min((v for v in family if v in mae_of), key=mae_of.get)
                   for family in FAMILIES if any(v in mae_of for v in family)]
    if "combination" in names and len(combo_parts) >= 2:
        validation.append(scored("combination", [np.mean([forecasts[p][i] for p in combo_parts], axis=0)
                                                 for i in range(len(origins))]))
    # sorted() is stable: on a tie the earlier (simpler) candidate stays first.
    ranking = [row["model"] for row in sorted(validation, key=lambda row: row["mae"])]

    # 3. the chosen model, fitted on the training part, scored once on the holdout. Should
    # it fail to fit there, the next in the validation ranking takes its place (said in the
    # result); seasonal naive always fits.
    for chosen in ranking:
        progress(0.88, f"Scoring {MODEL_LABELS[chosen]} on the holdout")
        try:
            held = fit_forecast(chosen, train, m, h, level, combo_parts)
            break
        except Exception as exc:  # noqa: BLE001 (said in the result, the next model is tried)
            failed[chosen] = f"{type(exc).__name__}: {exc}"[:200]
    baseline = fit_forecast("seasonal_naive", train, m, h, level)
    holdout_dates = series.dates[n_train:]
    inside = (test >= held.low) & (test <= held.high)
    judged = forecast_verdict.verdict(test, held.mean, baseline.mean, train, m, chosen, MODEL_LABELS[chosen])

    # 4. the chosen model on the whole series, forecasting the future
    progress(0.94, "Forecasting")
    try:
        future = fit_forecast(chosen, y, m, H, level, combo_parts)
    except Exception as exc:  # a person gets the reason, not a traceback
        raise AnalysisError(f"{MODEL_LABELS[chosen]} was chosen and scored, but could not be fitted on the whole "
                            f"series ({type(exc).__name__}: {exc}); try another grain or season") from exc
    future_dates = series.future_dates(H)
    naive_future = fit_forecast("seasonal_naive", y, m, H, level)
    decomposition = timeseries.stl(y, m)
    elapsed = time.perf_counter() - started

    return {
        "model": chosen,
        "model_label": MODEL_LABELS[chosen],
        "combination_of": combo_parts if chosen == "combination" else None,
        "holdout": dict(errors_of(test, held.mean), periods=h, start=holdout_dates[0], end=holdout_dates[-1],
                        interval_coverage=float(inside.mean()), mase=judged["mase"]),
        "baseline": dict(errors_of(test, baseline.mean), model="seasonal_naive", mase=judged["baseline_mase"]),
        "verdict": judged,
        "forecast": [{"date": d, "value": v, "low": lo, "high": hi}
                     for d, v, lo, hi in zip(future_dates, future.mean, future.low, future.high)],
        # What "use the seasonal-naive forecast" means, when the headline says so.
        "baseline_forecast": [{"date": d, "value": v, "low": lo, "high": hi}
                              for d, v, lo, hi in zip(future_dates, naive_future.mean, naive_future.low,
                                                      naive_future.high)],
        "holdout_forecast": [{"date": d, "actual": a, "value": v, "low": lo, "high": hi, "baseline": b}
                             for d, a, v, lo, hi, b in zip(holdout_dates, test, held.mean, held.low, held.high,
                                                           baseline.mean)],
        "validation": {"metric": "mae", "origins": [series.dates[o] for o in origins], "horizon": h,
                       "scores": sorted(validation, key=lambda row: row["mae"]),
                       "failed": [{"model": k, "error": v} for k, v in failed.items()], "left_out": left_out},
        "history": [{"date": d, "value": v} for d, v in zip(series.dates, y)],
        "stl": decomposition,
        "season": m,
        "grain": series.grain,
        "grain_detected": series.grain_detected,
        "agg": series.agg,
        "interval": level,
        "gaps": series.gaps,
        "points": len(y),
        "notes": series.notes,
        "seconds": elapsed,
    }


def _mean_or_none(values):
    values = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.mean(values)) if values else None


def run(con, source_sql: str, schema: list[dict], params: dict, progress) -> dict:
    """The ``forecast`` analysis: POST /api/v1/analyze/forecast."""
    options = read_params(params)
    series = timeseries.build(con, source_sql, schema, params)
    options = with_defaults(options, series.grain)
    progress(0.05, f"Aggregated {len(series.values)} {series.grain}s")
    return forecast_series(series, options, progress)
