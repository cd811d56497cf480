"""The shape of a Dash callback request, checked before the callback runs (issue 18, point 11).

A callback is a public endpoint: anyone can post ``/_dash-update-component`` with any
JSON. Dash trusts the renderer's shapes, so a crafted body (an input that should be the
list of a wildcard's matches sent as a number, a missing input, an unknown callback)
raised inside Dash or the callback: a 500. Here each posted input and state is matched
against what the callback declared: the same count, a plain id for a plain input, a
list of {"id": {...}} for an ALL/ALLSMALLER wildcard, one {"id": {...}} for MATCH.
Values stay the callbacks' business (storage checks them), and a shape that does not fit
is a 400 that says so.
"""
from __future__ import annotations

import json

import flask

WILDCARD_LISTS = ("ALL", "ALLSMALLER")


def _declared_kind(component_id) -> str:
    """'plain' (a string id), 'dict' (a dict id without wildcards), 'list' (ALL or
    ALLSMALLER: the list of matches) or 'match' (MATCH: one match) for a declared input."""
    if isinstance(component_id, str) and component_id.startswith("{"):
        try:
            component_id = json.loads(component_id)
        except ValueError:
            return "plain"
    if not isinstance(component_id, dict):
        return "plain"
    wildcards = {v[0] for v in component_id.values() if isinstance(v, list) and len(v) == 1}
    if wildcards & set(WILDCARD_LISTS):
        return "list"
    return "match" if "MATCH" in wildcards else "dict"


def _item_fits(item, kind: str) -> bool:
    def one(entry, id_type) -> bool:
        return (isinstance(entry, dict) and isinstance(entry.get("id"), id_type)
                and isinstance(entry.get("property"), str))

    if kind == "list":
        return isinstance(item, list) and len(item) <= 10_000 and all(one(entry, dict) for entry in item)
    if kind in ("match", "dict"):
        return one(item, dict)
    return one(item, str)


def shape_problem(body, callback_map) -> str | None:
    """Why ``body`` is not a request for one of the app's callbacks, or None."""
    if not isinstance(body, dict) or not isinstance(body.get("output"), str):
        return "The request is not a Dash callback"
    callback = callback_map.get(body["output"])
    if callback is None or "callback" not in callback:  # unknown, or one that runs in the browser
        return "There is no such callback (reload the page: the app may have been updated)"
    for part in ("inputs", "state"):
        declared = callback.get(part) or []
        posted = body.get(part, [] if part == "state" else None)
        if not isinstance(posted, list) or len(posted) != len(declared):
            return f"The callback's {part} are not the ones it takes"
        for spec, item in zip(declared, posted):
            if not _item_fits(item, _declared_kind(spec.get("id"))):
                return f"The callback's {part} are not the ones it takes"
    return None


def refusal(callback_map):
    """None when the posted callback has the right shape, else the 400 answer."""
    problem = shape_problem(flask.request.get_json(silent=True), callback_map)
    if problem is None:
        return None
    response = flask.jsonify({"error": {"code": "invalid_callback", "message": problem}})
    response.status_code = 400
    return response
