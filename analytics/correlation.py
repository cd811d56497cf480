"""Correlation: a Pearson, Spearman or Kendall matrix of numeric columns with the p-value
and the number of rows behind each coefficient (pairwise complete rows, scipy.stats), the
pairs ranked by strength, and a few thousand sampled points for a scatter matrix."""
from __future__ import annotations

import numpy as np
from scipy import stats as st

from analytics._fields import NUMERIC_TYPES, choice, columns, integer, read_rows
from errors import AnalysisError

SAMPLE_ROWS = 200_000     # coefficients are computed on a random sample of this many rows above it
SCATTER_POINTS = 2_000    # points sent for the scatter matrix
MAX_COLUMNS = 30
SCATTER_MAX_COLUMNS = 6
TOP_PAIRS = 10

METHODS = {"pearson": st.pearsonr, "spearman": st.spearmanr, "kendall": st.kendalltau}


def run(con, source_sql: str, schema: list[dict], params: dict, progress) -> dict:
    method = choice(params, "method", tuple(METHODS), default="pearson")
    names = columns(params, "columns", schema, required=False, allowed_types=NUMERIC_TYPES,
                    what="numeric column", maximum=MAX_COLUMNS)
    if not names:
        names = [c["name"] for c in schema if c["type"] in NUMERIC_TYPES][:12]
    if len(names) < 2:
        raise AnalysisError("A correlation needs at least two numeric columns")
    seed = integer(params, "seed", 0, 0, 2**31 - 1)
    scatter_cols = columns(params, "scatter_columns", schema, required=False, allowed_types=NUMERIC_TYPES,
                           what="numeric column", maximum=SCATTER_MAX_COLUMNS) or names[:4]
    wanted = names + [c for c in scatter_cols if c not in names]
    frame, total, sampled = read_rows(con, source_sql, wanted, sample=SAMPLE_ROWS, seed=seed)
    data = {n: frame[n].to_numpy(dtype=float, na_value=np.nan) for n in wanted}
    k = len(names)
    matrix = np.eye(k)
    p_values = np.zeros((k, k))
    counts = np.zeros((k, k), dtype=int)
    pairs = []
    fn = METHODS[method]
    for i in range(k):
        counts[i, i] = int(np.isfinite(data[names[i]]).sum())
        for j in range(i + 1, k):
            progress(0.05 + 0.85 * (i * k + j) / (k * k), f"Correlating {names[i]} and {names[j]}")
            x, y = data[names[i]], data[names[j]]
            ok = np.isfinite(x) & np.isfinite(y)
            n = int(ok.sum())
            if n < 3 or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
                r, p = np.nan, np.nan  # constant or too few values: undefined, shown as empty
            else:
                res = fn(x[ok], y[ok])
                r, p = float(res.statistic), float(res.pvalue)
            matrix[i, j] = matrix[j, i] = r
            p_values[i, j] = p_values[j, i] = p
            counts[i, j] = counts[j, i] = n
            if np.isfinite(r):
                pairs.append({"a": names[i], "b": names[j], "r": r, "p": p, "n": n})
    for i in range(k):
        if counts[i, i] < 3 or not np.isfinite(data[names[i]]).any() or np.nanstd(data[names[i]]) == 0:
            matrix[i, i] = np.nan  # a constant column correlates with nothing, itself included
    if not pairs:
        raise AnalysisError("None of the chosen columns vary together on enough rows to correlate "
                            "(each pair needs at least 3 rows with both values and some spread)")
    pairs.sort(key=lambda item: -abs(item["r"]))
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(frame), size=min(SCATTER_POINTS, len(frame)), replace=False))
    scatter = {c: data[c][pick] for c in scatter_cols}
    return {
        "method": method, "columns": names, "matrix": matrix, "p_values": p_values, "n": counts,
        "pairs": pairs[:TOP_PAIRS], "rows": int(total), "sample_size": len(frame), "sampled": sampled,
        "scatter": {"columns": scatter_cols, "points": scatter},
        "note": ("Each coefficient uses the rows where both columns have a value (pairwise complete). "
                 "p-values test the null hypothesis of no correlation (two-sided)."),
    }
