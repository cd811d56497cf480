"""The Funnels & journeys tab: the event data's three columns, then a funnel, a Sankey of
journeys (or of lifecycle states, with a state column as the event) and cohort retention
with lifecycle counts, each run as its own job."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from analytics.analysis_figures import (
    funnel_figure,
    lifecycle_figure,
    retention_figure,
    sankey_figure,
)
from components.analyze_common import field, fmt, graph, job_panel, metric, simple_table


def layout():
    return html.Div(
        [
            dbc.Row(
                [
                    field("Entity (user, account…)", dcc.Dropdown(id="fj-entity", placeholder="Who")),
                    field("Event or state", dcc.Dropdown(id="fj-event", placeholder="What happened"),
                          "A state column (lead, customer, churned…) draws lifecycle journeys."),
                    field("Time", dcc.Dropdown(id="fj-time", placeholder="When")),
                ]
            ),
            dbc.Card(dbc.CardBody([
                html.H5("Funnel", className="card-title"),
                dbc.Row([
                    field("Steps, in order", dcc.Dropdown(id="fun-steps", multi=True, placeholder="Pick 2 to 12 events"),
                          "Each step counts when it happens at or after the previous one.", width=8),
                    field("Within days", dbc.Input(id="fun-window", type="number", min=1, max=3650,
                                                   placeholder="no limit"),
                          "Of entering the funnel.", width=4),
                ]),
                job_panel("fun", run_label="Draw funnel"),
            ]), className="mb-3"),
            dbc.Card(dbc.CardBody([
                html.H5("Journeys", className="card-title"),
                dbc.Row([
                    field("Start at", dcc.Dropdown(id="jr-start", placeholder="the first event"), width=4),
                    field("Steps shown", dbc.Input(id="jr-depth", type="number", value=5, min=2, max=10), width=2),
                    field("Events shown", dbc.Input(id="jr-top", type="number", value=8, min=2, max=15),
                          "The most common; the rest are “Other”.", width=3),
                ]),
                job_panel("jr", run_label="Draw journeys"),
            ]), className="mb-3"),
            dbc.Card(dbc.CardBody([
                html.H5("Cohort retention", className="card-title"),
                dbc.Row([
                    field("Cohort by", dcc.Dropdown(id="ret-grain", value="week", clearable=False, options=[
                        {"label": "week", "value": "week"}, {"label": "month", "value": "month"}]), width=2),
                    field("Signup event", dcc.Dropdown(id="ret-start", placeholder="the first event of any kind"),
                          width=4),
                    field("Counts as active", dcc.Dropdown(id="ret-return", placeholder="any event"), width=4),
                    field("Periods", dbc.Input(id="ret-periods", type="number", value=12, min=1, max=52), width=2),
                ]),
                job_panel("ret", run_label="Compute retention"),
            ]), className="mb-3"),
        ]
    )


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def _duration(seconds) -> str:
    if seconds is None:
        return "–"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def render_funnel(result: dict):
    steps = result["steps"]
    fig = funnel_figure(result)
    rows = [[s["name"], fmt(s["entities"]), f"{s['conversion'] * 100:.1f} %", f"{s['step_conversion'] * 100:.1f} %",
             f"{s['drop_off'] * 100:.1f} %", _duration(s["median_seconds_from_previous"]),
             _duration(s["median_seconds_from_start"])] for s in steps]
    window = f", within {result['window_days']} days of entering" if result.get("window_days") else ""
    return html.Div([
        dbc.Row([metric("Entered", fmt(result["entered"]), "fun-entered"),
                 metric("Converted", fmt(result["converted"]), "fun-converted"),
                 metric("Overall conversion", f"{steps[-1]['conversion'] * 100:.1f} %"),
                 metric("Entities in the data", fmt(result["entities_total"]))]),
        graph(fig, "fun-graph", height=320),
        simple_table(["Step", "Entities", "Conversion", "From previous", "Drop-off", "Median time from previous",
                      "Median time from start"], rows, table_id="fun-table"),
        html.P(f"Ordered funnel: each step at or after the previous one, from the entity's first "
               f"“{steps[0]['name']}”{window}. Drop-off: share of those at the previous step who did not go on.",
               className="small text-body-secondary"),
    ])


def render_journeys(result: dict):
    rows = [[" → ".join(p["path"]), fmt(p["entities"]), f"{p['share'] * 100:.1f} %"] for p in result["paths"]]
    return html.Div([
        graph(sankey_figure(result), "jr-sankey", height=460),
        html.H6("Top paths"),
        simple_table(["Path", "Entities", "Share"], rows, table_id="jr-paths"),
        html.P(_sentence(result["definition"]), className="small text-body-secondary"),
    ])


def render_retention(result: dict):
    cohorts = result["cohorts"]
    width = max(len(c["retention"]) for c in cohorts)
    heat = retention_figure(result)
    bars = lifecycle_figure(result)
    rows = [[str(c["cohort"]), fmt(c["size"])] + [f"{v * 100:.0f} %" for v in c["retention"][:8]] for c in cohorts]
    return html.Div([
        graph(heat, "ret-heatmap", height=max(320, 28 * len(cohorts) + 120)),
        simple_table(["Cohort", "Size"] + [f"+{k}" for k in range(min(width, 8))], rows, table_id="ret-table"),
        graph(bars, "ret-lifecycle", height=340),
        html.P(_sentence(result["definition"]) + " Lifecycle: new (joined this period), retained (active the "
               "period before too), resurrected (back after a gap), churned (active the period before, not this one).",
               className="small text-body-secondary"),
    ])
