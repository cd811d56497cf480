"""The Time series tab: a date column and a measure, the grain (automatic: the data's own
spacing, said under the field as soon as a date column is chosen) and gap rule, and the
forecast's result: the headline that says whether the model beats seasonal naive in a way
that means something, the holdout errors beside seasonal naive's, the forecast with its
interval, the STL decomposition, the validation scores that chose the model."""
from __future__ import annotations

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html
from plotly.subplots import make_subplots

from analytics.analysis_figures import forecast_figure
from analytics.timegrain import GRAIN_LABELS, GRAINS
from components.analyze_common import field, fmt, graph, job_panel, metric, simple_table

SHORT_NAMES = {"seasonal_naive": "Seasonal naive", "ets": "ETS, damped", "ets_mul": "ETS, damped, × season",
               "sarima": "SARIMA", "sarima_airline": "SARIMA (airline)", "theta": "Theta",
               "combination": "Combination"}


def layout():
    return html.Div(
        [
            dbc.Row(
                [
                    field("Date column", dcc.Dropdown(id="ts-date", placeholder="When"), width=3),
                    field("Measure", dcc.Dropdown(id="ts-value", placeholder="What to forecast"),
                          "Leave empty with “count” to count rows.", width=3),
                    field("× column", dcc.Dropdown(id="ts-multiply", placeholder="none"),
                          "Price × quantity = revenue, row by row.", width=2),
                    field("Aggregate", dcc.Dropdown(id="ts-agg", value="sum", clearable=False, options=[
                        {"label": a, "value": a} for a in ("sum", "mean", "count", "min", "max", "median")]), width=2),
                    field("Grain", dcc.Dropdown(id="ts-grain", value="auto", clearable=False,
                                                options=grain_options()),
                          html.Span(grain_note(None), id="ts-grain-note"), width=2),
                ]
            ),
            dbc.Row(
                [
                    field("Forecast periods", dbc.Input(id="ts-horizon", type="number", min=1, max=366,
                                                        placeholder="auto"),
                          "Empty: about a season (30 days, 12 months, 8 quarters…).", width=2),
                    field("Holdout periods", dbc.Input(id="ts-holdout", type="number", min=1, max=366,
                                                       placeholder="auto"),
                          "The last periods, kept out of the fit and the model choice.", width=3),
                    field("Periods without data", dcc.Dropdown(id="ts-gaps", value="auto", clearable=False, options=[
                        {"label": "Automatic", "value": "auto"},
                        {"label": "Count as zero", "value": "zero"},
                        {"label": "Interpolate", "value": "interpolate"},
                        {"label": "Skip (trading days)", "value": "skip"}]),
                          "Automatic: skip weekdays that never have data; 0 for counts and sums of events; "
                          "interpolate levels (mean, min, max, median) and tables of one row per period.", width=4),
                    field("Season", dbc.Input(id="ts-season", type="number", min=1, max=366, placeholder="auto"),
                          "Periods per season; empty: a week of days, a year of weeks or months.", width=3),
                ]
            ),
            job_panel("ts", run_label="Forecast"),
        ]
    )


def grain_options(detected: str | None = None) -> list[dict]:
    """The grain choices; "Automatic" names the grain it stands for once it is known."""
    auto = f"Auto: {GRAIN_LABELS[detected]}" if detected else "Automatic"
    return [{"label": auto, "value": "auto"}] + [{"label": GRAIN_LABELS[g], "value": g} for g in GRAINS]


def grain_note(detection: dict | None, error: str | None = None):
    """Under the Grain field: what the data's spacing is and the grain "Automatic" uses."""
    if error:
        return html.Span(error, className="text-danger")
    if not detection:
        return "Automatic: the data's own spacing."
    # The short sentence fits under the narrow field; the whole one is its tooltip and in the
    # result's notes.
    return html.Span(detection["summary"], title=detection["description"], id="ts-grain-detected")


def _pct_cell(value) -> str:
    return "–" if value is None else fmt(value, 3) + " %"


def _errors_table(result: dict):
    holdout, baseline = result["holdout"], result["baseline"]
    rows = [
        [html.Span([result["model_label"], dbc.Badge("chosen", color="primary", className="ms-2")]),
         _pct_cell(holdout["mape"]), fmt(holdout.get("mase")), fmt(holdout["mae"]), fmt(holdout["rmse"])],
        ["Seasonal naive (baseline)", _pct_cell(baseline["mape"]), fmt(baseline.get("mase")), fmt(baseline["mae"]),
         fmt(baseline["rmse"])],
    ]
    return simple_table(["Model", "MAPE", "MASE", "MAE", "RMSE"], rows, table_id="ts-errors")


# The headline's colour by the verdict's outcome (large errors are always red).
VERDICT_COLORS = {"better": "success", "no_better": "warning", "worse": "warning", "naive_chosen": "info"}


def verdict_alert(result: dict):
    verdict = result["verdict"]
    color = "danger" if verdict["large_errors"] else VERDICT_COLORS[verdict["outcome"]]
    return dbc.Alert([html.Strong(verdict["headline"]), html.Div(verdict["rule"], className="small mt-1")],
                     color=color, className="py-2", id="ts-verdict")


def stl_figure(result: dict) -> go.Figure | None:
    stl = result.get("stl")
    if not stl:
        return None
    dates = [p["date"] for p in result["history"]]
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.03,
                        subplot_titles=("Series", "Trend", f"Season ({result['season']} periods)", "Remainder"))
    fig.add_trace(go.Scatter(x=dates, y=[p["value"] for p in result["history"]], line={"width": 1}), row=1, col=1)
    fig.add_trace(go.Scatter(x=dates, y=stl["trend"], line={"width": 1.5}), row=2, col=1)
    fig.add_trace(go.Scatter(x=dates, y=stl["seasonal"], line={"width": 1}), row=3, col=1)
    fig.add_trace(go.Scatter(x=dates, y=stl["remainder"], mode="markers", marker={"size": 3}), row=4, col=1)
    fig.update_layout(showlegend=False, title="STL decomposition (robust)")
    return fig


def _notes(result: dict):
    gaps = result["gaps"]
    validation = result["validation"]
    detected = result.get("grain_detected")
    notes = [
        (f"Grain: {GRAIN_LABELS.get(result['grain'], result['grain'])}, " +
         (f"chosen automatically. {detected['description']}" if detected else "chosen in the request.")),
        (f"Periods without data: {gaps['method']} ({gaps['reason']}); {gaps['missing_periods']:,} missing between "
         f"the first and last period" + (f", {gaps['filled']:,} filled." if gaps["filled"] else ".")),
        f"{result['points']:,} {result['grain']}s; season of {result['season']} periods.",
        (f"Model chosen by rolling-origin validation inside the training part only: {len(validation['origins'])} "
         f"origin(s) ({', '.join(str(o) for o in validation['origins'])}), each forecasting {validation['horizon']} "
         f"periods, lowest mean absolute error wins. The holdout "
         f"({result['holdout']['start']} to {result['holdout']['end']}) was used once, to score the chosen model."),
        (f"{round(result['interval'] * 100)} % prediction interval; it covered "
         f"{result['holdout']['interval_coverage'] * 100:.0f} % of the holdout."),
    ]
    if result.get("combination_of"):
        notes.append("The combination averages: " + ", ".join(result["combination_of"]) + ".")
    notes += validation.get("left_out", []) + result.get("notes", [])
    notes += [f"{f['model']} could not be fitted: {f['error']}" for f in validation.get("failed", [])]
    return html.Ul([html.Li(n) for n in notes], className="small", id="ts-notes")


def _headline_metrics(result: dict) -> list:
    """MAPE beside seasonal naive's when it means something, else MASE (the verdict says why)."""
    holdout, baseline = result["holdout"], result["baseline"]
    if result["verdict"]["metric"] == "mape":
        return [metric("Holdout MAPE", _pct_cell(holdout["mape"]), "ts-mape"),
                metric("Seasonal naive MAPE", _pct_cell(baseline["mape"]), "ts-baseline-mape")]
    return [metric("Holdout MASE", fmt(holdout.get("mase")), "ts-mase"),
            metric("Seasonal naive MASE", fmt(baseline.get("mase")), "ts-baseline-mase")]


def _forecast_table(result: dict):
    """The forecast; beside it the seasonal-naive one when the headline says to use that."""
    rows = [[str(r["date"]), fmt(r["value"]), fmt(r["low"]), fmt(r["high"])] for r in result["forecast"]]
    header = ["Date", "Forecast", "Low", "High"]
    naive = result.get("baseline_forecast")
    if naive and result["verdict"]["outcome"] in ("no_better", "worse"):
        header.append("Seasonal naive")
        rows = [row + [fmt(n["value"])] for row, n in zip(rows, naive)]
    return simple_table(header, rows, table_id="ts-forecast-table")


def render(result: dict):
    holdout = result["holdout"]
    metrics = dbc.Row([
        metric("Chosen model", SHORT_NAMES.get(result["model"], result["model"]), "ts-model"),
        metric("Grain", GRAIN_LABELS.get(result["grain"], result["grain"]), "ts-grain-used"),
        *_headline_metrics(result),
        metric("Holdout MAE", fmt(holdout["mae"])),
        metric("Holdout periods", fmt(holdout["periods"])),
    ])
    validation_rows = [[row["label"], fmt(row["mae"]), _pct_cell(row["mape"]), fmt(row["rmse"])]
                       for row in result["validation"]["scores"]]
    stl = stl_figure(result)
    return html.Div([
        verdict_alert(result),
        metrics,
        _errors_table(result),
        graph(forecast_figure(result), "ts-forecast-graph", height=420),
        _notes(result),
        html.H6("Validation inside the training part (mean over origins)", className="mt-3"),
        simple_table(["Model", "MAE", "MAPE", "RMSE"], validation_rows, table_id="ts-validation"),
        graph(stl, "ts-stl-graph", height=560) if stl else html.P(
            "No STL decomposition: the series has no season or fewer than two.", className="small"),
        html.H6("Forecast", className="mt-3"),
        _forecast_table(result),
    ])
