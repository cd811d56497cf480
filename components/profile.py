"""The Profile tab of the dataset page: progress while the profile is computed, then the
overview with alerts linked to their columns, a card per column, the correlation heatmap
and the missing-values charts. Figures are built in analytics.profiling.figures and
passed in; nothing here reads data."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc, html

from analytics.profiling import figures
from analytics.profiling.alerts import ALERT_TYPES
from analytics.profiling.report_html import anchor, format_value, pct, stat_rows
from analytics.profiling.semantic import HINT_LABELS
from components.datasets import human_size
from components.feedback import error_alert, icon

KIND_LABELS = {"numeric": "Numbers", "text": "Text and categories", "temporal": "Dates and times", "boolean": "Booleans"}
MAX_CARDS = 60
GRAPH_CONFIG = {"displayModeBar": False}


def graph(figure: dict, **kwargs) -> dcc.Graph:
    """A figure at the height its layout asks for (dcc.Graph's default box is 450 px)."""
    height = figure["layout"].get("height", 300)
    return dcc.Graph(figure=figure, config=GRAPH_CONFIG, style={"height": f"{height}px"}, **kwargs)


def profile_tab(dataset_id: int) -> html.Div:
    """The tab's frame; the profile callback fills ``profile-body`` once the tab opens."""
    return html.Div(
        [
            dcc.Interval(id="profile-poll", interval=1000, disabled=True),
            html.Div(profile_progress(0.0, "Opening the profile…"), id="profile-body"),
        ],
        className="pt-3", id="profile-tab",
    )


def profile_progress(progress: float, message: str | None, can_cancel: bool = True) -> html.Div:
    """A computation under way; only editors may stop it for everyone."""
    cancel = dbc.Button([icon("x-circle", "me-1"), "Cancel"], id="profile-cancel", color="secondary", outline=True,
                        size="sm", n_clicks=0) if can_cancel else None
    return html.Div(
        [
            html.P([icon("hourglass-split", "me-2"), "Profiling this dataset: ", message or "working"],
                   className="mb-2", id="profile-progress-text"),
            dbc.Progress(value=round(progress * 100), label=f"{progress * 100:.0f} %", striped=True, animated=True,
                         id="profile-progress", style={"height": "1.2rem"}),
            html.Div([
                html.Span("The page fills in when it is done; you can keep working meanwhile.",
                          className="small text-body-secondary"),
                cancel,
            ], className="d-flex justify-content-between align-items-center mt-2 gap-2"),
            html.Div(id="profile-cancel-feedback"),
        ],
        className="profile-progress",
    )


def profile_failed(message: str | None, cancelled: bool = False, can_retry: bool = True) -> html.Div:
    """A failed or cancelled profile; only editors are offered to compute it again (it
    takes the server's time for the whole workspace)."""
    if can_retry:
        retry = dbc.Button([icon("arrow-clockwise", "me-1"), "Compute again"], id="profile-retry", color="primary",
                           className="mt-3", n_clicks=0)
    else:
        retry = html.P("An editor of this workspace can compute it again.", className="text-body-secondary mt-3 mb-0",
                       id="profile-retry-editors")
    if cancelled:
        return html.Div([dbc.Alert([icon("info-circle", "me-2"), message or "Profiling was cancelled"],
                                   color="secondary", className="mb-0", id="profile-cancelled"), retry])
    return html.Div([error_alert(["The profile could not be computed: ", message or "unknown error"]), retry])


def _overview(profile: dict) -> dbc.Row:
    table = profile["table"]
    types = ", ".join(f"{count} {kind}" for kind, count in sorted(table["types"].items()))
    stats = [("Rows", format_value(table["rows"])), ("Columns", format_value(table["columns"])),
             ("Missing cells", f"{format_value(table['missing_cells'])} ({pct(table['missing_cells_share'])})"),
             ("Duplicate rows", f"{format_value(table['duplicate_rows'])} ({pct(table['duplicate_rows_share'])})"),
             ("Size on disk", human_size(table.get("size_bytes") or 0)), ("Column types", types)]
    return dbc.Row([dbc.Col([html.Div(label, className="small text-body-secondary"),
                             html.Div(value, className="profile-stat fw-semibold")], xs=6, md=4, lg=2)
                    for label, value in stats], className="g-3 mb-3", id="profile-overview")


def _alerts(profile: dict) -> html.Div:
    alerts = profile["alerts"]
    if not alerts:
        return html.P("No alerts: nothing in this data looks unusual.", className="text-body-secondary")
    items = []
    for alert in alerts:
        link = (html.A(alert["column"], href=f"#{anchor(alert['column'])}", className="ms-2 profile-alert-link")
                if alert.get("column") else None)
        items.append(dbc.ListGroupItem([dbc.Badge(ALERT_TYPES.get(alert["type"], alert["type"]), color="warning",
                                                  text_color="dark", className="me-2"),
                                        alert["message"], link], className="py-1 small"))
    return dbc.ListGroup(items, flush=True, id="profile-alerts", className="profile-alerts")


def _estimates(profile: dict) -> list:
    notes = []
    for estimate in profile.get("estimates") or []:
        size = f" of {estimate['sample_rows']:,} rows" if estimate.get("sample_rows") else ""
        text = f"Estimated: {estimate['what']} ({estimate['method']}{size})."
        notes.append(html.Div([icon("info-circle", "me-1"), text], className="small text-body-secondary"))
    return notes


def column_card(col: dict) -> dbc.Card:
    badges = [dbc.Badge(HINT_LABELS.get(h, h), color="info", className="me-1") for h in col.get("semantic") or []]
    badges += [dbc.Badge(ALERT_TYPES.get(a, a), color="warning", text_color="dark", className="me-1")
               for a in col.get("alerts") or []]
    graphs = []
    for label, figure in ((None, figures.column_figure(col)), ("By weekday", figures.weekday_figure(col)),
                          ("By hour of the day", figures.hour_figure(col))):
        if figure:
            if label:
                graphs.append(html.Div(label, className="small text-body-secondary mt-2"))
            graphs.append(graph(figure, className="profile-graph"))
    if not graphs:
        graphs = [html.P("No values to chart.", className="small text-body-secondary")]
    rows = [html.Tr([html.Td(label), html.Td(value, className="text-end font-monospace")]) for label, value in stat_rows(col)]
    return dbc.Card(
        [
            dbc.CardHeader(html.Div([html.Strong(col["name"], className="me-2"),
                                     html.Span(col["type"], className="small text-body-secondary me-2"), *badges],
                                    className="d-flex flex-wrap align-items-center")),
            dbc.CardBody(dbc.Row([
                dbc.Col(dbc.Table(html.Tbody(rows), size="sm", borderless=True, className="mb-0 small"), md=5),
                dbc.Col(graphs, md=7),
            ])),
        ],
        id=anchor(col["name"]), className="mb-3 profile-card",
    )


def column_cards(columns: list[dict], total: int) -> list:
    if not columns:
        return [html.P("No column matches the search.", className="text-body-secondary")]
    shown = [column_card(col) for col in columns[:MAX_CARDS]]
    if len(columns) > MAX_CARDS:
        shown.append(html.P(f"Showing {MAX_CARDS} of {len(columns)} matching columns: search to find the others.",
                            className="small text-body-secondary"))
    shown.insert(0, html.Div(f"{len(columns)} of {total} columns", className="small text-body-secondary mb-2",
                             id="profile-card-count"))
    return shown


def _filters(profile: dict) -> dbc.Row:
    kinds = sorted({c["kind"] for c in profile["columns"]})
    alert_types = [t for t in ALERT_TYPES if any(t in (c.get("alerts") or []) for c in profile["columns"])]
    return dbc.Row(
        [
            dbc.Col(dbc.Input(id="profile-search", type="search", placeholder="Search columns…", debounce=True), md=4),
            dbc.Col(dbc.Select(id="profile-type-filter", value="all",
                               options=[{"label": "All types", "value": "all"}]
                               + [{"label": KIND_LABELS[k], "value": k} for k in kinds]), md=4),
            dbc.Col(dbc.Select(id="profile-alert-filter", value="all",
                               options=[{"label": "With or without alerts", "value": "all"},
                                        {"label": "Any alert", "value": "any"}]
                               + [{"label": ALERT_TYPES[t], "value": t} for t in alert_types]), md=4),
        ],
        className="g-2 mb-3",
    )


def correlation_block(profile: dict, method: str, figure: dict | None) -> list:
    block = (profile.get("correlations") or {}).get(method)
    if not figure or not block:
        return [html.P("Not enough columns of this kind to correlate.", className="text-body-secondary")]
    note = (f"Computed on a random sample of {block['rows_used']:,} rows." if block.get("sampled")
            else f"Computed on all {block['rows_used']:,} rows.")
    return [graph(figure, id="profile-heatmap-graph"),
            html.P(note, className="small text-body-secondary", id="profile-corr-note")]


def profile_view(profile: dict, dataset_id: int, columns: list[dict], heatmap: dict | None, method: str) -> html.Div:
    methods = [m for m in ("pearson", "spearman", "cramers_v") if (profile.get("correlations") or {}).get(m)]
    pairs = (profile.get("correlations") or {}).get("top_pairs") or []
    missing = profile.get("missing") or {}
    patterns = missing.get("patterns") or []
    nullity = figures.nullity_figure(profile)
    return html.Div(
        [
            html.Div([
                html.H2("Overview", className="h5 mb-0"),
                html.A([icon("download", "me-1"), "Download HTML"], href=f"/api/v1/datasets/{dataset_id}/profile.html",
                       className="btn btn-outline-primary btn-sm", id="profile-download", download=""),
            ], className="d-flex justify-content-between align-items-center mb-3"),
            _overview(profile),
            *_estimates(profile),
            html.H3(f"Alerts ({len(profile['alerts'])})", className="h6 mt-3"),
            _alerts(profile),
            html.H2("Columns", className="h5 mt-4 mb-3"),
            _filters(profile),
            html.Div(column_cards(columns, len(profile["columns"])), id="profile-cards"),
            html.H2("Correlations", className="h5 mt-4 mb-2"),
            dbc.RadioItems(id="profile-corr-method", value=method, inline=True, className="mb-2",
                           options=[{"label": figures.METHOD_LABELS[m], "value": m} for m in methods]) if methods
            else html.Div(id="profile-corr-method"),
            html.Div(correlation_block(profile, method, heatmap), id="profile-heatmap"),
            dbc.Table([html.Thead(html.Tr([html.Th("Pair"), html.Th("Method"), html.Th("Value", className="text-end")])),
                       html.Tbody([html.Tr([html.Td(" × ".join(p["columns"])), html.Td(figures.METHOD_LABELS[p["method"]]),
                                            html.Td(f"{p['value']:.3f}", className="text-end")]) for p in pairs])],
                      size="sm", className="small", id="profile-top-pairs") if pairs else None,
            html.H2("Missing values", className="h5 mt-4 mb-2"),
            graph(figures.missing_figure(profile), id="profile-missing-graph")
            if profile["table"]["missing_cells"] else html.P("No missing values.", className="text-body-secondary"),
            html.Div([html.H3("Missing together", className="h6"),
                      graph(nullity)]) if nullity else None,
            dbc.Table([html.Thead(html.Tr([html.Th("Missing columns"), html.Th("Rows", className="text-end")])),
                       html.Tbody([html.Tr([html.Td(", ".join(p["missing"]) or "(none missing)"),
                                            html.Td(f"{p['count']:,}", className="text-end")]) for p in patterns])],
                      size="sm", className="small") if len(patterns) > 1 else None,
        ],
        id="profile-view",
    )
