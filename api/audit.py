"""GET /api/v1/audit?workspace_id=&actor=&action=&since=&until=&before_id=&limit= : the
audit log, newest first, a page at a time (``next_before_id`` asks for the next page).
Administrators read everything; a workspace's owners read that workspace's entries."""
from __future__ import annotations

from datetime import datetime, timezone

import flask

from api.openapi import Answer, operation, query
from storage.errors import InvalidInput
from web.context import current_storage, require_principal

blueprint = flask.Blueprint("api_audit", __name__, url_prefix="/api/v1")


class AuditEntry(Answer):
    id: int
    at: str
    action: str
    actor: str
    workspace_id: int | None
    detail: dict


class AuditPage(Answer):
    entries: list[AuditEntry]
    next_before_id: int | None


def _whole(args, name: str, default=None):
    raw = args.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number, got {raw[:40]!r}") from None


def _moment(args, name: str):
    raw = args.get(name)
    if raw in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(raw[:40])
    except ValueError:
        raise InvalidInput(f"{name} must be a date or time such as 2026-12-01 or 2026-12-01T08:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@blueprint.get("/audit")
@operation("The audit log, newest first, a page at a time (owners: their workspaces; administrators: all)", "Administration", query=dict([query("workspace_id", {"type": "integer"}), query("actor", {"type": "string"}), query("action", {"type": "string"}), query("since", {"type": "string", "format": "date-time"}), query("until", {"type": "string", "format": "date-time"}), query("before_id", {"type": "integer"}), query("limit", {"type": "integer", "minimum": 1, "maximum": 1000})]), answer=AuditPage)
def audit_entries():
    principal = require_principal()
    args = flask.request.args
    return flask.jsonify(current_storage().audit.entries(
        principal, workspace_id=_whole(args, "workspace_id"), actor=args.get("actor") or None,
        action=args.get("action") or None, since=_moment(args, "since"), until=_moment(args, "until"),
        before_id=_whole(args, "before_id"), limit=_whole(args, "limit", 100)))
