"""Cross-origin calls to the API (issue 15, point 4): pages on the origins listed in
``DATAINSIGHT_CORS_ORIGINS`` may call ``/api/v1/*`` with a Bearer token.

Cookies never cross origins: no ``Access-Control-Allow-Credentials`` is ever sent, and a
request to ``/api/`` whose ``Origin`` is another site is not signed in by the session
cookie a browser may attach (``credentials: "include"``); only its Bearer token counts
(web.auth). Preflights from an origin not on the list are refused with a message that
names the setting; the actual requests simply get no CORS headers, so the browser keeps
the answer from the page.
"""
from __future__ import annotations

import flask

from web.csrf import same_host
from web.proxies import request_host

API_PREFIX = "/api/v1/"
ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE"
ALLOWED_HEADERS = "Authorization, Content-Type"
EXPOSED_HEADERS = "Content-Disposition, Retry-After, X-Report-Rows, X-Report-Pages"
PREFLIGHT_MAX_AGE = "600"


def foreign_origin() -> str | None:
    """The request's Origin when it names another site than this one, else None."""
    origin = flask.request.headers.get("Origin")
    if not origin or same_host(origin, request_host()):
        return None
    return origin


def _allowed(origin: str, allowed: tuple[str, ...]) -> bool:
    return "*" in allowed or origin.rstrip("/").lower() in allowed


def _cors_headers(headers, origin: str) -> None:
    headers["Access-Control-Allow-Origin"] = origin
    headers.add("Vary", "Origin")


def install(server: flask.Flask, allowed: tuple[str, ...]) -> None:
    """Answer preflights (before the guard, which would ask them for a token) and mark
    the API's answers for the allowed origins."""

    def preflight():
        request = flask.request
        if request.method != "OPTIONS" or not request.path.startswith(API_PREFIX) \
                or "Access-Control-Request-Method" not in request.headers:
            return None
        origin = foreign_origin()
        if origin is None:
            return None
        if not _allowed(origin, allowed):
            response = flask.jsonify({"error": {
                "code": "cors_origin_refused",
                "message": f"Pages on {origin} may not call this API. An administrator can allow them "
                           "with DATAINSIGHT_CORS_ORIGINS.",
            }})
            response.status_code = 403
            return response
        response = flask.make_response("", 204)
        _cors_headers(response.headers, origin)
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        return response

    def mark(response):
        if flask.request.path.startswith(API_PREFIX):
            origin = foreign_origin()
            if origin is not None and _allowed(origin, allowed):
                _cors_headers(response.headers, origin)
                response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        return response

    server.before_request_funcs.setdefault(None, []).insert(0, preflight)
    server.after_request(mark)
