"""Alerts: the bell on a widget that has alerts, the list of a dashboard's alerts, the form
for a new one, and an alert's history of checks and deliveries."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.feedback import icon
from components.forms import card, labelled
from components.reports import STATUS_COLOURS, _when, mail_warning

ALERTABLE = ("kpi", "bar", "line", "area", "pie", "funnel", "table")
OP_OPTIONS = [{"label": "is above", "value": ">"}, {"label": "is at or above", "value": ">="},
              {"label": "is below", "value": "<"}, {"label": "is at or below", "value": "<="},
              {"label": "changes by at least (%)", "value": "changes_by_pct"}]
CHECK_OPTIONS = [{"label": "When the data changes", "value": "on_refresh"}, {"label": "Every hour", "value": "hourly"},
                 {"label": "Every day", "value": "daily"}]
STATE_BADGES = {"triggered": ("Triggered", "danger"), "ok": ("Normal", "success"), "unknown": ("Not checked yet",
                                                                                               "secondary"),
                "paused": ("Paused", "secondary"), "error": ("Could not check", "warning")}
EVENT_WORDS = {"triggered": "Fired", "recovered": "Back to normal", "repeated": "Sent again (every check)"}

_ROW = "d-block d-md-table-row border-bottom py-1"
_CELL = "d-block d-md-table-cell border-0 py-1"
_INLINE_CELL = "d-inline-block d-md-table-cell border-0 py-1 pe-2"
_WIDE_ONLY = "d-none d-md-table-cell"


def alert_bell(board_id: int, widget_id: str, state: str, can_edit: bool):
    """The bell in a widget's header: red while an alert on it is triggered."""
    words = {"triggered": "An alert on this widget is triggered", "ok": "This widget has an alert; all normal",
             "unknown": "This widget has an alert, not checked yet", "paused": "This widget's alert is paused"}
    bell = icon("bell-fill" if state == "triggered" else "bell", f"widget-bell widget-bell-{state}")
    title = words.get(state, "This widget has alerts")
    if can_edit:
        return html.A(bell, href=f"/dashboards/{board_id}/alerts", title=title, className="widget-bell-link me-1",
                      id={"type": "widget-bell", "index": widget_id})
    return html.Span(bell, title=title, className="me-1", id={"type": "widget-bell", "index": widget_id})


def state_badge(alert: dict) -> dbc.Badge:
    state = alert["state"] if alert["enabled"] else "paused"
    text, colour = STATE_BADGES[state]
    return dbc.Badge(text, color=colour, className="alert-state")


def widget_options(board: dict) -> list[dict]:
    return [{"label": f"{(w['spec'].get('title') or w['spec']['type'])} ({w['spec']['type']})", "value": w["id"]}
            for w in board.get("widgets") or [] if w.get("spec", {}).get("type") in ALERTABLE]


def _value(value) -> str:
    if value is None:
        return "–"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def alert_list(alerts: list[dict]) -> html.Div:
    if not alerts:
        return html.P("No alerts yet: add one below, and you hear when a number crosses the line.",
                      className="text-body-secondary mb-0")
    rows = []
    for a in alerts:
        where = a.get("widget_title") or a["widget_id"]
        if a["category"] is not None:
            where += f" · {a['category']}"
        rows.append(html.Tr([
            html.Td([html.A(a["name"], href=f"/alerts/{a['id']}", className="fw-semibold"),
                     html.Div(a["description"], className="small"),
                     html.Div(where, className="small text-body-secondary")], className=_CELL),
            html.Td([state_badge(a), html.Div(a.get("stop_reason") or "", className="small text-danger")],
                    className=_INLINE_CELL),
            html.Td(_value(a["last_value"]), className=_INLINE_CELL),
            html.Td(_when(a["last_checked_at"]), className=_WIDE_ONLY),
            html.Td(html.Div([
                dbc.Button([icon("arrow-repeat", "me-1"), "Check now"], id={"type": "alert-check", "index": a["id"]},
                           size="sm", color="primary", outline=True, className="text-nowrap", n_clicks=0),
                dbc.Button("Pause" if a["enabled"] else "Resume", id={"type": "alert-toggle", "index": a["id"]},
                           size="sm", color="secondary", outline=True, n_clicks=0),
                dbc.Button(icon("trash"), id={"type": "alert-delete", "index": a["id"]}, size="sm", color="danger",
                           outline=True, n_clicks=0, title="Delete"),
            ], className="d-flex flex-wrap gap-1"), className=_CELL),
        ], id=f"alert-row-{a['id']}", className=_ROW))
    head = html.Tr([html.Th(h) for h in ("Alert", "State", "Last value", "Last checked (UTC)", "")],
                   className="d-none d-md-table-row")
    return dbc.Table([html.Thead(head), html.Tbody(rows)], hover=True, className="align-middle mb-0",
                     id="alert-table")


def alert_form(board: dict, mail_problem: str | None, default_email: str) -> dbc.Card:
    options = widget_options(board)
    body = [
        dbc.Row([
            dbc.Col(labelled("Widget", dbc.Select(id="alert-widget", options=options,
                                                  value=options[0]["value"] if options else None)), md=5),
            dbc.Col(labelled("Category", dbc.Input(id="alert-category", maxLength=200,
                                                   placeholder="Leave empty for a KPI"),
                             "For a chart or a table: the bar, slice, date or first cell to watch"), md=7),
        ]),
        dbc.Row([
            dbc.Col(labelled("When the value", dbc.Select(id="alert-op", options=OP_OPTIONS, value="<")), md=4),
            dbc.Col(labelled("Threshold", dbc.Input(id="alert-value", type="number", placeholder="5000")), md=3),
            dbc.Col(labelled("Check", dbc.Select(id="alert-check-kind", options=CHECK_OPTIONS, value="on_refresh")),
                    md=3),
            dbc.Col(labelled("At (UTC)", dbc.Input(id="alert-time", type="time", value="08:00"),
                             "Daily: the time; hourly: its minutes"), md=2),
        ]),
        labelled("Email", dbc.Textarea(id="alert-emails", rows=1, value=default_email,
                                       placeholder="team@example.com"),
                 "Members of this workspace (or its allowed domains), separated by commas"),
        labelled("Webhook", dbc.Input(id="alert-webhook", maxLength=2000,
                                      placeholder="https://hooks.slack.com/services/..."),
                 "Optional: Slack and Microsoft Teams incoming webhooks get their own message format"),
        labelled("Send", dbc.RadioItems(id="alert-send", value="on_change", inline=True, options=[
            {"label": "When it fires and when it is back to normal", "value": "on_change"},
            {"label": "At every check while it holds", "value": "every_time"}])),
        labelled("Name", dbc.Input(id="alert-name", maxLength=200, placeholder="Named after the widget and the "
                                                                                "condition when left empty")),
        html.Div(id="alert-form-feedback", className="mb-2"),
        dbc.Button([icon("bell", "me-1"), "Add alert"], id="alert-create", color="primary", n_clicks=0),
    ]
    if not options:
        body = [html.P("This dashboard has no KPI, chart or table widget to watch yet.",
                       className="text-body-secondary mb-0")]
    warning = [mail_warning(mail_problem, "alert-mail-warning")] if mail_problem else []
    return card("Add an alert", [*warning, *body])


def check_history(checks: list[dict]) -> html.Div:
    """Each check, newest first: its value and state, what it sent, and how each delivery went."""
    if not checks:
        return html.P("Not checked yet.", className="text-body-secondary mb-0")
    rows = []
    for c in checks:
        deliveries = [html.Div([
            dbc.Badge(d["status"], color=STATUS_COLOURS.get(d["status"], "secondary"), className="me-1"),
            f"{d['channel']} to {d['target']}",
            f" · {d['attempts']} attempt{'s' if d['attempts'] != 1 else ''}" if d["attempts"] else "",
            html.Span(f" · {d['error']}" if d.get("error") else "", className="text-danger"),
            html.Span(f" · next try {_when(d['retry_at'])}" if d.get("retry_at") and d["status"] == "retrying" else ""),
        ], className="small text-break") for d in c["deliveries"]]
        text, colour = STATE_BADGES.get(c["state"], (c["state"], "secondary"))
        rows.append(html.Tr([
            html.Td(_when(c["checked_at"]), className=_INLINE_CELL),
            html.Td({"manual": "Check now", "refresh": "New data", "schedule": "Scheduled"}.get(c["trigger"],
                                                                                                c["trigger"]),
                    className=_WIDE_ONLY),
            html.Td(_value(c["value"]), className=_INLINE_CELL),
            html.Td(dbc.Badge(text, color=colour), className=_INLINE_CELL),
            html.Td([html.Div(EVENT_WORDS.get(c["event"], ""), className="fw-semibold small"),
                     html.Div(c.get("error") or "", className="small text-body-secondary"), *deliveries],
                    className=_CELL),
        ], className=_ROW))
    head = html.Tr([html.Th(h) for h in ("Checked (UTC)", "Why", "Value", "State", "Sent")],
                   className="d-none d-md-table-row")
    return dbc.Table([html.Thead(head), html.Tbody(rows)], size="sm", className="mb-0", id="alert-history-table")


def alert_summary(alert: dict) -> html.Div:
    channels = [", ".join(c["to"]) if c["type"] == "email" else f"webhook {c['url'].split('/')[2]}"
                for c in alert["channels"]]
    items = [("State", state_badge(alert)), ("Checks", alert["description"]),
             ("Category", alert["category"] if alert["category"] is not None else "–"),
             ("Last value", _value(alert["last_value"])), ("Last checked", _when(alert["last_checked_at"])),
             ("Next check", _when(alert["next_check_at"]) if alert["next_check_at"] else "–"),
             ("Sends to", "; ".join(channels)),
             ("Sends", "when it fires and when it is back to normal" if alert["send"] == "on_change"
              else "at every check while it holds")]
    if alert.get("stop_reason"):
        items.append(("Stopped", html.Span(alert["stop_reason"], className="text-danger")))
    return html.Dl([part for label, value in items for part in (html.Dt(label, className="col-sm-3"),
                                                                 html.Dd(value, className="col-sm-9"))],
                   className="row mb-0", id="alert-summary")


def alert_actions(alert: dict) -> html.Div:
    return html.Div([
        dbc.Button([icon("arrow-repeat", "me-1"), "Check now"], id="alert-page-check", color="primary", n_clicks=0),
        dbc.Button("Pause" if alert["enabled"] else "Resume", id="alert-page-toggle", color="secondary", outline=True,
                   n_clicks=0),
        dbc.Button([icon("trash", "me-1"), "Delete"], id="alert-page-delete", color="danger", outline=True,
                   n_clicks=0),
        dcc.Location(id="alert-page-leave", refresh=True),
    ], className="d-flex flex-wrap gap-2 mb-2")
