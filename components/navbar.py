"""The top bar: sections, the workspace switcher and the user menu."""
from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import dcc

from components.feedback import icon

SECTIONS = [
    ("Datasets", "/datasets", "table"),
    ("Dashboards", "/dashboards", "grid-1x2"),
    ("Analyze", "/analyze", "graph-up"),
    ("Sites", "/sites", "globe"),
    ("SQL", "/sql", "code-square"),
    ("Connections", "/connections", "plug"),
    ("Settings", "/settings", "gear"),
]


def workspace_options(workspaces) -> list[dict]:
    return [{"label": w.name, "value": str(w.id)} for w in workspaces]


def navbar(user_name: str, is_admin: bool, workspaces, current_workspace_id: int | None):
    """``workspaces``: the Workspace records the user belongs to."""
    links = [
        # One line each (not an icon above its label), a little tighter below 1200 px: the
        # sections, the workspace switcher and the user menu share one row from 992 px on.
        dbc.NavItem(dbc.NavLink([icon(ic, "me-1"), label], href=href, active="partial", id=f"nav-link-{label.lower()}",
                                className="text-nowrap px-lg-1 px-xl-2"))
        for label, href, ic in SECTIONS
    ]
    menu_items = [
        dbc.DropdownMenuItem("Account & API tokens", href="/settings"),
        dbc.DropdownMenuItem("Workspaces & members", href="/settings/workspaces"),
    ]
    if is_admin:
        menu_items.append(dbc.DropdownMenuItem("Users", href="/admin/users", id="nav-admin-users"))
    menu_items.append(dbc.DropdownMenuItem("Audit log", href="/audit", id="nav-audit"))
    menu_items += [dbc.DropdownMenuItem(divider=True), dbc.DropdownMenuItem("Sign out", id="nav-signout")]
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand([icon("bar-chart-line-fill", "me-2"), "DataInsight"], href="/", className="fw-semibold"),
                dbc.NavbarToggler(id="nav-toggler"),
                dbc.Collapse(
                    [
                        dbc.Nav(links, navbar=True, className="me-auto"),
                        dbc.Select(
                            id="nav-workspace",
                            options=workspace_options(workspaces),
                            value=str(current_workspace_id) if current_workspace_id else None,
                            size="sm",
                            className="workspace-select me-3",
                        ),
                        dbc.Nav(
                            dbc.DropdownMenu(
                                menu_items,
                                label=user_name,
                                nav=True,
                                in_navbar=True,
                                align_end=True,
                                id="nav-user-menu",
                            ),
                            navbar=True,
                        ),
                    ],
                    id="nav-collapse",
                    navbar=True,
                ),
                dcc.Location(id="nav-redirect", refresh=True),
            ],
            fluid=True,
        ),
        color="dark",
        dark=True,
        expand="lg",  # below 992 px the sections fold into the toggler: they do not fit a tablet's row
        className="mb-4 app-navbar",
    )
