"""Text, categories and booleans in the first scan (lengths, empty strings, true/false),
and the value counts of every column in one GROUPING SETS scan: distinct values, the
most frequent values, values seen once, and the entropy behind the imbalance alert."""
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


def value_counts(con, source_sql: str, columns: list[ProfiledColumn], jsonable) -> dict[int, dict]:
    """{column index: {"distinct", "singletons", "entropy", "top_values"}} for the given
    columns, exact, from one scan. Ties in the top values are broken by the value's text."""
    if not columns:
        return {}
    aliases = [f"v{c.index}" for c in columns]
    inner = ", ".join(f"{c.value} AS v{c.index}" for c in columns)
    which = "CASE " + " ".join(f"WHEN GROUPING({a}) = 0 THEN {c.index}" for a, c in zip(aliases, columns)) + " END"
    key = "CASE col " + " ".join(f"WHEN {c.index} THEN CAST({a} AS VARCHAR)" for a, c in zip(aliases, columns)) + " END"
    sets = ", ".join(f"({a})" for a in aliases)
    con.execute("DROP TABLE IF EXISTS profile_value_counts")
    con.execute(
        f"CREATE TEMP TABLE profile_value_counts AS SELECT *, {key} AS key FROM ("
        f"SELECT {which} AS col, {', '.join(aliases)}, count(*) AS n "
        f"FROM (SELECT {inner} FROM {source_sql}) GROUP BY GROUPING SETS ({sets})) WHERE {key} IS NOT NULL"
    )
    try:
        result = {c.index: {"distinct": 0, "singletons": 0, "entropy": None, "top_values": []} for c in columns}
        for index, distinct, singletons, total, nlogn in con.execute(
            "SELECT col, count(*), count_if(n = 1), sum(n), sum(n * ln(n)) FROM profile_value_counts GROUP BY col"
        ).fetchall():
            total = int(total)
            entropy = math.log(total) - float(nlogn) / total if total else None
            result[index].update(distinct=int(distinct), singletons=int(singletons),
                                 entropy=max(entropy, 0.0) if entropy is not None else None)
        rows = con.execute(
            f"SELECT col, {', '.join(aliases)}, n FROM profile_value_counts "
            f"QUALIFY row_number() OVER (PARTITION BY col ORDER BY n DESC, key) <= {TOP_VALUES} "
            "ORDER BY col, n DESC, key"
        ).fetchall()
    finally:
        con.execute("DROP TABLE IF EXISTS profile_value_counts")
    position = {c.index: i for i, c in enumerate(columns)}
    for row in rows:
        index, count = row[0], int(row[-1])
        value = row[1 + position[index]]
        result[index]["top_values"].append({"value": jsonable(value), "count": count})
    return result


def imbalance(distinct: int | None, entropy: float | None):
    """1 - normalised entropy: 0 when every category is equally common, towards 1 when
    one dominates (ydata-profiling's 'imbalance')."""
    if not distinct or distinct < 2 or entropy is None:
        return None
    return max(0.0, 1.0 - entropy / math.log(distinct))
