"""The Regression tab: its form, the fitted model's tables and plots, the predict form."""
from __future__ import annotations

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from components.analyze_common import (
    field,
    fmt,
    fmt_p,
    graph,
    job_panel,
    metric,
    sample_note,
    simple_table,
)


def layout():
    return html.Div(
        [
            dbc.Row(
                [
                    field("Target", dcc.Dropdown(id="reg-target", placeholder="What to explain")),
                    field("Features", dcc.Dropdown(id="reg-features", multi=True, placeholder="What explains it"),
                          width=8),
                ]
            ),
            dbc.Row(
                [
                    field("Model", dbc.RadioItems(id="reg-model", value="auto", inline=True, options=[
                        {"label": "Automatic", "value": "auto"}, {"label": "OLS", "value": "ols"},
                        {"label": "Logistic", "value": "logistic"}]),
                          "Automatic: logistic when the target has two values, else linear.", width=4),
                    field("Missing values", dbc.RadioItems(id="reg-missing", value="drop", inline=True, options=[
                        {"label": "Drop rows", "value": "drop"}, {"label": "Impute (mean / most frequent)",
                                                                   "value": "impute"}]), width=4),
                    field("Standard errors (OLS)", dbc.RadioItems(id="reg-se", value="classical", inline=True, options=[
                        {"label": "Classical", "value": "classical"}, {"label": "Robust (HC3)", "value": "HC3"}]),
                          width=4),
                ]
            ),
            # After a fit: the reference level of each categorical feature and the positive
            # class of a logistic target, to fit again with others.
            html.Div(id="reg-reference-area"),
            html.Div(field("Positive class", dcc.Dropdown(id="reg-positive", clearable=False),
                           "The target value whose odds the logistic model explains.", width=4),
                     id="reg-positive-box", style={"display": "none"}),
            job_panel("reg", run_label="Fit"),
            html.Div(id="reg-predict-area"),
        ]
    )


def level_controls(design: dict | None) -> tuple:
    """(the reference-level dropdowns, positive class options, its value, its box style)
    for the design of the last fit; nothing before a fit."""
    if not design:
        return None, [], None, {"display": "none"}
    dropdowns = [field(f"Reference level of {f['name']}",
                       dcc.Dropdown(id={"type": "reg-reference", "index": f["name"]}, options=f["levels"],
                                    value=f["reference"], clearable=False), width=4)
                 for f in design["features"] if f["kind"] == "categorical"]
    references = None
    if dropdowns:
        references = html.Div([dbc.Row(dropdowns), html.P(
            "Each other level's coefficient is its difference from the reference; choose another and fit again.",
            className="small text-body-secondary")], id="reg-references")
    levels = design.get("target_levels")
    if not levels:
        return references, [], None, {"display": "none"}
    return references, levels, design.get("positive"), {}


def keep(result: dict) -> dict:
    """What the predict form needs in the browser: the coefficients and the design."""
    return {"coefficients": [{"term": c["term"], "estimate": c["estimate"]} for c in result["coefficients"]],
            "design": result["design"]}


def _notes(result):
    notes = []
    dropped = result["dropped"]
    if dropped["missing_target"]:
        notes.append(f"{dropped['missing_target']:,} row(s) without a target value were left out.")
    if dropped["missing_features"]:
        notes.append(f"{dropped['missing_features']:,} row(s) with a missing feature were dropped.")
    for name, info in result["imputed"].items():
        notes.append(f"{name}: {info['rows']:,} missing value(s) imputed with the {info['method']} "
                     f"({fmt(info['value']) if isinstance(info['value'], float) else info['value']}).")
    for name, level in result["reference_levels"].items():
        notes.append(f"{name}: one-hot (treatment) coded; reference level “{level}”, so each coefficient is "
                     "the difference from it.")
    if result.get("positive_class") is not None:
        notes.append(f"Logistic model of the probability that {result['target']} = “{result['positive_class']}”.")
    notes.append("Term names as statsmodels gives them: " + result["term_naming"].split(": ", 1)[-1] + ".")
    notes.extend(result.get("warnings") or [])
    return html.Ul([html.Li(n) for n in notes], className="small", id="reg-notes")


def render(result: dict):
    logistic = result["model"] == "logistic"
    if logistic:
        metrics = [metric("Rows used", fmt(result["n"]), "reg-n"),
                   metric("Pseudo R² (McFadden)", fmt(result["r2"]), "reg-r2"),
                   metric("LLR p-value", fmt_p(result["llr_p"])), metric("AIC", fmt(result["aic"])),
                   metric("BIC", fmt(result["bic"]))]
    else:
        metrics = [metric("Rows used", fmt(result["n"]), "reg-n"), metric("R²", fmt(result["r2"]), "reg-r2"),
                   metric("Adjusted R²", fmt(result["adj_r2"]), "reg-adj-r2"),
                   metric("F", f"{fmt(result['f'])} (p {fmt_p(result['f_p'])})"),
                   metric("AIC", fmt(result["aic"])), metric("BIC", fmt(result["bic"]))]
    header = ["Term", "Estimate", "Std error", "z" if logistic else "t", "p", "95 % CI low", "95 % CI high"]
    if logistic:
        header += ["Odds ratio", "OR 95 % CI"]
    rows = []
    for c in result["coefficients"]:
        row = [html.Code(c["term"]), fmt(c["estimate"]), fmt(c["std_error"]), fmt(c["t"]), fmt_p(c["p"]),
               fmt(c["ci_low"]), fmt(c["ci_high"])]
        if logistic:
            row += [fmt(c["odds_ratio"]), f"{fmt(c['or_low'])} – {fmt(c['or_high'])}"]
        rows.append(row)
    parts = [
        html.Div(html.Code(result["formula"]), className="small mb-2"),
        sample_note(result),
        dbc.Row(metrics),
        simple_table(header, rows, "reg-coefficients"),
        _notes(result),
    ]
    if logistic:
        parts.append(_holdout(result["holdout"]))
    else:
        vif_rows = [[html.Code(v["term"]), fmt(v["vif"])] for v in result["vif"]]
        resid = go.Figure(go.Scattergl(x=result["residuals"]["fitted"], y=result["residuals"]["residual"],
                                       mode="markers", marker={"size": 4, "opacity": 0.6}))
        resid.add_hline(y=0, line_dash="dash", line_color="grey")
        resid.update_layout(title="Residuals vs fitted", xaxis_title="Fitted value", yaxis_title="Residual")
        qq = go.Figure([
            go.Scatter(x=result["qq"]["theoretical"], y=result["qq"]["sample"], mode="markers", name="residuals",
                       marker={"size": 4}),
            go.Scatter(x=result["qq"]["theoretical"], y=result["qq"]["theoretical"], mode="lines", name="normal",
                       line={"dash": "dash", "color": "grey"}),
        ])
        qq.update_layout(title="Normal Q-Q plot of standardised residuals", xaxis_title="Theoretical quantile",
                         yaxis_title="Sample quantile", showlegend=False)
        diagnostics = [[d["test"], fmt(d["statistic"]), fmt_p(d["p"]), d["reading"]] for d in result["diagnostics"]]
        parts += [
            html.P("Standard errors: " + ("robust to unequal variance (HC3)" if result["standard_errors"] == "HC3"
                                          else "classical (constant variance assumed)") + ".",
                   className="small text-body-secondary"),
            dbc.Row([dbc.Col(graph(resid, "reg-residuals"), md=6), dbc.Col(graph(qq, "reg-qq"), md=6)]),
            simple_table(["Check", "Statistic", "p", "Reading"], diagnostics, "reg-diagnostics", numeric_to=3),
            html.H3("Collinearity (VIF)", className="h6"),
            html.P("Variance inflation factor per term: above 5 is worth a look, above 10 is a problem.",
                   className="small text-body-secondary"),
            simple_table(["Term", "VIF"], vif_rows, "reg-vif"),
        ]
    parts.append(predict_form(result["design"]))
    return html.Div(parts)


def _holdout(holdout: dict):
    if holdout.get("error"):
        return dbc.Alert(f"Held-out scoring failed: {holdout['error']}", color="warning")
    cm = holdout["confusion_matrix"]
    roc = go.Figure([go.Scatter(x=holdout["roc"]["fpr"], y=holdout["roc"]["tpr"], mode="lines", name="ROC"),
                     go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "grey"},
                                name="chance")])
    roc.update_layout(title=f"ROC curve (AUC {fmt(holdout['roc_auc'])})", xaxis_title="False positive rate",
                      yaxis_title="True positive rate", showlegend=False)
    return html.Div([
        html.H3("On the held-out split", className="h6"),
        html.P(f"Fitted on {holdout['train_rows']:,} rows, scored on {holdout['test_rows']:,} held out "
               f"({holdout['test_size']:.0%}, seed {holdout['seed']}); threshold {holdout['threshold']}.",
               className="small text-body-secondary"),
        dbc.Row([metric("ROC AUC", fmt(holdout["roc_auc"]), "reg-auc"), metric("Accuracy", fmt(holdout["accuracy"])),
                 metric("Precision", fmt(holdout["precision"])), metric("Recall", fmt(holdout["recall"]))]),
        dbc.Row([
            dbc.Col(simple_table(["", "Predicted 0", "Predicted 1"],
                                 [["Actual 0", fmt(cm["tn"]), fmt(cm["fp"])], ["Actual 1", fmt(cm["fn"]), fmt(cm["tp"])]],
                                 "reg-confusion"), md=5),
            dbc.Col(graph(roc, "reg-roc", 320), md=7),
        ]),
    ])


def predict_form(design: dict):
    inputs = []
    for feature in design["features"]:
        control_id = {"type": "reg-predict-input", "index": feature["name"]}
        if feature["kind"] == "categorical":
            control = dcc.Dropdown(id=control_id, options=feature["levels"], value=feature["reference"],
                                   clearable=False)
        else:
            control = dbc.Input(id=control_id, type="number", value=round(feature["mean"], 4),
                                placeholder=f"{fmt(feature['min'])} to {fmt(feature['max'])}")
        inputs.append(field(feature["name"], control, width=3))
    return html.Div([
        html.H3("Predict from new values", className="h6 mt-3"),
        dbc.Row(inputs),
        dbc.Button("Predict", id="reg-predict", color="secondary", n_clicks=0),
        html.Div(id="reg-predict-result", className="mt-2"),
    ], className="border-top pt-2")


def render_prediction(prediction: dict, target: str):
    if "probability" in prediction:
        text = f"Probability that {target} = “{prediction['positive_class']}”: {prediction['probability']:.1%}"
    else:
        text = f"Predicted {target}: {fmt(prediction['prediction'])}"
    return dbc.Alert(text, color="info", className="py-2 mb-0", id="reg-prediction")
