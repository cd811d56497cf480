"""/analyze: analyses of a dataset of the current workspace, one tab per kind.

``TABS`` lists the tabs as (tab id, label, layout function); a feature adds its tab by
appending one entry (its layout function lives in its own components module, its
callbacks in callbacks/analyze_*.py). ``?dataset=<id>`` picks the dataset, ``?tab=<id>``
the tab.
"""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components import (
    analyze_clustering,
    analyze_journeys,
    analyze_regression,
    analyze_segments,
    analyze_stats,
    analyze_timeseries,
)
from components.feedback import empty_state, page_header
from web.context import current_storage, current_workspace, require_principal

dash.register_page(__name__, path="/analyze", title="Analyze · DataInsight", order=3)

TABS = [
    ("statistics", "Statistics", analyze_stats.statistics_layout),
    ("correlation", "Correlation", analyze_stats.correlation_layout),
    ("regression", "Regression", analyze_regression.layout),
    ("clustering", "Clustering", analyze_clustering.layout),
    ("timeseries", "Time series", analyze_timeseries.layout),
    ("journeys", "Funnels & journeys", analyze_journeys.layout),
    ("segments", "Customer segments", analyze_segments.layout),
]


def layout(dataset=None, tab=None, **_query):
    principal = require_principal()
    workspace = current_workspace(principal)
    found = current_storage().datasets.list(principal, workspace.id, sort="name")
    if not found:
        return html.Div([
            page_header("Analyze", f"Analyses of the data in {workspace.name}"),
            empty_state("graph-up", "Nothing to analyze yet",
                        f"An analysis starts from a dataset, and {workspace.name} has none yet.",
                        dbc.Button("Add a dataset", href="/datasets", color="primary")),
        ])
    ids = [d.id for d in found]
    try:
        chosen = int(dataset) if dataset not in (None, "") else ids[0]
    except ValueError:
        chosen = ids[0]
    if chosen not in ids:
        chosen = ids[0]
    tab_ids = [t[0] for t in TABS]
    return html.Div(
        [
            page_header("Analyze", f"Statistics and models for the data in {workspace.name}"),
            dbc.Row(
                [
                    dbc.Col(
                        [dbc.Label("Dataset", html_for="analyze-dataset", className="small fw-semibold mb-1"),
                         dcc.Dropdown(id="analyze-dataset", clearable=False, value=chosen,
                                      options=[{"label": f"{d.name} ({d.rows:,} rows)", "value": d.id} for d in found])],
                        md=6,
                    ),
                    dbc.Col(html.Div(id="analyze-dataset-info", className="small text-body-secondary pt-4"), md=6),
                ],
                className="mb-3",
            ),
            dbc.Tabs([dbc.Tab(html.Div(body(), className="pt-3"), tab_id=tab_id, label=label)
                      for tab_id, label, body in TABS],
                     id="analyze-tabs", active_tab=tab if tab in tab_ids else tab_ids[0]),
            dcc.Store(id="analyze-schema"),
        ]
    )
