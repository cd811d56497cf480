"""Flask blueprints: the public health check and the authenticated /api/v1."""
from __future__ import annotations

import flask

from api import (alerts, analyze, audit, collect, columns, connections, dashboards, datasets, docs, fallback, health,
                 profiles, reports, signup, sites, sql, tracker, v1)
from api.errors import install_api_error_handlers
from api.ids import check_request_ids


def register_api(server: flask.Flask) -> None:
    server.register_blueprint(health.blueprint)
    server.register_blueprint(v1.blueprint)
    server.register_blueprint(datasets.blueprint)
    server.register_blueprint(columns.blueprint)
    server.register_blueprint(analyze.blueprint)
    server.register_blueprint(dashboards.blueprint)
    server.register_blueprint(profiles.blueprint)
    server.register_blueprint(reports.blueprint)
    server.register_blueprint(audit.blueprint)
    server.register_blueprint(alerts.blueprint)
    server.register_blueprint(signup.blueprint)
    server.register_blueprint(docs.blueprint)
    server.register_blueprint(sql.blueprint)
    server.register_blueprint(connections.blueprint)
    server.register_blueprint(sites.blueprint)
    server.register_blueprint(collect.blueprint)
    server.register_blueprint(tracker.blueprint)  # GET /js/tracker.js, public (web.auth)
    server.register_blueprint(fallback.blueprint)  # last: catches unknown /api/v1 paths
    install_api_error_handlers(server)
    collect.install_fast_path(server)  # POST /api/collect answered before Flask (api.collect)

    @server.before_request
    def _bounded_ids():  # after the guard: who is asking is settled first
        if flask.request.path.startswith("/api/"):
            check_request_ids()
