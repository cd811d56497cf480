"""The Customer segments tab: transaction columns, then RFM segments (scores, named
segments, the R × F grid, top customers) and customer lifetime value, each a job."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from analytics.analysis_figures import (
    rfm_grid_figure,
    rfm_segments_figure,
    top_customers_table,
)
from components.analyze_common import field, fmt, graph, job_panel, metric, simple_table


def layout():
    return html.Div(
        [
            dbc.Row(
                [
                    field("Customer", dcc.Dropdown(id="seg-customer", placeholder="Who bought")),
                    field("Date", dcc.Dropdown(id="seg-date", placeholder="When")),
                    field("Amount (or unit price)", dcc.Dropdown(id="seg-amount", placeholder="How much")),
                ]
            ),
            dbc.Row(
                [
                    field("Quantity", dcc.Dropdown(id="seg-quantity", placeholder="none"),
                          "When given, amount × quantity is the value of a row.", width=4),
                    field("Order id", dcc.Dropdown(id="seg-order", placeholder="none"),
                          "Frequency counts distinct orders; without one, distinct purchase times.", width=4),
                    field("CLV horizon (months)", dbc.Input(id="seg-months", type="number", value=12, min=1, max=120),
                          width=2),
                    field("Lapsed after (days)", dbc.Input(id="seg-lapse", type="number", value=180, min=1, max=3650),
                          width=2),
                ]
            ),
            dbc.Card(dbc.CardBody([html.H5("RFM segments", className="card-title"),
                                   job_panel("rfm", run_label="Compute segments")]), className="mb-3"),
            dbc.Card(dbc.CardBody([
                html.H5("Customer lifetime value", className="card-title"),
                field("Prediction", dbc.RadioItems(id="clv-model", value="rate", inline=True, options=[
                    {"label": "Past rate continues", "value": "rate"},
                    {"label": "BG/NBD + Gamma-Gamma", "value": "bgnbd"}]),
                      "BG/NBD learns from all customers how often they buy and how likely they are to have "
                      "stopped; Gamma-Gamma how much an order is worth.", width=12),
                job_panel("clv", run_label="Estimate CLV")]), className="mb-3"),
        ]
    )


def _top_table(rows: list[dict], table_id: str):
    header, body = top_customers_table(rows)
    shown = [[customer, segment, *(fmt(v) for v in numbers[:3]), rfm, fmt(clv)]
             for customer, segment, *numbers, rfm, clv in body]
    return simple_table(header, shown, table_id=table_id, numeric_from=2)


def render_rfm(result: dict):
    segments = [s for s in result["segments"]]
    bars = rfm_segments_figure(result)
    heat = rfm_grid_figure(result)
    rows = [[s["name"], fmt(s["customers"]), f"{s['share'] * 100:.1f} %", fmt(s["revenue"]),
             f"{s['revenue_share'] * 100:.1f} %" if s["revenue_share"] is not None else "–",
             fmt(s["mean_recency"]), fmt(s["mean_frequency"]),
             f"R {','.join(map(str, s['rule']['r']))} · F {','.join(map(str, s['rule']['f']))}"] for s in segments]
    return html.Div([
        dbc.Row([metric("Customers", fmt(result["customers"]), "rfm-customers"),
                 metric("Reference day", str(result["reference_day"])),
                 metric("Rows left out", fmt(result["rows_left_out"]))]),
        dbc.Row([dbc.Col(graph(bars, "rfm-bars", height=380), md=7), dbc.Col(graph(heat, "rfm-grid", height=380), md=5)]),
        simple_table(["Segment", "Customers", "Share", "Revenue", "Revenue share", "Mean recency", "Mean frequency",
                      "Rule"], rows, table_id="rfm-segments"),
        html.P(f"Scores 1–5: {result['score_formula']}; {result['tie_rule']}. Frequency = "
               f"{result['frequency_definition']}; monetary = net amount (returns subtract). Rows without a customer, "
               f"date or amount are left out.", className="small text-body-secondary"),
        html.H6("Top customers by monetary value"),
        _top_table(result["top_customers"], "rfm-top"),
    ])


def _model_parameters(fitted: dict | None):
    if not fitted:
        return None
    bgnbd, gamma = fitted["bgnbd"], fitted.get("gamma_gamma")
    text = (f"Fitted BG/NBD: r = {fmt(bgnbd['r'])}, α = {fmt(bgnbd['alpha'])} days, a = {fmt(bgnbd['a'])}, "
            f"b = {fmt(bgnbd['b'])}")
    if gamma:
        text += f"; Gamma-Gamma: p = {fmt(gamma['p'])}, q = {fmt(gamma['q'])}, v = {fmt(gamma['v'])}"
    return html.P(text + ".", className="small text-body-secondary", id="clv-parameters")


def render_clv(result: dict):
    historic, predicted = result["historic"], result["predicted"]
    rows = [[s["name"], fmt(s["customers"]), fmt(s["historic"]), fmt(s["predicted"])] for s in result["by_segment"]]
    return html.Div([
        dbc.Row([metric("Customers", fmt(result["customers"])),
                 metric("Historic CLV, mean", fmt(historic["mean"]), "clv-historic-mean"),
                 metric("Historic CLV, median", fmt(historic["median"])),
                 metric(f"Predicted {result['clv_months']} months, mean", fmt(predicted["mean"]), "clv-predicted-mean"),
                 metric("Predicted total", fmt(predicted["total"])),
                 metric("Probably gone" if result.get("model") == "bgnbd" else "Lapsed customers",
                        fmt(result["lapsed"]), "clv-lapsed")]),
        simple_table(["Segment", "Customers", "Mean historic CLV", "Mean predicted CLV"], rows, table_id="clv-segments"),
        html.P("Method: " + result["method"] + ".", className="small text-body-secondary", id="clv-method"),
        _model_parameters(result.get("model_parameters")),
        html.H6("Top customers by predicted CLV"),
        _top_table(result["top_customers"], "clv-top"),
    ])
