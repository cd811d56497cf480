"""The Sites pages' parts: the list of a workspace's sites (name, domain, visitors today,
delete with a confirmation), the form that adds one, and a site's page: the snippet to
paste, the period and filter controls, and its reports drawn from the dicts of
storage.site_stats (overview cards, the timeseries chart, top pages, sources, devices,
custom events and the realtime box).

Each site's controls carry pattern ids ``{"type": "site-<part>", "index": <id>}``; the
callbacks hand that id to storage, which decides what the acting person may see."""
from __future__ import annotations

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from components.feedback import icon
from components.forms import card, labelled

PERIODS = [
    ("realtime", "Realtime (last 5 minutes)"),
    ("day", "Today"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("month", "This month"),
    ("12mo", "Last 12 months"),
]
DEFAULT_PERIOD = "day"
REFRESH_MS = 10_000
FILTER_EXAMPLE = "page==/pricing;browser==Chrome"
# (key in the overview, label, how the value is written)
METRICS = [
    ("visitors", "Unique visitors", "count"),
    ("visits", "Visits", "count"),
    ("pageviews", "Pageviews", "count"),
    ("views_per_visit", "Views per visit", "ratio"),
    ("bounce_rate", "Bounce rate", "percent"),
    ("visit_duration", "Visit duration", "duration"),
]
# Horizontal scrolling for wide tables on a phone, without the page scrolling sideways.
SCROLL = {"overflowX": "auto", "maxWidth": "100%"}
# The app's phone rule makes every .table a block that scrolls itself (and no longer fills
# its card): here the wrapper scrolls, and the table stays a full-width table.
TABLE = {"display": "table"}


def site_id(part: str, index):
    return {"type": f"site-{part}", "index": index}


# --- formatting ------------------------------------------------------------------------------

def duration(seconds) -> str:
    """``45s``, ``2m 05s``, ``1h 02m``."""
    total = int(round(float(seconds or 0)))
    if total < 60:
        return f"{total}s"
    if total < 3600:
        return f"{total // 60}m {total % 60:02d}s"
    return f"{total // 3600}h {total % 3600 // 60:02d}m"


def metric_text(value, kind: str) -> str:
    if value is None:
        return "—"
    if kind == "count":
        return f"{int(value):,}"
    if kind == "ratio":
        return f"{float(value):,.2f}"
    if kind == "percent":
        return f"{float(value):.0f}%"
    return duration(value)


def change_badge(metric: dict, key: str, compared: bool = True):
    """The change against the previous period: percent (percentage points for the bounce
    rate, where down is good), or why there is none (``compared`` is False when the
    previous period had no visits)."""
    change = metric.get("change")
    if change is None or not compared:
        text = "no visits before" if not compared else "new" if metric.get("value") else "none before"
        return html.Span(text, className="small text-body-secondary", id=f"site-change-{key}",
                         title="Against the previous period of the same length")
    points = key == "bounce_rate"
    good = change < 0 if points else change > 0
    arrow = "arrow-up-short" if change > 0 else "arrow-down-short" if change < 0 else "dash"
    color = "text-body-secondary" if change == 0 else ("text-success" if good else "text-danger")
    number = f"{abs(change):.0f}{' pp' if points else '%'}"
    return html.Span([icon(arrow), number], className=f"small fw-semibold {color}", id=f"site-change-{key}",
                     title="Against the previous period of the same length")


# --- the list ------------------------------------------------------------------------------

def site_row(site: dict, visitors_today, can_edit: bool):
    sid = site["id"]
    today = "—" if visitors_today is None else f"{visitors_today:,}"
    delete = None
    if can_edit:
        delete = html.Div([
            dbc.Button([icon("trash", "me-1"), "Delete"], id=site_id("delete-open", sid), size="sm", color="danger",
                       outline=True, n_clicks=0),
            dbc.Collapse(dbc.Alert([
                html.Div(f"Delete the site “{site['name']}”? Its events and its dataset are deleted too, and the "
                         "snippet on its pages stops counting."),
                dbc.Button("Delete", id=site_id("delete", sid), color="danger", size="sm", className="mt-2",
                           n_clicks=0),
            ], color="warning", className="mt-2 mb-0"), id=site_id("delete-confirm", sid), is_open=False),
        ], className="site-delete")
    return dbc.ListGroupItem(html.Div([
        html.Div([
            html.A(site["name"], href=f"/sites/{sid}", className="fw-semibold text-break site-link",
                   id=f"site-link-{sid}"),
            html.Div(site["domain"], className="small text-body-secondary text-break"),
        ], style={"minWidth": "0", "flex": "1 1 12rem"}),
        html.Div([html.Span(today, className="fs-5 fw-semibold me-1", id=f"site-today-{sid}"),
                  html.Span("visitor today" if visitors_today == 1 else "visitors today",
                            className="small text-body-secondary")],
                 className="text-nowrap"),
        delete,
    ], className="d-flex flex-wrap align-items-start gap-3"), className="site-row", id=f"site-row-{sid}")


def site_list(sites: list[dict], visitors_today: dict, can_edit: bool):
    if not sites:
        text = ("No sites yet: add one below, paste its snippet into your pages, and the visits show here."
                if can_edit else "No sites in this workspace yet: an editor of the workspace adds them.")
        return html.P(text, className="text-body-secondary mb-0", id="sites-none")
    return dbc.ListGroup([site_row(s, visitors_today.get(s["id"]), can_edit) for s in sites], flush=True)


def site_form():
    return card("Add a site", [
        dbc.Row([
            dbc.Col(labelled("Name", dbc.Input(id="sites-name", maxLength=200, placeholder="Shop")), md=5),
            dbc.Col(labelled("Domain", dbc.Input(id="sites-domain", maxLength=253, placeholder="shop.example.com"),
                             "The address its pages are on"), md=7),
        ], className="g-2"),
        html.Div(id="sites-form-feedback", className="mb-2"),
        dbc.Button([icon("plus-lg", "me-1"), "Add site"], id="sites-add", color="primary", n_clicks=0),
    ])


# --- one site --------------------------------------------------------------------------------

def snippet_box(snippet: str):
    return card("Snippet", [
        html.P(["Paste this into the ", html.Code("<head>"), " of every page of the site:"], className="small mb-2"),
        html.Div([
            html.Pre(html.Code(snippet), id="site-snippet", className="border rounded bg-light p-2 mb-0 small",
                     style={"whiteSpace": "pre-wrap", "wordBreak": "break-all", "flex": "1 1 auto",
                            "minWidth": "0"}),
            dcc.Clipboard(target_id="site-snippet", title="Copy the snippet", id="site-snippet-copy",
                          className="btn btn-outline-secondary btn-sm"),
        ], className="d-flex align-items-start gap-2"),
        html.P(["Custom events: ", html.Code('datainsight.track("Signup", {plan: "pro"})'),
                ". To test on localhost, add ", html.Code("data-allow-localhost"), " to the tag."],
               className="small text-body-secondary mt-2 mb-0"),
    ], class_name="h-100")


def controls(period: str = DEFAULT_PERIOD):
    return dbc.Row([
        dbc.Col(labelled("Period", dbc.Select(id="site-period", value=period,
                                              options=[{"label": label, "value": value}
                                                       for value, label in PERIODS]), class_name="mb-2"),
                xs=12, md=4),
        dbc.Col([labelled("Filters", dbc.Input(id="site-filters", debounce=True, maxLength=2000,
                                               placeholder=FILTER_EXAMPLE), None, class_name="mb-0"),
                 html.Div(["Such as ", html.Code("page==/pricing;browser==Chrome|Firefox;prop:plan==pro",
                                                 className="text-break"), " (Enter to apply)"],
                          className="form-text mt-1 mb-2")], xs=12, md=8),
    ], className="g-2 mb-2")


def overview_cards(overview: dict):
    cols = []
    compared = bool((overview.get("visits") or {}).get("previous"))
    for key, label, kind in METRICS:
        metric = overview.get(key) or {}
        cols.append(dbc.Col(dbc.Card(dbc.CardBody([
            html.Div(label, className="small text-body-secondary text-truncate"),
            html.Div(metric_text(metric.get("value"), kind), className="fs-4 fw-bold", id=f"site-metric-{key}"),
            change_badge(metric, key, compared),
        ], className="p-2 px-3"), className="h-100"), xs=6, md=4, xl=2))
    return dbc.Row(cols, className="g-2")


def timeseries_figure(result: dict | None) -> go.Figure:
    points = (result or {}).get("points") or []
    dates = [p["date"] for p in points]
    figure = go.Figure([
        go.Scatter(x=dates, y=[p["visitors"] for p in points], name="Visitors", mode="lines+markers",
                   line={"color": "#0d6efd", "width": 2}, marker={"size": 4}),
        go.Scatter(x=dates, y=[p["pageviews"] for p in points], name="Pageviews", mode="lines+markers",
                   line={"color": "#6f42c1", "width": 2, "dash": "dot"}, marker={"size": 4}),
    ])
    figure.update_layout(margin={"l": 40, "r": 10, "t": 10, "b": 30}, height=280, hovermode="x unified",
                         legend={"orientation": "h", "y": 1.12, "x": 0}, plot_bgcolor="#fff", paper_bgcolor="#fff",
                         uirevision="site")
    figure.update_yaxes(rangemode="tozero", gridcolor="#eef0f3", tickformat=",d")
    figure.update_xaxes(gridcolor="#eef0f3")
    return figure


def breakdown_table(rows: list[dict], columns: list[tuple[str, str, str]], table_id: str, empty: str = "None yet"):
    """``columns``: (key, heading, kind) where kind is text, count, percent or duration."""
    if not rows:
        return html.P(empty, className="small text-body-secondary mb-0", id=table_id)

    def cell(row, key, kind):
        value = row.get(key)
        if kind == "text":
            return html.Td(str(value) if value not in (None, "") else "(not set)", className="text-break",
                           style={"minWidth": "8rem"})
        return html.Td(metric_text(value, kind), className="text-end text-nowrap")

    head = html.Thead(html.Tr([html.Th(heading, className="text-end text-nowrap" if kind != "text" else "")
                               for _, heading, kind in columns]))
    body = html.Tbody([html.Tr([cell(r, key, kind) for key, _, kind in columns]) for r in rows])
    return html.Div(dbc.Table([head, body], size="sm", className="mb-0 small", hover=True, style=TABLE),
                    style=SCROLL, id=table_id)


def panel(title: str, body, panel_id: str | None = None):
    return dbc.Card([dbc.CardHeader(html.H2(title, className="h6 mb-0")), dbc.CardBody(body, className="p-2")],
                    className="h-100", id=panel_id or f"site-panel-{title.lower().replace(' ', '-')}")


def pages_panels(result: dict):
    return dbc.Row([
        dbc.Col(panel("Top pages", breakdown_table(result.get("pages") or [], [
            ("path", "Page", "text"), ("visitors", "Visitors", "count"), ("pageviews", "Pageviews", "count")],
            "site-top-pages")), xs=12, lg=4),
        dbc.Col(panel("Entry pages", breakdown_table(result.get("entry_pages") or [], [
            ("path", "Page", "text"), ("visits", "Entrances", "count"), ("visitors", "Visitors", "count")],
            "site-entry-pages")), xs=12, lg=4),
        dbc.Col(panel("Exit pages", breakdown_table(result.get("exit_pages") or [], [
            ("path", "Page", "text"), ("exits", "Exits", "count"), ("exit_rate", "Exit rate", "percent")],
            "site-exit-pages")), xs=12, lg=4),
    ], className="g-2")


def sources_panels(result: dict):
    columns = [("name", "Source", "text"), ("visitors", "Visitors", "count"), ("visits", "Visits", "count"),
               ("bounce_rate", "Bounce", "percent")]
    panels = [dbc.Col(panel("Sources", breakdown_table(result.get("sources") or [], columns, "site-sources-table")),
                      xs=12, lg=6)]
    for key, title in (("utm_sources", "UTM sources"), ("utm_mediums", "UTM mediums"),
                       ("utm_campaigns", "UTM campaigns")):
        rows = result.get(key) or []
        if rows:
            named = [(k, title.removeprefix("UTM ").rstrip("s").capitalize() if k == "name" else h, kind)
                     for k, h, kind in columns]
            panels.append(dbc.Col(panel(title, breakdown_table(rows, named, f"site-{key.replace('_', '-')}")),
                                  xs=12, lg=6))
    return dbc.Row(panels, className="g-2")


def devices_panels(result: dict):
    def one(key, title, heading):
        return dbc.Col(panel(title, breakdown_table(result.get(key) or [], [
            ("name", heading, "text"), ("visitors", "Visitors", "count"), ("share", "Share", "percent")],
            f"site-{key.replace('_', '-')}")), xs=12, md=4)

    return dbc.Row([one("browsers", "Browsers", "Browser"), one("operating_systems", "Operating systems", "OS"),
                    one("devices", "Devices", "Device")], className="g-2")


def _props(props: dict):
    """An event's properties and their values, with how many events had each."""
    if not props:
        return None
    return html.Ul([html.Li([html.Code(name), ": ", ", ".join(f"{v['value']} ({v['events']:,})" for v in values)],
                            className="text-break fw-normal")
                    for name, values in props.items()], className="list-unstyled small mb-0 mt-1")


def events_panel(result: dict):
    """Custom events, each with its properties under its name (a phone has no room for a
    column of them)."""
    events = result.get("events") or []
    if not events:
        body = html.P(["No custom events in this period. Send one with ",
                       html.Code('datainsight.track("Signup", {plan: "pro"})'), "."],
                      className="small text-body-secondary mb-0", id="site-events-table")
    else:
        head = html.Thead(html.Tr([html.Th("Event"), html.Th("Events", className="text-end"),
                                   html.Th("Visitors", className="text-end"),
                                   html.Th("Conversion", className="text-end text-nowrap",
                                           title="Visitors who sent it, of all the period's visitors")]))
        body = html.Div(dbc.Table([head, html.Tbody([
            html.Tr([html.Td([html.Span(e["name"], className="fw-semibold"), _props(e.get("props") or {})],
                             className="text-break", style={"minWidth": "6rem"}),
                     html.Td(f"{e['events']:,}", className="text-end"),
                     html.Td(f"{e['visitors']:,}", className="text-end"),
                     html.Td(metric_text(e.get("conversion_rate"), "percent"), className="text-end")])
            for e in events])], size="sm", className="mb-0 small", hover=True, style=TABLE),
            style=SCROLL, id="site-events-table")
    return panel("Custom events", body, "site-panel-events")


def realtime_box(result: dict):
    visitors = int(result.get("visitors") or 0)
    pages = result.get("pages") or []
    return html.Div([
        html.Div([icon("circle-fill", "text-success me-2 small"),
                  html.Span(f"{visitors:,}", className="fw-bold fs-5 me-1", id="site-realtime-visitors"),
                  f"visitor{'s' if visitors != 1 else ''} in the last 5 minutes"],
                 className="d-flex align-items-center flex-wrap"),
        html.Ul([html.Li([html.Code(p["path"], className="text-break"),
                          html.Span(f" {p['visitors']:,}", className="text-body-secondary")])
                 for p in pages], className="list-unstyled small mb-0 mt-1") if pages else None,
    ])


def site_reports_layout():
    """The containers the callbacks fill (and refill every REFRESH_MS)."""
    return html.Div([
        html.Div(id="site-feedback", className="mb-2"),
        dcc.Loading(html.Div(id="site-overview", className="mb-3"), type="dot", delay_show=500),
        dbc.Card(dbc.CardBody(dcc.Graph(id="site-timeseries", figure=timeseries_figure(None),
                                        config={"displayModeBar": False, "responsive": True},
                                        style={"height": "280px"}), className="p-2"), className="mb-3"),
        html.Div(id="site-pages", className="mb-3"),
        html.Div(id="site-sources", className="mb-3"),
        html.Div(id="site-devices", className="mb-3"),
        html.Div(id="site-events", className="mb-3"),
    ])
