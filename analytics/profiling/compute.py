"""The profile of one relation, computed in DuckDB in a few scans:

1. one scan for counts, sums, extremes, lengths, booleans, date checks and Pearson
   correlations of every column;
2. one GROUP BY per column for its value counts, reading that column only: distinct and
   top values, and from the counts (one row per distinct value, not per row) the
   central moments, the exact quantiles and the histograms;
3. meanwhile, on a second connection: duplicate rows, which columns are missing
   together, and semantic patterns;
4. Spearman and Cramér's V on all rows or, above correlations.SAMPLE_ROWS, on a random
   sample whose size the profile states;
5. only for columns too varied to count exactly (tables of millions of rows): one more
   scan for their moments, quantiles and histograms.

Nothing is loaded into pandas; what comes back to Python is a few rows per query.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

from analytics.profiling import categorical, correlations, numeric, semantic, temporal
from analytics.profiling.aggregates import AggregateQuery
from analytics.profiling.alerts import column_alerts, sort_alerts, table_alerts
from analytics.roles import MONTH_NAMES, WEEKDAY_NAMES, infer_roles, stats_from_profile
from analytics.profiling.columns import infer_schema, profiled_columns
from analytics.values import jsonable as _cell

# Above this many rows, a column whose estimated distinct count exceeds
# DISTINCT_EXACT_LIMIT keeps the HyperLogLog estimate and its top values come from the
# sample: an exact count would hold a hash table of millions of keys.
DISTINCT_EXACT_ROWS = 2_000_000
DISTINCT_EXACT_LIMIT = 1_000_000
CATEGORICAL_CORR_MAX_DISTINCT = correlations.CRAMERS_MAX_DISTINCT
SEMANTIC_SAMPLE_ROWS = 20_000
PREFIX_ROWS = 1_000_000

COLUMN_FIELDS = (
    "name", "type", "kind", "count", "missing", "missing_share", "distinct", "distinct_share", "distinct_estimated",
    "unique", "min", "max", "mean", "std", "variance", "median", "q05", "q25", "q75", "q95", "iqr", "skewness",
    "kurtosis", "cv", "sum", "zeros", "negatives", "infinite", "finite_count", "top_values", "histogram",
    "length_min", "length_mean", "length_max", "empty", "blank", "true_count", "false_count", "future",
    "before_1900", "has_time", "weekday_counts", "hour_counts", "singletons", "entropy", "imbalance",
    "semantic", "alerts", "integral", "minutes_over_59", "patterns", "role",
)


class _Progress:
    def __init__(self, report: Callable | None, check: Callable | None):
        self.report, self.check = report, check

    def __call__(self, fraction: float, message: str) -> None:
        if self.check:
            self.check()
        if self.report:
            self.report(fraction, message)


def compute_profile(con, source_sql: str, schema: list[dict] | None = None, *, size_bytes: int | None = None,
                    report: Callable | None = None, check: Callable | None = None,
                    now: dt.datetime | None = None) -> dict:
    """The profile (the API's JSON without status fields) of the relation ``source_sql``
    (e.g. ``read_parquet('...')``), whose columns ``schema`` describes."""
    started = time.perf_counter()
    step = _Progress(report, check)
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    described = infer_schema(con, source_sql)
    storage_types = {c["name"]: c["storage_type"] for c in described}
    columns = profiled_columns(schema if schema is not None else described, storage_types)
    by_kind = {kind: [c for c in columns if c.kind == kind] for kind in ("numeric", "text", "temporal", "boolean")}

    step(0.05, "Counting values")
    rows = int(con.execute(f"SELECT count(*) FROM {source_sql}").fetchone()[0])  # Parquet metadata: instant
    first_query = AggregateQuery()
    first_query.add("rows", "count(*)")
    for col in _maybe_very_varied(con, source_sql, columns, rows):
        first_query.add(f"c{col.index}_approx_distinct", f"approx_count_distinct({col.value})")
    for col in columns:
        if col.kind == "numeric":
            numeric.first_pass(first_query, col)
        elif col.kind == "temporal":
            temporal.first_pass(first_query, col, now)
        else:
            categorical.first_pass(first_query, col)
    pearson_candidates = by_kind["numeric"][:correlations.MAX_NUMERIC]
    correlations.pearson_pass(first_query, pearson_candidates)
    first = first_query.run(con, source_sql)
    rows = int(first["rows"])
    for col in by_kind["numeric"]:
        numeric.plan(col, first)
    for col in by_kind["temporal"]:
        temporal.plan(col, first)

    # Duplicate rows, missing-value patterns and semantic patterns need nothing but the
    # first scan; they run on a second connection while this one goes on (the small
    # per-column queries below leave a core idle much of the time).
    gappy = [c for c in columns if 0 < first[f"c{c.index}_missing"] < rows][:correlations.MAX_GAPPY]
    text_cols = [c for c in by_kind["text"] if first[f"c{c.index}_missing"] < rows]
    side = _Concurrently(con, lambda cursor: (
        _duplicates(cursor, source_sql, columns, rows),
        correlations.missing_together(cursor, source_sql, gappy, rows),
        _semantic_matches(cursor, source_sql, rows, text_cols)))
    try:
        step(0.2, "Distinct and most frequent values, quantiles, histograms")
        profiles, estimated = _column_profiles(con, source_sql, columns, rows, first, step)

        step(0.75, "Rank correlations and patterns on a sample" if rows > correlations.SAMPLE_ROWS
             else "Rank correlations and patterns")
        usable_numeric = [c for c in pearson_candidates if (first[f"c{c.index}_n"] or 0) >= 2
                          and first[f"c{c.index}_min"] < first[f"c{c.index}_max"]]  # spread: min < max
        categorical_cols = [c for c in by_kind["text"] + by_kind["boolean"]
                            if 2 <= (profiles[c.index]["distinct"] or 0) <= CATEGORICAL_CORR_MAX_DISTINCT
                            and not profiles[c.index]["distinct_estimated"]][:correlations.MAX_CATEGORICAL]
        result_correlations = {"pearson": correlations.pearson_result(usable_numeric, first)}
        sampled = {c.index: c for c in usable_numeric + categorical_cols + estimated}
        table_name, sample_rows = correlations.make_sample(con, source_sql, rows, list(sampled.values()))
        try:
            result_correlations["spearman"] = correlations.spearman(con, table_name, usable_numeric)
            step(0.9, "Cramér's V")
            result_correlations["cramers_v"] = correlations.cramers_v(con, table_name, categorical_cols)
            _sampled_top_values(con, table_name, estimated, profiles, jsonable)
        finally:
            con.execute(f"DROP TABLE IF EXISTS {table_name}")

        step(0.95, "Duplicate rows, missing values together, semantic patterns")
        duplicate_rows, (patterns, nullity), matches = side.result()
    finally:
        side.stop()

    for method, block in result_correlations.items():
        if block:
            block["rows_used"] = sample_rows if (method != "pearson" and sample_rows) else rows
            block["sampled"] = bool(sample_rows) and method != "pearson"
    pairs = correlations.ranked_pairs(result_correlations)
    result_correlations["top_pairs"] = pairs[:10]

    alerts = []
    for out in profiles:
        found_matches = matches.get(out["name"], {})
        out["patterns"] = {key: found_matches.get(key) for key in semantic.PATTERN_KEYS} if found_matches else None
    # What each column is (analytics.roles) decides its hints and which alerts make sense.
    inferred = infer_roles([{"name": out["name"], "type": out["type"]} for out in profiles],
                           stats_from_profile(profiles), rows)
    for out in profiles:
        out["role"] = inferred[out["name"]]
        out["semantic"] = semantic.hints(out, rows, matches.get(out["name"], {}), out["role"]["role"])
        found = column_alerts(out, rows, out["role"]["role"])
        out["alerts"] = [a["type"] for a in found]
        alerts.extend(found)
    missing_cells = sum(p["missing"] for p in profiles)
    types: dict[str, int] = {}
    for out in profiles:
        types[out["type"]] = types.get(out["type"], 0) + 1
    table = {
        "rows": rows, "columns": len(columns), "size_bytes": size_bytes,
        "missing_cells": missing_cells, "missing_cells_share": missing_cells / (rows * len(columns)) if rows and columns else None,
        "duplicate_rows": duplicate_rows, "duplicate_rows_share": duplicate_rows / rows if rows else None,
        "types": types,
    }
    alerts = sort_alerts(alerts + table_alerts(table, pairs, {name: r["role"] for name, r in inferred.items()}))
    for pair_alert in (a for a in alerts if a["type"] == "high_correlation"):
        for name in pair_alert["columns"]:
            for out in profiles:
                if out["name"] == name and "high_correlation" not in out["alerts"]:
                    out["alerts"].append("high_correlation")
    estimates = []
    if sample_rows:
        estimates.append({"what": "Spearman and Cramér's V correlations",
                          "method": "random sample of rows", "sample_rows": sample_rows, "rows": rows})
    if rows > SEMANTIC_SAMPLE_ROWS:
        estimates.append({"what": "semantic hints (e-mail, URL, country)", "method": "random blocks of rows",
                          "sample_rows": SEMANTIC_SAMPLE_ROWS, "rows": rows})
    for col in estimated:
        estimates.append({"what": f"distinct values of {col.name}", "method": "HyperLogLog estimate",
                          "sample_rows": None, "rows": rows})
        if sample_rows:
            estimates.append({"what": f"top values of {col.name}", "method": "random sample of rows",
                              "sample_rows": sample_rows, "rows": rows})
    step(1.0, "Done")
    return {
        "table": table,
        "columns": profiles,
        "correlations": result_correlations,
        "missing": {"columns": [p["name"] for p in profiles], "shares": [p["missing_share"] for p in profiles],
                    "nullity_correlation": nullity, "patterns": patterns},
        "alerts": alerts,
        "estimates": estimates,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _column_profiles(con, source_sql: str, columns, rows: int, first: dict, step: _Progress) -> tuple[list[dict], list]:
    """(the profile of every column, the columns whose distinct count is estimated).
    Every column's values are counted exactly but the very varied ones of very large
    tables; those get a scan of their own for moments, quantiles and histogram."""
    exact, estimated = [], []
    for col in columns:
        approx = first.get(f"c{col.index}_approx_distinct") or 0
        (estimated if rows > DISTINCT_EXACT_ROWS and approx > DISTINCT_EXACT_LIMIT else exact).append(col)

    def more_from_counts(con_, table, col):
        if col.kind == "numeric":
            return numeric.from_value_counts(con_, table, col, first, source_sql)
        if col.kind == "temporal":
            return temporal.from_value_counts(con_, table, col, first)
        return {}

    counts = categorical.value_counts(
        con, source_sql, exact, jsonable, extra=more_from_counts,
        on_column=lambda done: step(0.2 + 0.5 * done / len(exact), "Distinct and most frequent values, quantiles, "
                                                                     "histograms"))
    second = {}
    for found in counts.values():
        second.update(found["extra"])
    second.update(_uncounted_pass(con, source_sql, [c for c in estimated if c.kind in ("numeric", "temporal")],
                                  rows, first, step))

    profiles = []
    for col in columns:
        p = f"c{col.index}_"
        missing = int(first[p + "missing"])
        out = {field: None for field in COLUMN_FIELDS}
        out.update(name=col.name, type=col.type, kind=col.kind, count=rows - missing, missing=missing,
                   missing_share=missing / rows if rows else None, distinct_estimated=False)
        if col.index in counts:
            found = counts[col.index]
            out.update(distinct=found["distinct"], singletons=found["singletons"], entropy=found["entropy"],
                       top_values=found["top_values"])
        else:
            out.update(distinct=int(first[p + "approx_distinct"]), distinct_estimated=True, top_values=[])
        if out["count"]:
            out["distinct_share"] = out["distinct"] / out["count"]
            out["unique"] = out["distinct"] == out["count"] and not out["distinct_estimated"]
            for item in out["top_values"] or []:
                item["share"] = item["count"] / out["count"]
        if col.kind == "numeric":
            numeric.finish(col, first, second, out)
        elif col.kind == "temporal":
            temporal.finish(col, first, second, out, jsonable)
        else:
            categorical.finish(col, first, out)
        out["imbalance"] = categorical.imbalance(out["distinct"], out["entropy"]) if col.kind != "numeric" else None
        profiles.append(out)
    return profiles, estimated


def _uncounted_pass(con, source_sql: str, uncounted, rows: int, first: dict, step: _Progress) -> dict:
    """Moments, histograms and exact quantiles of the number and date columns too varied
    to count: one scan, plus one per further batch of quantiles (quantiles hold every
    value in memory)."""
    if not uncounted:
        return {}
    step(0.7, "Moments and quantiles of the most varied columns")
    query = AggregateQuery()
    for col in uncounted:
        (numeric if col.kind == "numeric" else temporal).second_pass(query, col, first)
    batches = numeric.quantile_batches([c for c in uncounted if c.kind == "numeric" and first[f"c{c.index}_n"]], rows)
    for col in batches[0] if batches else []:  # the first batch rides along in this scan
        query.add(f"c{col.index}_quantiles", numeric.quantile_sql(col))
    found = query.run(con, source_sql)
    for batch in batches[1:]:
        step(0.72, "Quantiles")
        values = con.execute(f"SELECT {', '.join(numeric.quantile_sql(c) for c in batch)} FROM {source_sql}").fetchone()
        found.update({f"c{c.index}_quantiles": v for c, v in zip(batch, values)})
    return found


class _Concurrently:
    """``work(cursor)`` in a thread, on a second connection to the same DuckDB database
    (its own cursor: a DuckDB connection runs one query at a time)."""

    def __init__(self, con, work: Callable):
        self._cursor = con.cursor()
        self._value = self._error = None
        self._thread = threading.Thread(target=self._run, args=(work,), name="profile-side", daemon=True)
        self._thread.start()

    def _run(self, work: Callable) -> None:
        try:
            self._value = work(self._cursor)
        except BaseException as error:  # noqa: BLE001 (handed to the caller by result())
            self._error = error

    def result(self):
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value

    def stop(self) -> None:
        """Ends the work (interrupting its query when the profile failed or was
        cancelled first) and closes the cursor."""
        if self._thread.is_alive():
            self._cursor.interrupt()
        self._thread.join()
        self._cursor.close()


def jsonable(value):
    """A value as JSON; infinities as the text "inf"/"-inf" (JSON has no number for them)."""
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "inf" if value > 0 else "-inf"
    return _cell(value)


def _maybe_very_varied(con, source_sql: str, columns, rows: int) -> list:
    """The columns that may have more than DISTINCT_EXACT_LIMIT distinct values, for which
    pass 1 computes a HyperLogLog estimate over all rows (the only ones that may be
    estimated). A cheap look at the first PREFIX_ROWS rows rules most columns out; a
    column it misses is merely counted exactly, which is slower, never wrong."""
    if rows <= DISTINCT_EXACT_ROWS or not columns:
        return []
    prefix = min(PREFIX_ROWS, rows)
    found = con.execute(f"SELECT {', '.join(f'approx_count_distinct({c.value})' for c in columns)} "
                        f"FROM (SELECT * FROM {source_sql} LIMIT {prefix})").fetchone()
    # A column with DISTINCT_EXACT_LIMIT values spread over the table shows at least its
    # share of them in the prefix.
    threshold = DISTINCT_EXACT_LIMIT * prefix / rows / 2
    return [c for c, distinct in zip(columns, found) if (distinct or 0) > threshold]


def _duplicates(con, source_sql: str, columns, rows: int) -> int:
    """Rows that repeat an earlier row, exactly: rows are grouped by a 64-bit hash first
    (cheap), and only the rows whose hash repeats are compared in full (row(...) keeps
    rows with NULLs, which count(DISTINCT) of a bare column would drop)."""
    if not rows or not columns:
        return 0
    names = ", ".join(c.q for c in columns)
    return int(con.execute(
        f"WITH repeated AS (SELECT hash({names}) AS h FROM {source_sql} GROUP BY h HAVING count(*) > 1) "
        f"SELECT count(*) - count(DISTINCT row({names})) FROM {source_sql} "
        f"WHERE hash({names}) IN (SELECT h FROM repeated)"
    ).fetchone()[0])


def _semantic_matches(con, source_sql: str, rows: int, text_cols) -> dict[str, dict[str, float]]:
    """Shares of non-empty values that look like e-mail addresses, URLs, country names or
    codes, on about SEMANTIC_SAMPLE_ROWS rows (whole blocks of rows picked at random:
    enough to recognise a kind of value, and cheap)."""
    if not text_cols:
        return {}
    sample = ""
    if rows > SEMANTIC_SAMPLE_ROWS:
        sample = f" USING SAMPLE {100.0 * SEMANTIC_SAMPLE_ROWS / rows:.6f}% (system, 42)"
    values = ", ".join(f"{c.value} AS s{c.index}" for c in text_cols)
    parts, params = [], []
    for col in text_cols:
        s = f"s{col.index}"
        parts.append(f"count_if({s} <> '')")
        parts.append(f"count_if(contains({s}, '@') AND regexp_full_match({s}, ?))")
        params.append(semantic.EMAIL_PATTERN)
        parts.append(f"count_if(contains({s}, '.') AND regexp_full_match({s}, ?))")
        params.append(semantic.URL_PATTERN)
        parts.append(f"count_if(lower(trim({s})) IN (SELECT unnest(?)))")
        params.append(semantic.COUNTRY_NAMES)
        parts.append(f"count_if(length({s}) <= 3 AND lower(trim({s})) IN (SELECT unnest(?)))")
        params.append(semantic.COUNTRY_CODES)
        # For column roles: digits (codes, years written as text), weekday and month names.
        parts.append(f"count_if(regexp_full_match(trim({s}), '[0-9]+'))")
        parts.append(f"count_if(regexp_full_match(trim({s}), '0[0-9]+'))")
        parts.append(f"count_if(lower(trim({s})) IN (SELECT unnest(?)))")
        params.append(WEEKDAY_NAMES)
        parts.append(f"count_if(lower(trim({s})) IN (SELECT unnest(?)))")
        params.append(MONTH_NAMES)
        parts.append(f"min(TRY_CAST(trim({s}) AS DOUBLE))")
        parts.append(f"max(TRY_CAST(trim({s}) AS DOUBLE))")
    row = con.execute(f"SELECT {', '.join(parts)} FROM (SELECT {values} FROM {source_sql}{sample})", params).fetchone()
    found = {}
    width = 11
    for n, col in enumerate(text_cols):
        total, email, url, names, codes, digits, zeros, weekdays, months, low, high = row[width * n:width * n + width]
        if total:
            found[col.name] = {"email": email / total, "url": url / total, "country_name": names / total,
                               "country_code": codes / total, "digits": digits / total, "leading_zero": zeros / total,
                               "weekday": weekdays / total, "month": months / total,
                               "numeric_min": jsonable(low), "numeric_max": jsonable(high)}
    return found


def _sampled_top_values(con, table: str, estimated, profiles, jsonable) -> None:
    """Top values of the columns too varied to count exactly, from the sample."""
    for col in estimated:
        rows = con.execute(f"SELECT s{col.index}, count(*) AS n FROM {table} WHERE s{col.index} IS NOT NULL "
                           f"GROUP BY 1 ORDER BY n DESC, 1 LIMIT {categorical.TOP_VALUES}"
                           ).fetchall()
        total = con.execute(f"SELECT count(s{col.index}) FROM {table}").fetchone()[0] or 1
        profiles[col.index]["top_values"] = [
            {"value": jsonable(value), "count": int(n), "share": n / total, "sampled": True} for value, n in rows]
