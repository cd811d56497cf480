"""Report schedules: when they run, access, exactly-once delivery to a real (local) SMTP
server with two schedulers racing, retries with backoff and a visible failure, and
schedules that stop and say why."""
from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest

from storage.errors import Forbidden, InvalidInput, NotFound
from storage.schedules import Mailer, Scheduler, ScheduleService, next_run
from tests.conftest import PASSWORD, Clock
from tests.smtp_server import SmtpServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
UTC = dt.timezone.utc


@pytest.fixture
def ada(storage):
    return storage.users.create_first_admin("ada@example.com", PASSWORD, "Ada").principal()


@pytest.fixture
def bob(storage, ada):
    return storage.users.create_user(ada, "bob@example.com", PASSWORD, "Bob").principal()


@pytest.fixture
def clock(storage):
    clock = Clock(dt.datetime(2026, 11, 23, 7, 0, tzinfo=UTC))  # a Monday
    storage.schedules.clock = clock
    return clock


@pytest.fixture
def board(storage, ada):
    workspace = storage.workspaces.personal_workspace(ada).id
    # The tests mail team@ and boss@example.com, who are not members (issue 18, point 10).
    storage.workspaces.set_allowed_domains(ada, workspace, ["example.com"])
    vg = storage.datasets.create_from_file(ada, workspace, FIXTURES / "vgsales.csv", "vgsales.csv")
    return storage.dashboards.create(ada, workspace, {
        "name": "Weekly sales", "widgets": [
            {"id": "k", "spec": {"type": "kpi", "dataset_id": vg.id, "title": "Global sales", "y": "Global_Sales",
                                 "agg": "sum", "number_format": "decimal"}},
            {"id": "b", "spec": {"type": "bar", "dataset_id": vg.id, "title": "By genre", "x": "Genre",
                                 "y": "Global_Sales", "agg": "sum"}}],
        "filters": [{"id": "genre", "column": "Genre", "kind": "multi_select", "value": None}]})


def weekly(**changes):
    return {"name": "Monday report", "frequency": "weekly", "days": [0, 3], "time": "08:30",
            "timezone": "Europe/Paris", "recipients": ["team@example.com", "boss@example.com"], "format": "pdf",
            **changes}


def test_next_run_daily_weekly_monthly_in_a_time_zone():
    monday_7utc = dt.datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    # 08:30 in Paris is 07:30 UTC in winter.
    assert next_run("daily", [], "08:30", "Europe/Paris", monday_7utc) == dt.datetime(2026, 11, 23, 7, 30, tzinfo=UTC)
    assert next_run("weekly", [3], "08:30", "Europe/Paris", monday_7utc) == dt.datetime(2026, 11, 26, 7, 30, tzinfo=UTC)
    assert next_run("monthly", [31], "00:00", "UTC", monday_7utc) == dt.datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    assert next_run("monthly", [1], "09:00", "America/New_York", monday_7utc) == dt.datetime(2026, 12, 1, 14, 0,
                                                                                            tzinfo=UTC)
    # Summer time: 08:30 in Paris is 06:30 UTC.
    assert next_run("daily", [], "08:30", "Europe/Paris", dt.datetime(2026, 7, 1, 12, tzinfo=UTC)) == \
        dt.datetime(2026, 7, 2, 6, 30, tzinfo=UTC)


def test_create_checks_the_fields_and_access(storage, ada, bob, clock, board):
    made = storage.schedules.create(ada, board["id"], weekly())
    assert made["days"] == [0, 3] and made["recipients"] == ["team@example.com", "boss@example.com"]
    assert made["next_run_at"] == "2026-11-23T07:30:00+00:00"
    assert made["description"] == "Weekly on Mon, Thu at 08:30 Europe/Paris"
    for bad, message in [({"frequency": "hourly"}, "daily, weekly or monthly"), ({"days": [7]}, "0 \\(Monday\\)"),
                         ({"time": "25:00"}, "HH:MM"), ({"timezone": "Mars/Base"}, "Unknown time zone"),
                         ({"recipients": ["not-an-address"]}, "not an email address"),
                         ({"format": "docx"}, "pdf, xlsx, html, zip or pptx"), ({"filters": {"nope": ["x"]}}, "no filter"),
                         ({"paper": "a3"}, "a4 or letter")]:
        with pytest.raises(InvalidInput, match=message):
            storage.schedules.create(ada, board["id"], weekly(**bad))
    with pytest.raises(NotFound):  # another workspace: not even there
        storage.schedules.create(bob, board["id"], weekly())
    with pytest.raises(NotFound):
        storage.schedules.get(bob, made["id"])
    with pytest.raises(NotFound):
        storage.schedules.send_now(bob, made["id"], background=False)
    storage.workspaces.add_member(ada, board["workspace_id"], "bob@example.com", "viewer")
    with pytest.raises(Forbidden):  # a viewer sees the dashboard but cannot manage its mail
        storage.schedules.list(bob, board["id"])
    changed = storage.schedules.update(ada, made["id"], {"frequency": "monthly", "days": [15]})
    assert changed["description"] == "Monthly on day 15 at 08:30 Europe/Paris"
    assert changed["next_run_at"] == "2026-12-15T07:30:00+00:00"
    storage.schedules.delete(ada, made["id"])
    assert storage.schedules.list(ada, board["id"]) == []


def test_due_schedule_is_sent_once_with_two_schedulers_racing(storage, ada, clock, board):
    made = storage.schedules.create(ada, board["id"], weekly(filters={"genre": ["Action", "Sports"]}))
    other_worker = ScheduleService(storage.engine, storage.workspaces, storage.dashboards, storage.users,
                                   storage.reports, storage.jobs, clock=clock)
    other_worker.worker = "elsewhere:1"
    with SmtpServer() as smtp:
        mailer = Mailer("127.0.0.1", smtp.port, sender="reports@example.com")
        storage.schedules.mailer = other_worker.mailer = mailer
        assert storage.schedules.tick() == []  # not due yet (07:00 < 07:30)
        clock.now = dt.datetime(2026, 11, 23, 7, 31, tzinfo=UTC)
        barrier = threading.Barrier(2)
        claimed = []

        def race(service):
            barrier.wait()
            claimed.append(service.tick())

        threads = [threading.Thread(target=race, args=(s,)) for s in (storage.schedules, other_worker)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert sorted(len(c) for c in claimed) == [0, 1]
        assert len(smtp.inbox.messages) == 1
        received = smtp.inbox.messages[0]
    assert sorted(received["to"]) == ["boss@example.com", "team@example.com"]
    message = received["message"]
    assert message["Subject"].startswith("Weekly sales · 2026-11-23") and message["From"] == "reports@example.com"
    html = message.get_body(("html",)).get_content()
    assert "Global sales" in html and "Genre: Action, Sports" in html
    attachments = list(message.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["Weekly sales.pdf"]
    assert attachments[0].get_content_type() == "application/pdf"
    assert attachments[0].get_content().startswith(b"%PDF-")
    runs = storage.schedules.runs(ada, made["id"])
    assert [(r["status"], r["attempts"], r["trigger"]) for r in runs] == [("sent", 1, "schedule")]
    assert runs[0]["pages"] >= 2 and runs[0]["sent_at"]
    # The slot moved on to Thursday; ticking again sends nothing more.
    assert storage.schedules.get(ada, made["id"])["next_run_at"] == "2026-11-26T07:30:00+00:00"
    assert storage.schedules.tick() == [] and other_worker.tick() == []


def test_failing_smtp_retries_with_backoff_then_fails_visibly(storage, ada, clock, board):
    made = storage.schedules.create(ada, board["id"], weekly(format="xlsx"))
    storage.schedules.retry_delays = (60, 300)
    start = dt.datetime(2026, 11, 23, 7, 31, tzinfo=UTC)
    with SmtpServer(refuse=True) as smtp:
        storage.schedules.mailer = Mailer("127.0.0.1", smtp.port)
        clock.now = start
        assert len(storage.schedules.tick()) == 1
        run = storage.schedules.runs(ada, made["id"])[0]
        assert (run["status"], run["attempts"]) == ("retrying", 1)
        assert "451" in run["error"] and "temporarily unavailable" in run["error"]
        assert run["retry_at"] == "2026-11-23T07:32:00+00:00"
        clock.now = start + dt.timedelta(seconds=30)
        assert storage.schedules.tick() == []  # backing off
        clock.now = start + dt.timedelta(seconds=61)
        assert len(storage.schedules.tick()) == 1
        run = storage.schedules.runs(ada, made["id"])[0]
        assert (run["status"], run["attempts"], run["retry_at"]) == ("retrying", 2, "2026-11-23T07:37:01+00:00")
        clock.now = start + dt.timedelta(seconds=400)
        storage.schedules.tick()
        assert smtp.inbox.refused == 3
    runs = storage.schedules.runs(ada, made["id"])
    assert [(r["status"], r["attempts"]) for r in runs] == [("failed", 3)]
    assert "451" in runs[0]["error"]
    assert storage.schedules.get(ada, made["id"])["enabled"]  # a mail failure does not stop the schedule


def test_no_smtp_settings_warn_on_save_and_fail_at_once_without_retrying(storage, ada, clock, board):
    made = storage.schedules.create(ada, board["id"], weekly(format="html"))
    assert "Email is not set up" in made["warning"] and "DATAINSIGHT_SMTP_HOST" in made["warning"]
    assert "DATAINSIGHT_SMTP_HOST" in storage.schedules.update(ada, made["id"], {"time": "09:00"})["warning"]
    # Send now: no background job, the run has failed by the time the call returns.
    run = storage.schedules.send_now(ada, made["id"])
    assert (run["status"], run["attempts"], run["retry_at"]) == ("failed", 1, None)
    assert "DATAINSIGHT_SMTP_HOST" in run["error"]
    # A scheduled slot fails at once too, and is not retried; the schedule keeps running.
    clock.now = dt.datetime(2026, 11, 23, 9, 1, tzinfo=UTC)
    assert len(storage.schedules.tick()) == 1
    latest = storage.schedules.runs(ada, made["id"])[0]
    assert (latest["status"], latest["attempts"], latest["retry_at"]) == ("failed", 1, None)
    clock.now += dt.timedelta(hours=1)
    assert storage.schedules.tick() == []  # nothing left to retry
    assert storage.schedules.get(ada, made["id"])["enabled"]
    with SmtpServer() as smtp:  # once email is set up, saving says nothing and sending works
        storage.schedules.mailer = Mailer("127.0.0.1", smtp.port)
        assert storage.schedules.update(ada, made["id"], {"time": "09:00"})["warning"] is None
        assert storage.schedules.send_now(ada, made["id"], background=False)["status"] == "sent"


class _RefuseSender:
    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802 - aiosmtpd's hook
        return "553 5.7.1 Sender address rejected: not owned by user"


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook
        self.messages.append(envelope)
        return "250 OK"


def _smtp(handler, **kwargs):
    from aiosmtpd.controller import Controller

    from tests.smtp_server import free_port

    port = free_port()
    return Controller(handler, hostname="127.0.0.1", port=port, **kwargs), port


def _refuse_login(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult

    return AuthResult(success=False, handled=False)


@pytest.mark.parametrize("case", ["sender refused", "login refused", "connection refused", "unknown host"])
def test_a_send_the_servers_settings_prevent_fails_at_once_with_that_message(storage, ada, clock, board, case):
    made = storage.schedules.create(ada, board["id"], weekly(format="html"))
    controller = None
    if case == "sender refused":
        controller, port = _smtp(_RefuseSender())
        mailer, expected = Mailer("127.0.0.1", port, sender="nobody@example.com"), "refused the sender address"
    elif case == "login refused":
        controller, port = _smtp(_Inbox(), authenticator=_refuse_login, auth_require_tls=False)
        mailer, expected = Mailer("127.0.0.1", port, user="reports", password="wrong"), "refused the user name or password"
    elif case == "connection refused":
        from tests.smtp_server import free_port

        mailer, expected = Mailer("127.0.0.1", free_port()), "nothing accepts connections at 127.0.0.1:"
    else:
        mailer, expected = Mailer("mail.invalid", 25), "could not be resolved"
    storage.schedules.mailer = mailer
    if controller:
        controller.start()
    try:
        clock.now = dt.datetime(2026, 11, 23, 7, 31, tzinfo=UTC)
        assert len(storage.schedules.tick()) == 1
    finally:
        if controller:
            controller.stop()
    [run] = storage.schedules.runs(ada, made["id"])
    assert (run["status"], run["attempts"], run["retry_at"]) == ("failed", 1, None), run
    assert expected in run["error"] and "not retried" in run["error"], run["error"]
    clock.now += dt.timedelta(hours=2)
    assert storage.schedules.tick() == []


def test_a_mail_server_that_does_not_answer_is_retried(storage, ada, clock, board):
    """A timeout is not the settings' fault: the run waits and tries again."""
    import socket

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(5)  # accepts connections, never greets
    try:
        made = storage.schedules.create(ada, board["id"], weekly(format="html"))
        storage.schedules.mailer = Mailer("127.0.0.1", silent.getsockname()[1], timeout=0.5)
        clock.now = dt.datetime(2026, 11, 23, 7, 31, tzinfo=UTC)
        assert len(storage.schedules.tick()) == 1
    finally:
        silent.close()
    [run] = storage.schedules.runs(ada, made["id"])
    assert (run["status"], run["attempts"]) == ("retrying", 1) and run["retry_at"] is not None
    assert "did not answer within 0.5 s" in run["error"]


def test_send_now_sends_at_once(storage, ada, clock, board):
    made = storage.schedules.create(ada, board["id"], weekly(format="zip"))
    with SmtpServer() as smtp:
        storage.schedules.mailer = Mailer("127.0.0.1", smtp.port)
        run = storage.schedules.send_now(ada, made["id"], background=False)
        assert (run["status"], run["trigger"]) == ("sent", "manual")
        [received] = smtp.inbox.messages
    [attachment] = list(received["message"].iter_attachments())
    assert attachment.get_filename() == "Weekly sales.zip"


def test_schedule_stops_when_dashboard_deleted_or_owner_loses_access(storage, ada, bob, clock, board):
    team = storage.workspaces.create(ada, "Team")
    storage.workspaces.add_member(ada, team.id, "bob@example.com", "editor")
    storage.workspaces.set_allowed_domains(ada, team.id, ["example.com"])
    team_board = storage.dashboards.create(ada, team.id, {"name": "Team board", "widgets": [
        {"id": "m", "spec": {"type": "markdown", "text": "Hello"}}]})
    owned_by_bob = storage.schedules.create(bob, team_board["id"], weekly())
    doomed = storage.schedules.create(ada, board["id"], weekly())
    storage.workspaces.remove_member(ada, team.id, bob.user_id)
    storage.dashboards.delete(ada, board["id"])
    clock.now = dt.datetime(2026, 11, 23, 7, 31, tzinfo=UTC)
    with SmtpServer() as smtp:
        storage.schedules.mailer = Mailer("127.0.0.1", smtp.port)
        assert len(storage.schedules.tick()) == 2
        assert smtp.inbox.messages == []
    stopped = storage.schedules.get(ada, owned_by_bob["id"])
    assert not stopped["enabled"] and stopped["next_run_at"] is None
    assert "bob@example.com" in stopped["stop_reason"] and "no longer has edit access" in stopped["stop_reason"]
    assert storage.schedules.runs(ada, owned_by_bob["id"])[0]["status"] == "failed"
    from sqlalchemy import select

    from storage.tables import schedules

    with storage.engine.connect() as conn:
        row = conn.execute(select(schedules).where(schedules.c.id == doomed["id"])).first()
    assert not row.enabled and row.stop_reason == "The dashboard was deleted, so this schedule stopped"
    # An editor who saves the schedule takes it over, and it runs again.
    taken = storage.schedules.update(ada, owned_by_bob["id"], {"enabled": True})
    assert taken["enabled"] and taken["owner_id"] == ada.user_id and taken["stop_reason"] is None


def test_scheduler_thread_runs_due_schedules(storage, ada, clock, board):
    made = storage.schedules.create(ada, board["id"], weekly(format="html"))
    clock.now = dt.datetime(2026, 11, 23, 7, 31, tzinfo=UTC)
    with SmtpServer() as smtp:
        storage.schedules.mailer = Mailer("127.0.0.1", smtp.port)
        scheduler = Scheduler(storage.schedules, interval=0.2).start()
        try:
            for _ in range(100):
                if smtp.inbox.messages:
                    break
                threading.Event().wait(0.1)
        finally:
            scheduler.stop()
        assert len(smtp.inbox.messages) == 1
    assert storage.schedules.runs(ada, made["id"])[0]["status"] == "sent"


def test_a_scheduled_excel_report_holds_every_row_and_the_mail_says_so(storage, ada, clock, board):
    """vgsales has 16,598 rows, more than a widget query returns: the attached workbook has
    them all, and the mail says how many rows the attachment holds."""
    import io

    from openpyxl import load_workbook

    dataset_id = board["widgets"][0]["spec"]["dataset_id"]
    storage.dashboards.add_widget(ada, board["id"], {"spec": {
        "type": "table", "dataset_id": dataset_id, "title": "Every game", "columns": ["Name", "Global_Sales"],
        "sort": "Rank"}})
    made = storage.schedules.create(ada, board["id"], weekly(format="xlsx"))
    with SmtpServer() as smtp:
        storage.schedules.mailer = Mailer("127.0.0.1", smtp.port)
        assert storage.schedules.send_now(ada, made["id"], background=False)["status"] == "sent"
        [received] = smtp.inbox.messages
    message = received["message"]
    assert "Every game: 16,598 rows, all of them in this Excel file." in message.get_body(("plain",)).get_content()
    assert "Every game: 16,598 rows" in message.get_body(("html",)).get_content()
    [attachment] = list(message.iter_attachments())
    book = load_workbook(io.BytesIO(attachment.get_content()), read_only=True)
    assert sum(1 for _ in book["Every game"].iter_rows()) == 1 + 16_598
    assert not list((storage.data_dir / "reports").glob("*.part*"))  # the temp file went with the mail
