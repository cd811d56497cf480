"""The Funnels & journeys tab: three analyses (funnel, journeys, retention) run as
background jobs through ``callbacks.analyze_common``, and the event names offered as steps
(the ``event_names`` analysis, access-checked and cached like every other)."""
from __future__ import annotations

from dash import Input, Output, State

from callbacks.analyze_common import register_analysis, register_column_options
from callbacks.analyze_timeseries import whole
from components import analyze_journeys
from components.analysis_widget import with_add_button
from analytics.column_choice import Columns
from components.analyze_common import CATEGORICAL, DATES, NUMERIC, Picker
from storage.errors import DataInsightError
from web.context import current_storage, require_principal


def _columns(entity, event, time) -> dict:
    return {"entity": entity, "event": event, "time": time}


def funnel_params(entity, event, time, steps, window) -> dict:
    params = dict(_columns(entity, event, time), steps=steps or [])
    window = whole(window, "Within days")
    if window is not None:
        params["window_days"] = window
    return params


def journeys_params(entity, event, time, start, depth, top) -> dict:
    params = dict(_columns(entity, event, time), depth=whole(depth, "Steps shown") or 5,
                  top_events=whole(top, "Events shown") or 8)
    if start:
        params["start_event"] = start
    return params


def retention_params(entity, event, time, grain, start, returning, periods) -> dict:
    params = dict(_columns(entity, event, time), grain=grain or "week", periods=whole(periods, "Periods") or 12)
    if start:
        params["start_event"] = start
    if returning:
        params["return_event"] = returning
    return params


def register(app) -> None:
    # Event logs often keep time as Unix epoch numbers (Sparkify's ts): number columns are offered too.
    register_column_options(app, {"fj-entity": Picker(None, "identifier", Columns.entity),
                                  "fj-event": Picker(CATEGORICAL, "category", Columns.event),
                                  "fj-time": Picker(DATES + NUMERIC, "time", Columns.time)})

    @app.callback(
        Output("fun-steps", "options"), Output("jr-start", "options"), Output("ret-start", "options"),
        Output("ret-return", "options"),
        Input("fj-event", "value"),
        State("analyze-dataset", "value"),
    )
    def event_options(event, dataset_id):
        if not event or dataset_id in (None, ""):
            return [], [], [], []
        try:
            result = current_storage().analyses.run(require_principal(), "event_names",
                                                    {"dataset_id": dataset_id, "event": event})
        except DataInsightError:
            return [], [], [], []
        options = [{"label": f"{e['name']} ({e['events']:,})", "value": e["name"]} for e in result["events"]]
        return options, options, options, options

    columns = [State("fj-entity", "value"), State("fj-event", "value"), State("fj-time", "value")]
    register_analysis(app, "fun", "funnel", columns + [State("fun-steps", "value"), State("fun-window", "value")],
                      funnel_params, with_add_button("fun", "funnel", analyze_journeys.render_funnel))
    register_analysis(app, "jr", "journeys",
                      columns + [State("jr-start", "value"), State("jr-depth", "value"), State("jr-top", "value")],
                      journeys_params, with_add_button("jr", "journeys", analyze_journeys.render_journeys))
    register_analysis(app, "ret", "retention",
                      columns + [State("ret-grain", "value"), State("ret-start", "value"), State("ret-return", "value"),
                                 State("ret-periods", "value")],
                      retention_params, with_add_button("ret", "retention", analyze_journeys.render_retention))
