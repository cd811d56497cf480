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


def pearson_pass(query, columns: list[ProfiledColumn]) -> None:
    """Adds corr() of every pair of ``columns`` to ``query`` (the first scan: DuckDB's
    corr is a streaming covariance, it needs no means beforehand)."""
    for n, a in enumerate(columns):
        for b in columns[n + 1:]:
            query.add(f"pearson_{a.index}_{b.index}", f"corr({a.finite}, {b.finite})")


def pearson_result(columns: list[ProfiledColumn], found: dict) -> dict | None:
    """The matrix of ``columns`` (those pearson_pass was given that have spread)."""
    if len(columns) < 2:
        return None
    names = [c.name for c in columns]
    pairs = {(i, j): _clean(found[f"pearson_{columns[i].index}_{columns[j].index}"])
             for i in range(len(columns)) for j in range(i + 1, len(columns))}
    return {"columns": names, "matrix": _matrix(names, pairs)}


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


def _ranks(table: str, column: str, where: str) -> str:
    """(v, r): each distinct value of ``column`` among the rows of ``table`` that satisfy
    ``where`` and its average rank there (ties share the mean of their ranks): the
    running count up to and including v, less (ties - 1) / 2. Ranking the distinct
    values and joining them back is 3x faster than a rank() window over every row."""
    return (f"(SELECT v, sum(n) OVER (ORDER BY v) - (n - 1) / 2.0 AS r FROM "
            f"(SELECT {column} AS v, count(*) AS n FROM {table} WHERE {where} GROUP BY v))")


def _ranked_rows(table: str, columns: list[str], where: str) -> str:
    """The rows of ``table`` that satisfy ``where``, with the average rank of each of
    ``columns`` among them as r<column> (NULL where the value is NULL)."""
    joins = " ".join(f"LEFT JOIN {_ranks(table, c, f'{where} AND {c} IS NOT NULL')} AS g{n} ON t.{c} = g{n}.v"
                     for n, c in enumerate(columns))
    ranks = ", ".join(f"g{n}.r AS r{c}" for n, c in enumerate(columns))
    return f"(SELECT {ranks} FROM (SELECT * FROM {table} WHERE {where}) AS t {joins})"


def spearman(con, table: str, columns: list[ProfiledColumn]) -> dict | None:
    if len(columns) < 2:
        return None
    cols = [f"s{c.index}" for c in columns]
    complete = con.execute(f"SELECT {', '.join(f'count_if({c} IS NULL) = 0' for c in cols)} FROM {table}").fetchone()
    pairs = [(i, j) for i in range(len(cols)) for j in range(i + 1, len(cols))]
    whole = [(i, j) for i, j in pairs if complete[i] and complete[j]]
    gaps = [(i, j) for i, j in pairs if not (complete[i] and complete[j])]
    values = {}
    if whole:
        ranked = sorted({k for pair in whole for k in pair})
        con.execute("DROP TABLE IF EXISTS profile_ranks")
        con.execute(f"CREATE TEMP TABLE profile_ranks AS SELECT * FROM {_ranked_rows(table, [cols[k] for k in ranked], 'true')}")
        try:
            for start in range(0, len(whole), 400):
                chunk = whole[start:start + 400]
                row = con.execute("SELECT " + ", ".join(f"corr(r{cols[i]}, r{cols[j]})" for i, j in chunk)
                                  + " FROM profile_ranks").fetchone()
                values.update({pair: _clean(v) for pair, v in zip(chunk, row)})
        finally:
            con.execute("DROP TABLE IF EXISTS profile_ranks")
    # A pair with gaps is ranked again over its common rows, as pandas does. Pairs of a
    # gappy column with complete ones share that column's rows: one query ranks it once
    # and each partner once. Pairs of two gappy columns get a query each.
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
        row = con.execute(f"SELECT {', '.join(f'corr(r{a}, r{cols[o]})' for o in partners)} FROM "
                          f"{_ranked_rows(table, [a] + [cols[o] for o in partners], f'{a} IS NOT NULL')}").fetchone()
        for o, value in zip(partners, row):
            values[(min(g, o), max(g, o))] = _clean(value)
    for start in range(0, len(both_gappy), PAIRS_PER_QUERY):
        chunk = both_gappy[start:start + PAIRS_PER_QUERY]
        parts = []
        for number, (i, j) in enumerate(chunk):
            a, b = cols[i], cols[j]
            parts.append(f"SELECT {number} AS pair, corr(r{a}, r{b}) AS r FROM "
                         f"{_ranked_rows(table, [a, b], f'{a} IS NOT NULL AND {b} IS NOT NULL')}")
        for number, value in con.execute(" UNION ALL ".join(parts)).fetchall():
            values[chunk[number]] = _clean(value)
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


def missing_together(con, source_sql: str, gappy: list[ProfiledColumn], rows: int) -> tuple[list[dict], dict | None]:
    """(the most common combinations of missing columns with their row counts, the
    nullity correlation matrix), from one GROUP BY of the missing-value flags. The
    correlation of two 0/1 indicators needs only the rows where both are missing:
    (n·n11 − n1·n2) / sqrt(n1·(n − n1)·n2·(n − n2)), in exact integers up to the last
    division; it equals pandas' frame.isna().corr()."""
    if not gappy or not rows:
        return [], None
    flags = ", ".join(f"{c.missing_condition} AS m{n}" for n, c in enumerate(gappy))
    con.execute("DROP TABLE IF EXISTS profile_missing")
    con.execute(f"CREATE TEMP TABLE profile_missing AS SELECT *, count(*) AS n FROM (SELECT {flags} FROM {source_sql}) "
                "GROUP BY ALL")
    try:
        found = con.execute("SELECT * FROM profile_missing ORDER BY n DESC LIMIT 12").fetchall()
        patterns = [{"missing": [c.name for c, m in zip(gappy, missing) if m], "count": int(count),
                     "share": count / rows} for *missing, count in found]
        pairs = [(i, j) for i in range(len(gappy)) for j in range(i + 1, len(gappy))]
        if len(gappy) < 2:
            return patterns, None
        singles = [f"coalesce(sum(n) FILTER (WHERE m{i}), 0)" for i in range(len(gappy))]
        both = [f"coalesce(sum(n) FILTER (WHERE m{i} AND m{j}), 0)" for i, j in pairs]
        row = con.execute(f"SELECT {', '.join(singles + both)} FROM profile_missing").fetchone()
    finally:
        con.execute("DROP TABLE IF EXISTS profile_missing")
    missing = [int(v) for v in row[:len(gappy)]]
    values = {}
    for (i, j), n11 in zip(pairs, row[len(gappy):]):
        n1, n2 = missing[i], missing[j]
        spread = n1 * (rows - n1) * n2 * (rows - n2)
        values[(i, j)] = (rows * int(n11) - n1 * n2) / math.sqrt(spread) if spread else None
    names = [c.name for c in gappy]
    return patterns, {"columns": names, "matrix": _matrix(names, values)}
