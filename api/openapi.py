"""The API described by OpenAPI 3.1, from the code that answers it (issue 15, point 1).

Each route says what it takes and gives with ``@operation(...)``, next to its code: a
summary, the JSON body as a pydantic model, query parameters, form fields, and the
success answer. The body model is also the route's first check: a body that does not fit
is refused with the API's usual 400 (``{"error": {"code": "invalid_input", "message",
"details": {"field"}}}``) naming the field, before the route runs; storage then checks
what only it can (rights, names, ids that exist). The document is built from Flask's own
URL map, so a route cannot be served without appearing in it: one without
``@operation`` appears with only its path, and a test fails on it.

``GET /api/v1/openapi.json`` serves the document; ``/api/docs`` (Swagger UI) and
``/api/redoc`` (ReDoc) read it, from files under assets/ (no CDN).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

import flask
from pydantic import BaseModel, ConfigDict, ValidationError

from api.ids import MAX_ID
from storage.errors import InvalidInput

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object", "required": ["code", "message"],
        "properties": {"code": {"type": "string", "description": "invalid_input, not_found, forbidden, ..."},
                       "message": {"type": "string", "description": "what went wrong, in a person's words"},
                       "details": {"type": "object", "description": "such as {\"field\": \"name\"}"}}}},
}
ANY_OBJECT = {"type": "object", "additionalProperties": True}


class Body(BaseModel):
    """Base of request bodies: unknown fields are refused by name, as storage does."""

    model_config = ConfigDict(extra="forbid")


class Answer(BaseModel):
    """Base of response shapes: the fields named are promised; more may come."""

    model_config = ConfigDict(extra="allow")


@dataclass
class Operation:
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: dict[str, dict] = field(default_factory=dict)  # name -> {"schema", "description", "required"}
    form: dict | None = None  # multipart/form-data schema
    raw_body: str | None = None  # a media type sent as it is (an upload's bytes)
    status: int = 200
    answer: type[BaseModel] | dict | None = None
    media: str = "application/json"  # of the success answer
    public: bool = False
    description: str | None = None


def query(name: str, schema: dict, description: str = "", required: bool = False) -> tuple[str, dict]:
    return name, {"schema": schema, "description": description, "required": required}


# Pydantic's words for a wrong type, in ours (the field is named in front).
_TYPE_WORDS = {"string_type": "must be text", "int_type": "must be a whole number",
               "int_parsing": "must be a whole number", "int_from_float": "must be a whole number",
               "float_type": "must be a number", "float_parsing": "must be a number",
               "bool_type": "must be true or false", "bool_parsing": "must be true or false",
               "list_type": "must be a list", "dict_type": "must be an object", "model_type": "must be an object",
               "model_attributes_type": "must be an object"}


def _field_of(error: dict) -> str:
    return ".".join(str(p) for p in error.get("loc", ())) or "body"


def _check_body(model: type[BaseModel], required: bool) -> None:
    data = flask.request.get_json(silent=True)
    if data is None and not required and not flask.request.get_data(cache=True):
        return
    if not isinstance(data, dict):
        raise InvalidInput("Send a JSON object as the request body (Content-Type: application/json)",
                           details={"field": "body"})
    try:
        model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = _field_of(first)
        if first["type"] == "extra_forbidden":
            message = f"Unknown field {where!r}"
        elif first["type"] == "missing":
            message = f"{where} is required"
        elif first["type"] in _TYPE_WORDS:
            message = f"{where} {_TYPE_WORDS[first['type']]}"
        else:
            message = f"{where}: {first['msg']}"
        raise InvalidInput(message, details={"field": where}) from None


def operation(summary: str, tag: str, **options):
    """Describe a route (see Operation) and check its JSON body against ``body``."""
    op = Operation(summary, tag, **options)

    def wrap(view):
        @functools.wraps(view)
        def checked(*args, **kwargs):
            if op.body is not None and flask.request.method in ("POST", "PUT", "PATCH"):
                _check_body(op.body, op.body_required)
            return view(*args, **kwargs)

        checked.openapi = op
        return checked

    return wrap


# --- the document ------------------------------------------------------------------------

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
INT_PARAMS = re.compile(r"(^|_)id$")


def _path(rule: str) -> tuple[str, list[dict]]:
    params = []
    for converter, name in _PARAM.findall(rule):
        numeric = bool(INT_PARAMS.search(name)) and name not in ("upload_id", "job_id", "widget_id")
        schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID} if numeric else {"type": "string",
                                                                                            "minLength": 1}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule), params


def _schema(model, components: dict) -> dict:
    if model is None:
        return ANY_OBJECT
    if isinstance(model, dict):
        return model
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in [*schema.pop("$defs", {}).items(), (model.__name__, schema)]:
        # Components are named by their class: two different shapes under one name would
        # leave one route documented with the other's fields.
        if components.setdefault(name, definition) != definition:
            raise TypeError(f"Two different API shapes are both named {name!r}: rename one (api/{model.__module__})")
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def document(server: flask.Flask, version: str = "1") -> dict:
    components: dict[str, Any] = {"Error": ERROR}
    paths: dict[str, dict] = {}
    for rule in sorted(server.url_map.iter_rules(), key=lambda r: r.rule):
        if not (rule.rule.startswith("/api/") or rule.rule.startswith("/public/exports/")):
            continue
        view = server.view_functions[rule.endpoint]
        op: Operation | None = getattr(view, "openapi", None)
        if op is None or op.tag == "hidden":
            continue
        path, params = _path(rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            entry: dict[str, Any] = {
                "operationId": rule.endpoint.replace(".", "_") + ("" if len(rule.methods) <= 3 else f"_{method}"),
                "summary": op.summary, "tags": [op.tag],
                "parameters": params + [{"name": name, "in": "query", **spec} for name, spec in op.query.items()],
                "responses": {str(op.status): _answer(op, components),
                              "default": {"description": "An error, in the API's JSON error shape",
                                          "content": {"application/json": {
                                              "schema": {"$ref": "#/components/schemas/Error"}}}}},
            }
            if op.description:
                entry["description"] = op.description
            if op.public:
                entry["security"] = []
            if op.body is not None:
                entry["requestBody"] = {"required": op.body_required, "content": {
                    "application/json": {"schema": _schema(op.body, components)}}}
            elif op.form is not None:
                entry["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": op.form}}}
            elif op.raw_body is not None:
                entry["requestBody"] = {"required": True, "content": {op.raw_body: {
                    "schema": {"type": "string", "format": "binary"}}}}
            paths.setdefault(path, {})[method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "DataInsight API", "version": version,
                 "description": "Every capability of DataInsight. Authenticate with a personal API token "
                                "(Settings › API tokens) as `Authorization: Bearer <token>`, or with the "
                                "session cookie of a signed-in browser (changes then need the same origin or "
                                "the `X-CSRF-Token` header). Errors are `{\"error\": {\"code\", \"message\"}}`."},
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}, {"cookieAuth": []}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "A personal API token"},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "datainsight_session",
                               "description": "The session of a signed-in browser"},
            },
        },
    }


def _answer(op: Operation, components: dict) -> dict:
    if op.status == 204:
        return {"description": "Done; no content"}
    if op.media != "application/json":
        return {"description": "The file", "content": {op.media: {"schema": {"type": "string", "format": "binary"}}}}
    return {"description": "Success", "content": {"application/json": {"schema": _schema(op.answer, components)}}}


def undocumented(server: flask.Flask) -> list[str]:
    """The API's routes that have no @operation (a test keeps this empty)."""
    return sorted(f"{','.join(sorted(r.methods - {'HEAD', 'OPTIONS'}))} {r.rule}" for r in server.url_map.iter_rules()
                  if (r.rule.startswith("/api/") or r.rule.startswith("/public/exports/"))
                  and getattr(server.view_functions[r.endpoint], "openapi", None) is None)
