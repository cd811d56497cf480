"""“Add to dashboard” for an Analyze tab's result: a button shown with the result and a
small form (which dashboard of the workspace, or a new one; the widget's title; what of
the result to show). One component for every tab: ``with_add_button(prefix, kind,
render)`` wraps a tab's render function; ``callbacks/analysis_widget.py`` saves the
widget with the params of the tab's last run (its ``<prefix>-params`` store)."""
from __future__ import annotations

from collections.abc import Callable

import dash_bootstrap_components as dbc
from dash import dcc, html

from analytics.widgets.analysis import KIND_LABELS, VIEWS
from components.feedback import icon
from components.forms import labelled

NEW_DASHBOARD = "__new__"
VIEW_LABELS = {"line": "Forecast with intervals", "funnel": "Funnel chart", "table": "Table", "heatmap": "Heatmap",
               "bar": "Bar chart", "sankey": "Sankey", "treemap": "Treemap", "scatter": "PCA map"}
# What "table" and "bar" mean for a kind, when it is more than the word.
KIND_VIEW_LABELS = {("rfm", "table"): "Top customers", ("clv", "table"): "Top customers",
                    ("clv", "bar"): "CLV by segment", ("clustering", "bar"): "Cluster sizes",
                    ("retention", "bar"): "Lifecycle bars", ("correlation", "table"): "Strongest pairs",
                    ("regression", "table"): "Coefficient table", ("funnel", "table"): "Step table",
                    ("rfm", "bar"): "Segments (bar chart)", ("rfm", "treemap"): "Segments (treemap)"}


def ids(prefix: str) -> dict:
    """Component ids of one tab's button and form (pattern ids: the callbacks MATCH on
    ``prefix``, so every tab shares them)."""
    return {name: {"type": f"aw-{name}", "prefix": prefix}
            for name in ("open", "modal", "board", "new-name", "new-wrap", "title", "view", "save", "cancel",
                         "feedback", "kind", "params")}


def view_options(kind: str) -> list[dict]:
    return [{"label": KIND_VIEW_LABELS.get((kind, v), VIEW_LABELS.get(v, v)), "value": v} for v in VIEWS[kind]]


def default_title(kind: str, result: dict) -> str:
    """A title that says what the widget shows, from the result itself."""
    if kind == "forecast":
        return f"Forecast: {result.get('agg', 'sum')} per {result.get('grain', 'day')}"
    if kind == "regression":
        return f"Regression of {result.get('target')}"[:200]
    if kind == "clustering":
        return f"Clusters of {', '.join(result.get('features') or [])}"[:200]
    return KIND_LABELS[kind]


def add_button(prefix: str, kind: str, title: str) -> html.Div:
    """The button and its (closed) form, for one result of ``kind``."""
    i = ids(prefix)
    views = view_options(kind)
    form = dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle(f"Add “{KIND_LABELS[kind]}” to a dashboard")),
            dbc.ModalBody([
                labelled("Dashboard", dcc.Dropdown(id=i["board"], clearable=False, placeholder="Choose a dashboard")),
                html.Div(labelled("Name of the new dashboard", dbc.Input(id=i["new-name"], maxLength=200,
                                                                         value=KIND_LABELS[kind])),
                         id=i["new-wrap"], style={"display": "none"}),
                labelled("Widget title", dbc.Input(id=i["title"], value=title, maxLength=200)),
                labelled("Show", dcc.Dropdown(id=i["view"], options=views, value=views[0]["value"], clearable=False),
                         "The widget recomputes when the dataset gets a new version; dashboard filters do not "
                         "apply to it."),
                html.Div(id=i["feedback"]),
            ]),
            dbc.ModalFooter([
                dbc.Button("Close", id=i["cancel"], color="secondary", outline=True, n_clicks=0),
                dbc.Button([icon("plus-lg", "me-1"), "Add widget"], id=i["save"], color="primary", n_clicks=0),
            ]),
        ],
        id=i["modal"], is_open=False,
    )
    return html.Div(
        [
            dbc.Button([icon("grid-1x2", "me-1"), "Add to dashboard"], id=i["open"], color="primary", outline=True,
                       size="sm", n_clicks=0, className="analysis-add-to-dashboard"),
            form,
            dcc.Store(id=i["kind"], data=kind),
            dcc.Store(id=i["params"]),
        ],
        className="d-flex justify-content-end mb-2",
    )


def with_add_button(prefix: str, kind: str, render: Callable[[dict], object]) -> Callable[[dict], object]:
    """``render`` with the “Add to dashboard” button above the result it draws."""
    def rendered(result: dict):
        return html.Div([add_button(prefix, kind, default_title(kind, result)), render(result)])

    return rendered
