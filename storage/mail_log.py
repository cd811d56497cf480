"""The mail log: one row per attempt to mail a report (Send now, or the scheduler), kept
after its schedule is deleted and read by the workspace's owners. It is also the count
the hourly send limits read, so every worker process agrees on them.

A send writes its row ("sending"), counts the rows of the last hour of the same person
and of the same dashboard, and over a limit turns its row "refused" (the caller gets
RateLimited), all in one transaction that holds the send-limit lock
(``lock_in_transaction``): sends racing in several processes are counted one after the
other, so exactly the limit passes. (Counting after committing one's row, as this did
first, refused every one of eight racing sends on PostgreSQL.)
"""
from __future__ import annotations

import datetime as dt
import json
import math

from sqlalchemy import and_, func, insert, or_, select, update

from storage.database import as_utc, lock_in_transaction, utcnow
from storage.errors import Forbidden, InvalidInput, RateLimited
from storage.metrics import metrics
from storage.principal import Principal, Role
from storage.tables import send_log, users

WINDOW = dt.timedelta(hours=1)
COUNTED = ("sending", "sent", "failed")  # what a limit counts: every attempt that reached for the mail server
PER_USER, PER_DASHBOARD = 30, 20  # the defaults of DATAINSIGHT_MAIL_SENDS_PER_HOUR(_PER_DASHBOARD)
STALE = dt.timedelta(minutes=30)


def _wait_text(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class SendLog:
    def __init__(self, engine, workspaces, clock=utcnow):
        self.engine = engine
        self.workspaces = workspaces
        self.clock = clock
        self.per_user = PER_USER
        self.per_dashboard = PER_DASHBOARD

    def start(self, schedule_row, trigger: str, requested_by: int | None, sent_as: int | None) -> int:
        """Log a send of ``schedule_row`` about to happen and return its id, or RateLimited
        (the row then says "refused") when the person or the dashboard is over its limit."""
        now = self.clock()
        charged = requested_by if requested_by is not None else sent_as
        who = "you" if trigger == "manual" else "the schedule's owner"
        checks = [(self.per_dashboard, send_log.c.dashboard_id == schedule_row.dashboard_id,
                   "per dashboard (DATAINSIGHT_MAIL_SENDS_PER_HOUR_PER_DASHBOARD), and this dashboard has reached it")]
        if charged is not None:
            checks.insert(0, (self.per_user, or_(send_log.c.requested_by == charged,
                                                 and_(send_log.c.requested_by.is_(None), send_log.c.sent_as == charged)),
                              f"per person (DATAINSIGHT_MAIL_SENDS_PER_HOUR), and {who} reached it"))
        refusal = None
        with self.engine.begin() as conn:
            lock_in_transaction(conn, "mail-send-limits")
            log_id = conn.execute(insert(send_log).values(
                workspace_id=schedule_row.workspace_id, dashboard_id=schedule_row.dashboard_id,
                schedule_id=schedule_row.id, schedule_name=schedule_row.name, trigger=trigger,
                requested_by=requested_by, sent_as=sent_as, recipients_json=schedule_row.recipients_json,
                skipped_json="[]", status="sending", created_at=now).returning(send_log.c.id)).scalar_one()
            for limit, key, words in checks:
                wait = self._over(conn, log_id, key, limit, now)
                if wait is not None:
                    message = (f"Not sent: this server sends at most {limit} mails an hour {words}. "
                               f"Try again in {_wait_text(wait)}.")
                    conn.execute(update(send_log).where(send_log.c.id == log_id).values(
                        status="refused", error=message, finished_at=self.clock()))
                    refusal = RateLimited(message, retry_after=wait)
                    break
        if refusal is not None:
            metrics().mail_sends.labels(trigger, "refused").inc()
            raise refusal
        return log_id

    def _over(self, conn, log_id: int, key, limit: int, now: dt.datetime) -> int | None:
        """Seconds until a send under ``key`` fits in the last hour again, or None when
        this one (``log_id``, already written) fits now."""
        window = and_(key, send_log.c.status.in_(COUNTED), send_log.c.created_at > now - WINDOW)
        count = conn.execute(select(func.count()).select_from(send_log).where(window)).scalar_one()
        if count <= limit:
            return None
        # The others that must leave the window before one more fits: the oldest ones.
        oldest = conn.execute(select(send_log.c.created_at).where(window, send_log.c.id != log_id)
                              .order_by(send_log.c.created_at, send_log.c.id)
                              .limit(max(1, count - limit))).scalars().all()
        frees_at = as_utc(oldest[-1]) + WINDOW if oldest else now
        return max(1, int((frees_at - now).total_seconds()) + 1)

    def finish(self, log_id: int, status: str, *, error: str | None = None, recipients: list[str] | None = None,
               skipped: list[str] | None = None) -> None:
        values = {"status": status, "error": error, "finished_at": self.clock()}
        if recipients is not None:
            values["recipients_json"] = json.dumps(recipients)
        if skipped is not None:
            values["skipped_json"] = json.dumps(skipped)
        with self.engine.begin() as conn:
            trigger = conn.execute(update(send_log).where(send_log.c.id == log_id).values(**values)
                                   .returning(send_log.c.trigger)).scalar()
        if trigger is not None:
            metrics().mail_sends.labels(trigger, status).inc()

    def fail_stale(self) -> None:
        """Sends of a process that died mid-way stop saying "sending"."""
        with self.engine.begin() as conn:
            conn.execute(update(send_log).where(
                send_log.c.status == "sending", send_log.c.created_at < self.clock() - STALE,
            ).values(status="failed", error="The send was interrupted (the server stopped)"))

    def list(self, principal: Principal, workspace_id, dashboard_id=None, limit: int = 100) -> list[dict]:
        """The workspace's sends, newest first (owners only: the log names every recipient)."""
        with self.engine.connect() as conn:
            self.workspaces.require_role(conn, principal, workspace_id, Role.OWNER)
            query = select(send_log).where(send_log.c.workspace_id == int(workspace_id))
            if dashboard_id is not None:
                try:
                    dashboard_id = int(dashboard_id)
                    if not 0 < dashboard_id < 2 ** 31:  # an INTEGER column: past it no row exists
                        raise ValueError
                except (TypeError, ValueError):
                    raise InvalidInput(f"There is no dashboard {dashboard_id!r}") from None
                query = query.where(send_log.c.dashboard_id == dashboard_id)
            rows = conn.execute(query.order_by(send_log.c.id.desc()).limit(max(1, min(int(limit), 1000)))).all()
            ids = {r.requested_by for r in rows} | {r.sent_as for r in rows}
            emails = dict(conn.execute(select(users.c.id, users.c.email).where(users.c.id.in_(ids - {None})))
                          .all()) if ids - {None} else {}

        def iso(value):
            return as_utc(value).isoformat() if value else None

        return [{"id": r.id, "at": iso(r.created_at), "finished_at": iso(r.finished_at), "workspace_id": r.workspace_id,
                 "dashboard_id": r.dashboard_id, "schedule_id": r.schedule_id, "schedule_name": r.schedule_name,
                 "trigger": r.trigger, "requested_by": emails.get(r.requested_by), "sent_as": emails.get(r.sent_as),
                 "recipients": json.loads(r.recipients_json), "skipped": json.loads(r.skipped_json),
                 "status": r.status, "error": r.error} for r in rows]

    def list_if_owner(self, principal: Principal, workspace_id, dashboard_id=None) -> list[dict] | None:
        """``list`` for an owner; None for another member (a page then says who sees it)."""
        try:
            return self.list(principal, workspace_id, dashboard_id)
        except Forbidden:
            return None
