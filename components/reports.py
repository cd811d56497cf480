"""Report pieces: the dashboard's Download menu (format, paper, orientation, a progress
bar while the file renders in the background) and the schedules page's list, form and
run history."""
from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import dcc, html

from analytics.reports.content import EXCEL_MAX_ROWS
from analytics.reports.pdf import PDF_FIRST_ROWS, PDF_TABLE_ROWS
from analytics.reports.slides import SLIDE_TABLE_ROWS, TABLE_ROWS_PER_SLIDE
from analytics.widgets.base import ROW_CAP
from components.feedback import icon
from components.forms import card, labelled

FORMAT_OPTIONS = [{"label": "PDF (looks like the dashboard)", "value": "pdf"},
                  {"label": "Excel (a sheet per widget)", "value": "xlsx"},
                  {"label": "Interactive HTML (works offline)", "value": "html"},
                  {"label": "ZIP of CSV files", "value": "zip"},
                  {"label": "PowerPoint (editable charts, a slide per widget)", "value": "pptx"}]
SLIDE_SIZE_OPTIONS = [{"label": "16:9", "value": "16:9"}, {"label": "4:3", "value": "4:3"}]
PAPER_OPTIONS = [{"label": "A4", "value": "a4"}, {"label": "Letter", "value": "letter"}]
ORIENTATION_OPTIONS = [{"label": "Portrait", "value": "portrait"}, {"label": "Landscape", "value": "landscape"}]
FREQUENCY_OPTIONS = [{"label": "Daily", "value": "daily"}, {"label": "Weekly", "value": "weekly"},
                     {"label": "Monthly", "value": "monthly"}]
WEEKDAY_OPTIONS = [{"label": d, "value": i} for i, d in enumerate(("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"))]
STATUS_COLOURS = {"sent": "success", "failed": "danger", "retrying": "warning", "running": "info",
                  "sending": "info", "refused": "danger"}


def download_actions(board_id: int, can_edit: bool) -> list:
    """The Download button (and, for editors, the Schedules and Alerts links) for the page header."""
    out = [dbc.Button([icon("download", "me-1"), "Download"], id="report-download-open", color="secondary",
                      outline=True, className="me-2", n_clicks=0)]
    if can_edit:
        out.append(dbc.Button([icon("envelope", "me-1"), "Schedules"], href=f"/dashboards/{board_id}/schedules",
                              id="report-schedules-link", color="secondary", outline=True, className="me-2"))
        out.append(dbc.Button([icon("bell", "me-1"), "Alerts"], href=f"/dashboards/{board_id}/alerts",
                              id="dash-alerts-link", color="secondary", outline=True, className="me-2"))
    return out


PUBLIC_FORMATS = [("pdf", "PDF"), ("xlsx", "Excel workbook"), ("zip", "CSV files (ZIP)"), ("html", "Web page (HTML)"),
                  ("pptx", "PowerPoint slides")]


def public_export_href(token: str, fmt: str, state: dict | None) -> str:
    """The download address of a shared dashboard's report with the filters and clicks on
    screen (the export route reads them as the page's own URL does)."""
    state = state or {}
    query = {"format": fmt}
    filters = {k: v for k, v in (state.get("filters") or {}).items() if v not in (None, [], "")}
    if filters:
        query["filters"] = json.dumps(filters, separators=(",", ":"))
    if state.get("cross"):
        query["xf"] = json.dumps(state["cross"], separators=(",", ":"))
    return f"/public/exports/dashboards/{token}?{urlencode(query)}"


def public_download_menu(token: str, state: dict | None) -> dbc.DropdownMenu:
    """The public page's Download menu (only when its link allows downloads): plain links,
    so the browser downloads the file itself; their addresses follow the filters."""
    return dbc.DropdownMenu(
        [dbc.DropdownMenuItem(label, href=public_export_href(token, fmt, state), external_link=True,
                              id={"type": "public-download-link", "index": fmt}) for fmt, label in PUBLIC_FORMATS],
        label=[icon("download", "me-1"), "Download"], color="primary", id="public-download-menu",
        align_end=True)


def download_modal() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Download this dashboard")),
            dbc.ModalBody([
                download_limits(),
                labelled("Format", dbc.RadioItems(id="report-format", options=FORMAT_OPTIONS, value="pdf")),
                dbc.Row([
                    dbc.Col(labelled("Paper", dbc.RadioItems(id="report-paper", options=PAPER_OPTIONS, value="a4",
                                                            inline=True))),
                    dbc.Col(labelled("Orientation", dbc.RadioItems(id="report-orientation",
                                                                  options=ORIENTATION_OPTIONS, value="portrait",
                                                                  inline=True))),
                ], id="report-paper-options"),
                html.Div(labelled("Slide size", dbc.RadioItems(id="report-slide-size", options=SLIDE_SIZE_OPTIONS,
                                                               value="16:9", inline=True)),
                         id="report-slides-options", style={"display": "none"}),
                html.Div([
                    dbc.Progress(id="report-progress", value=0, striped=True, animated=True, className="mb-2"),
                    html.Div(id="report-progress-message", className="small text-body-secondary"),
                ], id="report-progress-box", hidden=True),
                html.Div(id="report-download-feedback", className="mt-2"),
            ]),
            dbc.ModalFooter([
                dbc.Button("Close", id="report-download-close", color="secondary", n_clicks=0),
                dbc.Button([icon("download", "me-1"), "Download"], id="report-download-start", color="primary",
                           n_clicks=0),
            ]),
            dcc.Store(id="report-request"),
            dcc.Store(id="report-job"),
            dcc.Store(id="report-file-url"),
            dcc.Interval(id="report-poll", interval=700, disabled=True),
            html.Div(id="report-download-trigger", hidden=True),
        ],
        id="report-download-modal", is_open=False,
    )


def download_limits() -> html.Div:
    """What each format holds of a table, from the limits the files themselves apply."""
    items = [f"Excel: every row, up to Excel's limit of {EXCEL_MAX_ROWS:,} rows a sheet (it says so beyond that).",
             "ZIP of CSV files: every row.",
             f"HTML: up to {ROW_CAP:,} rows of each table.",
             f"PDF: a table of more than {PDF_TABLE_ROWS} rows shows its first {PDF_FIRST_ROWS} and its count.",
             f"PowerPoint: a table's first {SLIDE_TABLE_ROWS} rows, {TABLE_ROWS_PER_SLIDE} a slide, and its count."]
    return html.Div([
        html.P("Every tab, with the filters as they are set now. What each file holds of a table:",
               className="mb-1"),
        html.Ul([html.Li(item) for item in items], className="mb-0 ps-3"),
    ], className="small text-body-secondary mb-3", id="report-download-limits")


def ready_link(url: str, filename: str, stats: dict | None) -> dbc.Alert:
    """The finished file's link, with what it holds of each table (true counts)."""
    pages = (stats or {}).get("pages")
    detail = f" · {pages} pages" if pages else ""
    tables = [html.Li(t["text"]) for t in (stats or {}).get("tables") or [] if t.get("text")]
    return dbc.Alert([html.Div([icon("check-circle-fill", "me-2"), "Ready: ",
                                html.A(filename, href=url, id="report-file-link", className="alert-link"),
                                html.Span(detail, className="text-body-secondary")]),
                      html.Ul(tables, className="small mb-0 mt-1 ps-3", id="report-file-rows") if tables else None],
                     color="success", className="mb-0")


# --- the schedules page ---------------------------------------------------------------------


# The schedule form's fields, in the order schedule_form_values answers them.
SCHEDULE_FIELDS = ("name", "format", "paper", "orientation", "frequency", "weekdays", "monthday", "time", "timezone",
                   "recipients")
_NEW_SCHEDULE = {"name": None, "format": "pdf", "paper": "a4", "orientation": "portrait", "frequency": "weekly",
                 "weekdays": [0], "monthday": 1, "time": "08:00", "timezone": "UTC", "recipients": None}


def schedule_form_values(schedule: dict | None) -> list:
    """The form's field values for ``schedule`` (editing it), or for a new one."""
    if schedule is None:
        return [_NEW_SCHEDULE[f] for f in SCHEDULE_FIELDS]
    days = schedule.get("days") or []
    found = {"name": schedule["name"], "format": schedule["format"], "paper": schedule["paper"] or "a4",
             "orientation": schedule["orientation"] or "portrait", "frequency": schedule["frequency"],
             "weekdays": days if schedule["frequency"] == "weekly" else [0],
             "monthday": days[0] if schedule["frequency"] == "monthly" and days else 1,
             "time": schedule["time"], "timezone": schedule["timezone"],
             "recipients": ", ".join(schedule["recipients"])}
    return [found[f] for f in SCHEDULE_FIELDS]


def schedule_form_mode(schedule: dict | None) -> tuple:
    """(the note above the form, the save button's label, whether Cancel is hidden)."""
    if schedule is None:
        return None, [icon("plus-lg", "me-1"), "Add schedule"], True
    note = dbc.Alert([icon("pencil", "me-2"), "Editing ", html.Strong(schedule["name"]),
                      ": change what you need and save."], color="info", className="py-2", id="schedule-editing-note")
    return note, [icon("check-lg", "me-1"), "Save changes"], False


def mail_warning(message: str, component_id: str = "schedule-mail-warning") -> dbc.Alert:
    """A warning that schedules cannot send: email is not set up on the server."""
    return dbc.Alert([icon("envelope-exclamation", "me-2"), message], color="warning", id=component_id,
                     className="mb-3")


def schedule_form(board: dict, filter_options: dict, mail_problem: str | None = None) -> dbc.Card:
    """The schedule form; ``mail_problem`` (email not set up on this server) is shown on
    top, so it is read before anything is saved."""
    filters = []
    for flt in board.get("filters") or []:
        if flt.get("kind") != "multi_select":
            continue
        filters.append(labelled(f"Filter: {flt.get('label') or flt['column']}", dcc.Dropdown(
            id={"type": "schedule-filter", "index": flt["id"]}, multi=True, value=flt.get("value") or [],
            options=[{"label": str(v), "value": v} for v in filter_options.get(flt["id"], [])],
            placeholder="All values")))
    body = [
        dbc.Row([
            dbc.Col(labelled("Name", dbc.Input(id="schedule-name", placeholder=f"{board['name']} report",
                                               maxLength=200)), md=4),
            dbc.Col(labelled("Format", dbc.Select(id="schedule-format", value="pdf", options=[
                {"label": o["label"].split(" (")[0], "value": o["value"]} for o in FORMAT_OPTIONS])), md=3),
            dbc.Col(labelled("Paper", dbc.Select(id="schedule-paper", value="a4", options=PAPER_OPTIONS)), md=2),
            dbc.Col(labelled("Orientation", dbc.Select(id="schedule-orientation", value="portrait",
                                                       options=ORIENTATION_OPTIONS)), md=3),
        ]),
        dbc.Row([
            dbc.Col(labelled("Repeat", dbc.Select(id="schedule-frequency", value="weekly",
                                                  options=FREQUENCY_OPTIONS)), md=3),
            dbc.Col([
                html.Div(labelled("On", dbc.Checklist(id="schedule-weekdays", options=WEEKDAY_OPTIONS, value=[0],
                                                      inline=True)), id="schedule-weekdays-box"),
                html.Div(labelled("Day of the month", dbc.Input(id="schedule-monthday", type="number", min=1, max=31,
                                                                value=1)), id="schedule-monthday-box", hidden=True),
            ], md=5),
            dbc.Col(labelled("At", dbc.Input(id="schedule-time", type="time", value="08:00")), md=2),
            dbc.Col(labelled("Time zone", dbc.Input(id="schedule-timezone", value="UTC", maxLength=64),
                             "Such as Europe/Paris"), md=2),
        ]),
        labelled("Recipients", dbc.Textarea(id="schedule-recipients", rows=2,
                                            placeholder="team@example.com, boss@example.com"),
                 "Email addresses, separated by commas or new lines"),
        *filters,
        html.Div(id="schedule-form-feedback", className="mb-2"),
        html.Div([
            dbc.Button(schedule_form_mode(None)[1], id="schedule-create", color="primary", n_clicks=0),
            html.Div(dbc.Button("Cancel editing", id="schedule-edit-cancel", color="secondary", outline=True,
                                n_clicks=0), id="schedule-edit-cancel-box", hidden=True),
        ], className="d-flex gap-2"),
        dcc.Store(id="schedule-editing", data=None),
        dcc.Store(id="schedule-saved", data=0),
        dcc.Store(id="schedule-filter-defaults",
                  data={f["id"]: f.get("value") or [] for f in board.get("filters") or []
                        if f.get("kind") == "multi_select"}),
    ]
    warning = [mail_warning(mail_problem)] if mail_problem else []
    return card("Add or edit a schedule", [*warning, html.Div(id="schedule-form-mode"), *body])


def _when(value: str | None, zone: str = "UTC") -> str:
    if not value:
        return "–"
    try:
        from zoneinfo import ZoneInfo

        return dt.datetime.fromisoformat(value).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
    except (ValueError, KeyError):
        return value


# Under 768 px a list's table rows become blocks (cells stacked, the less needed ones
# hidden), so nothing on the schedules page scrolls sideways on a phone.
_ROW = "d-block d-md-table-row border-bottom py-1"
_CELL = "d-block d-md-table-cell border-0 py-1"
_INLINE_CELL = "d-inline-block d-md-table-cell border-0 py-1 pe-2"
_WIDE_ONLY = "d-none d-md-table-cell"


def schedule_list(schedules: list[dict]) -> html.Div:
    if not schedules:
        return html.P("No schedules yet: add one below, and the report goes out by email on its own.",
                      className="text-body-secondary")
    rows = []
    for s in schedules:
        if s["enabled"]:
            state = html.Span(f"Next: {_when(s['next_run_at'], s['timezone'])} {s['timezone']}", className="small")
        else:
            state = dbc.Badge("Stopped", color="danger" if s.get("stop_reason") else "secondary", className="me-1")
        recipients = ", ".join(s["recipients"])
        rows.append(html.Tr([
            html.Td([html.Div(s["name"], className="fw-semibold"), html.Div(s["description"], className="small"),
                     html.Div(f"{s['format'].upper()} to {recipients}", className="small text-break d-md-none")],
                    className=_CELL),
            html.Td(recipients, className=f"small text-break {_WIDE_ONLY}"),
            html.Td(s["format"].upper(), className=_WIDE_ONLY),
            html.Td([state, html.Div(s.get("stop_reason") or "", className="small text-danger"),
                     html.Div(_last_problem(s.get("last_run")), className="small text-danger")], className=_CELL),
            html.Td(html.Div([
                dbc.Button([icon("send", "me-1"), "Send now"], id={"type": "schedule-send", "index": s["id"]},
                           size="sm", color="primary", outline=True, className="text-nowrap", n_clicks=0),
                dbc.Button("Pause" if s["enabled"] else "Resume", id={"type": "schedule-toggle", "index": s["id"]},
                           size="sm", color="secondary", outline=True, n_clicks=0),
                dbc.Button(icon("pencil"), id={"type": "schedule-edit", "index": s["id"]}, size="sm",
                           color="secondary", outline=True, n_clicks=0, title="Edit"),
                dbc.Button(icon("trash"), id={"type": "schedule-delete", "index": s["id"]}, size="sm",
                           color="danger", outline=True, n_clicks=0, title="Delete"),
            ], className="d-flex flex-wrap gap-1"), className=_CELL),
        ], id=f"schedule-row-{s['id']}", className=_ROW))
    head = html.Tr([html.Th("Schedule"), html.Th("Recipients"), html.Th("Format"), html.Th("Status"), html.Th("")],
                   className="d-none d-md-table-row")
    return dbc.Table([html.Thead(head), html.Tbody(rows)], hover=True, className="align-middle mb-0",
                     id="schedule-table")


def _last_problem(run: dict | None) -> str:
    """Why the latest send did not go out (or whom it skipped), for the schedule's status."""
    if not run:
        return ""
    if run["status"] in ("failed", "retrying") and run.get("error"):
        return f"Last send {'failed' if run['status'] == 'failed' else 'will be retried'}: {run['error']}"
    return run.get("note") or ""


def run_history(schedules: list[dict], runs: dict) -> html.Div:
    names = {s["id"]: s["name"] for s in schedules}
    items = sorted(((r, names.get(sid, "")) for sid, rs in runs.items() for r in rs),
                   key=lambda pair: pair[0]["id"], reverse=True)[:30]
    if not items:
        return html.P("Nothing sent yet.", className="text-body-secondary mb-0")
    rows = [html.Tr([
        html.Td(name, className=_INLINE_CELL), html.Td(_when(r["started_at"]), className=_INLINE_CELL),
        html.Td("Send now" if r["trigger"] == "manual" else "Scheduled", className=_WIDE_ONLY),
        html.Td(dbc.Badge(r["status"], color=STATUS_COLOURS.get(r["status"], "secondary")), className=_INLINE_CELL),
        html.Td(r["attempts"], className=_WIDE_ONLY),
        html.Td([r.get("error") or (f"Sent {_when(r['sent_at'])}" + (f" · {r['pages']} pages" if r.get("pages") else "")),
                 html.Div(r.get("note") or "", className="text-warning-emphasis")],
                className=f"small text-break {_CELL}"),
    ], className=_ROW) for r, name in items]
    head = html.Tr([html.Th(h) for h in ("Schedule", "Started (UTC)", "How", "Status", "Attempts", "Details")],
                   className="d-none d-md-table-row")
    return dbc.Table([html.Thead(head), html.Tbody(rows)], size="sm", className="mb-0", id="schedule-history-table")


def mail_log(sends: list[dict] | None) -> html.Div:
    """The dashboard's report mails for the workspace's owners: when, which schedule, who
    asked (or the scheduler), to whom, and how it ended. None: not an owner, not shown."""
    if sends is None:
        return html.P("Only the workspace's owners see the mail log.", className="text-body-secondary mb-0")
    if not sends:
        return html.P("No mail sent yet.", className="text-body-secondary mb-0")
    rows = [html.Tr([
        html.Td(_when(s["at"]), className=_INLINE_CELL),
        html.Td(s["schedule_name"], className=_INLINE_CELL),
        html.Td(s["requested_by"] or f"Scheduler (as {s['sent_as'] or 'a former user'})", className=_WIDE_ONLY),
        html.Td(dbc.Badge(s["status"], color=STATUS_COLOURS.get(s["status"], "secondary")), className=_INLINE_CELL),
        html.Td([html.Div(", ".join(s["recipients"])),
                 html.Div(f"Skipped: {', '.join(s['skipped'])}" if s["skipped"] else "", className="text-danger"),
                 html.Div(s["error"] or "", className="text-body-secondary")], className=f"small text-break {_CELL}"),
    ], className=_ROW) for s in sends[:50]]
    head = html.Tr([html.Th(h) for h in ("When (UTC)", "Schedule", "Asked by", "Result", "Recipients and details")],
                   className="d-none d-md-table-row")
    return dbc.Table([html.Thead(head), html.Tbody(rows)], size="sm", className="mb-0", id="schedule-mail-log-table")


def share_export_switch(board: dict, allowed: bool | None) -> html.Div:
    if not board.get("shared"):
        return html.P([icon("lock", "me-2"), "This dashboard has no public link, so nobody downloads it without "
                       "signing in."], className="small text-body-secondary mb-0")
    return dbc.Switch(id="schedule-share-export", value=bool(allowed),
                      label="People with the public link may download this dashboard (PDF, Excel, HTML, CSV)")
