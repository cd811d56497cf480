"""The last /api/v1 route: any path no blueprint knows answers a JSON 404."""
from __future__ import annotations

import flask

from api.openapi import operation
from storage.errors import NotFound

blueprint = flask.Blueprint("api_fallback", __name__, url_prefix="/api/v1")


@blueprint.route("/<path:_rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
@operation("Any unknown path", "hidden")
def unknown_route(_rest):
    raise NotFound(f"There is no API route {flask.request.method} {flask.request.path}")
