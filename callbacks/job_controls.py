"""Controls shared by the pages that start a background job and show its progress."""
from __future__ import annotations

from dash import Input, Output, State, no_update

from storage.errors import DataInsightError
from web.context import current_storage, require_principal


def register_cancel(app, make_id) -> None:
    @app.callback(
        Output(make_id("status"), "children", allow_duplicate=True),
        Input(make_id("cancel"), "n_clicks"),
        State(make_id("job"), "data"),
        prevent_initial_call=True,
    )
    def cancel(clicks, job_id):
        if not clicks or not job_id:
            return no_update
        try:
            current_storage().jobs.cancel(require_principal(), job_id)
        except DataInsightError as exc:
            return exc.message
        return "Cancelling…"
