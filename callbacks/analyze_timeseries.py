"""The Time series tab: the forecast runs as a background job through
``callbacks.analyze_common`` (progress bar, Cancel); choosing a date column shows the
data's spacing and the grain "Automatic" will use (the ``time_grain`` analysis, one query
over the column's distinct times, cached per dataset version). Storage checks the
dataset's access for both."""
from __future__ import annotations

from dash import Input, Output, State

from analytics.column_choice import Columns
from callbacks.analyze_common import register_analysis, register_column_options
from components import analyze_timeseries
from components.analysis_widget import with_add_button
from components.analyze_common import DATES, NUMERIC, Picker
from storage.errors import DataInsightError, InvalidSpec
from web.context import current_storage, require_principal


def whole(value, what):
    """A form's number field as an int (None when empty), or a message naming the field."""
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidSpec(f"{what} must be a whole number") from None
    if not number.is_integer():
        raise InvalidSpec(f"{what} must be a whole number")
    return int(number)


def forecast_params(date, value, multiply, agg, grain, horizon, holdout, gaps, season) -> dict:
    """The form as request params; empty periods fields are left out (the grain's defaults)."""
    params = {"date": date, "value": value, "multiply": multiply, "agg": agg or "sum", "grain": grain or "auto",
              "gaps": gaps or "auto"}
    for key, number, what in (("horizon", horizon, "Forecast periods"), ("holdout", holdout, "Holdout periods"),
                              ("season", season, "Season")):
        number = whole(number, what)
        if number is not None:
            params[key] = number
    return params


def grain_hint(dataset_id, date):
    """(grain options, note) for the chosen date column: its spacing and the automatic grain."""
    if dataset_id in (None, "") or date in (None, ""):
        return analyze_timeseries.grain_options(), analyze_timeseries.grain_note(None)
    try:
        detection = current_storage().analyses.run(require_principal(), "time_grain",
                                                   {"dataset_id": dataset_id, "date": date})
    except DataInsightError as exc:
        return analyze_timeseries.grain_options(), analyze_timeseries.grain_note(None, exc.message)
    return analyze_timeseries.grain_options(detection["grain"]), analyze_timeseries.grain_note(detection)


def agg_of(value, schema, multiply=None) -> str:
    """The aggregation a chosen measure calls for: a sum when it adds up, an average when
    it does not; a count of rows without one. A measure multiplied by another (unit price
    × quantity) is an amount: summed, whatever the price alone would be."""
    if not value:
        return "count"
    if multiply:
        return "sum"
    columns = Columns.from_schema(schema)
    return columns.agg_for(value) if columns.aggregatable(value) else "sum"


def register(app) -> None:
    # The time column and a measure that adds up (a sum per period); never an id or a year.
    register_column_options(app, {"ts-date": Picker(DATES, "time", Columns.time),
                                  "ts-value": Picker(NUMERIC, "measure", Columns.main_additive),
                                  "ts-multiply": Picker(NUMERIC, "measure")})

    @app.callback(
        Output("ts-agg", "value"),
        Input("ts-value", "value"),
        Input("ts-multiply", "value"),
        State("analyze-schema", "data"),
        prevent_initial_call=True,
    )
    def agg_for_measure(value, multiply, schema):
        # From the roles already sent to this browser: no data access.
        return agg_of(value, schema, multiply)

    @app.callback(Output("ts-grain", "options"), Output("ts-grain-note", "children"),
                  Input("ts-date", "value"), State("analyze-dataset", "value"))
    def show_grain(date, dataset_id):
        return grain_hint(dataset_id, date)

    register_analysis(
        app, "ts", "forecast",
        [State("ts-date", "value"), State("ts-value", "value"), State("ts-multiply", "value"), State("ts-agg", "value"),
         State("ts-grain", "value"),
         State("ts-horizon", "value"), State("ts-holdout", "value"), State("ts-gaps", "value"),
         State("ts-season", "value")],
        forecast_params, with_add_button("ts", "forecast", analyze_timeseries.render),
    )
