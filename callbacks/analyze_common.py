"""The shared machinery of the Analyze tabs: start an analysis as a background job, poll
its progress, cancel it, show its result or its error; fill column pickers from the chosen
dataset's schema. Any tab (including forecast, journeys and segments) registers its
analysis with ``register_analysis`` and its pickers with ``register_column_options``; see
the docstring of ``components/analyze_common.py`` for an example.

Every callback takes the acting principal and goes through storage, which checks access:
a crafted post naming another workspace's dataset or another person's job gets "not
found", like the API.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

import dash_bootstrap_components as dbc
from dash import Input, Output, State, no_update

from analytics.column_choice import Columns
from callbacks.job_controls import register_cancel
from components.analyze_common import Picker, column_options
from components.feedback import error_alert
from storage.errors import DataInsightError, InvalidSpec
from web.context import current_storage, require_principal

log = logging.getLogger(__name__)

SHOW = {"display": "flex"}
HIDE = {"display": "none"}


def register_column_options(app, pickers: dict[str, Picker | tuple | None]) -> None:
    """Fill each dropdown id in ``pickers`` with the columns of the logical types given
    (a ``Picker``, or just the types; None: every column) whenever the schema changes
    (another dataset, a new version). A chosen value stays if the new schema still
    offers it; otherwise the picker's ``choose`` gives the value its roles suggest (a
    real measure, the time, a customer id), or none."""
    ids = list(pickers)
    spec = {i: p if isinstance(p, Picker) else Picker(p) for i, p in pickers.items()}

    @app.callback(
        *[Output(i, "options") for i in ids],
        *[Output(i, "value") for i in ids],
        Input("analyze-schema", "data"),
        *[State(i, "value") for i in ids],
    )
    def fill(schema, *current):
        return picked(schema, [spec[i] for i in ids], current)


def picked(schema: list[dict] | None, pickers: list[Picker], current) -> tuple:
    """(every picker's options..., every picker's value...) for ``schema``."""
    columns = Columns.from_schema(schema)
    options, values = [], []
    for picker, value in zip(pickers, current):
        opts = column_options(schema, picker.types, picker.prefer)
        offered = {o["value"] for o in opts}
        kept = [v for v in value if v in offered] if isinstance(value, list) else value if value in offered else None
        if not kept and schema and picker.choose is not None:
            kept = picker.choose(columns)
            kept = [v for v in kept if v in offered] if isinstance(kept, list) else kept if kept in offered else None
        options.append(opts)
        values.append(kept or None)
    return (*options, *values)


def register_analysis(app, prefix: str, kind: str, states: list[State], build_params: Callable[..., dict],
                      render: Callable[[dict], object], keep: Callable[[dict], dict] | None = None) -> None:
    """Wire the job panel ``components.analyze_common.job_panel(prefix)`` to the analysis
    ``kind``: ``build_params(*state_values)`` turns the form into params (raise
    ``InvalidSpec`` for a missing field; ``dataset_id`` is added), ``render(result)``
    turns the finished result into components, ``keep(result)`` (optional) picks what of
    the result to keep in the browser in ``<prefix>-data`` for follow-up callbacks."""

    def start_job(principal, dataset_id, *values):
        params = dict(build_params(*values), dataset_id=dataset_id)
        return current_storage().analyses.start(principal, kind, params), params

    register_job(app, prefix, states, start_job, render, keep, label=kind)


def register_job(app, prefix: str, states: list[State], start_job: Callable, render: Callable[[dict], object],
                 keep: Callable[[dict], dict] | None = None, label: str = "job") -> None:
    """The general form: ``start_job(principal, dataset_id, *state_values) -> (job_id,
    params)`` starts any job through storage (which checks access)."""

    @app.callback(
        Output(f"{prefix}-job", "data"),
        Output(f"{prefix}-params", "data"),
        Output(f"{prefix}-poll", "disabled"),
        Output(f"{prefix}-running", "style"),
        Output(f"{prefix}-status", "children"),
        Output(f"{prefix}-result", "children"),
        Output(f"{prefix}-progress", "value"),
        Input(f"{prefix}-run", "n_clicks"),
        State("analyze-dataset", "value"),
        *states,
        prevent_initial_call=True,
    )
    def start(clicks, dataset_id, *values):
        if not clicks:
            return (no_update,) * 7
        principal = require_principal()
        try:
            if dataset_id in (None, ""):
                raise InvalidSpec("Choose a dataset first")
            job_id, params = start_job(principal, dataset_id, *values)
        except DataInsightError as exc:
            return None, no_update, True, HIDE, None, error_alert(exc.message), 0
        return job_id, params, False, SHOW, "Starting…", None, 0

    @app.callback(
        Output(f"{prefix}-progress", "value", allow_duplicate=True),
        Output(f"{prefix}-running", "style", allow_duplicate=True),
        Output(f"{prefix}-status", "children", allow_duplicate=True),
        Output(f"{prefix}-result", "children", allow_duplicate=True),
        Output(f"{prefix}-job", "data", allow_duplicate=True),
        Output(f"{prefix}-poll", "disabled", allow_duplicate=True),
        Output(f"{prefix}-data", "data"),
        Input(f"{prefix}-poll", "n_intervals"),
        State(f"{prefix}-job", "data"),
        prevent_initial_call=True,
    )
    def poll(_n, job_id):
        if not job_id:
            return no_update, HIDE, no_update, no_update, no_update, True, no_update
        principal = require_principal()
        try:
            job = current_storage().jobs.get(principal, job_id)
        except DataInsightError as exc:
            return 0, HIDE, None, error_alert(exc.message), None, True, None
        if job["status"] in ("queued", "running"):
            return round(job["progress"] * 100), SHOW, job["message"] or "Working…", no_update, no_update, False, \
                no_update
        if job["status"] == "done":
            result = job["result"]
            try:
                shown = render(result)
            except Exception:  # a result the page cannot draw is a bug: say so, keep the log
                log.exception("could not render a %s result", label)
                shown = error_alert("The result could not be shown; the server log has the details")
            return 100, HIDE, None, shown, None, True, keep(result) if keep else None
        if job["status"] == "cancelled":
            return 0, HIDE, None, dbc.Alert("Cancelled.", color="secondary", className="mb-0 py-2"), None, True, None
        return 0, HIDE, None, error_alert(job["message"] or "The analysis failed"), None, True, None

    register_cancel(app, lambda part: f"{prefix}-{part}")

    @app.callback(
        Output(f"{prefix}-result", "children", allow_duplicate=True),
        Output(f"{prefix}-data", "data", allow_duplicate=True),
        Output(f"{prefix}-params", "data", allow_duplicate=True),
        Input("analyze-dataset", "value"),
        prevent_initial_call=True,
    )
    def clear(_dataset_id):
        # A result belongs to the dataset it was computed on.
        return None, None, None
