"""GET /api/health: public, for load balancers and `make run` checks."""
from __future__ import annotations

import flask

from typing import Literal

from api.openapi import Answer, operation
from storage.health import overall
from web.context import current_storage

blueprint = flask.Blueprint("health", __name__)


class Health(Answer):
    status: Literal["ok", "degraded", "error"]
    checks: dict


@blueprint.get("/api/health")
@operation("Whether the app can serve: database, data directory, job queue, mail", "Health", public=True,
           answer=Health)
def health():
    checks = current_storage().health()
    state, status_code = overall(checks)
    response = flask.jsonify({"status": state, "checks": checks})
    response.status_code = status_code
    return response
