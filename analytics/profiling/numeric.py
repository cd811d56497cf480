"""Number columns: counts in the first scan; central moments (around the mean the first
scan found), exact quantiles and the histogram from the column's value counts, or from a
second scan for the few columns too varied to count.

Two passes rather than sums of powers: skewness and kurtosis from raw power sums lose
digits when the mean is large next to the spread (years, prices in cents), and pandas
computes them from central moments too. The column sum (hence the mean) uses DuckDB's
fsum (compensated summation).
"""
from __future__ import annotations

import math

from analytics.profiling.aggregates import AggregateQuery
from analytics.profiling.columns import ProfiledColumn
from analytics.roles import may_be_clock_time

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
HISTOGRAM_BINS = 30
QUANTILE_MEMORY = 256 * 1024 * 1024
# Integer columns spanning fewer values than this get one bar per value.
INTEGER_BAR_PER_VALUE = 40


def first_pass(query: AggregateQuery, col: ProfiledColumn) -> None:
    p, q, fin = f"c{col.index}_", col.q, col.finite
    query.add(p + "missing", f"count_if({col.missing_condition})")
    query.add(p + "infinite", f"count_if(isinf({q}))" if col.is_float else "0")
    query.add(p + "n", f"count({fin})")
    query.add(p + "sum", f"fsum({fin})")
    if col.is_integer:
        query.add(p + "min", f"min({q})")
        query.add(p + "max", f"max({q})")
    else:
        query.add(p + "min", f"min({fin})")
        query.add(p + "max", f"max({fin})")
    query.add(p + "zeros", f"count_if({q} = 0)")
    query.add(p + "negatives", f"count_if({q} < 0)")
    # For column roles (analytics.roles): whole numbers, and, where the name allows a
    # clock time written as hhmm, the values that cannot be one.
    query.add(p + "fractional", "0" if col.is_integer else f"count_if({fin} <> floor({fin}))")
    if may_be_clock_time(col.name):
        query.add(p + "minutes_over_59", minutes_over_59_sql(col))


def minutes_over_59_sql(col: ProfiledColumn) -> str:
    """How many values cannot be an hhmm clock time: a fraction, or last two digits of
    60 or more."""
    if col.is_integer:
        return f"count_if(abs({col.q}) % 100 >= 60)"
    return f"count_if({col.finite} <> floor({col.finite}) OR abs({col.finite}) % 100 >= 60)"


def histogram_plan(col: ProfiledColumn, low, high) -> tuple[float, float, int]:
    """(first edge, bin width, number of bins) for the finite range [low, high]."""
    low, high = float(low), float(high)
    if col.is_integer and high - low < INTEGER_BAR_PER_VALUE:
        return low - 0.5, 1.0, int(high - low) + 1
    if high == low:
        return low - 0.5, 1.0, 1
    return low, (high - low) / HISTOGRAM_BINS, HISTOGRAM_BINS


def plan(col: ProfiledColumn, first: dict) -> None:
    """The mean and the histogram's bins, from the first scan's sum, count and range."""
    p = f"c{col.index}_"
    if first[p + "n"]:
        first[p + "mean"] = first[p + "sum"] / first[p + "n"]
        first[p + "hist_plan"] = histogram_plan(col, first[p + "min"], first[p + "max"])


def second_pass(query: AggregateQuery, col: ProfiledColumn, first: dict) -> None:
    """Moments and the histogram of a column whose values are not counted (too varied
    for value counts; a counted column gets both from from_value_counts, far cheaper)."""
    p, fin, i = f"c{col.index}_", col.finite, col.index
    if not first[p + "n"]:
        return
    # Deviations from pass 1's mean, once per row; their powers summed. Central moments
    # are sums of small, mostly positive terms: plain summation keeps them to ~1e-13.
    query.project(f"profile_d{i}", f"{fin} - ?", (first[p + "mean"],))
    query.add(p + "m2", f"sum(profile_d{i} * profile_d{i})")
    query.add(p + "m3", f"sum(profile_d{i} * profile_d{i} * profile_d{i})")
    query.add(p + "m4", f"sum((profile_d{i} * profile_d{i}) * (profile_d{i} * profile_d{i}))")
    start, width, bins = first[p + "hist_plan"]
    query.add(p + "hist", f"histogram(CASE WHEN {fin} IS NOT NULL THEN "
                          f"least(greatest(floor(({fin} - ?) / ?), 0), ?)::INTEGER END)", (start, width, bins - 1))


def _lerp(a: float, b: float, t: float) -> float:
    """numpy's linear interpolation, the same arithmetic to the last bit."""
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def from_value_counts(con, table: str, col: ProfiledColumn, first: dict, source_sql: str) -> dict:
    """Exact quantiles and the histogram from the column's value counts (``table``: v, n)
    rather than from every row: no second read of the file, and where values repeat a
    cumulative count over the distinct values replaces a sort of all rows. Quantile q is
    linear interpolation between the values at 0-based ranks floor(h) and ceil(h),
    h = (n − 1)·q, as numpy and pandas compute it. When most values are distinct the
    cumulative count gains nothing over DuckDB's quantile_cont (a selection, not a sort),
    which then runs on the distinct values (all distinct) or on the column itself."""
    p = f"c{col.index}_"
    n = first[p + "n"]
    if not n:
        return {}
    x = "CAST(v AS DOUBLE)"
    finite = f"isfinite({x})" if col.is_float else "true"
    # The central moments too: each distinct value's deviation from the mean, its powers
    # weighted by the value's count.
    distinct, m2, m3, m4 = con.execute(
        f"SELECT count(*), sum(n * (d * d)), sum(n * (d * d * d)), sum(n * ((d * d) * (d * d))) "
        f"FROM (SELECT n, {x} - ? AS d FROM {table} WHERE {finite})", [first[p + "mean"]]).fetchone()
    if distinct == n:
        quantiles = con.execute(f"SELECT {quantile_sql(col, x)} FROM {table} WHERE {finite}").fetchone()[0]
    elif distinct > n / 8:
        quantiles = con.execute(f"SELECT {quantile_sql(col)} FROM {source_sql}").fetchone()[0]
    else:
        positions = [(n - 1) * q for q in QUANTILES]
        ranks = [r for h in positions for r in (math.floor(h), math.ceil(h))]
        row = con.execute(
            f"WITH c AS (SELECT {x} AS x, sum(n) OVER (ORDER BY {x}) AS cum FROM {table} WHERE {finite}) "
            f"SELECT {', '.join('min(x) FILTER (WHERE cum > ?)' for _ in ranks)} FROM c", ranks).fetchone()
        quantiles = [_lerp(row[2 * k], row[2 * k + 1], h - math.floor(h)) for k, h in enumerate(positions)]
    start, width, bins = first[p + "hist_plan"]
    hist = dict(con.execute(
        f"SELECT least(greatest(floor(({x} - ?) / ?), 0), ?)::INTEGER AS b, sum(n) FROM {table} "
        f"WHERE {finite} GROUP BY b", [start, width, bins - 1]).fetchall())
    return {p + "quantiles": quantiles, p + "hist": hist, p + "m2": m2, p + "m3": m3, p + "m4": m4}


def quantile_sql(col: ProfiledColumn, expression: str | None = None) -> str:
    return f"quantile_cont({expression or col.finite}, [{', '.join(str(x) for x in QUANTILES)}])"


def quantile_batches(columns: list[ProfiledColumn], rows: int) -> list[list[ProfiledColumn]]:
    """Exact quantiles hold every value of a column in memory (DuckDB cannot spill them):
    as many columns per query as fit QUANTILE_MEMORY at ~16 bytes a value."""
    per_query = max(1, QUANTILE_MEMORY // max(1, rows * 16))
    return [columns[i:i + per_query] for i in range(0, len(columns), per_query)]


def skewness(n: int, m2: float, m3: float):
    """pandas' Series.skew(): the adjusted Fisher-Pearson coefficient G1."""
    if n < 3:
        return None
    if m2 == 0:
        return None  # undefined for a constant column (pandas answers NaN)
    return (n * math.sqrt(n - 1) / (n - 2)) * (m3 / m2 ** 1.5)


def kurtosis(n: int, m2: float, m4: float):
    """pandas' Series.kurt(): the adjusted excess kurtosis G2."""
    if n < 4:
        return None
    if m2 == 0:
        return None
    numerator = n * (n + 1) * (n - 1) * m4
    denominator = (n - 2) * (n - 3) * m2 ** 2
    return numerator / denominator - 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))


def _number(value):
    if value is None:
        return None
    if isinstance(value, int):
        return value
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def finish(col: ProfiledColumn, first: dict, second: dict, out: dict) -> None:
    p = f"c{col.index}_"
    n = first[p + "n"] or 0
    out.update(infinite=first[p + "infinite"], zeros=first[p + "zeros"], negatives=first[p + "negatives"],
               finite_count=n, minutes_over_59=first.get(p + "minutes_over_59"))
    out["integral"] = bool(n) and not first[p + "fractional"]
    if not n:
        return
    m2, m3, m4 = (second[p + f"m{k}"] for k in (2, 3, 4))
    q05, q25, median, q75, q95 = second[p + "quantiles"]
    out.update(
        min=_number(first[p + "min"]), max=_number(first[p + "max"]), sum=_number(first[p + "sum"]),
        mean=_number(first[p + "mean"]), std=_number(math.sqrt(m2 / (n - 1))) if n > 1 else None,
        variance=_number(m2 / (n - 1)) if n > 1 else None,
        median=median, q05=q05, q25=q25, q75=q75, q95=q95, iqr=q75 - q25,
        skewness=_number(skewness(n, m2, m3)), kurtosis=_number(kurtosis(n, m2, m4)),
    )
    if out["mean"]:
        out["cv"] = _number(out["std"] / abs(out["mean"])) if out["std"] is not None else None
    start, width, bins = first[p + "hist_plan"]
    counts = [0] * bins
    for index, count in (second[p + "hist"] or {}).items():
        counts[int(index)] = int(count)
    out["histogram"] = {"edges": [start + width * i for i in range(bins + 1)], "counts": counts}
