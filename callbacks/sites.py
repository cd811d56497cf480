"""The Sites pages: add a site (editors), delete one after a confirmation, and a site's
reports for the chosen period and filters, drawn again every few seconds with the
realtime box.

Thin: each callback passes the acting principal and the posted ids to storage.sites or
storage.site_stats, which decide: a crafted request naming another workspace's site or
workspace gets "There is no site ..." (or the workspace's refusal), never its name, key or
stats."""
from __future__ import annotations

from dash import Input, Output, State, html, no_update

from callbacks.confirmed_delete import register_confirmed_delete
from components.feedback import error_alert, success_alert
from components.sites import (
    DEFAULT_PERIOD,
    devices_panels,
    events_panel,
    overview_cards,
    pages_panels,
    realtime_box,
    site_list,
    sources_panels,
    timeseries_figure,
)
from storage.errors import DataInsightError, InvalidInput
from storage.principal import Role
from web.context import current_storage, require_principal

REPORTS = ("overview", "timeseries", "pages", "sources", "devices", "events")
PERIOD_VALUES = ("realtime", "day", "7d", "30d", "month", "12mo")


def _text(value, limit: int = 2000) -> str:
    return value.strip()[:limit] if isinstance(value, str) else ""


def _register_list(app) -> None:
    @app.callback(
        Output("sites-form-feedback", "children"),
        Output("sites-rev", "data"),
        Output("sites-name", "value"),
        Output("sites-domain", "value"),
        Input("sites-add", "n_clicks"),
        State("sites-workspace-id", "data"),
        State("sites-name", "value"),
        State("sites-domain", "value"),
        State("sites-rev", "data"),
        prevent_initial_call=True,
    )
    def create(clicks, workspace_id, name, domain, rev):
        if not clicks:
            return no_update, no_update, no_update, no_update
        try:
            made = current_storage().sites.create(require_principal(), workspace_id,
                                                  {"name": _text(name, 500), "domain": _text(domain, 500)})
        except DataInsightError as exc:
            return error_alert(exc.message), no_update, no_update, no_update
        message = ["Added ", html.A(made["name"], href=f"/sites/{made['id']}", className="alert-link",
                                    id="sites-added-link"), ": open it for the snippet to paste into its pages."]
        return success_alert(message), (rev if isinstance(rev, int) else 0) + 1, "", ""

    @app.callback(
        Output("sites-list", "children"),
        Input("sites-rev", "data"),
        State("sites-workspace-id", "data"),
        prevent_initial_call=True,
    )
    def redraw(_rev, workspace_id):
        principal = require_principal()
        storage = current_storage()
        try:
            role = storage.workspaces.get(principal, workspace_id).role
            sites = storage.sites.list(principal, workspace_id)
        except DataInsightError as exc:
            return error_alert(exc.message)
        return site_list(sites, storage.site_stats.visitors_today(principal, sites), role.at_least(Role.EDITOR))

    register_confirmed_delete(app, "site", "sites-action-feedback", "sites-rev",
                              lambda principal, index: current_storage().sites.delete(principal, index),
                              "Deleted, with its events and its dataset.")


def _args(period, filters) -> dict:
    if period not in PERIOD_VALUES:
        period = DEFAULT_PERIOD
    return {"period": period, "filters": _text(filters)}


def _register_site(app) -> None:
    @app.callback(
        Output("site-feedback", "children"),
        Output("site-overview", "children"),
        Output("site-timeseries", "figure"),
        Output("site-pages", "children"),
        Output("site-sources", "children"),
        Output("site-devices", "children"),
        Output("site-events", "children"),
        Input("site-period", "value"),
        Input("site-filters", "value"),
        Input("site-tick", "n_intervals"),
        State("site-id", "data"),
    )
    def reports(period, filters, _tick, site_id):
        """Every report of the period; the same on each tick unless new events came (storage
        caches a result until the site's files change)."""
        principal = require_principal()
        stats = current_storage().site_stats
        args = _args(period, filters)
        try:
            found = {name: stats.report(principal, site_id, name, args) for name in REPORTS}
        except DataInsightError as exc:
            return error_alert(exc.message), None, timeseries_figure(None), None, None, None, None
        return (None, overview_cards(found["overview"]), timeseries_figure(found["timeseries"]),
                pages_panels(found["pages"]), sources_panels(found["sources"]), devices_panels(found["devices"]),
                events_panel(found["events"]))

    @app.callback(
        Output("site-realtime", "children"),
        Input("site-filters", "value"),
        Input("site-tick", "n_intervals"),
        State("site-id", "data"),
    )
    def realtime(filters, _tick, site_id):
        try:
            found = current_storage().site_stats.report(require_principal(), site_id, "realtime",
                                                        {"filters": _text(filters)})
        except DataInsightError as exc:
            return error_alert(exc.message)
        return realtime_box(found)

    @app.callback(
        Output("site-dashboard-feedback", "children"),
        Output("site-redirect", "href"),
        Input("site-dashboard", "n_clicks"),
        State("site-id", "data"),
        prevent_initial_call=True,
    )
    def open_dashboard(clicks, site_id):
        """The web-analytics dashboard of the site's events (editors), as POST
        /api/v1/sites/<id>/dashboard makes it."""
        if not clicks:
            return no_update, no_update
        principal = require_principal()
        storage = current_storage()
        try:
            site = storage.sites.require(principal, site_id, Role.EDITOR)
            if site["dataset_id"] is None:
                raise InvalidInput("This site's dataset was deleted; its stats are on this page")
            board = storage.dashboards.generate(principal, site["dataset_id"])
        except DataInsightError as exc:
            return error_alert(exc.message), no_update
        return None, f"/dashboards/{board['id']}"


def register(app) -> None:
    _register_list(app)
    _register_site(app)
