"""Pieces every Analyze tab shares: the panel that runs an analysis as a background job
(Run button, progress bar, Cancel button, status line, result area), column pickers, and
the small tables and notes results are shown with.

How a tab uses it (the statistics, regression and clustering tabs do; forecast, journeys
and segments can do the same):

    # components/analyze_mine.py
    def layout():
        return html.Div([
            dcc.Dropdown(id="mine-value"),            # filled from the schema, see below
            job_panel("mine", run_label="Fit"),       # ids mine-run, mine-progress, mine-cancel, ...
        ])

    # callbacks/analyze_mine.py
    from callbacks.analyze_common import register_analysis, register_column_options
    def register(app):
        register_column_options(app, {"mine-value": NUMERIC})
        register_analysis(app, "mine", "forecast", [State("mine-value", "value")],
                          lambda value: {"value": value}, render_mine)

``register_analysis`` starts ``storage.analyses.start(principal, kind, params)`` on the
Run button, polls ``storage.jobs.get`` with a dcc.Interval, shows the progress, cancels
on the Cancel button, and renders the job's result with ``render(result)`` (or the error
message). The params also go into the ``<prefix>-params`` store and the result into
``<prefix>-data``, for follow-up actions (saving cluster labels, predicting).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dash_bootstrap_components as dbc
from dash import dcc, html

from analytics.column_choice import Columns
from components.feedback import icon

NUMERIC = ("integer", "float", "decimal")
CATEGORICAL = ("text", "categorical", "boolean")
DATES = ("date", "timestamp")
POLL_MS = 500


def job_panel(prefix: str, run_label: str = "Run", extra_buttons=None) -> html.Div:
    """Run button, progress bar + Cancel (shown while the job runs), status and result."""
    return html.Div(
        [
            html.Div(
                [
                    dbc.Button([icon("play-fill", "me-1"), run_label], id=f"{prefix}-run", color="primary", n_clicks=0),
                    *(extra_buttons or []),
                ],
                className="d-flex gap-2 align-items-center mb-3",
            ),
            html.Div(
                [
                    dbc.Progress(id=f"{prefix}-progress", value=0, striped=True, animated=True,
                                 className="flex-grow-1", style={"height": "1.25rem"}),
                    dbc.Button("Cancel", id=f"{prefix}-cancel", color="secondary", outline=True, size="sm", n_clicks=0),
                ],
                id=f"{prefix}-running", className="align-items-center gap-2 mb-2", style={"display": "none"},
            ),
            html.Div(id=f"{prefix}-status", className="small text-body-secondary mb-2"),
            dcc.Loading(html.Div(id=f"{prefix}-result"), type="dot", delay_show=300),
            dcc.Store(id=f"{prefix}-job"),
            dcc.Store(id=f"{prefix}-params"),
            dcc.Store(id=f"{prefix}-data"),
            dcc.Interval(id=f"{prefix}-poll", interval=POLL_MS, disabled=True),
        ],
        className="analyze-job",
    )


@dataclass(frozen=True)
class Picker:
    """A column dropdown of an Analyze form: the storage types it offers, which columns it
    lists first (``prefer``: "measure", "category", "time", "identifier") and the value
    it starts with when a dataset is chosen (``choose(columns)``, from the roles)."""

    types: tuple | None = None
    prefer: str | None = None
    choose: Callable[[Columns], object] | None = None


def column_options(schema: list[dict] | None, types=None, prefer: str | None = None) -> list[dict]:
    """Dropdown options for the columns of ``schema`` of the given logical types. When the
    schema's entries carry their role (the Analyze page keeps them so), each option shows
    it and the columns that suit ``prefer`` come first."""
    offered = [c for c in schema or [] if types is None or c["type"] in types]
    if not any(c.get("role") for c in offered):
        return [{"label": f"{c['name']} ({c['type']})", "value": c["name"]} for c in offered]
    columns = Columns.from_schema(schema)
    type_of = {c["name"]: c["type"] for c in offered}
    return [{"label": columns.option_label(n, type_of[n]), "value": n}
            for n in columns.ordered(list(type_of), prefer)]


def field(label: str, control, help_text: str | None = None, width: int = 4) -> dbc.Col:
    return dbc.Col(
        html.Div([dbc.Label(label, className="small fw-semibold mb-1"), control,
                  dbc.FormText(help_text) if help_text else None], className="mb-3"),
        md=width,
    )


def fmt(value, digits: int = 4) -> str:
    """A number for a results table: significant digits, thousands separators, p-values
    below 0.0001 as "<0.0001", missing as an en dash."""
    if value is None:
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or (abs(value) >= 1e4 and float(value).is_integer()):
        return f"{value:,.0f}"
    if value != 0 and (abs(value) < 1e-4 or abs(value) >= 1e6):
        return f"{value:.{digits - 1}e}"
    return f"{value:,.{digits}g}" if abs(value) < 1e4 else f"{value:,.2f}"


def fmt_p(value) -> str:
    if value is None:
        return "–"
    return "<0.0001" if value < 1e-4 else f"{value:.4f}"


def simple_table(header: list[str], rows: list[list], table_id: str | None = None, numeric_from: int = 1,
                 numeric_to: int | None = None):
    """A compact striped table; cells of columns ``numeric_from`` to ``numeric_to``
    (exclusive; default: the last) are right-aligned, as numbers read best."""
    def align(i):
        return "text-end" if i >= numeric_from and (numeric_to is None or i < numeric_to) else None

    head = html.Thead(html.Tr([html.Th(h, className=align(i)) for i, h in enumerate(header)]))
    body = html.Tbody([html.Tr([html.Td(cell, className=align(i)) for i, cell in enumerate(row)]) for row in rows])
    kwargs = {"id": table_id} if table_id else {}
    return dbc.Table([head, body], size="sm", striped=True, hover=True, responsive=True, className="mb-3", **kwargs)


def sample_note(result: dict) -> html.Div | None:
    """Says when a model was fitted on a random sample rather than every row."""
    if not result.get("sampled"):
        return None
    return dbc.Alert([icon("info-circle", "me-2"),
                      (f"Fitted on a random sample of {result['sample_size']:,} of the {result.get('rows', 0):,} rows "
                      "(drawn by DuckDB with a fixed seed).")],
                     color="info", className="py-2 small analyze-sample-note")


def metric(label: str, value, metric_id: str | None = None) -> dbc.Col:
    kwargs = {"id": metric_id} if metric_id else {}
    return dbc.Col([html.Div(label, className="small text-body-secondary"),
                    html.Div(value, className="fs-5 fw-semibold", **kwargs)], xs=6, md=2, className="mb-2")


def graph(figure, graph_id: str | None = None, height: int = 360) -> dcc.Graph:
    figure.update_layout(height=height, margin={"l": 50, "r": 20, "t": 40, "b": 40}, template="plotly_white")
    kwargs = {"id": graph_id} if graph_id else {}
    return dcc.Graph(figure=figure, config={"displaylogo": False, "responsive": True}, **kwargs)
