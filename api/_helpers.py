"""Small helpers shared by the API modules."""
from __future__ import annotations

import flask

from storage.errors import InvalidInput


def json_body() -> dict:
    """The request's JSON object, or a clear 400 if it is missing or not an object."""
    if not flask.request.is_json:
        raise InvalidInput("Send a JSON body with the header Content-Type: application/json")
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object")
    return body


def field(body: dict, name: str, kind=str, required: bool = True, default=None):
    value = body.get(name, default)
    if value is None:
        if required:
            raise InvalidInput(f"The field {name!r} is required")
        return default
    if kind is bool and not isinstance(value, bool):
        raise InvalidInput(f"The field {name!r} must be true or false")
    if kind is str and not isinstance(value, str):
        raise InvalidInput(f"The field {name!r} must be a string")
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise InvalidInput(f"The field {name!r} must be a whole number")
    return value
