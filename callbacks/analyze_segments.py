"""The Customer segments tab: RFM and CLV run as background jobs through
``callbacks.analyze_common``; storage checks the dataset's access."""
from __future__ import annotations

from dash import State

from callbacks.analyze_common import register_analysis, register_column_options
from callbacks.analyze_timeseries import whole
from components import analyze_segments
from components.analysis_widget import with_add_button
from analytics.column_choice import Columns
from components.analyze_common import DATES, NUMERIC, Picker


def segment_params(customer, date, amount, quantity, order, months, lapse) -> dict:
    params = {"customer": customer, "date": date, "amount": amount,
              "clv_months": whole(months, "The CLV horizon") or 12, "lapse_days": whole(lapse, "Lapsed after") or 180}
    if quantity:
        params["quantity"] = quantity
    if order:
        params["order"] = order
    return params


def clv_params(customer, date, amount, quantity, order, months, lapse, model) -> dict:
    return {**segment_params(customer, date, amount, quantity, order, months, lapse), "model": model or "rate"}


def register(app) -> None:
    register_column_options(app, {"seg-customer": Picker(None, "identifier", Columns.customer),
                                  "seg-date": Picker(DATES, "time", Columns.time),
                                  "seg-amount": Picker(NUMERIC, "measure", Columns.amount),
                                  "seg-quantity": Picker(NUMERIC, "measure", Columns.quantity),
                                  "seg-order": Picker(None, "identifier", Columns.order)})
    fields = [State("seg-customer", "value"), State("seg-date", "value"), State("seg-amount", "value"),
              State("seg-quantity", "value"), State("seg-order", "value"), State("seg-months", "value"),
              State("seg-lapse", "value")]
    register_analysis(app, "rfm", "rfm", fields, segment_params,
                      with_add_button("rfm", "rfm", analyze_segments.render_rfm))
    register_analysis(app, "clv", "clv", [*fields, State("clv-model", "value")], clv_params,
                      with_add_button("clv", "clv", analyze_segments.render_clv))
