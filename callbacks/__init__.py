"""Dash callbacks, one module per feature. Each is thin: it reads inputs, takes the
acting principal, calls a storage service and shapes the output. Callbacks whose
outputs are ``public-*`` components are reachable before sign-in (see web.auth)."""
from __future__ import annotations

from callbacks import (
    account,
    alerts,
    admin,
    analysis_widget,
    analyze,
    analyze_journeys,
    analyze_segments,
    analyze_timeseries,
    audit,
    auth,
    column_roles,
    connections,
    dashboard_editor,
    dashboard_view,
    dashboards,
    datasets,
    navigation,
    profiles,
    reports,
    sites,
    sql,
    syncs,
    workspaces,
)

MODULES = (auth, navigation, account, workspaces, admin, datasets, column_roles, analyze, analyze_timeseries,
           analyze_journeys, analyze_segments, analysis_widget, profiles, dashboards, dashboard_view, dashboard_editor,
           reports, audit, alerts, sql, connections, syncs, sites)


def register_all(app) -> None:
    for module in MODULES:
        module.register(app)
