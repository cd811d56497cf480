"""The dataset page's Source card (a dataset copied from a database): Refresh now with its
progress, and the refresh setting. Also what the Connections page's copy forms share with
it: the refresh setting read from the form, the fields it shows, a job's state in words.

Thin: storage.syncs checks that the acting person may refresh or change the dataset (and
use its connection), storage.jobs that the job is theirs, whatever ids a request posts."""
from __future__ import annotations

from dash import Input, Output, State, html, no_update

from components.feedback import error_alert, success_alert
from callbacks.job_controls import register_cancel
from components.syncs import HIDE, SHOW, sync_details
from storage.errors import DataInsightError
from web.context import current_storage, require_principal

# Shows the "Every" or the "At" fields for the chosen kind of refresh.
_FIELDS_JS = """function (kind) {
  var every = kind === 'minutes' || kind === 'hours';
  return [every ? {} : {display: 'none'}, kind === 'daily' ? {} : {display: 'none'},
          kind === 'minutes' ? 'minutes' : 'hours'];
}"""


# A new version: the Data tab's grid asks for its rows again.
_GRID_JS = """function (version) {
  try {
    var api = window.dash_ag_grid && window.dash_ag_grid.getApi('dataset-grid');
    if (api) { api.purgeInfiniteCache(); }
  }
  catch (e) { /* the grid is not drawn (yet): it reads the new version when it is */ }
  return version;
}"""


def refresh_setting(kind, every, at, zone):
    """The storage.syncs refresh value the fields say; storage checks it and says what is
    wrong in words (an empty "every", a time that is not HH:MM, an unknown time zone)."""
    if kind in (None, "", "manual"):
        return "manual"
    if kind in ("minutes", "hours"):
        if isinstance(every, float) and every.is_integer():
            every = int(every)
        elif isinstance(every, str) and every.strip().isdigit():
            every = int(every.strip())
        return {"every": every, "unit": kind}
    if kind == "daily":
        return {"daily": (at or "")[:5], "timezone": (zone or "").strip() or "UTC"}
    return kind


def job_words(job: dict) -> tuple[str, object]:
    """(state, what to show): "running" with the progress message, or "done", "failed",
    "cancelled" with the job's own message."""
    if job["status"] in ("queued", "running"):
        return "running", job.get("message") or "Working…"
    if job["status"] == "done":
        return "done", job.get("result") or {}
    if job["status"] == "cancelled":
        return "cancelled", "Cancelled: nothing was changed."
    return "failed", job.get("message") or "The copy failed"


def register_refresh_fields(app, make_id) -> None:
    app.clientside_callback(
        _FIELDS_JS,
        Output(make_id("refresh-every-wrap"), "style"),
        Output(make_id("refresh-daily-wrap"), "style"),
        Output(make_id("refresh-unit"), "children"),
        Input(make_id("refresh-kind"), "value"),
        prevent_initial_call=True,
    )


def _refreshed(result: dict, dataset_id, source: str | None) -> list:
    rows = result.get("rows") or 0
    if source == "live":
        said = f"A new sample of {rows:,} row{'s' if rows != 1 else ''} for profiles and analyses. "
    elif result.get("appended"):
        said = f"Refreshed: {rows:,} new row{'s' if rows != 1 else ''} added. "
    else:
        said = f"Refreshed: {rows:,} row{'s' if rows != 1 else ''} copied into a new version. "
    version = (result.get("dataset") or {}).get("version")
    return [said, html.A(f"Show version {version}" if version else "Show it", href=f"/datasets/{dataset_id}",
                         className="alert-link", id="sync-show-version")]


def register(app) -> None:
    sid = lambda name: f"sync-{name}"  # noqa: E731
    register_refresh_fields(app, sid)
    register_cancel(app, sid)

    @app.callback(
        Output("sync-job", "data"),
        Output("sync-poll", "disabled"),
        Output("sync-running", "style"),
        Output("sync-status", "children"),
        Output("sync-result", "children"),
        Output("sync-refresh-now", "disabled"),
        Input("sync-refresh-now", "n_clicks"),
        State("dataset-id", "data"),
        prevent_initial_call=True,
    )
    def refresh_now(clicks, dataset_id):
        if not clicks:
            return (no_update,) * 6
        try:
            started = current_storage().syncs.refresh(require_principal(), dataset_id)
        except DataInsightError as exc:
            return None, True, HIDE, None, error_alert(exc.message), False
        return started["job_id"], False, SHOW, "Starting…", None, True

    @app.callback(
        Output("sync-progress", "value"),
        Output("sync-running", "style", allow_duplicate=True),
        Output("sync-status", "children", allow_duplicate=True),
        Output("sync-result", "children", allow_duplicate=True),
        Output("sync-job", "data", allow_duplicate=True),
        Output("sync-poll", "disabled", allow_duplicate=True),
        Output("sync-refresh-now", "disabled", allow_duplicate=True),
        Output("sync-details", "children"),
        Output("dataset-rows", "children"),
        Output("dataset-version", "children"),
        Input("sync-poll", "n_intervals"),
        State("sync-job", "data"),
        State("dataset-id", "data"),
        prevent_initial_call=True,
    )
    def poll(_n, job_id, dataset_id):
        if not job_id:
            return (no_update, HIDE, no_update, no_update, no_update, True, False) + (no_update,) * 3
        principal = require_principal()
        storage = current_storage()
        try:
            job = storage.jobs.get(principal, job_id)
        except DataInsightError as exc:
            return (0, HIDE, None, error_alert(exc.message), None, True, False) + (no_update,) * 3
        state, shown = job_words(job)
        if state == "running":
            return (round(job["progress"] * 100), SHOW, shown) + (no_update,) * 7
        try:
            sync = storage.syncs.get(principal, dataset_id)
            dataset = storage.datasets.get(principal, dataset_id)
            details, source, stats = sync_details(sync), sync.get("source"), (f"{dataset.rows:,}", f"{dataset.version}")
        except DataInsightError:
            details, source, stats = no_update, None, (no_update, no_update)
        if state == "done":
            result = success_alert(_refreshed(shown, dataset_id, source))
        elif state == "cancelled":
            result = html.Div(shown, className="small text-body-secondary")
        else:
            result = error_alert(shown)
        return (100 if state == "done" else 0, HIDE, None, result, None, True, False, details, *stats)

    app.clientside_callback(_GRID_JS, Output("sync-grid-refreshed", "children"), Input("dataset-version", "children"),
                            prevent_initial_call=True)

    @app.callback(
        Output("sync-edit", "is_open"),
        Input("sync-edit-open", "n_clicks"),
        State("sync-edit", "is_open"),
        prevent_initial_call=True,
    )
    def toggle_edit(_clicks, is_open):
        return not is_open

    @app.callback(
        Output("sync-save-feedback", "children"),
        Output("sync-details", "children", allow_duplicate=True),
        Input("sync-save", "n_clicks"),
        State("dataset-id", "data"),
        State("sync-refresh-kind", "value"),
        State("sync-refresh-every", "value"),
        State("sync-refresh-at", "value"),
        State("sync-refresh-zone", "value"),
        State("sync-incremental", "value"),
        State("sync-source", "data"),
        prevent_initial_call=True,
    )
    def save(clicks, dataset_id, kind, every, at, zone, incremental, source):
        if not clicks:
            return no_update, no_update
        patch = {"refresh": refresh_setting(kind, every, at, zone)}
        if source != "workspace":  # a query over the workspace's datasets has no column to add new rows by
            patch["incremental_column"] = (incremental or "").strip() or None
        try:
            sync = current_storage().syncs.update(require_principal(), dataset_id, patch)
        except DataInsightError as exc:
            return error_alert(exc.message), no_update
        return success_alert(f"Saved. Refresh: {sync['refresh_text']}.", duration=8000), sync_details(sync)
