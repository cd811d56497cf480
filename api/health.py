"""GET /api/health: public, for load balancers and `make run` checks."""
from __future__ import annotations

import flask

from web.context import current_storage

blueprint = flask.Blueprint("health", __name__)


@blueprint.get("/api/health")
def health():
    checks = current_storage().health()
    ok = all(check["status"] == "ok" for check in checks.values())
    response = flask.jsonify({"status": "ok" if ok else "error", "checks": checks})
    response.status_code = 200 if ok else 503
    return response
