"""Alerts: tell people when a widget's number crosses a line (issue 17, point 2).

An alert watches a KPI widget's number, or one category's value in a chart or a table,
against a condition (``>``, ``>=``, ``<``, ``<=`` a threshold, or ``changes_by_pct``). It is
checked on a schedule (hourly, daily, weekly or monthly, as report schedules are) or
``on_refresh``: whenever the widget's dataset gets a new version (an upload, an append, a
refresh). When the condition becomes true the alert fires; it does not fire again while
it stays true (unless ``send`` is ``every_time``) and sends "back to normal" once when it
becomes false. Messages go by email (members of the workspace only, with a small chart)
and to webhooks (our JSON, or Slack's and Teams' shapes; storage.webhooks keeps them out
of the server's own network).

Like a report schedule, an alert belongs to the dashboard's workspace, is managed by its
editors, and runs as its owner (the last person who saved it): it reads only what they
may see, and stops, saying why, when the dashboard, the widget or their access is gone.

Exactly once across processes: a scheduled check is claimed by moving ``next_check_at``
on in one UPDATE naming its old value, an on-refresh check by moving ``checked_version``
the same way; the state changes with ``WHERE state = <the state the check read>``, so two
checks racing (a manual one and the scheduler's) send one message. Each message to each
channel is a delivery row: retried after RETRY_DELAYS on a temporary failure, claimed like
a schedule's retry, and shown in the alert's history.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
from html import escape

from sqlalchemy import insert, or_, select, update

from analytics.alerts import (
    OPS,
    chart_figure,
    change_since,
    check_widget_type,
    condition_text,
    decide,
    evaluate,
    message,
    webhook_body,
    widget_value,
)
from analytics.names import check_name, header_text
from storage.audit import NO_AUDIT
from storage.database import as_utc, utcnow
from storage.errors import DataInsightError, Forbidden, InvalidInput, NotFound
from storage.jobs import this_worker
from storage.principal import Principal, Role
from storage.schedules import (
    MAX_RECIPIENTS,
    RETRY_DELAYS,
    STALE_RUN,
    MailError,
    Mailer,
    ScheduleStopped,
    check_timing,
    describe,
    next_run,
)
from storage.tables import alert_checks, alert_deliveries, alerts
from storage.tables import dashboards as dashboards_table
from storage.tables import datasets as datasets_table
from storage.webhooks import WebhookError, check_destination, post_json, webhook_host
from storage.workspaces import outside_message

log = logging.getLogger(__name__)

ON_REFRESH = "on_refresh"
CHECK_FREQUENCIES = ("hourly", "daily", "weekly", "monthly")
SEND_MODES = ("on_change", "every_time")
MAX_ALERTS_PER_DASHBOARD = 50
MAX_CHANNELS = 10
HISTORY = 30
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
PAYLOAD_KEYS = {"dashboard_id", "widget_id", "category", "condition", "check", "channels", "send", "name", "enabled"}
READ_ONLY_KEYS = {"id", "workspace_id", "owner_id", "state", "last_value", "last_checked_at", "next_check_at",
                  "stop_reason", "created_at", "updated_at", "description", "checks", "widget_title", "warning"}


def _iso(value) -> str | None:
    return as_utc(value).isoformat() if value else None


class AlertService:
    audit = NO_AUDIT  # Storage gives it the real AuditLog

    def __init__(self, engine, workspaces, dashboards, users, queries, jobs, mailer: Mailer | None = None,
                 clock=utcnow):
        self.engine = engine
        self.workspaces = workspaces
        self.dashboards = dashboards
        self.users = users
        self.queries = queries
        self.jobs = jobs
        self.mailer = mailer or Mailer()
        self.renderer = None  # analytics.reports.figures.FigureRenderer for the email's chart; None: the process's
        self.clock = clock
        self.retry_delays = RETRY_DELAYS
        self.allow_private = False  # DATAINSIGHT_WEBHOOK_ALLOW_PRIVATE
        self.public_url: str | None = None  # DATAINSIGHT_PUBLIC_URL: the links in messages, else where it was saved
        self.worker = this_worker()

    # --- access ---------------------------------------------------------------------------

    def _editable_board(self, principal: Principal, dashboard_id) -> dict:
        board = self.dashboards.get(principal, dashboard_id)  # NotFound for non-members
        with self.engine.connect() as conn:
            self.workspaces.require_role(conn, principal, board["workspace_id"], Role.EDITOR)
        return board

    def _row(self, conn, alert_id):
        try:
            alert_id = int(alert_id)
        except (TypeError, ValueError):
            raise NotFound(f"There is no alert {alert_id!r}") from None
        if not 0 <= alert_id <= 2**31 - 1:  # an INTEGER column: past it no row exists (and PostgreSQL refuses it)
            raise NotFound(f"There is no alert {alert_id}")
        return conn.execute(select(alerts).where(alerts.c.id == alert_id)).first()

    def _editable(self, principal: Principal, alert_id):
        with self.engine.connect() as conn:
            row = self._row(conn, alert_id)
            if row is None:
                raise NotFound(f"There is no alert {alert_id} that you can see")
            try:
                self.workspaces.require_role(conn, principal, row.workspace_id, Role.VIEWER)
            except NotFound:
                raise NotFound(f"There is no alert {alert_id} that you can see") from None
            self.workspaces.require_role(conn, principal, row.workspace_id, Role.EDITOR)
        return row

    # --- reading --------------------------------------------------------------------------

    @staticmethod
    def _to_dict(row) -> dict:
        check = json.loads(row.check_json)
        out = {
            "id": row.id, "workspace_id": row.workspace_id, "dashboard_id": row.dashboard_id,
            "widget_id": row.widget_id, "owner_id": row.owner_id, "name": row.name,
            "category": json.loads(row.category_json) if row.category_json is not None else None,
            "condition": {"op": row.op, "value": row.threshold}, "check": check,
            "channels": json.loads(row.channels_json), "send": row.send_mode, "enabled": bool(row.enabled),
            "state": row.state, "last_value": row.last_value, "last_checked_at": _iso(row.last_checked_at),
            "next_check_at": _iso(row.next_check_at) if row.enabled else None, "stop_reason": row.stop_reason,
            "created_at": _iso(row.created_at), "updated_at": _iso(row.updated_at),
        }
        out["description"] = ("When the data changes" if check == ON_REFRESH else describe(check)) + " · " + \
            condition_text(row.op, row.threshold)
        return out

    @staticmethod
    def _check_dict(row, deliveries: list[dict]) -> dict:
        return {"id": row.id, "trigger": row.trigger, "checked_at": _iso(row.checked_at), "value": row.value,
                "change_pct": row.change_pct, "state": row.state, "event": row.event, "error": row.error,
                "deliveries": deliveries}

    @staticmethod
    def _delivery_dict(row) -> dict:
        return {"id": row.id, "channel": row.channel, "target": row.target, "status": row.status,
                "attempts": row.attempts, "error": row.error, "retry_at": _iso(row.retry_at),
                "sent_at": _iso(row.sent_at)}

    def list(self, principal: Principal, dashboard_id) -> list[dict]:
        board = self._editable_board(principal, dashboard_id)
        with self.engine.connect() as conn:
            rows = conn.execute(select(alerts).where(alerts.c.dashboard_id == board["id"]).order_by(alerts.c.id)).all()
        titles = {w["id"]: _widget_title(w) for w in board["widgets"]}
        return [{**self._to_dict(r), "widget_title": titles.get(r.widget_id)} for r in rows]

    def get(self, principal: Principal, alert_id) -> dict:
        return self._to_dict(self._editable(principal, alert_id))

    def history(self, principal: Principal, alert_id, limit: int = HISTORY) -> list[dict]:
        """The latest checks, newest first, each with the deliveries its event made."""
        row = self._editable(principal, alert_id)
        with self.engine.connect() as conn:
            checks = conn.execute(select(alert_checks).where(alert_checks.c.alert_id == row.id)
                                  .order_by(alert_checks.c.id.desc()).limit(limit)).all()
            sent = conn.execute(select(alert_deliveries).where(
                alert_deliveries.c.check_id.in_([c.id for c in checks])).order_by(alert_deliveries.c.id)).all()
        by_check: dict[int, list] = {}
        for d in sent:
            by_check.setdefault(d.check_id, []).append(self._delivery_dict(d))
        return [self._check_dict(c, by_check.get(c.id, [])) for c in checks]

    def widget_states(self, principal: Principal, dashboard_id) -> dict[str, str]:
        """{widget id: "triggered" | "ok" | "unknown" | "paused"} of the dashboard's alerts,
        for the bells on its widgets (any member who can view the dashboard); a widget with
        several alerts shows the most urgent state."""
        board = self.dashboards.get(principal, dashboard_id)
        with self.engine.connect() as conn:
            rows = conn.execute(select(alerts.c.widget_id, alerts.c.state, alerts.c.enabled)
                                .where(alerts.c.dashboard_id == board["id"])).all()
        rank = {"triggered": 3, "unknown": 2, "ok": 1, "paused": 0}
        states: dict[str, str] = {}
        for widget_id, state, enabled in rows:
            state = state if enabled else "paused"
            if rank[state] > rank.get(states.get(widget_id), -1):
                states[widget_id] = state
        return states

    # --- changing -------------------------------------------------------------------------

    def _clean(self, payload, board: dict, current: dict | None = None) -> dict:
        if not isinstance(payload, dict):
            raise InvalidInput("An alert must be a JSON object")
        unknown = sorted(set(payload) - PAYLOAD_KEYS - READ_ONLY_KEYS)
        if unknown:
            raise InvalidInput(f"Unknown alert field {unknown[0]!r}")
        merged = {**(current or {}), **payload}
        widget = next((w for w in board["widgets"] if w["id"] == merged.get("widget_id")), None)
        if widget is None:
            raise InvalidInput(f"The dashboard has no widget {merged.get('widget_id')!r}",
                               details={"field": "widget_id"})
        category = merged.get("category")
        if isinstance(category, str):
            category = category.strip() or None
        if category is not None and (not isinstance(category, (str, int, float)) or isinstance(category, bool)
                                     or len(str(category)) > 200):
            raise InvalidInput("The category is the text or number drawn for it, at most 200 characters",
                               details={"field": "category"})
        check_widget_type(widget["spec"]["type"], category)
        condition = merged.get("condition")
        if not isinstance(condition, dict) or set(condition) - {"op", "value"}:
            raise InvalidInput('The condition is {"op": ">", "value": 100} (op: >, >=, <, <= or changes_by_pct)',
                               details={"field": "condition"})
        op, threshold = condition.get("op"), condition.get("value")
        if op not in OPS:
            raise InvalidInput(f"Unknown condition {op!r}; choose >, >=, <, <= or changes_by_pct",
                               details={"field": "condition"})
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold) \
                or abs(threshold) > 1e15:
            raise InvalidInput("The condition's value must be a number", details={"field": "condition"})
        if op == "changes_by_pct" and threshold <= 0:
            raise InvalidInput("A change in per cent must be more than 0, such as 20 for 20%",
                               details={"field": "condition"})
        check = merged.get("check") or ON_REFRESH
        if check != ON_REFRESH:
            if not isinstance(check, dict) or set(check) - {"frequency", "days", "time", "timezone"}:
                raise InvalidInput('check is "on_refresh" or a schedule {"frequency": "hourly"|"daily"|"weekly"|'
                                   '"monthly", "days", "time": "HH:MM", "timezone"}', details={"field": "check"})
            frequency, days, time_of_day, timezone = check_timing({"frequency": "daily", **check}, CHECK_FREQUENCIES)
            check = {"frequency": frequency, "days": days, "time": time_of_day, "timezone": timezone}
        channels = self._clean_channels(merged.get("channels"), board["workspace_id"],
                                        check_members=current is None or "channels" in payload)
        send = merged.get("send") or "on_change"
        if send not in SEND_MODES:
            raise InvalidInput("send is on_change (when the state changes) or every_time (every check while it "
                               "holds)", details={"field": "send"})
        enabled = merged.get("enabled", True)
        if not isinstance(enabled, bool):
            raise InvalidInput("enabled must be true or false")
        title = _widget_title(widget)
        name = merged.get("name") or f"{header_text(title)}{f' · {category}' if category is not None else ''} " \
                                     f"{condition_text(op, float(threshold))}"
        name = check_name(name[:200], "alert name", field="name")
        return {"widget_id": widget["id"], "name": name,
                "category_json": None if category is None else json.dumps(category), "op": op,
                "threshold": float(threshold), "check_json": json.dumps(check), "channels_json": json.dumps(channels),
                "send_mode": send, "enabled": enabled}

    def _clean_channels(self, channels, workspace_id: int, check_members: bool) -> list[dict]:
        if not isinstance(channels, list) or not channels:
            raise InvalidInput('Add where to send it: [{"type": "email", "to": [...]}] or [{"type": "webhook", '
                               '"url": "https://..."}]', details={"field": "channels"})
        if len(channels) > MAX_CHANNELS:
            raise InvalidInput(f"An alert has at most {MAX_CHANNELS} channels", details={"field": "channels"})
        clean = []
        for channel in channels:
            kind = channel.get("type") if isinstance(channel, dict) else None
            if kind == "email" and set(channel) <= {"type", "to"}:
                to = channel.get("to")
                if isinstance(to, str):
                    to = [a for a in re.split(r"[,;\s]+", to) if a]
                if not isinstance(to, list) or not to or len(to) > MAX_RECIPIENTS:
                    raise InvalidInput(f"An email channel needs 1 to {MAX_RECIPIENTS} addresses in \"to\"",
                                       details={"field": "channels"})
                for address in to:
                    if not isinstance(address, str) or len(address) > 320 or not _EMAIL.match(address.strip()):
                        raise InvalidInput(f"{address!r} is not an email address", details={"field": "channels"})
                to = list(dict.fromkeys(a.strip() for a in to))
                if check_members:
                    outside = self.workspaces.recipients_outside(workspace_id, to)
                    if outside:
                        raise InvalidInput(outside_message(outside), details={"field": "channels"})
                clean.append({"type": "email", "to": to})
            elif kind == "webhook" and set(channel) <= {"type", "url"}:
                url = channel.get("url")
                check_destination(url, self.allow_private, field="channels")
                clean.append({"type": "webhook", "url": url.strip()})
            else:
                raise InvalidInput('Each channel is {"type": "email", "to": [addresses]} or {"type": "webhook", '
                                   '"url": "https://..."}', details={"field": "channels"})
        return clean

    def _timing(self, values: dict, row=None) -> dict:
        """next_check_at (scheduled checks) and checked_version (on refresh) for saved values."""
        check = json.loads(values["check_json"])
        if not values["enabled"] or check == ON_REFRESH:
            return {"next_check_at": None}
        return {"next_check_at": next_run(check["frequency"], check["days"], check["time"], check["timezone"],
                                          self.clock())}

    def create(self, principal: Principal, payload, link_base: str | None = None) -> dict:
        if not isinstance(payload, dict):
            raise InvalidInput("An alert must be a JSON object")
        if payload.get("dashboard_id") is None:
            raise InvalidInput("Say which dashboard: dashboard_id", details={"field": "dashboard_id"})
        board = self._editable_board(principal, payload.get("dashboard_id"))
        values = self._clean(payload, board)
        now = self.clock()
        with self.engine.begin() as conn:
            count = len(conn.execute(select(alerts.c.id).where(alerts.c.dashboard_id == board["id"])).all())
            if count >= MAX_ALERTS_PER_DASHBOARD:
                raise InvalidInput(f"A dashboard has at most {MAX_ALERTS_PER_DASHBOARD} alerts")
            alert_id = conn.execute(insert(alerts).values(
                workspace_id=board["workspace_id"], dashboard_id=board["id"], owner_id=principal.user_id,
                link_base=(link_base or "")[:300] or None, stop_reason=None, state="unknown", last_value=None,
                last_checked_at=None, checked_version=None, created_at=now, updated_at=now,
                **self._timing(values), **values).returning(alerts.c.id)).scalar_one()
        self.audit.record(principal, "alert.created", target_type="alert", target_id=alert_id,
                          target_name=values["name"], workspace_id=board["workspace_id"], dashboard_id=board["id"],
                          channels=_channel_summary(json.loads(values["channels_json"])))
        return {**self.get(principal, alert_id), "warning": self.warning(values)}

    def warning(self, values: dict) -> str | None:
        """Why some of this alert's messages cannot go out (no mail server), or None."""
        if any(c["type"] == "email" for c in json.loads(values["channels_json"])):
            return self.mailer.problem()
        return None

    def update(self, principal: Principal, alert_id, patch) -> dict:
        row = self._editable(principal, alert_id)
        if row.dashboard_id is None:
            raise InvalidInput("This alert's dashboard was deleted; delete the alert")
        if isinstance(patch, dict) and patch.get("dashboard_id") not in (None, row.dashboard_id):
            raise InvalidInput("An alert stays on its dashboard; make a new one for another dashboard",
                               details={"field": "dashboard_id"})
        board = self._editable_board(principal, row.dashboard_id)
        current = self._to_dict(row)
        values = self._clean(patch, board, {k: current[k] for k in PAYLOAD_KEYS if k in current}
                             | {"send": current["send"]})
        watched_changed = any(values[k] != getattr(row, k) for k in ("widget_id", "category_json", "op", "threshold"))
        with self.engine.begin() as conn:
            # Saving makes the editor its owner; watching something else starts from "unknown".
            conn.execute(update(alerts).where(alerts.c.id == row.id).values(
                owner_id=principal.user_id, stop_reason=None if values["enabled"] else row.stop_reason,
                updated_at=self.clock(), **self._timing(values, row), **values,
                **({"state": "unknown", "last_value": None, "checked_version": None} if watched_changed else {})))
        self.audit.record(principal, "alert.changed", target_type="alert", target_id=row.id,
                          target_name=values["name"], workspace_id=row.workspace_id, dashboard_id=row.dashboard_id,
                          fields=sorted(patch) if isinstance(patch, dict) else None)
        return {**self.get(principal, row.id), "warning": self.warning(values)}

    def delete(self, principal: Principal, alert_id) -> None:
        row = self._editable(principal, alert_id)
        with self.engine.begin() as conn:
            conn.execute(alert_deliveries.delete().where(alert_deliveries.c.alert_id == row.id))
            conn.execute(alert_checks.delete().where(alert_checks.c.alert_id == row.id))
            conn.execute(alerts.delete().where(alerts.c.id == row.id))
        self.audit.record(principal, "alert.deleted", target_type="alert", target_id=row.id, target_name=row.name,
                          workspace_id=row.workspace_id, dashboard_id=row.dashboard_id)

    def check_now(self, principal: Principal, alert_id, background: bool = True) -> dict:
        """Check at once (as the alert's owner) and send what the result calls for: the
        check, with its deliveries (sent in a background job unless ``background`` is False)."""
        row = self._editable(principal, alert_id)
        check_id, deliveries = self._check(row, "manual")
        self.audit.record(principal, "alert.checked", target_type="alert", target_id=row.id, target_name=row.name,
                          workspace_id=row.workspace_id, dashboard_id=row.dashboard_id)
        if deliveries:
            if background:
                self.jobs.start(principal, "alert_send", row.workspace_id, {"deliveries": list(deliveries)},
                                message="Sending")
            else:
                for delivery_id in deliveries:
                    self._deliver(delivery_id)
        return next(c for c in self.history(principal, row.id) if c["id"] == check_id)

    # --- checking -------------------------------------------------------------------------

    def _owner_principal(self, row) -> tuple[Principal, dict, dict]:
        """(the owner as the reader, the dashboard, the widget), or ScheduleStopped saying why not."""
        if row.dashboard_id is None:
            raise ScheduleStopped("The dashboard was deleted, so this alert stopped")
        owner = self.users.get(row.owner_id) if row.owner_id is not None else None
        if owner is None or not owner.is_active:
            raise ScheduleStopped("The alert's owner no longer has an active account; an editor can save the alert "
                                  "to take it over")
        principal = owner.principal(via="alert")
        try:
            board = self._editable_board(principal, row.dashboard_id)
        except (NotFound, Forbidden):
            raise ScheduleStopped(f"The alert's owner ({owner.email}) no longer has edit access to the dashboard; "
                                  "an editor can save the alert to take it over") from None
        widget = next((w for w in board["widgets"] if w["id"] == row.widget_id), None)
        if widget is None:
            raise ScheduleStopped("The widget was removed from the dashboard, so this alert stopped")
        return principal, board, widget

    def _stop(self, alert_id: int, reason: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(alerts).where(alerts.c.id == alert_id).values(
                enabled=False, stop_reason=reason, next_check_at=None, updated_at=self.clock()))

    def _record_failed(self, row, trigger: str, error: str) -> int:
        with self.engine.begin() as conn:
            return conn.execute(insert(alert_checks).values(
                alert_id=row.id, trigger=trigger, checked_at=self.clock(), value=None, change_pct=None,
                state="error", event=None, error=error).returning(alert_checks.c.id)).scalar_one()

    def _check(self, row, trigger: str) -> tuple[int, list[int]]:
        """Check one alert now: (the check's id, the deliveries its event made, to send)."""
        try:
            principal, board, widget = self._owner_principal(row)
        except ScheduleStopped as stopped:
            self._stop(row.id, str(stopped))
            return self._record_failed(row, trigger, str(stopped)), []
        alert = self._to_dict(row)
        try:
            output = self.queries.render_widget(principal, board["id"], widget["id"])
            value, change = widget_value(output, alert["category"])
        except DataInsightError as exc:
            return self._record_failed(row, trigger, exc.message), []
        if row.op == "changes_by_pct" and change is None:
            change = change_since(value, row.last_value)
        holds = evaluate(row.op, row.threshold, value, change)
        if holds is None:
            reason = (f"The widget has no value for {alert['category']!r} now" if value is None else
                      "There is nothing to compare with yet: the change is measured from the previous check")
            if value is not None:  # the first value of a changes_by_pct alert: kept to compare with next time
                with self.engine.begin() as conn:
                    conn.execute(update(alerts).where(alerts.c.id == row.id).values(
                        last_value=value, last_checked_at=self.clock()))
            return self._record_failed(row, trigger, reason), []
        state, event = decide(row.state, holds, row.send_mode)
        now = self.clock()
        fmt = output.get("format") or ""
        body = None
        if event:
            link = f"{(self.public_url or row.link_base or '').rstrip('/')}/dashboards/{board['id']}" \
                if (self.public_url or row.link_base) else None
            body = message(alert, event, value, change, now, board["name"], _widget_title(widget), link, fmt)
            body["chart"] = chart_figure(output, alert["category"], None if row.op == "changes_by_pct"
                                         else row.threshold, self._recent_values(row.id, now, value))
        with self.engine.begin() as conn:
            won = conn.execute(update(alerts).where(alerts.c.id == row.id, alerts.c.state == row.state).values(
                state=state, last_value=value, last_checked_at=now)).rowcount
            if won != 1:  # another check of this alert changed its state first: that one sends
                event, body = None, None
            check_id = conn.execute(insert(alert_checks).values(
                alert_id=row.id, trigger=trigger, checked_at=now, value=value, change_pct=change, state=state,
                event=event, error=None, message_json=json.dumps(body, default=str) if body else None,
            ).returning(alert_checks.c.id)).scalar_one()
            deliveries = []
            for channel in json.loads(row.channels_json) if event else []:
                target = ", ".join(channel["to"]) if channel["type"] == "email" else webhook_host(channel["url"])
                destination = channel["to"] if channel["type"] == "email" else channel["url"]
                deliveries.append(conn.execute(insert(alert_deliveries).values(
                    alert_id=row.id, check_id=check_id, channel=channel["type"], target=target[:400],
                    destination=json.dumps(destination), status="sending", attempts=0, claimed_by=self.worker,
                    started_at=now, created_at=now).returning(alert_deliveries.c.id)).scalar_one())
        return check_id, deliveries

    def _recent_values(self, alert_id: int, now, value) -> list[tuple[dt.datetime, float]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(alert_checks.c.checked_at, alert_checks.c.value).where(
                alert_checks.c.alert_id == alert_id, alert_checks.c.value.is_not(None))
                .order_by(alert_checks.c.id.desc()).limit(29)).all()
        return [(as_utc(r.checked_at), r.value) for r in reversed(rows)] + ([(now, value)] if value is not None else [])

    # --- delivering -----------------------------------------------------------------------

    def _deliver(self, delivery_id: int) -> str:
        """One attempt at a claimed delivery; returns its status (sent, retrying, failed)."""
        with self.engine.connect() as conn:
            delivery = conn.execute(select(alert_deliveries).where(alert_deliveries.c.id == delivery_id)).first()
            check = conn.execute(select(alert_checks).where(alert_checks.c.id == delivery.check_id)).first()
            row = conn.execute(select(alerts).where(alerts.c.id == delivery.alert_id)).first()
        attempts = delivery.attempts + 1
        body = json.loads(check.message_json)
        destination = json.loads(delivery.destination)
        try:
            if delivery.channel == "email":
                self._send_email(row, body, destination)
            else:
                post_json(destination, webhook_body(destination, {k: v for k, v in body.items() if k != "chart"}),
                          allow_private=self.allow_private)
        except (MailError, WebhookError, InvalidInput) as exc:
            permanent = getattr(exc, "permanent", True)
            retry_at = None
            if not permanent and attempts <= len(self.retry_delays):
                retry_at = self.clock() + dt.timedelta(seconds=self.retry_delays[attempts - 1])
            status = "retrying" if retry_at else "failed"
            self._finish(delivery_id, status=status, attempts=attempts, error=exc.message, retry_at=retry_at)
            return status
        except Exception as exc:  # noqa: BLE001 - recorded in the history, retried
            log.exception("alert %s delivery %s failed", delivery.alert_id, delivery_id)
            retry_at = (self.clock() + dt.timedelta(seconds=self.retry_delays[attempts - 1])
                        if attempts <= len(self.retry_delays) else None)
            self._finish(delivery_id, status="retrying" if retry_at else "failed", attempts=attempts,
                         error=f"{type(exc).__name__}: {exc}"[:500], retry_at=retry_at)
            return "retrying" if retry_at else "failed"
        self._finish(delivery_id, status="sent", attempts=attempts, error=None, retry_at=None, sent_at=self.clock())
        return "sent"

    def _finish(self, delivery_id: int, **values) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(alert_deliveries).where(alert_deliveries.c.id == delivery_id).values(**values))

    def _send_email(self, row, body: dict, wanted: list[str]) -> None:
        """The message to the addresses the workspace still allows (read afresh: a member
        removed since the alert was saved gets nothing)."""
        if self.mailer.problem():
            raise MailError(self.mailer.problem(), permanent=True)
        skipped = self.workspaces.recipients_outside(row.workspace_id, wanted)
        recipients = [a for a in wanted if a not in skipped]
        if not recipients:
            raise MailError(f"Not sent: {outside_message(skipped)}", permanent=True)
        chart = self._chart_png(body.get("chart"))
        recovered = body["event"] == "recovered"
        subject = f"{'Back to normal' if recovered else 'Alert'}: {body['alert']['name']} · {body['value_text']}"
        condition = condition_text(body["condition"]["op"], body["condition"]["value"])
        when = body["time"][:16].replace("T", " ") + " UTC"
        colour = "#198754" if recovered else "#dc3545"
        link = body.get("link")
        html = (
            "<div style='font-family:sans-serif;color:#212529;max-width:600px'>"
            f"<p style='font-size:13px;color:#6c757d;margin:0'>{escape(body['dashboard']['name'])} · "
            f"{escape(body['widget']['title'])}</p>"
            f"<h2 style='margin:4px 0 12px;color:{colour}'>{escape(body['text'])}</h2>"
            "<table style='border-collapse:collapse;font-size:14px'>"
            f"<tr><td style='padding:2px 12px 2px 0;color:#6c757d'>Value</td><td><b>{escape(body['value_text'])}</b>"
            "</td></tr>"
            + (f"<tr><td style='padding:2px 12px 2px 0;color:#6c757d'>Category</td>"
               f"<td>{escape(str(body['category']))}</td></tr>" if body.get("category") is not None else "")
            + f"<tr><td style='padding:2px 12px 2px 0;color:#6c757d'>Alert when</td><td>{escape(condition)}</td></tr>"
            f"<tr><td style='padding:2px 12px 2px 0;color:#6c757d'>Checked</td><td>{escape(when)}</td></tr></table>"
            + ("<p><img src='cid:chart' alt='The widget' width='560' style='max-width:100%'></p>" if chart else "")
            + (f"<p><a href='{escape(link, quote=True)}'>Open the dashboard</a></p>" if link else "")
            + f"<p style='font-size:12px;color:#888'>The alert “{escape(body['alert']['name'])}”. "
            "Editors of the dashboard change or pause it under Alerts.</p></div>")
        text = (f"{body['text']}\n\nValue: {body['value_text']}\nAlert when: {condition}\nChecked: {when}\n"
                + (f"Open the dashboard: {link}\n" if link else ""))
        self.mailer.send(recipients, subject, html, text, inline_png=("chart", chart) if chart else None)

    def _chart_png(self, figure: dict | None) -> bytes | None:
        """The small chart, or None when it cannot be drawn (the mail goes without it)."""
        if not figure:
            return None
        try:
            from analytics.reports.figures import FigureRenderer

            renderer = self.renderer or FigureRenderer()
            return renderer.png(figure, figure["layout"].get("width", 560), figure["layout"].get("height", 220),
                                scale=1.5)
        except Exception:  # noqa: BLE001 - a missing browser must not stop the alert
            log.warning("the alert's chart could not be drawn", exc_info=True)
            return None

    # --- the scheduler's side ---------------------------------------------------------------

    def _dataset_versions(self, conn, rows) -> dict[int, str]:
        """{alert id: "<dataset id>:<version>"} of the datasets that on-refresh alerts'
        widgets read now; "gone" when the dashboard, the widget or its dataset is (the
        check then stops the alert, or says what is missing, once)."""
        board_ids = {r.dashboard_id for r in rows if r.dashboard_id is not None}
        boards = {b.id: json.loads(b.widgets_json) for b in conn.execute(
            select(dashboards_table.c.id, dashboards_table.c.widgets_json)
            .where(dashboards_table.c.id.in_(board_ids))).all()} if board_ids else {}
        wanted = {}
        for r in rows:
            widget = next((w for w in boards.get(r.dashboard_id, []) if w["id"] == r.widget_id), None)
            dataset_id = (widget or {}).get("spec", {}).get("dataset_id")
            if isinstance(dataset_id, int):
                wanted[r.id] = dataset_id
        versions = {d.id: d.current_version for d in conn.execute(
            select(datasets_table.c.id, datasets_table.c.current_version)
            .where(datasets_table.c.id.in_(set(wanted.values())))).all()} if wanted else {}
        return {r.id: f"{wanted[r.id]}:{versions[wanted[r.id]]}" if versions.get(wanted.get(r.id)) else "gone"
                for r in rows}

    def claim_due(self) -> list[tuple[int, str]]:
        """Claim every scheduled check that is due and every on-refresh alert whose dataset
        has a new version: [(alert id, trigger)] this caller now owns."""
        now = self.clock()
        claimed = []
        with self.engine.connect() as conn:
            due = conn.execute(select(alerts.c.id, alerts.c.next_check_at, alerts.c.check_json).where(
                alerts.c.enabled.is_(True), alerts.c.next_check_at <= now)).all()
            refreshing = conn.execute(select(alerts.c.id, alerts.c.dashboard_id, alerts.c.widget_id,
                                             alerts.c.checked_version).where(
                alerts.c.enabled.is_(True), alerts.c.check_json == json.dumps(ON_REFRESH))).all()
            versions = self._dataset_versions(conn, refreshing)
        for row in due:
            check = json.loads(row.check_json)
            following = next_run(check["frequency"], check["days"], check["time"], check["timezone"],
                                 max(now, as_utc(row.next_check_at)))
            with self.engine.begin() as conn:
                won = conn.execute(update(alerts).where(
                    alerts.c.id == row.id, alerts.c.enabled.is_(True), alerts.c.next_check_at == row.next_check_at,
                ).values(next_check_at=following)).rowcount
            if won == 1:
                claimed.append((row.id, "schedule"))
        for row in refreshing:
            version = versions.get(row.id)
            if version is None or version == row.checked_version:
                continue
            seen = alerts.c.checked_version == row.checked_version if row.checked_version is not None \
                else alerts.c.checked_version.is_(None)
            with self.engine.begin() as conn:
                won = conn.execute(update(alerts).where(alerts.c.id == row.id, seen).values(
                    checked_version=version)).rowcount
            if won == 1:
                claimed.append((row.id, "refresh"))
        return claimed

    def claim_retries(self) -> list[int]:
        """The deliveries whose retry time has come, claimed by this caller; deliveries
        left "sending" by a worker that died fail, saying so."""
        now = self.clock()
        with self.engine.connect() as conn:
            waiting = conn.execute(select(alert_deliveries.c.id).where(
                alert_deliveries.c.status == "retrying", alert_deliveries.c.retry_at <= now)).scalars().all()
        claimed = []
        for delivery_id in waiting:
            with self.engine.begin() as conn:
                won = conn.execute(update(alert_deliveries).where(
                    alert_deliveries.c.id == delivery_id, alert_deliveries.c.status == "retrying",
                ).values(status="sending", claimed_by=self.worker, started_at=now)).rowcount
            if won == 1:
                claimed.append(delivery_id)
        with self.engine.begin() as conn:
            conn.execute(update(alert_deliveries).where(
                alert_deliveries.c.status == "sending", alert_deliveries.c.started_at < now - STALE_RUN,
            ).values(status="failed", error="The delivery was interrupted (the server stopped); it was not retried"))
        return claimed

    def tick(self) -> list[int]:
        """One scheduler round: the due checks and the due retries, here. Returns the ids of
        the checks made."""
        checks = []
        for alert_id, trigger in self.claim_due():
            try:
                with self.engine.connect() as conn:
                    row = self._row(conn, alert_id)
                check_id, deliveries = self._check(row, trigger)
                checks.append(check_id)
                for delivery_id in deliveries:
                    self._deliver(delivery_id)
            except Exception:  # noqa: BLE001 - one alert's failure must not stop the others
                log.exception("alert %s check failed", alert_id)
        for delivery_id in self.claim_retries():
            try:
                self._deliver(delivery_id)
            except Exception:  # noqa: BLE001
                log.exception("alert delivery %s failed", delivery_id)
        return checks


def _widget_title(widget: dict) -> str:
    spec = widget.get("spec") or {}
    return header_text(spec.get("title") or f"{spec.get('type', 'widget')} widget")


def _channel_summary(channels: list[dict]) -> list[str]:
    """The audit log's words for the channels: addresses, and webhooks by host only."""
    return [", ".join(c["to"]) if c["type"] == "email" else webhook_host(c["url"]) for c in channels]
