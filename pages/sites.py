"""/sites: the websites the current workspace collects visits for (issue 13): each with its
visitors today; editors add and delete them. /sites/<id>: one site's snippet and its
reports (overview, visitors over time, pages, sources, devices, custom events, realtime),
for a period and filters, refreshed every few seconds.

storage.sites and storage.site_stats check the rights: another workspace's site is
"There is no site ..."."""
import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from components.feedback import icon, page_header
from components.forms import card
from components.sites import REFRESH_MS, controls, site_form, site_list, site_reports_layout, snippet_box
from storage.principal import Role
from web.context import current_storage, current_workspace, require_principal, tracker_snippet

dash.register_page(__name__, path="/sites", title="Sites · DataInsight", order=32)


def layout(**_query):
    principal = require_principal()
    workspace = current_workspace(principal)
    storage = current_storage()
    can_edit = workspace.role.at_least(Role.EDITOR)
    sites = storage.sites.list(principal, workspace.id)
    return html.Div([
        page_header("Sites", f"Websites {workspace.name} counts visits for: paste a site's snippet into its pages, "
                             "and see its visitors, pages, sources and events within seconds."),
        card("Sites", [html.Div(id="sites-action-feedback", className="mb-2"),
                       html.Div(site_list(sites, storage.site_stats.visitors_today(principal, sites), can_edit),
                                id="sites-list")]),
        site_form() if can_edit else None,
        dcc.Store(id="sites-workspace-id", data=workspace.id),
        dcc.Store(id="sites-rev", data=0),
    ])


def site_layout(site_id=None, **_query):
    principal = require_principal()
    storage = current_storage()
    site = storage.sites.get(principal, site_id)
    role = storage.workspaces.get(principal, site["workspace_id"]).role
    actions = []
    if site["dataset_id"] is not None:
        actions += [
            dbc.Button([icon("table", "me-1"), "Open dataset"], href=f"/datasets/{site['dataset_id']}",
                       id="site-open-dataset", color="secondary", outline=True, className="me-2"),
            dbc.Button([icon("signpost-split", "me-1"), "Analyze"],
                       href=f"/analyze?dataset={site['dataset_id']}&tab=journeys", id="site-analyze",
                       color="secondary", outline=True, className="me-2",
                       title="Funnels, journeys and retention of this site's events"),
        ]
        if role.at_least(Role.EDITOR):
            actions.append(dbc.Button([icon("grid-1x2", "me-1"), "Open as dashboard"], id="site-dashboard",
                                      color="primary", outline=True, n_clicks=0,
                                      title="A dashboard of this site's events, made from the web-analytics "
                                            "template"))
    return html.Div([
        html.Div(dbc.Breadcrumb(items=[{"label": "Sites", "href": "/sites"}, {"label": site["name"], "active": True}]),
                 className="small"),
        page_header(site["name"], site["domain"], html.Div(actions, className="d-flex flex-wrap") if actions else None),
        html.Div(id="site-dashboard-feedback", className="mb-2"),
        dbc.Row([
            dbc.Col(snippet_box(tracker_snippet(site["key"])), xs=12, lg=8),
            dbc.Col(card("Right now", dcc.Loading(html.Div(id="site-realtime"), type="dot", delay_show=500),
                         class_name="h-100"), xs=12, lg=4),
        ], className="g-3 mb-3"),
        controls(),
        site_reports_layout(),
        dcc.Store(id="site-id", data=site["id"]),
        dcc.Interval(id="site-tick", interval=REFRESH_MS),
        dcc.Location(id="site-redirect", refresh=True),
    ], id="site-page")


dash.register_page(__name__ + "_one", path_template="/sites/<site_id>", title="Site · DataInsight", order=52,
                   layout=site_layout)
