"""Datasets copied from a connected database (storage.syncs): the refresh setting's fields
(in the Connections page's copy form and on the dataset page), the progress of a copy or
refresh job, and the dataset page's Source card.

Fields are named through ``make_id(name)``, so one function serves the dataset page (plain
ids, ``lambda n: f"sync-{n}"``) and the copy form of each connection (pattern ids,
``lambda n: {"type": f"conn-copy-{n}", "index": connection_id}``)."""
from __future__ import annotations

from typing import Callable

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.feedback import icon
from components.forms import labelled
from components.reports import _when

REFRESH_KINDS = [{"label": "By hand", "value": "manual"}, {"label": "Every N minutes", "value": "minutes"},
                 {"label": "Every N hours", "value": "hours"}, {"label": "Daily at a time", "value": "daily"}]
KIND_LABELS = {"postgresql": "PostgreSQL", "mysql": "MySQL / MariaDB"}
POLL_MS = 700
SHOW, HIDE = {"display": "flex"}, {"display": "none"}


def refresh_form_values(refresh) -> dict:
    """The fields' values for a stored refresh setting (storage.syncs.check_refresh's shapes)."""
    values = {"kind": "manual", "every": 1, "at": "06:00", "zone": "UTC"}
    if isinstance(refresh, dict) and "every" in refresh:
        values.update(kind=refresh.get("unit", "hours"), every=refresh["every"])
    elif isinstance(refresh, dict) and "daily" in refresh:
        values.update(kind="daily", at=refresh["daily"], zone=refresh.get("timezone") or "UTC")
    return values


def refresh_fields(make_id: Callable[[str], object], refresh="manual") -> dbc.Row:
    """How often to copy again: by hand, every N minutes or hours, or daily at a time in a
    time zone. A clientside callback shows the fields the chosen kind needs."""
    values = refresh_form_values(refresh)
    every_shown = values["kind"] in ("minutes", "hours")
    return dbc.Row([
        dbc.Col(labelled("Refresh", dbc.Select(id=make_id("refresh-kind"), options=REFRESH_KINDS,
                                               value=values["kind"])), md=4),
        dbc.Col(labelled("Every", dbc.InputGroup([
            dbc.Input(id=make_id("refresh-every"), type="number", min=1, step=1, value=values["every"]),
            dbc.InputGroupText("minutes" if values["kind"] == "minutes" else "hours", id=make_id("refresh-unit")),
        ]), "At least every 5 minutes"), md=4, id=make_id("refresh-every-wrap"),
            style=None if every_shown else HIDE),
        dbc.Col(labelled("At", dbc.InputGroup([
            dbc.Input(id=make_id("refresh-at"), type="time", value=values["at"]),
            dbc.InputGroupText("in"),
            dbc.Input(id=make_id("refresh-zone"), value=values["zone"], maxLength=64, placeholder="Europe/Paris"),
        ]), "A time zone such as UTC, Europe/Paris or America/New_York"), md=8, id=make_id("refresh-daily-wrap"),
            style=None if values["kind"] == "daily" else HIDE),
    ], className="g-2")


def job_progress(make_id: Callable[[str], object]) -> html.Div:
    """A job's progress bar and Cancel button (shown while it runs), its status line, what
    it ended with, and the store and interval that follow it."""
    return html.Div([
        html.Div([
            dbc.Progress(id=make_id("progress"), value=0, striped=True, animated=True, className="flex-grow-1",
                         style={"height": "1.25rem"}),
            dbc.Button("Cancel", id=make_id("cancel"), color="secondary", outline=True, size="sm", n_clicks=0),
        ], id=make_id("running"), className="align-items-center gap-2 mt-2", style=HIDE),
        html.Div(id=make_id("status"), className="small text-body-secondary mt-1", role="status"),
        html.Div(id=make_id("result"), className="mt-2"),
        dcc.Store(id=make_id("job")),
        dcc.Interval(id=make_id("poll"), interval=POLL_MS, disabled=True),
    ])


def _source_text(sync: dict):
    if sync.get("table"):
        return html.Code(sync["table"], className="text-break")
    return html.Pre(sync.get("sql") or "", className="small bg-body-tertiary p-2 rounded mb-0 text-wrap text-break")


def _last_refresh(sync: dict):
    if not sync.get("last_refresh_at"):
        return "Not yet"
    ok = sync.get("last_status") == "ok"
    parts = [_when(sync["last_refresh_at"]) + " UTC ",
             dbc.Badge("Succeeded" if ok else "Failed", color="success" if ok else "danger", id="sync-last-status")]
    if ok and sync.get("last_rows") is not None:
        copied = "in the sample" if sync.get("mode") == "live" else "copied"
        parts.append(html.Span(f" · {sync['last_rows']:,} rows {copied}", className="text-body-secondary"))
    return html.Span(parts)


def _next(sync: dict) -> str:
    """When the next refresh is due: in the daily refresh's time zone, else in UTC."""
    if not sync.get("next_refresh_at"):
        stopped = sync.get("refresh") != "manual" and (sync.get("connection") or sync.get("source") == "workspace")
        stopped = stopped or sync.get("source") == "query"
        return "Not planned" if stopped else "–"
    zone = sync["refresh"].get("timezone", "UTC") if isinstance(sync.get("refresh"), dict) else "UTC"
    return f"{_when(sync['next_refresh_at'], zone)} {zone}"


def _origin(sync: dict) -> list[tuple[str, object]]:
    """Where the rows come from, as (label, value) lines."""
    source, connection = sync.get("source") or "connection", sync.get("connection")
    if source == "workspace":
        lines = [("From", "A SQL query over this workspace's datasets, run again at each refresh")]
    elif source == "query":
        lines = [("From", "A SQL query over this workspace's datasets, run by each chart when it is drawn")]
    elif connection:
        lines = [("Connection", html.Span([html.Span(connection["name"], className="fw-semibold"),
                                           f" ({KIND_LABELS.get(connection['kind'], connection['kind'])})"]))]
    else:
        lines = [("Connection", html.Span([html.Span("The connection was deleted", className="fw-semibold"),
                                           ": this dataset keeps its last copy and is not refreshed any more."]))]
    lines.append(("Table" if sync.get("table") else "Query", _source_text(sync)))
    if source == "query" and sync.get("parameters"):
        names = [html.Span([html.Code("{{" + p["name"] + "}}"), f" ({p['type']})"], className="me-3")
                 for p in sync["parameters"]]
        lines.append(("Parameters", html.Span(names + [html.Div(
            "A dashboard filter with the same name gives each its value.", className="small text-body-secondary")])))
    if source == "live":
        seconds = sync.get("cache_seconds") or 0
        lines.append(("Live", f"Charts query the database itself; a chart's result is reused for {seconds:,} "
                              f"second{'s' if seconds != 1 else ''}. Profiles, analyses and the grid read a sample."))
    return lines


def sync_details(sync: dict) -> html.Div:
    """Where the rows come from and how the refreshes go (anyone who can read the dataset)."""
    live = sync.get("mode") == "live"
    items = _origin(sync)
    if not live:
        items.append(("Refresh", html.Span(sync["refresh_text"], id="sync-refresh-text")))
    items.append(("Last sample" if live else "Last refresh", _last_refresh(sync)))
    if not live:
        items.append(("Next refresh", _next(sync)))
    if sync.get("incremental_column"):
        items.append(("New rows by", html.Span([html.Code(sync["incremental_column"]),
                                               " (only rows above the largest value copied are added)"])))
    body = [html.Dl([part for label, value in items for part in (html.Dt(label, className="col-sm-3"),
                                                                 html.Dd(value, className="col-sm-9"))],
                    className="row mb-0")]
    if sync.get("last_status") == "failed" and sync.get("last_error"):
        body.append(dbc.Alert([icon("exclamation-triangle-fill", "me-2"), "The last refresh failed: ",
                               sync["last_error"], html.Div("The dataset keeps its previous version.",
                                                            className="small mt-1")],
                              color="warning", className="mt-3 mb-0", id="sync-last-error"))
    if sync.get("notes"):
        body.append(html.Ul([html.Li(note) for note in sync["notes"]], className="small text-body-secondary mt-2 mb-0",
                            id="sync-notes"))
    if sync.get("running"):
        body.append(html.Div([dbc.Spinner(size="sm", className="me-2"), "A refresh is running now."],
                             className="small mt-2"))
    return html.Div(body)


def _edit_form(sync: dict, sid) -> dbc.Collapse:
    """The refresh setting (and, for a database's table or query, the column new rows come by)."""
    by_column = labelled("New rows by (optional)", dbc.Input(
        id="sync-incremental", maxLength=200, value=sync.get("incremental_column") or "", placeholder="updated_at"),
        "A timestamp, date or increasing number: each refresh then adds only the rows above the largest value "
        "copied. Empty: each refresh copies everything again.")
    return dbc.Collapse(html.Div([
        refresh_fields(sid, sync["refresh"]),
        html.Div(by_column, hidden=sync.get("source") == "workspace"),
        dbc.Button("Save", id="sync-save", color="primary", n_clicks=0),
        html.Div(id="sync-save-feedback", className="mt-2"),
    ], className="border-top pt-3 mt-3"), id="sync-edit", is_open=False)


def source_card(sync: dict, can_edit: bool) -> dbc.Card:
    """The dataset page's Source card; editors get Refresh now and the refresh setting (a
    live dataset: a new sample, its charts being live already)."""
    source = sync.get("source") or "connection"
    body = [html.Div(sync_details(sync), id="sync-details"), dcc.Store(id="sync-source", data=source)]
    if can_edit and (source in ("workspace", "query") or sync.get("connection")):
        sid = lambda name: f"sync-{name}"  # noqa: E731
        live = sync.get("mode") == "live"
        buttons = [dbc.Button([icon("arrow-repeat", "me-1"), "Draw a new sample" if live else "Refresh now"],
                              id="sync-refresh-now", color="primary", n_clicks=0, disabled=bool(sync.get("running")))]
        if not live:
            buttons.append(dbc.Button([icon("clock", "me-1"), "Change the refresh"], id="sync-edit-open",
                                      color="secondary", outline=True, n_clicks=0))
        body += [html.Div(buttons, className="d-flex flex-wrap gap-2 mt-3"), job_progress(sid),
                 *([] if live else [_edit_form(sync, sid)]), html.Div(id="sync-grid-refreshed", hidden=True)]
    header = dbc.CardHeader(html.H2([icon("database", "me-2"), "Source"], className="h6 mb-0"))
    return dbc.Card([header, dbc.CardBody(body)], className="mb-3", id="dataset-source")
