"""/sql: SQL over the workspace's datasets, each a table by its name (storage.sql_editor
runs it in a sandbox), or on a connected database, read-only; the result in a paged grid,
the tables and columns at hand, saved and shared queries, and the person's history."""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.feedback import page_header
from components.forms import card
from components.sql_editor import editor, history_list, save_form, saved_list, source_select, table_list
from storage.errors import Forbidden
from web.context import current_storage, current_workspace, require_principal

dash.register_page(__name__, path="/sql", title="SQL · DataInsight", order=30)


def layout(**_query):
    principal = require_principal()
    storage = current_storage()
    workspace = current_workspace(principal)
    tables = storage.sql.tables(principal, workspace.id)
    history = storage.sql.history(principal, workspace.id)
    saved = storage.saved_queries.list(principal, workspace.id)
    try:
        connections = storage.connections.list(principal, workspace.id)
    except Forbidden:  # viewers query the datasets only
        connections = []
    first = next(iter(tables), None)
    start = (f'SELECT *\nFROM "{first}"\nLIMIT 100' if first else "SELECT 42 AS answer")
    return html.Div([
        page_header("SQL", f"Query the datasets of {workspace.name} with SQL (DuckDB): each dataset is a table by "
                           "its name. Queries only read."),
        dbc.Row([
            dbc.Col([
                card("Query", [html.Div(source_select(connections, workspace.name), className="mb-2"),
                               editor(tables, history[0]["sql"] if history else start),
                               html.Div(id="sql-feedback", className="mt-2"), save_form()]),
                dcc.Loading(html.Div(id="sql-result"), type="dot", delay_show=300),
            ], lg=9),
            dbc.Col([
                card("Tables", table_list(tables)),
                card("Saved queries", html.Div(saved_list(saved), id="sql-saved")),
                card("Your queries", html.Div(history_list(history), id="sql-history")),
            ], lg=3),
        ]),
        dcc.Store(id="sql-workspace-id", data=workspace.id),
        dcc.Store(id="sql-load"),
        html.Div(id="sql-loaded", hidden=True),
    ])
