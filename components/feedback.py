"""Alerts and empty states: how the app tells a person what happened or what is next."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html


def icon(name: str, extra: str = "") -> html.I:
    return html.I(className=f"bi bi-{name} {extra}".strip(), **{"aria-hidden": "true"})


def _parts(message) -> list:
    # Dash renders a flat list of children only: a nested list would reach React as data.
    return list(message) if isinstance(message, (list, tuple)) else [message]


def error_alert(message) -> dbc.Alert:
    return dbc.Alert([icon("exclamation-triangle-fill", "me-2"), *_parts(message)], color="danger", className="mb-0")


def success_alert(message, **kwargs) -> dbc.Alert:
    return dbc.Alert([icon("check-circle-fill", "me-2"), *_parts(message)], color="success", className="mb-0", **kwargs)


def empty_state(icon_name: str, title: str, text: str, action=None) -> html.Div:
    """A friendly panel for a page that has nothing to show yet."""
    return html.Div(
        [
            html.Div(icon(icon_name), className="empty-state-icon"),
            html.H2(title, className="h5 mt-3"),
            html.P(text, className="text-body-secondary mb-3"),
            action or html.Span(),
        ],
        className="empty-state text-center",
    )


def page_header(title: str, subtitle: str | None = None, actions=None) -> html.Div:
    return html.Div(
        [
            html.Div(
                [html.H1(title, className="h3 mb-1"), html.P(subtitle, className="text-body-secondary mb-0") if subtitle else None]
            ),
            html.Div(actions) if actions else None,
        ],
        className="page-header d-flex justify-content-between align-items-start mb-4",
    )
