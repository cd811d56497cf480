"""Ids at the edge of the API (issue 18, point 11).

Row ids are INTEGER columns: 32-bit on PostgreSQL, 64-bit on SQLite (MAX_ID is the
narrower). A larger number (or its digits in
a path, a query string, a form or a JSON body) used to reach the driver, which raised
OverflowError or a DataError: a 500. Every request to /api/ is checked here once, before
its route runs: a path id past the range is a 404 (no such thing, like any unknown id),
and an id field past it in the body, form or query string a 400 naming the field.
Ids that are not numbers (uploads and jobs are uuids, widgets have names) are left to the
routes, which answer 404 for an id that names nothing.
"""
from __future__ import annotations

import re

import flask

from storage.database import MAX_ROW_ID
from storage.errors import InvalidInput, NotFound

# Every id column is an INTEGER: 32 bits on PostgreSQL (an id past it was a 500 there,
# "integer out of range", found by the schemathesis run), 64 on SQLite. The narrower wins.
MAX_ID = MAX_ROW_ID


# Ids that name no row: widgets, tabs and dashboard filters have names of their own
# (a new widget's is 12 hex digits, all of them digits about once in 2,800 widgets),
# uploads and jobs are uuids.
NOT_ROW_IDS = {"widget_id", "widget_ids", "tab_id", "filter_id", "upload_id", "job_id"}
NAMED_PARTS = re.compile(r"(^|\.)(widgets|tabs|filters)\[\d+\]$")


def _is_id_name(name: str) -> bool:
    """Whether ``name`` (a path argument, a field, or a body path such as
    ``widgets[0].id``) holds a row id."""
    parent, _, key = name.rpartition(".")
    if key in NOT_ROW_IDS or (key == "id" and NAMED_PARTS.search(parent)):
        return False
    return key == "id" or key.endswith("_id") or key.endswith("_ids")


def out_of_range(value) -> bool:
    """A number (or digits) that no row id can be."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return not 0 <= value <= MAX_ID
    if isinstance(value, str):
        digits = value.strip()
        if digits.startswith("-"):
            digits = digits[1:]
        # Past 12 digits it is out of range without parsing it (Python refuses 4,300+ digits).
        return digits.isdigit() and (len(digits) > 12 or int(digits) > MAX_ID)
    return False


def _field_problem(name: str, value) -> str | None:
    values = value if isinstance(value, list) else [value]
    if any(out_of_range(v) for v in values):
        return (f"The field {name!r} is not an id this server can have "
                f"(ids are whole numbers from 1 to {MAX_ID:,})")
    return None


def _walk(obj, path: str = ""):
    if isinstance(obj, dict):
        for key, value in obj.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and _is_id_name(where):
                yield where, value
            yield from _walk(value, where)
    elif isinstance(obj, list):
        for index, value in enumerate(obj[:1000]):
            yield from _walk(value, f"{path}[{index}]")


def check_request_ids() -> None:
    """before_request for /api/: raise NotFound/InvalidInput as described above."""
    request = flask.request
    for name, value in (request.view_args or {}).items():
        if _is_id_name(name) and out_of_range(value):
            raise NotFound(f"There is no {name.removesuffix('_id')} {value}")
    fields = list(request.args.items(multi=True))
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        fields += list(request.form.items(multi=True))
    for name, value in fields:
        problem = _is_id_name(name) and _field_problem(name, value)
        if problem:
            raise InvalidInput(problem, details={"field": name})
    if request.is_json:
        for name, value in _walk(request.get_json(silent=True)):
            problem = _field_problem(name, value)
            if problem:
                raise InvalidInput(problem, details={"field": name})
