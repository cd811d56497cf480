"""Clustering: k-means (scikit-learn) on chosen features, k picked by silhouette.

Preparation, stated in every result: numeric features have missing values replaced by
their mean and are standardised (z-scores: minus the mean, divided by the population
standard deviation, as scikit-learn's StandardScaler); categorical features (text,
categorical, boolean) have missing values replaced by the most frequent value and are
one-hot encoded (one 0/1 column per level; the ``MAX_LEVELS`` most frequent levels, the
rest pooled as "(other)"), left unscaled.

Sizes: above ``FIT_ROWS`` rows the model is fitted on a random sample drawn by DuckDB; k is
chosen on the first ``SELECT_ROWS`` rows of that sample; the silhouette is computed
exactly up to ``SILHOUETTE_ROWS`` rows and above that on scikit-learn's own random sample
of that size (``silhouette_score(sample_size=..., random_state=seed)``).

Every result carries the ``model`` (fills, scaling, levels, centroids), so ``assign``
can label any rows the same way: the Analyze page uses it to save the labels of every
row as a new column.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics._fields import (
    CATEGORY_TYPES,
    NUMERIC_TYPES,
    columns,
    integer,
    q,
    read_rows,
    types_of,
)
from errors import AnalysisError, InvalidSpec

FIT_ROWS = 200_000         # k-means is fitted on a random sample of this many rows above it
SELECT_ROWS = 50_000       # k is chosen (silhouette over k_range) on this many rows of the fit sample
SILHOUETTE_ROWS = 5_000    # silhouette on a random sample of this size above it (it is O(n²))
N_INIT = 4                 # k-means restarts from different seeds; the best is kept
MAX_ITER = 300
MAX_LEVELS = 20            # one-hot columns per categorical feature
MATRIX_CELLS = 10_000_000  # rows × encoded columns held at once (80 MB); wide feature sets fit fewer rows
MAX_FEATURES = 30
PCA_POINTS = 2_000         # points in the 2-D PCA scatter
OUTLIER_SD = 3.0           # an outlier lies farther than mean + 3 sd of its cluster's distances
TOP_OUTLIERS = 20
DISTINCT_SD = 0.5          # a numeric feature "sets a cluster apart" at |mean - overall| >= 0.5 sd
OTHER = "(other)"
WEAK_SILHOUETTE = 0.25     # below this the result carries a warning: no clear structure


def label_column_name(wanted: str, existing: list[str]) -> str:
    """A free column name for saved labels: ``wanted``, else wanted_2, wanted_3, ..."""
    base = (wanted or "cluster").strip()[:60] or "cluster"
    name, i = base, 2
    while name in existing:
        name, i = f"{base}_{i}", i + 1
    return name


def _k_params(params: dict) -> tuple[int | None, tuple[int, int]]:
    k = params.get("k")
    if k is not None:
        k = integer(params, "k", 3, 2, 50)
    k_range = params.get("k_range", [2, 10])
    if (not isinstance(k_range, (list, tuple)) or len(k_range) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in k_range)):
        raise InvalidSpec("The field 'k_range' must be two whole numbers, like [2, 10]")
    low, high = k_range
    if not 2 <= low <= high <= 20:
        raise InvalidSpec("The field 'k_range' must satisfy 2 ≤ low ≤ high ≤ 20")
    return k, (low, high)


# --- preparing the feature matrix ----------------------------------------------------------


def _as_text(series: pd.Series) -> pd.Series:
    return series.astype("string")


def prepare(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> dict:
    """The model's preparation, learnt from ``frame``: fills, means, scales, levels."""
    model = {"numeric": [], "categorical": [], "columns": []}
    for name in numeric:
        values = pd.to_numeric(frame[name], errors="coerce").astype(float)
        if values.notna().sum() == 0:
            raise AnalysisError(f"The feature {name!r} has no values (all missing); leave it out")
        fill = float(values.mean())
        filled = values.fillna(fill)
        std = float(filled.std(ddof=0))
        model["numeric"].append({"name": name, "fill": fill, "mean": float(filled.mean()), "std": std or 1.0,
                                 "missing": int(values.isna().sum()), "constant": std == 0})
        model["columns"].append(name)
    for name in categorical:
        values = _as_text(frame[name])
        if values.notna().sum() == 0:
            raise AnalysisError(f"The feature {name!r} has no values (all missing); leave it out")
        counts = values.value_counts()
        fill = str(counts.index[0])
        levels = [str(v) for v in counts.index[:MAX_LEVELS]]
        pooled = len(counts) > MAX_LEVELS
        if pooled:
            levels.append(OTHER)
        model["categorical"].append({"name": name, "fill": fill, "levels": levels, "pooled": pooled,
                                     "missing": int(values.isna().sum())})
        model["columns"].extend(f"{name} = {level}" for level in levels)
    return model


def encode(model: dict, frame: pd.DataFrame) -> np.ndarray:
    """The numeric matrix k-means sees, for any rows, with the model's preparation."""
    parts = []
    for spec in model["numeric"]:
        values = pd.to_numeric(frame[spec["name"]], errors="coerce").astype(float).fillna(spec["fill"])
        parts.append(((values.to_numpy() - spec["mean"]) / spec["std"])[:, None])
    for spec in model["categorical"]:
        values = _as_text(frame[spec["name"]]).fillna(spec["fill"]).astype(str)
        known = set(spec["levels"])
        if spec["pooled"]:
            values = values.where(values.isin(known), OTHER)
        parts.append(np.stack([(values == level).to_numpy(dtype=float) for level in spec["levels"]], axis=1))
    return np.hstack(parts) if parts else np.empty((len(frame), 0))


def assign(model: dict, frame: pd.DataFrame) -> np.ndarray:
    """The nearest centroid of each row (cluster ids as in the result)."""
    x = encode(model, frame)
    centroids = np.asarray(model["centroids"], dtype=float)
    # |x - c|² = |x|² - 2 x·c + |c|²: no (rows × k × features) array in memory.
    distances = (x ** 2).sum(axis=1)[:, None] - 2 * x @ centroids.T + (centroids ** 2).sum(axis=1)[None, :]
    return distances.argmin(axis=1).astype(np.int64)


# --- the analysis -------------------------------------------------------------------------------


def run(con, source_sql: str, schema: list[dict], params: dict, progress) -> dict:
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.metrics import (
        calinski_harabasz_score,
        davies_bouldin_score,
        silhouette_score,
    )

    types = types_of(schema)
    features = columns(params, "features", schema, what="feature", maximum=MAX_FEATURES,
                       allowed_types=NUMERIC_TYPES + CATEGORY_TYPES)
    numeric = [f for f in features if types[f] in NUMERIC_TYPES]
    categorical = [f for f in features if types[f] in CATEGORY_TYPES]
    k_given, (k_low, k_high) = _k_params(params)
    seed = integer(params, "seed", 0, 0, 2**31 - 1)

    # One-hot columns per categorical feature, counted in SQL, bound the matrix's width; a
    # wide matrix is fitted on fewer rows so it stays within MATRIX_CELLS.
    width = len(numeric)
    if categorical:
        levels = con.execute("SELECT " + ", ".join(f"count(DISTINCT {q(f)})" for f in categorical)
                             + f" FROM {source_sql}").fetchone()
        width += sum(min(count, MAX_LEVELS + 1) for count in levels)
    fit_rows = min(FIT_ROWS, max(10_000, MATRIX_CELLS // max(width, 1)))
    frame, total, sampled = read_rows(con, source_sql, features, sample=fit_rows, seed=seed)
    if total == 0:
        raise AnalysisError("The dataset has no rows")
    progress(0.1, "Preparing the features")
    model = prepare(frame, numeric, categorical)
    if all(spec["constant"] for spec in model["numeric"]) and not categorical:
        raise AnalysisError("Every chosen feature has the same value in every row; there is nothing to cluster")
    x = encode(model, frame)
    distinct = len(np.unique(x[: min(len(x), 100_000)], axis=0))
    needed = k_given or k_low
    # Silhouette needs k below the number of distinct points; a given k needs k of them.
    if distinct < (needed if k_given else needed + 1):
        raise AnalysisError(f"The rows have only {distinct} distinct combinations of the features; "
                            f"k-means with k = {needed} needs more")
    if len(x) < max(needed, 3):
        raise AnalysisError(f"There are only {len(x)} rows; clustering into {needed} groups needs more")

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))

    def silhouette(data, labels):
        if len(data) > SILHOUETTE_ROWS:
            return float(silhouette_score(data, labels, sample_size=SILHOUETTE_ROWS, random_state=seed))
        return float(silhouette_score(data, labels))

    def kmeans(k):
        return KMeans(n_clusters=k, n_init=N_INIT, max_iter=MAX_ITER, random_state=seed)

    scores = []
    if k_given is None:
        select = x[np.sort(order[:SELECT_ROWS])] if len(x) > SELECT_ROWS else x
        high = min(k_high, distinct - 1, len(select) - 1)
        if high < k_low:
            raise AnalysisError(f"The rows have only {distinct} distinct combinations of the features; "
                                f"the range k = {k_low}..{k_high} needs more")
        for i, k in enumerate(range(k_low, high + 1)):
            progress(0.15 + 0.55 * i / (high - k_low + 1), f"Trying k = {k}")
            fitted = kmeans(k).fit(select)
            scores.append({"k": k, "silhouette": silhouette(select, fitted.labels_), "inertia": float(fitted.inertia_)})
        k = max(scores, key=lambda s: (s["silhouette"], -s["k"]))["k"]
    else:
        k = k_given
    progress(0.75, f"Fitting k-means with k = {k}")
    fitted = kmeans(k).fit(x)
    # Cluster ids by size, largest first, so they read the same from run to run.
    sizes_raw = np.bincount(fitted.labels_, minlength=k)
    rank = np.argsort(-sizes_raw, kind="stable")
    remap = np.empty(k, dtype=int)
    remap[rank] = np.arange(k)
    labels = remap[fitted.labels_]
    centroids = fitted.cluster_centers_[rank]
    model["centroids"] = centroids
    model["features"] = features

    progress(0.85, "Describing the clusters")
    sil = silhouette(x, labels)
    db = float(davies_bouldin_score(x, labels))
    ch = float(calinski_harabasz_score(x, labels))
    sizes = np.bincount(labels, minlength=k)
    distance = np.sqrt(((x - centroids[labels]) ** 2).sum(axis=1))
    clusters, outliers = _profiles(frame, model, labels, sizes, distance)

    pca_points = {}
    if x.shape[1] >= 2:
        pca = PCA(n_components=2, random_state=seed).fit(x)
        pick = np.sort(order[:PCA_POINTS])
        xy = pca.transform(x[pick])
        cxy = pca.transform(centroids)
        pca_points = {"x": xy[:, 0], "y": xy[:, 1], "cluster": labels[pick],
                      "centroids": {"x": cxy[:, 0], "y": cxy[:, 1]},
                      "explained_variance": pca.explained_variance_ratio_}
    warnings = []
    if sil < WEAK_SILHOUETTE:
        warnings.append(f"The silhouette is {sil:.2f} (below {WEAK_SILHOUETTE}): the rows do not fall into clearly "
                        "separated groups, so read the clusters as slices of a continuum rather than segments.")
    return {
        "warnings": warnings,
        "k": int(k), "k_chosen_by": "given" if k_given else "silhouette", "k_range": [k_low, k_high],
        "silhouette_by_k": scores, "silhouette": sil, "davies_bouldin": db, "calinski_harabasz": ch,
        "inertia": float(fitted.inertia_), "sizes": sizes.tolist(), "clusters": clusters, "outliers": outliers,
        "pca": pca_points, "features": features, "rows": int(total), "sample_size": len(x),
        "sampled": sampled, "seed": seed,
        "silhouette_sample": min(len(x), SILHOUETTE_ROWS),
        "preparation": _preparation(model),
        "model": model,
    }


def _preparation(model: dict) -> list[str]:
    lines = []
    for spec in model["numeric"]:
        line = f"{spec['name']}: numeric, standardised (mean {spec['mean']:.4g}, sd {spec['std']:.4g})"
        if spec["missing"]:
            line += f"; {spec['missing']} missing value(s) replaced by the mean"
        if spec["constant"]:
            line += "; the same in every row, so it does not affect the clusters"
        lines.append(line)
    for spec in model["categorical"]:
        line = f"{spec['name']}: categorical, one-hot encoded ({len(spec['levels'])} columns of 0/1, unscaled)"
        if spec["pooled"]:
            line += f"; levels past the {MAX_LEVELS} most frequent pooled as {OTHER!r}"
        if spec["missing"]:
            line += f"; {spec['missing']} missing value(s) replaced by {spec['fill']!r}"
        lines.append(line)
    return lines


def _profiles(frame, model, labels, sizes, distance) -> tuple[list[dict], dict]:
    total = len(labels)
    overall_numeric = {}
    numeric_values = {}
    for spec in model["numeric"]:
        values = pd.to_numeric(frame[spec["name"]], errors="coerce").astype(float).fillna(spec["fill"]).to_numpy()
        numeric_values[spec["name"]] = values
        overall_numeric[spec["name"]] = (float(values.mean()), float(values.std(ddof=0)) or 1.0)
    categorical_values = {}
    for spec in model["categorical"]:
        values = _as_text(frame[spec["name"]]).fillna(spec["fill"]).astype(str)
        if spec["pooled"]:
            values = values.where(values.isin(set(spec["levels"])), OTHER)
        categorical_values[spec["name"]] = values.to_numpy()
    clusters = []
    outlier_rows = []
    outlier_count = 0
    for cid, size in enumerate(sizes):
        mask = labels == cid
        profile = {"numeric": {}, "categorical": {}}
        apart = []
        for name, values in numeric_values.items():
            mean, sd = overall_numeric[name]
            cmean = float(values[mask].mean()) if size else None
            z = (cmean - mean) / sd if size else 0.0
            profile["numeric"][name] = {"mean": cmean, "overall_mean": mean,
                                        "median": float(np.median(values[mask])) if size else None, "z": z}
            if abs(z) >= DISTINCT_SD:
                apart.append({"feature": name, "kind": "numeric", "z": z, "mean": cmean, "overall_mean": mean,
                              "direction": "high" if z > 0 else "low"})
        for name, values in categorical_values.items():
            inside = pd.Series(values[mask]).value_counts(normalize=True)
            overall = pd.Series(values).value_counts(normalize=True)
            top = [{"level": str(level), "share": float(share), "overall_share": float(overall.get(level, 0.0))}
                   for level, share in inside.head(3).items()]
            profile["categorical"][name] = {"top": top}
            if top:
                lift = top[0]["share"] - top[0]["overall_share"]
                if lift >= 0.15:
                    apart.append({"feature": name, "kind": "categorical", "level": top[0]["level"],
                                  "share": top[0]["share"], "overall_share": top[0]["overall_share"],
                                  "z": lift / 0.15 * DISTINCT_SD})
        apart.sort(key=lambda item: -abs(item["z"]))
        d = distance[mask]
        threshold = float(d.mean() + OUTLIER_SD * d.std()) if size > 1 else float("inf")
        far = np.flatnonzero(mask & (distance > threshold))
        outlier_count += len(far)
        for i in far:
            outlier_rows.append((float(distance[i]), cid, int(i)))
        clusters.append({
            "id": cid, "size": int(size), "share": float(size / total), "profile": profile,
            "distinguishing": apart[:5], "outliers": len(far), "outlier_threshold": threshold,
            "mean_distance": float(d.mean()) if size else None,
            "description": describe(cid, size / total, apart),
        })
    outlier_rows.sort(reverse=True)
    top = []
    for dist, cid, i in outlier_rows[:TOP_OUTLIERS]:
        row = {name: _plain(frame[name].iloc[i]) for name in model["features"]}
        top.append({"cluster": cid, "distance": dist, "values": row})
    return clusters, {"count": outlier_count, "rule": f"farther from its centroid than the cluster's mean distance "
                                                      f"+ {OUTLIER_SD:g} standard deviations", "top": top}


def _plain(value):
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value if isinstance(value, (int, float, str, bool)) else str(value)


def _fmt(value: float) -> str:
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def describe(cid: int, share: float, apart: list[dict]) -> str:
    """One or two sentences on a cluster, from its numbers: its share of rows, then what
    sets it apart, strongest first."""
    head = f"Cluster {cid} holds {share:.0%} of the rows"
    if not apart:
        return head + "; it is close to the overall average on every feature."
    parts = []
    for item in apart[:3]:
        if item["kind"] == "numeric":
            strength = "much " if abs(item["z"]) >= 1.0 else ""
            parts.append(f"{strength}{'higher' if item['z'] > 0 else 'lower'} {item['feature']} "
                         f"(mean {_fmt(item['mean'])} vs {_fmt(item['overall_mean'])} overall)")
        else:
            parts.append(f"mostly {item['feature']} = {item['level']} "
                         f"({item['share']:.0%} vs {item['overall_share']:.0%} overall)")
    return head + ": " + "; ".join(parts) + "."
