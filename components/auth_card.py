"""The centred card that frames the sign-in, setup and invitation pages."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from components.feedback import icon


def auth_card(title: str, subtitle: str, body) -> html.Div:
    return html.Div(
        dbc.Card(
            dbc.CardBody(
                [
                    html.Div([icon("bar-chart-line-fill", "me-2 text-primary"), "DataInsight"], className="auth-brand"),
                    html.H1(title, className="h4 mt-3"),
                    html.P(subtitle, className="text-body-secondary"),
                    body,
                ]
            ),
            className="auth-card shadow-sm",
        ),
        className="auth-page",
    )
