"""The API's description and its readers: ``GET /api/v1/openapi.json`` (api.openapi),
Swagger UI at ``/api/docs`` (try a route with your token: Authorize, then bearerAuth) and
ReDoc at ``/api/redoc``. Their scripts are served from api/docs_static (swagger-ui-dist
5.35.0 and redoc 2.5.4 from npm, licences beside them): nothing comes from a CDN, so the
pages work on a server without internet. All three are public, like the API's shape in
any product's documentation; every route they describe still needs its credentials."""
from __future__ import annotations

from pathlib import Path

import flask

from api.openapi import document, operation

blueprint = flask.Blueprint("api_docs", __name__)
STATIC = Path(__file__).resolve().parent / "docs_static"

_SWAGGER = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>DataInsight API · Swagger UI</title>
<link rel="stylesheet" href="/api/docs/static/swagger-ui.css">
<style>body{margin:0} .topbar{display:none}</style></head>
<body><div id="swagger-ui"></div>
<script src="/api/docs/static/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "/api/v1/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
  persistAuthorization: true, tryItOutEnabled: false, validatorUrl: null});
</script></body></html>"""

_REDOC = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>DataInsight API · ReDoc</title><style>body{margin:0}</style></head>
<body><div id="redoc"></div>
<script src="/api/docs/static/redoc.standalone.js"></script>
<script>Redoc.init("/api/v1/openapi.json", {hideDownloadButton: false}, document.getElementById("redoc"));</script>
</body></html>"""

_FILES = {"swagger-ui.css": "text/css", "swagger-ui-bundle.js": "text/javascript",
          "redoc.standalone.js": "text/javascript"}


def _page(html: str):
    response = flask.Response(html, mimetype="text/html")
    # The pages run only their own scripts and talk only to this server.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self' 'unsafe-inline' blob:; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; font-src 'self' data:")
    return response


@blueprint.get("/api/v1/openapi.json")
@operation("This document: every route of the API, OpenAPI 3.1", "Health", public=True)
def openapi_json():
    return flask.jsonify(document(flask.current_app))


@blueprint.get("/api/docs")
@operation("Swagger UI", "hidden")
def swagger_ui():
    return _page(_SWAGGER)


@blueprint.get("/api/redoc")
@operation("ReDoc", "hidden")
def redoc():
    return _page(_REDOC)


@blueprint.get("/api/docs/static/<name>")
@operation("The documentation pages' scripts", "hidden")
def static_file(name):
    if name not in _FILES:
        flask.abort(404)
    response = flask.send_from_directory(STATIC, name, mimetype=_FILES[name], max_age=86400)
    return response
