"""Report schedules: a dashboard's report mailed daily, weekly on chosen days or monthly,
at a time in a time zone, to a list of recipients, with the dashboard's filters set.

Editors of the dashboard's workspace manage its schedules; each runs as its owner (the
person who made it), so the report shows what the owner may see. A schedule whose
dashboard was deleted, or whose owner lost access, stops and records why.

Exactly once with several workers: the scheduler claims a due slot by moving the
schedule's ``next_run_at`` on in one UPDATE that names the old value (``WHERE id = :id
AND next_run_at = :old``); only the worker whose UPDATE changed a row runs it. Retries
are claimed the same way on the run row (``status = 'retrying'`` → ``'running'``).
Failures wait longer before each retry (RETRY_DELAYS) and show in the run history. A
failure that trying again cannot fix (no SMTP host set, a refused login or sender, a
refused connection, an unknown host, SMTP's permanent 5xx answers) fails the run at once
with that message; timeouts and SMTP's temporary 4xx answers are retried.
"""
from __future__ import annotations

import calendar
import datetime as dt
import json
import logging
import re
import smtplib
import socket
import ssl
import threading
from dataclasses import dataclass
from email.message import EmailMessage
from html import escape
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update

from analytics.names import check_name, header_text
from storage.audit import NO_AUDIT
from storage.database import as_utc, utcnow
from storage.errors import DataInsightError, Forbidden, InvalidInput, NotFound, RateLimited
from storage.jobs import this_worker
from storage.mail_log import SendLog
from storage.principal import Principal, Role
from storage.reports import check_options, check_timezone, report_summary_html
from storage.tables import dashboards as dashboards_table
from storage.tables import schedule_runs, schedules
from storage.workspaces import outside_message

log = logging.getLogger(__name__)

FREQUENCIES = ("daily", "weekly", "monthly")
SCHEDULE_FORMATS = ("pdf", "xlsx", "html", "zip", "pptx")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_RECIPIENTS = 50
MAX_SCHEDULES_PER_DASHBOARD = 50
RETRY_DELAYS = (60, 300, 1800)  # seconds before the 2nd, 3rd and 4th attempt
STALE_RUN = dt.timedelta(minutes=30)  # a run "running" longer than this was cut off
HISTORY = 20
_EMAIL = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
PAYLOAD_KEYS = {"name", "frequency", "days", "time", "timezone", "recipients", "format", "paper", "orientation",
                "filters", "enabled"}


class ScheduleStopped(Exception):
    """The schedule cannot run any more (dashboard deleted, owner without access)."""


# --- when ------------------------------------------------------------------------------


def next_run(frequency: str, days: list[int], time_of_day: str, timezone: str, after: dt.datetime) -> dt.datetime:
    """The first slot strictly after ``after`` (UTC), as an aware UTC datetime. A monthly
    day past the month's end runs on its last day; a local time skipped by a clock
    change runs an hour later, as zoneinfo resolves it."""
    zone = ZoneInfo(timezone)
    hour, minute = (int(p) for p in time_of_day.split(":"))
    if frequency == "hourly":  # at the time's minute past every hour (zones all share UTC's minutes but a few)
        local = after.astimezone(zone).replace(minute=minute, second=0, microsecond=0)
        while local.astimezone(dt.timezone.utc) <= after:
            local += dt.timedelta(hours=1)
        return local.astimezone(dt.timezone.utc)
    day = after.astimezone(zone).date()
    for _ in range(400):
        if frequency == "daily":
            wanted = True
        elif frequency == "weekly":
            wanted = day.weekday() in days
        else:
            last = calendar.monthrange(day.year, day.month)[1]
            wanted = day.day == min(days[0] if days else 1, last)
        if wanted:
            local = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
            when = local.astimezone(dt.timezone.utc)
            if when > after:
                return when
        day += dt.timedelta(days=1)
    raise InvalidInput("This schedule never runs; check its days")


def check_timing(merged: dict, frequencies: tuple[str, ...] = FREQUENCIES) -> tuple[str, list[int], str, str]:
    """(frequency, days, time, timezone) of a schedule's payload, checked: the timing of
    report schedules, and of alert checks (which may also run hourly, at the time's minute)."""
    frequency = merged.get("frequency") or "weekly"
    if frequency not in frequencies:
        raise InvalidInput(f"Unknown frequency {frequency!r}; choose {', '.join(frequencies[:-1])} or "
                           f"{frequencies[-1]}")
    days = merged.get("days")
    if frequency in ("daily", "hourly"):
        days = []
    elif frequency == "weekly":
        if not isinstance(days, list) or not days or not all(isinstance(d, int) and 0 <= d <= 6 for d in days):
            raise InvalidInput("A weekly schedule needs its days: a list of 0 (Monday) to 6 (Sunday)")
        days = sorted(set(days))
    else:
        if isinstance(days, int):
            days = [days]
        if not isinstance(days, list) or len(days) != 1 or not isinstance(days[0], int) or not 1 <= days[0] <= 31:
            raise InvalidInput("A monthly schedule needs its day of the month: [1] to [31]")
    time_of_day = merged.get("time") or "08:00"
    if not isinstance(time_of_day, str) or not _TIME.match(time_of_day):
        raise InvalidInput("The time must be HH:MM on a 24-hour clock, such as 08:00")
    return frequency, days, time_of_day, check_timezone(merged.get("timezone") or "UTC")


def describe(schedule: dict) -> str:
    """'Weekly on Mon, Thu at 08:00 Europe/Paris' for lists and emails."""
    when = f"at {schedule['time']} {schedule['timezone']}"
    if schedule["frequency"] == "hourly":
        return f"Hourly at {schedule['time'][3:]} minutes past"
    if schedule["frequency"] == "daily":
        return f"Daily {when}"
    if schedule["frequency"] == "weekly":
        return f"Weekly on {', '.join(WEEKDAYS[d] for d in schedule['days'])} {when}"
    return f"Monthly on day {schedule['days'][0]} {when}"


# --- mail ------------------------------------------------------------------------------


MAIL_NOT_SET_UP = ("Email is not set up on this server, so schedules cannot send anything: an administrator "
                   "sets DATAINSIGHT_SMTP_HOST (and _PORT, _FROM, _USER, _PASSWORD, _TLS as needed) and restarts "
                   "DataInsight. Schedules are kept until then.")


@dataclass(frozen=True)
class Mailer:
    """SMTP delivery from the DATAINSIGHT_SMTP_* settings."""

    host: str | None = None
    port: int = 25
    user: str | None = None
    password: str | None = None
    sender: str = "datainsight@localhost"
    tls: bool = False
    timeout: float = 30

    @classmethod
    def from_settings(cls, settings) -> "Mailer":
        return cls(settings.smtp_host, settings.smtp_port, settings.smtp_user, settings.smtp_password,
                   settings.smtp_from, settings.smtp_tls)

    def problem(self) -> str | None:
        """Why no mail can be sent with these settings (known without trying), or None."""
        return None if self.host else MAIL_NOT_SET_UP

    def send(self, recipients: list[str], subject: str, html_body: str, text_body: str,
             attachment: tuple[str, str, bytes] | None = None, inline_png: tuple[str, bytes] | None = None) -> None:
        """``inline_png``: (content id, PNG) shown in the HTML as <img src="cid:...">."""
        if self.problem():
            raise MailError(self.problem(), permanent=True)
        message = EmailMessage()
        message["Subject"] = header_text(subject, 300)  # a stored name may hold CR/LF: one line, always
        message["From"] = self.sender
        message["To"] = ", ".join(recipients)
        message.set_content(text_body)
        message.add_alternative(html_body, subtype="html")
        if inline_png:
            cid, png = inline_png
            message.get_payload()[1].add_related(png, maintype="image", subtype="png", cid=f"<{cid}>",
                                                 filename=f"{cid}.png")
        if attachment:
            filename, mimetype, content = attachment
            maintype, _, subtype = mimetype.split(";")[0].partition("/")
            message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
        try:
            if self.tls and self.port == 465:
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                          context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.tls and self.port != 465:
                    client.starttls(context=ssl.create_default_context())
                if self.user:
                    client.login(self.user, self.password or "")
                client.send_message(message)
        except (OSError, smtplib.SMTPException) as exc:
            reason, permanent = self._explain(exc)
            if permanent:
                raise MailError(f"Not sent, and not retried: {reason}. Sending cannot work until the server's email "
                                "settings (DATAINSIGHT_SMTP_*) or the schedule are corrected; then use Send now.",
                                permanent=True) from None
            raise MailError(f"The mail server {self.host}:{self.port} failed for now: {reason}") from None

    def _explain(self, exc: Exception) -> tuple[str, bool]:
        """(what went wrong, in words; whether it is permanent: trying again later cannot
        help because the settings are wrong). Timeouts, dropped connections and SMTP's 4xx
        answers are transient; 5xx answers, refused connections, unknown hosts, refused
        logins and TLS failures are not."""
        where = f"{self.host}:{self.port}"
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return (f"the mail server {where} refused the user name or password "
                    f"(DATAINSIGHT_SMTP_USER, _PASSWORD): {_smtp_message(exc)}", True)
        if isinstance(exc, smtplib.SMTPSenderRefused):
            return (f"the mail server {where} refused the sender address {self.sender} (DATAINSIGHT_SMTP_FROM): "
                    f"{_smtp_message(exc)}", exc.smtp_code >= 500)
        if isinstance(exc, smtplib.SMTPRecipientsRefused):
            codes = [code for code, _ in exc.recipients.values()]
            refused = ", ".join(f"{address} ({code} {_decode(text)})" for address, (code, text)
                                in list(exc.recipients.items())[:5])
            return f"the mail server {where} refused every recipient: {refused}"[:400], all(c >= 500 for c in codes)
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return (f"the mail server {where} does not offer what the settings ask for ({exc}); check "
                    "DATAINSIGHT_SMTP_TLS and _USER", True)
        if isinstance(exc, smtplib.SMTPResponseException):
            return f"the mail server {where} answered {_smtp_message(exc)}", exc.smtp_code >= 500
        if isinstance(exc, ConnectionRefusedError):
            return (f"nothing accepts connections at {where}; check DATAINSIGHT_SMTP_HOST and _PORT", True)
        if isinstance(exc, socket.gaierror):
            return (f"the mail server's name {self.host!r} could not be resolved ({exc.strerror or exc}); check "
                    "DATAINSIGHT_SMTP_HOST", exc.errno != socket.EAI_AGAIN)
        if isinstance(exc, ssl.SSLError):
            return (f"the TLS connection to {where} failed ({exc.reason or exc}); check DATAINSIGHT_SMTP_TLS and "
                    "_PORT", True)
        if isinstance(exc, TimeoutError) or (isinstance(exc, smtplib.SMTPServerDisconnected)
                                             and "timed out" in str(exc)):  # smtplib's word for a read timeout
            return f"the mail server {where} did not answer within {self.timeout:g} s", False
        if isinstance(exc, smtplib.SMTPServerDisconnected):
            return f"the mail server {where} closed the connection ({exc})", False
        return f"{type(exc).__name__}: {_smtp_message(exc)}", False


class MailError(DataInsightError):
    """A send that failed. ``permanent``: it cannot succeed until the server's mail settings
    (or the schedule's addresses) change, so it is not retried."""

    code = "mail_failed"
    status = 502

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def build_failure(exc: Exception) -> str:
    """What an unexpected failure while building or sending a report was, for the run
    history and the mail log: its kind and its own words, not only "see the log"."""
    return header_text(f"The report could not be built: {type(exc).__name__}: {exc}", 500)


def _decode(text) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _smtp_message(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_decode(exc.smtp_error)}"[:300]
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "every recipient was refused"
    return (str(exc) or type(exc).__name__)[:300]


# --- the service -------------------------------------------------------------------------


class ScheduleService:
    audit = NO_AUDIT  # Storage gives it the real AuditLog

    def __init__(self, engine, workspaces, dashboards, users, reports, jobs, mailer: Mailer | None = None,
                 clock=utcnow):
        self.engine = engine
        self.workspaces = workspaces
        self.dashboards = dashboards
        self.users = users
        self.reports = reports
        self.jobs = jobs
        self.mailer = mailer or Mailer()
        self.clock = clock
        self.retry_delays = RETRY_DELAYS
        self.worker = this_worker()
        # Every send is logged there, and its hourly limits count there (the same clock).
        self.sends = SendLog(engine, workspaces, clock=lambda: self.clock())

    # --- access ---------------------------------------------------------------------------

    def _editable_board(self, principal: Principal, dashboard_id) -> dict:
        board = self.dashboards.get(principal, dashboard_id)  # NotFound for non-members
        with self.engine.connect() as conn:
            self.workspaces.require_role(conn, principal, board["workspace_id"], Role.EDITOR)
        return board

    def _row(self, conn, schedule_id):
        try:
            schedule_id = int(schedule_id)
        except (TypeError, ValueError):
            raise NotFound(f"There is no schedule {schedule_id!r}") from None
        return conn.execute(select(schedules).where(schedules.c.id == schedule_id)).first()

    def _editable(self, principal: Principal, schedule_id):
        with self.engine.connect() as conn:
            row = self._row(conn, schedule_id)
            if row is None:
                raise NotFound(f"There is no schedule {schedule_id} that you can see")
            try:
                self.workspaces.require_role(conn, principal, row.workspace_id, Role.VIEWER)
            except NotFound:
                raise NotFound(f"There is no schedule {schedule_id} that you can see") from None
            self.workspaces.require_role(conn, principal, row.workspace_id, Role.EDITOR)
        return row

    # --- reading --------------------------------------------------------------------------

    @staticmethod
    def _to_dict(row) -> dict:
        out = {
            "id": row.id, "dashboard_id": row.dashboard_id, "workspace_id": row.workspace_id, "owner_id": row.owner_id,
            "name": row.name, "frequency": row.frequency, "days": json.loads(row.days_json), "time": row.time_of_day,
            "timezone": row.timezone, "recipients": json.loads(row.recipients_json), "format": row.format,
            "paper": row.paper, "orientation": row.orientation, "filters": json.loads(row.filters_json),
            "enabled": bool(row.enabled), "stop_reason": row.stop_reason,
            "next_run_at": as_utc(row.next_run_at).isoformat() if row.next_run_at and row.enabled else None,
            "created_at": as_utc(row.created_at).isoformat(), "updated_at": as_utc(row.updated_at).isoformat(),
        }
        out["description"] = describe(out)
        return out

    @staticmethod
    def _run_dict(row) -> dict:
        def iso(value):
            return as_utc(value).isoformat() if value else None

        return {"id": row.id, "schedule_id": row.schedule_id, "due_at": iso(row.due_at), "trigger": row.trigger,
                "status": row.status, "attempts": row.attempts, "error": row.error, "retry_at": iso(row.retry_at),
                "started_at": iso(row.started_at), "sent_at": iso(row.sent_at), "pages": row.pages,
                "size_bytes": row.size_bytes, "note": row.note}

    def list(self, principal: Principal, dashboard_id) -> list[dict]:
        board = self._editable_board(principal, dashboard_id)
        with self.engine.connect() as conn:
            rows = conn.execute(select(schedules).where(schedules.c.dashboard_id == board["id"])
                                .order_by(schedules.c.id)).all()
        return self._with_last_runs([self._to_dict(r) for r in rows])

    def get(self, principal: Principal, schedule_id) -> dict:
        return self._with_last_runs([self._to_dict(self._editable(principal, schedule_id))])[0]

    def _with_last_runs(self, found: list[dict]) -> list[dict]:
        """Each schedule with ``last_run`` ({"status", "error", "note", ...} or None), so its
        status says why its latest send failed without opening the history."""
        if not found:
            return found
        latest = (select(func.max(schedule_runs.c.id)).where(schedule_runs.c.schedule_id.in_([s["id"] for s in found]))
                  .group_by(schedule_runs.c.schedule_id))
        with self.engine.connect() as conn:
            runs = {r.schedule_id: self._run_dict(r)
                    for r in conn.execute(select(schedule_runs).where(schedule_runs.c.id.in_(latest))).all()}
        return [{**s, "last_run": runs.get(s["id"])} for s in found]

    def runs(self, principal: Principal, schedule_id, limit: int = HISTORY) -> list[dict]:
        row = self._editable(principal, schedule_id)
        with self.engine.connect() as conn:
            rows = conn.execute(select(schedule_runs).where(schedule_runs.c.schedule_id == row.id)
                                .order_by(schedule_runs.c.id.desc()).limit(limit)).all()
        return [self._run_dict(r) for r in rows]

    # --- changing -------------------------------------------------------------------------

    def _clean(self, payload: dict, board: dict, current: dict | None = None) -> dict:
        if not isinstance(payload, dict):
            raise InvalidInput("A schedule must be a JSON object")
        unknown = sorted(set(payload) - PAYLOAD_KEYS - {"id", "dashboard_id", "workspace_id", "owner_id",
                                                         "stop_reason", "next_run_at", "created_at", "updated_at",
                                                         "description", "last_run"})
        if unknown:
            raise InvalidInput(f"Unknown schedule field {unknown[0]!r}")
        merged = {**(current or {}), **payload}
        # A dashboard name saved before names were checked may hold a line break.
        name = check_name(merged.get("name") or f"{header_text(board['name'])} report", "schedule name",
                          field="name")
        frequency, days, time_of_day, timezone = check_timing(merged)
        recipients = merged.get("recipients")
        if isinstance(recipients, str):
            recipients = [r for r in re.split(r"[,;\s]+", recipients) if r]
        if not isinstance(recipients, list) or not recipients:
            raise InvalidInput("Add at least one recipient's email address")
        if len(recipients) > MAX_RECIPIENTS:
            raise InvalidInput(f"A schedule mails at most {MAX_RECIPIENTS} recipients")
        for address in recipients:
            if not isinstance(address, str) or not _EMAIL.match(address.strip()) or len(address) > 320:
                raise InvalidInput(f"{address!r} is not an email address")
        recipients = list(dict.fromkeys(a.strip() for a in recipients))
        if current is None or "recipients" in payload:  # pausing a schedule does not re-ask; its sends check
            outside = self.workspaces.recipients_outside(board["workspace_id"], recipients)
            if outside:
                raise InvalidInput(outside_message(outside), details={"field": "recipients"})
        fmt = merged.get("format") or "pdf"
        if fmt not in SCHEDULE_FORMATS:
            raise InvalidInput(f"Unknown format {fmt!r}; a schedule sends pdf, xlsx, html, zip or pptx")
        _fmt, paper, orientation = check_options(fmt, merged.get("paper"), merged.get("orientation"), None)
        filters = merged.get("filters") or {}
        if not isinstance(filters, dict):
            raise InvalidInput("The filters must be an object {filter id: value}, as in the dashboard's link")
        known = {f["id"] for f in board.get("filters") or []}
        for fid, value in filters.items():
            if fid not in known:
                raise InvalidInput(f"The dashboard has no filter {fid!r}")
            if value is not None and not isinstance(value, list):
                raise InvalidInput(f"The value of filter {fid!r} must be a list or null")
        enabled = merged.get("enabled", True)
        if not isinstance(enabled, bool):
            raise InvalidInput("enabled must be true or false")
        return {"name": name, "frequency": frequency, "days_json": json.dumps(days), "time_of_day": time_of_day,
                "timezone": timezone, "recipients_json": json.dumps(recipients), "format": fmt, "paper": paper,
                "orientation": orientation, "filters_json": json.dumps(filters), "enabled": enabled}

    def _next(self, values: dict) -> dt.datetime | None:
        if not values["enabled"]:
            return None
        return next_run(values["frequency"], json.loads(values["days_json"]), values["time_of_day"],
                        values["timezone"], self.clock())

    def create(self, principal: Principal, dashboard_id, payload: dict) -> dict:
        board = self._editable_board(principal, dashboard_id)
        values = self._clean(payload, board)
        now = self.clock()
        with self.engine.begin() as conn:
            count = conn.execute(select(schedules.c.id).where(schedules.c.dashboard_id == board["id"])).all()
            if len(count) >= MAX_SCHEDULES_PER_DASHBOARD:
                raise InvalidInput(f"A dashboard has at most {MAX_SCHEDULES_PER_DASHBOARD} schedules")
            schedule_id = conn.execute(insert(schedules).values(
                dashboard_id=board["id"], workspace_id=board["workspace_id"], owner_id=principal.user_id,
                stop_reason=None, next_run_at=self._next(values), created_at=now, updated_at=now, **values,
            ).returning(schedules.c.id)).scalar_one()
        self.audit.record(principal, "schedule.created", target_type="schedule", target_id=schedule_id,
                          target_name=values.get("name"), workspace_id=board["workspace_id"], dashboard_id=board["id"],
                          recipients=values.get("recipients_json"))
        return {**self.get(principal, schedule_id), "warning": self.mail_warning()}

    def mail_warning(self) -> str | None:
        """Why this server cannot mail anything (no SMTP host set), or None. Saving a
        schedule is still allowed (it waits for the settings), but the form and the API's
        answer say it, and a run fails at once with this message rather than retrying."""
        return self.mailer.problem()

    def update(self, principal: Principal, schedule_id, patch: dict) -> dict:
        row = self._editable(principal, schedule_id)
        if row.dashboard_id is None:
            raise InvalidInput("This schedule's dashboard was deleted; delete the schedule")
        board = self._editable_board(principal, row.dashboard_id)
        current = self._to_dict(row)
        values = self._clean(patch, board, current)
        with self.engine.begin() as conn:
            # Saving makes the editor its owner: it runs with what they can see from now on.
            conn.execute(update(schedules).where(schedules.c.id == row.id).values(
                owner_id=principal.user_id, stop_reason=None if values["enabled"] else row.stop_reason,
                next_run_at=self._next(values), updated_at=self.clock(), **values))
        self.audit.record(principal, "schedule.changed", target_type="schedule", target_id=row.id,
                          target_name=values.get("name", row.name), workspace_id=row.workspace_id,
                          dashboard_id=row.dashboard_id, fields=sorted(patch) if isinstance(patch, dict) else None)
        return {**self.get(principal, row.id), "warning": self.mail_warning()}

    def delete(self, principal: Principal, schedule_id) -> None:
        row = self._editable(principal, schedule_id)
        with self.engine.begin() as conn:
            conn.execute(schedule_runs.delete().where(schedule_runs.c.schedule_id == row.id))
            conn.execute(schedules.delete().where(schedules.c.id == row.id))
        self.audit.record(principal, "schedule.deleted", target_type="schedule", target_id=row.id, target_name=row.name,
                          workspace_id=row.workspace_id, dashboard_id=row.dashboard_id)

    def send_now(self, principal: Principal, schedule_id, background: bool = True) -> dict:
        """Send the report at once (as the schedule's owner), recorded in its history;
        in a background job unless ``background`` is False, or when email is not set up
        (the run then fails at once and the caller shows why). Returns the run."""
        row = self._editable(principal, schedule_id)
        if row.dashboard_id is None:
            raise InvalidInput("This schedule's dashboard was deleted")
        # Logged and counted before anything runs: over the hour's limit it is RateLimited
        # here (429 in the API), and no run is made.
        log_id = self.sends.start(row, "manual", requested_by=principal.user_id, sent_as=row.owner_id)
        self.audit.record(principal, "schedule.sent_now", target_type="schedule", target_id=row.id,
                          target_name=row.name, workspace_id=row.workspace_id, dashboard_id=row.dashboard_id)
        now = self.clock()
        with self.engine.begin() as conn:
            run_id = conn.execute(insert(schedule_runs).values(
                schedule_id=row.id, due_at=now, trigger="manual", status="running", attempts=0,
                claimed_by=self.worker, started_at=now).returning(schedule_runs.c.id)).scalar_one()
        if background and self.mail_warning() is None:
            self.jobs.start(principal, "schedule_send", row.workspace_id, {"run_id": run_id, "log_id": log_id},
                            message="Sending")
        else:
            self._attempt(run_id, log_id)
        return self.run(principal, run_id)

    def run(self, principal: Principal, run_id) -> dict:
        with self.engine.connect() as conn:
            found = conn.execute(select(schedule_runs).where(schedule_runs.c.id == int(run_id))).first()
        if found is None:
            raise NotFound(f"There is no run {run_id}")
        self._editable(principal, found.schedule_id)
        return self._run_dict(found)

    # --- the scheduler's side -------------------------------------------------------------------

    def claim_due(self) -> list[int]:
        """Claim every slot that is due and every retry whose time has come; returns the
        run ids this caller now owns (another worker's claims are not among them)."""
        now = self.clock()
        claimed = []
        with self.engine.connect() as conn:
            due = conn.execute(select(schedules.c.id, schedules.c.next_run_at, schedules.c.frequency,
                                      schedules.c.days_json, schedules.c.time_of_day, schedules.c.timezone)
                               .where(schedules.c.enabled.is_(True), schedules.c.next_run_at <= now)).all()
            retries = conn.execute(select(schedule_runs.c.id).where(
                schedule_runs.c.status == "retrying", schedule_runs.c.retry_at <= now)).scalars().all()
        for row in due:
            following = next_run(row.frequency, json.loads(row.days_json), row.time_of_day, row.timezone,
                                 max(now, as_utc(row.next_run_at)))
            with self.engine.begin() as conn:
                won = conn.execute(update(schedules).where(
                    schedules.c.id == row.id, schedules.c.enabled.is_(True), schedules.c.next_run_at == row.next_run_at,
                ).values(next_run_at=following, updated_at=now)).rowcount
                if won == 1:
                    claimed.append(conn.execute(insert(schedule_runs).values(
                        schedule_id=row.id, due_at=as_utc(row.next_run_at), trigger="schedule", status="running",
                        attempts=0, claimed_by=self.worker, started_at=now).returning(schedule_runs.c.id)).scalar_one())
        for run_id in retries:
            with self.engine.begin() as conn:
                won = conn.execute(update(schedule_runs).where(
                    schedule_runs.c.id == run_id, schedule_runs.c.status == "retrying",
                ).values(status="running", claimed_by=self.worker)).rowcount
            if won == 1:
                claimed.append(run_id)
        with self.engine.begin() as conn:  # runs of a worker that died mid-way
            conn.execute(update(schedule_runs).where(
                schedule_runs.c.status == "running", schedule_runs.c.started_at < now - STALE_RUN,
            ).values(status="failed", error="The run was interrupted (the server stopped); it was not retried"))
        self.sends.fail_stale()
        return claimed

    def tick(self) -> list[int]:
        """One scheduler round: claim what is due and run it here. Returns the run ids."""
        claimed = self.claim_due()
        for run_id in claimed:
            try:
                self._attempt(run_id)
            except Exception:  # noqa: BLE001 - one schedule's failure must not stop the others
                log.exception("schedule run %s failed", run_id)
        return claimed

    def _stop(self, schedule_id: int, reason: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(schedules).where(schedules.c.id == schedule_id).values(
                enabled=False, stop_reason=reason, next_run_at=None, updated_at=self.clock()))

    def _owner_principal(self, row) -> Principal:
        """The owner as the report's reader, or ScheduleStopped saying why not."""
        if row.dashboard_id is None:
            raise ScheduleStopped("The dashboard was deleted, so this schedule stopped")
        with self.engine.connect() as conn:
            exists = conn.execute(select(dashboards_table.c.id).where(dashboards_table.c.id == row.dashboard_id)).first()
        if exists is None:
            raise ScheduleStopped("The dashboard was deleted, so this schedule stopped")
        owner = self.users.get(row.owner_id) if row.owner_id is not None else None
        if owner is None or not owner.is_active:
            raise ScheduleStopped("The schedule's owner no longer has an active account; an editor can save the "
                                  "schedule to take it over")
        principal = owner.principal(via="schedule")
        try:
            self._editable_board(principal, row.dashboard_id)
        except (NotFound, Forbidden):
            raise ScheduleStopped(f"The schedule's owner ({owner.email}) no longer has edit access to the "
                                  "dashboard; an editor can save the schedule to take it over") from None
        return principal

    def _attempt(self, run_id: int, log_id: int | None = None) -> dict:
        """One attempt at a claimed run: build the report as the owner and mail it to the
        recipients the workspace still allows. ``log_id``: the mail log's row of a Send
        now (written and counted before the run was made); a scheduled attempt writes its
        own, and over the hour's limit waits for it rather than failing."""
        with self.engine.connect() as conn:
            run = conn.execute(select(schedule_runs).where(schedule_runs.c.id == run_id)).first()
            row = conn.execute(select(schedules).where(schedules.c.id == run.schedule_id)).first()
        attempts = run.attempts + 1
        try:
            principal = self._owner_principal(row)
        except ScheduleStopped as stopped:
            self._stop(row.id, str(stopped))
            return self._end(run_id, log_id, "failed", attempts=attempts, error=str(stopped))
        if log_id is None:
            try:
                log_id = self.sends.start(row, "schedule", requested_by=None, sent_as=row.owner_id)
            except RateLimited as limited:  # not an attempt: the slot waits until the hour allows it
                return self._end(run_id, None, "retrying", attempts=run.attempts, error=limited.message,
                                 retry_at=self.clock() + dt.timedelta(seconds=limited.retry_after))
        if self.mail_warning():  # nothing can be sent: fail now, without building the report
            return self._end(run_id, log_id, "failed", attempts=attempts, error=self.mail_warning())
        wanted = json.loads(row.recipients_json)
        skipped = self.workspaces.recipients_outside(row.workspace_id, wanted)
        recipients = [a for a in wanted if a not in skipped]
        note = f"Not sent to {outside_message(skipped)}" if skipped else None
        if not recipients:
            return self._end(run_id, log_id, "failed", log_status="refused", attempts=attempts, error=note,
                             recipients=[], skipped=skipped)
        built = None
        try:
            schedule = self._to_dict(row)
            report = self.reports.collect(principal, row.dashboard_id, {"filters": schedule["filters"]},
                                          schedule["timezone"], now=self.clock())
            built = self.reports.build(report, row.format, row.paper, row.orientation)
            subject = f"{report['title']} · {report['generated_at']:%Y-%m-%d}"
            # What the attachment holds of each table, in the words of the download dialog.
            tables = [t["text"] for t in built.stats.get("tables") or []]
            text = (f"{report['title']}\n{schedule['description']}\n\nThe report is attached "
                    f"({built.filename}).\n" + "".join(f"{line}\n" for line in tables))
            html = (report_summary_html(report)
                    + "".join(f"<p style='font-family:sans-serif;color:#555'>{escape(line)}</p>" for line in tables)
                    + f"<p style='font-family:sans-serif;color:#888'>{describe(schedule)}</p>")
            self.mailer.send(recipients, subject, html, text, (built.filename, built.mimetype, built.content))
        except Exception as exc:  # noqa: BLE001 - recorded in the run history and the mail log, retried
            message = exc.message if isinstance(exc, DataInsightError) else build_failure(exc)
            if not isinstance(exc, DataInsightError):
                log.exception("schedule %s run %s failed", row.id, run_id)
            retry_at = None
            # Wrong settings (a permanent mail error) would fail again; anything else is retried.
            if not (isinstance(exc, MailError) and exc.permanent) and attempts <= len(self.retry_delays):
                retry_at = self.clock() + dt.timedelta(seconds=self.retry_delays[attempts - 1])
            return self._end(run_id, log_id, "retrying" if retry_at else "failed", log_status="failed",
                             attempts=attempts, error=message, retry_at=retry_at, note=note, recipients=recipients,
                             skipped=skipped)
        finally:
            if built is not None:
                built.discard()  # an Excel or ZIP report's temp file
        return self._end(run_id, log_id, "sent", attempts=attempts, sent_at=self.clock(), note=note,
                         pages=built.stats.get("pages"), size_bytes=built.stats.get("bytes"), recipients=recipients,
                         skipped=skipped)

    def _end(self, run_id: int, log_id: int | None, status: str, *, log_status: str | None = None,
             error: str | None = None, retry_at=None, recipients: list[str] | None = None,
             skipped: list[str] | None = None, **values) -> dict:
        """Record how an attempt ended, in the run history and in the mail log."""
        self._finish_run(run_id, status=status, error=error, retry_at=retry_at, **values)
        if log_id is not None:
            self.sends.finish(log_id, log_status or status, error=error, recipients=recipients, skipped=skipped)
        return {"status": status, "error": error}

    def _finish_run(self, run_id: int, **values) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(schedule_runs).where(schedule_runs.c.id == run_id).values(**values))


class Scheduler:
    """The thread that runs due schedules and alert checks: one ``tick`` of each service
    every ``interval`` seconds. Any number of these (threads or worker processes) may run
    at once; the database claims give each run to one of them."""

    def __init__(self, *services, interval: float = 30.0):
        self.services = services
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Scheduler":
        self._thread = threading.Thread(target=self._loop, name="datainsight-scheduler", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            for service in self.services:
                try:
                    service.tick()
                except Exception:  # noqa: BLE001 - the loop must survive a bad round (database busy...)
                    log.exception("scheduler round of %s failed", type(service).__name__)
            self._stop.wait(self.interval)

    def stop(self, timeout: float = 10) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
