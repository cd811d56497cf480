"""Probabilistic customer-lifetime models, fitted by maximum likelihood on one row per
customer (numpy and scipy; the rows come from DuckDB):

* BG/NBD (Fader, Hardie and Lee, "Counting your customers the easy way", 2005): while
  active, a customer buys as a Poisson process with rate λ ~ Gamma(r, α); after each
  purchase they drop out with probability p ~ Beta(a, b). From each customer's repeat
  purchases x, the time of their last purchase t_x and their age T (all since their first
  purchase, in days) it gives the expected purchases in the next t days and the
  probability that the customer is still active.
* Gamma-Gamma (Fader, Hardie and Lee, "RFM and CLV", 2005): a customer's order values
  vary around their own mean, which varies across customers; it shrinks each customer's
  average order value towards the population's, the more the fewer orders they have.

Parameters are fitted on the log scale (all must be positive) with L-BFGS-B from a fixed
start, so a fit is reproducible.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import optimize, special

from errors import AnalysisError

MIN_CUSTOMERS = 20  # fewer, and there is nothing to fit a population to


def _bgnbd_negative_ll(log_params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> float:
    r, alpha, a, b = np.exp(log_params)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x) - special.betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    # ln(a / (b + x - 1)) - (r + x) ln(alpha + t_x), only where there are repeat purchases.
    a4 = np.where(repeat, np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
                  -np.inf)
    ll = a1 + a2 + np.logaddexp(a3, a4)
    return -float(np.sum(ll))


def fit_bgnbd(x, t_x, T) -> dict:
    """{"r", "alpha", "a", "b"} by maximum likelihood; x repeat purchases, t_x and T in days."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if len(x) < MIN_CUSTOMERS:
        raise AnalysisError(f"The BG/NBD model needs at least {MIN_CUSTOMERS} customers; there are {len(x)}")
    if not np.any(x > 0):
        raise AnalysisError("No customer has bought twice: the BG/NBD model has no repeat purchases to learn from")
    # Start: the rate's mean about the customers' mean daily rate, dropout probability about 1/2.
    mean_rate = max(float(np.sum(x) / max(np.sum(T), 1.0)), 1e-6)
    start = np.log([1.0, 1.0 / mean_rate, 1.0, 1.0])
    found = optimize.minimize(_bgnbd_negative_ll, start, args=(x, t_x, T), method="L-BFGS-B",
                              bounds=[(-10, 10), (-10, 15), (-10, 10), (-10, 10)])
    if not np.isfinite(found.fun):
        raise AnalysisError("The BG/NBD model could not be fitted to these customers")
    r, alpha, a, b = (float(v) for v in np.exp(found.x))
    return {"r": r, "alpha": alpha, "a": a, "b": b, "log_likelihood": -float(found.fun),
            "converged": bool(found.success)}


def expected_purchases(params: dict, t: float, x, t_x, T) -> np.ndarray:
    """Each customer's expected number of purchases in the next ``t`` days, given their
    history (the BG/NBD conditional expectation)."""
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    z = t / (alpha + T + t)
    hyper = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    numerator = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyper)
    return numerator / _alive_denominator(params, x, t_x, T)


def probability_alive(params: dict, x, t_x, T) -> np.ndarray:
    """The probability that each customer has not dropped out by now."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    return 1.0 / _alive_denominator(params, x, t_x, T)


def _alive_denominator(params: dict, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    r, alpha, a, b = params["r"], params["alpha"], params["a"], params["b"]
    repeat = x > 0
    ratio = np.where(repeat, a / np.where(repeat, b + x - 1, 1.0), 0.0)
    return 1.0 + ratio * ((alpha + T) / (alpha + t_x)) ** (r + x)


def _gamma_gamma_negative_ll(log_params: np.ndarray, x: np.ndarray, m: np.ndarray) -> float:
    p, q, v = np.exp(log_params)
    ll = (special.gammaln(p * x + q) - special.gammaln(p * x) - special.gammaln(q) + q * np.log(v)
          + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(x * m + v))
    return -float(np.sum(ll))


def fit_gamma_gamma(x, m) -> dict:
    """{"p", "q", "v"} from customers' order counts ``x`` (> 0) and mean order values ``m`` (> 0)."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    keep = (x > 0) & (m > 0) & np.isfinite(m)
    x, m = x[keep], m[keep]
    if len(x) < MIN_CUSTOMERS:
        raise AnalysisError(f"The Gamma-Gamma model needs at least {MIN_CUSTOMERS} customers with repeat orders")
    found = optimize.minimize(_gamma_gamma_negative_ll, np.log([1.0, 1.0, float(np.mean(m))]), args=(x, m),
                              method="L-BFGS-B", bounds=[(-10, 10), (-10, 10), (-10, 25)])
    p, q, v = (float(value) for value in np.exp(found.x))
    if q <= 1:
        raise AnalysisError("The Gamma-Gamma model found no finite mean order value for these customers")
    return {"p": p, "q": q, "v": v, "log_likelihood": -float(found.fun), "converged": bool(found.success)}


def expected_order_value(params: dict, x, m) -> np.ndarray:
    """Each customer's expected order value: their own mean ``m`` over ``x`` orders, shrunk
    towards the population mean p·v/(q − 1). A customer with no orders gets that mean."""
    p, q, v = params["p"], params["q"], params["v"]
    x, m = np.asarray(x, dtype=float), np.nan_to_num(np.asarray(m, dtype=float))
    return (p * (v + x * m)) / (p * x + q - 1)


def population_order_value(params: dict) -> float:
    return params["p"] * params["v"] / (params["q"] - 1) if params["q"] > 1 else math.nan
