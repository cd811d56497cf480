"""JSON errors for the API: ``{"error": {"code": "...", "message": "..."}}``."""
from __future__ import annotations

import logging

import flask
from werkzeug.exceptions import HTTPException

from storage.errors import DataInsightError, RateLimited

log = logging.getLogger(__name__)


def error_response(status: int, code: str, message: str, details: dict | None = None):
    body = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    response = flask.jsonify(body)
    response.status_code = status
    return response


def handle_app_error(exc: DataInsightError):
    response = error_response(exc.status, exc.code, exc.message, exc.details)
    if isinstance(exc, RateLimited):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def handle_http_error(exc: HTTPException):
    code = (exc.name or "error").lower().replace(" ", "_")
    return error_response(exc.code or 500, code, exc.description or exc.name)


def handle_unexpected(exc: Exception):
    log.exception("unexpected error in %s %s", flask.request.method, flask.request.path)
    return error_response(500, "internal_error", "Something went wrong on the server; the log has the details")


def install_api_error_handlers(server: flask.Flask) -> None:
    """Under /api/ every error is JSON; elsewhere Flask/Dash handle errors as before."""

    def dispatch(exc):
        if not flask.request.path.startswith("/api/"):
            if isinstance(exc, HTTPException):
                return exc
            raise exc
        if isinstance(exc, DataInsightError):
            return handle_app_error(exc)
        if isinstance(exc, HTTPException):
            return handle_http_error(exc)
        return handle_unexpected(exc)

    server.register_error_handler(Exception, dispatch)
