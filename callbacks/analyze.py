"""The Analyze page: the chosen dataset's schema for the field pickers, and the
Statistics, Correlation, Regression and Clustering tabs (each an analysis run as a job
through ``callbacks.analyze_common``). Every callback takes the acting principal; storage
checks access to the dataset and the job."""
from __future__ import annotations

from dash import ALL, Input, Output, State, no_update

from analytics.column_choice import Columns, column_entry
from analytics.regression import predict
from callbacks.analyze_common import (
    register_analysis,
    register_column_options,
    register_job,
)
from components import analyze_clustering, analyze_regression, analyze_stats
from components.analysis_widget import with_add_button
from components.analyze_common import CATEGORICAL, DATES, NUMERIC, Picker
from components.feedback import error_alert
from storage.errors import DataInsightError, InvalidSpec
from web.context import current_storage, require_principal

SHOW = {}
HIDE = {"display": "none"}
# Measures preselected for statistics and correlation (more are a click away).
MAX_PRESELECTED = 8


def _stats_params(analysis, describe_columns, group_by, pivot_rows, pivot_columns, pivot_values, pivot_agg,
                  test_column, test_group):
    if analysis == "pivot":
        return {"analysis": "pivot", "rows": pivot_rows, "columns": pivot_columns, "values": pivot_values,
                "agg": pivot_agg or "count"}
    if analysis == "test":
        return {"analysis": "test", "column": test_column, "group": test_group}
    return {"analysis": "describe", "columns": describe_columns or [], "group_by": group_by or []}


def _corr_params(columns, method, scatter):
    return {"columns": columns or [], "method": method or "pearson", "scatter_columns": scatter or []}


def _reg_params(target, features, model, missing, standard_errors, reference_values=None, reference_ids=None,
                positive=None, kept=None):
    params = {"target": target, "features": features or [], "model": model or "auto", "missing": missing or "drop",
              "standard_errors": standard_errors or "classical"}
    # The reference levels and positive class chosen after the last fit, for what is
    # still in the model (a feature taken out, or another target, drops its choice).
    chosen = set(features or [])
    reference = {i["index"]: v for i, v in zip(reference_ids or [], reference_values or [])
                 if v not in (None, "") and i["index"] in chosen}
    if reference:
        params["reference"] = reference
    design = (kept or {}).get("design") or {}
    if positive not in (None, "") and design.get("target") == target and design.get("target_levels"):
        params["positive"] = positive
    return params


def _whole(value, name):
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidSpec(f"{name} must be a whole number") from None
    if not number.is_integer():
        raise InvalidSpec(f"{name} must be a whole number")
    return int(number)


def _clu_params(features, k, k_low, k_high, seed):
    return {"features": features or [], "k": _whole(k, "The number of clusters"),
            "k_range": [_whole(k_low, "k from") or 2, _whole(k_high, "k to") or 10],
            "seed": _whole(seed, "The seed") or 0}


def without_target(target, features):
    """The features with the target taken out (no_update when it was not among them)."""
    if not target or not isinstance(features, list) or target not in features:
        return no_update
    return [f for f in features if f != target] or None


def register(app) -> None:
    @app.callback(
        Output("analyze-schema", "data"),
        Output("analyze-dataset-info", "children"),
        Input("analyze-dataset", "value"),
    )
    def dataset_schema(dataset_id):
        if dataset_id in (None, ""):
            return None, None
        principal = require_principal()
        storage = current_storage()
        try:
            dataset = storage.datasets.get(principal, dataset_id)
            roles, summary = storage.roles.get(principal, dataset.id), storage.roles.summary_for(dataset)
        except DataInsightError as exc:
            return None, error_alert(exc.message)
        # Each column with its role and counts: the pickers label their options with the
        # role and start from real measures, the time, a customer id, the category with
        # the fewest values (analytics.column_choice.Columns.from_schema reads them back).
        schema = [column_entry(c, roles, summary) for c in dataset.schema]
        return schema, f"{dataset.rows:,} rows · {len(schema)} columns · version {dataset.version}"

    everything = None
    # Real measures first and preselected: never an id, a code or a date part.
    register_column_options(app, {
        "stats-columns": Picker(everything, "measure", lambda c: c.measures()[:MAX_PRESELECTED]),
        "stats-group-by": Picker(CATEGORICAL + NUMERIC + DATES, "category"),
        "stats-pivot-rows": Picker(everything, "category", lambda c: c.categories()[:1] or None),
        "stats-pivot-columns": Picker(everything, "category"),
        "stats-pivot-values": Picker(NUMERIC, "measure"),
        "stats-test-column": Picker(NUMERIC + CATEGORICAL, "measure", Columns.main_measure),
        "stats-test-group": Picker(CATEGORICAL + NUMERIC, "category", lambda c: c.categories()[0]
                                   if c.categories() else None),
        "corr-columns": Picker(NUMERIC, "measure", lambda c: c.measures()[:MAX_PRESELECTED]),
        "corr-scatter": Picker(NUMERIC, "measure", lambda c: c.measures()[:4]),
        "reg-target": Picker(NUMERIC + CATEGORICAL, "measure", Columns.main_measure),
        "reg-features": Picker(NUMERIC + CATEGORICAL, "measure", lambda c: c.measures()[1:6]),
        "clu-features": Picker(NUMERIC + CATEGORICAL, "measure", lambda c: c.measures()[:6]),
    })

    @app.callback(
        Output("reg-features", "value", allow_duplicate=True),
        Input("reg-target", "value"),
        State("reg-features", "value"),
        prevent_initial_call=True,
    )
    def target_leaves_the_features(target, features):
        # A column cannot explain itself: choosing a target takes it out of the features
        # (the preselected ones included), instead of refusing the fit afterwards.
        return without_target(target, features)

    @app.callback(
        Output("stats-describe-fields", "style"),
        Output("stats-pivot-fields", "style"),
        Output("stats-test-fields", "style"),
        Input("stats-analysis", "value"),
    )
    def stats_fields(analysis):
        return tuple(SHOW if analysis == name else HIDE for name in ("describe", "pivot", "test"))

    register_analysis(
        app, "stats", "stats",
        [State("stats-analysis", "value"), State("stats-columns", "value"), State("stats-group-by", "value"),
         State("stats-pivot-rows", "value"), State("stats-pivot-columns", "value"),
         State("stats-pivot-values", "value"), State("stats-pivot-agg", "value"),
         State("stats-test-column", "value"), State("stats-test-group", "value")],
        _stats_params, with_add_button("stats", "stats", analyze_stats.render_stats),
    )
    register_analysis(
        app, "corr", "correlation",
        [State("corr-columns", "value"), State("corr-method", "value"), State("corr-scatter", "value")],
        _corr_params, with_add_button("corr", "correlation", analyze_stats.render_correlation),
    )
    register_analysis(
        app, "reg", "regression",
        [State("reg-target", "value"), State("reg-features", "value"), State("reg-model", "value"),
         State("reg-missing", "value"), State("reg-se", "value"),
         State({"type": "reg-reference", "index": ALL}, "value"), State({"type": "reg-reference", "index": ALL}, "id"),
         State("reg-positive", "value"), State("reg-data", "data")],
        _reg_params, with_add_button("reg", "regression", analyze_regression.render), keep=analyze_regression.keep,
    )
    register_analysis(
        app, "clu", "clustering",
        [State("clu-features", "value"), State("clu-k", "value"), State("clu-k-low", "value"),
         State("clu-k-high", "value"), State("clu-seed", "value")],
        _clu_params, with_add_button("clu", "clustering", analyze_clustering.render),
        keep=lambda result: {"k": result["k"]},
    )

    @app.callback(
        Output("reg-reference-area", "children"),
        Output("reg-positive", "options"),
        Output("reg-positive", "value"),
        Output("reg-positive-box", "style"),
        Input("reg-data", "data"),
    )
    def level_choices(kept):
        # From the design already sent to this browser with the fit: no data access.
        return analyze_regression.level_controls((kept or {}).get("design"))

    @app.callback(
        Output("reg-predict-result", "children"),
        Input("reg-predict", "n_clicks"),
        State({"type": "reg-predict-input", "index": ALL}, "value"),
        State({"type": "reg-predict-input", "index": ALL}, "id"),
        State("reg-data", "data"),
        prevent_initial_call=True,
    )
    def predict_values(clicks, values, ids, model):
        # Pure arithmetic on the coefficients already sent to this browser: no data access.
        require_principal()
        if not clicks or not model:
            return no_update
        try:
            prediction = predict(model, {i["index"]: v for i, v in zip(ids, values)})
        except (DataInsightError, KeyError, TypeError) as exc:
            return error_alert(getattr(exc, "message", "Fit the model again, then predict"))
        return analyze_regression.render_prediction(prediction, model["design"]["target"])

    # --- saving cluster labels -------------------------------------------------------------

    @app.callback(Output("clu-save-area", "style"), Input("clu-data", "data"))
    def show_save(kept):
        return SHOW if kept else HIDE

    def start_save(principal, _dataset_id, params, column):
        if not params:
            raise InvalidSpec("Cluster first, then save the labels")
        return current_storage().analyses.start_save_labels(principal, params, column or "cluster"), params

    register_job(app, "clu-save", [State("clu-params", "data"), State("clu-label-name", "value")], start_save,
                 analyze_clustering.render_saved, keep=lambda saved: saved, label="cluster labels")

    @app.callback(
        Output("analyze-schema", "data", allow_duplicate=True),
        Output("analyze-dataset-info", "children", allow_duplicate=True),
        Input("clu-save-data", "data"),
        State("analyze-dataset", "value"),
        prevent_initial_call=True,
    )
    def after_save(saved, dataset_id):
        # The dataset has a new version with one more column: show it, offer the column.
        if not saved:
            return no_update, no_update
        return dataset_schema(dataset_id)
