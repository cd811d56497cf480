"""Dashboards start loading their data when their page is asked for: the widget queries
run while the browser fetches and starts the page's scripts (about a second), instead of
after. See DashboardViewService.prefetch."""
from __future__ import annotations

import re

import flask

from storage.dashboard_views import parse_view_state
from web.context import current_storage

DASHBOARD_PAGE = re.compile(r"^/dashboards/(\d+)$")
SHARED_PAGE = re.compile(r"^/public/dashboards/([A-Za-z0-9_-]{20,100})$")


def prefetch_dashboard():
    """before_request, after the guard: only GETs of a dashboard page by someone the
    guard let in. It never answers the request itself."""
    request = flask.request
    if request.method != "GET":
        return None
    state = parse_view_state(request.args.get("filters"), request.args.get("xf"), request.args.get("tab"))
    views = current_storage().dashboard_views
    private = DASHBOARD_PAGE.match(request.path)
    if private and flask.g.get("principal") is not None:
        views.prefetch(flask.g.principal, int(private.group(1)), state)
    shared = SHARED_PAGE.match(request.path)
    if shared:
        views.prefetch_shared(shared.group(1), state)
    return None


def install(server: flask.Flask) -> None:
    server.before_request(prefetch_dashboard)
