"""Relations between columns: Pearson on every row; Spearman and Cramér's V on a
random sample of about SAMPLE_ROWS rows above that many (the profile states the sample size); which
columns are missing together.

Pairs use the rows where both values are present (pandas' pairwise complete
observations). Spearman is Pearson on average ranks (ties share the mean of their
ranks), ranked again over the rows a pair has in common when either column has gaps,
as pandas does. Cramér's V is sqrt(chi² / (n · (min(r, c) − 1))) without bias
correction, over the categories the pair's rows contain.
"""
from __future__ import annotations

import math

from analytics.profiling.columns import ProfiledColumn

SAMPLE_ROWS = 100_000
MAX_NUMERIC = 40
MAX_GAPPY = 30
MAX_CATEGORICAL = 25
CRAMERS_MAX_DISTINCT = 50
PAIRS_PER_QUERY = 60


def _clean(value):
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


def _matrix(names: list[str], pairs: dict[tuple[int, int], float | None]) -> list[list]:
    size = len(names)
    matrix = [[None] * size for _ in range(size)]
    for i in range(size):
        matrix[i][i] = 1.0
    for (i, j), value in pairs.items():
        matrix[i][j] = matrix[j][i] = value
    return matrix


def pearson_pass(query, columns: list[ProfiledColumn]) -> list[tuple[int, int]]:
    """Adds corr() of every pair to ``query`` (a full scan that also computes the
    moments); returns the pairs, for pearson_result."""
    pairs = [(i, j) for i in range(len(columns)) for j in range(i + 1, len(columns))]
    for i, j in pairs:
        query.add(f"pearson_{i}_{j}", f"corr({columns[i].finite}, {columns[j].finite})")
    return pairs


def pearson_result(columns: list[ProfiledColumn], pairs, found: dict) -> dict | None:
    if len(columns) < 2:
        return None
    names = [c.name for c in columns]
    return {"columns": names, "matrix": _matrix(names, {(i, j): _clean(found[f"pearson_{i}_{j}"]) for i, j in pairs})}


def make_sample(con, source_sql: str, rows: int, columns: list[ProfiledColumn]) -> tuple[str, int | None]:
    """A temp table with the cleaned values of ``columns`` (all rows, or a random
    sample above SAMPLE_ROWS); returns (its name, the sample size or None when whole)."""
    select = ", ".join(f"{c.finite} AS s{c.index}" for c in columns) or "1 AS s"
    # Bernoulli (each row kept with the same chance, scanned in parallel) rather than a
    # reservoir, which runs on one thread: 4x faster on Online Retail. Its size varies a
    # little around SAMPLE_ROWS, so the size stated is the one drawn.
    share = 100.0 * SAMPLE_ROWS / rows if rows else 100.0
    sample = f" USING SAMPLE {share:.6f}% (bernoulli, 42)" if rows > SAMPLE_ROWS else ""
    con.execute("DROP TABLE IF EXISTS profile_sample")
    con.execute(f"CREATE TEMP TABLE profile_sample AS SELECT {select} FROM {source_sql}{sample}")
    if not sample:
        return "profile_sample", None
    return "profile_sample", int(con.execute("SELECT count(*) FROM profile_sample").fetchone()[0])


def _avg_rank(expression: str) -> str:
    # rank() is the first rank of a group of ties; cume_dist() times the row count the
    # last (NULLs sort last, so they do not shift the ranks of values). Their mean is the
    # average rank. Both come from one sort.
    return (f"CASE WHEN {expression} IS NULL THEN NULL ELSE (rank() OVER (ORDER BY {expression} NULLS LAST) "
            f"+ round(cume_dist() OVER (ORDER BY {expression} NULLS LAST) * count(*) OVER ())) / 2.0 END")


def spearman(con, table: str, columns: list[ProfiledColumn]) -> dict | None:
    if len(columns) < 2:
        return None
    cols = [f"s{c.index}" for c in columns]
    complete = con.execute(f"SELECT {', '.join(f'count_if({c} IS NULL) = 0' for c in cols)} FROM {table}").fetchone()
    con.execute("DROP TABLE IF EXISTS profile_ranks")
    con.execute(f"CREATE TEMP TABLE profile_ranks AS SELECT {', '.join(f'{_avg_rank(c)} AS r{c}' for c in cols)}, "
                f"{', '.join(cols)} FROM {table}")
    try:
        pairs = [(i, j) for i in range(len(cols)) for j in range(i + 1, len(cols))]
        whole = [(i, j) for i, j in pairs if complete[i] and complete[j]]
        gaps = [(i, j) for i, j in pairs if not (complete[i] and complete[j])]
        values = {}
        for start in range(0, len(whole), 400):
            chunk = whole[start:start + 400]
            row = con.execute("SELECT " + ", ".join(f"corr(r{cols[i]}, r{cols[j]})" for i, j in chunk)
                              + " FROM profile_ranks").fetchone()
            values.update({pair: _clean(v) for pair, v in zip(chunk, row)})
        # A pair with gaps is ranked again over its common rows. Pairs of a gappy column
        # with complete ones share that column's rows: one query ranks it once and each
        # partner once. Pairs of two gappy columns get a query each.
        by_gappy: dict[int, list[int]] = {}
        both_gappy = []
        for i, j in gaps:
            if complete[i] or complete[j]:
                g, other = (j, i) if complete[i] else (i, j)
                by_gappy.setdefault(g, []).append(other)
            else:
                both_gappy.append((i, j))
        for g, partners in by_gappy.items():
            a = cols[g]
            ranks = ", ".join(f"{_avg_rank(cols[o])} AS p{o}" for o in partners)
            row = con.execute(f"SELECT {', '.join(f'corr(ra, p{o})' for o in partners)} FROM "
                              f"(SELECT {_avg_rank(a)} AS ra, {ranks} FROM profile_ranks WHERE {a} IS NOT NULL)"
                              ).fetchone()
            for o, value in zip(partners, row):
                values[(min(g, o), max(g, o))] = _clean(value)
        for start in range(0, len(both_gappy), PAIRS_PER_QUERY):
            chunk = both_gappy[start:start + PAIRS_PER_QUERY]
            parts = []
            for number, (i, j) in enumerate(chunk):
                a, b = cols[i], cols[j]
                parts.append(f"SELECT {number} AS pair, corr(ra, rb) AS r FROM (SELECT {_avg_rank(a)} AS ra, "
                             f"{_avg_rank(b)} AS rb FROM profile_ranks WHERE {a} IS NOT NULL AND {b} IS NOT NULL)")
            for number, value in con.execute(" UNION ALL ".join(parts)).fetchall():
                values[chunk[number]] = _clean(value)
    finally:
        con.execute("DROP TABLE IF EXISTS profile_ranks")
    names = [c.name for c in columns]
    return {"columns": names, "matrix": _matrix(names, values)}


def cramers_v_from_cells(cells: list[tuple[str, str, int]]):
    rows, cols, n = {}, {}, 0
    for a, b, count in cells:
        rows[a] = rows.get(a, 0) + count
        cols[b] = cols.get(b, 0) + count
        n += count
    k = min(len(rows), len(cols))
    if n == 0 or k < 2:
        return None
    # chi² = n · (Σ O² / (row total · column total) − 1): only the non-empty cells add.
    chi2 = n * (sum(count * count / (rows[a] * cols[b]) for a, b, count in cells) - 1.0)
    return math.sqrt(max(chi2, 0.0) / (n * (k - 1)))


def cramers_v(con, table: str, columns: list[ProfiledColumn]) -> dict | None:
    if len(columns) < 2:
        return None
    pairs = [(i, j) for i in range(len(columns)) for j in range(i + 1, len(columns))]
    cells: dict[tuple[int, int], list] = {pair: [] for pair in pairs}
    for start in range(0, len(pairs), PAIRS_PER_QUERY):
        chunk = pairs[start:start + PAIRS_PER_QUERY]
        parts = []
        for number, (i, j) in enumerate(chunk):
            a, b = f"s{columns[i].index}", f"s{columns[j].index}"
            parts.append(f"SELECT {number} AS pair, CAST({a} AS VARCHAR) AS va, CAST({b} AS VARCHAR) AS vb, "
                         f"count(*) AS n FROM {table} WHERE {a} IS NOT NULL AND {b} IS NOT NULL GROUP BY ALL")
        for number, va, vb, n in con.execute(" UNION ALL ".join(parts)).fetchall():
            cells[chunk[number]].append((va, vb, int(n)))
    values = {pair: cramers_v_from_cells(found) for pair, found in cells.items()}
    names = [c.name for c in columns]
    return {"columns": names, "matrix": _matrix(names, values)}


def ranked_pairs(correlations: dict) -> list[dict]:
    """Every pair of every method, strongest first."""
    found = []
    for method in ("pearson", "spearman", "cramers_v"):
        block = correlations.get(method)
        if not block:
            continue
        names, matrix = block["columns"], block["matrix"]
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                value = matrix[i][j]
                if value is not None:
                    found.append({"columns": [names[i], names[j]], "method": method, "value": value})
    found.sort(key=lambda p: -abs(p["value"]))
    return found


def nullity_pass(query, gappy: list[ProfiledColumn]) -> list[tuple[int, int]]:
    """Adds the correlations of the missing-value indicators (1 where a value is
    missing) of the columns that have gaps: which columns are missing together."""
    pairs = [(i, j) for i in range(len(gappy)) for j in range(i + 1, len(gappy))]
    for i, j in pairs:
        query.add(f"nullity_{i}_{j}", f"corr(CAST({gappy[i].missing_condition} AS DOUBLE), "
                                      f"CAST({gappy[j].missing_condition} AS DOUBLE))")
    return pairs


def nullity_result(gappy: list[ProfiledColumn], pairs, found: dict) -> dict | None:
    if len(gappy) < 2:
        return None
    names = [c.name for c in gappy]
    return {"columns": names, "matrix": _matrix(names, {(i, j): _clean(found[f"nullity_{i}_{j}"]) for i, j in pairs})}


def missing_patterns(con, source_sql: str, gappy: list[ProfiledColumn], rows: int) -> list[dict]:
    """The most common combinations of missing columns, with their row counts."""
    if not gappy or not rows:
        return []
    flags = ", ".join(f"{c.missing_condition} AS m{n}" for n, c in enumerate(gappy))
    found = con.execute(f"SELECT *, count(*) AS n FROM (SELECT {flags} FROM {source_sql}) GROUP BY ALL "
                        f"ORDER BY n DESC LIMIT 12").fetchall()
    return [{"missing": [c.name for c, m in zip(gappy, missing) if m], "count": int(count), "share": count / rows}
            for *missing, count in found]
