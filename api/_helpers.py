"""Small helpers shared by the API modules."""
from __future__ import annotations

import json

import flask

from analytics.names import header_text
from analytics.values import jsonable  # noqa: F401  (re-exported for the API modules)
from storage.errors import InvalidInput


def json_body() -> dict:
    """The request's JSON object, or a clear 400 if it is missing or not an object."""
    if not flask.request.is_json:
        raise InvalidInput("Send a JSON body with the header Content-Type: application/json")
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object")
    return body


def optional_json_body() -> dict:
    """The request's JSON object when it has a body, {} when it has none, a clear 400 when
    the body is not an object (a list, a string, a number)."""
    if not flask.request.get_data(cache=True):
        return {}
    body = flask.request.get_json(silent=True)
    if body is None:
        return {}  # not JSON at all: routes with optional bodies ignore it, as before
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
    if kind is list and not isinstance(value, list):
        raise InvalidInput(f"The field {name!r} must be a list")
    return value


def created(payload: dict):
    response = flask.jsonify(payload)
    response.status_code = 201
    return response


def query_json(name: str):
    """A query parameter holding JSON (e.g. filter=), or None."""
    raw = flask.request.args.get(name)
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise InvalidInput(f"The {name} parameter must be JSON") from None


def sort_model_from_args() -> list[dict] | None:
    """sort=Name&sort=-Year (a leading minus sorts descending) as AG Grid's sortModel."""
    items = flask.request.args.getlist("sort")
    if not items:
        return None
    model = []
    for item in items:
        if item.startswith("-"):
            model.append({"colId": item[1:], "sort": "desc"})
        else:
            model.append({"colId": item, "sort": "asc"})
    return model


def as_attachment(response: flask.Response, filename: str) -> flask.Response:
    """Content-Disposition: attachment, the one way a download's name becomes a header:
    one clean line whatever the stored name holds (werkzeug adds filename* for non-ASCII)."""
    response.headers.set("Content-Disposition", "attachment", filename=header_text(filename) or "download")
    return response
