"""/api/v1 column roles: what each column of a dataset is (analytics.roles), and a
person's correction of it. Thin: storage.roles checks access and validates."""
from __future__ import annotations

import flask

from typing import Any

from api._helpers import json_body
from api.openapi import Answer, Body, operation
from storage.errors import InvalidInput
from web.context import current_storage, require_principal

blueprint = flask.Blueprint("api_columns", __name__, url_prefix="/api/v1")


class ColumnRole(Answer):
    name: str
    type: str | None = None
    role: str
    source: str


class ColumnRoles(Answer):
    dataset_id: int
    columns: list[ColumnRole]


class RoleChoice(Body):
    """storage.roles checks the role (one of analytics.roles.ROLES, "auto" or null) and
    says which roles there are; the model only names the fields."""

    role: Any = None
    detail: Any = None


@blueprint.get("/datasets/<dataset_id>/columns")
@operation("Each column's type and role, inferred or set by a person", "Datasets", answer=ColumnRoles)
def list_columns(dataset_id):
    principal = require_principal()
    columns = current_storage().roles.columns(principal, dataset_id)
    return flask.jsonify({"dataset_id": int(dataset_id), "columns": columns})


@blueprint.patch("/datasets/<dataset_id>/columns/<path:column>")
@operation("Correct a column's role (editors); auto lets the app decide again", "Datasets", body=RoleChoice, answer=ColumnRole)
def set_column_role(dataset_id, column):
    """{"role": one of analytics.roles.ROLES, or "auto" / null for the inferred one,
    "detail": optional}."""
    principal = require_principal()
    body = json_body()
    if "role" not in body:
        raise InvalidInput("Send the column's role, or \"auto\" to let the app decide again")
    role, detail = body.get("role"), body.get("detail")
    found = current_storage().roles.set(principal, dataset_id, column, role, detail)
    return flask.jsonify({"name": column, **found})
