"""Analyses on a million rows, timed end to end as the app runs them (the pure function
``KINDS[kind](con, source_sql, schema, params, progress)`` on a DuckDB connection with the
house memory limit, reading the Parquet file itself), against the plain library call on
the whole table in memory.

Cases (``CASES``; a capability adds its own function to the list):

- OLS, 1,000,000 rows × 10 features (8 numeric, 2 categorical): target under 5 s. The app
  fits on a DuckDB reservoir sample of ``regression.SAMPLE_ROWS`` rows; the baseline is
  ``statsmodels.formula.api.ols`` on all rows already in pandas (reading not counted).
- k-means with automatic k (silhouette over k = 2..10), 1,000,000 rows × 8 features:
  target under 30 s. The app fits on a sample of ``clustering.FIT_ROWS`` rows, chooses k
  on ``clustering.SELECT_ROWS`` of them with the silhouette on ``SILHOUETTE_ROWS``; the
  baseline is one scikit-learn ``KMeans`` fit with the true k on all rows (no choice of k,
  which on all rows would need a silhouette over 10¹² pairs).

- Forecast quality on Online Retail daily revenue (``tests/fixtures/online-retail-daily-
  revenue.csv``, 305 trading days) with the last 30 trading days held out: "ours" is the
  holdout MAPE (%) of the model chosen by rolling-origin validation inside the training part,
  "baseline" the seasonal-naive MAPE on the same holdout (target: under 26 %; the time the
  whole forecast took is in the note). This case does not depend on ``--rows``.

Data are generated with a fixed seed into a temp dir (nothing is downloaded).

    python -m bench.analytics              # both cases, 1M rows
    python -m bench.analytics --rows 200000
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SEED = 20241122
DEFAULT_ROWS = 1_000_000
TARGET_OLS_SECONDS = 5.0
TARGET_KMEANS_SECONDS = 30.0
OLS_COEFFICIENTS = [1.5, -2.0, 0.5, 3.0, -1.0, 0.25, 2.5, -0.75]


def _write(frame: pd.DataFrame, path: Path) -> list[dict]:
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, compression="zstd")
    return [{"name": c, "type": "float" if frame[c].dtype.kind == "f" else "categorical",
             "storage_type": "DOUBLE" if frame[c].dtype.kind == "f" else "VARCHAR"} for c in frame.columns]


def ols_data(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    frame = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(1, 9)})
    frame["region"] = rng.choice(["north", "south", "east", "west"], size=rows)
    frame["plan"] = rng.choice(["free", "basic", "pro"], size=rows)
    y = 10 + sum(b * frame[f"x{i}"] for i, b in enumerate(OLS_COEFFICIENTS, start=1))
    y += np.where(frame["region"] == "south", 2.0, 0.0) + np.where(frame["plan"] == "pro", 5.0, 0.0)
    frame["y"] = y + rng.normal(scale=2.0, size=rows)
    return frame


def kmeans_data(rows: int) -> tuple[pd.DataFrame, int]:
    rng = np.random.default_rng(SEED + 1)
    centers = rng.uniform(-10, 10, size=(4, 8))
    which = rng.integers(0, len(centers), size=rows)
    points = centers[which] + rng.normal(scale=1.5, size=(rows, 8))
    return pd.DataFrame(points, columns=[f"f{i}" for i in range(1, 9)]), len(centers)


def _run_kind(kind: str, path: Path, schema: list[dict], params: dict, tmp: Path) -> tuple[float, dict]:
    # The libraries are imported before the clock starts, as in a running server, and the
    # BLAS thread cap the app sets (storage.analyses.BLAS_THREADS) applies here too.
    import sklearn.cluster  # noqa: F401
    import statsmodels.api  # noqa: F401

    from storage.analyses import KINDS, limit_blas_threads, to_json
    from storage.duck import connect, literal

    limit_blas_threads()

    con = connect(tmp / "duck")
    try:
        start = time.perf_counter()
        result = to_json(KINDS[kind](con, f"read_parquet({literal(str(path))})", schema, params, lambda *_: None))
        return time.perf_counter() - start, result
    finally:
        con.close()


def case_ols(rows: int, tmp: Path) -> dict:
    import statsmodels.formula.api as smf


    frame = ols_data(rows)
    path = tmp / "ols.parquet"
    schema = _write(frame, path)
    features = [f"x{i}" for i in range(1, 9)] + ["region", "plan"]
    ours, result = _run_kind("regression", path, schema, {"target": "y", "features": features, "model": "ols"}, tmp)
    start = time.perf_counter()
    smf.ols("y ~ " + " + ".join(f"C({f})" if f in ("region", "plan") else f for f in features), frame).fit()
    baseline = time.perf_counter() - start
    estimates = {c["term"]: c["estimate"] for c in result["coefficients"]}
    error = max(abs(estimates[f"x{i}"] - b) for i, b in enumerate(OLS_COEFFICIENTS, start=1))
    return {"case": f"OLS {rows:,}×10", "ours": ours, "baseline": baseline,
            "note": f"sample {result['sample_size']:,} of {rows:,} rows; max |coef error| {error:.3f}; "
                    f"R² {result['r2']:.3f}; target < {TARGET_OLS_SECONDS:g} s "
                    f"{'met' if ours < TARGET_OLS_SECONDS else 'MISSED'}; baseline: statsmodels on all rows "
                    "in memory"}


def case_kmeans(rows: int, tmp: Path) -> dict:
    from sklearn.cluster import KMeans

    from analytics import clustering

    frame, true_k = kmeans_data(rows)
    path = tmp / "kmeans.parquet"
    schema = _write(frame, path)
    ours, result = _run_kind("clustering", path, schema,
                             {"features": list(frame.columns), "k": None, "k_range": [2, 10], "seed": 0}, tmp)
    start = time.perf_counter()
    x = (frame - frame.mean()) / frame.std(ddof=0)
    KMeans(n_clusters=true_k, n_init=clustering.N_INIT, random_state=0).fit(x.to_numpy())
    baseline = time.perf_counter() - start
    return {"case": f"k-means auto k {rows:,}×8", "ours": ours, "baseline": baseline,
            "note": f"k={result['k']} (true {true_k}); fit sample {result['sample_size']:,}, k chosen on "
                    f"{min(clustering.SELECT_ROWS, result['sample_size']):,}, silhouette on "
                    f"{result['silhouette_sample']:,}; target < {TARGET_KMEANS_SECONDS:g} s "
                    f"{'met' if ours < TARGET_KMEANS_SECONDS else 'MISSED'}; baseline: one KMeans fit with the "
                    "true k on all rows"}


TARGET_FORECAST_MAPE = 26.0
FORECAST_SERIES = ROOT / "tests" / "fixtures" / "online-retail-daily-revenue.csv"


def case_forecast(_rows: int, tmp: Path) -> dict:
    frame = pd.read_csv(FORECAST_SERIES, parse_dates=["date"])
    path = tmp / "revenue.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)
    schema = [{"name": "date", "type": "timestamp"}, {"name": "revenue", "type": "float"}]
    seconds, result = _run_kind("forecast", path, schema, {"date": "date", "value": "revenue", "agg": "sum",
                                                           "grain": "day", "holdout": 30, "horizon": 30}, tmp)
    mape, naive = result["holdout"]["mape"], result["baseline"]["mape"]
    return {"case": "forecast MAPE % (retail 30d)", "ours": mape, "baseline": naive, "unit": "%",
            "note": f"chosen: {result['model']}; {seconds:.1f} s for validation, holdout and forecast; "
                    f"target < {TARGET_FORECAST_MAPE:g} % {'met' if mape < TARGET_FORECAST_MAPE else 'MISSED'}; "
                    f"baseline: seasonal naive (references: damped ETS 26.1, SARIMA 28.5, Theta 28.9, Prophet 31)"}


# Each case: fn(rows, tmp_dir) -> {"case", "ours", "baseline", "note"}.
CASES = [case_ols, case_kmeans, case_forecast]


def run(rows: int = DEFAULT_ROWS) -> list[dict]:
    tmp = Path(tempfile.mkdtemp(prefix="datainsight-bench-analytics-"))
    try:
        return [case(rows, tmp) for case in CASES]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    args = parser.parse_args()
    for row in run(args.rows):
        unit = row.get("unit", "s")  # the forecast case compares errors (%), not times
        print(f"{row['case']:<28} ours {row['ours']:7.2f} {unit}   baseline {row['baseline']:7.2f} {unit}   "
              f"{row['note']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
