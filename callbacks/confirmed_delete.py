"""Delete with a confirmation, for a list of things (sites, connections): a button opens
that item's confirmation; its confirm button deletes through storage (which checks the
acting person's rights) and bumps the list's revision so the list is drawn again."""
from __future__ import annotations

from typing import Callable

from dash import ALL, MATCH, Input, Output, State, ctx, no_update

from components.feedback import error_alert, success_alert
from storage.errors import DataInsightError
from web.context import require_principal


def register_confirmed_delete(app, prefix: str, feedback_id: str, rev_id: str,
                              delete: Callable[[object, object], None], done: str) -> None:
    """``prefix``-delete-open opens ``prefix``-delete-confirm (pattern ids by index);
    ``prefix``-delete calls ``delete(principal, index)``, says ``done`` in ``feedback_id``
    and adds one to the revision in ``rev_id``."""

    @app.callback(
        Output({"type": f"{prefix}-delete-confirm", "index": MATCH}, "is_open"),
        Input({"type": f"{prefix}-delete-open", "index": MATCH}, "n_clicks"),
        State({"type": f"{prefix}-delete-confirm", "index": MATCH}, "is_open"),
        prevent_initial_call=True,
    )
    def ask_delete(_clicks, is_open):
        return not is_open

    @app.callback(
        Output(feedback_id, "children"),
        Output(rev_id, "data", allow_duplicate=True),
        Input({"type": f"{prefix}-delete", "index": ALL}, "n_clicks"),
        State(rev_id, "data"),
        prevent_initial_call=True,
    )
    def confirmed(_clicks, rev):
        trigger = ctx.triggered_id
        if not isinstance(trigger, dict) or not (ctx.triggered and ctx.triggered[0]["value"]):
            return no_update, no_update
        try:
            delete(require_principal(), trigger["index"])
        except DataInsightError as exc:
            return error_alert(exc.message), no_update
        return success_alert(done, duration=8000), (rev if isinstance(rev, int) else 0) + 1
