"""The Time series tab: the forecast runs as a background job through
``callbacks.analyze_common`` (progress bar, Cancel); storage checks the dataset's access."""
from __future__ import annotations

from dash import Input, Output, State

from callbacks.analyze_common import register_analysis, register_column_options
from components import analyze_timeseries
from components.analysis_widget import with_add_button
from analytics.column_choice import Columns
from components.analyze_common import DATES, NUMERIC, Picker
from storage.errors import InvalidSpec


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
    params = {"date": date, "value": value, "multiply": multiply, "agg": agg or "sum", "grain": grain or "day",
              "horizon": whole(horizon, "Forecast periods") or 30, "holdout": whole(holdout, "Holdout periods") or 30,
              "gaps": gaps or "auto"}
    season = whole(season, "Season")
    if season is not None:
        params["season"] = season
    return params


def agg_of(value, schema) -> str:
    """The aggregation a chosen measure calls for: a sum when it adds up, an average when
    it does not; a count of rows without one."""
    if not value:
        return "count"
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
        State("analyze-schema", "data"),
        prevent_initial_call=True,
    )
    def agg_for_measure(value, schema):
        # From the roles already sent to this browser: no data access.
        return agg_of(value, schema)
    register_analysis(
        app, "ts", "forecast",
        [State("ts-date", "value"), State("ts-value", "value"), State("ts-multiply", "value"), State("ts-agg", "value"),
         State("ts-grain", "value"),
         State("ts-horizon", "value"), State("ts-holdout", "value"), State("ts-gaps", "value"),
         State("ts-season", "value")],
        forecast_params, with_add_button("ts", "forecast", analyze_timeseries.render),
    )
