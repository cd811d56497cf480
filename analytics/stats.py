"""Statistics: descriptive statistics grouped by up to two columns and pivot tables (both
aggregated in DuckDB, any size), and tests between a column and a grouping (scipy.stats):
Welch's t-test for two groups, one-way ANOVA (with Welch's and Kruskal-Wallis beside it)
for more, a chi-square test of independence for two categorical columns. Each test
result names the test and states its assumptions and whether the data meet them.

``params["analysis"]`` picks one of "describe" (default), "pivot", "test".
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats as st

from analytics._fields import (
    CATEGORY_TYPES,
    NUMERIC_TYPES,
    check_column,
    choice,
    column,
    columns,
    integer,
    q,
    read_rows,
    types_of,
)
from errors import AnalysisError, InvalidSpec

MAX_GROUPS = 500            # describe: at most this many groups are listed (largest first)
PIVOT_MAX_ROWS = 200        # pivot: row labels kept (largest first)
PIVOT_MAX_COLUMNS = 50      # pivot: column labels kept (largest first)
TEST_SAMPLE_ROWS = 1_000_000  # t-test / ANOVA: above this many rows, a random sample of this size
TEST_MAX_GROUPS = 50        # ANOVA and chi-square: at most this many levels per side
SEED = 0

AGGREGATES = {"count": "count({v})", "sum": "sum({v})", "mean": "avg({v})", "median": "median({v})",
              "min": "min({v})", "max": "max({v})", "std": "stddev_samp({v})"}


def run(con, source_sql: str, schema: list[dict], params: dict, progress) -> dict:
    analysis = choice(params, "analysis", ("describe", "pivot", "test"), default="describe")
    if analysis == "describe":
        return describe(con, source_sql, schema, params)
    if analysis == "pivot":
        return pivot(con, source_sql, schema, params)
    return test(con, source_sql, schema, params, progress)


def _label(value) -> str | None:
    return None if value is None else str(value)


def describe(con, source_sql, schema, params) -> dict:
    types = types_of(schema)
    group_by = columns(params, "group_by", schema, required=False, what="grouping column", maximum=2)
    measures = columns(params, "columns", schema, required=False, what="column")
    if not measures:
        measures = [c["name"] for c in schema if c["type"] in NUMERIC_TYPES and c["name"] not in group_by][:20]
    if not measures:
        raise InvalidSpec("Choose the columns to describe: this dataset has no numeric columns")
    groups_sql = ", ".join(q(g) for g in group_by)
    # One scan for every column and group: aggregates aliased by the column's position.
    parts = ["count(*) AS n"]
    for i, name in enumerate(measures):
        col = q(name)
        if types[name] in NUMERIC_TYPES:
            parts += [f"count({col}) AS c{i}_count", f"avg({col}) AS c{i}_mean", f"stddev_samp({col}) AS c{i}_std",
                      f"min({col}) AS c{i}_min", f"quantile_cont({col}, [0.25, 0.5, 0.75]) AS c{i}_quartiles",
                      f"max({col}) AS c{i}_max"]
        else:
            parts += [f"count({col}) AS c{i}_count", f"count(DISTINCT {col}) AS c{i}_distinct",
                      f"mode({col}) AS c{i}_top"]
    select_groups = groups_sql + ", " if group_by else ""
    sql = f"SELECT {select_groups}{', '.join(parts)} FROM {source_sql}"
    total_groups = 1
    if group_by:
        sql += f" GROUP BY {groups_sql} ORDER BY n DESC, {groups_sql} LIMIT {MAX_GROUPS}"
        total_groups = con.execute(f"SELECT count(*) FROM (SELECT 1 FROM {source_sql} GROUP BY {groups_sql})").fetchone()[0]
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    rows = []
    for record in (dict(zip(names, values)) for values in cursor.fetchall()):
        group = {g: _label(record[g]) for g in group_by}
        n = int(record["n"])
        for i, name in enumerate(measures):
            count = int(record[f"c{i}_count"])
            entry = {"group": group, "column": name, "type": types[name], "rows": n, "missing": n - count,
                     "count": count}
            if types[name] in NUMERIC_TYPES:
                quartiles = record[f"c{i}_quartiles"] or [None, None, None]
                entry.update(mean=record[f"c{i}_mean"], std=record[f"c{i}_std"], min=_num(record[f"c{i}_min"]),
                             q1=quartiles[0], median=quartiles[1], q3=quartiles[2], max=_num(record[f"c{i}_max"]))
            else:
                entry.update(distinct_values=int(record[f"c{i}_distinct"]), top=_label(record[f"c{i}_top"]))
            rows.append(entry)
    # Listed column by column, groups largest first within each, as a reader scans them.
    rows.sort(key=lambda r: measures.index(r["column"]))
    return {"analysis": "describe", "group_by": group_by, "columns": measures, "rows": rows,
            "groups": total_groups, "truncated": total_groups > MAX_GROUPS}


def pivot(con, source_sql, schema, params) -> dict:
    row = check_column(params.get("rows"), schema, what="row column") if params.get("rows") else None
    if row is None:
        raise InvalidSpec("Choose the column whose values become the pivot's rows: the field 'rows' is required")
    col = column(params, "columns", schema, required=False, what="column whose values become the pivot's columns")
    if isinstance(params.get("columns"), list):
        raise InvalidSpec("The pivot's 'columns' is one column name")
    agg = choice(params, "agg", tuple(AGGREGATES), default="count")
    value = column(params, "values", schema, required=agg != "count", what="value column",
                   allowed_types=NUMERIC_TYPES if agg not in ("count",) else None)
    measure = AGGREGATES[agg].format(v=q(value) if value else "*")
    source_measure = AGGREGATES[agg].format(v=f"source.{q(value)}" if value else "*")
    row_keys = con.execute(f"SELECT {q(row)} FROM {source_sql} GROUP BY 1 ORDER BY count(*) DESC, 1 "
                           f"LIMIT {PIVOT_MAX_ROWS + 1}").fetchall()
    row_labels = [r[0] for r in row_keys]
    if col:
        col_keys = con.execute(f"SELECT {q(col)} FROM {source_sql} GROUP BY 1 ORDER BY count(*) DESC, 1 "
                               f"LIMIT {PIVOT_MAX_COLUMNS + 1}").fetchall()
        col_labels = [c[0] for c in col_keys]
    else:
        col_labels = [agg]
    rows_cut = len(row_labels) > PIVOT_MAX_ROWS
    cols_cut = len(col_labels) > PIVOT_MAX_COLUMNS
    row_labels, col_labels = row_labels[:PIVOT_MAX_ROWS], col_labels[:PIVOT_MAX_COLUMNS]
    if col:
        # Only the cells shown are computed: rows and columns limited to the top labels in SQL
        # (IS NOT DISTINCT FROM keeps a missing label as a row or column of its own).
        keys = (f"WITH pivot_rows AS (SELECT {q(row)} AS pivot_key FROM {source_sql} GROUP BY 1 "
                f"ORDER BY count(*) DESC, 1 LIMIT {PIVOT_MAX_ROWS}), "
                f"pivot_cols AS (SELECT {q(col)} AS pivot_key FROM {source_sql} GROUP BY 1 "
                f"ORDER BY count(*) DESC, 1 LIMIT {PIVOT_MAX_COLUMNS}) ")
        data = con.execute(
            keys + f"SELECT source.{q(row)}, source.{q(col)}, {source_measure} "
            f"FROM {source_sql} AS source "
            f"JOIN pivot_rows ON source.{q(row)} IS NOT DISTINCT FROM pivot_rows.pivot_key "
            f"JOIN pivot_cols ON source.{q(col)} IS NOT DISTINCT FROM pivot_cols.pivot_key GROUP BY 1, 2"
        ).fetchall()
        lookup = {(r, c): v for r, c, v in data}
    else:
        data = con.execute(f"SELECT {q(row)}, {measure} FROM {source_sql} GROUP BY 1").fetchall()
        lookup = {(r, agg): v for r, v in data}
    cells = [[lookup.get((r, c)) for c in col_labels] for r in row_labels]
    total = con.execute(f"SELECT {measure} FROM {source_sql}").fetchone()[0]
    return {"analysis": "pivot", "rows": row, "columns": col, "values": value, "agg": agg,
            "row_labels": [_label(r) for r in row_labels], "column_labels": [_label(c) for c in col_labels],
            "cells": [[_num(v) for v in line] for line in cells], "total": _num(total),
            "truncated": {"rows": rows_cut, "columns": cols_cut}}


def _num(value):
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def test(con, source_sql, schema, params, progress) -> dict:
    types = types_of(schema)
    name = column(params, "column", schema, what="column to test")
    group = column(params, "group", schema, what="grouping column")
    if name == group:
        raise InvalidSpec("Choose a grouping column different from the column tested")
    if types[name] in NUMERIC_TYPES:  # (a chi-square test counts both columns' levels itself)
        levels = con.execute(f"SELECT count(DISTINCT {q(group)}) FROM {source_sql}").fetchone()[0]
        if levels > TEST_MAX_GROUPS:
            raise InvalidSpec(f"The grouping column {group!r} has {levels} distinct values; "
                              f"a grouping needs at most {TEST_MAX_GROUPS}")
    if types[name] in NUMERIC_TYPES:
        return _compare_means(con, source_sql, name, group, params, progress)
    if types[name] in CATEGORY_TYPES:
        return _chi_square(con, source_sql, name, group)
    raise InvalidSpec(f"The column {name!r} is {types[name]}; a test needs a numeric or categorical column")


def _compare_means(con, source_sql, name, group, params, progress) -> dict:
    seed = integer(params, "seed", SEED, 0, 2**31 - 1)
    frame, total, sampled = read_rows(con, source_sql, [group, name], where=f"{q(name)} IS NOT NULL AND {q(group)} IS NOT NULL",
                                      sample=TEST_SAMPLE_ROWS, seed=seed)
    progress(0.5, "Testing")
    samples = {str(k): v[name].to_numpy(dtype=float) for k, v in frame.groupby(group, sort=True)}
    samples = {k: v for k, v in samples.items() if len(v) > 0}
    if len(samples) > TEST_MAX_GROUPS:
        raise InvalidSpec(f"The grouping column {group!r} has {len(samples)} groups; a test takes at most {TEST_MAX_GROUPS}")
    if len(samples) < 2:
        raise AnalysisError(f"The grouping column {group!r} has fewer than two groups with values of {name!r}; "
                            "a test compares at least two")
    small = [k for k, v in samples.items() if len(v) < 2]
    if small:
        raise AnalysisError(f"The group(s) {', '.join(small[:5])} have fewer than two values of {name!r}; "
                            "every group needs at least two")
    groups = [{"name": k, "n": len(v), "mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)),
               "median": float(np.median(v))} for k, v in samples.items()]
    if all(g["std"] == 0 for g in groups):
        raise AnalysisError(f"{name!r} does not vary within any group; there is nothing to test")
    values = list(samples.values())
    normality = _normality(values)
    levene = st.levene(*values, center="median")
    result = {"analysis": "test", "column": name, "group": group, "groups": groups, "n": len(frame),
              "sample_size": len(frame), "sampled": sampled, "rows": int(total)}
    if len(values) == 2:
        t = st.ttest_ind(values[0], values[1], equal_var=False)
        pooled = math.sqrt(((len(values[0]) - 1) * groups[0]["std"] ** 2 + (len(values[1]) - 1) * groups[1]["std"] ** 2)
                           / (len(values[0]) + len(values[1]) - 2))
        d = (groups[0]["mean"] - groups[1]["mean"]) / pooled if pooled else None
        mw = st.mannwhitneyu(values[0], values[1], alternative="two-sided")
        result.update({
            "test": "Welch's t-test (two-sided)", "statistic": float(t.statistic), "p": float(t.pvalue),
            "df": float(t.df), "effect_size": {"name": "Cohen's d", "value": d},
            "alternative": {"test": "Mann-Whitney U (two-sided)", "statistic": float(mw.statistic), "p": float(mw.pvalue)},
            "assumptions": [
                "Observations are independent of each other.",
                ("Each group's mean is roughly normally distributed: true for normal data or for large groups "
                f"(central limit theorem). {normality}"),
                ("Equal variances are NOT assumed (Welch's correction); "
                f"Levene's test for equal variances: p = {levene.pvalue:.3g}."),
            ],
        })
    else:
        f = st.f_oneway(*values)
        welch = _welch_anova(values)
        kw = st.kruskal(*values)
        grand = np.concatenate(values)
        ss_between = sum(len(v) * (np.mean(v) - grand.mean()) ** 2 for v in values)
        ss_total = float(((grand - grand.mean()) ** 2).sum())
        result.update({
            "test": "One-way ANOVA (F test)", "statistic": float(f.statistic), "p": float(f.pvalue),
            "df": [len(values) - 1, len(grand) - len(values)],
            "effect_size": {"name": "eta squared", "value": ss_between / ss_total if ss_total else None},
            "alternative": {"test": "Kruskal-Wallis H", "statistic": float(kw.statistic), "p": float(kw.pvalue)},
            "welch": welch,
            "assumptions": [
                "Observations are independent of each other.",
                f"Residuals are roughly normal within each group. {normality}",
                f"Groups have equal variances (Levene's test: p = {levene.pvalue:.3g}"
                + ("; doubtful here, so read Welch's ANOVA)." if levene.pvalue < 0.05 else ").")
            ],
        })
    result["levene_p"] = float(levene.pvalue)
    result["conclusion"] = _conclusion(result["p"], f"the mean of {name!r} differs between the groups of {group!r}")
    return result


def _welch_anova(values) -> dict:
    """Welch's one-way ANOVA (unequal variances), computed by its textbook formula."""
    k = len(values)
    n = np.array([len(v) for v in values], dtype=float)
    means = np.array([np.mean(v) for v in values])
    var = np.array([np.var(v, ddof=1) for v in values])
    if np.any(var == 0):
        return {"test": "Welch's ANOVA", "statistic": None, "p": None, "note": "a group has no variance"}
    w = n / var
    mean_w = (w * means).sum() / w.sum()
    a = (w * (means - mean_w) ** 2).sum() / (k - 1)
    tmp = (((1 - w / w.sum()) ** 2) / (n - 1)).sum()
    b = 1 + 2 * (k - 2) / (k ** 2 - 1) * tmp
    f = a / b
    df2 = (k ** 2 - 1) / (3 * tmp)
    return {"test": "Welch's ANOVA", "statistic": float(f), "p": float(st.f.sf(f, k - 1, df2)), "df": [k - 1, float(df2)]}


def _normality(values) -> str:
    smallest = min(len(v) for v in values)
    if smallest >= 30:
        return f"Every group has at least 30 values ({smallest} in the smallest), so this holds approximately."
    checks = [st.shapiro(v).pvalue for v in values if 3 <= len(v) <= 5000]
    if checks and min(checks) < 0.05:
        return ("A small group looks non-normal (Shapiro-Wilk p < 0.05): prefer the rank-based test shown "
                "beside it.")
    return "Small groups, and Shapiro-Wilk finds no clear departure from normality."


def _chi_square(con, source_sql, name, group) -> dict:
    # Count the levels first, so a column with a million values is refused before its
    # contingency table is built.
    a_count, b_count = con.execute(f"SELECT count(DISTINCT {q(name)}), count(DISTINCT {q(group)}) "
                                   f"FROM {source_sql}").fetchone()
    if a_count > TEST_MAX_GROUPS or b_count > TEST_MAX_GROUPS:
        raise InvalidSpec(f"A chi-square test takes at most {TEST_MAX_GROUPS} values per column; "
                          f"{name!r} has {a_count} and {group!r} has {b_count}")
    rows = con.execute(f"SELECT {q(name)}, {q(group)}, count(*) FROM {source_sql} "
                       f"WHERE {q(name)} IS NOT NULL AND {q(group)} IS NOT NULL GROUP BY 1, 2").fetchall()
    a_levels = sorted({str(r[0]) for r in rows})
    b_levels = sorted({str(r[1]) for r in rows})
    if len(a_levels) > TEST_MAX_GROUPS or len(b_levels) > TEST_MAX_GROUPS:
        raise InvalidSpec(f"A chi-square test takes at most {TEST_MAX_GROUPS} values per column; "
                          f"{name!r} has {len(a_levels)} and {group!r} has {len(b_levels)}")
    if len(a_levels) < 2 or len(b_levels) < 2:
        one = name if len(a_levels) < 2 else group
        raise AnalysisError(f"{one!r} has only one value among the rows with both columns filled; "
                            "a chi-square test needs at least two on each side")
    table = np.zeros((len(a_levels), len(b_levels)))
    ai, bi = {v: i for i, v in enumerate(a_levels)}, {v: i for i, v in enumerate(b_levels)}
    for a, b, n in rows:
        table[ai[str(a)], bi[str(b)]] += n
    chi2, p, dof, expected = st.chi2_contingency(table, correction=False)
    n = table.sum()
    cramers_v = math.sqrt(chi2 / (n * (min(table.shape) - 1))) if n else None
    share_ok = float((expected >= 5).mean())
    return {
        "analysis": "test", "column": name, "group": group, "test": "Pearson's chi-square test of independence",
        "statistic": float(chi2), "p": float(p), "df": int(dof), "n": int(n),
        "effect_size": {"name": "Cramér's V", "value": cramers_v},
        "table": {"rows": a_levels, "columns": b_levels, "counts": table.astype(int).tolist()},
        "expected_min": float(expected.min()),
        "assumptions": [
            "Each row is counted once and rows are independent.",
            "Expected counts are at least 5 in at least 80 % of the cells and none is below 1: "
            + (f"met ({share_ok:.0%} of cells ≥ 5, smallest {expected.min():.2g})."
               if share_ok >= 0.8 and expected.min() >= 1 else
               f"NOT met ({share_ok:.0%} of cells ≥ 5, smallest {expected.min():.2g}); "
               "merge rare values or read the p-value with care."),
        ],
        "conclusion": _conclusion(float(p), f"{name!r} and {group!r} are associated"),
        "sampled": False, "sample_size": int(n),
    }


def _conclusion(p: float, claim: str) -> str:
    if p < 0.05:
        return f"p = {p:.3g} < 0.05: evidence that {claim}."
    return f"p = {p:.3g} ≥ 0.05: no evidence at the 5 % level that {claim}."
