"""Form pieces used by the account, workspace and admin pages."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html


def labelled(label: str, control, help_text: str | None = None, class_name: str = "mb-3") -> html.Div:
    control_id = getattr(control, "id", None)
    return html.Div(
        [
            dbc.Label(label, html_for=control_id if isinstance(control_id, str) else None),
            control,
            dbc.FormText(help_text) if help_text else None,
        ],
        className=class_name,
    )


def card(title: str, body, class_name: str = "mb-4") -> dbc.Card:
    return dbc.Card([dbc.CardHeader(html.H2(title, className="h6 mb-0")), dbc.CardBody(body)], className=class_name)


ROLE_OPTIONS = [
    {"label": "Viewer (can look)", "value": "viewer"},
    {"label": "Editor (can change content)", "value": "editor"},
    {"label": "Owner (can also manage members)", "value": "owner"},
]
