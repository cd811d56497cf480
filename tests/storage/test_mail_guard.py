"""Mail goes only where a workspace allows, at a bounded pace, and every send is logged
(issue 18, point 10); names cannot break a mail or a download (point 13)."""
from __future__ import annotations

import datetime as dt
from email import policy
from email.parser import BytesParser

import pytest
from sqlalchemy import update

from storage.errors import Forbidden, InvalidInput, RateLimited
from storage.schedules import Mailer, ScheduleService
from storage.tables import dashboards as dashboards_table
from tests.smtp_server import SmtpServer
from tests.storage.test_schedules import UTC, ada, board, bob, clock, weekly  # noqa: F401 - fixtures

MEMBER = ["ada@example.com"]


def test_send_now_is_limited_per_person_and_per_dashboard_counted_in_the_database(storage, ada, bob, clock, board):
    made = storage.schedules.create(ada, board["id"], weekly(recipients=MEMBER, format="html"))
    storage.schedules.sends.per_user, storage.schedules.sends.per_dashboard = 3, 100
    other_process = ScheduleService(storage.engine, storage.workspaces, storage.dashboards, storage.users,
                                    storage.reports, storage.jobs, clock=clock)
    other_process.sends.per_user, other_process.sends.per_dashboard = 3, 100
    with SmtpServer() as smtp:
        storage.schedules.mailer = other_process.mailer = Mailer("127.0.0.1", smtp.port)
        for _ in range(2):
            assert storage.schedules.send_now(ada, made["id"], background=False)["status"] == "sent"
        assert other_process.send_now(ada, made["id"], background=False)["status"] == "sent"
        for service in (storage.schedules, other_process):  # the count is in the database, not in a process
            with pytest.raises(RateLimited) as refused:
                service.send_now(ada, made["id"], background=False)
            assert "DATAINSIGHT_MAIL_SENDS_PER_HOUR" in refused.value.message and "3" in refused.value.message
            assert 3500 <= refused.value.retry_after <= 3601
        assert len(smtp.inbox.messages) == 3
        assert len(storage.schedules.runs(ada, made["id"])) == 3  # a refused send makes no run
        clock.now += dt.timedelta(minutes=61)
        assert storage.schedules.send_now(ada, made["id"], background=False)["status"] == "sent"
        # Per dashboard: another editor of the same dashboard shares its budget.
        team = storage.workspaces.create(ada, "Team")
        storage.workspaces.add_member(ada, team.id, "bob@example.com", "editor")
        team_board = storage.dashboards.create(ada, team.id, {"name": "Team board", "widgets": [
            {"id": "m", "spec": {"type": "markdown", "text": "Hello"}}]})
        storage.schedules.sends.per_user, storage.schedules.sends.per_dashboard = 100, 2
        shared = storage.schedules.create(ada, team_board["id"], weekly(recipients=MEMBER, format="html"))
        assert storage.schedules.send_now(ada, shared["id"], background=False)["status"] == "sent"
        assert storage.schedules.send_now(bob, shared["id"], background=False)["status"] == "sent"
        with pytest.raises(RateLimited, match="DATAINSIGHT_MAIL_SENDS_PER_HOUR_PER_DASHBOARD"):
            storage.schedules.send_now(bob, shared["id"], background=False)


def test_a_scheduled_send_over_the_limit_waits_instead_of_failing(storage, ada, clock, board):
    made = storage.schedules.create(ada, board["id"], weekly(recipients=MEMBER, format="html"))
    storage.schedules.sends.per_user = 1
    with SmtpServer() as smtp:
        storage.schedules.mailer = Mailer("127.0.0.1", smtp.port)
        clock.now = dt.datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
        assert storage.schedules.send_now(ada, made["id"], background=False)["status"] == "sent"
        clock.now = dt.datetime(2026, 11, 23, 7, 31, tzinfo=UTC)
        assert len(storage.schedules.tick()) == 1
        run = storage.schedules.runs(ada, made["id"])[0]
        assert (run["status"], run["attempts"]) == ("retrying", 0) and "DATAINSIGHT_MAIL_SENDS_PER_HOUR" in run["error"]
        assert run["retry_at"] == "2026-11-23T08:00:01+00:00"
        clock.now = dt.datetime(2026, 11, 23, 8, 0, 2, tzinfo=UTC)
        assert len(storage.schedules.tick()) == 1
        assert storage.schedules.runs(ada, made["id"])[0]["status"] == "sent"
        assert len(smtp.inbox.messages) == 2


def test_outside_recipients_need_an_allowed_domain_at_create_and_at_send(storage, ada, bob, clock, board):
    workspace_id = board["workspace_id"]
    with pytest.raises(InvalidInput) as refused:
        storage.schedules.create(ada, board["id"], weekly(recipients=["ada@example.com", "someone@partner.org"]))
    assert "someone@partner.org" in refused.value.message and "allowed recipient domains" in refused.value.message
    assert storage.schedules.list(ada, board["id"]) == []
    assert storage.workspaces.set_allowed_domains(ada, workspace_id, ["Partner.ORG", "@example.net"]) == \
        ["example.net", "partner.org"]
    made = storage.schedules.create(ada, board["id"], weekly(recipients=["ada@example.com", "someone@partner.org"],
                                                             format="html"))
    with pytest.raises(InvalidInput, match="not an email domain"):
        storage.workspaces.set_allowed_domains(ada, workspace_id, ["partner .org"])
    # Only an owner sets it: an editor of the workspace may not.
    team = storage.workspaces.create(ada, "Team")
    storage.workspaces.add_member(ada, team.id, "bob@example.com", "editor")
    with pytest.raises(Forbidden):
        storage.workspaces.set_allowed_domains(bob, team.id, ["partner.org"])
    # The domain is taken back later: the send skips that address and says so.
    storage.workspaces.set_allowed_domains(ada, workspace_id, [])
    with SmtpServer() as smtp:
        storage.schedules.mailer = Mailer("127.0.0.1", smtp.port)
        run = storage.schedules.send_now(ada, made["id"], background=False)
        [received] = smtp.inbox.messages
    assert received["to"] == ["ada@example.com"]
    assert run["status"] == "sent" and "someone@partner.org" in run["note"]
    assert "allowed recipient domains" in run["note"]
    [logged] = storage.schedules.sends.list(ada, workspace_id)
    assert logged["recipients"] == ["ada@example.com"] and logged["skipped"] == ["someone@partner.org"]


def test_a_member_removed_later_is_skipped_and_a_send_to_nobody_fails_saying_why(storage, ada, bob, clock, board):
    team = storage.workspaces.create(ada, "Team")
    storage.workspaces.add_member(ada, team.id, "bob@example.com", "viewer")
    team_board = storage.dashboards.create(ada, team.id, {"name": "Team board", "widgets": [
        {"id": "m", "spec": {"type": "markdown", "text": "Hello"}}]})
    made = storage.schedules.create(ada, team_board["id"], weekly(recipients=["Bob@Example.com"], format="html"))
    storage.workspaces.remove_member(ada, team.id, bob.user_id)
    with SmtpServer() as smtp:
        storage.schedules.mailer = Mailer("127.0.0.1", smtp.port)
        run = storage.schedules.send_now(ada, made["id"], background=False)
        assert smtp.inbox.messages == []
    assert run["status"] == "failed" and run["retry_at"] is None
    assert "Bob@Example.com" in run["error"] and "allowed recipient domains" in run["error"]
    [logged] = storage.schedules.sends.list(ada, team.id)
    assert (logged["status"], logged["recipients"], logged["skipped"]) == ("refused", [], ["Bob@Example.com"])


def test_every_send_is_logged_and_only_owners_read_the_log(storage, ada, bob, clock, board):
    team = storage.workspaces.create(ada, "Team")
    storage.workspaces.add_member(ada, team.id, "bob@example.com", "editor")
    team_board = storage.dashboards.create(ada, team.id, {"name": "Team board", "widgets": [
        {"id": "m", "spec": {"type": "markdown", "text": "Hello"}}]})
    made = storage.schedules.create(bob, team_board["id"], weekly(recipients=MEMBER, format="html"))
    with SmtpServer() as smtp:
        storage.schedules.mailer = Mailer("127.0.0.1", smtp.port)
        storage.schedules.send_now(bob, made["id"], background=False)
        clock.now = dt.datetime(2026, 11, 23, 7, 31, tzinfo=UTC)
        storage.schedules.tick()
    storage.schedules.mailer = Mailer("127.0.0.1", 1)  # nothing listens there: fails at once
    storage.schedules.send_now(bob, made["id"], background=False)
    log = storage.schedules.sends.list(ada, team.id)
    assert [(r["trigger"], r["requested_by"], r["sent_as"], r["status"]) for r in log] == [
        ("manual", "bob@example.com", "bob@example.com", "failed"),
        ("schedule", None, "bob@example.com", "sent"),
        ("manual", "bob@example.com", "bob@example.com", "sent")]
    assert "nothing accepts connections" in log[0]["error"] and log[1]["error"] is None
    assert all(r["schedule_id"] == made["id"] and r["dashboard_id"] == team_board["id"] for r in log)
    assert all(r["recipients"] == MEMBER and r["at"] for r in log)
    assert len(storage.schedules.sends.list(ada, team.id, dashboard_id=team_board["id"])) == 3
    with pytest.raises(Forbidden):  # an editor manages schedules but does not read the workspace's mail log
        storage.schedules.sends.list(bob, team.id)
    storage.schedules.delete(bob, made["id"])  # the log outlives the schedule
    assert len(storage.schedules.sends.list(ada, team.id)) == 3


# --- point 13: names -----------------------------------------------------------------------


def test_names_with_line_breaks_are_refused_everywhere(storage, ada, clock, board):
    workspace_id = board["workspace_id"]
    bad = "Sales\r\nBcc: x@evil.example"
    attempts = [
        lambda: storage.dashboards.create(ada, workspace_id, {"name": bad}),
        lambda: storage.dashboards.update(ada, board["id"], {"name": bad}),
        lambda: storage.dashboards.update(ada, board["id"], {"tabs": [{"id": "main", "title": bad}]}),
        lambda: storage.dashboards.duplicate(ada, board["id"], bad),
        lambda: storage.schedules.create(ada, board["id"], weekly(name=bad)),
        lambda: storage.workspaces.create(ada, bad),
        lambda: storage.workspaces.rename(ada, workspace_id, bad),
        lambda: storage.tokens.create(ada, bad),
        lambda: storage.datasets.update(ada, board["widgets"][0]["spec"]["dataset_id"], name=bad),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidInput, match="one line"):
            attempt()
    widget = {"spec": {**board["widgets"][1]["spec"], "title": "By\ngenre"}}
    with pytest.raises(InvalidInput, match="one line"):
        storage.dashboards.add_widget(ada, board["id"], widget)
    assert storage.dashboards.get(ada, board["id"])["name"] == "Weekly sales"


def test_a_name_stored_before_with_crlf_still_mails_and_downloads(storage, ada, clock, board):
    """Rows from before the check may hold CR/LF: the Subject and the file name stay one
    clean line, no header is injected, and the mail goes out."""
    made = storage.schedules.create(ada, board["id"], weekly(recipients=MEMBER, format="html"))
    with storage.engine.begin() as conn:
        conn.execute(update(dashboards_table).where(dashboards_table.c.id == board["id"])
                     .values(name="Weekly\r\nBcc: victim@evil.example\r\n\u202eQ4"))
    with SmtpServer() as smtp:
        storage.schedules.mailer = Mailer("127.0.0.1", smtp.port)
        run = storage.schedules.send_now(ada, made["id"], background=False)
        assert run["status"] == "sent", run
        [received] = smtp.inbox.messages
    assert received["to"] == MEMBER
    message = BytesParser(policy=policy.default).parsebytes(received["raw"])
    assert message["Bcc"] is None and "\n" not in message["Subject"] and "\r" not in message["Subject"]
    assert message["Subject"].startswith("Weekly Bcc: victim@evil.example Q4 · 2026-11-23")
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "Weekly Bcc_ victim_evil.example Q4.html"
    built = storage.reports.export(ada, board["id"], "html")
    assert "\n" not in built.filename and "\r" not in built.filename


def test_a_failed_build_says_why(storage, ada, clock, board, monkeypatch):
    made = storage.schedules.create(ada, board["id"], weekly(recipients=MEMBER, format="html"))

    def broken(*_args, **_kwargs):
        raise RuntimeError("the renderer ran out of fonts")

    monkeypatch.setattr(storage.reports, "build", broken)
    with SmtpServer() as smtp:
        storage.schedules.mailer = Mailer("127.0.0.1", smtp.port)
        run = storage.schedules.send_now(ada, made["id"], background=False)
    assert run["status"] == "retrying"
    assert "the renderer ran out of fonts" in run["error"] and "RuntimeError" in run["error"]
    last = storage.schedules.get(ada, made["id"])["last_run"]  # the schedule's status says it too
    assert last["id"] == run["id"] and "the renderer ran out of fonts" in last["error"]
    assert storage.schedules.list(ada, board["id"])[0]["last_run"] == last
    [logged] = storage.schedules.sends.list(ada, board["workspace_id"])
    assert logged["status"] == "failed" and "the renderer ran out of fonts" in logged["error"]


def test_sends_racing_in_parallel_never_pass_the_limit(storage, ada, clock, board):
    """Eight Send now at once against a limit of three: exactly three pass (the count and
    the decision are one locked transaction, in SQLite and PostgreSQL alike)."""
    import threading

    from sqlalchemy import select

    from storage.tables import schedules

    made = storage.schedules.create(ada, board["id"], weekly(recipients=MEMBER))
    with storage.engine.connect() as conn:
        row = conn.execute(select(schedules).where(schedules.c.id == made["id"])).first()
    storage.schedules.sends.per_user = 3
    barrier, results = threading.Barrier(8), []

    def send():
        barrier.wait()
        try:
            storage.schedules.sends.start(row, "manual", requested_by=ada.user_id, sent_as=ada.user_id)
            results.append("passed")
        except RateLimited:
            results.append("refused")

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 8 and results.count("passed") == 3, results
    counted = [r for r in storage.schedules.sends.list(ada, board["workspace_id"]) if r["status"] != "refused"]
    assert len(counted) == results.count("passed")
