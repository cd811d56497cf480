"""Text, categories and booleans in the first scan (lengths, empty strings, true/false),
and the value counts of every column: distinct values, the most frequent values, values
seen once, and the entropy behind the imbalance alert."""
from __future__ import annotations

import math

from analytics.profiling.aggregates import AggregateQuery
from analytics.profiling.columns import ProfiledColumn

TOP_VALUES = 10


def first_pass(query: AggregateQuery, col: ProfiledColumn) -> None:
    p, v = f"c{col.index}_", col.value
    query.add(p + "missing", f"count_if({col.missing_condition})")
    if col.kind == "text":
        query.add(p + "length_min", f"min(length({v}))")
        query.add(p + "length_mean", f"avg(length({v}))")
        query.add(p + "length_max", f"max(length({v}))")
        query.add(p + "empty", f"count_if({v} = '')")
        query.add(p + "blank", f"count_if({v} <> '' AND trim({v}) = '')")
    elif col.kind == "boolean":
        query.add(p + "true", f"count_if({col.q})")
        query.add(p + "false", f"count_if(NOT {col.q})")


def finish(col: ProfiledColumn, first: dict, out: dict) -> None:
    p = f"c{col.index}_"
    if col.kind == "text":
        mean = first[p + "length_mean"]
        out.update(length_min=first[p + "length_min"], length_mean=float(mean) if mean is not None else None,
                   length_max=first[p + "length_max"], empty=first[p + "empty"], blank=first[p + "blank"])
    elif col.kind == "boolean":
        out.update(true_count=first[p + "true"], false_count=first[p + "false"])


def value_counts(con, source_sql: str, columns: list[ProfiledColumn], jsonable, on_column=None,
                 extra=None) -> dict[int, dict]:
    """{column index: {"distinct", "singletons", "entropy", "top_values", "extra"}}, exact.
    One GROUP BY per column into a temp table (value v, count n): each reads only its own
    column from the Parquet file, and is much faster in DuckDB than one GROUPING SETS
    query over all of them (measured 10x on a million rows). ``extra(con, table, col)``
    computes more from the table while it exists (quantiles, histograms). Ties in the top
    values are broken by the value, ascending."""
    result = {}
    table = "profile_value_counts"
    for done, col in enumerate(columns):
        if on_column:
            on_column(done)  # progress, and the chance to stop when the job is cancelled
        con.execute(f"DROP TABLE IF EXISTS {table}")
        con.execute(f"CREATE TEMP TABLE {table} AS SELECT v, count(*) AS n "
                    f"FROM (SELECT {col.value} AS v FROM {source_sql}) WHERE v IS NOT NULL GROUP BY v")
        try:
            distinct, singletons, total, nlogn, values, counts = con.execute(
                f"WITH top AS (SELECT v, n FROM {table} ORDER BY n DESC, v LIMIT {TOP_VALUES}) "
                f"SELECT count(*), count_if(n = 1), sum(n), sum(n * ln(n)), "
                "(SELECT list(v ORDER BY n DESC, v) FROM top), (SELECT list(n ORDER BY n DESC, v) FROM top) "
                f"FROM {table}").fetchone()
            more = extra(con, table, col) if extra else {}
        finally:
            con.execute(f"DROP TABLE IF EXISTS {table}")
        total = int(total or 0)
        entropy = max(math.log(total) - float(nlogn) / total, 0.0) if total else None
        result[col.index] = {"distinct": int(distinct), "singletons": int(singletons or 0), "entropy": entropy,
                             "top_values": [{"value": jsonable(v), "count": int(n)}
                                            for v, n in zip(values or [], counts or [])],
                             "extra": more}
    return result


def imbalance(distinct: int | None, entropy: float | None):
    """1 - normalised entropy: 0 when every category is equally common, towards 1 when
    one dominates (ydata-profiling's 'imbalance')."""
    if not distinct or distinct < 2 or entropy is None:
        return None
    return max(0.0, 1.0 - entropy / math.log(distinct))
