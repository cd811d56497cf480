"""The audit log (issue 15, point 6): every change of rights or content, with who (person
and token), what, which object, when and from which address.

Storage records it, right after the change succeeded, because storage is the one path
both faces take. The client's address is not storage's to know: the web layer puts it in
``client_address`` (a context variable, so each request thread has its own) before any
service runs. Entries are only ever added: no route changes or deletes one; ``prune``
drops those older than ``DATAINSIGHT_AUDIT_RETENTION_DAYS`` at start-up.

Who reads what: administrators everything, account events included; a workspace's owners
that workspace's entries; nobody else anything.
"""
from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, insert, or_, select

from storage.database import as_utc, utcnow
from storage.errors import Forbidden, InvalidInput
from storage.principal import Principal, Role
from storage.tables import audit_log, memberships

log = logging.getLogger(__name__)

client_address: ContextVar[str | None] = ContextVar("audit_client_address", default=None)
PAGE_MAX = 500
ACTION_GROUPS = ("account", "user", "member", "workspace", "token", "dataset", "dashboard", "schedule", "alert",
                 "connection")


def _text(value, limit: int) -> str | None:
    return None if value is None else str(value)[:limit]


class _NoAudit:
    """What a service records to when it runs without a Storage (some unit tests)."""

    def record(self, *args, **kwargs) -> None:
        pass


NO_AUDIT = _NoAudit()


class AuditLog:
    def __init__(self, engine, retention_days: int = 365):
        self.engine = engine
        self.retention_days = retention_days

    def record(self, principal: Principal | None, action: str, *, target_type: str | None = None,
               target_id=None, target_name: str | None = None, workspace_id: int | None = None,
               actor: str | None = None, **detail) -> None:
        """Add one entry. Never raises: a change that happened must not look failed
        because its record could not be written (the error log says so instead)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(audit_log).values(
                    at=utcnow(),
                    actor_user_id=principal.user_id if principal else None,
                    actor_token_id=principal.token_id if principal else None,
                    actor=_text(actor or (principal.email if principal else "anonymous"), 320),
                    action=action[:64], target_type=_text(target_type, 32), target_id=_text(target_id, 64),
                    target_name=_text(target_name, 300),
                    workspace_id=int(workspace_id) if workspace_id is not None else None,
                    address=_text(client_address.get(), 64),
                    detail_json=json.dumps(detail, default=str)[:4000],
                ))
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("could not write the audit entry %s", action)

    def prune(self, now: datetime | None = None) -> int:
        cutoff = (now or utcnow()) - timedelta(days=self.retention_days)
        with self.engine.begin() as conn:
            return conn.execute(delete(audit_log).where(audit_log.c.at < cutoff)).rowcount or 0

    # --- reading --------------------------------------------------------------------------

    def _owned_workspaces(self, conn, principal: Principal) -> list[int]:
        return list(conn.execute(select(memberships.c.workspace_id).where(
            memberships.c.user_id == principal.user_id, memberships.c.role == Role.OWNER.value)).scalars())

    def entries(self, principal: Principal, *, workspace_id=None, actor: str | None = None,
                action: str | None = None, since: datetime | None = None, until: datetime | None = None,
                before_id: int | None = None, limit: int = 100) -> dict:
        """{"entries": [...], "next_before_id": id or None}: newest first, ``limit`` a page.
        ``action`` matches a whole action (``dataset.deleted``) or a group (``dataset``);
        ``actor`` an email, whole or in part."""
        if not isinstance(limit, int) or not 1 <= limit <= PAGE_MAX:
            raise InvalidInput(f"limit must be a whole number from 1 to {PAGE_MAX}")
        conditions = []
        with self.engine.connect() as conn:
            if not principal.is_admin:
                owned = self._owned_workspaces(conn, principal)
                if workspace_id is not None and int(workspace_id) not in owned:
                    raise Forbidden("Only the workspace's owners (and administrators) can read its audit log")
                if not owned:
                    raise Forbidden("The audit log is for workspace owners and administrators")
                conditions.append(audit_log.c.workspace_id.in_(owned))
            if workspace_id is not None:
                conditions.append(audit_log.c.workspace_id == int(workspace_id))
            if actor:
                conditions.append(audit_log.c.actor.contains(str(actor)[:320], autoescape=True))
            if action:
                action = str(action)[:64]
                conditions.append(or_(audit_log.c.action == action,
                                      audit_log.c.action.startswith(action + ".", autoescape=True)))
            if since is not None:
                conditions.append(audit_log.c.at >= since)
            if until is not None:
                conditions.append(audit_log.c.at < until)
            if before_id is not None:
                conditions.append(audit_log.c.id < int(before_id))
            rows = conn.execute(select(audit_log).where(and_(True, *conditions))
                                .order_by(audit_log.c.id.desc()).limit(limit + 1)).all()
        more = len(rows) > limit
        rows = rows[:limit]
        return {"entries": [self._entry(row) for row in rows], "next_before_id": rows[-1].id if more else None}

    @staticmethod
    def _entry(row) -> dict:
        return {
            "id": row.id, "at": as_utc(row.at).isoformat(), "actor": row.actor, "actor_user_id": row.actor_user_id,
            "actor_token_id": row.actor_token_id, "action": row.action,
            "target": {"type": row.target_type, "id": row.target_id, "name": row.target_name}
            if row.target_type else None,
            "workspace_id": row.workspace_id, "address": row.address, "detail": json.loads(row.detail_json or "{}"),
        }
