"""Alerts: the things worth a second look, each tied to its column (or pair), in the
order a person would want to read them. Thresholds are stated here and in docs/profile.md.

What a column is (its role, analytics.roles) decides which alerts make sense: the shape
of a number's distribution (skewed, many zeros, negatives) is news about a measure, not
about an identifier, a code or a year, whose values name things or moments."""
from __future__ import annotations

from analytics.profiling.semantic import hints

MISSING_SHARE = 0.05        # 'missing' when at least 5 % of values are missing
ZEROS_SHARE = 0.10          # 'zeros' when at least 10 % of values are 0
SKEW_ABS = 10.0             # 'skewed' when |skewness| >= 10
NEGATIVE_SHARE = 0.25       # 'negatives' when some but at most 25 % of values are < 0
HIGH_CARDINALITY = 50       # text with more distinct values than this
IMBALANCE = 0.5             # 1 - normalised entropy above this
IMBALANCE_MAX_DISTINCT = 50
CORRELATION = 0.9           # |r| or V at least this

ALERT_TYPES = {
    "all_missing": "All missing",
    "constant": "Constant",
    "missing": "Missing values",
    "unique": "Unique (ID-like)",
    "high_cardinality": "High cardinality",
    "skewed": "Skewed",
    "zeros": "Many zeros",
    "negatives": "Negative values",
    "infinite": "Infinite values",
    "empty_strings": "Empty strings",
    "imbalance": "Imbalanced",
    "numeric_code": "Numbers that name things",
    "high_correlation": "Highly correlated",
    "duplicates": "Duplicate rows",
    "future_dates": "Dates in the future",
    "old_dates": "Suspiciously old dates",
}


def _pct(share: float) -> str:
    pct = share * 100
    return f"{pct:.1f} %" if pct >= 0.1 or pct == 0 else f"{pct:.2g} %"


# Roles whose numbers name things or moments: no alerts about their distribution.
NAMING_ROLES = {"identifier", "code", "date_part", "boolean", "constant", "geography", "time"}


def column_alerts(col: dict, rows: int, role: str | None = None) -> list[dict]:
    """The alerts of one profiled column; ``role`` (analytics.roles) leaves out those that
    mean nothing for what the column is, and adds "numeric_code" for numbers that name
    things."""
    name, found = col["name"], []

    def add(kind, message):
        found.append({"type": kind, "column": name, "message": message})

    count, missing, distinct = col["count"] or 0, col["missing"] or 0, col["distinct"]
    if rows and missing == rows:
        add("all_missing", f"{name} has no values: every one of the {rows:,} rows is missing")
        return found
    if rows and missing / rows >= MISSING_SHARE:
        add("missing", f"{name} is missing in {missing:,} rows ({_pct(missing / rows)})")
    if distinct == 1:
        value = col["top_values"][0]["value"] if col.get("top_values") else None
        add("constant", f"{name} has one value only ({value!r})")
    elif distinct is not None and count >= 2 and distinct == count and col["kind"] != "boolean":
        add("unique", f"{name} has a different value in every row ({distinct:,} distinct): an ID or key?")
    elif col["kind"] == "text" and distinct is not None and distinct > HIGH_CARDINALITY:
        add("high_cardinality", f"{name} has {distinct:,} distinct values"
                                f"{' (estimated)' if col.get('distinct_estimated') else ''}")
    if col["kind"] == "numeric" and count and role == "code" and distinct != 1:
        add("numeric_code", f"{name} holds numbers that name things (codes): count or group by them, "
                            "adding or averaging them means nothing")
    if col["kind"] == "numeric" and count and role not in NAMING_ROLES:
        skew = col.get("skewness")
        if skew is not None and abs(skew) >= SKEW_ABS:
            add("skewed", f"{name} is heavily skewed (skewness {skew:.1f})")
        zeros = col.get("zeros") or 0
        if zeros / count >= ZEROS_SHARE and distinct != 1:
            add("zeros", f"{name} is 0 in {zeros:,} rows ({_pct(zeros / count)})")
        negatives = col.get("negatives") or 0
        if 0 < negatives <= NEGATIVE_SHARE * count:
            add("negatives", f"{name} has {negatives:,} negative values ({_pct(negatives / count)}) among "
                             "positive ones: returns, corrections or errors?")
    if col["kind"] == "numeric" and col.get("infinite"):
        add("infinite", f"{name} has {col['infinite']:,} infinite values (left out of its statistics)")
    if col["kind"] == "text" and col.get("empty"):
        add("empty_strings", f"{name} has {col['empty']:,} empty strings (counted as values, not as missing)")
    imbalance = col.get("imbalance")
    if (imbalance is not None and imbalance > IMBALANCE and distinct is not None
            and distinct <= IMBALANCE_MAX_DISTINCT and col["kind"] in ("text", "boolean")):
        top = col["top_values"][0] if col.get("top_values") else None
        share = f": {top['value']!r} is {_pct(top['count'] / count)}" if top and count else ""
        add("imbalance", f"{name} is imbalanced{share}")
    if col["kind"] == "temporal":
        if col.get("future"):
            add("future_dates", f"{name} has {col['future']:,} dates in the future (latest {col.get('max')})")
        if col.get("before_1900"):
            add("old_dates", f"{name} has {col['before_1900']:,} dates before 1900 (earliest {col.get('min')})")
    return found


def apply_roles(profile: dict, roles: dict[str, dict]) -> dict:
    """The profile with each column's role set to ``roles`` (a person's corrections
    included) and its alerts and hints recomputed for them; table alerts (duplicates,
    correlations) are kept but for pairs with an identifier or a code. A new dict; the
    columns are copies."""
    rows = (profile.get("table") or {}).get("rows") or 0
    columns, column_found = [], []
    for col in profile.get("columns") or []:
        col = dict(col)
        role = roles.get(col["name"])
        if role is not None:
            col["role"] = {key: role.get(key) for key in ("role", "detail", "reason", "source") if key in role}
        role = (col.get("role") or {}).get("role")
        if col.get("patterns") is not None or col.get("kind") != "text":  # profiles from before patterns keep theirs
            col["semantic"] = hints(col, rows, col.get("patterns") or {}, role)
        found = column_alerts(col, rows, role)
        kept = [t for t in col.get("alerts") or [] if t == "high_correlation"]
        col["alerts"] = [a["type"] for a in found] + kept
        column_found.extend(found)
        columns.append(col)
    effective = {c["name"]: (c.get("role") or {}).get("role") for c in columns}
    table_found = [a for a in profile.get("alerts") or [] if a["type"] == "duplicates" or (
        a["type"] == "high_correlation" and not any(effective.get(c) in UNCORRELATED_ROLES for c in a["columns"]))]
    paired = {c for a in table_found if a["type"] == "high_correlation" for c in a["columns"]}
    for col in columns:
        if col["name"] not in paired and "high_correlation" in col["alerts"]:
            col["alerts"].remove("high_correlation")
    return {**profile, "columns": columns, "alerts": sort_alerts(column_found + table_found)}


# A correlation with a row number or a code follows the order or the numbering of the
# rows, not the data: no alert for such a pair.
UNCORRELATED_ROLES = {"identifier", "code"}


def table_alerts(table: dict, pairs: list[dict], roles: dict[str, str] | None = None) -> list[dict]:
    """Duplicate rows, and every pair at or above CORRELATION (``pairs``: all pairs,
    strongest first) but those with an identifier or a code (``roles``: column → role)."""
    roles = roles or {}
    found = []
    if table.get("duplicate_rows"):
        dup = table["duplicate_rows"]
        found.append({"type": "duplicates", "column": None,
                      "message": f"{dup:,} rows are exact copies of an earlier row ({_pct(dup / table['rows'])})"})
    seen = set()
    labels = {"pearson": "Pearson r", "spearman": "Spearman ρ", "cramers_v": "Cramér's V"}
    for pair in pairs:
        key = tuple(pair["columns"])
        if any(roles.get(c) in UNCORRELATED_ROLES for c in key):
            continue
        if abs(pair["value"]) >= CORRELATION and key not in seen:
            seen.add(key)
            a, b = pair["columns"]
            found.append({"type": "high_correlation", "column": a, "columns": [a, b],
                          "message": f"{a} and {b} are highly correlated ({labels[pair['method']]} "
                                     f"{pair['value']:.2f})"})
    return found


ORDER = list(ALERT_TYPES)


def sort_alerts(alerts: list[dict]) -> list[dict]:
    return sorted(alerts, key=lambda a: ORDER.index(a["type"]))
