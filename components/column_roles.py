"""The Columns tab of a dataset: each column with its type, what it is (its role, from
analytics.roles) and why, and for editors a choice to correct the role."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from analytics.column_choice import role_label
from analytics.roles import DETAIL_LABELS, DETAILS, ROLES, check_fits
from components.datasets import TYPE_ICONS
from components.feedback import icon

AUTO = "auto"
ROLE_ICONS = {
    "identifier": "key", "date_part": "calendar3", "time": "clock-history", "code": "upc",
    "category": "tags", "measure_additive": "plus-slash-minus", "measure": "rulers", "geography": "geo-alt",
    "text": "card-text", "constant": "dash-circle", "boolean": "toggle-on",
}


def role_value(role: str, detail: str | None) -> str:
    """A role and its detail as one choice value ("date_part:month")."""
    return f"{role}:{detail}" if detail else role


def parse_role_value(value) -> tuple[str | None, str | None]:
    """(role, detail) from a choice value; (None, None) for "auto" or nothing."""
    if not isinstance(value, str) or value in ("", AUTO):
        return None, None
    role, _, detail = value.partition(":")
    return role, detail or None


def short_label(role: str, detail: str | None = None) -> str:
    """A role in a few words, for a choice ("Date part: month")."""
    label = role_label(role)
    label = label[:1].upper() + label[1:]
    return f"{label}: {DETAIL_LABELS.get(detail, detail)}" if detail else label


def role_options(column_name: str, column_type: str, found: dict) -> list[dict]:
    """The choices for one column: automatic (saying what the app inferred) first, then
    each role (and role with detail) the column's type can hold."""
    inferred = found.get("inferred") if found.get("source") == "person" else None
    inferred = inferred or found
    options = [{"label": f"Automatic: {short_label(inferred['role'], inferred.get('detail'))}", "value": AUTO}]
    for role in ROLES:
        for detail in (None, *DETAILS.get(role, ())):
            try:
                check_fits(role, detail, column_type, column_name)
            except ValueError:
                continue
            options.append({"label": short_label(role, detail), "value": role_value(role, detail)})
    return options


def _role_cell(column: dict, found: dict, can_edit: bool):
    if not can_edit:
        return html.Span([icon(ROLE_ICONS.get(found["role"], "question"), "me-1"),
                          short_label(found["role"], found.get("detail"))], className="column-role-text")
    value = role_value(found["role"], found.get("detail")) if found.get("source") == "person" else AUTO
    return dbc.Select(id={"type": "column-role", "index": column["name"]}, value=value, size="sm",
                      options=role_options(column["name"], column["type"], found),
                      className="column-role-select")


def reason_cell(found: dict) -> list:
    """Why the column has its role, and whether a person chose it."""
    parts = [found["reason"]]
    if found.get("source") == "person":
        parts = [dbc.Badge("set by a person", color="info", className="me-1"), *parts]
    return parts


def column_roles_table(schema: list[dict], roles: dict[str, dict], can_edit: bool) -> html.Div:
    """The table of columns. Editors change a role with the choice in its row; the row's
    reason says what was saved (callbacks/column_roles.py)."""
    rows = []
    for i, column in enumerate(schema):
        found = roles[column["name"]]
        rows.append(html.Tr([
            html.Td(i + 1),
            html.Td(column["name"], className="column-name"),
            html.Td([icon(TYPE_ICONS.get(column["type"], "question"), "me-1"), column["type"]]),
            html.Td(_role_cell(column, found, can_edit), className="column-role"),
            html.Td(reason_cell(found), id={"type": "column-role-reason", "index": column["name"]},
                    className="small text-body-secondary column-reason"),
        ]))
    intro = ("What each column is decides what the app does with it by default: measures are added up or "
             "averaged, identifiers, codes and parts of dates never are. Correct a column when the app got it wrong."
             if can_edit else "What each column is decides what the app does with it by default.")
    return html.Div([
        html.P(intro, className="small text-body-secondary"),
        html.Div(dbc.Table(
            [html.Thead(html.Tr([html.Th("#"), html.Th("Column"), html.Th("Type"), html.Th("What it is"),
                                 html.Th("Why")])),
             html.Tbody(rows)],
            size="sm", hover=True, className="mb-0 column-roles-table", id="dataset-schema",
        ), className="table-responsive"),
    ])
