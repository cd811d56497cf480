"""Regression with statsmodels: ordinary least squares, or logistic regression when the
target has two values.

The model is the one statsmodels' formula API fits for ``target ~ C(cat) + ... + num + ...``
with treatment coding: the same design matrix, columns and term names (the tests check
coefficients, standard errors and R² against ``smf.ols``/``smf.logit``). The design matrix
is built here with numpy rather than by patsy, which takes seconds per categorical
column on half a million rows, and fitted with ``sm.OLS`` / ``sm.Logit``.

Encoding: a categorical feature (text, categorical, boolean) enters as ``C(name)`` with
treatment (dummy) coding; its reference level is the first in sorted order, as statsmodels
chooses by default, unless ``params["reference"] = {column: level}`` picks another. Term
names are exactly statsmodels' (patsy's): ``C(Genre)[T.Male]`` for a level,
``Age`` for a numeric column, and ``Q("Annual Income (k$)")`` / ``C(Q("Home city"))[T.Paris]``
when a column name is not a plain Python identifier. Each coefficient also carries the
plain ``column`` and ``level`` it belongs to.

Missing values: ``"drop"`` (default) drops rows with a missing target or feature;
``"impute"`` fills numeric features with their mean and categorical ones with their most
frequent value (the counts are reported). Rows with a missing target are always dropped.

Above ``SAMPLE_ROWS`` rows the model is fitted on a random sample drawn by DuckDB.
"""
from __future__ import annotations

import keyword
import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats as st

from analytics._fields import (
    CATEGORY_TYPES,
    NUMERIC_TYPES,
    check_column,
    choice,
    columns,
    integer,
    q,
    read_rows,
    types_of,
)
from errors import AnalysisError, InvalidSpec

SAMPLE_ROWS = 500_000          # fit on a random sample of this many rows above it
PLOT_POINTS = 2_000            # residual-vs-fitted points sent to the browser
QQ_POINTS = 200
MAX_LEVELS = 50                # a categorical feature may have at most this many levels
MAX_FEATURES = 50
MAX_COEFFICIENTS = 150         # columns of the design matrix, intercept and dummies included
DESIGN_CELLS = 10_000_000      # rows × coefficients held at once (80 MB); wide models sample fewer rows
TEST_SIZE = 0.25               # logistic: share of rows held out to score the model
TERM_NAMING = ("statsmodels formula (patsy) names: C(column)[T.level] for a level of a categorical column "
               "against its reference level, the column name for a numeric column, and Q(\"name\") around a "
               "column name that is not a Python identifier")

_PATSY_NAMES = {"C", "Q", "I", "T", "np", "center", "standardize", "scale", "bs", "cr", "cc", "te", "Treatment",
                "Sum", "Poly", "Diff", "Helmert", "Intercept"}


def formula_name(name: str) -> str:
    """How a column is written in a formula (and so how statsmodels names its term)."""
    if name.isidentifier() and not keyword.iskeyword(name) and name not in _PATSY_NAMES and name.isascii():
        return name
    return 'Q("' + name.replace("\\", "\\\\").replace('"', '\\"') + '")'


def categorical_term(name: str) -> str:
    return f"C({formula_name(name)})"


def run(con, source_sql: str, schema: list[dict], params: dict, progress) -> dict:
    types = types_of(schema)
    target = check_column(params.get("target"), schema, what="target") if params.get("target") not in (None, "") \
        else None
    if target is None:
        raise InvalidSpec("Choose a target: the field 'target' is required")
    features = columns(params, "features", schema, what="feature", maximum=MAX_FEATURES)
    if target in features:
        raise InvalidSpec(f"The target {target!r} cannot also be a feature")
    for name in features:
        if types[name] not in NUMERIC_TYPES + CATEGORY_TYPES:
            raise InvalidSpec(f"The feature {name!r} is {types[name]}; features must be numeric or categorical")
    model = choice(params, "model", ("ols", "logistic", "auto"), default="auto")
    standard_errors = choice(params, "standard_errors", ("classical", "HC3"), default="classical")
    missing = choice(params, "missing", ("drop", "impute"), default="drop")
    seed = integer(params, "seed", 0, 0, 2**31 - 1)
    reference = params.get("reference") or {}
    if not isinstance(reference, dict):
        raise InvalidSpec("The field 'reference' must map a categorical feature to its reference level")
    categorical = [f for f in features if types[f] in CATEGORY_TYPES]
    for name in reference:
        if name not in categorical:
            raise InvalidSpec(f"A reference level was given for {name!r}, which is not a categorical feature")

    # In one scan: how much is missing, and the levels of each categorical feature among
    # rows with a target (so a too-wide model fails before any rows are read, and a wide
    # one is fitted on fewer rows: the design matrix stays within DESIGN_CELLS).
    counts = con.execute(
        f"SELECT count(*), count({q(target)}), "
        + ", ".join(f"count({q(f)})" for f in features)
        + "".join(f", count(DISTINCT {q(f)}) FILTER (WHERE {q(target)} IS NOT NULL)" for f in categorical)
        + f", count(*) FILTER (WHERE {q(target)} IS NOT NULL AND NOT ("
        + " AND ".join(f"{q(f)} IS NOT NULL" for f in features) + f")) FROM {source_sql}"
    ).fetchone()
    total, with_target, incomplete = counts[0], counts[1], counts[-1]
    feature_counts = counts[2:2 + len(features)]
    levels = counts[2 + len(features):-1]
    if total == 0:
        raise AnalysisError("The dataset has no rows")
    if with_target == 0:
        raise AnalysisError(f"The target {target!r} has no values")
    for name, n in zip(features, feature_counts):
        if n == 0:
            raise AnalysisError(f"The feature {name!r} has no values (all missing); leave it out")
    where = f"{q(target)} IS NOT NULL"
    if missing == "drop":
        where += "".join(f" AND {q(f)} IS NOT NULL" for f in features)
    matching = with_target - incomplete if missing == "drop" else with_target
    width = 1 + len(features) - len(categorical)
    for name, count in zip(categorical, levels):
        if count > MAX_LEVELS:
            raise InvalidSpec(f"The feature {name!r} has {count} distinct values; a categorical feature "
                              f"may have at most {MAX_LEVELS} (one coefficient each)")
        width += max(count - 1, 0)
    if width > MAX_COEFFICIENTS:
        raise InvalidSpec(f"The model would have {width} coefficients; at most {MAX_COEFFICIENTS}: "
                          "use fewer features or categorical features with fewer values")
    sample_rows = min(SAMPLE_ROWS, max(10_000, DESIGN_CELLS // width))
    frame, used_rows, sampled = read_rows(con, source_sql, [target, *features], where=where, sample=sample_rows,
                                          seed=seed, total=matching)
    progress(0.2, "Preparing the data")
    if used_rows == 0:
        raise AnalysisError("No row has the target and every feature filled; choose 'impute' or fewer features")

    imputed = {}
    for name in features:
        gaps = int(frame[name].isna().sum())
        if name in categorical:
            values = frame[name].astype("string")
            fill = values.mode().iloc[0] if gaps else None
            frame[name] = values.fillna(fill) if gaps else values
            if gaps:
                imputed[name] = {"rows": gaps, "value": str(fill), "method": "most frequent value"}
        else:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
            if gaps:
                fill = float(frame[name].mean())
                frame[name] = frame[name].fillna(fill)
                imputed[name] = {"rows": gaps, "value": fill, "method": "mean"}

    # The target.
    target_values = frame[target]
    distinct = target_values.dropna().unique()
    if len(distinct) < 2:
        raise AnalysisError(f"The target {target!r} has only one value ({distinct[0]!r}) in the rows used; "
                            "there is nothing to explain")
    if model == "auto":
        model = "logistic" if len(distinct) == 2 else "ols"
    positive = None
    if model == "ols":
        if types[target] not in NUMERIC_TYPES:
            raise AnalysisError(f"The target {target!r} is {types[target]}, not numeric: linear regression (OLS) "
                                "needs a numeric target; use logistic regression for a target with two values")
        frame[target] = target_values.astype(float)
    else:
        if len(distinct) != 2:
            raise AnalysisError(f"Logistic regression needs a target with exactly two values; {target!r} has "
                                f"{len(distinct)}")
        levels = sorted(distinct, key=lambda v: (str(type(v)), v))
        wanted = params.get("positive")
        positive = levels[1]
        if wanted is not None:
            match = [v for v in levels if str(v) == str(wanted)]
            if not match:
                raise InvalidSpec(f"The positive class {wanted!r} is not a value of {target!r}")
            positive = match[0]
        frame[target] = (target_values == positive).astype(float)

    # Categorical levels and reference levels.
    design_features = []
    reference_levels = {}
    for name in features:
        if name in categorical:
            levels = sorted(frame[name].unique().tolist())
            if len(levels) > MAX_LEVELS:
                raise InvalidSpec(f"The feature {name!r} has {len(levels)} distinct values; a categorical feature "
                                  f"may have at most {MAX_LEVELS} (one coefficient each)")
            if len(levels) < 2:
                raise AnalysisError(f"The feature {name!r} has only one value ({levels[0]!r}) in the rows used; "
                                    "it cannot explain anything: leave it out")
            ref = levels[0]
            if name in reference:
                if str(reference[name]) not in levels:
                    raise InvalidSpec(f"The reference level {reference[name]!r} is not a value of {name!r}")
                ref = str(reference[name])
            order = [ref] + [v for v in levels if v != ref]
            # A pandas Categorical in this order makes patsy's default treatment coding use
            # ``ref`` as the reference while keeping statsmodels' plain term names.
            frame[name] = pd.Categorical(frame[name], categories=order)
            reference_levels[name] = ref
            design_features.append({"name": name, "kind": "categorical", "term": categorical_term(name),
                                    "levels": order, "reference": ref})
        else:
            if frame[name].min() == frame[name].max():  # cheaper than nunique on many rows
                raise AnalysisError(f"The feature {name!r} has the same value in every row used; leave it out")
            design_features.append({"name": name, "kind": "numeric", "term": formula_name(name),
                                    "mean": float(frame[name].mean()), "min": float(frame[name].min()),
                                    "max": float(frame[name].max())})
    n_params = 1 + sum(len(f["levels"]) - 1 if f["kind"] == "categorical" else 1 for f in design_features)
    if n_params >= len(frame):
        raise AnalysisError(f"There are {len(frame)} rows but the model has {n_params} coefficients; "
                            "a fit needs more rows than coefficients: use fewer features")

    # patsy puts terms with only categorical factors before numeric ones; so do we.
    design_features.sort(key=lambda f: f["kind"] != "categorical")
    rhs = " + ".join(f["term"] for f in design_features)
    formula = f"{formula_name(target)} ~ {rhs}"
    progress(0.35, "Fitting")
    result = {
        "model": model, "target": target, "features": features, "formula": formula, "missing": missing,
        "rows": int(total), "n": len(frame), "sample_size": len(frame), "sampled": sampled,
        "dropped": {"missing_target": int(total - with_target),
                    "missing_features": int(incomplete) if missing == "drop" else 0},
        "imputed": imputed, "reference_levels": reference_levels, "term_naming": TERM_NAMING,
        "design": {"features": design_features, "target": target, "model": model,
                   "positive": None if positive is None else str(positive),
                   "target_levels": [str(v) for v in levels] if model == "logistic" else None},
    }
    exog = design_matrix(frame, design_features)
    endog = frame[target].to_numpy(dtype=float)
    if model == "ols":
        result.update(_ols(endog, exog, design_features, progress, standard_errors))
    else:
        result["positive_class"] = str(positive)
        result.update(_logistic(endog, exog, design_features, seed, progress))
    if isinstance(params.get("predict"), list):
        result["predictions"] = [predict(result, row) for row in params["predict"][:100]]
    return result


def _coefficients(fit, design_features) -> list[dict]:
    ci = fit.conf_int(0.05)
    owners = {}
    for feature in design_features:
        if feature["kind"] == "categorical":
            for level in feature["levels"][1:]:
                owners[f"{feature['term']}[T.{level}]"] = (feature["name"], level)
        else:
            owners[feature["term"]] = (feature["name"], None)
    rows = []
    for term in fit.params.index:
        column, level = owners.get(term, (None, None))
        rows.append({
            "term": term, "column": column, "level": level, "estimate": float(fit.params[term]),
            "std_error": float(fit.bse[term]), "t": float(fit.tvalues[term]), "p": float(fit.pvalues[term]),
            "ci_low": float(ci.loc[term, 0]), "ci_high": float(ci.loc[term, 1]),
        })
    return rows


def design_matrix(frame: pd.DataFrame, design_features: list[dict]) -> pd.DataFrame:
    """The treatment-coded design matrix with patsy's column names: Intercept, one 0/1
    column per non-reference level (``C(g)[T.level]``), then the numeric columns."""
    columns = {"Intercept": np.ones(len(frame))}
    for feature in design_features:
        if feature["kind"] == "categorical":
            codes = frame[feature["name"]].cat.codes.to_numpy()
            for position, level in enumerate(feature["levels"][1:], start=1):
                columns[f"{feature['term']}[T.{level}]"] = (codes == position).astype(float)
        else:
            columns[feature["term"]] = frame[feature["name"]].to_numpy(dtype=float)
    return pd.DataFrame(columns, index=frame.index)


def vif_table(exog: pd.DataFrame) -> list[dict]:
    """Variance inflation factors of the non-intercept columns. With an intercept in the
    model, VIF_j = 1 / (1 - R²_j) is the j-th diagonal element of the inverse of the
    columns' correlation matrix, which is what statsmodels' variance_inflation_factor
    computes by one regression per column (checked in the tests)."""
    names = [c for c in exog.columns if c != "Intercept"]
    if len(names) == 1:
        return [{"term": names[0], "vif": 1.0}]
    corr = np.corrcoef(exog[names].to_numpy(), rowvar=False)
    try:
        diagonal = np.diag(np.linalg.inv(corr))
    except np.linalg.LinAlgError:
        diagonal = [float("inf")] * len(names)
    return [{"term": n, "vif": float(v) if np.isfinite(v) and v > 0 else None} for n, v in zip(names, diagonal)]


def _ols(endog, exog: pd.DataFrame, design_features, progress, standard_errors: str = "classical") -> dict:
    import statsmodels.api as sm
    from statsmodels.stats.diagnostic import het_breuschpagan
    from statsmodels.stats.stattools import jarque_bera

    x = exog.to_numpy()
    full_rank = np.linalg.matrix_rank(x.T @ x) == x.shape[1]
    # statsmodels' default pseudo-inverse, as the formula API uses (its QR path computes
    # the pseudo-inverse as well, so it is slower here). HC3: heteroscedasticity-robust
    # standard errors (MacKinnon and White), the same coefficients.
    fit = sm.OLS(endog, exog).fit(**({"cov_type": "HC3"} if standard_errors == "HC3" else {}))
    progress(0.7, "Diagnostics")
    resid_all = np.asarray(fit.resid)
    jb, jb_p, skew, kurtosis = jarque_bera(resid_all)
    diagnostics = [
        {"test": "Jarque-Bera (normal residuals)", "statistic": float(jb), "p": float(jb_p),
         "reading": (f"residuals look normal (skew {skew:.2f}, kurtosis {kurtosis:.2f})" if jb_p >= 0.05 else
                     f"residuals are not normal (skew {skew:.2f}, kurtosis {kurtosis:.2f}): the estimates are "
                     "unaffected, and with a few hundred rows or more the p-values stay close")},
    ]
    if exog.shape[1] > 1:
        bp, bp_p, _, _ = het_breuschpagan(resid_all, x)
        diagnostics.append({
            "test": "Breusch-Pagan (constant variance)", "statistic": float(bp), "p": float(bp_p),
            "reading": ("no evidence that the residual variance changes with the features" if bp_p >= 0.05 else
                        "the residual variance changes with the features: prefer robust (HC3) standard errors"
                        if standard_errors == "classical" else
                        "the residual variance changes with the features; the HC3 standard errors allow for it"),
        })
    warnings_list = []
    if not full_rank:
        warnings_list.append("Some features are exact combinations of others (perfect collinearity); "
                             "their coefficients are not identifiable")
    vif = vif_table(exog)
    if any(v["vif"] is None or v["vif"] > 10 for v in vif):
        warnings_list.append("A VIF above 10 means strong collinearity: those coefficients are unstable")
    if fit.f_pvalue is not None and np.isfinite(fit.f_pvalue) and fit.f_pvalue >= 0.05:
        warnings_list.append(f"The F test finds no evidence that the features explain the target together "
                             f"(p = {fit.f_pvalue:.3g}).")
    fitted = np.asarray(fit.fittedvalues)
    resid = resid_all
    pick = np.linspace(0, len(fitted) - 1, min(PLOT_POINTS, len(fitted))).astype(int)
    scale = resid.std(ddof=1) or 1.0
    standardized = np.sort(resid / scale)
    probs = (np.arange(1, len(standardized) + 1) - 0.5) / len(standardized)
    qpick = np.unique(np.linspace(0, len(standardized) - 1, min(QQ_POINTS, len(standardized))).astype(int))
    return {
        "r2": float(fit.rsquared), "adj_r2": float(fit.rsquared_adj), "f": _finite(fit.fvalue),
        "f_p": _finite(fit.f_pvalue), "aic": float(fit.aic), "bic": float(fit.bic),
        "log_likelihood": float(fit.llf), "df_model": float(fit.df_model), "df_resid": float(fit.df_resid),
        "rmse": float(math.sqrt(np.mean(resid ** 2))), "condition_number": _finite(fit.condition_number),
        "coefficients": _coefficients(fit, design_features), "vif": vif,
        "residuals": {"fitted": fitted[pick], "residual": resid[pick]},
        "qq": {"theoretical": st.norm.ppf(probs[qpick]), "sample": standardized[qpick]},
        "standard_errors": standard_errors, "diagnostics": diagnostics,
        "warnings": warnings_list,
    }


def _finite(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _logistic(endog, exog: pd.DataFrame, design_features, seed, progress) -> dict:
    import statsmodels.api as sm
    from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve
    from sklearn.model_selection import train_test_split

    def fit_logit(y, x):
        with warnings.catch_warnings():
            warnings.simplefilter("error", category=RuntimeWarning)
            try:
                warnings.filterwarnings("ignore", message=".*overflow.*")
                fitted = sm.Logit(y, x).fit(disp=0, maxiter=100)
            except np.linalg.LinAlgError:
                raise AnalysisError("The features are collinear (a feature is a combination of others); "
                                    "logistic regression cannot be fitted: drop one of them") from None
            except Exception as exc:  # statsmodels' separation errors and warnings
                if "separation" in str(exc).lower() or "singular" in str(exc).lower():
                    raise AnalysisError("The features separate the two target values perfectly (or nearly), so "
                                        "the odds ratios are infinite; drop the feature that gives the answer "
                                        "away") from None
                raise
        return fitted

    positives = int(endog.sum())
    if positives < 2 or len(endog) - positives < 2:
        raise AnalysisError("The target has fewer than two rows of one of its two values")
    fit = fit_logit(endog, exog)
    progress(0.65, "Scoring on a held-out split")
    coefficients = _coefficients(fit, design_features)
    for row in coefficients:
        row["z"] = row["t"]
        row["odds_ratio"] = _finite(math.exp(row["estimate"])) if row["estimate"] < 700 else None
        row["or_low"] = _finite(math.exp(row["ci_low"])) if row["ci_low"] < 700 else None
        row["or_high"] = _finite(math.exp(row["ci_high"])) if row["ci_high"] < 700 else None
    train, test = train_test_split(np.arange(len(endog)), test_size=TEST_SIZE, random_state=seed, stratify=endog)
    holdout = {"test_size": TEST_SIZE, "seed": seed, "train_rows": len(train), "test_rows": len(test)}
    try:
        split_fit = fit_logit(endog[train], exog.iloc[train])
        prob = np.asarray(split_fit.predict(exog.iloc[test]))
        truth = endog[test].astype(int)
        predicted = (prob >= 0.5).astype(int)
        matrix = confusion_matrix(truth, predicted, labels=[0, 1])
        tn, fp, fn, tp = (int(v) for v in matrix.ravel())
        fpr, tpr, _ = roc_curve(truth, prob)
        pick = np.unique(np.linspace(0, len(fpr) - 1, min(100, len(fpr))).astype(int))
        holdout.update({
            "threshold": 0.5, "confusion_matrix": {"tn": tn, "fp": fp, "fn": fn, "tp": tp},
            "accuracy": (tp + tn) / len(truth), "precision": tp / (tp + fp) if tp + fp else None,
            "recall": tp / (tp + fn) if tp + fn else None,
            "roc_auc": float(roc_auc_score(truth, prob)) if len(set(truth)) == 2 else None,
            "roc": {"fpr": fpr[pick], "tpr": tpr[pick]},
        })
    except AnalysisError as exc:
        holdout["error"] = exc.message
    return {
        "r2": float(fit.prsquared), "r2_kind": "McFadden's pseudo R²", "adj_r2": None,
        "aic": float(fit.aic), "bic": float(fit.bic), "log_likelihood": float(fit.llf),
        "llr_p": _finite(fit.llr_pvalue), "df_model": float(fit.df_model), "df_resid": float(fit.df_resid),
        "coefficients": coefficients, "holdout": holdout,
        "warnings": [] if not np.isfinite(fit.llr_pvalue) or fit.llr_pvalue < 0.05 else [
            (f"The likelihood-ratio test finds no evidence that the features predict the target "
            f"(p = {fit.llr_pvalue:.3g}): the model does no better than the base rate.")],
        "note": "Coefficients and odds ratios come from the fit on all rows used; the confusion matrix and "
                "ROC AUC from a second fit on the training split, scored on the held-out split.",
    }


def predict(result: dict, values: dict) -> dict:
    """The model's prediction for one set of feature values, from a finished result (no
    refit): the linear predictor from the coefficients, through the logistic function
    for a logistic model. Missing numeric values take the mean of the data."""
    design = result["design"]
    by_term = {c["term"]: c["estimate"] for c in result["coefficients"]}
    eta = by_term.get("Intercept", 0.0)
    used = {}
    if not isinstance(values, dict):
        raise InvalidSpec("A prediction needs an object of feature values")
    for feature in design["features"]:
        raw = values.get(feature["name"])
        if feature["kind"] == "categorical":
            level = feature["reference"] if raw in (None, "") else str(raw)
            if level not in feature["levels"]:
                raise InvalidSpec(f"{level!r} is not a value of {feature['name']!r} seen by the model")
            if level != feature["reference"]:
                eta += by_term.get(f"{feature['term']}[T.{level}]", 0.0)
            used[feature["name"]] = level
        else:
            try:
                number = feature["mean"] if raw in (None, "") else float(raw)
            except (TypeError, ValueError):
                raise InvalidSpec(f"The value for {feature['name']!r} must be a number") from None
            eta += by_term.get(feature["term"], 0.0) * number
            used[feature["name"]] = number
    if design["model"] == "logistic":
        probability = 1.0 / (1.0 + math.exp(-eta)) if eta > -700 else 0.0
        return {"values": used, "probability": probability, "positive_class": design.get("positive"),
                "log_odds": eta}
    return {"values": used, "prediction": eta}
