"""The Connections page's parts: the list of a workspace's connections (each with Test,
Tables, Copy into a dataset and, for owners, its settings and Delete), the form that adds
one, a connection's tables and views, and the form that copies one into a dataset.

Each connection's controls carry pattern ids ``{"type": "conn-<part>", "index": <id>}``;
the callbacks hand that id to storage, which decides what the acting person may see."""
from __future__ import annotations

import re

import dash_bootstrap_components as dbc
from dash import dcc, html

from components.feedback import icon
from components.forms import card, labelled
from components.syncs import KIND_LABELS, job_progress, refresh_fields

TLS_OPTIONS = [
    {"label": "Prefer TLS (when the server offers it)", "value": "prefer"},
    {"label": "Require TLS", "value": "require"},
    {"label": "Require TLS and a trusted certificate", "value": "verify-ca"},
    {"label": "Require TLS, a trusted certificate and the host name", "value": "verify-full"},
    {"label": "No TLS", "value": "disable"},
]
MAX_TABLES_SHOWN = 300
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")


def conn_id(part: str, connection_id):
    return {"type": f"conn-{part}", "index": connection_id}


def table_value(table: dict, kind: str) -> str:
    """How a table is named to storage.syncs: ``schema.name``, quoted in the database's
    dialect when a part is not a plain identifier."""
    quote = "`" if kind == "mysql" else '"'

    def part(name: str) -> str:
        return name if _PLAIN.match(name) else quote + name.replace(quote, quote * 2) + quote

    return f"{part(table['schema'])}.{part(table['name'])}" if table.get("schema") else part(table["name"])


def table_choices(tables: list[dict], kind: str) -> tuple[list[dict], dict]:
    """(dropdown options, {value: [[column, type], ...]}) for the copy form."""
    options, columns = [], {}
    for t in tables:
        value = table_value(t, kind)
        label = f"{t['schema']}.{t['name']}" if t.get("schema") else t["name"]
        options.append({"label": label + (" (view)" if t.get("kind") == "view" else ""), "value": value})
        columns[value] = [[c["name"], c["type"]] for c in t.get("columns") or []]
    return options, columns


def _where(c: dict) -> str:
    where = f"{c['host']}:{c['port']}"
    return where + (f"/{c['database']}" if c.get("database") else "")


def connection_card(c: dict, is_owner: bool) -> dbc.Card:
    cid = c["id"]
    settings = None
    if "host" in c:  # owners only: storage sends the settings to owners alone
        tls = (c.get("options") or {}).get("sslmode", "prefer")
        settings = html.Div([icon("hdd-network", "me-1"), html.Span(_where(c), className="font-monospace text-break"),
                             f" · as {c['user']} · TLS: {tls}"],
                            className="small text-body-secondary text-break mb-2", id=conn_id("settings", cid))
    buttons = [
        dbc.Button([icon("plug", "me-1"), "Test"], id=conn_id("test", cid), size="sm", color="secondary",
                   outline=True, n_clicks=0),
        dbc.Button([icon("table", "me-1"), "Tables"], id=conn_id("tables-open", cid), size="sm", color="secondary",
                   outline=True, n_clicks=0),
        dbc.Button([icon("database-add", "me-1"), "Copy into a dataset"], id=conn_id("copy-open", cid), size="sm",
                   color="primary", outline=True, n_clicks=0),
    ]
    extra = []
    if is_owner:
        buttons.append(dbc.Button([icon("trash", "me-1"), "Delete"], id=conn_id("delete-open", cid), size="sm",
                                  color="danger", outline=True, n_clicks=0))
        extra.append(dbc.Collapse(dbc.Alert([
            html.Div(f"Delete the connection “{c['name']}”? Datasets copied from it keep their last copy and are "
                     "not refreshed any more."),
            dbc.Button("Delete", id=conn_id("delete", cid), color="danger", size="sm", className="mt-2", n_clicks=0),
        ], color="warning", className="mt-2 mb-0"), id=conn_id("delete-confirm", cid), is_open=False))
    return dbc.Card([
        dbc.CardHeader(html.Div([
            html.H2(c["name"], className="h6 mb-0 text-break"),
            dbc.Badge(KIND_LABELS.get(c["kind"], c["kind"]), color="info", className="ms-auto"),
        ], className="d-flex align-items-center gap-2")),
        dbc.CardBody([
            settings,
            html.Div(buttons, className="d-flex flex-wrap gap-2"),
            *extra,
            dcc.Loading(html.Div(id=conn_id("test-result", cid), className="mt-2"), type="dot", delay_show=300),
            dcc.Loading(html.Div(id=conn_id("tables", cid), className="mt-2"), type="dot", delay_show=300),
            dbc.Collapse(copy_form(cid), id=conn_id("copy", cid), is_open=False),
        ]),
    ], className="mb-3 connection-card", id=f"connection-{cid}")


def connection_list(connections: list[dict], is_owner: bool) -> html.Div:
    if not connections:
        text = ("No connections yet: add one below, and copy its tables into datasets." if is_owner else
                "No connections in this workspace yet: an owner of the workspace adds them.")
        return html.P(text, className="text-body-secondary mb-0", id="conn-none")
    return html.Div([connection_card(c, is_owner) for c in connections])


def test_result(outcome: dict) -> dbc.Alert:
    """What Test found: connected (with the server's version and the time it took) or why not."""
    if outcome.get("ok"):
        message, version = outcome.get("message") or "Connected", outcome.get("server_version")
        extra = f" · {version}" if version and version not in message else ""
        return dbc.Alert([icon("check-circle-fill", "me-2"), message,
                          html.Span(f"{extra} · {outcome.get('elapsed_ms', 0):,.0f} ms",
                                    className="text-body-secondary")],
                         color="success", className="mb-0 py-2")
    return dbc.Alert([icon("exclamation-triangle-fill", "me-2"), outcome.get("message") or "Could not connect"],
                     color="danger", className="mb-0 py-2")


def tables_view(tables: list[dict]) -> html.Div:
    """The schemas' tables and views this login can read, each opening onto its columns."""
    if not tables:
        return html.P("This login can read no table or view here.", className="small text-body-secondary mb-0")
    items = []
    for t in tables[:MAX_TABLES_SHOWN]:
        name = f"{t['schema']}.{t['name']}" if t.get("schema") else t["name"]
        columns = t.get("columns") or []
        items.append(html.Details([
            html.Summary([html.Code(name, className="text-break"),
                          dbc.Badge(t.get("kind", "table"), color="light", text_color="dark", className="ms-2"),
                          html.Span(f" {len(columns)} column{'s' if len(columns) != 1 else ''}",
                                    className="small text-body-secondary")], className="small"),
            html.Ul([html.Li([html.Code(col["name"]), html.Span(f" {col['type']}", className="text-body-secondary")],
                             className="small text-break") for col in columns], className="list-unstyled ms-3 mb-1"),
        ], className="conn-table"))
    more = len(tables) - MAX_TABLES_SHOWN
    if more > 0:
        items.append(html.P(f"… and {more:,} more: copy one by its name with a SQL query.",
                            className="small text-body-secondary mb-0"))
    count = "1 table or view" if len(tables) == 1 else f"{len(tables):,} tables and views"
    return html.Div([html.Div(count, className="small fw-semibold mb-1"), *items], className="conn-tables")


def copy_form(cid) -> html.Div:
    """Copy a table, or the rows of one SELECT, into a new dataset that refreshes on its own."""
    cid_of = lambda part: conn_id(part, cid)  # noqa: E731
    return html.Div([
        html.H3("Copy into a dataset", className="h6"),
        labelled("Copy", dbc.RadioItems(id=cid_of("copy-what"), value="table", inline=True, options=[
            {"label": "A table or view", "value": "table"}, {"label": "A SQL query", "value": "sql"},
            {"label": "Live: charts query the table", "value": "live"}])),
        html.Div(labelled("Table", dcc.Dropdown(id=cid_of("copy-table"), options=[], placeholder="Choose a table",
                                                 optionHeight=32)), id=cid_of("copy-table-wrap")),
        html.Div(labelled("SQL query", dbc.Textarea(id=cid_of("copy-sql"), rows=4, className="font-monospace",
                                                    placeholder="SELECT id, amount, placed_at FROM sales.orders "
                                                                "WHERE status = 'paid'"),
                          "One SELECT, run read-only on the database"),
                 id=cid_of("copy-sql-wrap"), style={"display": "none"}),
        labelled("Dataset name", dbc.Input(id=cid_of("copy-name"), maxLength=200, placeholder="Orders")),
        html.Div([refresh_fields(lambda part: cid_of(f"copy-{part}")),
        labelled("New rows by (optional)", html.Div([
            dbc.Input(id=cid_of("copy-incremental"), maxLength=200, placeholder="updated_at",
                      list=f"conn-copy-columns-{cid}"),
            html.Div(html.Datalist(id=f"conn-copy-columns-{cid}"), id=cid_of("copy-columns")),
        ]), "A timestamp, date or increasing number: refreshes then add only the rows above the largest value "
            "copied. Empty: each refresh copies everything again.")], id=cid_of("copy-refresh-wrap")),
        html.P("A live dataset is always current: its charts and their filters run on the database, and its "
               "profile and analyses use a random sample the database draws.", id=cid_of("copy-live-note"),
               className="small text-body-secondary", style={"display": "none"}),
        dbc.Button([icon("database-add", "me-1"), "Copy into a dataset"], id=cid_of("copy-run"), color="primary",
                   n_clicks=0),
        job_progress(lambda part: cid_of(f"copy-{part}")),
        dcc.Store(id=cid_of("copy-tables-data")),
    ], className="border-top pt-3 mt-3")


def connection_form() -> dbc.Card:
    """Owners add a connection: it is tested before it is saved."""
    return card("Add a connection", [
        dbc.Row([
            dbc.Col(labelled("Name", dbc.Input(id="conn-name", maxLength=200, placeholder="Shop database")), md=6),
            dbc.Col(labelled("Kind", dbc.Select(id="conn-kind", value="postgresql", options=[
                {"label": label, "value": kind} for kind, label in KIND_LABELS.items()])), md=6),
        ], className="g-2"),
        dbc.Row([
            dbc.Col(labelled("Host", dbc.Input(id="conn-host", maxLength=255, placeholder="db.example.com")), md=8),
            dbc.Col(labelled("Port", dbc.Input(id="conn-port", type="number", min=1, max=65535, step=1,
                                               placeholder="5432"), "Empty: the usual port"), md=4),
        ], className="g-2"),
        dbc.Row([
            dbc.Col(labelled("Database", dbc.Input(id="conn-database", maxLength=200, placeholder="shop")), md=4),
            dbc.Col(labelled("User", dbc.Input(id="conn-user", maxLength=200, placeholder="readonly",
                                               autoComplete="off"), "Give it read access only"), md=4),
            dbc.Col(labelled("Password", dbc.Input(id="conn-password", type="password", maxLength=1000,
                                                   autoComplete="new-password"),
                             "Kept sealed; nobody can read it back"), md=4),
        ], className="g-2"),
        labelled("TLS", dbc.Select(id="conn-sslmode", value="prefer", options=TLS_OPTIONS)),
        html.Div(id="conn-form-feedback", className="mb-2"),
        dcc.Loading(dbc.Button([icon("plug", "me-1"), "Test and save"], id="conn-save", color="primary", n_clicks=0),
                    type="dot", delay_show=300),
    ])
