"""/audit: who changed what, when and from where (issue 15, point 6). Administrators see
every entry, account events included; a workspace's owners see that workspace's; storage
refuses everyone else, and so does this page."""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.feedback import error_alert, page_header
from components.forms import card, labelled
from storage.audit import ACTION_GROUPS
from storage.principal import Role
from web.context import current_storage, require_principal

dash.register_page(__name__, path="/audit", title="Audit log · DataInsight", order=7)

ALL = "all"


def workspace_choices(principal) -> list[dict]:
    owned = [w for w in current_storage().workspaces.list_for(principal) if w.role is Role.OWNER]
    choices = [{"label": "Everything (accounts included)", "value": ALL}] if principal.is_admin else []
    return choices + [{"label": w.name, "value": str(w.id)} for w in owned]


def layout(**_query):
    principal = require_principal()
    choices = workspace_choices(principal)
    if not choices:
        return html.Div([page_header("Audit log"),
                         error_alert("The audit log is for workspace owners and administrators.")])
    filters = dbc.Row([
        dbc.Col(labelled("Workspace", dbc.Select(id="audit-workspace", options=choices, value=choices[0]["value"])),
                md=3),
        dbc.Col(labelled("Who", dbc.Input(id="audit-actor", placeholder="email, or part of it", debounce=True)), md=3),
        dbc.Col(labelled("What", dbc.Select(id="audit-action", value=ALL, options=[{"label": "Everything", "value": ALL}]
                                            + [{"label": g.capitalize(), "value": g} for g in ACTION_GROUPS])),
                md=2),
        dbc.Col(labelled("From", dcc.DatePickerSingle(id="audit-since", display_format="YYYY-MM-DD",
                                                      clearable=True)), md=2),
        dbc.Col(labelled("Until", dcc.DatePickerSingle(id="audit-until", display_format="YYYY-MM-DD",
                                                       clearable=True)), md=2),
    ])
    return html.Div([
        page_header("Audit log", "Changes of rights and content: who, what, which object, when and from where"),
        card("Filters", [filters]),
        html.Div(id="audit-entries"),
        dbc.Button("Older entries", id="audit-older", color="secondary", outline=True, n_clicks=0,
                   className="mt-2", style={"display": "none"}),
        dcc.Store(id="audit-before"),
    ])
