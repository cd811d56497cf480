"""Any unknown path."""
import dash
import dash_bootstrap_components as dbc

from components.feedback import empty_state

dash.register_page(__name__, path="/404", title="Not found · DataInsight")


def layout(**_query):
    return empty_state(
        "signpost-split", "This page does not exist", "Check the address, or go back to the start.",
        dbc.Button("Go home", href="/", color="primary"),
    )
