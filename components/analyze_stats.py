"""The Statistics and Correlation tabs: their forms and how their results are drawn."""
from __future__ import annotations

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from analytics.analysis_figures import correlation_figure
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

AGG_OPTIONS = [{"label": label, "value": value} for value, label in (
    ("count", "Count of rows"), ("sum", "Sum"), ("mean", "Mean"), ("median", "Median"), ("min", "Minimum"),
    ("max", "Maximum"), ("std", "Standard deviation"))]


def statistics_layout():
    return html.Div(
        [
            dbc.RadioItems(
                id="stats-analysis", value="describe", inline=True, className="mb-3",
                options=[{"label": "Descriptive statistics", "value": "describe"},
                         {"label": "Pivot table", "value": "pivot"},
                         {"label": "Test a difference", "value": "test"}],
            ),
            dbc.Row(
                [
                    field("Columns to describe", dcc.Dropdown(id="stats-columns", multi=True,
                                                                placeholder="All numeric columns"), width=6),
                    field("Group by (up to two)", dcc.Dropdown(id="stats-group-by", multi=True,
                                                               placeholder="No grouping"), width=6),
                ],
                id="stats-describe-fields",
            ),
            dbc.Row(
                [
                    field("Rows", dcc.Dropdown(id="stats-pivot-rows"), width=3),
                    field("Columns", dcc.Dropdown(id="stats-pivot-columns", placeholder="None"), width=3),
                    field("Values", dcc.Dropdown(id="stats-pivot-values", placeholder="(rows)"), width=3),
                    field("Aggregate", dcc.Dropdown(id="stats-pivot-agg", options=AGG_OPTIONS, value="count",
                                                    clearable=False), width=3),
                ],
                id="stats-pivot-fields", style={"display": "none"},
            ),
            dbc.Row(
                [
                    field("Column to test", dcc.Dropdown(id="stats-test-column"),
                          "Numeric: t-test or ANOVA on its mean. Categorical: chi-square test.", width=6),
                    field("Grouping", dcc.Dropdown(id="stats-test-group"), width=6),
                ],
                id="stats-test-fields", style={"display": "none"},
            ),
            job_panel("stats", run_label="Compute"),
        ]
    )


def correlation_layout():
    return html.Div(
        [
            dbc.Row(
                [
                    field("Columns", dcc.Dropdown(id="corr-columns", multi=True, placeholder="All numeric columns"),
                          width=5),
                    field("Method", dbc.RadioItems(id="corr-method", value="pearson", inline=True, options=[
                        {"label": "Pearson", "value": "pearson"}, {"label": "Spearman", "value": "spearman"},
                        {"label": "Kendall", "value": "kendall"}]), width=4),
                    field("Scatter matrix of", dcc.Dropdown(id="corr-scatter", multi=True,
                                                            placeholder="First four columns"), width=3),
                ]
            ),
            job_panel("corr", run_label="Correlate"),
        ]
    )


# --- results --------------------------------------------------------------------------------


def render_stats(result: dict):
    analysis = result.get("analysis")
    if analysis == "pivot":
        return _pivot(result)
    if analysis == "test":
        return _test(result)
    return _describe(result)


def _describe(result):
    groups = result["group_by"]
    numeric_rows = [r for r in result["rows"] if "mean" in r]
    other_rows = [r for r in result["rows"] if "mean" not in r]
    parts = []
    if numeric_rows:
        header = [*groups, "Column", "Count", "Missing", "Mean", "Std dev", "Min", "25 %", "Median", "75 %", "Max"]
        rows = [[*(r["group"].get(g) or "(missing)" for g in groups), r["column"], fmt(r["count"]), fmt(r["missing"]),
                 fmt(r["mean"]), fmt(r["std"]), fmt(r["min"]), fmt(r["q1"]), fmt(r["median"]), fmt(r["q3"]),
                 fmt(r["max"])] for r in numeric_rows]
        parts.append(simple_table(header, rows, "stats-describe-table", numeric_from=len(groups) + 1))
    if other_rows:
        header = [*groups, "Column", "Count", "Missing", "Distinct", "Most frequent"]
        rows = [[*(r["group"].get(g) or "(missing)" for g in groups), r["column"], fmt(r["count"]),
                 fmt(r["missing"]), fmt(r["distinct_values"]), r["top"] or "–"] for r in other_rows]
        parts.append(simple_table(header, rows, "stats-categorical-table", numeric_from=len(groups) + 1))
    if result.get("truncated"):
        parts.append(html.P(f"Showing the largest groups of {result['groups']:,}.", className="small"))
    return html.Div(parts)


def _pivot(result):
    value = f"{result['agg']} of {result['values']}" if result.get("values") else "count of rows"
    corner = f"{result['rows']} \\ {result['columns']}" if result.get("columns") else result["rows"]
    header = [corner, *result["column_labels"]]
    rows = [[label or "(missing)", *(fmt(v) for v in line)]
            for label, line in zip(result["row_labels"], result["cells"])]
    parts = [html.P(f"Each cell: {value}. Overall: {fmt(result['total'])}.", className="small text-body-secondary"),
             simple_table(header, rows, "stats-pivot-table")]
    cut = result.get("truncated") or {}
    if cut.get("rows") or cut.get("columns"):
        parts.append(html.P("Only the most frequent values are shown as rows and columns.", className="small"))
    if result.get("columns") and len(result["row_labels"]) > 1:
        figure = go.Figure(go.Heatmap(z=result["cells"], x=[str(c) for c in result["column_labels"]],
                                      y=[str(r) for r in result["row_labels"]], colorscale="Blues"))
        figure.update_layout(title=value)
        parts.append(graph(figure, "stats-pivot-heatmap"))
    return html.Div(parts)


def _test(result):
    df = result.get("df")
    df_text = ", ".join(fmt(d) for d in df) if isinstance(df, list) else fmt(df)
    effect = result.get("effect_size") or {}
    parts = [
        html.H3(result["test"], className="h6", id="stats-test-name"),
        dbc.Row([metric("Statistic", fmt(result["statistic"])), metric("p-value", fmt_p(result["p"]), "stats-test-p"),
                 metric("Degrees of freedom", df_text), metric(effect.get("name", "Effect size"), fmt(effect.get("value"))),
                 metric("Rows used", fmt(result["n"]))]),
        dbc.Alert(result["conclusion"], color="light", className="py-2"),
        sample_note(result),
    ]
    if result.get("groups"):
        rows = [[g["name"], fmt(g["n"]), fmt(g["mean"]), fmt(g["std"]), fmt(g["median"])] for g in result["groups"]]
        parts.append(simple_table(["Group", "n", "Mean", "Std dev", "Median"], rows, "stats-test-groups"))
    if result.get("table"):
        table = result["table"]
        rows = [[level, *(fmt(v) for v in line)] for level, line in zip(table["rows"], table["counts"])]
        parts.append(simple_table([f"{result['column']} \\ {result['group']}", *table["columns"]], rows,
                                  "stats-test-contingency"))
    others = [result.get("alternative"), result.get("welch")]
    lines = [f"{o['test']}: statistic {fmt(o['statistic'])}, p = {fmt_p(o['p'])}" for o in others if o and o.get("p") is not None]
    if lines:
        parts.append(html.Div([html.Div("Alongside", className="small fw-semibold"),
                               html.Ul([html.Li(line) for line in lines], className="small")]))
    parts.append(html.Div([html.Div("Assumptions", className="small fw-semibold"),
                           html.Ul([html.Li(a) for a in result["assumptions"]], className="small",
                                   id="stats-test-assumptions")]))
    return html.Div(parts)


def render_correlation(result: dict):
    cols = result["columns"]
    heat = correlation_figure(result)  # shared with the dashboard's analysis widget
    pairs = [[f"{p['a']} × {p['b']}", fmt(p["r"]), fmt_p(p["p"]), fmt(p["n"])] for p in result["pairs"]]
    scatter_cols = result["scatter"]["columns"]
    points = result["scatter"]["points"]
    splom = go.Figure(go.Splom(dimensions=[{"label": c, "values": points[c]} for c in scatter_cols],
                               marker={"size": 3, "opacity": 0.5}, diagonal_visible=False, showupperhalf=False))
    splom.update_layout(title=f"Scatter matrix ({len(points[scatter_cols[0]]):,} sampled points)")
    p_rows = [[a, *(fmt_p(v) for v in line)] for a, line in zip(cols, result["p_values"])]
    return html.Div([
        sample_note(result),
        dbc.Row([dbc.Col(graph(heat, "corr-heatmap", 420), md=7),
                 dbc.Col([html.H3("Strongest pairs", className="h6"),
                          simple_table(["Pair", "r", "p", "n"], pairs, "corr-pairs")], md=5)]),
        graph(splom, "corr-splom", 520),
        html.Details([html.Summary("p-values"), simple_table(["", *cols], p_rows, "corr-p-table")]),
        html.P(result["note"], className="small text-body-secondary"),
    ])
