"""The widget editor (a form generated from the widget type's editor fields), the 'add
filter' form and the share dialog of a dashboard. Pure rendering."""
from __future__ import annotations

import json

import dash_bootstrap_components as dbc
from dash import dcc, html

from analytics.column_choice import Columns, field_preference
from analytics.widgets import REGISTRY
from analytics.widgets.base import OPS
from components.feedback import icon
from components.forms import labelled


def type_options() -> list[dict]:
    # A type the editor cannot make (an analysis, made on the Analyze page) is listed
    # disabled: it shows when editing such a widget, and cannot be picked for a new one.
    return [{"label": wt.label, "value": wt.name, "disabled": not getattr(wt, "editor_creatable", True)}
            for wt in REGISTRY.values()]


def _column_options(schema: list[dict], types, columns: Columns | None = None, prefer: str | None = None) -> list[dict]:
    """The columns of the given types; with their roles (``columns``), each labelled with
    its role and those that suit the field (``prefer``: measures for a value, the time
    for a line's axis...) first."""
    offered = [c for c in schema if types is None or c["type"] in types]
    if columns is None:
        return [{"label": f"{c['name']}  ·  {c['type']}", "value": c["name"]} for c in offered]
    type_of = {c["name"]: c["type"] for c in offered}
    names = columns.ordered(list(type_of), prefer)
    return [{"label": columns.option_label(n, type_of[n]), "value": n} for n in names]


def _choice_options(field) -> list[dict]:
    # The registry names each choice in words ("Vertical bars" for "v"), the same labels
    # GET /api/v1/widget-types lists.
    return field.options()


EXPR_SIGNS = {"mul": "×", "add": "+", "sub": "−", "div": "÷"}


def computed_label(value: dict) -> str:
    return f" {EXPR_SIGNS.get(value.get('expr'), '?')} ".join(str(c) for c in value.get("columns") or [])


def computed_value(value):
    """A computed value chosen in a column picker (kept as JSON text there) back as a dict."""
    if isinstance(value, str) and value.startswith('{"'):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def field_control(field, schema: list[dict], value, columns: Columns | None = None, type_name: str | None = None):
    """One editor control. Every kind keeps its value in ``value`` so the form is read
    with a single pattern: {"type": "editor-field", "index": <field name>}."""
    control_id = {"type": "editor-field", "index": field.name}
    if value is None:
        value = field.default
    kind = field.kind
    if kind in ("column", "columns"):
        options = _column_options(schema, field.types, columns, field_preference(type_name, field.name))
        if isinstance(value, dict):  # a computed value (Quantity × UnitPrice) from a template or the API
            options = [{"label": f"{computed_label(value)} (computed)", "value": json.dumps(value, sort_keys=True)},
                       *options]
            value = json.dumps(value, sort_keys=True)
        control = dcc.Dropdown(id=control_id, options=options, value=value,
                               multi=kind == "columns", clearable=not field.required,
                               placeholder="Choose a column" + ("s" if kind == "columns" else ""))
    elif kind in ("agg", "grain", "choice"):
        control = dcc.Dropdown(id=control_id, options=_choice_options(field), value=value,
                               clearable=not field.required, placeholder="Choose…")
    elif kind == "number":
        control = dbc.Input(id=control_id, type="number", value=value, min=field.minimum, max=field.maximum,
                            debounce=True)
    elif kind == "bool":
        control = dbc.Switch(id=control_id, value=bool(value), label=field.label)
        return html.Div(control, className="mb-3", title=field.help or None)
    elif kind == "text" and field.name == "text":
        control = dbc.Textarea(id=control_id, value=value or "", rows=8, debounce=True,
                               placeholder="Markdown: # Heading, **bold**, - lists, [links](https://…)")
    else:  # text
        control = dbc.Input(id=control_id, value=value or "", debounce=True)
    label = field.label + (" *" if field.required else "")
    return labelled(label, control, field.help or None)


FILTER_ROWS = 3


def filter_rows(schema: list[dict], filters: list[dict] | None, columns: Columns | None = None) -> html.Div:
    """The widget's own filters: up to FILTER_ROWS rows of column, operator and value
    (a list is written comma-separated; 'between' takes two values)."""
    filters = list(filters or [])[:FILTER_ROWS]
    rows = []
    for i in range(FILTER_ROWS):
        current = filters[i] if i < len(filters) else {}
        value = current.get("value")
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        rows.append(dbc.Row([
            dbc.Col(dcc.Dropdown(id={"type": "editor-filter-col", "index": i},
                                 options=_column_options(schema, None, columns),
                                 value=current.get("column"), placeholder="Column"), md=5),
            dbc.Col(dcc.Dropdown(id={"type": "editor-filter-op", "index": i}, options=list(OPS),
                                 value=current.get("op") or "=", clearable=False), md=3),
            dbc.Col(dbc.Input(id={"type": "editor-filter-value", "index": i}, value=value, debounce=True,
                              placeholder="Value"), md=4),
        ], className="g-1 mb-1"))
    return html.Div([html.Div("Only rows where", className="form-label"), *rows,
                     html.Div("Lists: a, b, c. Between: low, high.", className="form-text")], className="mb-3")


def filters_from_form(columns, ops, values) -> list[dict]:
    """The filter rows as spec filters; rows without a column are left out."""
    out = []
    for column, op, value in zip(columns, ops, values):
        if not column:
            continue
        op = op or "="
        if op in ("is null", "is not null"):
            value = None
        elif op in ("in", "not in", "between"):
            value = [part.strip() for part in str(value or "").split(",") if part.strip()]
        out.append({"column": column, "op": op, "value": value})
    return out


def editor_fields(type_name: str | None, schema: list[dict], spec: dict | None, columns: Columns | None = None) -> list:
    """The form for one widget type over one dataset's columns, filled from ``spec``;
    with the columns' roles (``columns``) the column pickers show each column's role and
    offer the suitable ones first."""
    wt = REGISTRY.get(type_name or "")
    if wt is None:
        return [html.P("Choose a widget type.", className="text-body-secondary")]
    spec = spec or {}
    # Title and description have their own inputs above the type's fields.
    fields = [f for f in wt.fields if f.kind not in ("filters", "object") and f.name not in ("title", "description")]
    controls = [field_control(f, schema, spec.get(f.name), columns, wt.name) for f in fields]
    form = [dbc.Row([dbc.Col(c, md=6) for c in controls])]
    if any(f.kind == "filters" for f in wt.fields):
        form.append(filter_rows(schema, spec.get("filters"), columns))
    return form


def editor_modal(datasets, workspace) -> dbc.Modal:
    dataset_options = [{"label": d.name, "value": d.id} for d in datasets]
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Widget", id="editor-title-text")),
            dbc.ModalBody(dbc.Row([
                dbc.Col([
                    labelled("Dataset", dcc.Dropdown(id="editor-dataset", options=dataset_options,
                                                     value=dataset_options[0]["value"] if dataset_options else None,
                                                     clearable=False,
                                                     placeholder=f"No datasets in {workspace.name} yet")),
                    labelled("Type", dcc.Dropdown(id="editor-type", options=type_options(), value="bar",
                                                  clearable=False)),
                    labelled("Title", dbc.Input(id="editor-title", maxLength=200, debounce=True)),
                    html.Div(id="editor-fields"),
                    labelled("Description", dbc.Textarea(id="editor-description", rows=2, debounce=True)),
                ], lg=5),
                dbc.Col([
                    html.Div("Preview", className="small fw-semibold text-body-secondary mb-1"),
                    dcc.Loading(html.Div(id="editor-preview", className="editor-preview widget-card"),
                                type="dot", delay_show=300),
                    html.Div(id="editor-feedback", className="mt-2"),
                ], lg=7),
            ])),
            dbc.ModalFooter([
                dbc.Button("Cancel", id="editor-cancel", color="secondary", n_clicks=0),
                dbc.Button("Save widget", id="editor-save", color="primary", n_clicks=0),
            ]),
            dcc.Store(id="editor-target"),  # {"widget_id": ... or None, "spec": {...}}
        ],
        id="editor-modal", is_open=False, size="xl", scrollable=True,
    )


def filter_modal() -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Add a dashboard filter")),
            dbc.ModalBody([
                html.P("A filter applies to every widget whose dataset has the column. Dates give a date "
                       "range, numbers a range, other columns a list of values to pick from.",
                       className="small text-body-secondary"),
                labelled("Column", dcc.Dropdown(id="filter-new-column", placeholder="Choose a column")),
                labelled("Label", dbc.Input(id="filter-new-label", placeholder="Defaults to the column name",
                                            maxLength=100)),
                html.Div(id="filter-new-feedback"),
            ]),
            dbc.ModalFooter([
                dbc.Button("Cancel", id="filter-new-cancel", color="secondary", n_clicks=0),
                dbc.Button("Add filter", id="filter-new-save", color="primary", n_clicks=0),
            ]),
        ],
        id="filter-new-modal", is_open=False,
    )


def share_modal(board: dict) -> dbc.Modal:
    return dbc.Modal(
        [
            dbc.ModalHeader(dbc.ModalTitle("Share this dashboard")),
            dbc.ModalBody([
                html.P("People in this workspace already see it. A public link shows this dashboard, read-only, "
                       "to anyone who has the link, without signing in; it reaches no other data.",
                       className="small text-body-secondary"),
                html.Div(share_status(board.get("shared"), None), id="share-status"),
            ]),
            dbc.ModalFooter([
                dbc.Button("Revoke the link", id="share-revoke", color="danger", outline=True, n_clicks=0),
                dbc.Button("Create a new link", id="share-create", color="primary", n_clicks=0),
                dbc.Button("Close", id="share-close", color="secondary", n_clicks=0),
            ]),
        ],
        id="share-modal", is_open=False,
    )


def share_status(shared: bool, url: str | None) -> list:
    if url:
        return [
            html.Div("Public link (copy it now: it is shown only once)", className="small fw-semibold mb-1"),
            dbc.InputGroup([dbc.Input(id="share-url", value=url, readonly=True),
                            dcc.Clipboard(target_id="share-url", className="btn btn-outline-secondary")]),
        ]
    if shared:
        return [html.P([icon("globe", "me-2"), "A public link is active. Creating a new one stops the old one."],
                       className="mb-0")]
    return [html.P([icon("lock", "me-2"), "No public link: only members of the workspace can see this dashboard."],
                   className="mb-0")]
